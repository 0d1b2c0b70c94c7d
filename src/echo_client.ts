/**
 * A client for the echo server (and for servers like the classic Python socket
 * example): send one message, end the input, collect the reply until the server
 * closes.
 *
 * @module
 */

import {
  checkHostname,
  checkNumber,
  checkOptionsObject,
  checkSignal,
  checkType,
  describe,
  formatHostPort,
  indentedPemHint,
  invalidHostname,
  isDisconnectError,
  pemCertificateError,
  schedule,
  writeAll,
} from "./_net.ts";

/**
 * Options for {@linkcode sendMessage} and {@linkcode sendBytes}. Every option
 * has a default: `127.0.0.1:12345`, plain TCP, 10 s, at most 1 MiB of reply.
 *
 * @example Give up sooner on a slow server
 * ```ts
 * import {
 *   type SendOptions,
 *   sendMessage,
 *   startEchoServer,
 * } from "@learn/server-client";
 * import { assertEquals } from "@std/assert";
 *
 * await using server = startEchoServer({ hostname: "127.0.0.1", port: 0 });
 * const options: SendOptions = { port: server.addr.port, timeout: 2_000 };
 * assertEquals(await sendMessage("Halo", options), "Halo");
 * ```
 */
export interface SendOptions {
  /**
   * The server's host. An IPv4 literal rather than `"localhost"`, which may
   * resolve to `::1` first while servers such as the Python example listen on
   * IPv4 only.
   *
   * @default {"127.0.0.1"}
   */
  hostname?: string;
  /**
   * The server's port, a whole number from 1 to 65535.
   *
   * @default {12345}
   */
  port?: number;
  /**
   * Milliseconds the whole exchange (connect, send, reply) may take before it
   * fails with `Deno.errors.TimedOut`; `0` or `Infinity` waits forever.
   *
   * @default {10000}
   */
  timeout?: number;
  /**
   * The most bytes of reply accepted, a whole number or `Infinity` for no
   * limit; a longer reply fails with {@linkcode ResponseTooLargeError}.
   *
   * @default {1048576}
   */
  maxResponseSize?: number;
  /**
   * Aborting this signal cancels the exchange; it then rejects with the
   * signal's reason.
   */
  signal?: AbortSignal;
  /**
   * Connects over TLS, as `Deno.connectTls` does, to a server such as
   * {@linkcode startEchoServer} with `cert` and `key`. The server's
   * certificate must be valid for {@linkcode hostname} and signed by one of
   * Deno's default root certificates or of {@linkcode caCerts}.
   *
   * @default {false}
   */
  tls?: boolean;
  /**
   * With `tls: true`, CA certificates in PEM format trusted besides the
   * default roots, as `Deno.connectTls`'s `caCerts`: what a server with a
   * self-signed or private-CA certificate needs. Given without `tls: true`,
   * or with an entry that is not a PEM certificate or that Deno cannot read
   * (a block cut short), it is a `TypeError` before connecting, rather than a
   * plain TCP connection or an untrusted handshake.
   *
   * @default {[]}
   */
  caCerts?: string[];
}

/**
 * The reply was longer than {@linkcode SendOptions.maxResponseSize}.
 *
 * @example Tell a reply that is too long from other failures
 * ```ts
 * import {
 *   ResponseTooLargeError,
 *   sendMessage,
 *   startEchoServer,
 * } from "@learn/server-client";
 * import { assertRejects } from "@std/assert";
 *
 * await using server = startEchoServer({ hostname: "127.0.0.1", port: 0 });
 * await assertRejects(
 *   () => sendMessage("four", { port: server.addr.port, maxResponseSize: 3 }),
 *   ResponseTooLargeError,
 * );
 * ```
 */
export class ResponseTooLargeError extends RangeError {
  /** The server that sent the reply, as `host:port`. */
  readonly address: string;
  /** The limit that was exceeded, in bytes. */
  readonly limit: number;

  /**
   * Makes the error.
   *
   * @param address The server, as `host:port`.
   * @param limit The limit that was exceeded, in bytes.
   * @param options The standard error options, such as `cause`.
   */
  constructor(address: string, limit: number, options?: ErrorOptions) {
    super(
      `Cannot read the reply from ${address}: it is longer than ${limit} bytes`,
      options,
    );
    this.name = "ResponseTooLargeError";
    this.address = address;
    this.limit = limit;
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const PEM_CERTIFICATE = "-----BEGIN CERTIFICATE-----";
const PEM_CERTIFICATE_LINE = /^-----BEGIN CERTIFICATE-----/m;
const SEND = "Cannot send the message";

/**
 * Sends `message` (UTF-8 encoded when a string) to a TCP server, ends the
 * input, and returns the server's reply decoded as UTF-8 (invalid bytes become
 * U+FFFD). See {@linkcode sendBytes}.
 *
 * @example Send a message to an echo server
 * ```ts
 * import { sendMessage, startEchoServer } from "@learn/server-client";
 * import { assertEquals } from "@std/assert";
 *
 * await using server = startEchoServer({ hostname: "127.0.0.1", port: 0 });
 * const reply = await sendMessage("Halo!", { port: server.addr.port });
 * assertEquals(reply, "Halo!");
 * ```
 *
 * @param message What to send.
 * @param options Where to connect and limits.
 * @returns The reply as text.
 * @throws {TypeError} An option has the wrong type, `message` is neither a
 *   string nor a `Uint8Array`, `hostname` is no host name or IP address at
 *   all (`"a b"`), `caCerts` is given without `tls: true`, or an entry of it
 *   is not a PEM certificate or cannot be read. The message names the option.
 * @throws {RangeError} `port` is not a whole number from 1 to 65535,
 *   `timeout` is negative or `NaN`, or `maxResponseSize` is not a
 *   non-negative whole number or `Infinity`. The message names the option and
 *   the value.
 * @throws {Deno.errors.ConnectionRefused} Nothing listens there (the message
 *   names the address).
 * @throws {Error} `hostname` does not resolve (the message names it).
 * @throws {Deno.errors.TimedOut} The exchange took longer than `timeout`.
 * @throws {ResponseTooLargeError} The reply is longer than `maxResponseSize`.
 * @throws {Deno.errors.ConnectionReset} The connection was reset before the
 *   server ended the reply: the reply may be cut short, so none is returned.
 * @throws {Deno.errors.InvalidData} With `tls`, the TLS handshake failed: the
 *   certificate is not trusted or not valid for `hostname`, or the server
 *   does not speak TLS (the message names the address and the reason).
 * @throws {unknown} The `signal`'s reason, when it is aborted.
 */
export async function sendMessage(
  message: string | Uint8Array,
  options: SendOptions = {},
): Promise<string> {
  return decoder.decode(await sendBytes(message, options));
}

/**
 * Sends `message` (UTF-8 encoded when a string) to a TCP server, half-closes
 * the connection to mark the end of the input, and returns every byte the
 * server sends until it closes. Sending and receiving overlap, so a message of
 * any size can go through an echo server. A server that answers and closes
 * without reading everything is fine as long as its close is orderly; if the
 * connection is reset instead, the reply may have lost its end, and the call
 * fails with `Deno.errors.ConnectionReset`.
 *
 * @example Send bytes to an echo server
 * ```ts
 * import { sendBytes, startEchoServer } from "@learn/server-client";
 * import { assertEquals } from "@std/assert";
 *
 * await using server = startEchoServer({ hostname: "127.0.0.1", port: 0 });
 * const bytes = new Uint8Array([1, 2, 3]);
 * const reply = await sendBytes(bytes, { port: server.addr.port });
 * assertEquals(reply, new Uint8Array([1, 2, 3]));
 * ```
 *
 * @param message What to send.
 * @param options Where to connect and limits.
 * @returns The reply's bytes.
 * @throws {TypeError} An option has the wrong type, `message` is neither a
 *   string nor a `Uint8Array`, `hostname` is no host name or IP address at
 *   all (`"a b"`), `caCerts` is given without `tls: true`, or an entry of it
 *   is not a PEM certificate or cannot be read. The message names the option.
 * @throws {RangeError} `port` is not a whole number from 1 to 65535,
 *   `timeout` is negative or `NaN`, or `maxResponseSize` is not a
 *   non-negative whole number or `Infinity`. The message names the option and
 *   the value.
 * @throws {Deno.errors.ConnectionRefused} Nothing listens there (the message
 *   names the address).
 * @throws {Error} `hostname` does not resolve (the message names it).
 * @throws {Deno.errors.TimedOut} The exchange took longer than `timeout`.
 * @throws {ResponseTooLargeError} The reply is longer than `maxResponseSize`.
 * @throws {Deno.errors.ConnectionReset} The connection was reset before the
 *   server ended the reply: the reply may be cut short, so none is returned.
 * @throws {Deno.errors.InvalidData} With `tls`, the TLS handshake failed: the
 *   certificate is not trusted or not valid for `hostname`, or the server
 *   does not speak TLS (the message names the address and the reason).
 * @throws {unknown} The `signal`'s reason, when it is aborted.
 */
export async function sendBytes(
  message: string | Uint8Array,
  options: SendOptions = {},
): Promise<Uint8Array> {
  checkOptions(message, options);
  const {
    hostname = "127.0.0.1",
    port = 12345,
    timeout = 10_000,
    maxResponseSize = 1024 * 1024,
    signal,
    tls = false,
    caCerts,
  } = options;
  signal?.throwIfAborted();
  const address = formatHostPort(hostname, port);
  const bytes = typeof message === "string" ? encoder.encode(message) : message;

  // One controller for both ways of giving up; its reason is what the caller
  // gets.
  const stop = new AbortController();
  const onAbort = () => stop.abort(signal?.reason);
  signal?.addEventListener("abort", onAbort, { once: true });
  const cancelTimer = schedule(
    () =>
      stop.abort(
        new Deno.errors.TimedOut(
          `Cannot get a reply from ${address}: timed out after ${timeout} ms`,
        ),
      ),
    timeout || Infinity,
  );
  try {
    const tcp = await connect(hostname, port, address, stop.signal);
    // Deno.connectTls takes no signal: connecting plainly first keeps the
    // connect cancellable. Deno.startTls takes the connection over even when
    // it fails (a malformed CA certificate), so it is not closed here.
    const conn = tls
      ? await Deno.startTls(
        tcp,
        caCerts === undefined ? { hostname } : { hostname, caCerts },
      )
      : tcp;
    let open = true;
    const close = () => {
      if (open) {
        open = false;
        conn.close();
      }
    };
    stop.signal.addEventListener("abort", close, { once: true });
    try {
      stop.signal.throwIfAborted();
      if (tls) await handshake(conn as Deno.TlsConn, address);
      return await exchange(conn, bytes, maxResponseSize, address, close, tls);
    } finally {
      stop.signal.removeEventListener("abort", close);
      close();
    }
  } catch (error) {
    // Whatever a cancelled read or connect threw, the reason for giving up is
    // what counts.
    if (stop.signal.aborted) throw stop.signal.reason;
    throw error;
  } finally {
    cancelTimer();
    signal?.removeEventListener("abort", onAbort);
  }
}

async function connect(
  hostname: string,
  port: number,
  address: string,
  signal: AbortSignal,
): Promise<Deno.TcpConn> {
  try {
    return await Deno.connect({ hostname, port, signal });
  } catch (error) {
    if (error instanceof Deno.errors.ConnectionRefused) {
      throw new Deno.errors.ConnectionRefused(
        `Cannot connect to ${address}: connection refused`,
        { cause: error },
      );
    }
    if (error instanceof URIError) throw invalidHostname(SEND, hostname, error);
    // A plain Error is a host name that does not resolve; Deno's message does
    // not say which name.
    if (
      error instanceof Error && error.constructor === Error && !signal.aborted
    ) {
      throw new Error(`Cannot connect to ${address}: ${error.message}`, {
        cause: error,
      });
    }
    throw error;
  }
}

function checkOptions(message: unknown, options: SendOptions): void {
  if (typeof message !== "string" && !(message instanceof Uint8Array)) {
    throw new TypeError(
      `${SEND}: the message must be a string or a Uint8Array, got ${
        describe(message)
      }`,
    );
  }
  checkOptionsObject(SEND, options);
  checkHostname(SEND, options.hostname);
  checkNumber(SEND, "port", options.port, {
    min: 1,
    max: 65535,
    integer: true,
  });
  checkNumber(SEND, "timeout", options.timeout, { min: 0 });
  checkNumber(SEND, "maxResponseSize", options.maxResponseSize, {
    min: 0,
    integer: true,
  });
  checkType(SEND, "tls", options.tls, "boolean");
  checkSignal(SEND, options.signal);
  const { caCerts } = options;
  if (caCerts === undefined) return;
  if (!Array.isArray(caCerts)) {
    throw new TypeError(
      `${SEND}: caCerts must be an array of PEM certificates, got ${
        describe(caCerts)
      }`,
    );
  }
  if (!options.tls) {
    throw new TypeError(
      `${SEND}: caCerts is only used over TLS: add \`tls: true\` to connect with TLS`,
    );
  }
  // Deno skips text without a PEM certificate silently: the handshake would
  // then fail as if the CA were simply not trusted.
  const bad = caCerts.findIndex((pem) =>
    typeof pem !== "string" || !PEM_CERTIFICATE_LINE.test(pem)
  );
  if (bad !== -1) {
    const pem = caCerts[bad];
    throw new TypeError(
      `${SEND}: caCerts[${bad}] is not a PEM certificate: no "${PEM_CERTIFICATE}" line${
        typeof pem === "string" ? indentedPemHint(pem) : ""
      }`,
    );
  }
  for (const [i, pem] of caCerts.entries()) {
    const error = pemCertificateError(pem);
    if (error !== undefined) {
      throw new TypeError(
        `${SEND}: caCerts[${i}] holds a PEM certificate that cannot be read: ${error}`,
      );
    }
  }
}

// Run on its own so that a TLS failure is not mistaken for a failed exchange,
// and is reported with the address.
async function handshake(conn: Deno.TlsConn, address: string): Promise<void> {
  try {
    await conn.handshake();
  } catch (error) {
    // Not trusted, not TLS, or the server went away (it may be shutting down).
    if (
      error instanceof Deno.errors.InvalidData || isDisconnectError(error)
    ) {
      const Type = (error as Error).constructor as ErrorConstructor;
      throw new Type(
        `Cannot complete the TLS handshake with ${address}: ${
          (error as Error).message
        }`,
        { cause: error },
      );
    }
    throw error;
  }
}

// Sends and receives at once: an echo server stops reading while its replies go
// unread, so sending everything first would deadlock on a large message.
async function exchange(
  conn: Deno.Conn,
  bytes: Uint8Array,
  maxResponseSize: number,
  address: string,
  close: () => void,
  tls: boolean,
): Promise<Uint8Array> {
  let sendError: { error: unknown } | undefined;
  let reset: unknown;
  const sending = (async () => {
    try {
      await writeAll(conn, bytes);
      await conn.closeWrite();
    } catch (error) {
      // A server may answer and close before reading everything: that close
      // is a reset, which the reading side may then see only as an end of
      // input, because the kernel reports it once, to whichever side asks
      // first. TLS tells a truncated reply from a whole one by itself
      // (close_notify), and Deno's TLS refuses to write once the server has
      // ended its side.
      if (isDisconnectError(error)) {
        if (!tls) reset = error;
      } else {
        sendError ??= { error };
        close();
      }
    }
  })();
  let reply: Uint8Array;
  try {
    reply = await receive(conn, maxResponseSize, address);
  } catch (error) {
    if (sendError) throw sendError.error;
    throw error;
  } finally {
    // Once the reply is complete (or failed) nothing more will be read: stop
    // sending too. A write the reset already failed keeps that error.
    close();
    await sending;
  }
  if (reset !== undefined) throw cutOff(address, reply.length, reset);
  return reply;
}

// Only the server's orderly end marks the end of a reply: a reset throws away
// whatever was still on its way.
function cutOff(address: string, length: number, cause: unknown): Error {
  return new Deno.errors.ConnectionReset(
    `Cannot read the reply from ${address}: the connection was reset after ${length} bytes`,
    { cause },
  );
}

async function receive(
  conn: Deno.Conn,
  maxResponseSize: number,
  address: string,
): Promise<Uint8Array> {
  // One byte over the limit tells a reply of exactly the limit from a longer
  // one.
  const capacity = maxResponseSize + 1;
  let buffer = new Uint8Array(Math.min(capacity, 16 * 1024));
  let length = 0;
  while (true) {
    if (length === buffer.length) {
      const grown = new Uint8Array(Math.min(capacity, buffer.length * 2));
      grown.set(buffer);
      buffer = grown;
    }
    let n: number | null;
    try {
      n = await conn.read(buffer.subarray(length));
    } catch (error) {
      if (isDisconnectError(error)) throw cutOff(address, length, error);
      throw error;
    }
    if (n === null) break;
    length += n;
    if (length > maxResponseSize) {
      throw new ResponseTooLargeError(address, maxResponseSize);
    }
  }
  return buffer.subarray(0, length);
}
