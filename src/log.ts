/**
 * One-line log formats for the servers' hooks: an access log line for each
 * HTTP request and a line for each TCP connection when it ends. The library
 * prints nothing itself; `server.ts` prints these on stderr.
 *
 * @module
 */

import {
  requestEndTime,
  type RequestLogEntry,
  requestTargetStart,
} from "./greeting.ts";
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

// `toISOString()` costs more than the rest of a log line together (about half
// a microsecond), and under load many lines fall in the same millisecond: the
// text is made once per millisecond, and kept as bytes for the log batches.
let stampedMs = NaN;
let stamp = "";
const stampBytes = new Uint8Array(32);
let stampLength = 0;

/** `now`, or the current time, as an ISO 8601 timestamp. */
function timestamp(now: Date | undefined): string {
  return now === undefined ? currentStamp() : now.toISOString();
}

/**
 * The current time as an ISO 8601 timestamp, remade once per millisecond.
 * `monotonic`, a `performance.now()` reading just taken, saves reading the
 * clock again.
 */
function currentStamp(monotonic?: number): string {
  const ms = monotonic === undefined ? Date.now() : wallClock(monotonic);
  if (ms !== stampedMs) {
    stamp = new Date(ms).toISOString();
    stampLength = encoder.encodeInto(stamp, stampBytes).written;
    stampedMs = ms;
  }
  return stamp;
}

// The wall clock is the time origin plus the monotonic clock until somebody
// sets the clock (or it is slewed): checked against Date.now() once a second.
let clockOffset = performance.timeOrigin;
let clockCheckedAt = -Infinity;

/** The wall-clock millisecond of a `performance.now()` reading. */
function wallClock(monotonic: number): number {
  if (monotonic - clockCheckedAt >= 1000 || monotonic < clockCheckedAt) {
    clockCheckedAt = monotonic;
    const wall = Date.now();
    if (Math.abs(wall - (clockOffset + monotonic)) >= 1) {
      clockOffset = wall - monotonic;
    }
  }
  return Math.floor(clockOffset + monotonic);
}

function formatAddr(addr: Deno.Addr | undefined): string {
  if (addr === undefined) return "-";
  return addr.transport === "tcp" || addr.transport === "udp"
    ? formatHostPort(addr.hostname, addr.port)
    : addr.transport;
}

function formatMs(ms: number): string {
  return `${ms < 10 ? ms.toFixed(2) : ms.toFixed(1)}ms`;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const SPACE = 0x20;
const NEWLINE = 0x0a;

/**
 * Log lines as UTF-8, written into one fixed buffer as they are made, for a
 * program that writes its log in batches. Under load, an access line made as
 * a string, kept until its batch was written and then joined and encoded cost
 * more than a tenth of a request (bench/RESULTS.md): written straight into
 * bytes, the usual line (plain ASCII) makes no string and leaves nothing for
 * the garbage collector.
 *
 * @example Usage
 * ```ts
 * import { LogBuffer } from "./log.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const batch = new LogBuffer(1024);
 * batch.appendLine("server.ts: started");
 * assertEquals(new TextDecoder().decode(batch.bytes()), "server.ts: started\n");
 * batch.clear();
 * assertEquals(batch.length, 0);
 * ```
 */
export class LogBuffer {
  /** Bytes of whole lines held, each ending in a line break. */
  length = 0;
  readonly #buffer: Uint8Array;

  /** `capacity` is the most bytes held; a line that does not fit is refused. */
  constructor(capacity: number) {
    this.#buffer = new Uint8Array(capacity);
  }

  /**
   * The lines held. A view, not a copy: valid until the next append or clear.
   *
   * @returns The bytes of every line held.
   */
  bytes(): Uint8Array {
    return this.#buffer.subarray(0, this.length);
  }

  /** Empties the buffer. */
  clear(): void {
    this.length = 0;
  }

  /**
   * Appends `text` as one line, as it is (escape what a client sent first).
   *
   * @param text The line, without a line break.
   * @returns Whether it fit; if not, nothing was appended.
   */
  appendLine(text: string): boolean {
    const start = this.length;
    if (this.#text(start, text) && this.#byte(NEWLINE)) return true;
    this.length = start;
    return false;
  }

  /**
   * Appends the access log line {@linkcode formatRequestLog} formats.
   *
   * @param entry What the greeting handler's `onRequest` hook received.
   * @param now The time to print; the current time if not given.
   * @returns Whether it fit; if not, nothing was appended.
   */
  appendRequest(entry: RequestLogEntry, now?: Date): boolean {
    const start = this.length;
    const url = entry.request.url;
    const pathStart = requestTargetStart(entry.request);
    if (
      this.#stamp(now, entry) && this.#byte(SPACE) &&
      this.#addr(entry.remoteAddr) &&
      this.#byte(SPACE) && this.#escaped(entry.request.method, 0, 20) &&
      this.#byte(SPACE) &&
      this.#escaped(url, pathStart === -1 ? 0 : pathStart, MAX_LOGGED_TEXT) &&
      this.#byte(SPACE) && this.#number(entry.status) && this.#byte(SPACE) &&
      this.#number(entry.bodyBytes) && this.#byte(0x42) && // B
      this.#byte(SPACE) && this.#ms(entry.durationMs) && this.#byte(NEWLINE)
    ) return true;
    this.length = start;
    return false;
  }

  #byte(code: number): boolean {
    if (this.length === this.#buffer.length) return false;
    this.#buffer[this.length++] = code;
    return true;
  }

  #text(start: number, text: string): boolean {
    // `text` is mostly ASCII: copying code units skips encodeInto's call and
    // its subarray.
    const buffer = this.#buffer;
    if (start + text.length <= buffer.length) {
      let i = 0;
      for (; i < text.length; i++) {
        const code = text.charCodeAt(i);
        if (code > 0x7f) break;
        buffer[start + i] = code;
      }
      if (i === text.length) {
        this.length = start + i;
        return true;
      }
    }
    const { read, written } = encoder.encodeInto(
      text,
      buffer.subarray(start),
    );
    this.length = start + written;
    return read === text.length;
  }

  /** Writes `text` from `from` on, escaped and cut as by escapeLogText. */
  #escaped(text: string, from: number, maxLength: number): boolean {
    const buffer = this.#buffer;
    const start = this.length;
    const end = text.length;
    if (end - from <= maxLength && start + end - from <= buffer.length) {
      let at = start;
      let i = from;
      for (; i < end; i++) {
        const code = text.charCodeAt(i);
        // Printable ASCII but the quote and backslash (see PLAIN_ASCII).
        if (code < 0x20 || code > 0x7e || code === 0x22 || code === 0x5c) {
          break;
        }
        buffer[at++] = code;
      }
      if (i === end) {
        this.length = at;
        return true;
      }
    }
    return this.#text(
      start,
      escapeLogText(from === 0 ? text : text.slice(from), maxLength),
    );
  }

  #number(value: number): boolean {
    if (!Number.isSafeInteger(value) || value < 0) {
      return this.#text(this.length, String(value));
    }
    let digits = 1;
    for (let power = 10; power <= value; power *= 10) digits++;
    const start = this.length;
    if (start + digits > this.#buffer.length) return false;
    let rest = value;
    for (let i = start + digits - 1; i >= start; i--) {
      const next = Math.floor(rest / 10);
      this.#buffer[i] = 0x30 + (rest - next * 10);
      rest = next;
    }
    this.length = start + digits;
    return true;
  }

  #ms(ms: number): boolean {
    // Below 10 ms two decimals, then one, as formatMs writes them.
    const scale = ms < 10 ? 100 : 10;
    const scaled = Math.round(ms * scale);
    if (!(ms >= 0) || !Number.isSafeInteger(scaled)) {
      return this.#text(this.length, formatMs(ms));
    }
    const whole = Math.floor(scaled / scale);
    const fraction = scaled - whole * scale;
    return this.#number(whole) && this.#byte(0x2e) && // .
      (scale === 10 || this.#byte(0x30 + Math.floor(fraction / 10))) &&
      this.#byte(0x30 + fraction % 10) && this.#byte(0x6d) && this.#byte(0x73); // ms
  }

  #stamp(now: Date | undefined, entry: RequestLogEntry): boolean {
    if (now !== undefined) return this.#text(this.length, now.toISOString());
    currentStamp(requestEndTime(entry));
    const start = this.length;
    if (start + stampLength > this.#buffer.length) return false;
    // A copy this short costs less in a loop than through a subarray.
    for (let i = 0; i < stampLength; i++) {
      this.#buffer[start + i] = stampBytes[i]!;
    }
    this.length = start + stampLength;
    return true;
  }

  #addr(addr: Deno.Addr | undefined): boolean {
    // The short string dies young; writing the parts by hand would copy the
    // host-and-port rule of formatHostPort.
    return this.#text(this.length, formatAddr(addr));
  }
}

// Longer than any request line but one with a very long host name, which gets
// a buffer of its own.
const requestLine = new LogBuffer(4096);

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
  // The line LogBuffer writes, decoded: one implementation of the format.
  let line = requestLine;
  line.clear();
  for (let size = 16384; !line.appendRequest(entry, now); size *= 2) {
    line = new LogBuffer(size);
  }
  return decoder.decode(line.bytes().subarray(0, line.length - 1));
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
