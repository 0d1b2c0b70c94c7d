/**
 * The HTTP greeting handler: the Deno counterpart of the teaching text's Python
 * `http.server` program, as a fetch-style handler usable with `Deno.serve` or
 * inside any router.
 *
 * @module
 */

import { accepts } from "@std/http/negotiation";
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
   * (percent escapes are not decoded).
   *
   * @default {"/"}
   */
  path?: string;
  /**
   * The name greeted when the query has no non-empty `name` value.
   *
   * @default {"world"}
   */
  defaultName?: string;
  /**
   * Builds the sentence from the name. For `text/html` it receives the name
   * already HTML-escaped and its result is sent as HTML, so the sentence
   * itself may hold markup; for `text/plain` and `application/json` it
   * receives the name as given.
   *
   * @default {(name) => `Hello, ${name}!`}
   */
  message?: (name: string) => string;
  /**
   * The longest name accepted, in Unicode code points. A longer name gets
   * `400 Bad Request` with a short explanation rather than a truncated
   * greeting.
   *
   * @default {256}
   */
  maxNameLength?: number;
  /**
   * Called after each request is answered, for access logs. Absent, the
   * handler does no timing or bookkeeping at all. If it throws, the error is
   * printed with `console.error` and the response still goes out.
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
export const GREETING_MEDIA_TYPES = [
  "text/html",
  "text/plain",
  "application/json",
] as const;

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
 * values.
 *
 * @example Usage
 * ```ts
 * import { escapeHtml } from "@learn/server-client";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(escapeHtml(`<b>"Tom" & 'Jerry'</b>`), "&lt;b&gt;&quot;Tom&quot; &amp; &#39;Jerry&#39;&lt;/b&gt;");
 * ```
 *
 * @param text The text to escape.
 * @returns The text with `&`, `<`, `>`, `"` and `'` replaced by entities.
 */
export function escapeHtml(text: string): string {
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
  if (raw.indexOf("%") === -1 && raw.indexOf("+") === -1) return raw;
  const spaced = raw.replaceAll("+", " ");
  try {
    return decodeURIComponent(spaced);
  } catch {
    // decodeURIComponent rejects malformed escapes outright; URLSearchParams keeps them.
    return new URLSearchParams(`x=${raw}`).get("x") ?? "";
  }
}

/**
 * Finds the first non-empty `name` value in a raw query string, as Python's
 * `parse_qs` does (it drops blank values). Scanning the raw string avoids
 * building a `URL` and a `URLSearchParams` for every request.
 */
function findName(query: string): string | undefined {
  let start = 0;
  while (start < query.length) {
    let end = query.indexOf("&", start);
    if (end === -1) end = query.length;
    const eq = query.indexOf("=", start);
    if (eq !== -1 && eq < end - 1) {
      const key = query.slice(start, eq);
      if (key === "name" || decodeQueryComponent(key) === "name") {
        const value = decodeQueryComponent(query.slice(eq + 1, end));
        if (value !== "") return value;
      }
    }
    start = end + 1;
  }
  return undefined;
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
 *   An `Accept` header that allows none of them gets `406`.
 * - `HEAD` gets the same status and headers (`Content-Length` included) and
 *   no body.
 * - Any other method on that path: `405` with `Allow: GET, HEAD`.
 * - Any other path: `404`.
 * - A name longer than `options.maxNameLength`: `400`.
 *
 * No request makes it throw or answer 5xx. `options.onRequest` sees every
 * answer, for access logs.
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
 */
export function createGreetingHandler(
  options: GreetingHandlerOptions = {},
): GreetingHandler {
  const path = options.path ?? "/";
  const defaultName = options.defaultName ?? "world";
  const message = options.message ?? ((name: string) => `Hello, ${name}!`);
  const maxNameLength = options.maxNameLength ?? 256;
  if (!path.startsWith("/")) {
    throw new TypeError(`path must start with "/", got "${path}"`);
  }
  if (!Number.isSafeInteger(maxNameLength) || maxNameLength < 1) {
    throw new RangeError(
      `maxNameLength must be a positive whole number, got ${maxNameLength}`,
    );
  }
  const nameTooLongBody =
    `Bad Request: the name is longer than ${maxNameLength} characters\n`;
  const notFoundBody = `${STATUS_TEXT[STATUS_CODE.NotFound]}\n`;
  const methodNotAllowedBody = `${
    STATUS_TEXT[STATUS_CODE.MethodNotAllowed]
  }: use GET or HEAD\n`;

  const greetingHandler = (request: Request): Response => {
    // request.url is already parsed and serialized by the Request constructor, so slicing it
    // agrees with `new URL(request.url)` without paying for a second parse.
    const url = request.url;
    const pathStart = url.indexOf("/", url.indexOf("//") + 2);
    let pathEnd = url.length;
    const hash = url.indexOf("#", pathStart);
    if (hash !== -1) pathEnd = hash;
    const question = url.indexOf("?", pathStart);
    if (question !== -1 && question < pathEnd) pathEnd = question;
    if (
      pathStart === -1 || pathEnd - pathStart !== path.length ||
      !url.startsWith(path, pathStart)
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

    const name = question === -1 || question !== pathEnd
      ? defaultName
      : findName(url.slice(question + 1, hash === -1 ? url.length : hash)) ??
        defaultName;
    if (exceedsLength(name, maxNameLength)) {
      return plainResponse(request, STATUS_CODE.BadRequest, nameTooLongBody);
    }

    const accept = request.headers.get("accept");
    const type: MediaType | undefined =
      accept === null || accept === "*/*" || accept === ""
        ? "text/html"
        : EXACT_MEDIA_TYPES.has(accept)
        ? accept as MediaType
        : accepts(request, ...GREETING_MEDIA_TYPES);
    if (type === undefined) {
      return plainResponse(
        request,
        STATUS_CODE.NotAcceptable,
        NOT_ACCEPTABLE_BODY,
        { vary: "Accept" },
      );
    }

    const body = type === "text/html"
      ? message(escapeHtml(name))
      : type === "text/plain"
      ? message(name)
      : JSON.stringify({ message: message(name) });
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
    return new Response(body, {
      status: STATUS_CODE.OK,
      headers: GREETING_HEADERS[type],
    });
  };

  const onRequest = options.onRequest;
  if (onRequest === undefined) return greetingHandler;
  return function loggedGreetingHandler(
    request: Request,
    info?: ConnectionInfo,
  ): Response {
    const start = performance.now();
    const response = greetingHandler(request);
    const entry: RequestLogEntry = {
      request,
      status: response.status,
      bodyBytes: utf8ByteLength(lastBody),
      durationMs: performance.now() - start,
    };
    if (info !== undefined) entry.remoteAddr = info.remoteAddr;
    try {
      onRequest(entry);
    } catch (error) {
      console.error(error);
    }
    return response;
  };
}
