// Property-based tests of the greeting handler: for generated queries, names,
// methods and Accept headers it never throws, never answers 5xx, escapes every
// HTML-special character of the name, round-trips the name through JSON, and
// answers HEAD with the same headers as GET.

import { assert, assertEquals } from "@std/assert";
import fc from "fast-check";
import { createGreetingHandler, GREETING_MEDIA_TYPES } from "../mod.ts";

const greet = createGreetingHandler();

// Bounded so the whole file runs in about a second.
const RUNS = { numRuns: 1000 };

/** Any Unicode text, with astral characters, kept well-formed for encodeURIComponent. */
const anyName = fc.string({ unit: "binary", maxLength: 40 });

/** Text that is valid in a header value (Latin-1, no NUL, CR or LF). */
const headerText = fc.string({
  unit: fc.integer({ min: 0x20, max: 0xff }).map((code) =>
    String.fromCharCode(code)
  ),
  maxLength: 60,
});

/** Accept headers: the interesting ones, their combinations, and junk. */
const anyAccept = fc.option(
  fc.oneof(
    fc.constantFrom(
      "",
      "*/*",
      "text/*",
      "text/html",
      "text/plain",
      "application/json",
      "application/*;q=0.9, text/html;q=0.1",
      "text/html;q=0, */*;q=0.5",
      "image/png",
      "application/json;q=0",
      ";;;,,,",
      "*/*;q=abc",
    ),
    fc.array(
      fc.tuple(
        fc.constantFrom(
          "text/html",
          "text/plain",
          "application/json",
          "*/*",
          "image/*",
          "x/y",
        ),
        fc.option(fc.double({ min: 0, max: 1, noNaN: true })),
      ).map(([type, q]) => q === null ? type : `${type};q=${q.toFixed(3)}`),
      { minLength: 1, maxLength: 4 },
    ).map((types) => types.join(", ")),
    headerText,
  ),
  { nil: undefined },
);

const anyMethod = fc.constantFrom(
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "DELETE",
  "OPTIONS",
  "PATCH",
);

/** Raw query text, including malformed escapes, `#`, spaces and non-ASCII. */
const anyQuery = fc.oneof(
  fc.string({ unit: "binary", maxLength: 80 }),
  fc.array(
    fc.tuple(
      fc.constantFrom("name", "%6Eame", "nam", "names", "x", ""),
      fc.oneof(
        fc.string({ maxLength: 20 }),
        fc.constantFrom("%", "%zz", "%E0%A4%A", "%FF", "+", "%00", "<>&\"'"),
      ),
    ).map(([key, value]) => `${key}=${value}`),
    { maxLength: 5 },
  ).map((pairs) => pairs.join("&")),
);

function request(
  target: string,
  method = "GET",
  accept?: string,
): Request {
  return new Request(`http://localhost${target}`, {
    method,
    headers: accept === undefined ? {} : { accept },
  });
}

/** The name as the handler should see it: the teaching text's default when empty. */
function expectedName(name: string): string {
  return name === "" ? "world" : name;
}

Deno.test("property: any query, method and Accept gets 200 or 4xx, never an exception", () => {
  fc.assert(
    fc.property(
      fc.constantFrom("/", "/x", "//", "/%2F", "/index.html"),
      anyQuery,
      anyMethod,
      anyAccept,
      (path, query, method, accept) => {
        const response = greet(request(`${path}?${query}`, method, accept));
        assert(
          response.status === 200 ||
            (response.status >= 400 && response.status < 500),
          `status ${response.status}`,
        );
        if (path !== "/") assertEquals(response.status, 404);
        else if (method !== "GET" && method !== "HEAD") {
          assertEquals(response.status, 405);
          assertEquals(response.headers.get("allow"), "GET, HEAD");
        }
      },
    ),
    RUNS,
  );
});

Deno.test("property: the HTML body holds no unescaped <, >, &, \" or ' from the name", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.string({
        unit: fc.oneof(
          fc.constantFrom("<", ">", "&", '"', "'", "&amp;", "&#39;"),
          fc.string({ unit: "binary", minLength: 1, maxLength: 1 }),
        ),
        maxLength: 30,
      }),
      async (name) => {
        const response = greet(
          request(`/?name=${encodeURIComponent(name)}`, "GET", "text/html"),
        );
        assertEquals(response.status, 200);
        const body = await response.text();
        assert(body.startsWith("Hello, ") && body.endsWith("!"), body);
        const markup = body.slice("Hello, ".length, -1);
        // Only the five entities may produce these characters.
        assert(
          !/[<>"']|&(?!amp;|lt;|gt;|quot;|#39;)/.test(markup),
          `unescaped character in ${JSON.stringify(markup)}`,
        );
        const unescaped = markup.replace(
          /&(amp|lt|gt|quot|#39);/g,
          (entity) =>
            ({
              "&amp;": "&",
              "&lt;": "<",
              "&gt;": ">",
              "&quot;": '"',
              "&#39;": "'",
            })[entity]!,
        );
        assertEquals(unescaped, expectedName(name));
      },
    ),
    RUNS,
  );
});

Deno.test("property: the JSON body parses and round-trips any name", async () => {
  await fc.assert(
    fc.asyncProperty(anyName, async (name) => {
      const response = greet(
        request(
          `/?name=${encodeURIComponent(name)}`,
          "GET",
          "application/json",
        ),
      );
      assertEquals(response.status, 200);
      assertEquals(await response.json(), {
        message: `Hello, ${expectedName(name)}!`,
      });
    }),
    RUNS,
  );
});

Deno.test("property: percent-encoded bytes decode as URLSearchParams does, invalid UTF-8 included", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.uint8Array({ minLength: 1, maxLength: 30 }),
      async (bytes) => {
        const escaped = Array.from(
          bytes,
          (byte) => `%${byte.toString(16).padStart(2, "0")}`,
        ).join("");
        const response = greet(
          request(`/?name=${escaped}`, "GET", "application/json"),
        );
        const name = new URLSearchParams(`name=${escaped}`).get("name")!;
        assertEquals(await response.json(), {
          message: `Hello, ${expectedName(name)}!`,
        });
      },
    ),
    RUNS,
  );
});

Deno.test("property: HEAD answers with GET's status and headers and no body", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom("/", "/elsewhere"),
      anyQuery,
      anyAccept,
      async (path, query, accept) => {
        const target = `${path}?${query}`;
        const get = greet(request(target, "GET", accept));
        const head = greet(request(target, "HEAD", accept));
        assertEquals(head.status, get.status);
        const body = new Uint8Array(await get.arrayBuffer());
        assertEquals(await head.arrayBuffer(), new ArrayBuffer(0));
        // Deno.serve adds Content-Length to GET from the body; HEAD states it.
        const headHeaders = new Headers(head.headers);
        assertEquals(headHeaders.get("content-length"), String(body.length));
        headHeaders.delete("content-length");
        assertEquals([...headHeaders], [...get.headers]);
      },
    ),
    RUNS,
  );
});

// fetch() refuses to send empty or non-ASCII header values; the handler-level
// properties above cover those.
const fetchableAccept = anyAccept.filter((accept) =>
  accept === undefined || /^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/.test(accept)
);

Deno.test("property: over a real socket, HEAD and GET agree and nothing is 5xx", async () => {
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    greet,
  );
  const base = `http://127.0.0.1:${server.addr.port}`;
  await fc.assert(
    fc.asyncProperty(anyName, fetchableAccept, async (name, accept) => {
      const url = `${base}/?name=${encodeURIComponent(name)}`;
      const init = accept === undefined ? {} : { headers: { accept } };
      const get = await fetch(url, init);
      const body = await get.bytes();
      const head = await fetch(url, { ...init, method: "HEAD" });
      await head.body?.cancel();
      assert(get.status < 500, `status ${get.status}`);
      assertEquals(head.status, get.status);
      const withoutDate = (headers: Headers) =>
        [...headers].filter(([key]) => key !== "date");
      assertEquals(withoutDate(head.headers), withoutDate(get.headers));
      assertEquals(get.headers.get("content-length"), String(body.length));
      if (
        get.status === 200 && get.headers.get("content-type")!.includes("json")
      ) {
        assertEquals(JSON.parse(new TextDecoder().decode(body)), {
          message: `Hello, ${expectedName(name)}!`,
        });
      }
    }),
    { numRuns: 100 },
  );
});

/**
 * The negotiation RFC 9110 describes, written plainly with `split` (the
 * generated headers hold no quoted commas or semicolons): the most specific
 * fitting range gives each type its weight; highest weight, then most
 * specific, then first listed, then the handler's order.
 */
function modelNegotiation(accept: string): string | undefined {
  const best = GREETING_MEDIA_TYPES.map(() => ({ q: 0, s: -1, pos: 0 }));
  accept.split(",").forEach((entry, pos) => {
    const [range = "", ...params] = entry.split(";");
    const [type, subtype, ...rest] = range.trim().toLowerCase().split("/");
    const token = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;
    if (
      rest.length > 0 || !token.test(type ?? "") ||
      !token.test(subtype ?? "") || (type === "*" && subtype !== "*")
    ) return;
    let q = 1;
    let qSeen = false;
    let hasParams = false;
    let fits = true;
    for (const param of params) {
      if (param.trim() === "") continue;
      const eq = param.indexOf("=");
      if (eq === -1) return;
      const name = param.slice(0, eq).trim().toLowerCase();
      let value = param.slice(eq + 1).trim();
      if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
        value = value.slice(1, -1);
      }
      if (name === "q") {
        if (qSeen) continue;
        qSeen = true;
        const weight = Number(value);
        if (!/^[0-9.]+$/.test(value) || !(weight >= 0 && weight <= 1)) return;
        q = weight;
      } else {
        hasParams = true;
        if (name !== "charset" || value.toLowerCase() !== "utf-8") fits = false;
      }
    }
    if (!fits) return;
    GREETING_MEDIA_TYPES.forEach((offered, k) => {
      const [offeredType, offeredSubtype] = offered.split("/");
      if (type !== "*" && type !== offeredType) return;
      if (subtype !== "*" && subtype !== offeredSubtype) return;
      const s = (type === "*" ? 0 : 4) + (subtype === "*" ? 0 : 2) +
        (hasParams ? 1 : 0);
      const current = best[k]!;
      if (s > current.s || (s === current.s && q > current.q)) {
        best[k] = { q, s, pos };
      }
    });
  });
  let winner = -1;
  best.forEach((fit, k) => {
    if (fit.q <= 0) return;
    const top = best[winner];
    if (
      top === undefined || fit.q > top.q ||
      (fit.q === top.q &&
        (fit.s > top.s || (fit.s === top.s && fit.pos < top.pos)))
    ) winner = k;
  });
  return GREETING_MEDIA_TYPES[winner];
}

const ows = fc.constantFrom("", " ", "\t", "  ");
const mediaRange = fc.tuple(
  fc.constantFrom("text", "TEXT", "application", "image", "*"),
  fc.constantFrom("html", "Plain", "plain", "json", "JSON", "png", "*"),
);
const parameter = fc.oneof(
  fc.constantFrom(
    "charset=utf-8",
    "charset=UTF-8",
    'charset="utf-8"',
    "Charset=Utf-8",
    "charset=latin1",
    "level=1",
    "q=0",
    "q=0.5",
    "q=1",
    "q=0.001",
    "Q=0.7",
    "q=1.000",
    "q=2",
    "q=abc",
    "q=",
    "flag",
    "",
  ),
  fc.integer({ min: 0, max: 1000 }).map((n) => `q=${n / 1000}`),
);
/** A list of media ranges, each with parameters in a generated order. */
const acceptWithParams = fc.array(
  fc.tuple(
    mediaRange,
    fc.array(fc.tuple(ows, parameter, ows), { maxLength: 4 }),
    ows,
  ),
  { minLength: 1, maxLength: 5 },
).map((ranges) =>
  ranges.map(([[type, subtype], params, space]) =>
    `${space}${type}/${subtype}${
      params.map(([before, param, after]) => `${before};${after}${param}`).join(
        "",
      )
    }`
  ).join(",")
);

function negotiated(accept: string): string | undefined {
  const response = greet(request("/", "GET", accept));
  if (response.status === 406) return undefined;
  assertEquals(response.status, 200);
  return response.headers.get("content-type")!.split(";")[0];
}

Deno.test("property: Accept negotiation agrees with a plain model of RFC 9110", () => {
  fc.assert(
    fc.property(acceptWithParams, (accept) => {
      assertEquals(negotiated(accept), modelNegotiation(accept), accept);
    }),
    { numRuns: 3000 },
  );
});

Deno.test("property: the order of a range's parameters does not change the answer", () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(mediaRange, fc.array(parameter, { maxLength: 4 }))),
      fc.infiniteStream(fc.nat()),
      (ranges, seeds) => {
        const write = (order: (params: string[]) => string[]) =>
          ranges.map(([[type, subtype], params]) =>
            [`${type}/${subtype}`, ...order(params)].join(";")
          ).join(", ");
        // q counts once, whichever comes first: keep every range's first q first.
        const shuffle = (params: string[]) => {
          const firstQ = params.findIndex((p) => /^q=/i.test(p));
          const rest = params.filter((_, i) => i !== firstQ);
          const shuffled = rest
            .map((p) => ({ p, key: seeds.next().value as number }))
            .sort((a, b) => a.key - b.key)
            .map(({ p }) => p);
          return firstQ === -1 ? shuffled : [params[firstQ]!, ...shuffled];
        };
        const original = write((params) => params);
        if (original === "") return;
        assertEquals(
          negotiated(write(shuffle)),
          negotiated(original),
          original,
        );
        assertEquals(
          negotiated(original.toUpperCase()),
          negotiated(original),
          original,
        );
      },
    ),
    RUNS,
  );
});

Deno.test("property: the name is URLSearchParams' first non-empty name value", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.tuple(
          fc.constantFrom(
            "name",
            "na%6De",
            "%6E%61%6D%65",
            "nam",
            "x",
            "",
            "name+",
          ),
          fc.string({
            unit: fc.constantFrom(
              "a",
              "=",
              "+",
              "%",
              "%4",
              "%41",
              "%E2%82",
              "%AC",
              "%FF",
              " ",
              "é",
            ),
            maxLength: 8,
          }),
          fc.boolean(),
        ).map(([key, value, withEq]) => withEq ? `${key}=${value}` : key),
        { maxLength: 6 },
      ).map((pairs) => pairs.join("&")),
      async (query) => {
        const target = `/?${query}`;
        const response = greet(request(target, "GET", "application/json"));
        const search = new URL(`http://localhost${target}`).search.slice(1);
        const name = new URLSearchParams(search).getAll("name")
          .find((value) => value !== "") ?? "world";
        assertEquals(await response.json(), { message: `Hello, ${name}!` });
      },
    ),
    RUNS,
  );
});

Deno.test("property: a name gets 400 exactly when it has more code points than maxNameLength", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 12 }),
      fc.string({ unit: "binary", minLength: 1, maxLength: 30 }),
      fc.constantFrom("percent", "plus", "raw"),
      (maxNameLength, name, spelling) => {
        const handler = createGreetingHandler({
          maxNameLength,
          defaultName: "",
        });
        const encoded = encodeURIComponent(name);
        const query = spelling === "percent"
          // Every byte escaped, the longest a name can be written.
          ? Array.from(
            new TextEncoder().encode(name),
            (byte) => `%${byte.toString(16).padStart(2, "0")}`,
          ).join("")
          : spelling === "plus"
          ? encoded.replaceAll("%20", "+")
          : encoded;
        const response = handler(request(`/?name=${query}`));
        const tooLong = [...name].length > maxNameLength;
        assertEquals(response.status, tooLong ? 400 : 200, query);
      },
    ),
    RUNS,
  );
});
