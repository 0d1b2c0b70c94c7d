// The TCP echo server under load: 2000 concurrent connections, and 256 MiB
// pushed at it by a client that does not read, with the server in its own
// process so its memory can be measured. Heavy: `deno task test:quick` leaves
// this folder out.

import { assert, assertEquals, assertLess } from "@std/assert";
import { writeAll } from "../../src/_net.ts";
import {
  denoRunArgs,
  exitOrKill,
  hardFileLimit,
  projectPath,
  runDeno,
} from "../_helpers.ts";
import {
  firstDifference,
  LOOPBACK,
  randomBytes,
  readAll,
  within,
} from "../_echo_helpers.ts";

const MiB = 1024 * 1024;

// Both ends of 2000 connections need about 4100 descriptors, more than the
// usual default soft limit of 1024: the work runs in a subprocess that raises
// its own limit, which it may do up to the hard limit.
const FILES_NEEDED = 8192;
const hardLimit = await hardFileLimit();

Deno.test({
  name: hardLimit < FILES_NEEDED
    ? `startEchoServer() echoes unique random payloads to 2000 concurrent clients (ignored: needs ${FILES_NEEDED} open files, the hard limit is ${hardLimit})`
    : "startEchoServer() echoes unique random payloads to 2000 concurrent clients, every byte in order",
  ignore: hardLimit < FILES_NEEDED,
  async fn() {
    const run = await runDeno(
      ["-N=127.0.0.1"],
      "tests/fixtures/concurrent_echo.ts",
      [],
      { fileLimit: FILES_NEEDED, timeoutMs: 60_000 },
    );
    assertEquals(run.code, 0, run.stderr);
    const seen = JSON.parse(run.stdout);
    console.log(`2000 concurrent echoes in ${seen.elapsedMs.toFixed(0)} ms`);
    assertEquals(seen.wrong, []);
    assertEquals(seen.connectionsServed, 2000);
    assertEquals(seen.connectionsRejected, 0);
    assertEquals(seen.reasons, { closed: 2000 });
    assertEquals(seen.errors, []);
  },
});

interface Figures {
  rss: number;
  openConnections: number;
  bytesIn: number;
  bytesOut: number;
}

/** tests/fixtures/rss_echo_server.ts, asked for its figures over stdin. */
class MeasuredServer implements AsyncDisposable {
  readonly #child: Deno.ChildProcess;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  readonly #lines: AsyncIterator<string>;
  readonly port: number;

  private constructor(
    child: Deno.ChildProcess,
    lines: AsyncIterator<string>,
    port: number,
  ) {
    this.#child = child;
    this.#stdin = child.stdin.getWriter();
    this.#lines = lines;
    this.port = port;
  }

  static async start(): Promise<MeasuredServer> {
    const child = new Deno.Command(Deno.execPath(), {
      args: denoRunArgs(
        ["-N=127.0.0.1"],
        "tests/fixtures/rss_echo_server.ts",
      ),
      cwd: projectPath("."),
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const lines = splitLines(child.stdout)[Symbol.asyncIterator]();
    const first = await within(lines.next(), 15_000);
    const port = first === "timeout" || first.done
      ? NaN
      : Number(first.value.match(/^listening on (\d+)$/)?.[1]);
    const server = new MeasuredServer(child, lines, port);
    if (!Number.isInteger(port)) {
      await server[Symbol.asyncDispose]();
      throw new Error(`the fixture did not start: ${JSON.stringify(first)}`);
    }
    return server;
  }

  async figures(): Promise<Figures> {
    await this.#stdin.write(new TextEncoder().encode("?\n"));
    const line = await this.#lines.next();
    if (line.done) throw new Error("the fixture exited");
    return JSON.parse(line.value);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    // Closing stdin makes the fixture shut down and exit.
    await this.#stdin.close().catch(() => {});
    await exitOrKill(this.#child, 10_000);
    await this.#lines.return?.();
  }
}

async function* splitLines(
  stream: ReadableStream<Uint8Array>,
): AsyncGenerator<string> {
  let pending = "";
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    pending += text;
    let newline: number;
    while ((newline = pending.indexOf("\n")) !== -1) {
      yield pending.slice(0, newline);
      pending = pending.slice(newline + 1);
    }
  }
}

Deno.test("startEchoServer() keeps its memory bounded while 256 MiB is pushed by a client that does not read", async () => {
  await using server = await MeasuredServer.start();
  // Warm up the echo path, so the baseline includes its buffers.
  {
    using conn = await Deno.connect({ hostname: LOOPBACK, port: server.port });
    const warm = randomBytes(4 * MiB);
    const [, back] = await Promise.all([
      writeAll(conn, warm).then(() => conn.closeWrite()),
      readAll(conn),
    ]);
    assertEquals(firstDifference(back, warm), -1);
  }
  const before = await server.figures();

  const block = randomBytes(MiB);
  const total = 256 * MiB;
  using conn = await Deno.connect({ hostname: LOOPBACK, port: server.port });
  let written = 0;
  // Stops when writes stay blocked for 300 ms: the server stopped reading.
  const pushing = (async () => {
    while (written < total) {
      const offset = written % MiB;
      written += await conn.write(block.subarray(offset));
    }
    await conn.closeWrite();
  })();
  let last = -1;
  while (written !== last) {
    last = written;
    await within(pushing, 300);
  }
  const stalled = await server.figures();
  console.log(
    `non-reading client: ${(written / MiB).toFixed(1)} MiB accepted of 256, ` +
      `server RSS ${(before.rss / MiB).toFixed(1)} -> ${
        (stalled.rss / MiB).toFixed(1)
      } MiB`,
  );
  // The kernel's socket buffers took a few MiB; the server holds at most one
  // read buffer of it.
  assertLess(written, 64 * MiB);
  assertLess(stalled.bytesIn - stalled.bytesOut, 64 * 1024 + 1);
  assertLess(stalled.rss - before.rss, 32 * MiB);

  // Now the client reads: all 256 MiB flow through, checked as they come.
  let peak = stalled.rss;
  let received = 0;
  const chunk = new Uint8Array(256 * 1024);
  const sampling = setInterval(() => {
    server.figures().then((figures) => peak = Math.max(peak, figures.rss));
  }, 100);
  try {
    while (received < total) {
      const n = await conn.read(chunk);
      if (n === null) break;
      // The payload is `block` over and over; a read may span two copies.
      const offset = received % MiB;
      const head = Math.min(n, MiB - offset);
      assertEquals(
        firstDifference(
          chunk.subarray(0, head),
          block.subarray(offset, offset + head),
        ),
        -1,
        `at byte ${received}`,
      );
      assertEquals(
        firstDifference(chunk.subarray(head, n), block.subarray(0, n - head)),
        -1,
        `at byte ${received + head}`,
      );
      received += n;
    }
    await pushing;
  } finally {
    clearInterval(sampling);
  }
  assertEquals(received, total);
  assertEquals(await conn.read(chunk), null);
  const after = await server.figures();
  console.log(
    `256 MiB echoed; server RSS peak ${(peak / MiB).toFixed(1)} MiB, after ${
      (after.rss / MiB).toFixed(1)
    } MiB`,
  );
  assertLess(peak - before.rss, 48 * MiB);
  assertEquals(after.bytesIn - before.bytesIn, total);
  assertEquals(after.bytesOut - before.bytesOut, total);

  // The figures return to zero and a normal client is served.
  const deadline = Date.now() + 5_000;
  while ((await server.figures()).openConnections !== 0) {
    assert(Date.now() < deadline, "connections still open");
  }
  using normal = await Deno.connect({ hostname: LOOPBACK, port: server.port });
  const [, echoed] = await Promise.all([
    writeAll(normal, new TextEncoder().encode("normal"))
      .then(() => normal.closeWrite()),
    readAll(normal),
  ]);
  assertEquals(new TextDecoder().decode(echoed), "normal");
});
