// server.ts's HTTP greeting under many connections at once: a slowloris, a
// load of 2000 requests, and SIGTERM with 100 slow requests in flight. Heavy:
// `deno task test:quick` leaves this folder out.

import {
  assert,
  assertEquals,
  assertGreater,
  assertLess,
  assertStringIncludes,
} from "@std/assert";
import { delay, LOOPBACK, within } from "../_echo_helpers.ts";
import {
  greetingRequest,
  greetOnce,
  RawHttpConnection,
  startGreetingServer,
} from "../_http_helpers.ts";

/** Opens `count` connections, `batch` at a time so the backlog never overflows. */
async function openMany(
  port: number,
  count: number,
  batch = 100,
): Promise<RawHttpConnection[]> {
  const connections: RawHttpConnection[] = [];
  try {
    for (let i = 0; i < count; i += batch) {
      connections.push(
        ...await Promise.all(
          Array.from(
            { length: Math.min(batch, count - i) },
            () => RawHttpConnection.open(port),
          ),
        ),
      );
    }
  } catch (error) {
    for (const connection of connections) connection.close();
    throw error;
  }
  return connections;
}

/** Resolves once connecting to `port` is refused; fails after 5 s. */
async function refused(port: number): Promise<void> {
  const deadline = performance.now() + 5_000;
  while (performance.now() < deadline) {
    try {
      (await Deno.connect({ hostname: LOOPBACK, port })).close();
    } catch (error) {
      if (error instanceof Deno.errors.ConnectionRefused) return;
      // A connection that reached the backlog just as the listener closed is
      // reset: the listener is going away, so look again.
      if (!(error instanceof Deno.errors.ConnectionReset)) throw error;
    }
    await delay(10);
  }
  throw new Error(`port ${port} still accepts connections`);
}

Deno.test("server.ts serves normal clients promptly through a 500-connection slowloris, then answers every stalled request", async () => {
  const { server, port } = await startGreetingServer();
  await using _server = server;
  const stalled = await openMany(port, 500);
  try {
    // Half a request each: the request line and one header, then silence.
    await Promise.all(
      stalled.map((connection, i) =>
        connection.send(
          `GET /?name=slow-${i} HTTP/1.1\r\nHost: ${LOOPBACK}\r\n`,
        )
      ),
    );
    let slowest = 0;
    for (let round = 0; round < 20; round++) {
      const started = performance.now();
      const response = await within(greetOnce(port, `normal ${round}`), 5_000);
      assert(response !== "timeout", `round ${round} timed out`);
      assertEquals(response.body, `Hello, normal ${round}!`);
      slowest = Math.max(slowest, performance.now() - started);
      await delay(20);
    }
    console.log(
      `slowest normal request during the slowloris: ${slowest.toFixed(1)} ms`,
    );
    assertLess(slowest, 500);

    // Each stalled client now finishes its request and gets its greeting.
    const bodies = await Promise.all(stalled.map(async (connection) => {
      await connection.send("Accept: text/plain\r\n\r\n");
      return (await connection.readResponse())?.body;
    }));
    assertEquals(
      bodies,
      stalled.map((_, i) => `Hello, slow-${i}!`),
    );
  } finally {
    for (const connection of stalled) connection.close();
  }
});

Deno.test("server.ts answers 2000 requests from 200 concurrent keep-alive connections, all correct", async () => {
  const { server, port } = await startGreetingServer();
  await using _server = server;
  const connections = await openMany(port, 200);
  const started = performance.now();
  try {
    const answered = await Promise.all(
      connections.map(async (connection, c) => {
        let count = 0;
        for (let r = 0; r < 10; r++) {
          const name = `load ${c}.${r} <&>`;
          await connection.send(greetingRequest(name));
          const response = await connection.readResponse();
          assertEquals(response?.status, 200);
          assertEquals(response?.body, `Hello, ${name}!`);
          count++;
        }
        return count;
      }),
    );
    assertEquals(answered.reduce((a, b) => a + b), 2000);
  } finally {
    for (const connection of connections) connection.close();
  }
  const elapsed = performance.now() - started;
  assertLess(elapsed, 20_000);
  console.log(`2000 requests over 200 connections in ${elapsed.toFixed(0)} ms`);
});

Deno.test("server.ts on SIGTERM finishes 100 slow requests in flight, refuses new connections, exits 0", async () => {
  const { server, port } = await startGreetingServer();
  await using _server = server;
  const bodySize = 20;
  const connections = await openMany(port, 100);
  let lastByteSent = 0;
  let slow: Promise<unknown>[] = [];
  try {
    // Each request's head arrives at once, its body one byte every 50 ms: the
    // request stays in flight for a second, across the SIGTERM.
    slow = connections.map(async (connection, i) => {
      await connection.send(
        greetingRequest(`slow ${i}`, `Content-Length: ${bodySize}\r\n`),
      );
      for (let sent = 0; sent < bodySize; sent++) {
        await delay(50);
        await connection.send("x");
      }
      lastByteSent = Math.max(lastByteSent, performance.now());
      const response = await connection.readResponse();
      return {
        body: response?.body,
        // All of the request was read: the server ends cleanly, no reset.
        end: await within(connection.nextEvent(), 5_000),
      };
    });
    let exitedAt = Infinity;
    const exited = server.child.status.then(() => exitedAt = performance.now());
    await delay(200);
    const signalled = performance.now();
    server.child.kill("SIGTERM");
    await refused(port);
    assertLess(performance.now() - signalled, 1_000);
    await server.waitFor(/SIGTERM received/);

    const results = await Promise.all(slow);
    assertEquals(
      results,
      connections.map((_, i) => ({ body: `Hello, slow ${i}!`, end: "closed" })),
    );
    const status = await server.finished();
    await exited;
    assertEquals(status.code, 0, server.stderr);
    assertStringIncludes(server.stdout, "Server stopped.");
    // It waited for the last request to be complete before exiting.
    assertGreater(exitedAt, lastByteSent);
  } finally {
    for (const connection of connections) connection.close();
    // After a failure above, the clients still running fail on closed sockets.
    await Promise.allSettled(slow);
  }
});

Deno.test("server.ts on SIGTERM gives up on a request that never completes after 6 s, exit 1", async () => {
  const { server, port } = await startGreetingServer();
  await using _server = server;
  using stuck = await RawHttpConnection.open(port);
  // Promises a body it never sends.
  await stuck.send(greetingRequest("stuck", "Content-Length: 100\r\n") + "x");
  assertEquals((await stuck.readResponse())?.body, "Hello, stuck!");
  const signalled = performance.now();
  server.child.kill("SIGTERM");
  const status = await server.finished(15_000);
  const waited = performance.now() - signalled;
  assertEquals(status.code, 1);
  assertGreater(waited, 5_500);
  assertLess(waited, 10_000);
  assertStringIncludes(server.stdout, "SIGTERM received");
  assertEquals(
    server.stderr.trimEnd().split("\n").at(-1),
    "server.ts: Connections still open after 6000 ms: closing them now",
  );
  assertEquals(await within(stuck.nextEvent(), 2_000), "closed");
});
