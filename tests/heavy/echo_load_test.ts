// The TCP echo server under load: 2000 concurrent connections, and 256 MiB
// pushed at it by a client that does not read, with the server in its own
// process so its memory can be measured. Heavy: `deno task test:quick` leaves
// this folder out.

import { assert, assertEquals, assertLess } from "@std/assert";
import { startEchoServer } from "../../mod.ts";
import { writeAll } from "../../src/_net.ts";
import { denoRunArgs, projectPath } from "../_helpers.ts";
import {
  firstDifference,
  LOOPBACK,
  randomBytes,
  readAll,
  waitUntil,
  within,
} from "../_echo_helpers.ts";

const MiB = 1024 * 1024;

Deno.test("startEchoServer() echoes unique random payloads to 2000 concurrent clients, every byte in order", async () => {
  const errors: unknown[] = [];
  const reasons = new Map<string, number>();
  await using server = startEchoServer({
    hostname: LOOPBACK,
    port: 0,
    onError: (error) => errors.push(error),
    onConnectionClose: ({ reason }) =>
      reasons.set(reason, (reasons.get(reason) ?? 0) + 1),
  });
  const port = server.addr.port;
  const conns: Deno.TcpConn[] = [];
  try {
    // In batches, so the listen backlog never overflows.
    for (let i = 0; i < 2000; i += 200) {
      conns.push(
        ...await Promise.all(
          Array.from(
            { length: 200 },
            () => Deno.connect({ hostname: LOOPBACK, port }),
          ),
        ).catch((error) => {
          // Both ends of every connection live in this process.
          throw new Error(
            "this test needs about 4100 open files: raise the limit with " +
              "`ulimit -n 8192` (.ci/run does)",
            { cause: error },
          );
        }),
      );
    }
    await waitUntil(
      () => server.stats.openConnections === 2000,
      "2000 open connections",
      10_000,
    );
    // 1 byte to 32 KiB each, 32 MiB in all, every payload different.
    const payloads = conns.map((_, i) => randomBytes(1 + (i * 7919) % 32768));
    const started = performance.now();
    const echoed = await Promise.all(conns.map(async (conn, i) => {
      const [, bytes] = await Promise.all([
        writeAll(conn, payloads[i]!).then(() => conn.closeWrite()),
        readAll(conn),
      ]);
      return bytes;
    }));
    console.log(
      `2000 concurrent echoes in ${
        (performance.now() - started).toFixed(0)
      } ms`,
    );
    for (const [i, bytes] of echoed.entries()) {
      assertEquals(bytes.length, payloads[i]!.length, `client ${i}`);
      assertEquals(firstDifference(bytes, payloads[i]!), -1, `client ${i}`);
    }
  } finally {
    for (const conn of conns) conn.close();
  }
  await waitUntil(
    () => server.stats.openConnections === 0,
    "every connection to close",
  );
  assertEquals(server.stats.connectionsServed, 2000);
  assertEquals(server.stats.connectionsRejected, 0);
  assertEquals(Object.fromEntries(reasons), { closed: 2000 });
  assertEquals(errors, []);
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
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), 10_000);
    try {
      await this.#child.status;
    } finally {
      clearTimeout(timer);
    }
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
