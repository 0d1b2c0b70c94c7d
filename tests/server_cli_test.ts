import {
  assert,
  assertEquals,
  assertMatch,
  assertNotMatch,
  assertStringIncludes,
} from "@std/assert";
import { sendMessage } from "../mod.ts";
import { projectPath, runDeno, Spawned } from "./_helpers.ts";
import { resetClients, runSeedClient, waitUntil } from "./_echo_helpers.ts";

const LOOPBACK = ["--hostname", "127.0.0.1"];
const HTTP_LINE = /listening on http:\/\/127\.0\.0\.1:(\d+)\//;
const TCP_LINE = /listening on tcp:\/\/127\.0\.0\.1:(\d+)/;

function startServer(args: string[]): Spawned {
  return new Spawned(["-N"], "server.ts", [...LOOPBACK, ...args]);
}

function port(match: RegExpMatchArray): number {
  return Number(match[1]);
}

/** No stack trace, one line, the program's name first. */
function assertOneLineError(stderr: string): void {
  assertNotMatch(stderr, /\n\s+at /);
  assertMatch(stderr, /^server\.ts: /);
}

Deno.test("server.ts serves both halves and stops on SIGTERM with exit 0", async () => {
  await using server = startServer(["--http-port", "0", "--echo-port", "0"]);
  const httpPort = port(await server.waitFor(HTTP_LINE));
  const tcpPort = port(await server.waitFor(TCP_LINE));

  const response = await fetch(`http://127.0.0.1:${httpPort}/?name=Budi`);
  assertEquals(await response.text(), "Hello, Budi!");
  assertEquals(
    await sendMessage("Halo server!", { port: tcpPort }),
    "Halo server!",
  );

  const status = await server.stop("SIGTERM");
  assertEquals(status.code, 0);
  assertStringIncludes(server.stdout, "Server stopped.");
  // One access line per request and one line per TCP connection, on stderr.
  assertMatch(
    server.stderr,
    /^\d{4}-\d\d-\d\dT\S+Z 127\.0\.0\.1:\d+ GET \/\?name=Budi 200 12B [\d.]+ms$/m,
  );
  assertMatch(
    server.stderr,
    /^\S+Z 127\.0\.0\.1:\d+ TCP closed in=12B out=12B [\d.]+ms$/m,
  );
});

Deno.test("server.ts logs a 404 and a reset connection with their figures", async () => {
  await using server = startServer(["--http-port", "0", "--echo-port", "0"]);
  const httpPort = port(await server.waitFor(HTTP_LINE));
  const tcpPort = port(await server.waitFor(TCP_LINE));

  const missing = await fetch(`http://127.0.0.1:${httpPort}/nope?name=x`);
  const body = await missing.text();
  assertEquals(missing.status, 404);
  await resetClients(tcpPort, 1, "Halo");
  await waitUntil(() => / TCP reset /.test(server.stderr), "the reset line");
  assertEquals((await server.stop()).code, 0);

  assertMatch(
    server.stderr,
    new RegExp(
      `^\\S+Z 127\\.0\\.0\\.1:\\d+ GET /nope\\?name=x 404 ${body.length}B [\\d.]+ms$`,
      "m",
    ),
  );
  assertMatch(
    server.stderr,
    /^\S+Z 127\.0\.0\.1:\d+ TCP reset in=4B out=4B [\d.]+ms$/m,
  );
});

Deno.test("server.ts --reply logs the message escaped, so a client cannot forge lines", async () => {
  await using server = startServer([
    "--no-http",
    "--echo-port",
    "0",
    "--reply",
    "ok",
  ]);
  const tcpPort = port(await server.waitFor(TCP_LINE));
  const forged =
    "Halo\n2026-01-01T00:00:00.000Z 10.0.0.1:1 GET /admin 200 \x1b[2J";
  assertEquals(await sendMessage(forged, { port: tcpPort }), "ok");
  assertEquals((await server.stop()).code, 0);

  const lines = server.stderr.trimEnd().split("\n");
  assertEquals(lines.length, 1, server.stderr);
  assertMatch(
    lines[0]!,
    /^\S+Z 127\.0\.0\.1:\d+ TCP closed in=\d+B out=2B [\d.]+ms message="Halo\\n2026-01-01T00:00:00\.000Z 10\.0\.0\.1:1 GET \/admin 200 \\x1b\[2J"$/,
  );
  assert(!server.stderr.includes("\x1b"), "a raw escape reached the log");
});

Deno.test("server.ts --quiet prints no log lines; --version matches deno.json", async () => {
  await using server = startServer([
    "--quiet",
    "--http-port",
    "0",
    "--no-echo",
  ]);
  const httpPort = port(await server.waitFor(HTTP_LINE));
  await (await fetch(`http://127.0.0.1:${httpPort}/nope`)).body?.cancel();
  assertEquals((await server.stop()).code, 0);
  assertEquals(server.stderr, "");
  const config = JSON.parse(await Deno.readTextFile(projectPath("deno.json")));
  const version = await runDeno(["-N"], "server.ts", ["--version"]);
  assertEquals(version.code, 0);
  assertEquals(version.stdout.trim(), `${config.name} ${config.version}`);
});

Deno.test("server.ts on SIGINT answers requests in flight in full, then exits 0", async () => {
  await using server = startServer(["--http-port", "0", "--no-echo"]);
  const url = `http://127.0.0.1:${port(await server.waitFor(HTTP_LINE))}/`;
  const first = await fetch(`${url}?name=first`);
  assertEquals(await first.text(), "Hello, first!");
  // Requests racing the signal either complete in full or are never accepted.
  const racing = Array.from(
    { length: 50 },
    (_, i) =>
      fetch(`${url}?name=r${i}`).then(
        async (response) => ({ i, body: await response.text() }),
        () => undefined,
      ),
  );
  server.child.kill("SIGINT");
  for (const result of await Promise.all(racing)) {
    if (result !== undefined) assertEquals(result.body, `Hello, r${result.i}!`);
  }
  assertEquals((await server.finished()).code, 0);
  assertStringIncludes(server.stdout, "SIGINT received");
  assertStringIncludes(server.stdout, "Server stopped.");
  const after = await fetch(url).then(() => "answered", () => "refused");
  assertEquals(after, "refused");
});

Deno.test("server.ts --reply answers like the teaching text's socket server", async () => {
  await using server = startServer([
    "--no-http",
    "--echo-port",
    "0",
    "--reply",
    "Pesan diterima server",
  ]);
  const tcpPort = port(
    await server.waitFor(
      /reply server listening on tcp:\/\/127\.0\.0\.1:(\d+)/,
    ),
  );
  assertEquals(
    await sendMessage("Halo server!", { port: tcpPort }),
    "Pesan diterima server",
  );
  // The teaching text's own Python client sees what the text shows.
  const seed = await runSeedClient(tcpPort);
  assertEquals(seed.stdout, "Pesan dari server: Pesan diterima server\n");
  assertEquals((await server.stop()).code, 0);
});

Deno.test("server.ts --help prints usage and exits 0", async () => {
  const result = await runDeno(["-N"], "server.ts", ["--help"]);
  assertEquals(result.code, 0);
  assertStringIncludes(result.stdout, "Usage: deno run -N server.ts");
  assertStringIncludes(result.stdout, "--http-port");
  assertEquals(result.stderr, "");
});

Deno.test("server.ts rejects bad flags with usage on stderr and exit 2", async () => {
  const bad = [
    ["--bogus"],
    ["--http-port", "abc"],
    ["--http-port", "65536"],
    ["--http-port", "-1"],
    ["--echo-port", "8.5"],
    ["--http-port"],
    ["--max-connections", "0"],
    ["--idle-timeout", "soon"],
    ["--no-http", "--no-echo"],
    ["extra"],
  ];
  for (const args of bad) {
    const result = await runDeno(["-N"], "server.ts", args);
    assertEquals(result.code, 2, args.join(" "));
    assertOneLineError(result.stderr);
    assertStringIncludes(result.stderr, "Usage:", args.join(" "));
    assertEquals(result.stdout, "");
  }
});

Deno.test("server.ts names the address when the port is in use, exit 1", async () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const busy = String(taken.addr.port);
  for (
    const args of [["--http-port", busy, "--no-echo"], [
      "--echo-port",
      busy,
      "--no-http",
    ]]
  ) {
    const result = await runDeno(["-N"], "server.ts", [...LOOPBACK, ...args]);
    assertEquals(result.code, 1, args.join(" "));
    assertOneLineError(result.stderr);
    assertStringIncludes(result.stderr, `127.0.0.1:${busy}`);
    assertStringIncludes(result.stderr, "is already in use");
    assertEquals(result.stderr.trim().split("\n").length, 1);
  }
});

Deno.test("server.ts stops the HTTP half when the TCP port is taken", async () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const result = await runDeno(["-N"], "server.ts", [
    ...LOOPBACK,
    "--http-port",
    "0",
    "--echo-port",
    String(taken.addr.port),
  ]);
  assertEquals(result.code, 1);
  assertStringIncludes(result.stderr, "is already in use");
});

Deno.test("server.ts without -N says to pass -N, exit 1", async () => {
  const result = await runDeno([], "server.ts", ["--http-port", "0"]);
  assertEquals(result.code, 1);
  assertOneLineError(result.stderr);
  assertStringIncludes(result.stderr, "deno run -N server.ts");
  assert(result.stderr.trim().split("\n").length === 1, result.stderr);
});
