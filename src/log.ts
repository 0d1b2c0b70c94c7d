/**
 * One-line log formats for the servers' hooks: an access log line for each
 * HTTP request and a line for each TCP connection when it ends. The library
 * prints nothing itself; `server.ts` prints these on stderr.
 *
 * @module
 */

import { type RequestLogEntry, requestTargetStart } from "./greeting.ts";
import type { ConnectionCloseInfo } from "./echo_server.ts";
import { formatHostPort } from "./_net.ts";

/**
 * Longest client-supplied text (a path, a message) kept in a log line.
 *
 * @example Longer text is cut and marked
 * ```ts
 * import { escapeLogText, MAX_LOGGED_TEXT } from "./log.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const logged = escapeLogText("x".repeat(MAX_LOGGED_TEXT + 50));
 * assertEquals(logged, `${"x".repeat(MAX_LOGGED_TEXT)}…`);
 * ```
 */
export const MAX_LOGGED_TEXT = 200;

// What a client could use to forge a line, hide text in it, reorder how it
// displays or drive the operator's terminal: C0 and C1 controls (ESC, CSI,
// CR, LF, ...), the line and paragraph separators, format characters (the
// bidi embeddings, overrides and isolates U+202A-U+202E and U+2066-U+2069,
// U+061C, zero-width spaces and joiners, U+FEFF, U+180E, tag characters),
// lone surrogates, the invisible Hangul fillers; and the quote and backslash
// that frame logged text.
const UNSAFE = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}\u115f\u1160\u3164\uffa0"\\]/gu;
// Printable ASCII but the quote and backslash: checked first, being cheaper
// than the Unicode classes above for the usual log line.
const PLAIN_ASCII = /^[ !#-[\]-~]*$/;

function escapeChar(char: string): string {
  switch (char) {
    case "\n":
      return "\\n";
    case "\r":
      return "\\r";
    case "\t":
      return "\\t";
    case '"':
      return '\\"';
    case "\\":
      return "\\\\";
  }
  const code = char.codePointAt(0)!;
  return code > 0xffff
    ? `\\u{${code.toString(16)}}`
    : code > 0xff
    ? `\\u${code.toString(16).padStart(4, "0")}`
    : `\\x${code.toString(16).padStart(2, "0")}`;
}

/**
 * Makes client-supplied text safe to print on one log line: cut to
 * `maxLength` code units (marked with `…`; a surrogate pair is never split),
 * control characters, quotes and backslashes escaped as `\n`, `\x1b`, `\"`,
 * `\\`, and invisible and bidi format characters as `\u202e`, `\u{e0041}`.
 *
 * @example Usage
 * ```ts
 * import { escapeLogText } from "./log.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(escapeLogText("Halo\n\x1b[31m"), "Halo\\n\\x1b[31m");
 * assertEquals(escapeLogText("a\u202Eb"), "a\\u202eb");
 * assertEquals(escapeLogText("abcdef", 3), "abc…");
 * ```
 *
 * @param text The text to escape.
 * @param maxLength The most code units of `text` kept.
 * @returns The text, escaped and possibly cut.
 */
export function escapeLogText(
  text: string,
  maxLength: number = MAX_LOGGED_TEXT,
): string {
  let cut = text;
  if (text.length > maxLength) {
    let end = maxLength;
    if (
      end > 0 && (text.charCodeAt(end - 1) & 0xfc00) === 0xd800 &&
      (text.charCodeAt(end) & 0xfc00) === 0xdc00
    ) end--;
    cut = `${text.slice(0, end)}…`;
  }
  // Most text holds nothing to escape; testing first skips the replace call's allocation.
  if (PLAIN_ASCII.test(cut)) return cut;
  UNSAFE.lastIndex = 0;
  if (!UNSAFE.test(cut)) return cut;
  return cut.replace(UNSAFE, escapeChar);
}

function formatAddr(addr: Deno.Addr | undefined): string {
  if (addr === undefined) return "-";
  return addr.transport === "tcp" || addr.transport === "udp"
    ? formatHostPort(addr.hostname, addr.port)
    : addr.transport;
}

// `toISOString()` costs more than the rest of a log line together (about half
// a microsecond), and under load many lines fall in the same millisecond: the
// text is made once per millisecond.
let stampedMs = NaN;
let stamp = "";

/** `now`, or the current time, as an ISO 8601 timestamp. */
function timestamp(now: Date | undefined): string {
  if (now !== undefined) return now.toISOString();
  const ms = Date.now();
  if (ms !== stampedMs) {
    stamp = new Date(ms).toISOString();
    stampedMs = ms;
  }
  return stamp;
}

function formatMs(ms: number): string {
  return `${ms < 10 ? ms.toFixed(2) : ms.toFixed(1)}ms`;
}

/**
 * Formats an access log line for one HTTP request: time, client address,
 * method, path with query, status, body bytes and duration.
 *
 * @example Usage
 * ```ts
 * import { createGreetingHandler } from "@learn/server-client";
 * import { formatRequestLog } from "./log.ts";
 * import { assertMatch } from "@std/assert";
 *
 * const lines: string[] = [];
 * const greet = createGreetingHandler({
 *   onRequest: (entry) => lines.push(formatRequestLog(entry)),
 * });
 * greet(new Request("http://localhost/?name=Budi"), {
 *   remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 50000 },
 * });
 * assertMatch(lines[0]!, /^\S+Z 127\.0\.0\.1:50000 GET \/\?name=Budi 200 12B \S+ms$/);
 * ```
 *
 * @param entry What the greeting handler's `onRequest` hook received.
 * @param now The time to print; the current time if not given.
 * @returns One line, without a line break.
 */
export function formatRequestLog(
  entry: RequestLogEntry,
  now?: Date,
): string {
  const url = entry.request.url;
  const pathStart = requestTargetStart(entry.request);
  const target = pathStart === -1 ? url : url.slice(pathStart);
  return `${timestamp(now)} ${formatAddr(entry.remoteAddr)} ${
    escapeLogText(entry.request.method, 20)
  } ${escapeLogText(target)} ${entry.status} ${entry.bodyBytes}B ${
    formatMs(entry.durationMs)
  }`;
}

/**
 * Formats a log line for one finished TCP connection: time, client address,
 * how it ended, bytes in and out, duration, and in reply mode the message
 * received, quoted and escaped so a client cannot forge log lines.
 *
 * @example Usage
 * ```ts
 * import { formatConnectionLog } from "./log.ts";
 * import { assertMatch } from "@std/assert";
 *
 * const line = formatConnectionLog({
 *   remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 50000 },
 *   bytesIn: 12,
 *   bytesOut: 21,
 *   durationMs: 1.5,
 *   reason: "closed",
 *   message: "Halo server!\n",
 * });
 * assertMatch(line, / 127\.0\.0\.1:50000 TCP closed in=12B out=21B 1\.50ms message="Halo server!\\n"$/);
 * ```
 *
 * @param info What the echo server's `onConnectionClose` hook received.
 * @param now The time to print; the current time if not given.
 * @returns One line, without a line break.
 */
export function formatConnectionLog(
  info: ConnectionCloseInfo,
  now?: Date,
): string {
  const line = `${timestamp(now)} ${
    formatAddr(info.remoteAddr)
  } TCP ${info.reason} in=${info.bytesIn}B out=${info.bytesOut}B ${
    formatMs(info.durationMs)
  }`;
  return info.message === undefined
    ? line
    : `${line} message="${escapeLogText(info.message)}"`;
}
