import {
  assert,
  assertEquals,
  assertGreater,
  assertInstanceOf,
  assertLess,
  assertLessOrEqual,
  assertNotEquals,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import {
  type ConnectionCloseInfo,
  type EchoServer,
  type EchoServerOptions,
  sendBytes,
  sendMessage,
  startEchoServer,
} from "../mod.ts";
import { writeAll } from "../src/_net.ts";
import { denoRunArgs } from "./_helpers.ts";
import { makeTestCertificates } from "./_tls.ts";
import {
  Background,
  delay,
  firstDifference,
  LOOPBACK,
  randomBytes,
  readAll,
  readExactly,
  resetClients,
  runSeedClient,
  SeedServer,
  waitUntil,
  within,
} from "./_echo_helpers.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * An echo server on a free loopback port, recording closed connections and
 * reported errors.
 */
function startRecorded(options: EchoServerOptions = {}): {
  server: EchoServer;
  closed: ConnectionCloseInfo[];
  errors: unknown[];
} {
  const closed: ConnectionCloseInfo[] = [];
  const errors: unknown[] = [];
  const server = startEchoServer({
    hostname: LOOPBACK,
    port: 0,
    onConnectionClose: (info) => closed.push(info),
    onError: (error) => errors.push(error),
    ...options,
  });
  return { server, closed, errors };
}

function connectTo(server: EchoServer): Promise<Deno.TcpConn> {
  return Deno.connect({ hostname: LOOPBACK, port: server.addr.port });
}

/**
 * Sends `payload` while reading the echo (as a well-behaved client does), then
 * half-closes.
 */
async function echoThrough(
  server: EchoServer,
  payload: Uint8Array,
): Promise<Uint8Array> {
  using conn = await connectTo(server);
  const [, echoed] = await Promise.all([
    writeAll(conn, payload).then(() => conn.closeWrite()),
    readAll(conn),
  ]);
  return echoed;
}

/**
 * After a fault: the open-connection count returns to zero, and a normal client
 * is served.
 */
async function assertRecovered(server: EchoServer): Promise<void> {
  const closedAll = () => server.stats.openConnections === 0;
  await waitUntil(closedAll, "open connections to return to zero");
  const echoed = await within(
    echoThrough(server, encoder.encode("normal client")),
    2_000,
  );
  assert(echoed !== "timeout", "a normal client was not served");
  assertEquals(decoder.decode(echoed), "normal client");
  await waitUntil(closedAll, "the normal client's connection to close");
}

/**
 * Connecting fails: refused, or reset when it comes while the closed listener
 * is still being torn down.
 */
async function assertNotAccepting(server: EchoServer): Promise<void> {
  const error = await assertRejects(() => connectTo(server));
  assert(
    error instanceof Deno.errors.ConnectionRefused ||
      error instanceof Deno.errors.ConnectionReset,
    `connecting failed with ${error}`,
  );
}

/** Writes `text` and reads exactly as many bytes back. */
async function roundTrip(conn: Deno.Conn, text: string): Promise<string> {
  const bytes = encoder.encode(text);
  await writeAll(conn, bytes);
  return decoder.decode(await readExactly(conn, bytes.length));
}

/**
 * Writes consecutive slices of `source` without reading until a write stays
 * blocked for 300 ms: the server has stopped reading. Returns how much went out
 * and the blocked write.
 */
async function writeUntilStalled(
  conn: Deno.Conn,
  source: Uint8Array,
): Promise<{ written: number; blocked: Promise<unknown> }> {
  let written = 0;
  while (written < source.length) {
    const write = conn.write(source.subarray(written, written + 65536));
    const result = await within(write, 300);
    if (result === "timeout") {
      // It ends with an error once the test closes the connection.
      return { written, blocked: write.catch(() => {}) };
    }
    written += result;
  }
  throw new Error(`${written} bytes went out without the server pushing back`);
}

Deno.test("startEchoServer() echoes bytes and closes after the client's half-close", async () => {
  const { server, closed, errors } = startRecorded();
  await using _server = server;
  assertEquals(server.addr.hostname, LOOPBACK);
  assertGreater(server.addr.port, 0);

  const echoed = await echoThrough(server, encoder.encode("Halo server!"));
  assertEquals(decoder.decode(echoed), "Halo server!");

  await waitUntil(() => closed.length === 1, "the connection to close");
  const info = closed[0]!;
  assertEquals(info.reason, "closed");
  assertEquals(info.bytesIn, 12);
  assertEquals(info.bytesOut, 12);
  assertEquals(info.remoteAddr.hostname, LOOPBACK);
  assert(info.durationMs >= 0);
  assert(!("message" in info));
  assertEquals(server.stats, {
    openConnections: 0,
    connectionsServed: 1,
    connectionsRejected: 0,
    bytesIn: 12,
    bytesOut: 12,
  });
  assertEquals(errors, []);
});

Deno.test("startEchoServer() echoes 32 MiB of random bytes exactly", async () => {
  const { server, errors } = startRecorded();
  await using _server = server;
  const payload = randomBytes(32 * 1024 * 1024);
  const echoed = await echoThrough(server, payload);
  assertEquals(echoed.length, payload.length);
  assertEquals(firstDifference(echoed, payload), -1);
  assertEquals(errors, []);
});

Deno.test("startEchoServer() echoes bursts of every size in order, small and large", async () => {
  const { server, errors } = startRecorded();
  await using _server = server;
  using conn = await connectTo(server);
  // Sizes around the server's 2 KiB and 64 KiB buffers, with pauses so reads
  // come back short.
  for (const size of [1, 2047, 2048, 2049, 65536, 65537, 5, 3_000_000, 3]) {
    const payload = randomBytes(size);
    const [, echoed] = await Promise.all([
      writeAll(conn, payload),
      readExactly(conn, size),
    ]);
    assertEquals(firstDifference(echoed, payload), -1, `burst of ${size}`);
    await delay(5);
  }
  assertEquals(errors, []);
});

Deno.test("startEchoServer() stops reading from a client that does not read, and serves others", async () => {
  const { server, closed, errors } = startRecorded();
  await using _server = server;
  const stuck = await connectTo(server);
  const { written, blocked } = await writeUntilStalled(
    stuck,
    randomBytes(64 * 1024 * 1024),
  );
  assertGreater(written, 0);
  // The server holds at most one buffer of the stuck client's bytes: what it
  // read but could not send yet. The rest waits in the kernel's socket buffers.
  const { bytesIn, bytesOut } = server.stats;
  assertLessOrEqual(bytesIn - bytesOut, 64 * 1024);
  assertEquals(
    decoder.decode(await echoThrough(server, encoder.encode("next"))),
    "next",
  );

  // Closing with the echo unread resets the connection while the server is
  // writing to it.
  stuck.close();
  await blocked;
  await waitUntil(() => closed.length === 2, "both connections to close");
  assertEquals(closed.map((info) => info.reason).sort(), ["closed", "reset"]);
  assertEquals(errors, []);
  await assertRecovered(server);
});

Deno.test("startEchoServer() is unaffected by clients that close abruptly or send garbage", async () => {
  const { server, errors } = startRecorded();
  await using _server = server;
  const payload = randomBytes(8 * 1024 * 1024);
  const long = echoThrough(server, payload);
  await Promise.all(Array.from({ length: 60 }, async (_, i) => {
    const conn = await connectTo(server);
    if (i % 3 === 1) await conn.write(randomBytes(100_000));
    if (i % 3 === 2) {
      await conn.write(randomBytes(10));
      await conn.closeWrite();
    }
    conn.close();
  }));
  assertEquals(firstDifference(await long, payload), -1);
  await assertRecovered(server);
  assertEquals(errors, []);
});

Deno.test("startEchoServer() shrugs off clients that reset before or after being accepted", async () => {
  const { server, closed, errors } = startRecorded();
  await using _server = server;
  // Resets that land before accept() make it fail; that must neither be
  // reported nor pause the accept loop for the clients behind them.
  await resetClients(server.addr.port, 50);
  await resetClients(server.addr.port, 5, "Halo");
  const echoed = await within(
    echoThrough(server, encoder.encode("still here")),
    1_000,
  );
  assert(echoed !== "timeout", "no echo within 1 s of the resets");
  assertEquals(decoder.decode(echoed), "still here");
  await waitUntil(
    () => server.stats.openConnections === 0,
    "every connection to close",
  );
  assertEquals(errors, []);
  const withPayload = closed.filter((info) => info.bytesIn === 4);
  assertEquals(withPayload.map((info) => info.reason), Array(5).fill("reset"));
});

Deno.test("startEchoServer() closes connections idle for idleTimeout", async () => {
  const { server, closed, errors } = startRecorded({ idleTimeout: 150 });
  await using _server = server;
  using idle = await connectTo(server);
  using busy = await connectTo(server);
  const started = performance.now();
  const idleRead = idle.read(new Uint8Array(1));
  // Traffic every 50 ms keeps the other connection open past the timeout.
  for (let i = 0; i < 8; i++) {
    assertEquals(await roundTrip(busy, `${i}`), `${i}`);
    await delay(50);
  }
  assertEquals(await within(idleRead, 2_000), null);
  assertGreater(performance.now() - started, 140);
  await waitUntil(() => closed.length === 1, "the idle connection to close");
  assertEquals(closed[0]!.reason, "idle-timeout");
  assertEquals(await roundTrip(busy, "still open"), "still open");
  busy.close();
  await assertRecovered(server);
  assertEquals(errors, []);
});

Deno.test("startEchoServer() closes a connection that never sends once idleTimeout has passed, not before, in echo, reply and TLS mode", async () => {
  // Opening counts as activity without a clock reading: a connection must
  // still get its whole idleTimeout, and be closed soon after it.
  const idleTimeout = 300;
  await using certs = await makeTestCertificates();
  const echo = startRecorded({ idleTimeout });
  await using _echo = echo.server;
  const reply = startRecorded({ idleTimeout, reply: () => "never asked" });
  await using _reply = reply.server;
  const tls = startRecorded({ idleTimeout, cert: certs.cert, key: certs.key });
  await using _tls = tls.server;
  // Without onConnectionClose the server does not time connections at all.
  await using unheard = startEchoServer({
    hostname: LOOPBACK,
    port: 0,
    idleTimeout,
  });
  using open = new DisposableStack();
  const started = performance.now();
  const silent = open.use(await connectTo(unheard));
  // One that never starts its TLS handshake.
  for (const { server } of [echo, reply, tls]) {
    open.use(await connectTo(server));
  }
  // Later ones land in another phase of the idle sweep.
  await delay(idleTimeout / 3);
  for (const { server } of [echo, reply]) open.use(await connectTo(server));
  const secure = open.use(
    await Deno.connectTls({
      hostname: LOOPBACK,
      port: tls.server.addr.port,
      caCerts: [certs.ca],
    }),
  );
  await secure.handshake();
  assertEquals(await within(silent.read(new Uint8Array(1)), 5_000), null);
  assertGreater(performance.now() - started, idleTimeout);
  for (const { closed, errors } of [echo, reply, tls]) {
    await waitUntil(() => closed.length === 2, "both connections to close");
    for (const info of closed) {
      assertEquals(info.reason, "idle-timeout");
      // At most half the timeout late by the documented bound; the rest is
      // room for a busy machine.
      assertLessOrEqual(idleTimeout, info.durationMs);
      assertLess(info.durationMs, idleTimeout * 4);
    }
    assertEquals(errors, []);
  }
});

Deno.test("startEchoServer() echoes a client that trickles one byte at a time, and the trickle keeps it from going idle", async () => {
  const { server, closed, errors } = startRecorded({ idleTimeout: 150 });
  await using _server = server;
  using conn = await connectTo(server);
  const payload = randomBytes(40);
  const started = performance.now();
  for (const [i, byte] of payload.entries()) {
    await conn.write(new Uint8Array([byte]));
    assertEquals(await readExactly(conn, 1), new Uint8Array([byte]), `${i}`);
    await delay(15);
  }
  // Far longer than idleTimeout, yet never idle for that long.
  assertGreater(performance.now() - started, 500);
  await conn.closeWrite();
  assertEquals(await readAll(conn), new Uint8Array());
  await waitUntil(() => closed.length === 1, "the connection to close");
  assertEquals(closed[0]!.reason, "closed");
  assertEquals(closed[0]!.bytesIn, 40);
  assertEquals(closed[0]!.bytesOut, 40);
  await assertRecovered(server);
  assertEquals(errors, []);
});

Deno.test("startEchoServer() closes connections over maxConnections at once, and accepts again below it", async () => {
  const { server, closed, errors } = startRecorded({ maxConnections: 2 });
  await using _server = server;
  using first = await connectTo(server);
  using second = await connectTo(server);
  assertEquals(await roundTrip(first, "1"), "1");
  assertEquals(await roundTrip(second, "2"), "2");

  using third = await connectTo(server);
  const started = performance.now();
  assertEquals(await within(third.read(new Uint8Array(1)), 2_000), null);
  assertLess(performance.now() - started, 1_000);
  assertEquals(closed.map((info) => info.reason), ["limit"]);
  assertEquals(server.stats.connectionsRejected, 1);

  first.close();
  await waitUntil(
    () => server.stats.openConnections === 1,
    "a connection to close",
  );
  using fourth = await connectTo(server);
  assertEquals(await roundTrip(fourth, "4"), "4");
  second.close();
  fourth.close();
  await assertRecovered(server);
  assertEquals(errors, []);
});

Deno.test("startEchoServer().shutdown() sends back every byte already read, closes idle connections at once", async () => {
  const { server, closed, errors } = startRecorded();
  using idle = await connectTo(server);
  using busy = await connectTo(server);
  assertEquals(await roundTrip(idle, "hi"), "hi");
  const source = randomBytes(64 * 1024 * 1024);
  const { blocked } = await writeUntilStalled(busy, source);

  const stopped = server.shutdown();
  assertEquals(await within(idle.read(new Uint8Array(1)), 1_000), null);
  idle.close();
  await assertNotAccepting(server);

  // Only now does the client read: the server, blocked writing, finishes what
  // it read.
  const received = await readAll(busy);
  busy.close();
  await blocked;
  await stopped;
  const info = closed.find((info) => info.bytesIn > 2)!;
  assertEquals(info.reason, "shutdown");
  assertEquals(info.bytesOut, info.bytesIn);
  assertEquals(received.length, info.bytesIn);
  assertEquals(
    firstDifference(received, source.subarray(0, received.length)),
    -1,
  );
  assertEquals(closed.map((info) => info.reason), ["shutdown", "shutdown"]);
  assertEquals(errors, []);
});

Deno.test("startEchoServer().shutdown() force-closes after shutdownGracePeriod", async () => {
  const { server, closed, errors } = startRecorded({
    shutdownGracePeriod: 200,
  });
  using stuck = await connectTo(server);
  const { blocked } = await writeUntilStalled(stuck, randomBytes(64 << 20));
  const started = performance.now();
  await server.shutdown();
  const elapsed = performance.now() - started;
  assertGreater(elapsed, 150);
  assertLess(elapsed, 2_000);
  assertEquals(closed.map((info) => info.reason), ["shutdown"]);
  stuck.close();
  await blocked;
  assertEquals(errors, []);
});

Deno.test("startEchoServer() keeps accepting after accept() runs out of file descriptors", async () => {
  // The fixture fills its descriptor table, so accepting fails until it frees
  // them on the first error it is told about.
  await using fixture = new Background("bash", [
    "-c",
    'ulimit -n 64 && exec "$0" "$@"',
    Deno.execPath(),
    ...denoRunArgs(
      ["-N", "--allow-read=/dev/null"],
      "tests/fixtures/emfile_echo_server.ts",
    ),
  ]);
  const port = Number((await fixture.waitFor(/listening on (\d+)/))[1]);
  const conns = await Promise.all(
    Array.from({ length: 8 }, () => Deno.connect({ hostname: LOOPBACK, port })),
  );
  try {
    for (const [i, conn] of conns.entries()) {
      assertEquals(
        await within(roundTrip(conn, `hello ${i}`), 5_000),
        `hello ${i}`,
      );
    }
  } finally {
    for (const conn of conns) conn.close();
  }
  assertEquals(
    fixture.output.match(/^error: .*/gm),
    ["error: Too many open files (os error 24)"],
  );
});

Deno.test("startEchoServer() stops on its signal; shutdown() twice and dispose are fine", async () => {
  const controller = new AbortController();
  const { server } = startRecorded({ signal: controller.signal });
  controller.abort();
  await server.finished;
  await server.shutdown();
  await server[Symbol.asyncDispose]();
  // Nothing is served any more. The port itself is free again, so another
  // test running in parallel may already listen there: a refused connection
  // is not asserted, only that this server takes no new client.
  const served = server.stats.connectionsServed;
  try {
    (await connectTo(server)).close();
  } catch (error) {
    assertInstanceOf(error, Deno.errors.ConnectionRefused);
  }
  assertEquals(server.stats.connectionsServed, served);

  const aborted = startRecorded({ signal: AbortSignal.abort() }).server;
  await aborted.finished;
});

Deno.test("startEchoServer() reports its address to onListen and names it when it is taken", async () => {
  let listened: Deno.NetAddr | undefined;
  await using server = startEchoServer({
    hostname: LOOPBACK,
    port: 0,
    onListen: (addr) => listened = addr,
  });
  assertEquals(listened, server.addr);
  const error = assertThrows(
    () => startEchoServer({ hostname: LOOPBACK, port: server.addr.port }),
    Deno.errors.AddrInUse,
    `Cannot listen on ${LOOPBACK}:${server.addr.port}: the address is already in use`,
  );
  assertInstanceOf(error.cause, Deno.errors.AddrInUse);
});

Deno.test("startEchoServer() in reply mode answers one message and closes", async () => {
  const { server, closed, errors } = startRecorded({
    reply: (message, { bytes, remoteAddr }) =>
      `got "${message}": ${bytes.length} bytes from ${remoteAddr.hostname}`,
  });
  await using _server = server;
  using conn = await connectTo(server);
  await conn.write(encoder.encode("Halo server!"));
  // No end of input needed: the server answers after one read and ends its
  // side; it closes once the client does.
  const reply = decoder.decode(await readAll(conn));
  conn.close();
  assertEquals(reply, `got "Halo server!": 12 bytes from ${LOOPBACK}`);
  await waitUntil(() => closed.length === 1, "the connection to close");
  assertEquals(closed[0]!.reason, "closed");
  assertEquals(closed[0]!.message, "Halo server!");
  assertEquals(closed[0]!.bytesIn, 12);
  assertEquals(closed[0]!.bytesOut, encoder.encode(reply).length);
  assertEquals(errors, []);
});

Deno.test("startEchoServer() in reply mode sends each connection its own answer, the same text or not, answers a client that half-closed at once, and lets the handler keep its bytes", async () => {
  const kept: [string, Uint8Array][] = [];
  const { server, closed, errors } = startRecorded({
    reply: (message, { bytes }) => {
      kept.push([message, bytes]);
      return message === "" ? "nothing?" : message.toUpperCase();
    },
  });
  await using _server = server;
  const ask = async (message: string, halfClose: boolean) => {
    using conn = await connectTo(server);
    if (message !== "") await conn.write(encoder.encode(message));
    if (halfClose) await conn.closeWrite();
    return decoder.decode(await readAll(conn));
  };
  // The encoded answer is kept for the next connection while the text stays
  // the same: a changed text must not get the old bytes, at any length.
  for (const message of ["halo", "halo", "hai", "halo", "ok", "ok"]) {
    assertEquals(await ask(message, false), message.toUpperCase());
    assertEquals(await ask(message, true), message.toUpperCase());
  }
  assertEquals(await ask("", true), "nothing?");
  await waitUntil(() => closed.length === 13, "every connection to close");
  assertEquals(closed.map((info) => info.reason), Array(13).fill("closed"));
  assertEquals(errors, []);
  // The server reuses its read buffers: the bytes a handler kept stay its own.
  for (const [message, bytes] of kept) {
    assertEquals(decoder.decode(bytes), message);
  }
});

Deno.test("startEchoServer() in reply mode reads at most maxMessageSize bytes, decodes leniently, sends bytes", async () => {
  const messages: string[] = [];
  const { server } = startRecorded({
    maxMessageSize: 4,
    reply: async (message) => {
      messages.push(message);
      await delay(1);
      return new Uint8Array([1, 2, 3]);
    },
  });
  await using _server = server;
  using conn = await connectTo(server);
  await conn.write(new Uint8Array([0x48, 0x69, 0xff, 0x21]));
  assertEquals(await readAll(conn), new Uint8Array([1, 2, 3]));

  using longer = await connectTo(server);
  await longer.write(encoder.encode("Halo server!"));
  assertEquals(await readAll(longer), new Uint8Array([1, 2, 3]));
  assertEquals(messages, ["Hi\ufffd!", "Halo"]);
});

Deno.test("startEchoServer() in reply mode reports a throwing reply and keeps serving", async () => {
  let calls = 0;
  const { server, closed, errors } = startRecorded({
    reply: () => {
      if (++calls === 1) throw new Error("reply failed");
      return "ok";
    },
  });
  await using _server = server;
  using failing = await connectTo(server);
  await failing.write(encoder.encode("first"));
  assertEquals(await readAll(failing), new Uint8Array());
  assertEquals(errors.length, 1);
  assertInstanceOf(errors[0], Error);
  assertEquals((errors[0] as Error).message, "reply failed");
  assertEquals(closed[0]!.reason, "error");

  using next = await connectTo(server);
  await next.write(encoder.encode("second"));
  assertEquals(decoder.decode(await readAll(next)), "ok");
});

// What EchoServerOptions.reply documents: Deno cannot reset a connection on
// purpose, so the client of a failed reply sees an orderly end, as for an
// empty answer.
Deno.test("startEchoServer() in reply mode reports a rejecting reply; its client gets an empty answer", async () => {
  const { server, closed, errors } = startRecorded({
    reply: () => Promise.reject(new Error("reply failed")),
  });
  await using _server = server;
  assertEquals(await sendMessage("hi", { port: server.addr.port }), "");
  await waitUntil(() => closed.length === 1, "the connection to close");
  assertEquals(closed[0]!.reason, "error");
  assertEquals(errors.length, 1);
  assertEquals((errors[0] as Error).message, "reply failed");
});

Deno.test("the seed's Python client gets the same answer from reply mode as from the seed's Python server", async () => {
  let fromPythonServer: string;
  {
    await using python = await SeedServer.start();
    const result = await runSeedClient(python.port);
    assertEquals(result.code, 0, result.stderr);
    fromPythonServer = result.stdout;
    await python.waitFor(/Pesan dari client: Halo server!/);
    assertEquals(
      python.output.match(/Koneksi dari \('127\.0\.0\.1', \d+\)/)?.length,
      1,
    );
  }

  const { server, closed } = startRecorded({
    reply: () => "Pesan diterima server",
  });
  await using _server = server;
  const result = await runSeedClient(server.addr.port);
  assertEquals(result.code, 0, result.stderr);
  assertEquals(result.stdout, fromPythonServer);
  assertEquals(result.stdout, "Pesan dari server: Pesan diterima server\n");
  await waitUntil(() => closed.length === 1, "the connection to close");
  assertEquals(closed[0]!.message, "Halo server!");
});

Deno.test("startEchoServer().shutdown() delivers everything echoed to a client that was not reading, then ends in order", async () => {
  // The repro: a client writes 8 MiB without reading; 10 ms later the
  // server shuts down; only then does the client read.
  const { server, closed, errors } = startRecorded();
  using conn = await connectTo(server);
  const payload = randomBytes(8 * 1024 * 1024);
  const writing = writeAll(conn, payload).then(() => conn.closeWrite());
  await delay(10);
  const stopped = server.shutdown();
  const received = await readAll(conn);
  await writing;
  await stopped;
  assertEquals(closed.length, 1);
  const info = closed[0]!;
  assertEquals(info.reason, "shutdown");
  assertEquals(received.length, info.bytesOut);
  assertEquals(
    firstDifference(received, payload.subarray(0, received.length)),
    -1,
  );
  assertEquals(errors, []);
});

Deno.test("startEchoServer().shutdown() ends an idle connection's side at once, and finishes when the client closes", async () => {
  const { server, closed, errors } = startRecorded();
  const conn = await connectTo(server);
  assertEquals(await roundTrip(conn, "hi"), "hi");
  const stopped = server.shutdown();
  assertEquals(await within(conn.read(new Uint8Array(1)), 1_000), null);
  // The client may still send: it is read and discarded, not echoed, and
  // the server waits for the client's close.
  await writeAll(conn, randomBytes(100_000));
  assertEquals(await within(stopped, 100), "timeout");
  conn.close();
  await stopped;
  assertEquals(closed.map((info) => [info.reason, info.bytesOut]), [[
    "shutdown",
    2,
  ]]);
  assertEquals(errors, []);
});

Deno.test("startEchoServer() in reply mode sends a reply of megabytes whole to a client that sent more than maxMessageSize", async () => {
  const reply = randomBytes(4 << 20);
  const { server, closed, errors } = startRecorded({ reply: () => reply });
  await using _server = server;
  const port = server.addr.port;
  for (let i = 0; i < 3; i++) {
    const received = await sendBytes(new Uint8Array(5000), {
      port,
      maxResponseSize: 8 << 20,
    });
    assertEquals(received.length, reply.length);
    assertEquals(firstDifference(received, reply), -1);
  }
  await waitUntil(() => closed.length === 3, "the connections to close");
  assertEquals(closed.map((info) => info.reason), [
    "closed",
    "closed",
    "closed",
  ]);
  assertEquals(errors, []);
});

Deno.test("startEchoServer() in reply mode gives up on a client that never stops sending after the reply", async () => {
  const { server, closed, errors } = startRecorded({ reply: () => "ok" });
  await using _server = server;
  using conn = await connectTo(server);
  await conn.write(encoder.encode("hello"));
  assertEquals(decoder.decode(await readExactly(conn, 2)), "ok");
  assertEquals(await conn.read(new Uint8Array(1)), null);
  // Keeps sending after the reply; the server reads at most 1 MiB of it, for
  // at most 2 s, then closes.
  const sending = (async () => {
    try {
      for (let i = 0; i < 100; i++) {
        await conn.write(new Uint8Array(64 * 1024));
        await delay(5);
      }
    } catch (error) {
      return error;
    }
    return undefined;
  })();
  await waitUntil(() => closed.length === 1, "the connection to close", 5_000);
  assertEquals(closed[0]!.reason, "closed");
  assert(isDisconnectErrorLike(await sending), "the client's sending was cut");
  assertEquals(errors, []);
});

/** A client's write to a closed connection fails with one of these. */
function isDisconnectErrorLike(error: unknown): boolean {
  return error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.BrokenPipe;
}

Deno.test("startEchoServer().shutdown() lets a reply that is being computed go out whole", async () => {
  const answered = Promise.withResolvers<void>();
  const reply = randomBytes(2 << 20);
  const { server, closed, errors } = startRecorded({
    reply: async () => {
      await answered.promise;
      return reply;
    },
  });
  const port = server.addr.port;
  // More than maxMessageSize, so the server has unread input when it answers.
  const sending = sendBytes(new Uint8Array(50_000), {
    port,
    maxResponseSize: 4 << 20,
  });
  await waitUntil(() => server.stats.bytesIn > 0, "the message to arrive");
  const stopped = server.shutdown();
  answered.resolve();
  const received = await sending;
  await stopped;
  assertEquals(firstDifference(received, reply), -1);
  assertEquals(closed.map((info) => info.reason), ["closed"]);
  assertEquals(errors, []);
});

Deno.test("startEchoServer().shutdown() in reply mode ends a connection waiting for its message in order, without a reply", async () => {
  const { server, closed, errors } = startRecorded({ reply: () => "ok" });
  using conn = await connectTo(server);
  await waitUntil(() => server.stats.openConnections === 1, "the connection");
  const stopped = server.shutdown();
  assertEquals(await within(conn.read(new Uint8Array(1)), 1_000), null);
  await writeAll(conn, randomBytes(50_000));
  await conn.closeWrite();
  await stopped;
  assertEquals(closed.map((info) => info.reason), ["shutdown"]);
  assertEquals(server.stats.bytesOut, 0);
  assertEquals(errors, []);
});

Deno.test("startEchoServer() with shutdownGracePeriod Infinity waits for the client as long as it takes", async () => {
  const { server, closed, errors } = startRecorded({
    shutdownGracePeriod: Infinity,
  });
  using stuck = await connectTo(server);
  const source = randomBytes(64 << 20);
  const { blocked } = await writeUntilStalled(stuck, source);
  const stopped = server.shutdown();
  // A grace period that overflowed a timer would force the close at once.
  assertEquals(await within(stopped, 300), "timeout");
  const received = await readAll(stuck);
  stuck.close();
  await blocked;
  await stopped;
  assertEquals(received.length, closed[0]!.bytesOut);
  assertEquals(closed.map((info) => info.reason), ["shutdown"]);
  assertEquals(errors, []);
});

Deno.test("startEchoServer() with idleTimeout Infinity or 0 never closes an idle connection", async () => {
  for (const idleTimeout of [Infinity, 0, 2 ** 31]) {
    const { server, closed } = startRecorded({ idleTimeout });
    using conn = await connectTo(server);
    assertEquals(await within(conn.read(new Uint8Array(1)), 300), "timeout");
    assertEquals(closed, [], `idleTimeout ${idleTimeout}`);
    await server.close();
  }
});

Deno.test("startEchoServer() checks every option up front, naming it and its value", () => {
  const cases: [
    EchoServerOptions,
    typeof RangeError | typeof TypeError,
    string,
  ][] = [
    [
      { port: -1 },
      RangeError,
      "port must be a whole number from 0 to 65535, got -1",
    ],
    [{ port: 65536 }, RangeError, "got 65536"],
    [{ port: 80.5 }, RangeError, "got 80.5"],
    [
      { port: "8080" as unknown as number },
      TypeError,
      'port must be a whole number from 0 to 65535, got "8080"',
    ],
    [
      { maxConnections: NaN },
      RangeError,
      "maxConnections must be a positive whole number or Infinity, got NaN",
    ],
    [{ maxConnections: 0 }, RangeError, "got 0"],
    [{ maxConnections: 2.5 }, RangeError, "got 2.5"],
    [
      { idleTimeout: -1 },
      RangeError,
      "idleTimeout must be a non-negative number or Infinity, got -1",
    ],
    [{ idleTimeout: NaN }, RangeError, "got NaN"],
    [
      { shutdownGracePeriod: -5 },
      RangeError,
      "shutdownGracePeriod must be a non-negative number or Infinity, got -5",
    ],
    [{ shutdownGracePeriod: NaN }, RangeError, "got NaN"],
    [
      { maxMessageSize: -1 },
      RangeError,
      "maxMessageSize must be a whole number from 1 to 67108864, got -1",
    ],
    [{ maxMessageSize: 0 }, RangeError, "got 0"],
    [{ maxMessageSize: 1e12 }, RangeError, "got 1000000000000"],
    [{ maxMessageSize: Infinity }, RangeError, "got Infinity"],
    [
      { hostname: 0 as unknown as string },
      TypeError,
      "hostname must be a non-empty string, got 0",
    ],
    [
      { reply: "Pesan diterima" as unknown as () => string },
      TypeError,
      'reply must be a function, got "Pesan diterima"',
    ],
    [
      { onError: {} as () => void },
      TypeError,
      "onError must be a function, got Object",
    ],
    [
      { onListen: 1 as unknown as () => void },
      TypeError,
      "onListen must be a function, got 1",
    ],
    [
      { onConnectionClose: null as unknown as () => void },
      TypeError,
      "onConnectionClose must be a function, got null",
    ],
    [
      { signal: "stop" as unknown as AbortSignal },
      TypeError,
      'signal must be an AbortSignal, got "stop"',
    ],
    [
      { cert: 1 as unknown as string, key: "k" },
      TypeError,
      "cert must be a string, got 1",
    ],
  ];
  for (const [options, ErrorClass, message] of cases) {
    const error = assertThrows(
      () => startEchoServer({ hostname: LOOPBACK, port: 0, ...options }),
      ErrorClass,
      message,
    );
    assert(
      error.message.startsWith("Cannot start the echo server: "),
      error.message,
    );
  }
  assertThrows(
    () => startEchoServer({ hostname: "", port: 0 }),
    TypeError,
    'Cannot start the echo server: hostname must be a non-empty string, got ""',
  );
  assertThrows(
    () => startEchoServer(null as unknown as EchoServerOptions),
    TypeError,
    "Cannot start the echo server: options must be an object, got null",
  );
  assertThrows(
    () => startEchoServer([] as unknown as EchoServerOptions),
    TypeError,
    "Cannot start the echo server: options must be an object, got Array",
  );
});

Deno.test("startEchoServer() in reply mode reports an answer of the wrong type, closes, and keeps its figures numbers", async () => {
  const answers: unknown[] = [
    new ArrayBuffer(8),
    42,
    null,
    undefined,
    { then: (resolve: (value: unknown) => void) => resolve(7) },
    Promise.resolve({ text: "no" }),
  ];
  let call = 0;
  const { server, closed, errors } = startRecorded({
    reply: () => answers[call++] as string,
  });
  await using _server = server;
  for (let i = 0; i < answers.length; i++) {
    using conn = await connectTo(server);
    await conn.write(encoder.encode("Halo"));
    assertEquals(await readAll(conn), new Uint8Array(), `answer ${i}`);
  }
  await waitUntil(
    () => closed.length === answers.length,
    "every connection to close",
  );
  assertEquals(
    closed.map((info) => [info.reason, info.bytesOut]),
    Array(answers.length).fill(["error", 0]),
  );
  assertEquals(errors.length, answers.length);
  for (const error of errors) {
    assertInstanceOf(error, TypeError);
    assertStringIncludes(error.message, `Cannot answer ${LOOPBACK}:`);
  }
  assertStringIncludes(
    (errors[0] as Error).message,
    "reply returned ArrayBuffer, not a string, a Uint8Array or a promise of one",
  );
  assertStringIncludes((errors[1] as Error).message, "reply returned 42,");
  assertStringIncludes((errors[4] as Error).message, "reply returned 7,");
  assertEquals(server.stats.bytesOut, 0);
  assertEquals(server.stats.bytesIn, 4 * answers.length);
});

Deno.test("startEchoServer() in reply mode awaits any thenable, not only a Promise", async () => {
  const { server, errors } = startRecorded({
    reply: (message) =>
      // A minimal thenable: one `then` taking the resolve function.
      ({
        then(resolve: (value: string) => void) {
          setTimeout(() => resolve(`thenable: ${message}`), 5);
        },
      }) as PromiseLike<string>,
  });
  await using _server = server;
  assertEquals(
    await sendMessage("Halo", { port: server.addr.port }),
    "thenable: Halo",
  );
  assertEquals(errors, []);
});

Deno.test("startEchoServer() does not wait for a reply that never comes once the connection is closed", async () => {
  const { server, closed } = startRecorded({
    idleTimeout: 100,
    reply: () => new Promise<string>(() => {}),
  });
  using conn = await connectTo(server);
  await conn.write(encoder.encode("Halo"));
  assertEquals(await within(readAll(conn), 2_000), new Uint8Array());
  await waitUntil(() => closed.length === 1, "the idle close");
  assertEquals(closed[0]!.reason, "idle-timeout");
  // And shutdown does not hang on it either.
  assertEquals(await within(server.shutdown(), 1_000), undefined);
});

Deno.test("startEchoServer().close() closes every connection at once, and cuts a graceful shutdown short", async () => {
  const { server, closed, errors } = startRecorded();
  using idle = await connectTo(server);
  using stuck = await connectTo(server);
  assertEquals(await roundTrip(idle, "hi"), "hi");
  const { blocked } = await writeUntilStalled(stuck, randomBytes(64 << 20));
  const started = performance.now();
  const stopping = server.shutdown();
  // The stuck client would keep a graceful shutdown waiting for 5 s.
  assertEquals(await within(stopping, 200), "timeout");
  await server.close();
  await stopping;
  assertLess(performance.now() - started, 2_000);
  assertEquals(closed.map((info) => info.reason), ["shutdown", "shutdown"]);
  await assertNotAccepting(server);
  await blocked;
  assertEquals(errors, []);

  const { server: other, closed: otherClosed } = startRecorded();
  using conn = await connectTo(other);
  await waitUntil(() => other.stats.openConnections === 1, "the connection");
  await other.close();
  await other.close();
  await other.shutdown();
  assertEquals(otherClosed.map((info) => info.reason), ["shutdown"]);
  assertEquals(await conn.read(new Uint8Array(1)), null);
});

Deno.test("startEchoServer() keeps track of every open connection whichever closes first", async () => {
  const { server, closed } = startRecorded({ idleTimeout: 1_000 });
  const connect = () => connectTo(server);
  const [first, idle, middle, active, last] = await Promise.all([
    connect(),
    connect(),
    connect(),
    connect(),
    connect(),
  ]);
  for (const [i, conn] of [first, idle, middle, active, last].entries()) {
    assertEquals(await roundTrip(conn, `${i}`), `${i}`);
  }
  assertEquals(server.stats.openConnections, 5);
  // The first, the middle and the last one close; the two left must still be
  // found by the idle check and by close().
  for (const [i, conn] of [first, middle, last].entries()) {
    conn.close();
    await waitUntil(() => closed.length === i + 1, `close ${i + 1}`);
  }
  assertEquals(server.stats.openConnections, 2);
  // Two idle-check rounds later, so that `idle` is the first to go idle, and
  // alone.
  await delay(600);
  assertEquals(await roundTrip(active, "still here"), "still here");
  await waitUntil(() => closed.length === 4, "the idle close", 3_000);
  assertEquals(await idle.read(new Uint8Array(1)), null);
  // A connection the server lost track of would keep it from finishing.
  assertNotEquals(await within(server.close(), 2_000), "timeout");
  assertEquals(closed.map((info) => info.reason), [
    "closed",
    "closed",
    "closed",
    "idle-timeout",
    "shutdown",
  ]);
  assertEquals(await active.read(new Uint8Array(1)), null);
  assertEquals(server.stats.openConnections, 0);
  idle.close();
  active.close();
});

Deno.test("startEchoServer() still finds every long connection after hundreds of short ones came and went, some resetting", async () => {
  // Each closing connection moves another into its place in the server's
  // list: the long ones, opened between the short ones, move many times.
  // With no grace period, a lost one would never be ended by shutdown().
  const { server, closed, errors } = startRecorded({
    shutdownGracePeriod: Infinity,
  });
  await using _server = server;
  using open = new DisposableStack();
  const longs: Deno.Conn[] = [];
  const short = async (i: number) => {
    using conn = await connectTo(server);
    if (i % 3 === 0) return;
    await writeAll(conn, encoder.encode("short"));
    if (i % 3 === 1) return;
    await conn.closeWrite();
    assertEquals(decoder.decode(await readAll(conn)), "short");
  };
  for (let round = 0; round < 5; round++) {
    const conn = open.use(await connectTo(server));
    longs.push(conn);
    assertEquals(await roundTrip(conn, `long ${round}`), `long ${round}`);
    await Promise.all(Array.from({ length: 40 }, (_, i) => short(i)));
    if (round === 2) await resetClients(server.addr.port, 20, "Halo");
  }
  await waitUntil(
    () => server.stats.openConnections === longs.length,
    "only the long connections to stay open",
  );
  for (const [i, conn] of longs.entries()) {
    assertEquals(await roundTrip(conn, `still ${i}`), `still ${i}`);
  }
  const stopped = server.shutdown();
  for (const conn of longs) {
    assertEquals(await within(conn.read(new Uint8Array(1)), 2_000), null);
  }
  open.dispose();
  assertNotEquals(await within(stopped, 2_000), "timeout");
  const { openConnections, connectionsServed, connectionsRejected } =
    server.stats;
  assertEquals(openConnections, 0);
  assertEquals(closed.length, connectionsServed + connectionsRejected);
  const count = (reason: string) =>
    closed.filter((info) => info.reason === reason).length;
  assertEquals(count("shutdown"), longs.length);
  // A short client that closes with its echo unread may reset, too.
  assertLessOrEqual(20, count("reset"));
  assertEquals(count("closed") + count("reset"), 220);
  assertEquals(errors, []);
});

Deno.test("startEchoServer().unref() lets the program end while no client is connected, but not during a connection", async () => {
  await using fixture = new Background(
    Deno.execPath(),
    denoRunArgs(["-N=127.0.0.1"], "tests/fixtures/unref_echo_server.ts"),
  );
  const port = Number((await fixture.waitFor(/listening on (\d+)/))[1]);
  using conn = await Deno.connect({ hostname: LOOPBACK, port });
  await fixture.waitFor(/unref'd with 1 connection/);
  // Still serving: the open connection keeps it running.
  await delay(100);
  assertEquals(await roundTrip(conn, "still here"), "still here");
  conn.close();
  // With the connection gone, nothing keeps the program running.
  const status = await within(fixture.status, 5_000);
  assert(status !== "timeout", `still running; output:\n${fixture.output}`);
  assertEquals(status.code, 0, fixture.output);

  // ref() undoes unref(): the program stays until its server is shut down.
  await using kept = new Background(
    Deno.execPath(),
    denoRunArgs(["-N=127.0.0.1"], "tests/fixtures/unref_echo_server.ts", [
      "--ref-again",
    ]),
  );
  const keptPort = Number((await kept.waitFor(/listening on (\d+)/))[1]);
  await kept.waitFor(/ref'd again/);
  await delay(200);
  assertEquals(await within(kept.status, 100), "timeout");
  assertEquals(await sendMessage("ok", { port: keptPort }), "ok");

  // Awaiting shutdown() of an unref'd server still gets its answer.
  await using stopped = new Background(
    Deno.execPath(),
    denoRunArgs(["-N=127.0.0.1"], "tests/fixtures/unref_echo_server.ts", [
      "--shutdown",
    ]),
  );
  assertEquals((await stopped.status).code, 0, stopped.output);
  assertStringIncludes(stopped.output, "shut down");
});

Deno.test("startEchoServer() reports a throwing onConnectionClose to onError, survives a throwing onError, and closes the listener when onListen throws", async () => {
  const errors: unknown[] = [];
  {
    await using server = startEchoServer({
      hostname: LOOPBACK,
      port: 0,
      onConnectionClose: () => {
        throw new Error("log failed");
      },
      onError: (error) => errors.push(error),
    });
    assertEquals(await sendMessage("a", { port: server.addr.port }), "a");
    await waitUntil(() => errors.length === 1, "the hook's error");
    assertEquals((errors[0] as Error).message, "log failed");
  }
  {
    await using server = startEchoServer({
      hostname: LOOPBACK,
      port: 0,
      reply: () => {
        throw new Error("reply failed");
      },
      onError: () => {
        throw new Error("error hook failed");
      },
    });
    // Closed without an answer, each time: the server lives on.
    assertEquals(await sendMessage("a", { port: server.addr.port }), "");
    assertEquals(await sendMessage("b", { port: server.addr.port }), "");
  }
  let port = 0;
  assertThrows(
    () =>
      startEchoServer({
        hostname: LOOPBACK,
        port: 0,
        onListen: (addr) => {
          port = addr.port;
          throw new Error("onListen failed");
        },
      }),
    Error,
    "onListen failed",
  );
  await assertRejects(
    () => Deno.connect({ hostname: LOOPBACK, port }),
    Deno.errors.ConnectionRefused,
  );
});

Deno.test("startEchoServer().shutdown() over TLS delivers everything echoed, then ends in order", async () => {
  await using certs = await makeTestCertificates();
  const { server, closed, errors } = startRecorded({
    cert: certs.cert,
    key: certs.key,
  });
  using conn = await Deno.connectTls({
    hostname: LOOPBACK,
    port: server.addr.port,
    caCerts: [certs.ca],
  });
  await conn.handshake();
  const payload = randomBytes(8 * 1024 * 1024);
  const writing = writeAll(conn, payload).then(() => conn.closeWrite());
  await delay(10);
  const stopped = server.shutdown();
  const received = await readAll(conn);
  // Deno's TLS client refuses to write once it has read the server's
  // close_notify: the rest of its input is not needed anyway.
  await writing.catch((error) =>
    assertInstanceOf(error, Deno.errors.BrokenPipe)
  );
  conn.close();
  await stopped;
  assertEquals(closed.map((info) => info.reason), ["shutdown"]);
  assertEquals(received.length, closed[0]!.bytesOut);
  assertEquals(
    firstDifference(received, payload.subarray(0, received.length)),
    -1,
  );
  assertEquals(errors, []);
});

Deno.test("startEchoServer().shutdown() drops a TLS handshake in progress at once", async () => {
  await using certs = await makeTestCertificates();
  const { server, closed, errors } = startRecorded({
    cert: certs.cert,
    key: certs.key,
  });
  // A plain TCP client that never starts its handshake.
  using silent = await connectTo(server);
  await waitUntil(() => server.stats.openConnections === 1, "the connection");
  const started = performance.now();
  await server.shutdown();
  assertLess(performance.now() - started, 3_000);
  assertEquals(closed.map((info) => info.reason), ["shutdown"]);
  // Deno lets the socket of a TLS connection closed mid-handshake go only
  // once the client sends something; the server does not wait for that.
  await silent.write(new Uint8Array(300));
  assertNotEquals(await silent.read(new Uint8Array(1)), 0);
  assertEquals(errors, []);
});

Deno.test("startEchoServer() in reply mode over TLS answers a message longer than maxMessageSize whole", async () => {
  await using certs = await makeTestCertificates();
  // Sent while the client may still be sending: a write that Deno's TLS
  // client refuses once it has read the server's close_notify is no reset.
  const reply = randomBytes(100);
  const { server, closed, errors } = startRecorded({
    cert: certs.cert,
    key: certs.key,
    reply: () => reply,
  });
  await using _server = server;
  const received = await sendBytes(randomBytes(900_000), {
    port: server.addr.port,
    tls: true,
    caCerts: [certs.ca],
  });
  assertEquals(firstDifference(received, reply), -1);
  await waitUntil(() => closed.length === 1, "the connection to close");
  assertEquals(closed[0]!.reason, "closed");
  assertEquals(errors, []);
});

Deno.test("startEchoServer() in reply mode leaves the message's bytes to the handler, whatever comes after", async () => {
  const kept: Uint8Array[] = [];
  const { server, errors } = startRecorded({
    reply: (_message, { bytes }) => {
      kept.push(bytes);
      return "ok";
    },
  });
  await using _server = server;
  using conn = await connectTo(server);
  await conn.write(encoder.encode("Halo"));
  assertEquals(decoder.decode(await readExactly(conn, 2)), "ok");
  // Read and thrown away by the server after its answer.
  await writeAll(conn, new Uint8Array(5000).fill(0x21));
  await conn.closeWrite();
  assertEquals(await readAll(conn), new Uint8Array());
  await waitUntil(() => server.stats.openConnections === 0, "the close");
  assertEquals(decoder.decode(kept[0]), "Halo");
  assertEquals(errors, []);
});

Deno.test("startEchoServer() in reply mode answers a message split over two writes whole and in order (the second part is read and dropped)", async () => {
  const { server, closed, errors } = startRecorded({
    reply: (message) => `got ${message}`,
  });
  await using _server = server;
  using conn = await connectTo(server);
  await conn.write(encoder.encode("Halo "));
  await waitUntil(() => server.stats.bytesIn === 5, "the first part");
  await delay(20);
  await conn.write(encoder.encode("server!"));
  await delay(50);
  // Reading only now: a server that closed with the second part unread would
  // have reset the connection, taking its answer with it.
  assertEquals(decoder.decode(await readAll(conn)), "got Halo ");
  conn.close();
  await waitUntil(() => closed.length === 1, "the connection to close");
  assertEquals(closed[0]!.reason, "closed");
  assertEquals(errors, []);
});

Deno.test("startEchoServer() in reply mode counts a client that resets while its answer is computed as a reset", async () => {
  const computing = Promise.withResolvers<void>();
  const { server, closed, errors } = startRecorded({
    reply: async () => {
      await computing.promise;
      return "too late";
    },
  });
  await using _server = server;
  await resetClients(server.addr.port, 1, "Halo", false);
  computing.resolve();
  await waitUntil(() => closed.length === 1, "the connection to close");
  assertEquals(closed[0]!.reason, "reset");
  assertEquals(errors, []);
});

Deno.test("startEchoServer() closes a client that stops reading for idleTimeout, even with its echo pending", async () => {
  const { server, closed, errors } = startRecorded({ idleTimeout: 300 });
  await using _server = server;
  const payload = randomBytes(64 << 20);
  using stuck = await connectTo(server);
  // The server ends up blocked writing the echo the client does not read: no
  // progress either way is idleness too. The client's writing then fails.
  const writing = writeAll(stuck, payload).catch((error) => error);
  await waitUntil(() => closed.length === 1, "the idle close", 10_000);
  assertEquals(closed[0]!.reason, "idle-timeout");
  assertGreater(closed[0]!.bytesOut, 0);
  stuck.close();
  await writing;
  assertEquals(errors, []);
});

Deno.test("startEchoServer() in reply mode keeps sending a long reply to a slow reader past idleTimeout, and counts what went out", async () => {
  // More than loopback's socket buffers hold, so the reply trickles out as the
  // client reads: bytes move every 50 ms, for much longer than idleTimeout.
  const reply = randomBytes(16 << 20);
  const { server, closed, errors } = startRecorded({
    idleTimeout: 500,
    reply: () => reply,
  });
  await using _server = server;
  using conn = await connectTo(server);
  await conn.write(encoder.encode("hello"));
  await conn.closeWrite();
  const received = new Uint8Array(reply.length + 1);
  let length = 0;
  const started = performance.now();
  while (true) {
    const n = await conn.read(received.subarray(length, length + (512 << 10)));
    if (n === null) break;
    length += n;
    await delay(50);
  }
  assertGreater(performance.now() - started, 1000, "the reply came too fast");
  assertEquals(length, reply.length);
  assertEquals(firstDifference(received.subarray(0, length), reply), -1);
  await waitUntil(() => closed.length === 1, "the connection to close");
  assertEquals(closed[0]!.reason, "closed");
  assertEquals(closed[0]!.bytesOut, reply.length);
  assertEquals(errors, []);
});

Deno.test("startEchoServer() in reply mode counts the bytes of a reply cut short by the idle timeout", async () => {
  const reply = new Uint8Array(16 << 20);
  const { server, closed } = startRecorded({
    idleTimeout: 200,
    reply: () => reply,
  });
  await using _server = server;
  using conn = await connectTo(server);
  await conn.write(encoder.encode("hello"));
  // Reads a little, then nothing: the server's write blocks until the idle
  // check closes the connection.
  const first = await readExactly(conn, 1000);
  await waitUntil(() => closed.length === 1, "the idle connection to close");
  assertEquals(closed[0]!.reason, "idle-timeout");
  assertGreater(closed[0]!.bytesOut, first.length);
  assertLess(closed[0]!.bytesOut, reply.length);
  assertEquals(server.stats.bytesOut, closed[0]!.bytesOut);
});

Deno.test("startEchoServer() reports an async onConnectionClose's rejection to onError, and ignores an async onError's", async () => {
  // An unhandled rejection would end the whole process, every client with it.
  const errors: unknown[] = [];
  await using logged = startEchoServer({
    hostname: LOOPBACK,
    port: 0,
    onConnectionClose: () => Promise.reject(new Error("log file gone")),
    onError: (error) => void errors.push(error),
  });
  assertEquals(await sendMessage("a", { port: logged.addr.port }), "a");
  await waitUntil(() => errors.length === 1, "the rejection in onError");
  assertEquals((errors[0] as Error).message, "log file gone");

  await using failing = startEchoServer({
    hostname: LOOPBACK,
    port: 0,
    reply: () => {
      throw new Error("reply failed");
    },
    onError: () => Promise.reject(new Error("error log gone")),
  });
  await sendMessage("b", { port: failing.addr.port });
  // The rejection, were it unhandled, would surface within a few turns.
  await delay(50);
  assertEquals(await sendMessage("c", { port: logged.addr.port }), "c");
});
