import { assertEquals } from "@std/assert";
import { createGreetingHandler } from "../mod.ts";
import { formatRequestLog } from "../src/log.ts";
import { RawHttpConnection } from "./_http_helpers.ts";

function serve(): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    createGreetingHandler(),
  );
}

Deno.test("over a real socket: GET greets by name", async () => {
  await using server = serve();
  const base = `http://127.0.0.1:${server.addr.port}`;
  const response = await fetch(`${base}/?name=Budi`);
  assertEquals(response.status, 200);
  assertEquals(
    response.headers.get("content-type"),
    "text/html; charset=utf-8",
  );
  assertEquals(await response.text(), "Hello, Budi!");

  const json = await fetch(`${base}/?name=Budi%20%F0%9F%98%80`, {
    headers: { accept: "application/json" },
  });
  assertEquals(await json.json(), { message: "Hello, Budi 😀!" });
});

Deno.test("over a real socket: HEAD keeps Content-Length and sends no body", async () => {
  await using server = serve();
  const url = `http://127.0.0.1:${server.addr.port}/?name=Budi`;
  const head = await fetch(url, { method: "HEAD" });
  assertEquals(head.status, 200);
  assertEquals(head.headers.get("content-length"), "12");
  assertEquals(await head.text(), "");
});

Deno.test("over a real socket: 404, 405 and 406", async () => {
  await using server = serve();
  const base = `http://127.0.0.1:${server.addr.port}`;
  const missing = await fetch(`${base}/missing`);
  assertEquals(missing.status, 404);
  assertEquals(await missing.text(), "Not Found\n");
  const post = await fetch(`${base}/`, { method: "POST", body: "x" });
  assertEquals(post.status, 405);
  assertEquals(post.headers.get("allow"), "GET, HEAD");
  await post.body?.cancel();
  const png = await fetch(`${base}/`, { headers: { accept: "image/png" } });
  assertEquals(png.status, 406);
  await png.body?.cancel();
});

Deno.test("over a real socket: many concurrent requests are all answered", async () => {
  await using server = serve();
  const base = `http://127.0.0.1:${server.addr.port}`;
  const names = Array.from({ length: 200 }, (_, i) => `n${i}`);
  const bodies = await Promise.all(
    names.map(async (name) => (await fetch(`${base}/?name=${name}`)).text()),
  );
  assertEquals(bodies, names.map((name) => `Hello, ${name}!`));
});

Deno.test("over a real socket: Accept with charset=utf-8 gets the type, not 406", async () => {
  await using server = serve();
  const base = `http://127.0.0.1:${server.addr.port}`;
  for (
    const [accept, type] of [
      ["application/json; charset=utf-8", "application/json"],
      ["text/plain;charset=utf-8;q=0.5", "text/plain"],
      ["text/html;level=1, text/plain;q=0.1", "text/plain"],
    ] as const
  ) {
    const response = await fetch(`${base}/?name=Budi`, { headers: { accept } });
    assertEquals(response.status, 200, accept);
    assertEquals(
      response.headers.get("content-type"),
      `${type}; charset=utf-8`,
    );
    await response.body?.cancel();
  }
});

Deno.test("over a real socket: a Host header holding a path or query does not take over the request's", async () => {
  // Deno.serve's request.url is the Host header followed by the target as
  // sent, so `Host: x/?name=Evil&` made `/?name=Budi` read as `?name=Evil&/?name=Budi`.
  const targets: string[] = [];
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    createGreetingHandler({
      onRequest: (entry) =>
        targets.push(formatRequestLog(entry).split(" ")[3]!),
    }),
  );
  using connection = await RawHttpConnection.open(server.addr.port);
  const answers = [];
  for (const host of ["x/?name=Evil&", "a/b", "x#"]) {
    await connection.send(
      `GET /?name=Budi HTTP/1.1\r\nHost: ${host}\r\nAccept: text/plain\r\n\r\n`,
    );
    const response = await connection.readResponse();
    answers.push(`${response?.status} ${response?.body}`);
  }
  assertEquals(answers, Array(3).fill("200 Hello, Budi!"));
  assertEquals(targets, Array(3).fill("/?name=Budi"));
});
