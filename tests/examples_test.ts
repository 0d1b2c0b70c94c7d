// Every program in examples/ run the way its header says, talked to over
// loopback, its output checked; the socket examples also against the teaching
// text's own Python programs.

import {
  assert,
  assertEquals,
  assertMatch,
  assertNotMatch,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import { runDeno, Spawned } from "./_helpers.ts";
import {
  freePort,
  LOOPBACK,
  readAll,
  runSeedClient,
  SeedServer,
  waitUntil,
} from "./_echo_helpers.ts";

const STARTING = /Starting server on port (\d+)\.\.\./;
const READY = /Server siap menerima koneksi\.\.\./;
const SERVE_LISTENING = /Listening on http:\/\/127\.0\.0\.1:(\d+)\//;

function port(match: RegExpMatchArray): number {
  return Number(match[1]);
}

/** The example's output lines for one client, as the Python server prints them. */
function seedServerLines(clientPort: number, message: string): string {
  return `Koneksi dari ('127.0.0.1', ${clientPort})\nPesan dari client: ${message}\n`;
}

function startGreetingServer(
  script: string,
  args: string[] = ["--port", "0"],
): Spawned {
  return new Spawned(["-N"], script, ["--hostname", LOOPBACK, ...args]);
}

function startSocketServer(socketPort: number): Spawned {
  return new Spawned(["-N"], "examples/socket_server.ts", [
    "--port",
    String(socketPort),
  ]);
}

/** `deno serve` of an example on a free loopback port, `flags` first. */
async function serveExample(
  script: string,
  flags: string[] = [],
  env?: Record<string, string>,
): Promise<{ server: Spawned; url: string }> {
  const server = new Spawned(
    [...flags, "--host", LOOPBACK, "--port", "0"],
    script,
    [],
    { subcommand: "serve", ...(env ? { env } : {}) },
  );
  try {
    const url = `http://127.0.0.1:${
      port(await server.waitFor(SERVE_LISTENING))
    }`;
    return { server, url };
  } catch (error) {
    await server[Symbol.asyncDispose]();
    throw error;
  }
}

async function get(
  url: string,
  init?: RequestInit,
): Promise<{ status: number; body: string; type: string | null }> {
  const response = await fetch(url, init);
  return {
    status: response.status,
    body: await response.text(),
    type: response.headers.get("content-type"),
  };
}

/** Whether nothing listens on 127.0.0.1:`fixedPort`, for the seed's own ports. */
function isFree(fixedPort: number): boolean {
  try {
    Deno.listen({ hostname: LOOPBACK, port: fixedPort }).close();
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) return false;
    throw error;
  }
}

/** Connects to `socketPort` and sends `message`; returns the local port and the whole reply. */
async function talk(
  socketPort: number,
  message: string,
): Promise<{ localPort: number; reply: string }> {
  using conn = await Deno.connect({ hostname: LOOPBACK, port: socketPort });
  await conn.write(new TextEncoder().encode(message));
  const reply = new TextDecoder().decode(await readAll(conn));
  return { localPort: conn.localAddr.port, reply };
}

Deno.test("examples/greeting_server.ts greets like server.py", async () => {
  await using server = startGreetingServer("examples/greeting_server.ts");
  const url = `http://127.0.0.1:${port(await server.waitFor(STARTING))}`;

  assertEquals(await get(`${url}/?name=Budi`), {
    status: 200,
    body: "Hello, Budi!",
    type: "text/html; charset=utf-8",
  });
  assertEquals((await get(`${url}/`)).body, "Hello, world!");
  assertEquals((await get(`${url}/other`)).status, 404);
  assertEquals(
    server.stdout,
    `Starting server on port ${new URL(url).port}...\n`,
  );
  assertEquals(server.stderr, "");
});

Deno.test("examples/socket_server.ts prints who connected and the message, and answers", async () => {
  const socketPort = freePort();
  await using server = startSocketServer(socketPort);
  await server.waitFor(READY);

  const first = await talk(socketPort, "Halo server!");
  assertEquals(first.reply, "Pesan diterima server");
  const second = await talk(socketPort, "Apa kabar?");
  assertEquals(second.reply, "Pesan diterima server");
  await server.waitFor(/Apa kabar\?\n/);

  assertEquals(
    server.stdout,
    "Server siap menerima koneksi...\n" +
      seedServerLines(first.localPort, "Halo server!") +
      seedServerLines(second.localPort, "Apa kabar?"),
  );
  assertEquals(server.stderr, "");
});

Deno.test("examples/socket_server.ts answers the seed's Python client", async () => {
  const socketPort = freePort();
  await using server = startSocketServer(socketPort);
  await server.waitFor(READY);

  const seed = await runSeedClient(socketPort);
  assertEquals(seed, {
    code: 0,
    stdout: "Pesan dari server: Pesan diterima server\n",
    stderr: "",
  });
  await server.waitFor(/Pesan dari client: Halo server!\n/);
  assertMatch(server.stdout, /^Koneksi dari \('127\.0\.0\.1', \d+\)$/m);
});

Deno.test("examples/socket_client.ts talks to socket_server.ts and to the seed's Python server", async () => {
  const socketPort = freePort();
  await using server = startSocketServer(socketPort);
  await server.waitFor(READY);
  const toDeno = await runDeno(["-N"], "examples/socket_client.ts", [
    "--port",
    String(socketPort),
  ]);
  assertEquals(toDeno.stdout, "Pesan dari server: Pesan diterima server\n");
  assertEquals(toDeno.code, 0);
  await server.waitFor(/Pesan dari client: Halo server!\n/);

  await using python = await SeedServer.start();
  const toPython = await runDeno(["-N"], "examples/socket_client.ts", [
    "--port",
    String(python.port),
  ]);
  assertEquals(toPython.stdout, "Pesan dari server: Pesan diterima server\n");
  assertEquals(toPython.code, 0);
  await python.waitFor(/Pesan dari client: Halo server!/);
  assertMatch(python.output, /Koneksi dari \('127\.0\.0\.1', \d+\)/);
});

Deno.test({
  name: "the socket examples use the seed's port 12345 by default",
  async fn() {
    if (!isFree(12345)) {
      console.log("skipped: 127.0.0.1:12345 is busy");
      return;
    }
    await using server = new Spawned(["-N"], "examples/socket_server.ts");
    const started = await server.waitFor(new RegExp(`${READY.source}|in use`));
    if (started[0] === "in use") {
      console.log("skipped: 127.0.0.1:12345 was taken meanwhile");
      return;
    }
    // The seed's client unchanged: seedProgram keeps 12345 when asked for it.
    assertEquals(
      (await runSeedClient(12345)).stdout,
      "Pesan dari server: Pesan diterima server\n",
    );
    const client = await runDeno(["-N"], "examples/socket_client.ts");
    assertEquals(client.stdout, "Pesan dari server: Pesan diterima server\n");
    await waitUntil(
      () => server.stdout.split("Pesan dari client: Halo server!").length === 3,
      "both messages printed",
    );
  },
});

Deno.test("examples/greeting_server.ts uses the seed's port 8000 by default", async () => {
  if (!isFree(8000)) {
    console.log("skipped: 127.0.0.1:8000 is busy");
    return;
  }
  await using server = startGreetingServer("examples/greeting_server.ts", []);
  const started = await server.waitFor(/Starting server on port \d+|in use/);
  if (started[0] === "in use") {
    console.log("skipped: 127.0.0.1:8000 was taken meanwhile");
    return;
  }
  assertEquals(started[0], "Starting server on port 8000");
  assertEquals(
    (await get("http://127.0.0.1:8000/?name=Budi")).body,
    "Hello, Budi!",
  );
});

Deno.test("examples/serve_forever.ts: SIGINT aborts the controller, requests in flight finish, exit 0", async () => {
  await using server = startGreetingServer("examples/serve_forever.ts");
  const url = `http://127.0.0.1:${port(await server.waitFor(STARTING))}/`;
  assertEquals((await get(`${url}?name=first`)).body, "Hello, first!");
  // Requests racing the signal either complete in full or are never accepted.
  const racing = Array.from(
    { length: 20 },
    (_, i) =>
      get(`${url}?name=r${i}`).then(
        (result) => ({ i, result }),
        () => undefined,
      ),
  );
  server.child.kill("SIGINT");
  for (const raced of await Promise.all(racing)) {
    if (raced !== undefined) {
      assertEquals(raced.result.body, `Hello, r${raced.i}!`);
    }
  }
  assertEquals((await server.finished()).code, 0);
  assertMatch(
    server.stdout,
    /^Starting server on port \d+\.\.\.\nSIGINT received: finishing requests in flight\.\.\.\nServer stopped\.\n$/,
  );
  await assertRejects(() => fetch(url), TypeError);
});

Deno.test("examples/serve_forever.ts: SIGTERM calls shutdown(), exit 0", async () => {
  await using server = startGreetingServer("examples/serve_forever.ts");
  const url = `http://127.0.0.1:${port(await server.waitFor(STARTING))}/`;
  assertEquals((await get(url)).body, "Hello, world!");
  assertEquals((await server.stop("SIGTERM")).code, 0);
  assertMatch(
    server.stdout,
    /\nSIGTERM received: finishing requests in flight\.\.\.\nServer stopped\.\n$/,
  );
  assertEquals(server.stderr, "");
});

Deno.test("examples/router_urlpattern.ts mounts the greeting beside its own routes", async () => {
  const { server, url } = await serveExample("examples/router_urlpattern.ts");
  await using _server = server;

  assertEquals(await get(`${url}/greet?name=Budi`), {
    status: 200,
    body: "Hello, Budi!",
    type: "text/html; charset=utf-8",
  });
  assertEquals((await get(`${url}/greet/B%C3%BCdi`)).body, "Hello, Büdi!");
  assertEquals((await get(`${url}/greet/%3Cb%3E`)).body, "Hello, &lt;b&gt;!");
  assertEquals((await get(`${url}/greet/%E0%A4%A`)).status, 400);
  assertEquals(
    (await get(`${url}/greet`, { headers: { accept: "application/json" } }))
      .body,
    '{"message":"Hello, world!"}',
  );
  assertEquals((await get(`${url}/greet`, { method: "POST" })).status, 405);
  assertEquals(await get(`${url}/health`), {
    status: 200,
    body: "ok\n",
    type: "text/plain;charset=UTF-8",
  });
  assertStringIncludes((await get(`${url}/`)).body, "/greet?name=Budi");
  assertEquals((await get(`${url}/nope`)).status, 404);
  assertEquals((await get(`${url}/greet/a/b`)).status, 404);
});

Deno.test("examples/router_hono.ts mounts the greeting in a Hono app", async () => {
  const { server, url } = await serveExample("examples/router_hono.ts");
  await using _server = server;

  assertEquals(await get(`${url}/greet?name=Budi`), {
    status: 200,
    body: "Hello, Budi!",
    type: "text/html; charset=utf-8",
  });
  // app.mount() strips /greet, so the greeting sees its own path "/".
  assertEquals((await get(`${url}/greet/`)).body, "Hello, world!");
  assertEquals(
    (await get(`${url}/greet?name=Budi`, { headers: { accept: "text/plain" } }))
      .type,
    "text/plain; charset=utf-8",
  );
  assertEquals((await get(`${url}/greet`, { method: "POST" })).status, 405);
  assertEquals((await get(`${url}/greet/other`)).status, 404);
  assertEquals((await get(`${url}/health`)).body, "ok\n");
  assertStringIncludes((await get(`${url}/`)).body, "/greet?name=Budi");
  assertEquals((await get(`${url}/nope`)).status, 404);
});

Deno.test("examples/serve_parallel.ts answers under deno serve --parallel with 2 workers", async () => {
  const { server, url } = await serveExample(
    "examples/serve_parallel.ts",
    ["--parallel"],
    { DENO_JOBS: "2" },
  );
  await using _server = server;
  assertMatch(server.stderr + server.stdout, /with 2 threads/);

  // Separate connections, so the kernel can hand them to either worker.
  const bodies = await Promise.all(
    Array.from({ length: 20 }, async (_, i) => {
      const client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
      try {
        return await (await fetch(`${url}/?name=w${i}`, { client })).text();
      } finally {
        client.close();
      }
    }),
  );
  assertEquals(bodies, Array.from({ length: 20 }, (_, i) => `Hello, w${i}!`));
});

Deno.test("the run examples report a busy port, a refused connection and a missing -N in one line", async () => {
  using taken = Deno.listen({ hostname: LOOPBACK, port: 0 });
  const busy = String(taken.addr.port);
  for (const script of ["greeting_server.ts", "serve_forever.ts"]) {
    const result = await runDeno(["-N"], `examples/${script}`, [
      "--hostname",
      LOOPBACK,
      "--port",
      busy,
    ]);
    assertEquals(result.code, 1);
    assertEquals(
      result.stderr,
      `examples/${script}: http://${LOOPBACK}:${busy}/ is already in use; pick another port\n`,
    );
  }
  const socket = await runDeno(["-N"], "examples/socket_server.ts", [
    "--port",
    busy,
  ]);
  assertEquals(socket.code, 1);
  assertEquals(
    socket.stderr,
    `examples/socket_server.ts: address 127.0.0.1:${busy} is already in use\n`,
  );

  const refusedPort = freePort();
  const refused = await runDeno(["-N"], "examples/socket_client.ts", [
    "--port",
    String(refusedPort),
  ]);
  assertEquals(refused.code, 1);
  assertEquals(
    refused.stderr,
    `examples/socket_client.ts: connection to 127.0.0.1:${refusedPort} refused: is the server running? (start it with \`deno run -N examples/socket_server.ts\`)\n`,
  );

  const denied = await runDeno([], "examples/socket_client.ts");
  assertEquals(denied.code, 1);
  assertEquals(
    denied.stderr,
    "examples/socket_client.ts: network access is needed: run it as `deno run -N examples/socket_client.ts`\n",
  );
});

Deno.test("the run examples reject bad flags with their usage (exit 2) and print it for --help", async () => {
  for (
    const script of [
      "greeting_server.ts",
      "serve_forever.ts",
      "socket_server.ts",
      "socket_client.ts",
    ]
  ) {
    const bad = await runDeno(["-N"], `examples/${script}`, ["--port", "x"]);
    assertEquals(bad.code, 2, script);
    assert(
      bad.stderr.startsWith(
        `examples/${script}: --port must be a whole number from 0 to 65535, got "x"\n\nUsage: deno run -N examples/${script} `,
      ),
      bad.stderr,
    );
    assertNotMatch(bad.stderr, /\n\s+at /);
    const help = await runDeno([], `examples/${script}`, ["--help"]);
    assertEquals(help.code, 0, script);
    assertMatch(
      help.stdout,
      new RegExp(`^Usage: deno run -N examples/${script}`),
    );
  }
});
