// The programs in examples/ run the way their headers and docs/id/README.md
// say. The teaching twins (examples/*.ts) are checked against the teaching
// text's own Python programs in both directions, also after being copied into
// an empty folder; the library examples (examples/library/) against the same.

import {
  assert,
  assertEquals,
  assertMatch,
  assertNotMatch,
  assertRejects,
} from "@std/assert";
import { projectPath, runDeno, Spawned } from "./_helpers.ts";
import {
  Background,
  delay,
  freePort,
  LOOPBACK,
  readAll,
  resetClients,
  runSeedClient,
  SeedServer,
  within,
} from "./_echo_helpers.ts";

const HAS_PYTHON = await new Deno.Command("python3", { args: ["--version"] })
  .output().then((output) => output.success, () => false);
const NEEDS_PYTHON = HAS_PYTHON ? "" : " (ignored: needs python3)";

const STARTING = /Starting server on port (\d+)\.\.\./;
const READY = /Server siap menerima koneksi\.\.\. \(port (\d+)\)/;
const SERVE_LISTENING = /Listening on http:\/\/127\.0\.0\.1:(\d+)\//;
const TWINS = ["greeting_server.ts", "socket_server.ts", "socket_client.ts"];

/** A teaching twin run as `deno run -N FILE ARGS` in `cwd`, nothing else. */
function startTwin(file: string, args: string[], cwd?: string): Background {
  return new Background(
    Deno.execPath(),
    ["run", "-N", file, ...args],
    cwd === undefined ? {} : { cwd },
  );
}

/** Runs a teaching twin to completion as `deno run -N FILE ARGS` in `cwd`. */
async function runTwin(
  file: string,
  args: string[],
  cwd?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-N", file, ...args],
    ...(cwd === undefined ? {} : { cwd }),
    stdin: "null",
    signal: AbortSignal.timeout(20_000),
  }).output();
  return {
    code: output.code,
    stdout: new TextDecoder().decode(output.stdout),
    stderr: new TextDecoder().decode(output.stderr),
  };
}

/**
 * The port a server prints in the first group of `pattern`; a server that
 * never prints it is stopped before the error is passed on.
 */
async function listeningPort(
  server: AsyncDisposable & {
    waitFor(pattern: RegExp): Promise<RegExpMatchArray>;
  },
  pattern: RegExp,
): Promise<string | undefined> {
  try {
    return (await server.waitFor(pattern))[1];
  } catch (error) {
    await server[Symbol.asyncDispose]();
    throw error;
  }
}

/** Starts a socket server twin on a free port and returns it with that port. */
async function socketTwin(
  file = projectPath("examples/socket_server.ts"),
  cwd?: string,
): Promise<{ server: Background; port: number }> {
  const server = startTwin(file, ["0"], cwd);
  return { server, port: Number(await listeningPort(server, READY)) };
}

/** Starts a greeting server twin on a free loopback port; returns its URL. */
async function greetingTwin(
  file = projectPath("examples/greeting_server.ts"),
  cwd?: string,
): Promise<{ server: Background; url: string }> {
  const server = startTwin(file, ["0", LOOPBACK], cwd);
  const port = await listeningPort(server, STARTING);
  return { server, url: `http://${LOOPBACK}:${port}` };
}

/**
 * The teaching text's `server.py` unchanged but for its address: a free port
 * instead of 8000, and loopback instead of every interface.
 */
async function seedGreetingServer(): Promise<
  { server: Background; url: string }
> {
  const port = freePort();
  const text = await Deno.readTextFile(
    new URL("./fixtures/seed_server.py", import.meta.url),
  );
  const program = text
    .replace(
      "server_address = ('', port)",
      `server_address = ('${LOOPBACK}', port)`,
    )
    .replace("MyHandler, 8000)", `MyHandler, ${port})`);
  assert(program.includes(LOOPBACK) && program.includes(String(port)));
  const server = new Background("python3", ["-u", "-c", program]);
  try {
    await server.waitFor(new RegExp(`Starting server on port ${port}`));
  } catch (error) {
    await server[Symbol.asyncDispose]();
    throw error;
  }
  return { server, url: `http://${LOOPBACK}:${port}` };
}

/** The lines a socket server twin (and the Python one) prints for a client. */
function clientLines(clientPort: number, message: string): string {
  return `Koneksi dari ('127.0.0.1', ${clientPort})\nPesan dari client: ${message}\n`;
}

/** Status, content type and body of a request, in one comparable record. */
async function answer(url: string, init?: RequestInit) {
  const response = await fetch(url, init);
  return {
    status: response.status,
    type: response.headers.get("content-type"),
    body: await response.text(),
  };
}

const QUERIES = [
  "/?name=Budi",
  "/",
  "/?name=",
  "/?name",
  "/?name=&name=Budi",
  "/?name=Budi&name=Ani",
  "/?name=Andi+Budi",
  "/?name=B%C3%BCdi",
  "/?name=a%26b&x=1",
  "/?name=%3Cb%3E",
  "/?name=%E0%A4%A",
  "/?nama=Budi",
  "/other",
  "/index.html?name=Budi",
];

Deno.test({
  name:
    `examples/greeting_server.ts answers as the text's server.py${NEEDS_PYTHON}`,
  ignore: !HAS_PYTHON,
  async fn() {
    const twin = await greetingTwin();
    await using _twin = twin.server;
    const seed = await seedGreetingServer();
    await using _seed = seed.server;

    for (const query of QUERIES) {
      const python = await answer(seed.url + query);
      const deno = await answer(twin.url + query);
      assertEquals(deno, python, query);
    }
    // Only do_GET is defined: any other method is 501 (the bodies differ:
    // Python's is an HTML error page).
    for (const method of ["POST", "HEAD", "PUT"]) {
      assertEquals(
        (await answer(`${twin.url}/`, { method })).status,
        (await answer(`${seed.url}/`, { method })).status,
        method,
      );
    }
    assertEquals(
      twin.server.output,
      `Starting server on port ${new URL(twin.url).port}...\n`,
    );
  },
});

Deno.test("examples/greeting_server.ts: Ctrl-C (SIGINT) shuts it down cleanly", async () => {
  await using server = new Spawned(["-N"], "examples/greeting_server.ts", [
    "0",
    LOOPBACK,
  ]);
  const url = `http://${LOOPBACK}:${(await server.waitFor(STARTING))[1]}`;
  assertEquals((await answer(`${url}/?name=Budi`)).body, "Hello, Budi!");
  assertEquals((await server.stop("SIGINT")).code, 0);
  assertMatch(
    server.stdout,
    /^Starting server on port \d+\.\.\.\nServer stopped\.\n$/,
  );
  assertEquals(server.stderr, "");
});

Deno.test("examples/socket_server.ts prints `Koneksi dari` at accept time, then the message, and answers", async () => {
  const { server, port } = await socketTwin();
  await using _server = server;

  using conn = await Deno.connect({ hostname: LOOPBACK, port });
  const local = conn.localAddr.port;
  // Nothing sent yet: the line is there as soon as the connection is accepted.
  await server.waitFor(
    new RegExp(`Koneksi dari \\('127\\.0\\.0\\.1', ${local}\\)\n$`),
  );
  await conn.write(new TextEncoder().encode("Apa kabar?"));
  assertEquals(
    new TextDecoder().decode(await readAll(conn)),
    "Pesan diterima server",
  );
  await server.waitFor(/Apa kabar\?\n/);
  assertEquals(
    server.output,
    `Server siap menerima koneksi... (port ${port})\n` +
      clientLines(local, "Apa kabar?"),
  );
});

Deno.test({
  name:
    `examples/socket_server.ts and socket_client.ts talk to the text's Python programs${NEEDS_PYTHON}`,
  ignore: !HAS_PYTHON,
  async fn() {
    const { server, port } = await socketTwin();
    await using _server = server;
    assertEquals(await runSeedClient(port), {
      code: 0,
      stdout: "Pesan dari server: Pesan diterima server\n",
      stderr: "",
    });
    await server.waitFor(/Pesan dari client: Halo server!\n/);

    await using python = await SeedServer.start();
    assertEquals(
      await runTwin(projectPath("examples/socket_client.ts"), [
        String(python.port),
      ]),
      {
        code: 0,
        stdout: "Pesan dari server: Pesan diterima server\n",
        stderr: "",
      },
    );
    await python.waitFor(/Pesan dari client: Halo server!/);
    assertMatch(python.output, /Koneksi dari \('127\.0\.0\.1', \d+\)/);
  },
});

Deno.test({
  name:
    `the teaching twins run from an empty folder with \`deno run -N\`${NEEDS_PYTHON}`,
  ignore: !HAS_PYTHON,
  async fn() {
    const folder = await Deno.makeTempDir({ prefix: "twins-" });
    try {
      for (const twin of TWINS) {
        await Deno.copyFile(
          projectPath(`examples/${twin}`),
          `${folder}/${twin}`,
        );
      }
      const copied = await socketTwin("socket_server.ts", folder);
      await using _server = copied.server;
      assertEquals(
        (await runSeedClient(copied.port)).stdout,
        "Pesan dari server: Pesan diterima server\n",
      );
      await using python = await SeedServer.start();
      assertEquals(
        await runTwin("socket_client.ts", [String(python.port)], folder),
        {
          code: 0,
          stdout: "Pesan dari server: Pesan diterima server\n",
          stderr: "",
        },
      );
      const greeting = await greetingTwin("greeting_server.ts", folder);
      await using _greeting = greeting.server;
      assertEquals(await answer(`${greeting.url}/?name=Budi`), {
        status: 200,
        type: "text/html",
        body: "Hello, Budi!",
      });
      assertMatch(
        copied.server.output,
        /^Server siap menerima koneksi\.\.\. \(port \d+\)\nKoneksi dari \('127\.0\.0\.1', \d+\)\nPesan dari client: Halo server!\n$/,
      );
    } finally {
      await Deno.remove(folder, { recursive: true });
    }
  },
});

Deno.test({
  name:
    `a client that stays silent holds up the text's Python socket server, not examples/socket_server.ts${NEEDS_PYTHON}`,
  ignore: !HAS_PYTHON,
  async fn() {
    const { server, port } = await socketTwin();
    await using _server = server;
    await using python = await SeedServer.start();

    for (const target of [port, python.port]) {
      using silent = await Deno.connect({ hostname: LOOPBACK, port: target });
      const waiting = runSeedClient(target);
      if (target === port) {
        // The Deno twin answers the second client while the first is silent.
        assertEquals(
          (await waiting).stdout,
          "Pesan dari server: Pesan diterima server\n",
        );
        await server.waitFor(/Halo server!\n/);
        assertMatch(
          server.output,
          /\)\n(Koneksi dari \('127\.0\.0\.1', \d+\)\n){2}Pesan dari client: Halo server!\n$/,
        );
      } else {
        // Python is stuck in recv() for the first client: the second waits.
        assertEquals(await within(waiting, 1_000), "timeout");
        await silent.write(new TextEncoder().encode("Saya dulu"));
        assertEquals(
          new TextDecoder().decode(await readAll(silent)),
          "Pesan diterima server",
        );
        assertEquals(
          (await waiting).stdout,
          "Pesan dari server: Pesan diterima server\n",
        );
        await python.waitFor(/Pesan dari client: Halo server!/);
        const output = python.output;
        assert(
          output.indexOf("Saya dulu") < output.indexOf("Halo server!"),
          output,
        );
      }
    }
  },
});

Deno.test({
  name:
    `a connection that stays silent holds up the text's server.py, not examples/greeting_server.ts${NEEDS_PYTHON}`,
  ignore: !HAS_PYTHON,
  async fn() {
    const twin = await greetingTwin();
    await using _twin = twin.server;
    const seed = await seedGreetingServer();
    await using _seed = seed.server;

    for (const { url } of [twin, seed]) {
      const { port } = new URL(url);
      using silent = await Deno.connect({
        hostname: LOOPBACK,
        port: Number(port),
      });
      using client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
      const waiting = fetch(`${url}/?name=Budi`, { client }).then((r) =>
        r.text()
      );
      if (url === twin.url) {
        assertEquals(await waiting, "Hello, Budi!");
      } else {
        assertEquals(await within(waiting, 1_000), "timeout");
        silent.close();
        assertEquals(await waiting, "Hello, Budi!");
      }
    }
  },
});

const SEED_PORT_FREE = isFree(12345);

Deno.test({
  name: `the socket twins use the text's port 12345 when given none${
    SEED_PORT_FREE ? "" : " (ignored: 127.0.0.1:12345 is in use)"
  }`,
  ignore: !SEED_PORT_FREE,
}, async () => {
  await using server = startTwin(projectPath("examples/socket_server.ts"), []);
  await server.waitFor(/^Server siap menerima koneksi\.\.\.\n/);
  assertEquals(
    await runTwin(projectPath("examples/socket_client.ts"), []),
    {
      code: 0,
      stdout: "Pesan dari server: Pesan diterima server\n",
      stderr: "",
    },
  );
});

/** Whether nothing listens on 127.0.0.1:`port`, for the text's own port. */
function isFree(port: number): boolean {
  try {
    Deno.listen({ hostname: LOOPBACK, port }).close();
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) return false;
    throw error;
  }
}

/** `deno serve` of a library example on a free loopback port, `flags` first. */
async function serveExample(
  script: string,
  flags: string[] = [],
  env?: Record<string, string>,
): Promise<{ server: Spawned; url: string }> {
  const server = new Spawned(
    // No -N: `deno serve` allows the address it listens on by itself.
    [...flags, "--host", LOOPBACK, "--port", "0"],
    script,
    [],
    { subcommand: "serve", ...(env ? { env } : {}) },
  );
  const port = await listeningPort(server, SERVE_LISTENING);
  return { server, url: `http://${LOOPBACK}:${port}` };
}

Deno.test("examples/library/greeting_server.ts greets and stops on Ctrl-C", async () => {
  await using server = new Spawned(
    ["-N"],
    "examples/library/greeting_server.ts",
    ["0", LOOPBACK],
  );
  const url = `http://${LOOPBACK}:${(await server.waitFor(STARTING))[1]}`;
  assertEquals(await answer(`${url}/?name=Budi`), {
    status: 200,
    type: "text/html; charset=utf-8",
    body: "Hello, Budi!",
  });
  assertEquals((await answer(`${url}/other`)).status, 404);
  assertEquals((await server.stop("SIGINT")).code, 0);
  assertMatch(
    server.stdout,
    /^Starting server on port \d+\.\.\.\nServer stopped\.\n$/,
  );
});

Deno.test({
  name:
    `examples/library/socket_server.ts and socket_client.ts talk to the text's Python programs${NEEDS_PYTHON}`,
  ignore: !HAS_PYTHON,
  async fn() {
    await using server = new Spawned(
      ["-N"],
      "examples/library/socket_server.ts",
      ["0"],
    );
    const port = Number((await server.waitFor(READY))[1]);
    assertEquals(
      (await runSeedClient(port)).stdout,
      "Pesan dari server: Pesan diterima server\n",
    );
    await server.waitFor(/Pesan dari client: Halo server!\n/);
    assertMatch(
      server.stdout,
      /^Server siap menerima koneksi\.\.\. \(port \d+\)\nKoneksi dari \('127\.0\.0\.1', \d+\)\nPesan dari client: Halo server!\n$/,
    );

    await using python = await SeedServer.start();
    const client = await runDeno(["-N"], "examples/library/socket_client.ts", [
      String(python.port),
    ]);
    assertEquals(client.stdout, "Pesan dari server: Pesan diterima server\n");
    assertEquals(client.code, 0);
    await python.waitFor(/Pesan dari client: Halo server!/);

    // Ctrl-C: the library's graceful shutdown, then a clean exit.
    assertEquals((await server.stop("SIGINT")).code, 0);
  },
});

Deno.test("examples/library/socket_server.ts answers a client while another stays silent", async () => {
  await using server = new Spawned(
    ["-N"],
    "examples/library/socket_server.ts",
    ["0"],
  );
  const port = Number((await server.waitFor(READY))[1]);
  using _silent = await Deno.connect({ hostname: LOOPBACK, port });
  const client = await runDeno(["-N"], "examples/library/socket_client.ts", [
    String(port),
  ]);
  assertEquals(client.stdout, "Pesan dari server: Pesan diterima server\n");
});

Deno.test("examples/library/router_urlpattern.ts mounts the greeting beside its own routes, without warnings", async () => {
  const { server, url } = await serveExample(
    "examples/library/router_urlpattern.ts",
  );
  await using _server = server;

  assertEquals(await answer(`${url}/greet?name=Budi`), {
    status: 200,
    type: "text/html; charset=utf-8",
    body: "Hello, Budi!",
  });
  assertEquals((await answer(`${url}/greet/B%C3%BCdi`)).body, "Hello, Büdi!");
  assertEquals(
    (await answer(`${url}/greet/%3Cb%3E`)).body,
    "Hello, &lt;b&gt;!",
  );
  assertEquals((await answer(`${url}/greet/%E0%A4%A`)).status, 400);
  assertEquals((await answer(`${url}/greet`, { method: "POST" })).status, 405);
  assertEquals(
    (await answer(`${url}/greet/Budi`, { method: "POST" })).status,
    405,
  );
  assertEquals((await answer(`${url}/health`)).body, "ok\n");
  assertEquals((await answer(`${url}/nope`)).status, 404);
  assertEquals((await answer(`${url}/greet/a/b`)).status, 404);
  await delay(100);
  assertNotMatch(server.stderr, /legacy/);
});

Deno.test("examples/library/router_hono.ts routes to the greeting in a Hono app, without warnings", async () => {
  const { server, url } = await serveExample("examples/library/router_hono.ts");
  await using _server = server;

  assertEquals(await answer(`${url}/greet?name=Budi`), {
    status: 200,
    type: "text/html; charset=utf-8",
    body: "Hello, Budi!",
  });
  assertEquals(
    (await answer(`${url}/greet?name=Budi`, {
      headers: { accept: "text/plain" },
    })).type,
    "text/plain; charset=utf-8",
  );
  assertEquals((await answer(`${url}/greet`, { method: "POST" })).status, 405);
  assertEquals((await answer(`${url}/health`)).body, "ok\n");
  assertMatch((await answer(`${url}/`)).body, /\/greet\?name=Budi/);
  assertEquals((await answer(`${url}/nope`)).status, 404);
  await delay(100);
  assertNotMatch(server.stderr, /legacy/);
});

Deno.test("examples/library/serve_parallel.ts answers under deno serve --parallel with 2 workers", async () => {
  const { server, url } = await serveExample(
    "examples/library/serve_parallel.ts",
    ["--parallel"],
    { DENO_JOBS: "2" },
  );
  await using _server = server;
  assertMatch(server.stderr + server.stdout, /with 2 threads/);

  // Separate connections, so the kernel can hand them to either worker.
  const bodies = await Promise.all(
    Array.from({ length: 20 }, async (_, i) => {
      using client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
      return await (await fetch(`${url}/?name=w${i}`, { client })).text();
    }),
  );
  assertEquals(bodies, Array.from({ length: 20 }, (_, i) => `Hello, w${i}!`));
});

Deno.test({
  name:
    `examples/socket_server.ts keeps serving after clients reset their connection${NEEDS_PYTHON}`,
  ignore: !HAS_PYTHON,
  async fn() {
    const { server, port } = await socketTwin();
    await using _server = server;
    await resetClients(port, 5);
    assertEquals(
      (await runSeedClient(port)).stdout,
      "Pesan dari server: Pesan diterima server\n",
    );
    assertNotMatch(server.output, /Uncaught/);
  },
});

Deno.test("the twins and the library client fail as docs/troubleshooting.md shows: port in use, connection refused, no -N", async () => {
  using taken = Deno.listen({ hostname: LOOPBACK, port: 0 });
  const busy = await runTwin(projectPath("examples/socket_server.ts"), [
    String(taken.addr.port),
  ]);
  assertEquals(busy.code, 1);
  assertMatch(busy.stderr, /AddrInUse: Address already in use/);

  const refused = await runTwin(projectPath("examples/socket_client.ts"), [
    String(freePort()),
  ]);
  assertEquals(refused.code, 1);
  assertMatch(refused.stderr, /ConnectionRefused: Connection refused/);

  const port = freePort();
  const libraryRefused = await runDeno(
    ["-N"],
    "examples/library/socket_client.ts",
    [String(port)],
  );
  assertEquals(libraryRefused.code, 1);
  assertMatch(
    libraryRefused.stderr,
    new RegExp(
      `ConnectionRefused: Cannot connect to 127\\.0\\.0\\.1:${port}: connection refused`,
    ),
  );

  const denied = await new Deno.Command(Deno.execPath(), {
    args: ["run", projectPath("examples/socket_client.ts")],
    stdin: "null",
  }).output();
  assertEquals(denied.code, 1);
  assertMatch(
    new TextDecoder().decode(denied.stderr),
    /NotCapable: Requires net access to "127\.0\.0\.1:12345", run again with the --allow-net flag/,
  );
});

const HAS_IPV6_LOOPBACK = (() => {
  try {
    Deno.listen({ hostname: "::1", port: 0 }).close();
    return true;
  } catch {
    return false;
  }
})();

Deno.test({
  name:
    `examples/greeting_server.ts listens on the address given as second argument${
      HAS_IPV6_LOOPBACK ? "" : " (ignored: no IPv6 loopback)"
    }`,
  ignore: !HAS_IPV6_LOOPBACK,
}, async () => {
  await using server = startTwin(projectPath("examples/greeting_server.ts"), [
    "0",
    "::1",
  ]);
  const port = (await server.waitFor(STARTING))[1];
  assertEquals(
    (await answer(`http://[::1]:${port}/?name=Budi`)).body,
    "Hello, Budi!",
  );
  await assertRejects(() => fetch(`http://127.0.0.1:${port}/`), TypeError);
});
