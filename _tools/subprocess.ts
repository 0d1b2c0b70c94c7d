// Running this project's programs as subprocesses, the way a user runs them:
// shared by the tests (tests/_helpers.ts) and the benchmark (bench/), so that
// neither depends on the other. Not published.

const ROOT = new URL("../", import.meta.url);

/** The address every server started by the tests and the benchmark binds. */
export const LOOPBACK = "127.0.0.1";

/** Resolves after `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Absolute path of a file in the project, e.g. `projectPath("server.ts")`. */
export function projectPath(relative: string): string {
  return decodeURIComponent(new URL(relative, ROOT).pathname);
}

/**
 * Offline, `run-offline.sh` exports `STD_OFFLINE_IMPORT_MAP`; a deno
 * subprocess needs the same map to resolve `@std/...`. Online it is absent and
 * the subprocess resolves them from JSR like any user's.
 */
function importMapArgs(): string[] {
  const map = Deno.env.get("STD_OFFLINE_IMPORT_MAP");
  return map ? ["--import-map", map, "--no-lock"] : [];
}

/** The arguments for `deno run` of a project script. */
export function denoRunArgs(
  permissions: string[],
  script: string,
  args: string[] = [],
): string[] {
  return denoArgs("run", permissions, script, args);
}

/**
 * The arguments for `deno run`, `serve` or `bench` of a project script:
 * `flags` (permissions, and for `serve` also `--port`, `--host`,
 * `--parallel`) go before the script, `args` after it.
 */
export function denoArgs(
  subcommand: "run" | "serve" | "bench",
  flags: string[],
  script: string,
  args: string[] = [],
): string[] {
  return [
    subcommand,
    ...importMapArgs(),
    ...flags,
    projectPath(script),
    ...args,
  ];
}

/**
 * Downloads what the project's `scripts` import into Deno's cache, so that
 * their first run prints nothing of its own (on a fresh machine a program's
 * first run prints Deno's `Download jsr:@std/...` lines on stderr). Throws
 * with Deno's output if that fails.
 */
export async function cacheScripts(scripts: string[]): Promise<void> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["cache", ...importMapArgs(), ...scripts.map(projectPath)],
    cwd: projectPath("."),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new Error(
      `Cannot cache ${scripts.join(", ")}:\n${
        new TextDecoder().decode(output.stderr)
      }`,
    );
  }
}

/**
 * The command line that runs `program args` with the open-file soft limit
 * raised to `limit` for that process alone (at most the hard limit, see
 * {@linkcode hardFileLimit}).
 */
export function withFileLimit(
  limit: number,
  program: string,
  args: string[],
): [string, string[]] {
  return ["sh", [
    "-c",
    `ulimit -n ${limit} && exec "$0" "$@"`,
    program,
    ...args,
  ]];
}

/** The hard open-file limit: how far a process may raise its soft limit. */
export async function hardFileLimit(): Promise<number> {
  const output = await new Deno.Command("sh", {
    args: ["-c", "ulimit -Hn"],
    stdout: "piped",
    stderr: "null",
  }).output();
  const text = new TextDecoder().decode(output.stdout).trim();
  return text === "unlimited" ? Infinity : Number(text);
}

/**
 * Sends `child` SIGKILL after `timeoutMs` unless disposed first: a hung
 * subprocess must fail its test, not hang the run.
 */
function killAfter(child: Deno.ChildProcess, timeoutMs: number): Disposable {
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* already exited */ }
  }, timeoutMs);
  return { [Symbol.dispose]: () => clearTimeout(timer) };
}

/**
 * Waits for `child` to exit; sends SIGKILL if it has not after `timeoutMs`.
 */
export async function exitOrKill(
  child: Deno.ChildProcess,
  timeoutMs: number,
): Promise<Deno.CommandStatus> {
  using _killer = killAfter(child, timeoutMs);
  return await child.status;
}

/**
 * Waits for `child` to exit and returns its output; sends SIGKILL if it has
 * not exited after `timeoutMs`.
 */
export async function outputOrKill(
  child: Deno.ChildProcess,
  timeoutMs: number,
): Promise<Deno.CommandOutput> {
  using _killer = killAfter(child, timeoutMs);
  return await child.output();
}

/** Result of a finished subprocess with its output decoded. */
export interface Finished {
  code: number;
  signal: Deno.Signal | null;
  stdout: string;
  stderr: string;
}

/** Options of {@linkcode runDeno} and {@linkcode Spawned}. */
export interface SpawnOptions {
  /** Added to the environment. */
  env?: Record<string, string>;
  /** Raises the open-file soft limit of the subprocess to this. */
  fileLimit?: number;
}

function denoCommand(
  args: string[],
  options: SpawnOptions,
  stdin: "null" | "piped",
): Deno.Command {
  const [program, programArgs] = options.fileLimit === undefined
    ? [Deno.execPath(), args]
    : withFileLimit(options.fileLimit, Deno.execPath(), args);
  return new Deno.Command(program, {
    args: programArgs,
    cwd: projectPath("."),
    stdin,
    stdout: "piped",
    stderr: "piped",
    ...(options.env ? { env: options.env } : {}),
  });
}

/** Runs `deno run` to completion (killed after `timeoutMs`) and returns its decoded output. */
export async function runDeno(
  permissions: string[],
  script: string,
  args: string[] = [],
  options: SpawnOptions & { stdin?: string; timeoutMs?: number } = {},
): Promise<Finished> {
  const child = denoCommand(
    denoRunArgs(permissions, script, args),
    options,
    options.stdin === undefined ? "null" : "piped",
  ).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const out = await outputOrKill(child, options.timeoutMs ?? 20_000);
  return {
    code: out.code,
    signal: out.signal,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
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
    options: SpawnOptions & { subcommand?: "run" | "serve" } = {},
  ) {
    this.child = denoCommand(
      denoArgs(options.subcommand ?? "run", permissions, script, args),
      options,
      "null",
    ).spawn();
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
    const status = await exitOrKill(this.child, timeoutMs);
    await this.#done;
    return status;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop("SIGKILL");
  }
}
