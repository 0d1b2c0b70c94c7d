import {
  assert,
  assertEquals,
  assertMatch,
  assertNotMatch,
  assertStringIncludes,
} from "@std/assert";
import { sendMessage } from "../mod.ts";
import { denoRunArgs, projectPath, runDeno, Spawned } from "./_helpers.ts";
import {
  Background,
  delay,
  freePort,
  resetClients,
  runSeedClient,
  waitUntil,
} from "./_echo_helpers.ts";

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
    assertMatch(
      result.stderr,
      new RegExp(
        `^server\\.ts: Cannot listen on \\w+://127\\.0\\.0\\.1:${busy}/?: the address is already in use; pick another port\n$`,
      ),
    );
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

Deno.test("server.ts without -N names the addresses to allow, exit 1", async () => {
  const result = await runDeno([], "server.ts", ["--http-port", "0"]);
  assertEquals(result.code, 1);
  assertEquals(
    result.stderr,
    "server.ts: Cannot listen on 0.0.0.0:0 and 0.0.0.0:12345: network permission is missing: run with -N or --allow-net=0.0.0.0:0,0.0.0.0:12345\n",
  );
});

Deno.test("server.ts runs with network permission for its own addresses only", async () => {
  // The host alone: any port, 0 included.
  {
    await using server = new Spawned([`--allow-net=127.0.0.1`], "server.ts", [
      ...LOOPBACK,
      "--http-port",
      "0",
      "--echo-port",
      "0",
    ]);
    const httpPort = port(await server.waitFor(HTTP_LINE));
    const tcpPort = port(await server.waitFor(TCP_LINE));
    assertEquals(
      await (await fetch(`http://127.0.0.1:${httpPort}/`)).text(),
      "Hello, world!",
    );
    assertEquals(await sendMessage("sempit", { port: tcpPort }), "sempit");
    assertEquals((await server.stop()).code, 0);
  }
  // Exactly the two addresses.
  const [httpPort, tcpPort] = [freePort(), freePort()];
  const both = `--allow-net=127.0.0.1:${httpPort},127.0.0.1:${tcpPort}`;
  const args = [
    ...LOOPBACK,
    "--http-port",
    String(httpPort),
    "--echo-port",
    String(tcpPort),
  ];
  {
    await using server = new Spawned([both], "server.ts", args);
    await server.waitFor(TCP_LINE);
    assertEquals(await sendMessage("tepat", { port: tcpPort }), "tepat");
    assertEquals((await server.stop()).code, 0);
  }
  // One of them missing: named, with the grant that would do.
  const missing = await runDeno(
    [`--allow-net=127.0.0.1:${httpPort}`],
    "server.ts",
    args,
  );
  assertEquals(missing.code, 1);
  assertEquals(
    missing.stderr,
    `server.ts: Cannot listen on 127.0.0.1:${tcpPort}: network permission is missing: run with -N or --allow-net=127.0.0.1:${tcpPort}\n`,
  );
  assertEquals(missing.stdout, "");
});

Deno.test("server.ts -h is --help and -V is --version; there is no -p", async () => {
  const [help, h, version, v, p] = await Promise.all([
    runDeno([], "server.ts", ["--help"]),
    runDeno([], "server.ts", ["-h"]),
    runDeno([], "server.ts", ["--version"]),
    runDeno([], "server.ts", ["-V"]),
    runDeno([], "server.ts", ["-p", "8000"]),
  ]);
  assertEquals(h, help);
  assertStringIncludes(help.stdout, "-h, --help");
  assertStringIncludes(help.stdout, "-V, --version");
  assertEquals(v, version);
  assertEquals(version.code, 0);
  assertEquals(p.code, 2);
  assert(p.stderr.startsWith("server.ts: Unknown option: -p\n"), p.stderr);
});

/**
 * server.ts with its stdout and stderr left to the test: to read, to leave
 * unread (a log reader that stalls) or to close (one that went away).
 */
class RawServer implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  stdout = "";
  readonly #stdout: ReadableStreamDefaultReader<string>;
  readonly #collecting: Promise<void>;

  /** `wrapper`: a command that starts deno, given as its last arguments. */
  constructor(args: string[], wrapper: string[] = []) {
    const [command, ...commandArgs] = [
      ...wrapper,
      Deno.execPath(),
      ...denoRunArgs(["-N"], "server.ts", [...LOOPBACK, ...args]),
    ];
    this.child = new Deno.Command(command!, {
      args: commandArgs,
      cwd: projectPath("."),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const reader = this.child.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    this.#stdout = reader;
    this.#collecting = (async () => {
      while (true) {
        const { done, value } = await reader.read().catch(() => ({
          done: true,
          value: undefined,
        }));
        if (done) return;
        this.stdout += value;
      }
    })();
  }

  async waitFor(pattern: RegExp): Promise<RegExpMatchArray> {
    await waitUntil(
      () => pattern.test(this.stdout),
      `${pattern} on stdout; so far: ${this.stdout}`,
      15_000,
    );
    return this.stdout.match(pattern)!;
  }

  /** Closes the read end of the server's stdout, as `| head -c 0` would. */
  async closeStdout(): Promise<void> {
    await this.#stdout.cancel();
    await this.#collecting;
  }

  async stop(signal: Deno.Signal): Promise<Deno.CommandStatus> {
    this.child.kill(signal);
    const status = await this.child.status;
    await this.#collecting;
    return status;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.child.kill("SIGKILL");
    } catch { /* already exited */ }
    await this.child.status;
    await this.#stdout.cancel();
    await this.#collecting;
    if (!this.child.stderr.locked) await this.child.stderr.cancel();
  }
}

Deno.test("server.ts keeps serving when its stderr is closed, says so once on stdout, exits 0", async () => {
  await using server = new RawServer(["--http-port", "0", "--echo-port", "0"]);
  const httpPort = port(await server.waitFor(HTTP_LINE));
  const tcpPort = port(await server.waitFor(TCP_LINE));
  // As `server.ts 2>&1 | head -n 2` once head has its two lines.
  await server.child.stderr.cancel();
  for (let i = 0; i < 3; i++) {
    const response = await fetch(`http://127.0.0.1:${httpPort}/?name=Budi`, {
      signal: AbortSignal.timeout(10_000),
    });
    assertEquals(await response.text(), "Hello, Budi!");
    assertEquals(await sendMessage("Halo", { port: tcpPort }), "Halo");
    // Lets the log's write fail before the next requests.
    await delay(50);
  }
  assertEquals((await server.stop("SIGTERM")).code, 0);
  assertEquals(
    server.stdout.match(/dropping log lines/g)?.length,
    1,
    server.stdout,
  );
  assertMatch(server.stdout, /^Server stopped \(6 log lines dropped\)\.$/m);
});

Deno.test("server.ts counts one dropped log line in the singular", async () => {
  await using server = new RawServer(["--http-port", "0", "--no-echo"]);
  const httpPort = port(await server.waitFor(HTTP_LINE));
  await server.child.stderr.cancel();
  const response = await fetch(`http://127.0.0.1:${httpPort}/`, {
    signal: AbortSignal.timeout(10_000),
  });
  await response.body?.cancel();
  await waitUntil(
    () => /dropping log lines/.test(server.stdout),
    "the notice of dropped lines",
  );
  assertEquals((await server.stop("SIGTERM")).code, 0);
  assertMatch(server.stdout, /^Server stopped \(1 log line dropped\)\.$/m);
});

Deno.test("server.ts keeps serving with stdout and stderr both closed", async () => {
  await using server = new RawServer(["--http-port", "0", "--echo-port", "0"]);
  const httpPort = port(await server.waitFor(HTTP_LINE));
  const tcpPort = port(await server.waitFor(TCP_LINE));
  await server.closeStdout();
  await server.child.stderr.cancel();
  for (let i = 0; i < 2; i++) {
    const response = await fetch(`http://127.0.0.1:${httpPort}/`, {
      signal: AbortSignal.timeout(10_000),
    });
    assertEquals(await response.text(), "Hello, world!");
    assertEquals(await sendMessage("Halo", { port: tcpPort }), "Halo");
    await delay(50);
  }
  assertEquals((await server.stop("SIGTERM")).code, 0);
});

Deno.test("server.ts is not held up by a stderr nobody reads: it drops log lines past its backlog", async () => {
  await using server = new RawServer(["--http-port", "0", "--no-echo"]);
  const url = `http://127.0.0.1:${port(await server.waitFor(HTTP_LINE))}/`;
  // About 270 bytes of log a request: more than a pipe holds (64 KiB) and
  // the server's backlog (256 KiB) together. A server that blocked on stderr
  // would stop answering after the first few hundred.
  const name = "x".repeat(200);
  const requests = 1_500;
  let answered = 0;
  await Promise.all(Array.from({ length: 4 }, async () => {
    while (answered < requests) {
      answered++;
      const response = await fetch(`${url}?name=${name}`, {
        signal: AbortSignal.timeout(10_000),
      });
      assertEquals(response.status, 200);
      await response.body?.cancel();
    }
  }));
  await waitUntil(
    () => /dropping log lines/.test(server.stdout),
    "the notice of dropped lines",
  );
  // Reading now lets the last writes through, and the server exit.
  const stderr = new Response(server.child.stderr).text();
  assertEquals((await server.stop("SIGTERM")).code, 0);
  const lines = (await stderr).trimEnd().split("\n");
  const dropped = Number(
    server.stdout.match(/Server stopped \((\d+) log lines dropped\)/)?.[1],
  );
  assert(dropped > 0, server.stdout);
  assertEquals(lines.length + dropped, requests);
  // Whole lines only: nothing cut in the middle.
  for (const line of lines) {
    assertMatch(
      line,
      /^\S+Z 127\.0\.0\.1:\d+ GET \/\?name=x+… 200 \d+B [\d.]+ms$/,
    );
  }
});

Deno.test("server.ts stopping while nobody reads its stderr counts the log lines it could not write", async () => {
  await using server = new RawServer(["--http-port", "0", "--no-echo"]);
  const url = `http://127.0.0.1:${port(await server.waitFor(HTTP_LINE))}/`;
  // About 270 bytes of log a request: more than a pipe holds (64 KiB), less
  // than the backlog (256 KiB), so nothing is dropped before the stop.
  const name = "x".repeat(200);
  const requests = 600;
  for (let i = 0; i < requests; i++) {
    const response = await fetch(`${url}?name=${name}`, {
      signal: AbortSignal.timeout(10_000),
    });
    await response.body?.cancel();
  }
  // The server gives up on the log a second after the stop: read it only then.
  assertEquals((await server.stop("SIGTERM")).code, 0);
  const stderr = await new Response(server.child.stderr).text();
  // Whole lines only, but for the one the write in flight may have cut.
  const lines = stderr.split("\n").slice(0, -1);
  for (const line of lines) {
    assertMatch(
      line,
      /^\S+Z 127\.0\.0\.1:\d+ GET \/\?name=x+… 200 \d+B [\d.]+ms$/,
    );
  }
  const lost = Number(
    server.stdout.match(
      /^Server stopped \(up to (\d+) log lines dropped\)\.$/m,
    )?.[1],
  );
  // The write in flight at the stop may have put some of its lines into the
  // pipe: they are counted too, hence "up to"; no line goes uncounted.
  assert(
    lost <= requests && lines.length + lost >= requests,
    `${lines.length} lines written, ${server.stdout}`,
  );
});

Deno.test("server.ts stops gracefully on a signal sent as soon as it says it listens", async () => {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    await using server = startServer(["--no-http", "--echo-port", "0"]);
    await server.waitFor(TCP_LINE);
    // Deno's default for a signal with no listener is to exit at once (130).
    const status = await server.stop(signal);
    assertEquals(status.code, 0, server.stdout);
    assertStringIncludes(server.stdout, `${signal} received`);
    assertStringIncludes(server.stdout, "Server stopped.");
  }
});

Deno.test("server.ts: a second signal closes the echo connections still open, flushes the log and exits 128+signal", async () => {
  await using server = startServer(["--no-http", "--echo-port", "0"]);
  const tcpPort = port(await server.waitFor(TCP_LINE));
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: tcpPort });
  // The echo of a first byte: accepted and served (a connection still in the
  // listen queue would just be refused by the stop).
  await conn.write(new Uint8Array([1]));
  await conn.read(new Uint8Array(1));
  // Then it keeps sending and never reads: in flight until forced.
  const sending = (async () => {
    const chunk = new Uint8Array(64 * 1024);
    for (let i = 0; i < 4096; i++) await conn.write(chunk);
  })().catch(() => "cut");
  server.child.kill("SIGINT");
  await server.waitFor(/SIGINT received/);
  server.child.kill("SIGTERM");
  const status = await server.finished();
  assertEquals(await sending, "cut");
  conn.close();

  assertEquals(status.code, 143);
  assertMatch(
    server.stdout,
    /SIGTERM received while finishing after SIGINT: closing every connection now\nServer stopped\.\n$/,
  );
  // The connection's log line was written before the exit.
  assertMatch(server.stderr, /^\S+Z 127\.0\.0\.1:\d+ TCP shutdown in=\d+B/m);
});

Deno.test("server.ts: a second SIGINT ends a stop that an HTTP client holds up, exit 130", async () => {
  await using server = startServer(["--http-port", "0", "--no-echo"]);
  const httpPort = port(await server.waitFor(HTTP_LINE));
  // A request whose body never finishes arriving holds Deno.serve's shutdown.
  using conn = await Deno.connect({ hostname: "127.0.0.1", port: httpPort });
  await conn.write(
    new TextEncoder().encode(
      "POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\nab",
    ),
  );
  await delay(100);
  server.child.kill("SIGINT");
  await server.waitFor(/SIGINT received/);
  server.child.kill("SIGINT");
  const status = await server.finished();
  assertEquals(status.code, 130);
  assertMatch(
    server.stdout,
    /SIGINT received while finishing after SIGINT: closing every connection now\nServer stopped\.\n$/,
  );
});

const HAS_PYTHON = await new Deno.Command("python3", { args: ["--version"] })
  .output().then((output) => output.success, () => false);

// Python runs server.ts with stderr on a non-blocking pipe that it never
// reads (as a parent process may hand one down): once the pipe is full, a
// write fails with EAGAIN instead of waiting.
const NON_BLOCKING_STDERR = `
import fcntl, http.client, json, os, subprocess, sys
command = json.loads(sys.argv[1])
read_end, write_end = os.pipe()
flags = fcntl.fcntl(write_end, fcntl.F_GETFL)
fcntl.fcntl(write_end, fcntl.F_SETFL, flags | os.O_NONBLOCK)
server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=write_end)
os.close(write_end)
port = int(server.stdout.readline().decode().rsplit(":", 1)[1].strip("/\\n"))
answered = 0
try:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    for i in range(1500):
        conn.request("GET", "/?name=" + "x" * 200)
        if conn.getresponse().read().startswith(b"Hello"):
            answered += 1
except Exception as error:
    print(repr(error), file=sys.stderr)
server.terminate()
stdout = server.stdout.read().decode()
print(json.dumps({"answered": answered, "code": server.wait(), "stdout": stdout}))
`;

Deno.test({
  name: `server.ts keeps serving when its stderr is a full non-blocking pipe${
    HAS_PYTHON ? "" : " (ignored: needs python3)"
  }`,
  ignore: !HAS_PYTHON,
  async fn() {
    const command = [
      Deno.execPath(),
      ...denoRunArgs(["-N"], "server.ts", [
        ...LOOPBACK,
        "--http-port",
        "0",
        "--no-echo",
      ]),
    ];
    const output = await new Deno.Command("python3", {
      args: ["-c", NON_BLOCKING_STDERR, JSON.stringify(command)],
      cwd: projectPath("."),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(60_000),
    }).output();
    const stderr = new TextDecoder().decode(output.stderr);
    assertEquals(output.code, 0, stderr);
    const result = JSON.parse(new TextDecoder().decode(output.stdout));
    assertEquals([result.answered, result.code], [1500, 0], stderr);
    assertEquals(result.stdout.match(/dropping log lines/g)?.length, 1);
    assertMatch(result.stdout, /^Server stopped \(\d+ log lines dropped\)\.$/m);
  },
});

/** Runs the command given after `setup`, Python with `fcntl` and `os`. */
function pythonWrapper(setup: string): string[] {
  return [
    "python3",
    "-c",
    `import fcntl, os, sys; ${setup}; os.execvp(sys.argv[1], sys.argv[1:])`,
  ];
}

// Runs the command given with its stderr made non-blocking: the pipe is
// shared with the test, which reads it only when it chooses.
const WITH_NON_BLOCKING_STDERR = pythonWrapper(
  "fcntl.fcntl(2, fcntl.F_SETFL, fcntl.fcntl(2, fcntl.F_GETFL) | os.O_NONBLOCK)",
);

// Shrinks the stderr pipe to one page (F_SETPIPE_SZ): a test that stops
// reading loses at most that much of what was written.
const WITH_SMALL_STDERR_PIPE = pythonWrapper("fcntl.fcntl(2, 1031, 4096)");

/**
 * Sends greetings with a name of over 180 characters, numbered: each is
 * logged as one line of about 260 bytes.
 */
class LoggedRequests {
  sent = 0;
  readonly #url: string;

  constructor(port: number) {
    this.#url = `http://127.0.0.1:${port}/?name=${"x".repeat(180)}`;
  }

  async send(count: number): Promise<void> {
    for (const end = this.sent + count; this.sent < end;) {
      const response = await fetch(`${this.#url}${this.sent++}`, {
        signal: AbortSignal.timeout(10_000),
      });
      assertEquals(response.status, 200);
      await response.body?.cancel();
    }
  }
}

/**
 * Checks that each line is a whole access line of {@linkcode LoggedRequests}
 * and returns how many lines the server said it dropped.
 */
function checkLog(lines: string[], stdout: string): number {
  for (const line of lines) {
    assertMatch(
      line,
      /^\S+Z 127\.0\.0\.1:\d+ GET \/\?name=x+\d+ 200 \d+B [\d.]+ms$/,
    );
  }
  return Number(
    stdout.match(/Server stopped \((\d+) log lines dropped\)/)?.[1],
  );
}

Deno.test({
  ignore: !HAS_PYTHON,
  name:
    `server.ts keeps log lines whole and counts drops right on a full non-blocking stderr${
      HAS_PYTHON ? "" : " (ignored: needs python3)"
    }`,
}, async () => {
  await using server = new RawServer(
    ["--http-port", "0", "--no-echo"],
    WITH_NON_BLOCKING_STDERR,
  );
  const requests = new LoggedRequests(port(await server.waitFor(HTTP_LINE)));
  // Unread until the pipe (64 KiB), the batch being written and the backlog
  // (256 KiB) are full: about 2,500 lines, more if the batches were small.
  while (!/dropping log lines/.test(server.stdout) && requests.sent < 10_000) {
    await requests.send(100);
  }
  // Read now: what follows a line cut by a full pipe shows whether it was
  // finished.
  const stderr = new Response(server.child.stderr).text();
  await requests.send(50);
  assertEquals((await server.stop("SIGTERM")).code, 0);
  const lines = (await stderr).trimEnd().split("\n");
  const dropped = checkLog(lines, server.stdout);
  assert(dropped > 0, server.stdout);
  assertEquals(lines.length + dropped, requests.sent);
});

Deno.test({
  ignore: !HAS_PYTHON,
  name:
    `server.ts counts only the lines not written whole when stderr breaks in the middle of a batch${
      HAS_PYTHON ? "" : " (ignored: needs python3)"
    }`,
}, async () => {
  await using server = new RawServer(
    ["--http-port", "0", "--no-echo"],
    WITH_SMALL_STDERR_PIPE,
  );
  const requests = new LoggedRequests(port(await server.waitFor(HTTP_LINE)));
  // The first lines fill the 4 KiB pipe and hold their batch's write; the
  // next 400 (about 100 KiB) wait behind it and go out as one batch.
  await requests.send(20);
  await delay(100);
  await requests.send(400);
  // Reading half of that batch, then going away, breaks its write in the
  // middle: what was read was written, the rest is dropped.
  const reader = server.child.stderr.pipeThrough(new TextDecoderStream())
    .getReader();
  let text = "";
  while (text.split("\n").length - 1 < 220) {
    const { done, value } = await reader.read();
    assert(!done, "stderr ended early");
    text += value;
  }
  await reader.cancel();
  const lines = text.slice(0, text.lastIndexOf("\n")).split("\n");
  await delay(100);
  await requests.send(10);
  assertEquals((await server.stop("SIGTERM")).code, 0);
  const dropped = checkLog(lines, server.stdout);
  // Written but unread: what the pipe held when the test stopped reading,
  // 4 KiB, at most 16 lines of more than 250 bytes.
  const lost = requests.sent - lines.length - dropped;
  assert(
    lost >= 0 && lost <= 16,
    `${requests.sent} sent, ${lines.length} read, ${dropped} dropped`,
  );
  assert(dropped > 10, server.stdout);
});

/**
 * The greeting from `port` once something answers there: for up to 10 s, a
 * refused connection means try again.
 */
async function greetWhenListening(port: number): Promise<string> {
  for (let i = 0; i < 100; i++) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/?name=Budi`);
      return await response.text();
    } catch {
      await delay(100);
    }
  }
  return "";
}

Deno.test("server.ts keeps greeting after a flood of idle connections runs it out of file descriptors", async () => {
  // Deno.serve's accept loop ends for good on EMFILE; under a limit of 64
  // files, 100 silent connections get there.
  await using server = new Spawned(
    ["-N"],
    "server.ts",
    [...LOOPBACK, "--http-port", "0", "--echo-port", "0", "--quiet"],
    { fileLimit: 64 },
  );
  const httpPort = port(await server.waitFor(HTTP_LINE));
  const flood = await Promise.all(
    Array.from(
      { length: 100 },
      () => Deno.connect({ hostname: "127.0.0.1", port: httpPort }),
    ),
  );
  try {
    await server.waitFor(/Too many open files/);
  } finally {
    for (const conn of flood) conn.close();
  }
  // Greeted again once the flood is gone (the first tries may be refused).
  assertEquals(await greetWhenListening(httpPort), "Hello, Budi!");
  const status = await server.stop("SIGTERM");
  assertEquals(status.code, 0);
  assertOneLineError(server.stderr);
  assertStringIncludes(server.stdout, "Server stopped.");
});

Deno.test({
  name: `server.ts serves when its stdout cannot be written (a full disk)${
    Deno.build.os === "linux" ? "" : " (ignored: /dev/full is Linux's)"
  }`,
  ignore: Deno.build.os !== "linux",
  async fn() {
    // The start-up lines are for a reader; failing to print them is no reason
    // to refuse every client.
    const httpPort = freePort();
    await using server = new Background("sh", [
      "-c",
      'exec "$0" "$@" > /dev/full',
      Deno.execPath(),
      ...denoRunArgs(["-N"], "server.ts", [
        ...LOOPBACK,
        "--http-port",
        String(httpPort),
        "--no-echo",
      ]),
    ], { cwd: projectPath(".") });
    assertEquals(
      await greetWhenListening(httpPort),
      "Hello, Budi!",
      server.output,
    );
    assertNotMatch(server.output, /Cannot listen/);
  },
});
