import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { startEchoServer } from "../mod.ts";
import { type Finished, runDeno } from "./_helpers.ts";
import { freePort, LOOPBACK, SeedServer } from "./_echo_helpers.ts";

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
  assertEquals(given, {
    code: 0,
    signal: null,
    stdout: "Halo dunia!\n",
    stderr: "",
  });
  assertEquals(byDefault.stdout, "Halo server!\n");
  assertEquals(piped.stdout, "dari stdin\n");
});

Deno.test("client.ts talks to the seed's Python server", async () => {
  await using python = await SeedServer.start();
  const result = await client(["--port", String(python.port)]);
  assertEquals(result.stdout, "Pesan diterima server\n");
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
    stdout: "Hello, Budi!\n",
    stderr: "",
  });
  assertEquals(unnamed.stdout, "Hello, world!\n");
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
  assertOneLineError(echo, 1, `${LOOPBACK}:${port}`, "server.ts");
  assertOneLineError(greet, 1, `${LOOPBACK}:${port}`, "server.ts");
  assertOneLineError(slow, 1, `${LOOPBACK}:${listener.addr.port}`, "300 ms");
});

Deno.test("client.ts rejects bad flags and unknown commands with the usage, exit 2", async () => {
  const results = await Promise.all([
    client(["--bogus"]),
    client(["--port", "99999"]),
    client(["--timeout", "soon"]),
    client(["hello", "there"]),
    client(["greet", "--port", "8000"]),
    client(["greet", "--url", "ftp://example.com/"]),
  ]);
  const messages = [
    "unknown option: --bogus",
    "--port must be a whole number from 0 to 65535",
    "--timeout must be a whole number",
    "unknown command: hello",
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

Deno.test("client.ts --help prints the usage, exit 0", async () => {
  const result = await client(["--help"]);
  assertEquals(result.code, 0, result.stderr);
  assert(result.stdout.startsWith("Usage:"));
  assertStringIncludes(result.stdout, "greet");
  assertEquals(result.stderr, "");
});

Deno.test("client.ts without -N says to pass it, exit 1", async () => {
  const result = await runDeno([], "client.ts", ["--port", "12345"]);
  assertOneLineError(result, 1, "deno run -N client.ts");
});
