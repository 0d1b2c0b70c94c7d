// Helpers for the TCP tests: reading whole replies, random payloads, bounded
// waits, and running the seed's Python socket programs
// (tests/fixtures/seed_socket_*.py) on a given port.

import { delay, LOOPBACK, outputOrKill } from "../_tools/subprocess.ts";

export { delay, LOOPBACK };

/** Reads until the peer closes and returns everything read. */
export async function readAll(conn: Deno.Conn): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let length = 0;
  const buffer = new Uint8Array(64 * 1024);
  while (true) {
    const n = await conn.read(buffer);
    if (n === null) break;
    chunks.push(buffer.slice(0, n));
    length += n;
  }
  const all = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    all.set(chunk, offset);
    offset += chunk.length;
  }
  return all;
}

/** Reads exactly `size` bytes, failing if the peer closes first. */
export async function readExactly(
  conn: Deno.Conn,
  size: number,
): Promise<Uint8Array> {
  const buffer = new Uint8Array(size);
  let length = 0;
  while (length < size) {
    const n = await conn.read(buffer.subarray(length));
    if (n === null) throw new Error(`closed after ${length} of ${size} bytes`);
    length += n;
  }
  return buffer;
}

/** `size` random bytes (`getRandomValues` fills at most 64 KiB per call). */
export function randomBytes(size: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(size);
  for (let offset = 0; offset < size; offset += 65536) {
    crypto.getRandomValues(bytes.subarray(offset, offset + 65536));
  }
  return bytes;
}

/**
 * The index of the first byte where `a` and `b` differ, or -1 if they are
 * equal.
 */
export function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    if (a[i] !== b[i]) return i;
  }
  return a.length === b.length ? -1 : length;
}

/**
 * Polls `condition` every 10 ms; throws naming `what` if it is still false
 * after `timeoutMs`.
 */
export async function waitUntil(
  condition: () => boolean,
  what: string,
  timeoutMs = 5_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(10);
  }
}

/**
 * Resolves to `"timeout"` if `promise` takes longer than `ms`, clearing its
 * timer either way.
 */
export async function within<T>(
  promise: Promise<T>,
  ms: number,
): Promise<T | "timeout"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** A port nothing listens on right now. */
export function freePort(): number {
  using listener = Deno.listen({ hostname: LOOPBACK, port: 0 });
  return listener.addr.port;
}

/**
 * The seed's Python program (`"server"` or `"client"`) with its port 12345
 * replaced.
 */
export function seedProgram(which: "server" | "client", port: number): string {
  const text = Deno.readTextFileSync(
    new URL(`./fixtures/seed_socket_${which}.py`, import.meta.url),
  );
  if (!text.includes("12345")) throw new Error("the seed's port is missing");
  return text.replaceAll("12345", String(port));
}

/**
 * Runs the seed's Python client against `port` and returns its exit code and
 * output.
 */
export async function runSeedClient(
  port: number,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command("python3", {
    args: ["-c", seedProgram("client", port)],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = await outputOrKill(child, 10_000);
  return {
    code: output.code,
    stdout: new TextDecoder().decode(output.stdout),
    stderr: new TextDecoder().decode(output.stderr),
  };
}

/**
 * Opens `count` connections to `port` on loopback one after another and
 * resets each (SO_LINGER 0), which Deno itself cannot do: the abrupt end a
 * crashed or killed client produces. With a `payload`, each sends it and waits
 * for the first byte of the answer before resetting, so the server has
 * accepted and read it (or, with `waitForAnswer` false, waits 100 ms instead);
 * without one, each resets at once, often before the server accepted it.
 */
export async function resetClients(
  port: number,
  count: number,
  payload?: string,
  waitForAnswer = true,
): Promise<void> {
  const program = [
    "import socket, struct, sys, time",
    "for _ in range(int(sys.argv[2])):",
    `    s = socket.create_connection(("${LOOPBACK}", int(sys.argv[1])))`,
    "    if len(sys.argv) > 3:",
    "        s.sendall(sys.argv[3].encode())",
    `        ${waitForAnswer ? "s.recv(1)" : "time.sleep(0.1)"}`,
    "    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))",
    "    s.close()",
  ].join("\n");
  const args = ["-c", program, String(port), String(count)];
  if (payload !== undefined) args.push(payload);
  const output = await new Deno.Command("python3", { args, stdin: "null" })
    .output();
  if (!output.success) {
    throw new Error(new TextDecoder().decode(output.stderr));
  }
}

/** A process whose output (stdout and stderr) is collected as it arrives. */
export class Background implements AsyncDisposable {
  readonly #child: Deno.ChildProcess;
  readonly #reading: Promise<unknown>;
  #output = "";

  /** Starts `command` with `args`, in `options.cwd` if given. */
  constructor(command: string, args: string[], options: { cwd?: string } = {}) {
    const child = new Deno.Command(command, {
      args,
      ...options,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#child = child;
    this.#reading = Promise.all(
      [child.stdout, child.stderr].map(async (stream) => {
        for await (const text of stream.pipeThrough(new TextDecoderStream())) {
          this.#output += text;
        }
      }),
    );
  }

  /** Resolves when the process exits. */
  get status(): Promise<Deno.CommandStatus> {
    return this.#child.status;
  }

  /** What the process printed so far. */
  get output(): string {
    return this.#output;
  }

  /** Waits until the output matches `pattern`, failing with the output. */
  async waitFor(
    pattern: RegExp,
    timeoutMs = 10_000,
  ): Promise<RegExpMatchArray> {
    try {
      await waitUntil(
        () => pattern.test(this.#output),
        `${pattern}`,
        timeoutMs,
      );
    } catch (error) {
      throw new Error(`${error}; output so far:\n${this.#output}`);
    }
    return this.#output.match(pattern)!;
  }

  /** Kills the process and waits for it and its output. */
  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // It already exited.
    }
    await this.#child.status;
    await this.#reading;
  }
}

/** The seed's Python server, on a free port. Dispose it to stop it. */
export class SeedServer extends Background {
  /** The port it listens on. */
  readonly port: number;

  private constructor(port: number) {
    // -u: unbuffered, so its "ready" line arrives while it runs.
    super("python3", ["-u", "-c", seedProgram("server", port)]);
    this.port = port;
  }

  /** Starts the server and waits until it listens. */
  static async start(): Promise<SeedServer> {
    const server = new SeedServer(freePort());
    try {
      await server.waitFor(/Server siap menerima koneksi/);
    } catch (error) {
      await server[Symbol.asyncDispose]();
      throw error;
    }
    return server;
  }
}
