import {
  assert,
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
  type SendOptions,
  startEchoServer,
} from "../mod.ts";
import { describe, formatHostPort, schedule, writeAll } from "../src/_net.ts";
import { denoRunArgs } from "./_helpers.ts";
import {
  Background,
  delay,
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
  // mid-send: the answer may have lost its end, so it is not one.
  const large = startAnswerer("short answer");
  await assertRejects(
    () => sendMessage("x".repeat(4 * 1024 * 1024), { port: large.port }),
    Deno.errors.ConnectionReset,
    `Cannot read the reply from ${LOOPBACK}:${large.port}: the connection was reset after`,
  );
  await large.served;
});

Deno.test("sendBytes() rejects a reply that ends in a reset, naming the address and the bytes received", async () => {
  // Reads the whole message, sends 100000 bytes, waits until they have
  // arrived, then resets (SO_LINGER 0) instead of closing.
  await using server = new Background("python3", [
    "-u",
    "-c",
    [
      "import socket, struct, time",
      `s = socket.create_server(("${LOOPBACK}", 0))`,
      "print('port', s.getsockname()[1])",
      "c, _ = s.accept()",
      "while c.recv(65536): pass",
      "c.sendall(b'r' * 100000)",
      "time.sleep(0.3)",
      "c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))",
      "c.close()",
    ].join("\n"),
  ]);
  const port = Number((await server.waitFor(/port (\d+)/))[1]);
  const error = await assertRejects(
    () => sendBytes(new Uint8Array(10), { port }),
    Deno.errors.ConnectionReset,
  );
  assertEquals(
    error.message,
    `Cannot read the reply from ${LOOPBACK}:${port}: the connection was reset after 100000 bytes`,
  );
});

Deno.test("sendMessage() talks to the seed's Python server", async () => {
  await using python = await SeedServer.start();
  assertEquals(
    await sendMessage("Halo server!", { port: python.port }),
    "Pesan diterima server",
  );
  await python.waitFor(/Pesan dari client: Halo server!/);
});

Deno.test("sendMessage() names the address, and no program, when the connection is refused", async () => {
  const port = freePort();
  const error = await assertRejects(
    () => sendMessage("hello", { port }),
    Deno.errors.ConnectionRefused,
  );
  assertEquals(
    error.message,
    `Cannot connect to ${LOOPBACK}:${port}: connection refused`,
  );
  assertInstanceOf(error.cause, Deno.errors.ConnectionRefused);
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
  assertEquals(
    error.message,
    `Cannot get a reply from ${LOOPBACK}:${listener.addr.port}: timed out after 150 ms`,
  );
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
  );
  assertEquals(
    error.message,
    `Cannot read the reply from ${LOOPBACK}:${port}: it is longer than 1000 bytes`,
  );
  assertInstanceOf(error, RangeError);
  assertEquals(error.limit, 1000);
  assertEquals(error.address, `${LOOPBACK}:${port}`);

  const cause = new Error("underlying");
  const made = new ResponseTooLargeError("[::1]:7", 5, { cause });
  assertEquals(
    [made.name, made.address, made.limit, made.cause],
    ["ResponseTooLargeError", "[::1]:7", 5, cause],
  );
});

Deno.test("sendMessage() takes Infinity and timeouts past 2**31 - 1 ms as long waits, not as none", async () => {
  // Answers after 100 ms: a timer given an overflowing delay fires at once.
  await using server = startEchoServer({
    hostname: LOOPBACK,
    port: 0,
    reply: async () => {
      await delay(100);
      return "late";
    },
  });
  const port = server.addr.port;
  for (const timeout of [Infinity, 2 ** 31, 2 ** 40, 0]) {
    assertEquals(
      await sendMessage("?", { port, timeout }),
      "late",
      `${timeout}`,
    );
  }
});

Deno.test("schedule() never hands a timer more than 2**31 - 1 ms", () => {
  const delays: number[] = [];
  const callbacks: (() => void)[] = [];
  const realSetTimeout = globalThis.setTimeout;
  const realClearTimeout = globalThis.clearTimeout;
  let fired = 0;
  // A stand-in clock: records each timer, runs none until told.
  globalThis.setTimeout = ((callback: () => void, ms: number) => {
    delays.push(ms);
    callbacks.push(callback);
    return callbacks.length;
  }) as unknown as typeof setTimeout;
  globalThis.clearTimeout = (() => {}) as unknown as typeof clearTimeout;
  try {
    schedule(() => fired++, Infinity)();
    assertEquals(delays, []);
    schedule(() => fired++, 2 ** 32 + 10);
    for (let i = 0; i < 3; i++) callbacks[i]!();
    assertEquals(delays, [2 ** 31 - 1, 2 ** 31 - 1, 12]);
    assertEquals(fired, 1);
  } finally {
    globalThis.setTimeout = realSetTimeout;
    globalThis.clearTimeout = realClearTimeout;
  }
});

Deno.test("sendMessage() and sendBytes() check every option before connecting", async () => {
  const cases: [SendOptions, typeof RangeError | typeof TypeError, string][] = [
    [
      { port: 0 },
      RangeError,
      "port must be a whole number from 1 to 65535, got 0",
    ],
    [{ port: 70000 }, RangeError, "got 70000"],
    [{ port: 1.5 }, RangeError, "got 1.5"],
    [
      { port: NaN },
      RangeError,
      "port must be a whole number from 1 to 65535, got NaN",
    ],
    [
      { port: "80" as unknown as number },
      TypeError,
      'port must be a whole number from 1 to 65535, got "80"',
    ],
    [
      { timeout: -1 },
      RangeError,
      "timeout must be a non-negative number or Infinity, got -1",
    ],
    [
      { timeout: NaN },
      RangeError,
      "timeout must be a non-negative number or Infinity, got NaN",
    ],
    [
      { maxResponseSize: NaN },
      RangeError,
      "maxResponseSize must be a non-negative whole number or Infinity, got NaN",
    ],
    [{ maxResponseSize: -1 }, RangeError, "got -1"],
    [{ maxResponseSize: 0.5 }, RangeError, "got 0.5"],
    [
      { hostname: 127 as unknown as string },
      TypeError,
      "hostname must be a non-empty string, got 127",
    ],
    [
      { tls: "yes" as unknown as boolean },
      TypeError,
      'tls must be a boolean, got "yes"',
    ],
    [
      { signal: {} as AbortSignal },
      TypeError,
      "signal must be an AbortSignal, got Object",
    ],
    [
      { tls: true, caCerts: "ca.pem" as unknown as string[] },
      TypeError,
      'caCerts must be an array of PEM certificates, got "ca.pem"',
    ],
  ];
  for (const [options, ErrorClass, message] of cases) {
    const error = await assertRejects(
      () => sendMessage("x", options),
      ErrorClass,
      message,
    );
    assertStringIncludes(error.message, "Cannot send the message: ");
  }
  await assertRejects(
    () => sendMessage("x", { hostname: "" }),
    TypeError,
    'Cannot send the message: hostname must be a non-empty string, got ""',
  );
  await assertRejects(
    () => sendMessage("x", null as unknown as SendOptions),
    TypeError,
    "Cannot send the message: options must be an object, got null",
  );
  await assertRejects(
    () => sendBytes(new ArrayBuffer(3) as unknown as Uint8Array),
    TypeError,
    "Cannot send the message: the message must be a string or a Uint8Array, got ArrayBuffer",
  );
});

Deno.test("sendBytes() with maxResponseSize 0 or Infinity takes an empty or any reply", async () => {
  await using server = startEchoServer({ hostname: LOOPBACK, port: 0 });
  const port = server.addr.port;
  assertEquals(
    await sendBytes("", { port, maxResponseSize: 0 }),
    new Uint8Array(),
  );
  await assertRejects(
    () => sendBytes("x", { port, maxResponseSize: 0 }),
    ResponseTooLargeError,
  );
  const payload = randomBytes(3 << 20);
  const reply = await sendBytes(payload, { port, maxResponseSize: Infinity });
  assertEquals(firstDifference(reply, payload), -1);
});

Deno.test("startEchoServer() and sendMessage() name the hostname option when no address could have that name", async () => {
  const names = ["a b", "127.0.0.1\n", "x".repeat(300)];
  const output = await new Deno.Command(Deno.execPath(), {
    args: denoRunArgs(["-N"], "tests/fixtures/bad_hostname.ts", names),
    stdin: "null",
  }).output();
  assert(output.success, new TextDecoder().decode(output.stderr));
  const lines = new TextDecoder().decode(output.stdout).trim().split("\n");
  assertEquals(
    lines.map((line) => JSON.parse(line)),
    names.flatMap((hostname) =>
      ["Cannot start the echo server", "Cannot send the message"].map(
        (context) => ({
          hostname,
          type: "TypeError",
          message:
            `${context}: hostname must be a host name or IP address, got ${
              describe(hostname)
            }`,
        }),
      )
    ),
  );
});

Deno.test("formatHostPort() brackets an IPv6 host once, given bare or in brackets as in a URL", () => {
  assertEquals(formatHostPort("127.0.0.1", 7), "127.0.0.1:7");
  assertEquals(formatHostPort("::1", 7), "[::1]:7");
  // Deno takes "[::1]" too; messages said "[[::1]]:7", and --hostname [::1]
  // was refused as no host name at all.
  assertEquals(formatHostPort("[::1]", 7), "[::1]:7");
});
