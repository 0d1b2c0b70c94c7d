/**
 * The HTTP greeting handler: the Deno counterpart of the teaching text's Python
 * `http.server` program, as a fetch-style handler usable with `Deno.serve` or
 * inside any router.
 *
 * @module
 */

import { STATUS_CODE, STATUS_TEXT } from "@std/http/status";

/**
 * Options for {@linkcode createGreetingHandler}. Every option has a default,
 * so `{}` gives the teaching text's greeting on `/`.
 *
 * @example Greet on another path, in another language
 * ```ts
 * import {
 *   createGreetingHandler,
 *   type GreetingHandlerOptions,
 * } from "@learn/server-client";
 * import { assertEquals } from "@std/assert";
 *
 * const options: GreetingHandlerOptions = {
 *   path: "/halo",
 *   defaultName: "dunia",
 *   message: (name) => `Halo, ${name}!`,
 * };
 * const handler = createGreetingHandler(options);
 * const response = handler(new Request("http://localhost/halo"));
 * assertEquals(await response.text(), "Halo, dunia!");
 * ```
 */
export interface GreetingHandlerOptions {
  /**
   * The path that answers with a greeting; every other path answers 404.
   * Compared with the request's path exactly as it appears in the URL
   * (percent escapes are not decoded, though the case of their hex digits
   * does not matter), so it must be written that way: `"/h%C3%A9llo"`, not
   * `"/héllo"`.
   *
   * @default {"/"}
   */
  path?: string;
  /**
   * The name greeted when the query has no non-empty `name` value. At most
   * `maxNameLength` code points long.
   *
   * @default {"world"}
   */
  defaultName?: string;
  /**
   * Builds the sentence from the name. For `text/html` it receives the name
   * already HTML-escaped and its result is sent as HTML, so the sentence
   * itself may hold markup; for `text/plain` and `application/json` it
   * receives the name as given. If it throws or returns something other than
   * a string, that request gets `500 Internal Server Error` with a one-line
   * body and the error is printed with `console.error`, as `Deno.serve` does
   * for a handler that throws.
   *
   * @default {(name) => "Hello, " + name + "!"}
   */
  message?: (name: string) => string;
  /**
   * The longest name accepted, in Unicode code points: a whole number from
   * 1 up. A longer name gets `400 Bad Request` with a short explanation
   * rather than a truncated greeting.
   *
   * @default {256}
   */
  maxNameLength?: number;
  /**
   * Called after each request is answered, for access logs. Absent, the
   * handler does no timing or bookkeeping at all. If it throws (or, being
   * async, rejects), the error is printed with `console.error` and the
   * response still goes out.
   *
   * @default {undefined}
   */
  onRequest?: (entry: RequestLogEntry) => void;
}

/**
 * What {@linkcode GreetingHandlerOptions.onRequest} learns of one request.
 *
 * @example Collect the status of every request
 * ```ts
 * import {
 *   createGreetingHandler,
 *   type RequestLogEntry,
 * } from "@learn/server-client";
 * import { assertEquals } from "@std/assert";
 *
 * const entries: RequestLogEntry[] = [];
 * const handler = createGreetingHandler({
 *   onRequest: (entry) => entries.push(entry),
 * });
 * await handler(new Request("http://localhost/missing")).body?.cancel();
 * assertEquals(entries.map((entry) => entry.status), [404]);
 * ```
 */
export interface RequestLogEntry {
  /** The request as received. */
  request: Request;
  /**
   * The client's address, when the caller passed connection info (as
   * `Deno.serve` does).
   */
  remoteAddr?: Deno.Addr;
  /** The response's status code. */
  status: number;
  /** Bytes in the response body (0 for `HEAD`). */
  bodyBytes: number;
  /** Time spent building the response, in milliseconds. */
  durationMs: number;
}

/**
 * The connection details a {@linkcode GreetingHandler} may get as its second
 * argument; `Deno.serve` passes them as `Deno.ServeHandlerInfo`.
 *
 * @example Pass the client's address when calling the handler yourself
 * ```ts
 * import {
 *   type ConnectionInfo,
 *   createGreetingHandler,
 * } from "@learn/server-client";
 * import { assertEquals } from "@std/assert";
 *
 * const seen: (Deno.Addr | undefined)[] = [];
 * const handler = createGreetingHandler({
 *   onRequest: (entry) => seen.push(entry.remoteAddr),
 * });
 * const info: ConnectionInfo = {
 *   remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 50000 },
 * };
 * await handler(new Request("http://localhost/"), info).text();
 * assertEquals(seen, [info.remoteAddr]);
 * ```
 */
export interface ConnectionInfo {
  /** The client's address. */
  remoteAddr: Deno.Addr;
}

/**
 * The fetch-style handler returned by {@linkcode createGreetingHandler}: it
 * fits `Deno.serve`, `export default { fetch }` and routers that take
 * `(request) => Response`.
 *
 * @example Mount it under a router's own dispatch
 * ```ts
 * import {
 *   createGreetingHandler,
 *   type GreetingHandler,
 * } from "@learn/server-client";
 * import { assertEquals } from "@std/assert";
 *
 * const greet: GreetingHandler = createGreetingHandler();
 * const app = (request: Request): Response =>
 *   new URL(request.url).pathname === "/"
 *     ? greet(request)
 *     : new Response("elsewhere");
 * assertEquals(await app(new Request("http://localhost/?name=Budi")).text(), "Hello, Budi!");
 * ```
 */
export type GreetingHandler = (
  request: Request,
  info?: ConnectionInfo,
) => Response;

/**
 * The media types the greeting is offered in, the first being the default.
 *
 * @example Ask for each one
 * ```ts
 * import {
 *   createGreetingHandler,
 *   GREETING_MEDIA_TYPES,
 * } from "@learn/server-client";
 * import { assertStringIncludes } from "@std/assert";
 *
 * const handler = createGreetingHandler();
 * for (const type of GREETING_MEDIA_TYPES) {
 *   const response = handler(
 *     new Request("http://localhost/", { headers: { accept: type } }),
 *   );
 *   await response.body?.cancel();
 *   assertStringIncludes(response.headers.get("content-type")!, type);
 * }
 * ```
 */
export const GREETING_MEDIA_TYPES: readonly [
  "text/html",
  "text/plain",
  "application/json",
] = Object.freeze(["text/html", "text/plain", "application/json"] as const);

type MediaType = typeof GREETING_MEDIA_TYPES[number];

// Each Response gets its own Headers built from these, so nothing a caller does
// to one response's headers can leak into another's. They are plain records:
// Deno converts a record to a header list with less checking than an array of
// pairs (a CPU profile under load showed the pairs' per-item conversion).
function greetingHeaders(
  contentType: string,
): Readonly<Record<string, string>> {
  return {
    "content-type": contentType,
    "vary": "Accept",
    "x-content-type-options": "nosniff",
  };
}

const GREETING_HEADERS: Record<MediaType, Readonly<Record<string, string>>> = {
  "text/html": greetingHeaders("text/html; charset=utf-8"),
  "text/plain": greetingHeaders("text/plain; charset=utf-8"),
  "application/json": greetingHeaders("application/json; charset=utf-8"),
};

const ERROR_HEADERS: Readonly<Record<string, string>> = {
  "content-type": "text/plain; charset=utf-8",
  "x-content-type-options": "nosniff",
};

const ALLOWED_METHODS = "GET, HEAD";
const NOT_ACCEPTABLE_BODY = `Not Acceptable: this resource is available as ${
  GREETING_MEDIA_TYPES.join(", ")
}\n`;

const INTERNAL_ERROR_BODY = `${STATUS_TEXT[STATUS_CODE.InternalServerError]}\n`;

const defaultMessage = (name: string): string => `Hello, ${name}!`;

/** Shows an option's value in an error message: strings quoted, the rest by type or value. */
function describe(value: unknown): string {
  if (typeof value === "string") {
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  }
  if (typeof value === "function") return "a function";
  if (value === null || typeof value !== "object") return String(value);
  if (value instanceof Promise) return "a promise";
  return Array.isArray(value) ? "an array" : "an object";
}

function upperCaseEscapes(text: string): string {
  return text.replace(/%[0-9a-f]{2}/gi, (escape) => escape.toUpperCase());
}

function reportHookError(error: unknown): void {
  // deno-lint-ignore no-console -- documented: a throwing onRequest is printed, and the response still goes out
  console.error(error);
}

function invalidOption(
  option: string,
  rule: string,
  value: unknown,
  ErrorType: typeof RangeError | typeof TypeError,
): Error {
  return new ErrorType(
    `Cannot create the greeting handler: ${option} ${rule}, got ${
      describe(value)
    }`,
  );
}

// Response bodies stay strings: Deno.serve sends a string body without the
// extra encode and copy a Uint8Array body costs per request. Their UTF-8 size is
// counted instead, for HEAD's Content-Length and for onRequest.
function utf8ByteLength(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) continue;
    if (code < 0x800) {
      bytes += 1;
    } else if (
      code >= 0xd800 && code <= 0xdbff && i + 1 < text.length &&
      (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00
    ) {
      // A surrogate pair: 4 bytes for its two code units.
      bytes += 2;
      i++;
    } else {
      // 3 bytes, a lone surrogate included (it is sent as U+FFFD).
      bytes += 2;
    }
  }
  return bytes;
}

// An Accept header naming just one of the types needs no parsing.
const EXACT_MEDIA_TYPES: ReadonlySet<string> = new Set(GREETING_MEDIA_TYPES);

// Each offered type split once, for matching media ranges against.
const OFFERED = GREETING_MEDIA_TYPES.map((type) => {
  const slash = type.indexOf("/");
  return { type: type.slice(0, slash), subtype: type.slice(slash + 1) };
});

// RFC 9110's token: what a type, subtype or parameter name may hold.
const TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;
// A q-value from 0 to 1 (RFC 9110 allows three decimals; more are tolerated).
const QVALUE = /^(?:0(?:\.\d*)?|1(?:\.0*)?|\.\d+)$/;

/**
 * Picks the greeting's media type for an `Accept` header, as RFC 9110
 * section 12.5.1 describes: for each type the most specific matching range
 * gives its weight; the highest weight wins, then the more specific range,
 * then the range listed first, then the order of `GREETING_MEDIA_TYPES`.
 * Media types, parameter names and the charset are case-insensitive. Every
 * parameter but `q`, wherever it stands, must be one the type is sent with
 * (`charset=utf-8`); a range with others (`text/html;level=1`) or a malformed
 * one (bad `q`, unclosed quote) fits nothing.
 *
 * It reads the header once, left to right, doing a bounded amount of work per
 * character, so no header costs more than its length: `@std/http`'s
 * `accepts` rescans a growing piece for every comma after an open quote, and
 * handles parameters differently in its JSR release and its offline stand-in.
 */
function negotiateMediaType(accept: string): MediaType | undefined {
  // The best fitting range so far for each offered type: its weight, its
  // specificity (-1: none fits yet) and its position in the header.
  const weights = [0, 0, 0];
  const specificities = [-1, -1, -1];
  const positions = [0, 0, 0];
  const length = accept.length;
  let i = 0;
  for (let position = 0; i < length; position++) {
    // The media range runs to the first ";" or ",".
    let j = i;
    while (j < length && accept[j] !== ";" && accept[j] !== ",") j++;
    const range = accept.slice(i, j).trim().toLowerCase();
    const slash = range.indexOf("/");
    const type = range.slice(0, slash);
    const subtype = range.slice(slash + 1);
    let valid = slash !== -1 && TOKEN.test(type) && TOKEN.test(subtype) &&
      (type !== "*" || subtype === "*");
    let q = 1;
    let qSeen = false;
    let hasParams = false;
    let paramsFit = true;
    while (j < length && accept[j] === ";") {
      j++;
      let nameEnd = j;
      while (
        nameEnd < length && accept[nameEnd] !== "=" &&
        accept[nameEnd] !== ";" && accept[nameEnd] !== ","
      ) nameEnd++;
      const name = accept.slice(j, nameEnd).trim().toLowerCase();
      j = nameEnd;
      if (accept[j] !== "=") {
        // `a/b;` and `a/b; ;c=d` hold empty parameters, which RFC 9110 allows.
        if (name !== "") valid = false;
        continue;
      }
      j++;
      while (accept[j] === " " || accept[j] === "\t") j++;
      let value: string;
      if (accept[j] === '"') {
        let k = j + 1;
        while (k < length && accept[k] !== '"') k += accept[k] === "\\" ? 2 : 1;
        if (k >= length) {
          // An unclosed quote runs to the end of the header.
          valid = false;
          j = length;
          break;
        }
        value = accept.slice(j + 1, k).replace(/\\(.)/gs, "$1");
        j = k + 1;
        while (accept[j] === " " || accept[j] === "\t") j++;
        if (j < length && accept[j] !== ";" && accept[j] !== ",") {
          valid = false;
          while (j < length && accept[j] !== ";" && accept[j] !== ",") j++;
        }
      } else {
        const valueStart = j;
        while (j < length && accept[j] !== ";" && accept[j] !== ",") j++;
        value = accept.slice(valueStart, j).trim();
      }
      if (!TOKEN.test(name)) {
        valid = false;
      } else if (name === "q") {
        if (qSeen) continue;
        qSeen = true;
        if (QVALUE.test(value)) q = Number(value);
        else valid = false;
      } else {
        hasParams = true;
        if (name !== "charset" || value.toLowerCase() !== "utf-8") {
          paramsFit = false;
        }
      }
    }
    i = j + 1;
    if (!valid || !paramsFit) continue;
    for (let k = 0; k < OFFERED.length; k++) {
      const offered = OFFERED[k]!;
      let specificity = hasParams ? 1 : 0;
      if (type === offered.type) specificity += 4;
      else if (type !== "*") continue;
      if (subtype === offered.subtype) specificity += 2;
      else if (subtype !== "*") continue;
      if (
        specificity > specificities[k]! ||
        (specificity === specificities[k] && q > weights[k]!)
      ) {
        specificities[k] = specificity;
        weights[k] = q;
        positions[k] = position;
      }
    }
  }
  let best = -1;
  for (let k = 0; k < OFFERED.length; k++) {
    if (weights[k]! <= 0) continue;
    if (
      best === -1 || weights[k]! > weights[best]! ||
      (weights[k] === weights[best] &&
        (specificities[k]! > specificities[best]! ||
          (specificities[k] === specificities[best] &&
            positions[k]! < positions[best]!)))
    ) best = k;
  }
  return best === -1 ? undefined : GREETING_MEDIA_TYPES[best];
}

const HTML_ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};
const HTML_SPECIAL = /[&<>"']/g;

/**
 * Escapes the five characters that are special in HTML text and attribute
 * values (what `@std/html`'s `escape` does, which the handler cannot depend
 * on offline).
 */
function escapeHtml(text: string): string {
  // Most names hold nothing to escape; testing first skips the replace call's allocation.
  HTML_SPECIAL.lastIndex = 0;
  if (!HTML_SPECIAL.test(text)) return text;
  return text.replace(HTML_SPECIAL, (char) => HTML_ESCAPES[char]!);
}

/**
 * Decodes one `application/x-www-form-urlencoded` component as
 * `URLSearchParams` does: `+` is a space, malformed percent escapes stay as
 * they are and invalid UTF-8 becomes U+FFFD. It never throws.
 */
function decodeQueryComponent(raw: string): string {
  const plus = raw.indexOf("+");
  if (plus === -1) {
    if (raw.indexOf("%") === -1) return raw;
    try {
      return decodeURIComponent(raw);
    } catch {
      // Malformed escapes, which decodeURIComponent rejects outright.
    }
  }
  // Slower for short text than decodeURIComponent, but linear in every case:
  // replacing each "+" first costs tens of nanoseconds per "+".
  return new URLSearchParams(`x=${raw}`).get("x")!;
}

// The most characters a key decoding to "name" can have: each letter as %XX.
const MAX_NAME_KEY_LENGTH = "name".length * 3;

/**
 * Finds the first non-empty `name` value in the raw query `url[from, to)`, as
 * Python's `parse_qs` does (it drops blank values), and returns it still
 * encoded (a non-empty value never decodes to an empty one). Scanning the raw
 * URL in place avoids building a `URL`, a `URLSearchParams` or even a string
 * of the query for every request (the garbage of those showed in profiles).
 */
function findName(url: string, from: number, to: number): string | undefined {
  let start = from;
  // The first "=" at or after `start`, searched for again only once `start`
  // has passed it: searching afresh for each part would rescan to the end of
  // the query for every part without one, a quadratic cost for `&&&...`.
  let eq = url.indexOf("=", from);
  while (start < to) {
    let end = url.indexOf("&", start);
    if (end === -1 || end > to) end = to;
    if (eq !== -1 && eq < start) eq = url.indexOf("=", start);
    if (eq !== -1 && eq < end - 1) {
      const keyLength = eq - start;
      if (
        (keyLength === 4 && url.startsWith("name", start)) ||
        (keyLength <= MAX_NAME_KEY_LENGTH &&
          decodeQueryComponent(url.slice(start, eq)) === "name")
      ) {
        return url.slice(eq + 1, end);
      }
    }
    start = end + 1;
  }
  return undefined;
}

// The access log finds the target of the request the handler just answered:
// under Deno.serve each `headers.get` is a call into the runtime, so the
// answer for the last request is kept.
let targetRequest: Request | undefined;
let targetStart = -1;

/**
 * Where the request target (`/path?query`) starts in `request.url`. Deno.serve
 * writes that URL as the `Host` header followed by the target as sent, so a
 * `Host` holding "/" or "?" (`x/?name=Evil&`) would be read as part of the
 * path and query if the path were taken to start at the first "/".
 * Not part of the public API: `formatRequestLog` logs the same target.
 */
export function requestTargetStart(request: Request): number {
  return request === targetRequest ? targetStart : findTargetStart(request);
}

/**
 * Finds where the target starts, and keeps the answer for the log. The
 * handler always looks afresh: a caller may pass the same request again
 * with another `Host`.
 */
function findTargetStart(request: Request): number {
  const url = request.url;
  const authorityStart = url.indexOf("//") + 2;
  const host = request.headers.get("host");
  targetRequest = request;
  targetStart = host !== null && host !== "" &&
      url.startsWith(host, authorityStart) &&
      url[authorityStart + host.length] === "/"
    ? authorityStart + host.length
    : url.indexOf("/", authorityStart);
  return targetStart;
}

// The clock reading that ended the last logged request's duration: the log
// line's timestamp is made from it instead of reading the clock again.
let timedEntry: RequestLogEntry | undefined;
let timedEnd = 0;

/**
 * When the greeting handler finished the request of `entry`, in
 * `performance.now()` time, if `entry` is the last one it handed to
 * `onRequest`. Not part of the public API: `formatRequestLog` stamps the line
 * with it.
 */
export function requestEndTime(entry: RequestLogEntry): number | undefined {
  return entry === timedEntry ? timedEnd : undefined;
}

/** Counts code points only when the UTF-16 length could exceed the limit. */
function exceedsLength(text: string, max: number): boolean {
  if (text.length <= max) return false;
  let count = 0;
  for (const _ of text) {
    if (++count > max) return true;
  }
  return false;
}

// The handler is synchronous, so the body it just sent can be handed to the
// logging wrapper through this variable without racing; the wrapper measures
// it, so that without onRequest nothing is counted.
let lastBody = "";

function plainResponse(
  request: Request,
  status: number,
  body: string,
  extraHeaders: Readonly<Record<string, string>> = {},
): Response {
  if (request.method === "HEAD") {
    lastBody = "";
    return new Response(null, {
      status,
      headers: {
        ...ERROR_HEADERS,
        ...extraHeaders,
        "content-length": String(utf8ByteLength(body)),
      },
    });
  }
  lastBody = body;
  return new Response(body, {
    status,
    headers: { ...ERROR_HEADERS, ...extraHeaders },
  });
}

/**
 * Creates a fetch-style handler that greets by name, the Deno counterpart of
 * the teaching text's Python `http.server` greeting program.
 *
 * - `GET` or `HEAD` on `options.path` answers `200` with `Hello, <name>!`,
 *   the name being the first non-empty `name` query value, else
 *   `options.defaultName`. The body is negotiated from the `Accept` header:
 *   `text/html` (the default; the name HTML-escaped), `text/plain`, or
 *   `application/json` (`{"message":"Hello, Budi!"}`); always with
 *   `charset=utf-8`, `Vary: Accept` and `X-Content-Type-Options: nosniff`.
 *   Negotiation follows RFC 9110: weights (`q`), wildcards (`text/*`, and
 *   `*` for both halves), the most specific range first, case-insensitive
 *   names; a range may carry `charset=utf-8` (the charset sent) before or
 *   after its `q`, a range with another parameter (`text/html;level=1`,
 *   `text/plain;charset=latin1`) fits nothing. An `Accept` header that allows
 *   none of the types gets `406`.
 * - `HEAD` gets the same status and headers (`Content-Length` included) and
 *   no body.
 * - Any other method on that path: `405` with `Allow: GET, HEAD`.
 * - Any other path: `404`.
 * - A name longer than `options.maxNameLength`: `400`.
 *
 * No request makes it throw or answer 5xx; only a `message` option that
 * throws or returns no string gives `500` (see
 * {@linkcode GreetingHandlerOptions.message}). Every request is parsed in
 * time linear in its size. `options.onRequest` sees every answer, for access
 * logs.
 *
 * @example Serve it with `Deno.serve`
 * ```ts
 * import { createGreetingHandler } from "@learn/server-client";
 * import { assertEquals } from "@std/assert";
 *
 * await using server = Deno.serve(
 *   { hostname: "127.0.0.1", port: 0, onListen() {} },
 *   createGreetingHandler(),
 * );
 * const response = await fetch(
 *   `http://127.0.0.1:${server.addr.port}/?name=Budi`,
 * );
 * assertEquals(await response.text(), "Hello, Budi!");
 * ```
 *
 * @example Call it directly, with options
 * ```ts
 * import { createGreetingHandler } from "@learn/server-client";
 * import { assertEquals } from "@std/assert";
 *
 * const greet = createGreetingHandler({
 *   path: "/hello",
 *   defaultName: "dunia",
 *   message: (name) => `Halo, ${name}!`,
 * });
 * const response = greet(
 *   new Request("http://localhost/hello", {
 *     headers: { accept: "application/json" },
 *   }),
 * );
 * assertEquals(await response.json(), { message: "Halo, dunia!" });
 * ```
 *
 * @param options How to greet; every field has a default.
 * @returns A handler `(request: Request) => Response`.
 * @throws {TypeError} If `options` is not an object, an option has the wrong
 * type (`path`, `defaultName` not strings; `message`, `onRequest` not
 * functions; `maxNameLength` not a number), or `path` does not start with
 * `/` or is not spelled as in a request URL.
 * @throws {RangeError} If `maxNameLength` is not a whole number from 1 up
 * (`NaN`, `Infinity`, `0`, `-1`, `1.5`), or `defaultName` is longer than
 * `maxNameLength`.
 */
export function createGreetingHandler(
  options: GreetingHandlerOptions = {},
): GreetingHandler {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `Cannot create the greeting handler: options must be an object, got ${
        describe(options)
      }`,
    );
  }
  const path = options.path ?? "/";
  const defaultName = options.defaultName ?? "world";
  const message = options.message ?? defaultMessage;
  const maxNameLength = options.maxNameLength ?? 256;
  const onRequest = options.onRequest;
  if (typeof path !== "string") {
    throw invalidOption("path", "must be a string", path, TypeError);
  }
  // Requests are matched against the path as their URL spells it, so a path
  // the URL parser would rewrite (an unescaped space or "é", a "?" or "#", a
  // dot segment) could never match; say so instead of answering 404 forever.
  if (!path.startsWith("/")) {
    throw invalidOption("path", 'must start with "/"', path, TypeError);
  }
  const spelled = new URL(`http://localhost${path}`).pathname;
  if (spelled !== path) {
    throw invalidOption(
      "path",
      `must be spelled as in a request URL (here ${JSON.stringify(spelled)})`,
      path,
      TypeError,
    );
  }
  if (typeof defaultName !== "string") {
    throw invalidOption(
      "defaultName",
      "must be a string",
      defaultName,
      TypeError,
    );
  }
  if (typeof message !== "function") {
    throw invalidOption("message", "must be a function", message, TypeError);
  }
  if (onRequest !== undefined && typeof onRequest !== "function") {
    throw invalidOption(
      "onRequest",
      "must be a function",
      onRequest,
      TypeError,
    );
  }
  if (typeof maxNameLength !== "number") {
    throw invalidOption(
      "maxNameLength",
      "must be a number",
      maxNameLength,
      TypeError,
    );
  }
  if (!Number.isSafeInteger(maxNameLength) || maxNameLength < 1) {
    throw invalidOption(
      "maxNameLength",
      "must be a positive whole number",
      maxNameLength,
      RangeError,
    );
  }
  if (exceedsLength(defaultName, maxNameLength)) {
    throw invalidOption(
      "defaultName",
      `must be at most maxNameLength (${maxNameLength}) characters long`,
      defaultName,
      RangeError,
    );
  }
  // Percent escapes differ only in the case of their hex digits between
  // clients (`%c3%a9`, `%C3%A9`), and mean the same (RFC 3986 section 6.2.2.1).
  const pathWithEscapes = path.includes("%")
    ? upperCaseEscapes(path)
    : undefined;
  // No code point takes more than 12 characters to write in a query
  // (`%F0%9F%98%80`), so a raw name longer than this is surely too long.
  const maxRawNameLength = maxNameLength * 12;
  const nameTooLongBody = `Bad Request: the name is longer than ${
    maxNameLength === 1 ? "1 character" : `${maxNameLength} characters`
  }\n`;
  const notFoundBody = `${STATUS_TEXT[STATUS_CODE.NotFound]}\n`;
  const methodNotAllowedBody = `${
    STATUS_TEXT[STATUS_CODE.MethodNotAllowed]
  }: use GET or HEAD\n`;

  // A message function that throws or returns no string is the caller's bug,
  // not the client's: the client gets a bare 500 (no stack trace) and the
  // error goes where Deno.serve reports a throwing handler's.
  const messageFailed = (request: Request, error: unknown): Response => {
    // deno-lint-ignore no-console -- reported where Deno.serve reports a throwing handler, not lost
    console.error("Cannot greet: the message option failed:", error);
    return plainResponse(
      request,
      STATUS_CODE.InternalServerError,
      INTERNAL_ERROR_BODY,
    );
  };

  const greetingHandler = (request: Request): Response => {
    // Slicing request.url costs far less than parsing it again with `new URL`. Deno.serve
    // builds it from the request target as sent (no dot segments removed, nothing
    // percent-encoded), so the path is matched exactly: `/./` and `/%2e/` are not `/`.
    const url = request.url;
    const pathStart = findTargetStart(request);
    let pathEnd = url.length;
    const hash = url.indexOf("#", pathStart);
    if (hash !== -1) pathEnd = hash;
    const question = url.indexOf("?", pathStart);
    if (question !== -1 && question < pathEnd) pathEnd = question;
    if (
      pathStart === -1 || pathEnd - pathStart !== path.length ||
      (!url.startsWith(path, pathStart) &&
        (pathWithEscapes === undefined ||
          upperCaseEscapes(url.slice(pathStart, pathEnd)) !== pathWithEscapes))
    ) {
      return plainResponse(request, STATUS_CODE.NotFound, notFoundBody);
    }

    const method = request.method;
    if (method !== "GET" && method !== "HEAD") {
      return plainResponse(
        request,
        STATUS_CODE.MethodNotAllowed,
        methodNotAllowedBody,
        { allow: ALLOWED_METHODS },
      );
    }

    let name = defaultName;
    const rawName = question === -1 || question !== pathEnd
      ? undefined
      : findName(url, question + 1, hash === -1 ? url.length : hash);
    if (rawName !== undefined) {
      // Decoding a name known to be too long would be wasted work.
      if (rawName.length > maxRawNameLength) {
        return plainResponse(request, STATUS_CODE.BadRequest, nameTooLongBody);
      }
      name = decodeQueryComponent(rawName);
      if (exceedsLength(name, maxNameLength)) {
        return plainResponse(request, STATUS_CODE.BadRequest, nameTooLongBody);
      }
    }

    const accept = request.headers.get("accept");
    const type: MediaType | undefined =
      accept === null || accept === "*/*" || accept === ""
        ? "text/html"
        : EXACT_MEDIA_TYPES.has(accept)
        ? accept as MediaType
        : negotiateMediaType(accept);
    if (type === undefined) {
      return plainResponse(
        request,
        STATUS_CODE.NotAcceptable,
        NOT_ACCEPTABLE_BODY,
        { vary: "Accept" },
      );
    }

    let sentence: unknown;
    try {
      sentence = message(type === "text/html" ? escapeHtml(name) : name);
    } catch (error) {
      return messageFailed(request, error);
    }
    if (typeof sentence !== "string") {
      // An async message's rejection would otherwise go unhandled, which ends
      // the process; the TypeError below reports the mistake.
      if (sentence instanceof Promise) sentence.catch(() => {});
      return messageFailed(
        request,
        new TypeError(
          `Cannot greet: message must return a string, got ${
            describe(sentence)
          }`,
        ),
      );
    }
    const body = type === "application/json"
      ? JSON.stringify({ message: sentence })
      : sentence;
    if (method === "HEAD") {
      lastBody = "";
      return new Response(null, {
        status: STATUS_CODE.OK,
        headers: {
          ...GREETING_HEADERS[type],
          "content-length": String(utf8ByteLength(body)),
        },
      });
    }
    lastBody = body;
    // 200 is the default status; giving it anyway costs a check per request.
    return new Response(body, { headers: GREETING_HEADERS[type] });
  };

  if (onRequest === undefined) return greetingHandler;
  return function loggedGreetingHandler(
    request: Request,
    info?: ConnectionInfo,
  ): Response {
    const start = performance.now();
    const response = greetingHandler(request);
    const end = performance.now();
    const entry: RequestLogEntry = {
      request,
      status: response.status,
      bodyBytes: utf8ByteLength(lastBody),
      durationMs: end - start,
    };
    if (info !== undefined) entry.remoteAddr = info.remoteAddr;
    timedEntry = entry;
    timedEnd = end;
    try {
      const result: unknown = onRequest(entry);
      // An async hook's rejection would otherwise go unhandled, which ends
      // the process.
      if (result instanceof Promise) result.catch(reportHookError);
    } catch (error) {
      reportHookError(error);
    }
    return response;
  };
}
