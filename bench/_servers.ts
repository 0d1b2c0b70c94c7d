// Starting the benchmarked servers as subprocesses, pinned to their own core,
// and reading their memory. Used by bench/load.ts.

import { denoRunArgs, exitOrKill, projectPath } from "../_tools/subprocess.ts";

/** Which cores the servers and the load generators run on, if pinned. */
export interface Pinning {
  server: string;
  load: string;
}

/**
 * Pins this process (the load generator for the TCP cases) to one core and
 * returns the core plan, or `undefined` when `taskset` is missing or there is
 * only one core. Servers and wrk are then started through `taskset` too.
 */
export async function pinCores(): Promise<Pinning | undefined> {
  if (navigator.hardwareConcurrency < 2) return undefined;
  const pinning = { server: "0", load: "1" };
  try {
    // -a: every thread of this process, including Deno's runtime threads.
    const { success } = await new Deno.Command("taskset", {
      args: ["-a", "-p", "-c", pinning.load, String(Deno.pid)],
      stdout: "null",
      stderr: "null",
    }).output();
    return success ? pinning : undefined;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/** The command line for `program args`, behind `taskset -c core` if pinned. */
export function pinnedCommand(
  core: string | undefined,
  program: string,
  args: string[],
): [string, string[]] {
  return core === undefined
    ? [program, args]
    : ["taskset", ["-c", core, program, ...args]];
}

/** How to start one server: a project script and its arguments. */
export interface ServerSpec {
  /** The name shown in the tables. */
  label: string;
  /** The script, relative to the project root. */
  script: string;
  args: string[];
  /**
   * Where the server's stderr goes: `"piped"` keeps it for error messages;
   * `"null"` discards it (the access log of a server run with logging on).
   */
  stderr: "piped" | "null";
}

// Clock ticks per second, the unit of CPU times in /proc/<pid>/stat.
const clockTicks: Promise<number> = new Deno.Command("getconf", {
  args: ["CLK_TCK"],
  stdout: "piped",
  stderr: "null",
}).output().then(
  (output) => Number(new TextDecoder().decode(output.stdout).trim()) || 100,
  () => 100,
);

const LISTENING = /listening on \S*?:(\d+)/;
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;

/** A started server: its port and process, stopped by `stop()`. */
export class ServerProcess implements AsyncDisposable {
  readonly spec: ServerSpec;
  readonly child: Deno.ChildProcess;
  port = 0;
  #stderr = "";
  #drained: Promise<void>[] = [];

  private constructor(spec: ServerSpec, core: string | undefined) {
    this.spec = spec;
    const [program, args] = pinnedCommand(
      core,
      Deno.execPath(),
      denoRunArgs(["-N"], spec.script, spec.args),
    );
    this.child = new Deno.Command(program, {
      args,
      cwd: projectPath("."),
      stdin: "null",
      stdout: "piped",
      stderr: spec.stderr,
    }).spawn();
  }

  /** Starts the server and waits for its "listening on host:port" line. */
  static async start(
    spec: ServerSpec,
    core: string | undefined,
  ): Promise<ServerProcess> {
    const server = new ServerProcess(spec, core);
    try {
      await server.#waitForPort();
    } catch (error) {
      await server.stop();
      throw new Error(
        `${spec.label} did not start: ${
          error instanceof Error ? error.message : error
        }${server.#stderr ? `\n${server.#stderr}` : ""}`,
      );
    }
    return server;
  }

  async #waitForPort(): Promise<void> {
    if (this.spec.stderr === "piped") {
      this.#drained.push(this.#collectStderr(this.child.stderr));
    }
    const lines = this.child.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    let seen = "";
    const timer = setTimeout(() => {
      void lines.cancel(new Error("timed out")).catch(() => {});
    }, START_TIMEOUT_MS);
    try {
      while (true) {
        const { value, done } = await lines.read();
        if (done) throw new Error(`exited before listening; stdout: ${seen}`);
        seen += value;
        const match = seen.match(LISTENING);
        if (match) {
          this.port = Number(match[1]);
          break;
        }
      }
    } finally {
      clearTimeout(timer);
    }
    // Keep reading so the server never blocks on a full stdout pipe.
    this.#drained.push((async () => {
      try {
        while (!(await lines.read()).done) { /* discarded */ }
      } catch { /* cancelled or closed */ }
    })());
  }

  async #collectStderr(stream: ReadableStream<Uint8Array>): Promise<void> {
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      // Only the start of it is shown, if the server fails.
      if (this.#stderr.length < 4096) this.#stderr += text;
    }
  }

  // Deno asks for --allow-all to read /proc/<pid>/ itself; `cat` may read it.
  async #readProc(file: string): Promise<string | undefined> {
    const output = await new Deno.Command("cat", {
      args: [`/proc/${this.child.pid}/${file}`],
      stdout: "piped",
      stderr: "null",
    }).output();
    return output.success ? new TextDecoder().decode(output.stdout) : undefined;
  }

  /** The server's resident memory in KiB, or NaN where `/proc` is missing. */
  async rssKiB(): Promise<number> {
    const status = await this.#readProc("status");
    const match = status?.match(/^VmRSS:\s+(\d+) kB$/m);
    return match ? Number(match[1]) : NaN;
  }

  /**
   * CPU time the server has used so far (user + system), in seconds, or NaN
   * where `/proc` is missing. On a shared machine this is steadier than
   * throughput: other processes delay the server but do not add to it.
   */
  async cpuSeconds(): Promise<number> {
    const stat = await this.#readProc("stat");
    if (stat === undefined) return NaN;
    // utime and stime are the 14th and 15th fields; the 3rd is the first after
    // the parenthesised command name.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / await clockTicks;
  }

  /** Stops the server with SIGTERM (SIGKILL if it lingers) and waits. */
  async stop(): Promise<void> {
    try {
      this.child.kill("SIGTERM");
    } catch { /* already exited */ }
    await exitOrKill(this.child, STOP_TIMEOUT_MS);
    await Promise.all(this.#drained);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}
