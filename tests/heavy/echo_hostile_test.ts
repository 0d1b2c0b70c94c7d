// Misbehaving clients must not hurt the others: while 50 of each kind hold
// connections (idle, sending without ever reading, trickling a byte at a time,
// half-closed without reading, resetting mid-message), a normal client's round
// trip stays about as fast as on an idle server, and every connection is
// accounted for afterwards. Heavy: `deno task test:quick` leaves this folder
// out.

import { assertEquals, assertLess } from "@std/assert";
import {
  type CloseReason,
  type EchoServer,
  sendMessage,
  startEchoServer,
} from "../../mod.ts";
import { delay, LOOPBACK, resetClients, waitUntil } from "../_echo_helpers.ts";

const HOSTILE = 50;

/** The median of `count` sequential round trips of a small message, in ms. */
async function medianRoundTrip(port: number, count = 40): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    assertEquals(await sendMessage(`ping ${i}`, { port }), `ping ${i}`);
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(count / 2)]!;
}

/** Opens `count` connections and has each misbehave as `kind` says. */
async function misbehave(
  server: EchoServer,
  kind: "idle" | "write-only" | "trickle" | "half-closed",
  count: number,
  stop: AbortSignal,
): Promise<{ conns: Deno.TcpConn[]; done: Promise<unknown> }> {
  const conns: Deno.TcpConn[] = [];
  const tasks: Promise<unknown>[] = [];
  const chunk = new Uint8Array(64 * 1024);
  for (let i = 0; i < count; i++) {
    const conn = await Deno.connect({
      hostname: LOOPBACK,
      port: server.addr.port,
    });
    conns.push(conn);
    // Every task ends with an error once the test closes its connection.
    if (kind === "write-only") {
      tasks.push(
        (async () => {
          while (!stop.aborted) await conn.write(chunk);
        })().catch(() => {}),
      );
    } else if (kind === "trickle") {
      tasks.push(
        (async () => {
          while (!stop.aborted) {
            await conn.write(new Uint8Array([i]));
            await delay(10);
          }
        })().catch(() => {}),
      );
    } else if (kind === "half-closed") {
      await conn.write(chunk);
      await conn.closeWrite();
    }
  }
  return { conns, done: Promise.all(tasks) };
}

Deno.test("startEchoServer() keeps a normal client's round trip fast while 250 clients misbehave, and accounts for every connection", async () => {
  const reasons: Partial<Record<CloseReason, number>> = {};
  const errors: unknown[] = [];
  const server = startEchoServer({
    hostname: LOOPBACK,
    port: 0,
    onConnectionClose: ({ reason }) => {
      reasons[reason] = (reasons[reason] ?? 0) + 1;
    },
    onError: (error) => errors.push(error),
  });
  await using _server = server;
  const port = server.addr.port;
  // Warms up, then measures the idle server.
  await medianRoundTrip(port, 20);
  const idle = await medianRoundTrip(port);

  const stop = new AbortController();
  const groups = [];
  for (
    const kind of ["idle", "write-only", "trickle", "half-closed"] as const
  ) {
    groups.push(await misbehave(server, kind, HOSTILE, stop.signal));
  }
  const resetting = resetClients(port, HOSTILE, "x".repeat(5000));
  const loaded = await medianRoundTrip(port);
  await resetting;
  // A ratio with a small floor for timer noise, not a wall-clock limit.
  assertLess(
    loaded,
    Math.max(idle * 5, idle + 2),
    `median round trip ${loaded.toFixed(2)} ms under misbehaving clients, ${
      idle.toFixed(2)
    } ms without`,
  );

  stop.abort();
  for (const { conns } of groups) for (const conn of conns) conn.close();
  await Promise.all(groups.map(({ done }) => done));
  await waitUntil(
    () => server.stats.openConnections === 0,
    "every connection to close",
  );
  const normal = 20 + 40 + 40;
  assertEquals(server.stats.connectionsServed, normal + 5 * HOSTILE);
  assertEquals(
    Object.values(reasons).reduce((sum, count) => sum + count, 0),
    normal + 5 * HOSTILE,
  );
  assertEquals(errors, []);
});
