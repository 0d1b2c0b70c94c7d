// Shared test helpers: spawning this project's executables the way a user runs them, and
// reading their output with bounded waits.

const ROOT = new URL("../", import.meta.url);

/** Absolute path of a file in the project, e.g. `projectPath("server.ts")`. */
export function projectPath(relative: string): string {
  return decodeURIComponent(new URL(relative, ROOT).pathname);
}

/**
 * The arguments for `deno run` of a project script. Offline, `run-offline.sh` exports
 * `STD_OFFLINE_IMPORT_MAP`; the subprocess needs the same map to resolve `@std/...`.
 */
export function denoRunArgs(
  permissions: string[],
  script: string,
  args: string[] = [],
): string[] {
  return denoArgs("run", permissions, script, args);
}

/**
 * The arguments for `deno run` or `deno serve` of a project script: `flags` (permissions, and for
 * `serve` also `--port`, `--host`, `--parallel`) go before the script, `args` after it.
 */
export function denoArgs(
  subcommand: "run" | "serve",
  flags: string[],
  script: string,
  args: string[] = [],
): string[] {
  const map = Deno.env.get("STD_OFFLINE_IMPORT_MAP");
  const mapArgs = map ? ["--import-map", map, "--no-lock"] : [];
  return [subcommand, ...mapArgs, ...flags, projectPath(script), ...args];
}

/** Result of a finished subprocess with its output decoded. */
export interface Finished {
  code: number;
  signal: Deno.Signal | null;
  stdout: string;
  stderr: string;
}

/** Runs `deno run` to completion (killed after `timeoutMs`) and returns its decoded output. */
export async function runDeno(
  permissions: string[],
  script: string,
  args: string[] = [],
  options: {
    stdin?: string;
    timeoutMs?: number;
    env?: Record<string, string>;
  } = {},
): Promise<Finished> {
  const child = new Deno.Command(Deno.execPath(), {
    args: denoRunArgs(permissions, script, args),
    cwd: projectPath("."),
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    ...(options.env ? { env: options.env } : {}),
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* already exited */ }
  }, options.timeoutMs ?? 20_000);
  try {
    const out = await child.output();
    return {
      code: out.code,
      signal: out.signal,
      stdout: new TextDecoder().decode(out.stdout),
      stderr: new TextDecoder().decode(out.stderr),
    };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A long-running executable (a server) whose stdout and stderr are collected as they arrive, so
 * a test can wait for a line such as the listening address.
 */
export class Spawned implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  stdout = "";
  stderr = "";
  readonly #done: Promise<[void, void]>;
  #waiters: (() => void)[] = [];

  /**
   * Starts `deno run` (or `options.subcommand`) of `script`, with `options.env` added to the
   * environment.
   */
  constructor(
    permissions: string[],
    script: string,
    args: string[] = [],
    options: { subcommand?: "run" | "serve"; env?: Record<string, string> } =
      {},
  ) {
    this.child = new Deno.Command(Deno.execPath(), {
      args: denoArgs(options.subcommand ?? "run", permissions, script, args),
      cwd: projectPath("."),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      ...(options.env ? { env: options.env } : {}),
    }).spawn();
    this.#done = Promise.all([
      this.#collect(this.child.stdout, (text) => this.stdout += text),
      this.#collect(this.child.stderr, (text) => this.stderr += text),
    ]);
  }

  async #collect(
    stream: ReadableStream<Uint8Array>,
    append: (text: string) => void,
  ): Promise<void> {
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      append(text);
      for (const wake of this.#waiters.splice(0)) wake();
    }
    for (const wake of this.#waiters.splice(0)) wake();
  }

  /** Waits until stdout+stderr match `pattern`; fails after `timeoutMs` with what was seen. */
  async waitFor(
    pattern: RegExp,
    timeoutMs = 15_000,
  ): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const match = this.stdout.match(pattern) ?? this.stderr.match(pattern);
      if (match) return match;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `timed out waiting for ${pattern}\nstdout: ${this.stdout}\nstderr: ${this.stderr}`,
        );
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        new Promise<void>((resolve) => this.#waiters.push(resolve)),
        new Promise<void>((resolve) =>
          timer = setTimeout(resolve, Math.min(left, 200))
        ),
      ]);
      clearTimeout(timer);
    }
  }

  /** Sends `signal` and waits for the process to exit and its output to be read. */
  async stop(
    signal: Deno.Signal = "SIGTERM",
    timeoutMs = 15_000,
  ): Promise<Deno.CommandStatus> {
    try {
      this.child.kill(signal);
    } catch { /* already exited */ }
    return await this.finished(timeoutMs);
  }

  /** Waits for exit (SIGKILL after `timeoutMs`) and for all output to be read. */
  async finished(timeoutMs = 15_000): Promise<Deno.CommandStatus> {
    const timer = setTimeout(() => {
      try {
        this.child.kill("SIGKILL");
      } catch { /* already exited */ }
    }, timeoutMs);
    try {
      const status = await this.child.status;
      await this.#done;
      return status;
    } finally {
      clearTimeout(timer);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop("SIGKILL");
  }
}
