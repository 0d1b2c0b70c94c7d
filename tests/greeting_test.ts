import {
  assert,
  assertEquals,
  assertLess,
  assertMatch,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import {
  createGreetingHandler,
  GREETING_MEDIA_TYPES,
  type GreetingHandlerOptions,
} from "../mod.ts";

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

/** Asserts that each `Accept` value gets a 200 of the paired media type. */
async function assertNegotiates(cases: [string, string][]): Promise<void> {
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
}

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
  await assertNegotiates(cases);
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
  // The query ends at the fragment: a name after it is no query value.
  assertEquals(await text("/?x=1#&name=Evil"), "Hello, world!");
  assertEquals(await text("/?x#=1&name=Evil"), "Hello, world!");
  assertEquals(await text("/?nam=1&name=Budi&name=Ana"), "Hello, Budi!");
});

Deno.test("Accept ranges with charset=utf-8 match, in any parameter order", async () => {
  const cases: [string, string][] = [
    ["application/json; charset=utf-8", "application/json"],
    ["text/plain;charset=utf-8", "text/plain"],
    ["text/plain;charset=utf-8;q=0.5", "text/plain"],
    ["text/plain;q=0.5;charset=utf-8", "text/plain"],
    ['text/plain; charset="UTF-8"', "text/plain"],
    ["TEXT/Plain;Charset=Utf-8", "text/plain"],
    [
      "text/html;q=0.4, application/json;charset=utf-8;q=0.6",
      "application/json",
    ],
    ["text/*;charset=utf-8", "text/html"],
    ["*/*;charset=utf-8;q=0.1, text/plain;q=0.2", "text/plain"],
    // q is no media parameter: it does not stop charset from counting.
    ["text/plain;charset=latin1;q=1, text/html;q=0.5", "text/html"],
    ["text/plain;q=1;charset=latin1, text/html;q=0.5", "text/html"],
    // The most specific range sets the weight: text/plain is refused here.
    ["text/plain;q=0, text/*", "text/html"],
    [
      "text/plain;charset=utf-8;q=0, text/plain, application/json;q=0.9",
      "application/json",
    ],
    // Equal weights: the range listed first wins.
    ["text/plain, application/json", "text/plain"],
    ["application/json, text/plain", "application/json"],
    ["  application/json  ,\ttext/plain ", "application/json"],
    [
      "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
      "text/html",
    ],
    ["image/png, */*;q=0.01", "text/html"],
  ];
  await assertNegotiates(cases);
});

Deno.test("Accept ranges with parameters the greeting lacks, or malformed, match nothing", async () => {
  for (
    const accept of [
      "text/plain;charset=latin1",
      "text/plain;charset=utf-8;charset=latin1",
      "text/html;level=1",
      "application/json;q=0.5;v=2",
      "text/plain;flag",
      "text/plain;q=2",
      "text/plain;q=-1",
      "text/plain;q=abc",
      'text/plain;charset="utf-8',
      'text/plain;charset="utf-8"x',
      "*/plain",
      "text",
      "text/",
      "/plain",
      "text /plain",
      ",,, ;;;",
    ]
  ) {
    const response = get("/", { headers: { accept } });
    assertEquals(response.status, 406, accept);
    await response.body?.cancel();
  }
});

Deno.test("a quoted parameter may hold commas and semicolons", async () => {
  const response = get("/", {
    headers: { accept: 'text/html;x=";,", application/json' },
  });
  assertEquals(response.status, 200);
  assertEquals(
    response.headers.get("content-type"),
    "application/json; charset=utf-8",
  );
  await response.body?.cancel();
});

Deno.test("a name key may be percent-encoded in any letter", async () => {
  assertEquals(await text("/?na%6De=Budi"), "Hello, Budi!");
  assertEquals(await text("/?%6E%61%6D%65=Budi"), "Hello, Budi!");
  assertEquals(await text("/?%6E%61%6D%65x=Budi"), "Hello, world!");
  assertEquals(await text("/?name%00=Budi"), "Hello, world!");
});

/** Median time of `runs` rounds of three calls, after a warm-up round. */
function medianCost(run: () => void, runs = 7): number {
  const times: number[] = [];
  for (let round = -1; round < runs; round++) {
    const start = performance.now();
    for (let call = 0; call < 3; call++) run();
    if (round >= 0) times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return times[runs >> 1]!;
}

/**
 * Asserts that handling each hostile input costs at most `bound` times a
 * benign input of the same size. At these sizes a quadratic scan costs
 * hundreds of times more; a linear one stays within a few times.
 */
function assertLinear(
  label: string,
  benign: Request,
  hostile: Record<string, Request>,
  handler = greet,
  bound = 10,
): void {
  for (const [name, request] of Object.entries(hostile)) {
    let ratio = Infinity;
    // Under CPU contention one measurement can be off; a real superlinear
    // scan fails every attempt.
    for (let attempt = 0; attempt < 3 && ratio >= bound; attempt++) {
      const benignCost = medianCost(() => handler(benign));
      const hostileCost = medianCost(() => handler(request));
      ratio = hostileCost / Math.max(benignCost, 0.01);
    }
    assertLess(ratio, bound, `${label} ${name}: ${ratio.toFixed(1)}x`);
  }
}

function sized(pattern: string, size: number, prefix = ""): string {
  return prefix +
    pattern.repeat(Math.ceil((size - prefix.length) / pattern.length))
      .slice(0, size - prefix.length);
}

Deno.test("the query scan costs time linear in the query, whatever it holds", () => {
  const size = 256 * 1024;
  const query = (text: string) => new Request(`http://localhost/?${text}`);
  assertLinear("query", query(sized("ab=cd&", size)), {
    "&&&": query(sized("&", size)),
    "x&x&": query(sized("x&", size)),
    "===": query(sized("=", size)),
    "%6Eamf=x&": query(sized("%6Eamf=x&", size)),
    "name=&": query(sized("name=&", size)),
  });
  // Names are decoded only when short enough to be accepted; with no limit
  // to speak of, every name is decoded.
  const names = {
    "name=%%%": query(sized("%", size, "name=")),
    "name=<invalid UTF-8>": query(sized("%E0%A4%A", size, "name=")),
    "name=+++": query(sized("+", size, "name=")),
    "name=%41%41": query(sized("%41", size, "name=")),
  };
  const benignName = query(sized("Siti+Nurhaliza+", size, "name="));
  assertLinear("query", benignName, names);
  assertLinear(
    "query",
    benignName,
    names,
    createGreetingHandler({ maxNameLength: Number.MAX_SAFE_INTEGER }),
  );
});

Deno.test("Accept parsing costs time linear in the header, whatever it holds", () => {
  const size = 64 * 1024;
  const accept = (value: string) =>
    new Request("http://localhost/", { headers: { accept: value } });
  assertLinear("Accept", accept(sized("text/csv, ", size)), {
    ",,,": accept(sized(",", size)),
    ";;;": accept(sized(";", size, "a/b")),
    "a/b;q=1,": accept(sized("a/b;q=1,", size)),
    "unclosed quote": accept(sized(",", size, 'a/b;c="')),
    '"""': accept(sized('"', size, "a/b;c=")),
    "quoted backslashes": accept(sized("\\", size, 'a/b;c="')),
    "spaces": accept(`a/b${" ".repeat(size)}x`),
    "many parameters": accept(sized(";charset=utf-8", size, "text/plain")),
    "one long type": accept(sized("a", size, "text/")),
  });
});

Deno.test("each invalid option is refused up front, naming the option and value", () => {
  const cases: [GreetingHandlerOptions, ErrorConstructor, string][] = [
    [{ path: "hello" }, TypeError, 'path must start with "/", got "hello"'],
    [
      { path: 5 as unknown as string },
      TypeError,
      "path must be a string, got 5",
    ],
    [
      { path: "/héllo" },
      TypeError,
      'path must be spelled as in a request URL (here "/h%C3%A9llo"), got "/héllo"',
    ],
    [{ path: "/a?b" }, TypeError, 'got "/a?b"'],
    [{ path: "/a/../b" }, TypeError, 'got "/a/../b"'],
    [
      { maxNameLength: 0 },
      RangeError,
      "maxNameLength must be a positive whole number, got 0",
    ],
    [{ maxNameLength: -1 }, RangeError, "got -1"],
    [{ maxNameLength: 1.5 }, RangeError, "got 1.5"],
    [{ maxNameLength: NaN }, RangeError, "got NaN"],
    [{ maxNameLength: Infinity }, RangeError, "got Infinity"],
    [
      { maxNameLength: "9" as unknown as number },
      TypeError,
      'maxNameLength must be a number, got "9"',
    ],
    [
      { maxNameLength: 3 },
      RangeError,
      'defaultName must be at most maxNameLength (3) characters long, got "world"',
    ],
    [
      { defaultName: "x".repeat(257) },
      RangeError,
      "defaultName must be at most maxNameLength (256)",
    ],
    [
      { defaultName: 7 as unknown as string },
      TypeError,
      "defaultName must be a string, got 7",
    ],
    [
      { message: "Hi" as unknown as () => string },
      TypeError,
      'message must be a function, got "Hi"',
    ],
    [
      { onRequest: {} as unknown as () => void },
      TypeError,
      "onRequest must be a function, got an object",
    ],
  ];
  for (const [options, ErrorType, detail] of cases) {
    const error = assertThrows(
      () => createGreetingHandler(options),
      ErrorType,
      detail,
    );
    assertMatch(error.message, /^Cannot create the greeting handler: /);
  }
  assertThrows(
    () => createGreetingHandler(null as unknown as GreetingHandlerOptions),
    TypeError,
    "options must be an object, got null",
  );
});

Deno.test("options at their edges that are valid work", async () => {
  const one = createGreetingHandler({ maxNameLength: 1, defaultName: "😀" });
  assertEquals(await get("/", {}, one).text(), "Hello, 😀!");
  assertEquals(
    await get("/?name=ab", {}, one).text(),
    "Bad Request: the name is longer than 1 character\n",
  );
  const encoded = createGreetingHandler({ path: "/h%C3%A9llo" });
  assertEquals(
    await get("/héllo?name=Budi", {}, encoded).text(),
    "Hello, Budi!",
  );
  // The case of an escape's hex digits does not matter, on either side.
  assertEquals(await get("/h%c3%a9llo", {}, encoded).text(), "Hello, world!");
  const lower = createGreetingHandler({ path: "/h%c3%a9llo" });
  assertEquals(await get("/héllo", {}, lower).text(), "Hello, world!");
  assertEquals(await get("/h%c3%A9llo", {}, lower).text(), "Hello, world!");
  assertEquals(get("/h%c3%a9llx", {}, lower).status, 404);
  assertEquals(get("/hello", {}, lower).status, 404);
  const doubleSlash = createGreetingHandler({ path: "//x" });
  assertEquals(await get("//x", {}, doubleSlash).text(), "Hello, world!");
  const empty = createGreetingHandler({
    defaultName: "",
    message: (name) => name ? `Hi ${name}` : "Hi",
  });
  assertEquals(await get("/", {}, empty).text(), "Hi");
  const huge = createGreetingHandler({
    maxNameLength: Number.MAX_SAFE_INTEGER,
  });
  assertEquals(get(`/?name=${"a".repeat(10_000)}`, {}, huge).status, 200);
});

Deno.test("a message that throws or returns no string answers a bare 500 and reports the error", async () => {
  const reported: unknown[][] = [];
  const consoleError = console.error;
  console.error = (...args: unknown[]) => reported.push(args);
  try {
    const statuses: number[] = [];
    const failures = [
      () => {
        throw new Error("boom");
      },
      () => 42 as unknown as string,
      () => undefined as unknown as string,
    ];
    for (const message of failures) {
      const handler = createGreetingHandler({
        message,
        onRequest: (entry) => statuses.push(entry.status),
      });
      for (const accept of ["text/html", "text/plain", "application/json"]) {
        const response = get("/?name=Budi", { headers: { accept } }, handler);
        assertEquals(response.status, 500);
        assertEquals(await response.text(), "Internal Server Error\n");
        const head = get("/", { method: "HEAD" }, handler);
        assertEquals(head.status, 500);
        assertEquals(head.body, null);
      }
    }
    assertEquals(statuses, Array(18).fill(500));
    assertEquals(reported.length, 18);
    assertStringIncludes(String(reported[0]![0]), "message option");
    assertEquals((reported[0]![1] as Error).message, "boom");
    assertStringIncludes(
      (reported[6]![1] as Error).message,
      "message must return a string, got 42",
    );
  } finally {
    console.error = consoleError;
  }
});

Deno.test("an async onRequest or message that rejects is reported, not left unhandled", async () => {
  const reported: unknown[][] = [];
  const consoleError = console.error;
  console.error = (...args: unknown[]) => reported.push(args);
  try {
    const logged = createGreetingHandler({
      onRequest: async () => {
        await Promise.resolve();
        throw new Error("async hook");
      },
    });
    const response = get("/?name=Budi", {}, logged);
    assertEquals(await response.text(), "Hello, Budi!");
    const asyncMessage = createGreetingHandler({
      message: async () => {
        await Promise.resolve();
        throw new Error("async message");
      },
    } as unknown as GreetingHandlerOptions);
    const failed = get("/", {}, asyncMessage);
    assertEquals(failed.status, 500);
    await failed.body?.cancel();
    // Let both rejections settle: an unhandled one would fail this test.
    await new Promise((resolve) => setTimeout(resolve, 0));
    assertEquals(reported.length, 2);
    assertEquals((reported[0]![0] as Error).message, "async hook");
    assertEquals(
      (reported[1]![1] as Error).message,
      "Cannot greet: message must return a string, got a promise",
    );
  } finally {
    console.error = consoleError;
  }
});

Deno.test("GREETING_MEDIA_TYPES cannot be changed under the handler", async () => {
  assert(Object.isFrozen(GREETING_MEDIA_TYPES));
  assertThrows(() => {
    (GREETING_MEDIA_TYPES as unknown as string[])[0] = "text/x-evil";
  }, TypeError);
  assertEquals(
    get("/").headers.get("content-type"),
    "text/html; charset=utf-8",
  );
  await get("/").body?.cancel();
});

Deno.test("the default name is HTML-escaped like a given one", async () => {
  const handler = createGreetingHandler({ defaultName: "<b>&</b>" });
  assertEquals(
    await get("/", {}, handler).text(),
    "Hello, &lt;b&gt;&amp;&lt;/b&gt;!",
  );
  assertEquals(
    await get("/", { headers: { accept: "text/plain" } }, handler).text(),
    "Hello, <b>&</b>!",
  );
});

Deno.test("invalid UTF-8 in a name counts as one U+FFFD per bad sequence against the limit", () => {
  const handler = createGreetingHandler({ maxNameLength: 3, defaultName: "" });
  assertEquals(get("/?name=%FF%FF%FF", {}, handler).status, 200);
  assertEquals(get("/?name=%FF%FF%FF%FF", {}, handler).status, 400);
  // "\uFFFD%A": the cut-off sequence, then the lone "%" and "A" as they are.
  assertEquals(get("/?name=%E0%A4%A", {}, handler).status, 200);
  assertEquals(get("/?name=%E0%A4%Ax", {}, handler).status, 400);
  assertEquals(
    get(`/?name=${"%F0%9F%98%80".repeat(3)}`, {}, handler).status,
    200,
  );
  assertEquals(
    get(`/?name=${"%F0%9F%98%80".repeat(4)}`, {}, handler).status,
    400,
  );
});

Deno.test("createGreetingHandler reads the target afresh when a request comes again with another Host", async () => {
  const greet = createGreetingHandler({ onRequest: () => {} });
  // As Deno.serve builds it for `GET /?name=Evil` with `Host: x/y`: the
  // Host, not the target, holds "/y".
  const request = new Request("http://x/y/?name=Evil");
  request.headers.set("host", "x/y");
  const first = greet(request);
  assertEquals(await first.text(), "Hello, Evil!");
  // Now the same URL is `GET /y/?name=Evil` sent to `Host: x`.
  request.headers.set("host", "x");
  const second = greet(request);
  assertEquals(second.status, 404);
  await second.body?.cancel();
});
