// server.ts's HTTP greeting under hostile input, over raw loopback sockets:
// junk request lines, oversized URLs and headers, requests cut off mid-way.
// After each, a normal client must be served promptly. The slowloris, load and
// shutdown cases are in tests/heavy/http_load_test.ts.

import { assert, assertEquals, assertLess } from "@std/assert";
import { randomBytes, within } from "./_echo_helpers.ts";
import {
  greetingRequest,
  greetOnce,
  RawHttpConnection,
  type RawResponse,
  startGreetingServer,
} from "./_http_helpers.ts";

/**
 * Sends `data`, ends the input, and returns the answer: a response or a close
 * without one. Fails on 5xx, on a hang, and on a server that keeps the socket
 * open after input ended.
 */
async function sendAbuse(
  port: number,
  data: string | Uint8Array,
): Promise<RawResponse | null> {
  using connection = await RawHttpConnection.open(port);
  await connection.send(data);
  await connection.conn.closeWrite();
  const answer = await within(connection.readResponse(), 5_000);
  assert(answer !== "timeout", `no answer to ${describe(data)}`);
  if (answer !== null) {
    assert(
      answer.status >= 200 && answer.status < 500,
      `${answer.status} for ${describe(data)}`,
    );
  }
  return answer;
}

function describe(data: string | Uint8Array): string {
  const text = typeof data === "string" ? data : `${data.length} bytes`;
  return JSON.stringify(text.slice(0, 60));
}

/** A normal client is answered, and quickly. */
async function assertStillServing(port: number, name: string): Promise<void> {
  const started = performance.now();
  const response = await within(greetOnce(port, name), 5_000);
  assert(response !== "timeout", `no greeting for ${name}`);
  assertEquals(response.status, 200);
  assertEquals(response.body, `Hello, ${name}!`);
  assertLess(performance.now() - started, 1_000);
}

Deno.test("server.ts answers junk request lines with 400 or a close, and keeps serving", async () => {
  const { server, port } = await startGreetingServer();
  await using _server = server;
  const junk: (string | Uint8Array)[] = [
    "HELLO\r\n\r\n",
    "GET\r\n\r\n",
    "GET / HTTP/9.9\r\n\r\n",
    "GET / HTTP/1.1\r\nno colon here\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
    "G\x00T / HTTP/1.1\r\n\r\n",
    "GET /\x7f HTTP/1.1\r\n\r\n",
    "\r\n\r\n\r\n",
    // The start of a TLS ClientHello, as from `curl https://...` on the port.
    new Uint8Array([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc]),
    randomBytes(4096),
  ];
  for (const [i, data] of junk.entries()) {
    const answer = await sendAbuse(port, data);
    if (answer !== null) {
      assertEquals(answer.status, 400, describe(data));
    }
    await assertStillServing(port, `after junk ${i}`);
  }
});

Deno.test("server.ts answers a 64 KiB URL and a long name with 4xx", async () => {
  const { server, port } = await startGreetingServer();
  await using _server = server;
  // Over the 65534-byte URI limit of Deno's HTTP parser.
  const huge = await sendAbuse(
    port,
    greetingRequest("a".repeat(64 * 1024), "Connection: close\r\n"),
  );
  assert(huge !== null && huge.status >= 400, `got ${huge?.status}`);
  await assertStillServing(port, "after 64 KiB");
  // Under it: the handler's own name limit answers.
  const long = await sendAbuse(
    port,
    greetingRequest("b".repeat(60_000), "Connection: close\r\n"),
  );
  assertEquals(long?.status, 400);
  assertEquals(
    long?.body,
    "Bad Request: the name is longer than 256 characters\n",
  );
  await assertStillServing(port, "after 60 000");
});

Deno.test("server.ts greets through 8 KiB of headers, in one header or many", async () => {
  const { server, port } = await startGreetingServer();
  await using _server = server;
  const one = `X-Big: ${"b".repeat(8 * 1024)}\r\n`;
  const many = Array.from(
    { length: 64 },
    (_, i) => `X-Header-${i}: ${"h".repeat(120)}\r\n`,
  ).join("");
  assert(many.length >= 8 * 1024);
  for (const [label, headers] of [["one", one], ["many", many]]) {
    using connection = await RawHttpConnection.open(port);
    await connection.send(greetingRequest(`8k ${label}`, headers));
    const response = await connection.readResponse();
    assertEquals(response?.status, 200);
    assertEquals(response?.body, `Hello, 8k ${label}!`);
  }
  await assertStillServing(port, "after 8 KiB");
});

Deno.test("server.ts shrugs off requests cut off mid-headers, by a close or a reset", async () => {
  const { server, port } = await startGreetingServer();
  await using _server = server;
  const half = "GET /?name=cut HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Partial: abc";
  // End of input in the middle of the head: nothing to answer, or a 400.
  const answer = await sendAbuse(port, half);
  if (answer !== null) assertEquals(answer.status, 400);
  await assertStillServing(port, "after half");

  // Abrupt closes with the half request unread by the server.
  for (let i = 0; i < 20; i++) {
    const connection = await RawHttpConnection.open(port);
    await connection.send(half);
    connection.close();
  }
  await assertStillServing(port, "after closes");

  // A keep-alive connection that answers one request, then is cut off in the
  // middle of the next one.
  using connection = await RawHttpConnection.open(port);
  await connection.send(greetingRequest("first") + half);
  assertEquals((await connection.readResponse())?.body, "Hello, first!");
  await connection.conn.closeWrite();
  assertEquals(await within(connection.nextEvent(), 5_000), "closed");
  await assertStillServing(port, "after keep-alive cut");
});

Deno.test("server.ts answers hostile Accept and Host headers with 2xx or 4xx, and keeps serving", async () => {
  const { server, port } = await startGreetingServer();
  await using _server = server;
  const size = 8 * 1024;
  const accepts = [
    ",".repeat(size),
    `a/b${";".repeat(size)}`,
    "a/b;q=1,".repeat(size / 8),
    `a/b;c="${",".repeat(size)}`,
    `text/plain${";charset=utf-8".repeat(size / 14)}`,
    "text/plain;charset=utf-8;q=0.5",
  ];
  for (const accept of accepts) {
    const answer = await sendAbuse(
      port,
      `GET /?name=x HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: ${accept}\r\nConnection: close\r\n\r\n`,
    );
    assert(
      answer !== null && (answer.status === 200 || answer.status === 406),
      `${answer?.status} for Accept ${describe(accept)}`,
    );
  }
  await assertStillServing(port, "after Accept");
  // Deno.serve builds request.url from the Host header as sent.
  for (const host of ["a/b", "a?name=Evil", "a#x", "x@y", "a\\b", "[::1"]) {
    await sendAbuse(
      port,
      `GET /?name=x HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
    );
  }
  await assertStillServing(port, "after Host");
});
