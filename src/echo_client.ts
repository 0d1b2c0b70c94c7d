/**
 * A client for the echo server (and for servers like the classic Python socket
 * example): send one message, end the input, collect the reply until the server
 * closes.
 *
 * @module
 */

import { formatHostPort, isDisconnectError, writeAll } from "./_net.ts";

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
   * The server's port.
   *
   * @default {12345}
   */
  port?: number;
  /**
   * Milliseconds the whole exchange (connect, send, reply) may take before it
   * fails with `Deno.errors.TimedOut`; `0` waits forever.
   *
   * @default {10000}
   */
  timeout?: number;
  /**
   * The most bytes of reply accepted; a longer reply fails with
   * {@linkcode ResponseTooLargeError}.
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
   * or with an entry that is not a PEM certificate, it is a `TypeError`
   * rather than a plain TCP connection or an untrusted handshake.
   *
   * @default {[]}
   */
  caCerts?: string[];
}

/**
 * The reply was longer than {@linkcode SendOptions.maxResponseSize}.
 *
 * @example
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
  /** The limit that was exceeded, in bytes. */
  readonly limit: number;

  /**
   * Makes the error.
   *
   * @param address The server, as `host:port`.
   * @param limit The limit that was exceeded, in bytes.
   */
  constructor(address: string, limit: number) {
    super(`reply from ${address} is longer than ${limit} bytes`);
    this.name = "ResponseTooLargeError";
    this.limit = limit;
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const PEM_CERTIFICATE = "-----BEGIN CERTIFICATE-----";

/**
 * Sends `message` (UTF-8 encoded when a string) to a TCP server, ends the
 * input, and returns the server's reply decoded as UTF-8 (invalid bytes become
 * U+FFFD). See {@linkcode sendBytes}.
 *
 * @example
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
 * @throws {Deno.errors.ConnectionRefused} Nothing listens there (the message
 *   names the address).
 * @throws {Deno.errors.TimedOut} The exchange took longer than `timeout`.
 * @throws {ResponseTooLargeError} The reply is longer than `maxResponseSize`.
 * @throws {Deno.errors.InvalidData} With `tls`, the TLS handshake failed: the
 *   certificate is not trusted or not valid for `hostname`, or the server
 *   does not speak TLS (the message names the address and the reason).
 * @throws {TypeError} `caCerts` without `tls: true`, or not PEM certificates.
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
 * without reading everything is fine: a reset after some reply arrived ends the
 * reply.
 *
 * @example
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
 * @throws {Deno.errors.ConnectionRefused} Nothing listens there (the message
 *   names the address).
 * @throws {Deno.errors.TimedOut} The exchange took longer than `timeout`.
 * @throws {ResponseTooLargeError} The reply is longer than `maxResponseSize`.
 * @throws {Deno.errors.InvalidData} With `tls`, the TLS handshake failed: the
 *   certificate is not trusted or not valid for `hostname`, or the server
 *   does not speak TLS (the message names the address and the reason).
 * @throws {TypeError} `caCerts` without `tls: true`, or not PEM certificates.
 */
export async function sendBytes(
  message: string | Uint8Array,
  options: SendOptions = {},
): Promise<Uint8Array> {
  const {
    hostname = "127.0.0.1",
    port = 12345,
    timeout = 10_000,
    maxResponseSize = 1024 * 1024,
    signal,
    tls = false,
    caCerts,
  } = options;
  checkCaCerts(tls, caCerts);
  signal?.throwIfAborted();
  const address = formatHostPort(hostname, port);
  const bytes = typeof message === "string" ? encoder.encode(message) : message;

  // One controller for both ways of giving up; its reason is what the caller
  // gets.
  const stop = new AbortController();
  const onAbort = () => stop.abort(signal?.reason);
  signal?.addEventListener("abort", onAbort, { once: true });
  const timer = timeout > 0
    ? setTimeout(
      () =>
        stop.abort(
          new Deno.errors.TimedOut(
            `no reply from ${address} within ${timeout} ms`,
          ),
        ),
      timeout,
    )
    : undefined;
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
      return await exchange(conn, bytes, maxResponseSize, address, close);
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
    clearTimeout(timer);
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
        `connection to ${address} refused: is the server running? (start it with \`deno run -N server.ts\`)`,
        { cause: error },
      );
    }
    // A plain Error is a host name that does not resolve; Deno's message does
    // not say which name.
    if (
      error instanceof Error && error.constructor === Error && !signal.aborted
    ) {
      throw new Error(`cannot connect to ${address}: ${error.message}`, {
        cause: error,
      });
    }
    throw error;
  }
}

function checkCaCerts(tls: boolean, caCerts: string[] | undefined): void {
  if (caCerts === undefined) return;
  if (!tls) {
    throw new TypeError(
      "caCerts is only used over TLS: add `tls: true` to connect with TLS",
    );
  }
  // Deno skips text without a PEM certificate silently: the handshake would
  // then fail as if the CA were simply not trusted.
  const bad = caCerts.findIndex((pem) => !pem.includes(PEM_CERTIFICATE));
  if (bad !== -1) {
    throw new TypeError(
      `caCerts[${bad}] is not a PEM certificate: no "${PEM_CERTIFICATE}" line`,
    );
  }
}

// Run on its own so that a TLS failure is not mistaken for a failed exchange,
// and is reported with the address.
async function handshake(conn: Deno.TlsConn, address: string): Promise<void> {
  try {
    await conn.handshake();
  } catch (error) {
    if (error instanceof Deno.errors.InvalidData) {
      throw new Deno.errors.InvalidData(
        `TLS handshake with ${address} failed: ${error.message}`,
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
): Promise<Uint8Array> {
  let sendError: { error: unknown } | undefined;
  const sending = (async () => {
    try {
      await writeAll(conn, bytes);
      await conn.closeWrite();
    } catch (error) {
      // The server may answer and close before reading everything; its reply
      // still counts.
      if (!isDisconnectError(error)) {
        sendError ??= { error };
        close();
      }
    }
  })();
  try {
    return await receive(conn, maxResponseSize, address);
  } catch (error) {
    if (sendError) throw sendError.error;
    throw error;
  } finally {
    // Once the reply is complete (or failed) nothing more will be read: stop
    // sending too.
    close();
    await sending;
  }
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
      if (length > 0 && error instanceof Deno.errors.ConnectionReset) break;
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
