import {
  assert,
  assertEquals,
  assertMatch,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import { createGreetingHandler } from "../mod.ts";

const greet = createGreetingHandler();

function get(
  path: string,
  init: RequestInit = {},
  handler = greet,
): Response {
  return handler(new Request(`http://localhost${path}`, init));
}

async function text(path: string, accept?: string): Promise<string> {
  const response = get(path, accept ? { headers: { accept } } : {});
  assertEquals(response.status, 200);
  return await response.text();
}

Deno.test("GET / greets the world by default, as HTML", async () => {
  const response = get("/");
  assertEquals(response.status, 200);
  assertEquals(
    response.headers.get("content-type"),
    "text/html; charset=utf-8",
  );
  assertEquals(response.headers.get("vary"), "Accept");
  assertEquals(response.headers.get("x-content-type-options"), "nosniff");
  assertEquals(await response.text(), "Hello, world!");
});

Deno.test("the name comes from the first non-empty name value", async () => {
  assertEquals(await text("/?name=Budi"), "Hello, Budi!");
  assertEquals(await text("/?name=&name=Budi"), "Hello, Budi!");
  assertEquals(await text("/?name=Siti&name=Budi"), "Hello, Siti!");
  assertEquals(await text("/?x=1&name=Budi&y=2"), "Hello, Budi!");
  assertEquals(await text("/?name="), "Hello, world!");
  assertEquals(await text("/?name"), "Hello, world!");
  assertEquals(await text("/?names=Budi"), "Hello, world!");
  assertEquals(await text("/?"), "Hello, world!");
});

Deno.test("plus and percent escapes decode as in any query string", async () => {
  assertEquals(await text("/?name=Siti+Nurhaliza"), "Hello, Siti Nurhaliza!");
  assertEquals(
    await text("/?name=Siti%20Nurhaliza"),
    "Hello, Siti Nurhaliza!",
  );
  assertEquals(await text("/?%6Eame=Budi"), "Hello, Budi!");
  assertEquals(await text("/?name=a%2Bb%26c"), "Hello, a+b&amp;c!");
  assertEquals(await text("/?name=100%25"), "Hello, 100%!");
});

Deno.test("malformed percent escapes do not throw", async () => {
  // As URLSearchParams and Python's parse_qs: bad UTF-8 becomes U+FFFD, a
  // lone % stays.
  assertEquals(await text("/?name=%E0%A4%A"), "Hello, \uFFFD%A!");
  assertEquals(await text("/?name=%"), "Hello, %!");
  assertEquals(await text("/?name=%zz"), "Hello, %zz!");
  assertEquals(await text("/?name=%FF"), "Hello, \uFFFD!");
});

Deno.test("Unicode names round-trip in every media type", async () => {
  for (const name of ["Budi 😀", "Siti Nurhaliza", "Ñoño", "日本"]) {
    const query = `/?name=${encodeURIComponent(name)}`;
    assertEquals(await text(query, "text/plain"), `Hello, ${name}!`);
    assertEquals(await text(query, "text/html"), `Hello, ${name}!`);
    assertEquals(JSON.parse(await text(query, "application/json")), {
      message: `Hello, ${name}!`,
    });
  }
});

Deno.test("HTML escapes the name; plain text and JSON keep it raw", async () => {
  const query = `/?name=${encodeURIComponent(`<script>"x" & 'y'</script>`)}`;
  assertEquals(
    await text(query),
    "Hello, &lt;script&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/script&gt;!",
  );
  assertEquals(
    await text(query, "text/plain"),
    `Hello, <script>"x" & 'y'</script>!`,
  );
  assertEquals(JSON.parse(await text(query, "application/json")), {
    message: `Hello, <script>"x" & 'y'</script>!`,
  });
});

Deno.test("content negotiation picks html, plain or json", async () => {
  const cases: [string, string][] = [
    ["*/*", "text/html"],
    ["text/*", "text/html"],
    ["text/plain", "text/plain"],
    ["application/json", "application/json"],
    ["application/json, text/html;q=0.5", "application/json"],
    ["text/html;q=0.1, text/plain;q=0.9", "text/plain"],
    ["image/png, */*;q=0.1", "text/html"],
    ["", "text/html"],
  ];
  for (const [accept, type] of cases) {
    const response = get("/?name=Budi", { headers: { accept } });
    assertEquals(response.status, 200, accept);
    assertEquals(
      response.headers.get("content-type"),
      `${type}; charset=utf-8`,
      accept,
    );
    await response.body?.cancel();
  }
  const json = get("/?name=Budi", { headers: { accept: "application/json" } });
  assertEquals(await json.text(), `{"message":"Hello, Budi!"}`);
});

Deno.test("an Accept header that allows none of the types gets 406", async () => {
  for (const accept of ["image/png", "application/xml", "text/html;q=0"]) {
    const response = get("/", { headers: { accept } });
    assertEquals(response.status, 406, accept);
    assertEquals(response.headers.get("vary"), "Accept");
    assertStringIncludes(await response.text(), "text/html");
  }
});

Deno.test("HEAD gets the same status and headers as GET, and no body", async () => {
  for (const accept of ["text/html", "text/plain", "application/json"]) {
    const init = { headers: { accept } };
    const got = get("/?name=Budi%20%F0%9F%98%80", init);
    const head = get("/?name=Budi%20%F0%9F%98%80", { ...init, method: "HEAD" });
    const body = new Uint8Array(await got.arrayBuffer());
    assertEquals(head.status, got.status);
    assertEquals(head.body, null);
    assertEquals(head.headers.get("content-length"), String(body.byteLength));
    assertEquals(
      head.headers.get("content-type"),
      got.headers.get("content-type"),
    );
    assertEquals(head.headers.get("vary"), got.headers.get("vary"));
    assertEquals(
      head.headers.get("x-content-type-options"),
      got.headers.get("x-content-type-options"),
    );
  }
  const missing = get("/nope", { method: "HEAD" });
  assertEquals(missing.status, 404);
  assertEquals(missing.body, null);
});

Deno.test("other methods get 405 with Allow: GET, HEAD", async () => {
  for (const method of ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"]) {
    const response = get("/", { method });
    assertEquals(response.status, 405, method);
    assertEquals(response.headers.get("allow"), "GET, HEAD");
    assertMatch(await response.text(), /GET or HEAD/);
  }
});

Deno.test("other paths get 404 with a short body", async () => {
  for (const path of ["/x", "/index.html", "//", "/?/", "/%2F"]) {
    const response = get(path === "/?/" ? "/x?/" : path);
    assertEquals(response.status, 404, path);
    assertEquals(await response.text(), "Not Found\n");
  }
  // The path is matched before the method.
  assertEquals(get("/x", { method: "POST" }).status, 404);
});

Deno.test("a name over the limit gets 400, not a truncated greeting", async () => {
  const ok = "a".repeat(256);
  assertEquals(await text(`/?name=${ok}`), `Hello, ${ok}!`);
  const response = get(`/?name=${"a".repeat(257)}`);
  assertEquals(response.status, 400);
  assertStringIncludes(await response.text(), "256 characters");
  // The limit counts code points: 256 emoji (512 UTF-16 units) fit.
  const emoji = "😀".repeat(256);
  assertEquals(
    await text(`/?name=${encodeURIComponent(emoji)}`, "text/plain"),
    `Hello, ${emoji}!`,
  );
  const small = createGreetingHandler({ maxNameLength: 3, defaultName: "Ani" });
  assertEquals(get("/?name=Budi", {}, small).status, 400);
  assertEquals(get("/?name=Bud", {}, small).status, 200);
});

Deno.test("options change the path, default name and sentence", async () => {
  const halo = createGreetingHandler({
    path: "/sapa",
    defaultName: "dunia",
    message: (name) => `Halo, ${name}!`,
  });
  assertEquals(await get("/sapa", {}, halo).text(), "Halo, dunia!");
  assertEquals(await get("/sapa?name=Budi", {}, halo).text(), "Halo, Budi!");
  assertEquals(get("/", {}, halo).status, 404);
  assertEquals(get("/sapa/", {}, halo).status, 404);
});

Deno.test("invalid options are rejected when the handler is created", () => {
  assertThrows(() => createGreetingHandler({ path: "hello" }), TypeError);
  assertThrows(() => createGreetingHandler({ maxNameLength: 0 }), RangeError);
  assertThrows(() => createGreetingHandler({ maxNameLength: 1.5 }), RangeError);
});

Deno.test("each response gets headers of its own", () => {
  const first = get("/");
  first.headers.set("x-extra", "1");
  assertEquals(get("/").headers.get("x-extra"), null);
});

Deno.test("odd requests never throw or answer 5xx", async () => {
  const odd = [
    "/?name=%00",
    "/?name=%0D%0AX-Injected:%201",
    "/?&&&name=&&",
    "/?name==",
    "/?=Budi",
    "/#fragment",
    "/?name=Budi#frag",
    `/?${"&".repeat(10_000)}`,
    `/?name=${"%".repeat(1000)}`,
  ];
  for (const path of odd) {
    const response = get(path);
    assert(response.status < 500, path);
    await response.body?.cancel();
  }
  assertEquals(await text("/?name=Budi#frag"), "Hello, Budi!");
  assertEquals(await text("/?name=="), "Hello, =!");
});
