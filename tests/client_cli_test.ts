import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { startEchoServer } from "../mod.ts";
import {
  denoRunArgs,
  type Finished,
  projectPath,
  runDeno,
} from "./_helpers.ts";
import { freePort, LOOPBACK, readAll, SeedServer } from "./_echo_helpers.ts";

function client(
  args: string[],
  options: { stdin?: string } = {},
): Promise<Finished> {
  return runDeno(["-N"], "client.ts", args, options);
}

/** A failure reported the way runMain does: one line, no stack trace. */
function assertOneLineError(
  result: Finished,
  code: number,
  ...parts: string[]
) {
  assertEquals(result.code, code, result.stderr);
  assertEquals(result.stdout, "");
  const lines = result.stderr.trimEnd().split("\n");
  assertEquals(lines.length, 1, result.stderr);
  assert(lines[0]!.startsWith("client.ts: "), result.stderr);
  for (const part of parts) assertStringIncludes(lines[0]!, part);
}

Deno.test("client.ts sends a message, the default one, or stdin, and prints the echo", async () => {
  await using server = startEchoServer({ hostname: LOOPBACK, port: 0 });
  const port = String(server.addr.port);
  const [given, byDefault, piped] = await Promise.all([
    client(["Halo dunia!", "--port", port]),
    client(["echo", "--hostname", LOOPBACK, "--port", port]),
    client(["--port", port], { stdin: "dari stdin\n" }),
  ]);
  // Piped, the reply comes out exactly as it came: no newline added.
  assertEquals(given, {
    code: 0,
    signal: null,
    stdout: "Halo dunia!",
    stderr: "",
  });
  assertEquals(byDefault.stdout, "Halo server!");
  assertEquals(piped.stdout, "dari stdin\n");
});

Deno.test("client.ts talks to the seed's Python server", async () => {
  await using python = await SeedServer.start();
  const result = await client(["--port", String(python.port)]);
  assertEquals(result.stdout, "Pesan diterima server");
  assertEquals(result.code, 0, result.stderr);
});

Deno.test("client.ts greet fetches the plain-text greeting", async () => {
  const requests: { name: string | null; accept: string | null }[] = [];
  await using server = Deno.serve(
    { hostname: LOOPBACK, port: 0, onListen() {} },
    (request) => {
      const name = new URL(request.url).searchParams.get("name");
      requests.push({ name, accept: request.headers.get("accept") });
      return new Response(`Hello, ${name ?? "world"}!`);
    },
  );
  const url = `http://${LOOPBACK}:${server.addr.port}/`;
  const [named, unnamed] = await Promise.all([
    client(["greet", "Budi", "--url", url]),
    client(["greet", "--url", url]),
  ]);
  assertEquals(named, {
    code: 0,
    signal: null,
    stdout: "Hello, Budi!",
    stderr: "",
  });
  assertEquals(unnamed.stdout, "Hello, world!");
  assertEquals(
    requests.map((request) => request.accept),
    ["text/plain", "text/plain"],
  );
  assertEquals(requests.map((request) => request.name).sort(), ["Budi", null]);
});

Deno.test("client.ts reports a refused connection or a timeout in one line, exit 1", async () => {
  const port = String(freePort());
  using listener = Deno.listen({ hostname: LOOPBACK, port: 0 });
  const accepted = listener.accept();
  const [echo, greet, slow] = await Promise.all([
    client(["--port", port]),
    client(["greet", "--url", `http://${LOOPBACK}:${port}/`]),
    client(["--port", String(listener.addr.port), "--timeout", "300"]),
  ]);
  (await accepted).close();
  const hint = "(is the server running? start it with deno run -N server.ts)";
  assertEquals(
    echo.stderr,
    `client.ts: Cannot connect to ${LOOPBACK}:${port}: connection refused ${hint}\n`,
  );
  assertEquals(
    greet.stderr,
    `client.ts: Cannot connect to ${LOOPBACK}:${port}: connection refused ${hint}\n`,
  );
  assertOneLineError(echo, 1);
  assertOneLineError(greet, 1);
  assertOneLineError(slow, 1, `${LOOPBACK}:${listener.addr.port}`, "300 ms");
});

Deno.test("client.ts pointed at an HTTP server says so, exit 1: no answer, an HTTP answer or no end", async () => {
  const echoHint =
    "server.ts echoes on its TCP port: the tcp:// address it prints, 12345 unless --echo-port";
  // Deno.serve, as server.ts's HTTP port, closes on a request it cannot parse.
  await using http = Deno.serve(
    { hostname: LOOPBACK, port: 0, onListen() {} },
    () => new Response("Hello, world!"),
  );
  // Others (nginx, Python's http.server) answer 400; some wait for the rest
  // of the request.
  using answering = Deno.listen({ hostname: LOOPBACK, port: 0 });
  using waiting = Deno.listen({ hostname: LOOPBACK, port: 0 });
  const served = (async () => {
    using conn = await answering.accept();
    await conn.write(
      new TextEncoder().encode(
        "HTTP/1.1 400 Bad Request\x1b[2J\r\ncontent-length: 0\r\n\r\n",
      ),
    );
    await conn.closeWrite();
    await readAll(conn);
  })();
  const held = waiting.accept();
  const [empty, status, slow] = await Promise.all([
    client(["--port", String(http.addr.port), "hi"]),
    client(["--port", String(answering.addr.port), "hi"]),
    client(["--port", String(waiting.addr.port), "--timeout", "300", "hi"]),
  ]);
  await served;
  (await held).close();
  assertEquals(
    empty.stderr,
    `client.ts: No answer from ${LOOPBACK}:${http.addr.port}: the server closed the connection without replying (is it an HTTP server? ${echoHint})\n`,
  );
  assertOneLineError(empty, 1);
  assertEquals(
    status.stderr,
    `client.ts: ${LOOPBACK}:${answering.addr.port} answered with HTTP (HTTP/1.1 400 Bad Request): it is an HTTP server, not an echo server (${echoHint}; for a greeting, use client.ts greet --url http://${LOOPBACK}:${answering.addr.port}/)\n`,
  );
  assertOneLineError(status, 1);
  assertOneLineError(
    slow,
    1,
    "timed out after 300 ms (the server did not answer and close the connection in that time: is it an echo server?",
    echoHint,
  );
});

Deno.test("client.ts prints an empty echo of an empty message, and the answer to an HTTP request it was given", async () => {
  await using echo = startEchoServer({ hostname: LOOPBACK, port: 0 });
  await using http = Deno.serve(
    { hostname: LOOPBACK, port: 0, onListen() {} },
    () => new Response("Hello, world!"),
  );
  const [empty, request] = await Promise.all([
    client(["--port", String(echo.addr.port), ""]),
    client(["--port", String(http.addr.port)], {
      stdin: "GET / HTTP/1.0\r\n\r\n",
    }),
  ]);
  assertEquals(empty, { code: 0, signal: null, stdout: "", stderr: "" });
  assertEquals(request.code, 0, request.stderr);
  assert(request.stdout.startsWith("HTTP/1.0 200 OK\r\n"), request.stdout);
  assert(request.stdout.endsWith("\r\n\r\nHello, world!"), request.stdout);
});

Deno.test("client.ts rejects bad flags and unknown commands with the usage, exit 2", async () => {
  const results = await Promise.all([
    client(["--bogus"]),
    client(["--port", "99999"]),
    client(["--timeout", "soon"]),
    client(["hello", "there"]),
    client(["--port", "0", "x"]),
    client(["greet", "--port", "8000"]),
    client(["greet", "--url", "ftp://example.com/"]),
  ]);
  const messages = [
    "Unknown option: --bogus",
    "--port must be a whole number from 1 to 65535",
    "--timeout must be a whole number",
    'Too many arguments: hello there (quote a text with spaces: "hello there")',
    '--port must be a whole number from 1 to 65535, got "0"',
    "--port does not apply to greet",
    "--url must be an http or https URL",
  ];
  results.forEach((result, i) => {
    assertEquals(result.code, 2, result.stderr);
    assertEquals(result.stdout, "");
    assertStringIncludes(result.stderr, `client.ts: ${messages[i]}`);
    assertStringIncludes(result.stderr, "Usage:");
  });
});

Deno.test("client.ts --help/-h prints the usage, --version/-V the version, exit 0", async () => {
  const config = JSON.parse(await Deno.readTextFile(projectPath("deno.json")));
  const [help, h, version, v] = await Promise.all([
    client(["--help"]),
    client(["-h"]),
    client(["--version"]),
    client(["-V"]),
  ]);
  assertEquals(help.code, 0, help.stderr);
  assert(help.stdout.startsWith("Usage:"));
  assertStringIncludes(help.stdout, "greet");
  assertStringIncludes(help.stdout, "-p, --port PORT");
  assertEquals(help.stderr, "");
  assertEquals(h, help);
  assertEquals(version, {
    code: 0,
    signal: null,
    stdout: `${config.name} ${config.version}\n`,
    stderr: "",
  });
  assertEquals(v, version);
});

Deno.test("client.ts -p is --port; given twice, the last one counts", async () => {
  await using server = startEchoServer({ hostname: LOOPBACK, port: 0 });
  const port = String(server.addr.port);
  const [short, twice] = await Promise.all([
    client(["-p", port, "pendek"]),
    client([
      "--port",
      "1",
      "-p",
      port,
      "--hostname",
      "x",
      "--hostname",
      LOOPBACK,
      "dua",
    ]),
  ]);
  assertEquals([short.code, short.stdout, short.stderr], [0, "pendek", ""]);
  assertEquals([twice.code, twice.stdout, twice.stderr], [0, "dua", ""]);
});

Deno.test("client.ts without -N names the address to allow, exit 1", async () => {
  const [echo, greet] = await Promise.all([
    runDeno([], "client.ts", ["--port", "12345"]),
    runDeno([], "client.ts", ["greet"]),
  ]);
  assertOneLineError(
    echo,
    1,
    "Cannot connect to 127.0.0.1:12345: network permission is missing: run with -N or --allow-net=127.0.0.1:12345",
  );
  assertOneLineError(
    greet,
    1,
    "Cannot connect to localhost:8000: network permission is missing: run with -N or --allow-net=localhost:8000",
  );
});

Deno.test("client.ts runs with network permission for the server's address only", async () => {
  await using echoServer = startEchoServer({ hostname: LOOPBACK, port: 0 });
  await using httpServer = Deno.serve(
    { hostname: LOOPBACK, port: 0, onListen() {} },
    () => new Response("Hello, world!"),
  );
  const echoPort = echoServer.addr.port;
  const httpPort = httpServer.addr.port;
  const [hostOnly, hostAndPort, greet] = await Promise.all([
    runDeno([`--allow-net=${LOOPBACK}`], "client.ts", [
      "-p",
      String(echoPort),
      "a",
    ]),
    runDeno([`--allow-net=${LOOPBACK}:${echoPort}`], "client.ts", [
      "-p",
      String(echoPort),
      "b",
    ]),
    runDeno([`--allow-net=${LOOPBACK}:${httpPort}`], "client.ts", [
      "greet",
      "--url",
      `http://${LOOPBACK}:${httpPort}/`,
    ]),
  ]);
  assertEquals([hostOnly.code, hostOnly.stdout, hostOnly.stderr], [0, "a", ""]);
  assertEquals([hostAndPort.code, hostAndPort.stdout], [0, "b"]);
  assertEquals([greet.code, greet.stdout, greet.stderr], [
    0,
    "Hello, world!",
    "",
  ]);
});

/** Runs client.ts with raw bytes on stdin; stdout comes back as bytes. */
async function clientBytes(
  args: string[],
  input: Uint8Array,
): Promise<{ code: number; stdout: Uint8Array; stderr: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: denoRunArgs(["-N"], "client.ts", args),
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(input);
  await writer.close();
  const output = await child.output();
  return {
    code: output.code,
    stdout: output.stdout,
    stderr: new TextDecoder().decode(output.stderr),
  };
}

Deno.test("client.ts writes a binary reply unchanged when stdout is not a terminal", async () => {
  await using server = startEchoServer({ hostname: LOOPBACK, port: 0 });
  const port = String(server.addr.port);
  // Not UTF-8: decoding would turn these into U+FFFD and add a newline.
  const binary = new Uint8Array([0xff, 0xfe, 0x41]);
  const every = Uint8Array.from({ length: 256 }, (_, i) => i);
  const [small, all] = await Promise.all([
    clientBytes(["--port", port], binary),
    clientBytes(["--port", port], every),
  ]);
  assertEquals([small.code, small.stderr], [0, ""]);
  assertEquals(small.stdout, binary);
  assertEquals([all.code, all.stderr], [0, ""]);
  assertEquals(all.stdout, every);
});

Deno.test("client.ts whose stdout reader has gone ends quietly, as SIGPIPE would", async () => {
  await using server = startEchoServer({ hostname: LOOPBACK, port: 0 });
  const child = new Deno.Command(Deno.execPath(), {
    args: denoRunArgs(["-N"], "client.ts", [
      "--port",
      String(server.addr.port),
      "x".repeat(100_000),
    ]),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // As `client.ts x | head -c 0`: the reader is gone before the reply.
  await child.stdout.cancel();
  const stderr = await new Response(child.stderr).text();
  const status = await child.status;
  assertEquals([status.code, stderr], [141, ""]);
});

const HAS_SCRIPT = await new Deno.Command("script", { args: ["--version"] })
  .output().then((output) => output.success, () => false);

Deno.test({
  name: `client.ts on a terminal prints the reply as a line of text${
    HAS_SCRIPT ? "" : " (ignored: needs script(1) for a terminal)"
  }`,
  ignore: !HAS_SCRIPT,
  async fn() {
    await using server = startEchoServer({ hostname: LOOPBACK, port: 0 });
    const quote = (word: string) => `'${word.replaceAll("'", `'\\''`)}'`;
    const command = [
      Deno.execPath(),
      ...denoRunArgs(["-N"], "client.ts", [
        "--port",
        String(server.addr.port),
        "Halo terminal",
      ]),
    ].map(quote).join(" ");
    // script(1) gives the client a pseudo-terminal as its stdout.
    const output = await new Deno.Command("script", {
      args: ["-qec", command, "/dev/null"],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(output.code, 0, new TextDecoder().decode(output.stderr));
    // The terminal turns the line's "\n" into "\r\n".
    assertEquals(new TextDecoder().decode(output.stdout), "Halo terminal\r\n");
  },
});

Deno.test("client.ts greet against a server that is not HTTP does not claim it speaks TLS", async () => {
  // The echo server sends the request back: no status line, as with a TLS
  // server's alert, but no TLS either.
  await using server = startEchoServer({ hostname: LOOPBACK, port: 0 });
  const result = await client([
    "greet",
    "--url",
    `http://${LOOPBACK}:${server.addr.port}/`,
  ]);
  assertOneLineError(result, 1, "the answer is not HTTP");
  assert(!result.stderr.includes("(the server speaks TLS:"), result.stderr);
});

/** Runs client.ts through `sh`, with `redirect` (say `< /`) applied to it. */
async function clientRedirected(
  redirect: string,
  args: string[],
): Promise<Finished> {
  const output = await new Deno.Command("sh", {
    args: [
      "-c",
      `exec "$0" "$@" ${redirect}`,
      Deno.execPath(),
      ...denoRunArgs(["-N"], "client.ts", args),
    ],
    cwd: projectPath("."),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: output.code,
    signal: output.signal,
    stdout: new TextDecoder().decode(output.stdout),
    stderr: new TextDecoder().decode(output.stderr),
  };
}

Deno.test("client.ts with standard input it cannot read says so in one line, exit 1", async () => {
  // `client.ts < some-folder`: reading a directory fails with EISDIR.
  assertOneLineError(
    await clientRedirected("< /", ["--port", "1"]),
    1,
    "Cannot read standard input: ",
  );
});

Deno.test({
  name:
    `client.ts whose output cannot be written (a full disk) says so in one line, exit 1${
      Deno.build.os === "linux" ? "" : " (ignored: /dev/full is Linux's)"
    }`,
  ignore: Deno.build.os !== "linux",
  async fn() {
    await using server = startEchoServer({ hostname: LOOPBACK, port: 0 });
    assertOneLineError(
      await clientRedirected("> /dev/full", [
        "--port",
        String(server.addr.port),
        "x",
      ]),
      1,
      "Cannot write the reply to standard output: ",
    );
  },
});
