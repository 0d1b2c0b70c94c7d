// Every way the executables can be started wrong or fail at run time ends the
// same way: the documented exit code (2 for bad usage, 1 for a failure), one
// clear line on stderr naming the problem, and no stack trace. Cases already in
// server_cli_test.ts and client_cli_test.ts are not repeated here.

import {
  assert,
  assertEquals,
  assertNotMatch,
  assertStringIncludes,
} from "@std/assert";
import { createGreetingHandler, startEchoServer } from "../mod.ts";
import { denoRunArgs, type Finished, runDeno } from "./_helpers.ts";
import { freePort, LOOPBACK } from "./_echo_helpers.ts";

type Program = "server.ts" | "client.ts";

function run(
  program: Program,
  args: string[],
  options: { permissions?: string[]; stdin?: string } = {},
): Promise<Finished> {
  return runDeno(options.permissions ?? ["-N"], program, args, {
    ...(options.stdin === undefined ? {} : { stdin: options.stdin }),
  });
}

function assertNoStackTrace(result: Finished): void {
  assertNotMatch(result.stderr, /^\s+at /m);
  assertNotMatch(result.stderr, /error: Uncaught/);
}

/** Exit 2: the message as the first line, then the usage. */
function assertUsageError(
  result: Finished,
  program: Program,
  message: string,
): void {
  assertEquals(result.code, 2, result.stderr);
  assertEquals(result.stdout, "");
  assertNoStackTrace(result);
  const [first, blank, usage] = result.stderr.split("\n");
  assertEquals(first, `${program}: ${message}`);
  assertEquals(blank, "");
  assert(usage?.startsWith("Usage:"), result.stderr);
}

/** Exit 1 and exactly one line on stderr, holding every one of `parts`. */
function assertFailure(
  result: Finished,
  program: Program,
  ...parts: string[]
): void {
  assertEquals(result.code, 1, result.stderr);
  assertEquals(result.stdout, "");
  assertNoStackTrace(result);
  const lines = result.stderr.trimEnd().split("\n");
  assertEquals(lines.length, 1, result.stderr);
  assert(lines[0]!.startsWith(`${program}: `), result.stderr);
  for (const part of parts) {
    assert(lines[0]!.includes(part), `"${part}" missing from: ${lines[0]}`);
  }
}

/** Runs the cases a few at a time: the machine has two cores. */
async function inBatches<T>(
  cases: T[],
  check: (testCase: T) => Promise<void>,
): Promise<void> {
  for (let i = 0; i < cases.length; i += 4) {
    await Promise.all(cases.slice(i, i + 4).map(check));
  }
}

Deno.test("server.ts: every flag with a bad value names the flag and the value, exit 2", async () => {
  const cases: [string[], string][] = [
    [["--hostname"], "--hostname needs a value"],
    [["--hostname="], "--hostname needs a value"],
    [["--reply"], "--reply needs a value"],
    [
      ["--http-port", "-1"],
      '--http-port must be a whole number from 0 to 65535, got "-1"',
    ],
    [
      ["--echo-port", "0x10"],
      '--echo-port must be a whole number from 0 to 65535, got "0x10"',
    ],
    [
      ["--max-connections", "1000001"],
      '--max-connections must be a whole number from 1 to 1000000, got "1000001"',
    ],
    [
      ["--idle-timeout", "-5"],
      '--idle-timeout must be a whole number from 0 to 86400000, got "-5"',
    ],
    [
      ["--idle-timeout", "1.5"],
      '--idle-timeout must be a whole number from 0 to 86400000, got "1.5"',
    ],
    [["--http-port", ""], "--http-port needs a value"],
    [
      ["--hostname", "a b"],
      '--hostname must be a host name or IP address, got "a b"',
    ],
    [
      ["--hostname", "999.1.1.1"],
      '--hostname must be a host name or IP address, got "999.1.1.1"',
    ],
    // URL.parse drops tabs and newlines; Deno's listen then failed with its
    // own two-line message, exit 1.
    [
      ["--hostname", "127.0.0.1\n"],
      '--hostname must be a host name or IP address, got "127.0.0.1\\n"',
    ],
    [
      ["--echo-port", "99999999999999999999"],
      '--echo-port must be a whole number from 0 to 65535, got "99999999999999999999"',
    ],
    [
      ["--max-connections", "NaN"],
      '--max-connections must be a whole number from 1 to 1000000, got "NaN"',
    ],
    // Two ports, so no -p.
    [["-p", "8000"], "Unknown option: -p"],
    [["-x"], "Unknown option: -x"],
    // A value for a half that does not run would be silently ignored.
    [["--no-echo", "--reply", "ok"], "--reply does not apply with --no-echo"],
    [
      ["--no-echo", "--max-connections", "5"],
      "--max-connections does not apply with --no-echo",
    ],
    [
      ["--no-http", "--http-port", "0"],
      "--http-port does not apply with --no-http",
    ],
  ];
  await inBatches(cases, async ([args, message]) => {
    assertUsageError(await run("server.ts", args), "server.ts", message);
  });
});

Deno.test("server.ts: an address it cannot listen on, exit 1 with one line naming it", async () => {
  const cases: [string[], string[]][] = [
    [
      ["--hostname", "nonexistent.invalid", "--http-port", "0"],
      ["Cannot listen on http://nonexistent.invalid:0/"],
    ],
    [
      ["--hostname", "nonexistent.invalid", "--no-http", "--echo-port", "0"],
      ["Cannot listen on tcp://nonexistent.invalid:0"],
    ],
    // TEST-NET-1: never an address of this machine.
    [
      ["--hostname", "192.0.2.1", "--http-port", "0"],
      ["http://192.0.2.1:0/", "is not an address of this machine"],
    ],
    [
      ["--hostname", "192.0.2.1", "--no-http", "--echo-port", "0"],
      ["tcp://192.0.2.1:0", "is not an address of this machine"],
    ],
  ];
  await inBatches(cases, async ([args, parts]) => {
    assertFailure(await run("server.ts", args), "server.ts", ...parts);
  });
});

Deno.test("server.ts and client.ts with network access for another host only name the grant to add, exit 1", async () => {
  const permissions = ["--allow-net=192.0.2.1"];
  const [server, client, greet] = await Promise.all([
    run("server.ts", ["--hostname", LOOPBACK, "--http-port", "0"], {
      permissions,
    }),
    run("client.ts", ["--port", "1"], { permissions }),
    run("client.ts", ["greet", "--url", "http://localhost:8000/"], {
      permissions,
    }),
  ]);
  assertFailure(
    server,
    "server.ts",
    `Cannot listen on ${LOOPBACK}:0 and ${LOOPBACK}:12345: network permission is missing: run with -N or --allow-net=${LOOPBACK}:0,${LOOPBACK}:12345`,
  );
  assertFailure(
    client,
    "client.ts",
    `Cannot connect to ${LOOPBACK}:1: network permission is missing: run with -N or --allow-net=${LOOPBACK}:1`,
  );
  assertFailure(
    greet,
    "client.ts",
    "Cannot connect to localhost:8000: network permission is missing: run with -N or --allow-net=localhost:8000",
  );
});

Deno.test("client.ts: every flag with a bad value names the flag and the value, exit 2", async () => {
  const cases: [string[], string][] = [
    [["--hostname"], "--hostname needs a value"],
    [
      ["--port", "-1"],
      '--port must be a whole number from 1 to 65535, got "-1"',
    ],
    [
      ["--port", "abc"],
      '--port must be a whole number from 1 to 65535, got "abc"',
    ],
    // A client cannot connect to port 0.
    [
      ["--port", "0", "x"],
      '--port must be a whole number from 1 to 65535, got "0"',
    ],
    [["-p", "0"], '--port must be a whole number from 1 to 65535, got "0"'],
    [["-p", "-5"], '--port must be a whole number from 1 to 65535, got "-5"'],
    [["--port", ""], "--port needs a value"],
    [
      ["--port", "1e3"],
      '--port must be a whole number from 1 to 65535, got "1e3"',
    ],
    [
      ["--port", "99999999999999999999"],
      '--port must be a whole number from 1 to 65535, got "99999999999999999999"',
    ],
    [
      ["--timeout", "NaN"],
      '--timeout must be a whole number from 0 to 2147483647, got "NaN"',
    ],
    // The shell split an unquoted message into words.
    [
      ["Halo", "server!"],
      'Too many arguments: Halo server! (quote a text with spaces: "Halo server!")',
    ],
    [
      ["--timeout", "-1"],
      '--timeout must be a whole number from 0 to 2147483647, got "-1"',
    ],
    [
      ["--timeout", "2147483648"],
      '--timeout must be a whole number from 0 to 2147483647, got "2147483648"',
    ],
    [["greet", "--url"], "--url needs a value"],
    [
      ["greet", "--url", "not a url"],
      '--url must be an http or https URL, got "not a url"',
    ],
    [
      ["echo", "a", "b"],
      'Too many arguments: a b (quote a text with spaces: "a b")',
    ],
    [
      ["greet", "a", "b"],
      'Too many arguments: a b (quote a text with spaces: "a b")',
    ],
    [["-x"], "Unknown option: -x"],
    [["--no-tls"], "Unknown option: --no-tls"],
    [
      ["--hostname", "a b"],
      '--hostname must be a host name or IP address, got "a b"',
    ],
    [
      ["--hostname", "127.0.0.1\t"],
      '--hostname must be a host name or IP address, got "127.0.0.1\\t"',
    ],
    [["echo", "--url", "http://x/"], "--url does not apply to echo"],
  ];
  await inBatches(cases, async ([args, message]) => {
    assertUsageError(await run("client.ts", args), "client.ts", message);
  });
});

Deno.test("client.ts: a host name that does not resolve, exit 1 with one line naming it", async () => {
  const [echo, greet] = await Promise.all([
    run("client.ts", ["--hostname", "nonexistent.invalid", "--port", "9"]),
    run("client.ts", ["greet", "--url", "http://nonexistent.invalid:9/"]),
  ]);
  assertFailure(echo, "client.ts", "nonexistent.invalid:9");
  assertFailure(greet, "client.ts", "nonexistent.invalid:9");
});

Deno.test("client.ts greet: an error status, a timeout, exit 1 with one line", async () => {
  await using server = Deno.serve(
    { hostname: LOOPBACK, port: 0, onListen() {} },
    createGreetingHandler(),
  );
  const base = `http://${LOOPBACK}:${server.addr.port}`;
  // Accepts, never answers.
  using silent = Deno.listen({ hostname: LOOPBACK, port: 0 });
  const accepted = silent.accept();
  const [missing, tooLong, slow] = await Promise.all([
    run("client.ts", ["greet", "--url", `${base}/missing`]),
    run("client.ts", ["greet", "x".repeat(300), "--url", `${base}/`]),
    run("client.ts", [
      "greet",
      "--url",
      `http://${LOOPBACK}:${silent.addr.port}/`,
      "--timeout",
      "300",
    ]),
  ]);
  (await accepted).close();
  assertFailure(missing, "client.ts", "answered 404 Not Found");
  assertFailure(
    tooLong,
    "client.ts",
    "answered 400 Bad Request",
    "longer than 256 characters",
  );
  assertFailure(slow, "client.ts", `${LOOPBACK}:${silent.addr.port}`, "300 ms");
});

Deno.test("client.ts greet: a name too long for a URL, exit 1 with one readable line", async () => {
  // fetch takes no URL over 64 KiB, and quotes the whole URL in its error.
  const port = freePort();
  const result = await run("client.ts", [
    "greet",
    "n".repeat(70_000),
    "--url",
    `http://${LOOPBACK}:${port}/`,
  ]);
  assertFailure(result, "client.ts", `Cannot reach ${LOOPBACK}:${port}: `, "…");
  assert(result.stderr.length < 1100, `${result.stderr.length} characters`);
});

Deno.test("client.ts greet: a greeting over 1 MiB, even one that never ends, exit 1 with one line", async () => {
  let sent = 0;
  await using server = Deno.serve(
    { hostname: LOOPBACK, port: 0, onListen() {} },
    () =>
      new Response(
        new ReadableStream({
          pull(controller) {
            // Bounded: 64 MiB at most, far past the limit.
            if (sent >= 64 << 20) return controller.close();
            sent += 64 * 1024;
            controller.enqueue(new Uint8Array(64 * 1024).fill(0x61));
          },
        }),
      ),
  );
  const result = await run("client.ts", [
    "greet",
    "--url",
    `http://${LOOPBACK}:${server.addr.port}/`,
    "--timeout",
    "0",
  ]);
  assertFailure(
    result,
    "client.ts",
    `Cannot read the greeting from ${LOOPBACK}:${server.addr.port}: it is longer than 1048576 bytes`,
  );
  assert(sent < 64 << 20, `${sent} bytes sent`);
});

Deno.test("client.ts: a reply over the 1 MiB limit, exit 1 with one line", async () => {
  await using server = startEchoServer({
    hostname: LOOPBACK,
    port: 0,
    reply: () => "x".repeat(1024 * 1024 + 1),
  });
  const result = await run("client.ts", ["--port", String(server.addr.port)]);
  assertFailure(
    result,
    "client.ts",
    `Cannot read the reply from ${LOOPBACK}:${server.addr.port}: it is longer than 1048576 bytes`,
  );
});

Deno.test("client.ts: standard input over 1 MiB is refused before anything is sent, even if it never ends", async () => {
  await using server = startEchoServer({ hostname: LOOPBACK, port: 0 });
  const result = await run("client.ts", ["--port", String(server.addr.port)], {
    stdin: "x".repeat(1024 * 1024 + 1),
  });
  assertFailure(
    result,
    "client.ts",
    "Cannot send standard input: it is longer than 1048576 bytes, the most a reply can be",
  );
  assertEquals(server.stats.bytesIn, 0);

  // As `yes | client.ts`: stdin that never ends.
  const child = new Deno.Command(Deno.execPath(), {
    args: denoRunArgs(["-N"], "client.ts", [
      "--port",
      String(server.addr.port),
    ]),
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  const feeding = (async () => {
    const chunk = new TextEncoder().encode("y\n".repeat(32 * 1024));
    // Bounded: 64 MiB at most, far past the limit.
    for (let i = 0; i < 1024; i++) await writer.write(chunk);
  })().catch(() => "stopped");
  const fed = await feeding;
  await writer.close().catch(() => {});
  const output = await child.output();
  assertEquals(fed, "stopped");
  assertEquals(output.code, 1);
  assertStringIncludes(
    new TextDecoder().decode(output.stderr),
    "Cannot send standard input: it is longer than 1048576 bytes",
  );
});

Deno.test("server.ts --cert and client.ts --ca: a file far too big for PEM is refused, not read whole", async () => {
  // Certificates are a few KiB; a wrong file (a disk image, /dev/zero) must
  // not be read into memory to its end.
  const big = await Deno.makeTempFile({ suffix: ".pem" });
  try {
    await Deno.writeTextFile(big, "x".repeat(2 << 20));
    const permissions = ["-N", "-R"];
    const [server, client] = await Promise.all([
      run("server.ts", ["--cert", big, "--key", big, "--http-port", "0"], {
        permissions,
      }),
      run("client.ts", ["--tls", "--ca", big, "x"], { permissions }),
    ]);
    assertFailure(server, "server.ts", `--cert ${big}`, "longer than");
    assertFailure(client, "client.ts", `--ca ${big}`, "longer than");
  } finally {
    await Deno.remove(big);
  }
});

Deno.test({
  name:
    `server.ts --cert and client.ts --ca: a named pipe or a folder is refused, not waited on${
      Deno.build.os === "windows" ? " (ignored: no mkfifo on Windows)" : ""
    }`,
  ignore: Deno.build.os === "windows",
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      // Opening a named pipe nobody writes to waits forever.
      const fifo = `${dir}/ca.pem`;
      const made = await new Deno.Command("mkfifo", { args: [fifo] }).output();
      assert(made.success);
      const permissions = ["-N", "-R"];
      const options = { permissions, timeoutMs: 10_000 };
      const [server, client, folder] = await Promise.all([
        run("server.ts", ["--cert", fifo, "--key", fifo, "--http-port", "0"], {
          permissions,
        }),
        run("client.ts", ["--tls", "--ca", fifo, "x"], options),
        run("client.ts", ["--tls", "--ca", dir, "x"], options),
      ]);
      assertFailure(
        server,
        "server.ts",
        `Cannot read --cert ${fifo}: it is a pipe, not a file`,
      );
      assertFailure(
        client,
        "client.ts",
        `Cannot read --ca ${fifo}: it is a pipe, not a file`,
      );
      assertFailure(
        folder,
        "client.ts",
        `Cannot read --ca ${dir}: it is a folder, not a file`,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
