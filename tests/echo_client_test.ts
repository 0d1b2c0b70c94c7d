import {
  assertEquals,
  assertGreater,
  assertInstanceOf,
  assertLess,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import {
  ResponseTooLargeError,
  sendBytes,
  sendMessage,
  startEchoServer,
} from "../mod.ts";
import { writeAll } from "../src/_net.ts";
import {
  firstDifference,
  freePort,
  LOOPBACK,
  randomBytes,
  SeedServer,
} from "./_echo_helpers.ts";

const encoder = new TextEncoder();

/**
 * A server that, like the seed's Python one, reads once, answers and closes
 * without waiting for the end of the input. Serves one connection.
 */
function startAnswerer(answer: string): {
  port: number;
  served: Promise<string>;
} {
  const listener = Deno.listen({ hostname: LOOPBACK, port: 0 });
  const served = (async () => {
    try {
      using conn = await listener.accept();
      const buffer = new Uint8Array(1024);
      const n = await conn.read(buffer);
      await writeAll(conn, encoder.encode(answer));
      return new TextDecoder().decode(buffer.subarray(0, n ?? 0));
    } finally {
      listener.close();
    }
  })();
  return { port: listener.addr.port, served };
}

Deno.test("sendMessage() gets the echo of its message", async () => {
  await using server = startEchoServer({ hostname: LOOPBACK, port: 0 });
  const options = { port: server.addr.port };
  assertEquals(await sendMessage("Halo server!", options), "Halo server!");
  assertEquals(await sendMessage("", options), "");
  assertEquals(
    await sendMessage(encoder.encode("bytes ✓"), options),
    "bytes ✓",
  );
});

Deno.test("sendBytes() sends and receives megabytes at once through an echo server", async () => {
  await using server = startEchoServer({ hostname: LOOPBACK, port: 0 });
  const payload = randomBytes(8 * 1024 * 1024);
  const reply = await sendBytes(payload, {
    port: server.addr.port,
    maxResponseSize: payload.length,
  });
  assertEquals(reply.length, payload.length);
  assertEquals(firstDifference(reply, payload), -1);
});

Deno.test("sendMessage() takes the reply of a server that answers without waiting for the end of input", async () => {
  const small = startAnswerer("Pesan diterima server");
  assertEquals(
    await sendMessage("Halo server!", { port: small.port }),
    "Pesan diterima server",
  );
  assertEquals(await small.served, "Halo server!");

  // The server closes with most of this unread, which resets the connection
  // mid-send.
  const large = startAnswerer("short answer");
  assertEquals(
    await sendMessage("x".repeat(4 * 1024 * 1024), { port: large.port }),
    "short answer",
  );
  await large.served;
});

Deno.test("sendMessage() talks to the seed's Python server", async () => {
  await using python = await SeedServer.start();
  assertEquals(
    await sendMessage("Halo server!", { port: python.port }),
    "Pesan diterima server",
  );
  await python.waitFor(/Pesan dari client: Halo server!/);
});

Deno.test("sendMessage() names the address and server.ts when the connection is refused", async () => {
  const port = freePort();
  const error = await assertRejects(
    () => sendMessage("hello", { port }),
    Deno.errors.ConnectionRefused,
  );
  assertStringIncludes(error.message, `${LOOPBACK}:${port}`);
  assertStringIncludes(error.message, "server.ts");
});

Deno.test("sendMessage() times out on a server that never answers", async () => {
  using listener = Deno.listen({ hostname: LOOPBACK, port: 0 });
  const accepted = listener.accept();
  const started = performance.now();
  const error = await assertRejects(
    () => sendMessage("hello", { port: listener.addr.port, timeout: 150 }),
    Deno.errors.TimedOut,
  );
  const elapsed = performance.now() - started;
  assertStringIncludes(error.message, `${LOOPBACK}:${listener.addr.port}`);
  assertGreater(elapsed, 140);
  assertLess(elapsed, 2_000);
  (await accepted).close();
});

Deno.test("sendMessage() rejects with the signal's reason when aborted", async () => {
  using listener = Deno.listen({ hostname: LOOPBACK, port: 0 });
  const accepted = listener.accept();
  const controller = new AbortController();
  const reason = new Error("no longer needed");
  const sending = sendMessage("hello", {
    port: listener.addr.port,
    signal: controller.signal,
  });
  using _accepted = await accepted;
  controller.abort(reason);
  assertEquals(await sending.catch((error) => error), reason);

  await assertRejects(
    () => sendMessage("hello", { signal: AbortSignal.abort(reason) }),
    Error,
    "no longer needed",
  );
});

Deno.test("sendMessage() rejects a reply longer than maxResponseSize", async () => {
  await using server = startEchoServer({ hostname: LOOPBACK, port: 0 });
  const port = server.addr.port;
  assertEquals(
    await sendMessage("x".repeat(1000), { port, maxResponseSize: 1000 }),
    "x".repeat(1000),
  );
  const error = await assertRejects(
    () => sendMessage("x".repeat(50_000), { port, maxResponseSize: 1000 }),
    ResponseTooLargeError,
    "longer than 1000 bytes",
  );
  assertInstanceOf(error, RangeError);
  assertEquals(error.limit, 1000);
});
