/**
 * A TCP echo server: it sends every byte it receives back to the sender, or, in
 * reply mode, reads one message, answers it and closes, like the classic Python
 * socket server example.
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
  discardBuffer,
  discardInput,
  formatHostPort,
  invalidHostname,
  isDisconnectError,
  schedule,
} from "./_net.ts";

/**
 * Why a connection ended, as reported to
 * {@linkcode EchoServerOptions.onConnectionClose}:
 *
 * - `"closed"`: the client finished (end of input), or a reply was sent;
 * - `"reset"`: the client reset or dropped the connection, or, with TLS,
 *   sent data that is not valid TLS after the handshake;
 * - `"idle-timeout"`: nothing was received or sent for
 *   {@linkcode EchoServerOptions.idleTimeout} ms;
 * - `"limit"`: closed at once because
 *   {@linkcode EchoServerOptions.maxConnections} connections were already open;
 * - `"shutdown"`: the server was shutting down;
 * - `"handshake-failed"`: with TLS on ({@linkcode EchoServerOptions.cert}),
 *   the handshake failed: a plain TCP client, or one that does not trust the
 *   certificate. Like a reset, this is the client's doing and not reported to
 *   {@linkcode EchoServerOptions.onError};
 * - `"error"`: an unexpected error, reported to
 *   {@linkcode EchoServerOptions.onError}.
 *
 * @example Count how connections end
 * ```ts
 * import { type CloseReason, startEchoServer } from "@learn/server-client";
 * import { assertEquals } from "@std/assert";
 *
 * const reasons: CloseReason[] = [];
 * await using server = startEchoServer({
 *   hostname: "127.0.0.1",
 *   port: 0,
 *   onConnectionClose: (info) => reasons.push(info.reason),
 * });
 * const conn = await Deno.connect({ port: server.addr.port });
 * await conn.closeWrite();
 * await new Response(conn.readable).arrayBuffer();
 * await server.shutdown();
 * assertEquals(reasons, ["closed"]);
 * ```
 */
export type CloseReason =
  | "closed"
  | "reset"
  | "idle-timeout"
  | "limit"
  | "shutdown"
  | "handshake-failed"
  | "error";

/**
 * Figures for one finished connection, passed to
 * {@linkcode EchoServerOptions.onConnectionClose}.
 *
 * @example Log what each client sent in reply mode
 * ```ts
 * import {
 *   type ConnectionCloseInfo,
 *   sendMessage,
 *   startEchoServer,
 * } from "@learn/server-client";
 * import { assertEquals } from "@std/assert";
 *
 * const closed: ConnectionCloseInfo[] = [];
 * await using server = startEchoServer({
 *   hostname: "127.0.0.1",
 *   port: 0,
 *   reply: () => "ok",
 *   onConnectionClose: (info) => closed.push(info),
 * });
 * await sendMessage("Halo server!", { port: server.addr.port });
 * await server.shutdown();
 * assertEquals(closed[0]?.message, "Halo server!");
 * assertEquals(closed[0]?.bytesOut, 2);
 * ```
 */
export interface ConnectionCloseInfo {
  /** The client's address. */
  remoteAddr: Deno.NetAddr;
  /** Bytes received from the client. */
  bytesIn: number;
  /** Bytes sent to the client. */
  bytesOut: number;
  /** Time from accepting the connection to closing it, in milliseconds. */
  durationMs: number;
  /** Why the connection ended. */
  reason: CloseReason;
  /**
   * In reply mode, the message received (decoded as UTF-8); absent in echo
   * mode.
   */
  message?: string;
}

/**
 * What a {@linkcode ReplyHandler} gets besides the decoded message.
 *
 * @example Answer with the client's own address
 * ```ts
 * import {
 *   type ReplyContext,
 *   sendMessage,
 *   startEchoServer,
 * } from "@learn/server-client";
 * import { assertEquals } from "@std/assert";
 *
 * const whoAreYou = (_message: string, { remoteAddr }: ReplyContext) =>
 *   remoteAddr.hostname;
 * await using server = startEchoServer({
 *   hostname: "127.0.0.1",
 *   port: 0,
 *   reply: whoAreYou,
 * });
 * assertEquals(await sendMessage("?", { port: server.addr.port }), "127.0.0.1");
 * ```
 */
export interface ReplyContext {
  /** The message as received, before decoding. */
  bytes: Uint8Array;
  /** The client's address. */
  remoteAddr: Deno.NetAddr;
}

/**
 * Computes the answer to one message in reply mode. The message is what one
 * read returned, decoded as UTF-8 (invalid bytes become U+FFFD); it is empty
 * when the client closed without sending anything. A string answer is sent
 * UTF-8 encoded, a `Uint8Array` as it is. The answer may also come as a
 * promise, or any other thenable (`PromiseLike`), which is awaited.
 *
 * If the handler throws or rejects, or its answer is anything else (an
 * `ArrayBuffer`, a number, `null`, ...: a `TypeError`), the error goes to
 * {@linkcode EchoServerOptions.onError} and that connection is closed without
 * an answer (reason `"error"`; {@linkcode EchoServerOptions.reply} says what
 * the client sees); the server keeps running. A connection closed while its
 * answer is pending (idle timeout, shutdown) does not wait for it.
 *
 * @example Shout the message back
 * ```ts
 * import {
 *   type ReplyHandler,
 *   sendMessage,
 *   startEchoServer,
 * } from "@learn/server-client";
 * import { assertEquals } from "@std/assert";
 *
 * const shout: ReplyHandler = (message) => message.toUpperCase();
 * await using server = startEchoServer({
 *   hostname: "127.0.0.1",
 *   port: 0,
 *   reply: shout,
 * });
 * assertEquals(await sendMessage("halo", { port: server.addr.port }), "HALO");
 * ```
 */
export type ReplyHandler = (
  message: string,
  context: ReplyContext,
) => string | Uint8Array | PromiseLike<string | Uint8Array>;

/**
 * Options for {@linkcode startEchoServer}. Every option has a default, so
 * `{}` gives an echo server on every interface, port 12345.
 *
 * @example A local server with tighter limits
 * ```ts
 * import {
 *   type EchoServerOptions,
 *   sendMessage,
 *   startEchoServer,
 * } from "@learn/server-client";
 * import { assertEquals } from "@std/assert";
 *
 * const options: EchoServerOptions = {
 *   hostname: "127.0.0.1",
 *   port: 0,
 *   maxConnections: 100,
 *   idleTimeout: 5_000,
 * };
 * await using server = startEchoServer(options);
 * assertEquals(await sendMessage("Halo", { port: server.addr.port }), "Halo");
 * ```
 */
export interface EchoServerOptions {
  /**
   * The interface to listen on.
   *
   * @default {"0.0.0.0"}
   */
  hostname?: string;
  /**
   * The port to listen on; `0` lets the system pick a free one (see
   * {@linkcode EchoServer.addr}).
   *
   * @default {12345}
   */
  port?: number;
  /**
   * Aborting this signal shuts the server down gracefully, like
   * {@linkcode EchoServer.shutdown}: connections get the grace period to send
   * back what they already received. This differs from `Deno.serve`, whose
   * signal closes every connection at once: an echo server's promise is that
   * every byte it read comes back, and a stop signal (say SIGTERM) should not
   * break it. For a forced stop call {@linkcode EchoServer.close}.
   */
  signal?: AbortSignal;
  /**
   * Called once the server listens, with the address it is bound to. The
   * library prints nothing itself. If it throws, the server is closed again
   * and {@linkcode startEchoServer} throws that error. Not set by default.
   */
  onListen?: (addr: Deno.NetAddr) => void;
  /**
   * Called with unexpected errors: a {@linkcode ReplyHandler} or hook that
   * throws, a failed `accept()` (first of a run of failures), an unusual socket
   * error. Clients disconnecting (reset, broken pipe, ...) are ordinary and not
   * reported. If it throws (or, being async, rejects), that error is ignored.
   *
   * @default {console.error}
   */
  onError?: (error: unknown) => void;
  /**
   * How many connections may be open at once: a positive whole number, or
   * `Infinity` for no limit. Connections beyond it are accepted and closed at
   * once (reason `"limit"`), so clients fail fast instead of waiting in the
   * backlog.
   *
   * @default {10000}
   */
  maxConnections?: number;
  /**
   * Closes a connection on which nothing was received or sent for this many
   * milliseconds (reason `"idle-timeout"`); `0` or `Infinity` disables it. The
   * check runs periodically, so a connection may stay up to half this time (at
   * most 500 ms) longer.
   *
   * @default {30000}
   */
  idleTimeout?: number;
  /**
   * How long {@linkcode EchoServer.shutdown} waits, in milliseconds, for open
   * connections to finish (send back what they received, and see the client
   * close) before closing them anyway; `Infinity` waits as long as it takes.
   *
   * @default {5000}
   */
  shutdownGracePeriod?: number;
  /**
   * Switches to reply mode: read one message of up to
   * {@linkcode maxMessageSize} bytes (a single read, like Python's
   * `recv(1024)`), send what this returns, close the connection. Without it,
   * the server echoes.
   *
   * After the answer the server ends its side and reads (and discards) what
   * the client still sends until the client closes, for at most 2 seconds and
   * 1 MiB: closing with input unread would reset the connection, and a reset
   * destroys the part of the answer the client has not read yet.
   *
   * If `reply` throws or rejects, the error goes to {@linkcode onError} and
   * the connection is closed at once with nothing sent (reason `"error"`).
   * The client then reads an end of input with no answer before it, which it
   * cannot tell from an empty answer: the bare protocol has no room for an
   * error, and Deno cannot reset a connection on purpose (its `close()` ends
   * the connection in order first, and it has no `SO_LINGER`). For its client
   * to know, a handler catches its own errors and answers with a message
   * saying so.
   */
  reply?: ReplyHandler;
  /**
   * In reply mode, the most bytes read as the message: a whole number from 1
   * to 67108864 (64 MiB; one read never returns more than the socket's
   * receive buffer anyway).
   *
   * @default {1024}
   */
  maxMessageSize?: number;
  /**
   * Called after each connection closes, with its figures. Meant for connection
   * logs; it runs on every connection, so keep it cheap. What it throws (or,
   * being async, rejects with) goes to {@linkcode onError}. Not set by default.
   */
  onConnectionClose?: (info: ConnectionCloseInfo) => void;
  /**
   * The server's certificate chain in PEM format, as for `Deno.listenTls`.
   * Given together with {@linkcode key}, the server listens with
   * `Deno.listenTls` and speaks TLS (clients connect with `Deno.connectTls`,
   * or {@linkcode sendMessage} with `tls: true`); one without the other is a
   * `TypeError`. Byte counts and messages are those of the decrypted data.
   * Without both, the server speaks plain TCP.
   */
  cert?: string;
  /**
   * The private key of {@linkcode cert} in PEM format (PKCS#8, RSA or EC), as
   * for `Deno.listenTls`.
   */
  key?: string;
}

/**
 * Live figures of an {@linkcode EchoServer}.
 *
 * @example Read the figures after a round trip
 * ```ts
 * import {
 *   type EchoServerStats,
 *   sendMessage,
 *   startEchoServer,
 * } from "@learn/server-client";
 * import { assertEquals } from "@std/assert";
 *
 * await using server = startEchoServer({ hostname: "127.0.0.1", port: 0 });
 * await sendMessage("Halo", { port: server.addr.port });
 * await server.shutdown();
 * const stats: EchoServerStats = server.stats;
 * assertEquals([stats.bytesIn, stats.bytesOut, stats.openConnections], [4, 4, 0]);
 * ```
 */
export interface EchoServerStats {
  /** Connections open now. */
  openConnections: number;
  /** Connections accepted and served so far, including the open ones. */
  connectionsServed: number;
  /**
   * Connections closed at once: over `maxConnections`, or arriving during
   * shutdown.
   */
  connectionsRejected: number;
  /** Bytes received from all clients. */
  bytesIn: number;
  /** Bytes sent to all clients (in echo mode, the bytes echoed). */
  bytesOut: number;
}

/**
 * A running echo server, shaped like `Deno.HttpServer`. `await using` shuts it
 * down (gracefully) at the end of the scope.
 *
 * @example Stop it with an AbortSignal and wait for it
 * ```ts
 * import { type EchoServer, startEchoServer } from "@learn/server-client";
 * import { assertEquals } from "@std/assert";
 *
 * const controller = new AbortController();
 * const server: EchoServer = startEchoServer({
 *   hostname: "127.0.0.1",
 *   port: 0,
 *   signal: controller.signal,
 * });
 * controller.abort();
 * await server.finished;
 * assertEquals(server.stats.openConnections, 0);
 * ```
 */
export interface EchoServer extends AsyncDisposable {
  /**
   * The address the server is bound to, with the real port when `port: 0` was
   * asked for.
   */
  readonly addr: Deno.NetAddr;
  /** Resolves once the server has stopped and every connection is closed. */
  readonly finished: Promise<void>;
  /** A snapshot of the server's figures. */
  readonly stats: EchoServerStats;
  /**
   * Stops gracefully: stops accepting at once; lets every connection send back
   * what it already received; ends the server's side of each (the client
   * reads the end of input) and waits for the client to close, discarding what
   * it still sends; closes what is left after `shutdownGracePeriod` ms. Then
   * resolves like {@linkcode EchoServer.finished}. Calling it again just
   * waits; {@linkcode EchoServer.close} cuts it short.
   *
   * @example Stop gracefully
   * ```ts
   * import { sendMessage, startEchoServer } from "@learn/server-client";
   * import { assertEquals } from "@std/assert";
   *
   * const server = startEchoServer({ hostname: "127.0.0.1", port: 0 });
   * assertEquals(await sendMessage("Halo", { port: server.addr.port }), "Halo");
   * await server.shutdown();
   * assertEquals(server.stats.openConnections, 0);
   * ```
   *
   * @returns A promise that resolves once every connection is closed.
   */
  shutdown(): Promise<void>;
  /**
   * Stops now: stops accepting and closes every connection at once (reason
   * `"shutdown"`), whatever it was doing; echoed bytes not yet delivered may be
   * lost. Resolves like {@linkcode EchoServer.finished}. Also cuts a graceful
   * {@linkcode EchoServer.shutdown} short.
   *
   * @example Stop at once, with a client still connected
   * ```ts
   * import { startEchoServer } from "@learn/server-client";
   * import { assertEquals } from "@std/assert";
   *
   * const server = startEchoServer({ hostname: "127.0.0.1", port: 0 });
   * using conn = await Deno.connect({ port: server.addr.port });
   * await server.close();
   * assertEquals(await conn.read(new Uint8Array(1)), null);
   * ```
   *
   * @returns A promise that resolves once every connection is closed.
   */
  close(): Promise<void>;
  /**
   * Makes the server keep the program running again after
   * {@linkcode EchoServer.unref} (the default).
   *
   * @example Undo unref()
   * ```ts
   * import { startEchoServer } from "@learn/server-client";
   *
   * await using server = startEchoServer({ hostname: "127.0.0.1", port: 0 });
   * server.unref();
   * server.ref();
   * ```
   */
  ref(): void;
  /**
   * Lets the program end while the server waits for connections, as
   * `Deno.HttpServer.unref()` does: the listener no longer keeps it running.
   * Open connections still do, until they close, so no client is cut off
   * mid-exchange; the program then ends without a shutdown.
   *
   * @example A server that does not keep the program alive
   * ```ts
   * import { startEchoServer } from "@learn/server-client";
   *
   * const server = startEchoServer({ hostname: "127.0.0.1", port: 0 });
   * server.unref();
   * // The program may end here; a shutdown still works too.
   * await server.shutdown();
   * ```
   */
  unref(): void;
}

// An idle connection's pending read pins its buffer, so reads start small; a
// read that fills it means data is streaming, and a large buffer then keeps
// per-read overhead low.
const SMALL_BUFFER_SIZE = 2 * 1024;
const LARGE_BUFFER_SIZE = 64 * 1024;
// Large buffers are handed back and forth between connections as their traffic
// comes and goes.
const LARGE_BUFFER_POOL_LIMIT = 16;
// In reply mode, at most this much memory of message buffers waits in the pool
// for the next connections (1024 buffers of the default 1 KiB; none of 2 MiB
// and more, which are rare enough to allocate each time).
const MESSAGE_POOL_BYTES = 1024 * 1024;
const ACCEPT_BACKOFF_MIN = 10;
const ACCEPT_BACKOFF_MAX = 1000;
// One read never returns more than the socket's receive buffer (a few MiB), so
// a larger message buffer would only waste memory on every connection.
const MAX_MESSAGE_SIZE = 64 * 1024 * 1024;
// After a reply, how long and how much the server keeps reading (and
// discarding) while it waits for the client to end its side: closing with
// unread input resets the connection and loses the reply's tail.
const LINGER_TIMEOUT = 2_000;
const LINGER_LIMIT = 1024 * 1024;
const START = "Cannot start the echo server";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Starts a TCP echo server and returns at once. In echo mode (the default)
 * every byte a client sends comes back in order; when the client ends its input
 * (half-close), the rest is sent and the connection closed. With a `reply`
 * function the server answers one message per connection instead. The server
 * prints nothing; see {@linkcode EchoServerOptions} for hooks and limits.
 *
 * @example Echo
 * ```ts
 * import { startEchoServer } from "@learn/server-client";
 * import { assertEquals } from "@std/assert";
 *
 * await using server = startEchoServer({ hostname: "127.0.0.1", port: 0 });
 * const { port } = server.addr;
 * using conn = await Deno.connect({ hostname: "127.0.0.1", port });
 * await conn.write(new TextEncoder().encode("ping"));
 * const buffer = new Uint8Array(4);
 * const n = await conn.read(buffer);
 * assertEquals(new TextDecoder().decode(buffer.subarray(0, n ?? 0)), "ping");
 * ```
 *
 * @example Reply mode, like the Python socket server
 * ```ts
 * import { sendMessage, startEchoServer } from "@learn/server-client";
 * import { assertEquals } from "@std/assert";
 *
 * await using server = startEchoServer({
 *   hostname: "127.0.0.1",
 *   port: 0,
 *   reply: () => "Pesan diterima server",
 * });
 * const answer = await sendMessage("Halo server!", { port: server.addr.port });
 * assertEquals(answer, "Pesan diterima server");
 * ```
 *
 * @example Over TLS, with a certificate and key in PEM format
 * ```ts
 * import { sendMessage, startEchoServer } from "@learn/server-client";
 *
 * // `ca` is the certificate that signed `cert`: the client trusts it.
 * async function echoOverTls(cert: string, key: string, ca: string) {
 *   await using server = startEchoServer({
 *     hostname: "127.0.0.1",
 *     port: 0,
 *     cert,
 *     key,
 *   });
 *   return await sendMessage("Halo!", {
 *     port: server.addr.port,
 *     tls: true,
 *     caCerts: [ca],
 *   });
 * }
 * ```
 *
 * @param options Where to listen, hooks, limits, the reply mode and TLS.
 * @returns The running server.
 * @throws {TypeError} An option has the wrong type (a hook that is not a
 *   function, a `hostname` that is not a string, ...), `hostname` is no host
 *   name or IP address at all (`"a b"`), or only one of `cert` and `key` is
 *   given. The message names the option and the value.
 * @throws {RangeError} A numeric option is out of range: `port` not a whole
 *   number from 0 to 65535, `maxConnections` not a positive whole number or
 *   `Infinity`, `idleTimeout` or `shutdownGracePeriod` negative or `NaN`,
 *   `maxMessageSize` not a whole number from 1 to 67108864 (64 MiB). The
 *   message names the option and the value.
 * @throws {Deno.errors.InvalidData} `cert` or `key` is not valid PEM.
 * @throws {Deno.errors.AddrInUse} The address is taken (the message names it).
 * @throws {Deno.errors.AddrNotAvailable} The address is not one of this
 *   machine's (the message names it).
 * @throws {Deno.errors.NotCapable} No network permission for that address.
 * @throws {Error} `hostname` does not resolve (the message names it).
 * @throws {unknown} Whatever {@linkcode EchoServerOptions.onListen} throws; the
 *   server is then closed again.
 */
export function startEchoServer(options: EchoServerOptions = {}): EchoServer {
  checkOptions(options);
  const { hostname = "0.0.0.0", port = 12345, cert, key } = options;
  if ((cert === undefined) !== (key === undefined)) {
    throw new TypeError(
      `${START}: TLS needs both \`cert\` and \`key\`, but \`${
        cert === undefined ? "cert" : "key"
      }\` is missing`,
    );
  }
  const tls = cert !== undefined && key !== undefined;
  const listener = listen(hostname, port, tls ? { cert, key } : undefined);
  try {
    options.onListen?.(listener.addr);
  } catch (error) {
    listener.close();
    throw error;
  }
  return new Server(listener, options, tls);
}

function checkOptions(options: EchoServerOptions): void {
  checkOptionsObject(START, options);
  checkHostname(START, options.hostname);
  checkNumber(START, "port", options.port, {
    min: 0,
    max: 65535,
    integer: true,
  });
  checkNumber(START, "maxConnections", options.maxConnections, {
    min: 1,
    integer: true,
  });
  checkNumber(START, "idleTimeout", options.idleTimeout, { min: 0 });
  checkNumber(START, "shutdownGracePeriod", options.shutdownGracePeriod, {
    min: 0,
  });
  checkNumber(START, "maxMessageSize", options.maxMessageSize, {
    min: 1,
    max: MAX_MESSAGE_SIZE,
    integer: true,
  });
  for (
    const hook of ["onListen", "onError", "onConnectionClose", "reply"] as const
  ) {
    checkType(START, hook, options[hook], "function");
  }
  checkType(START, "cert", options.cert, "string");
  checkType(START, "key", options.key, "string");
  checkSignal(START, options.signal);
}

function listen(
  hostname: string,
  port: number,
  tls: Deno.TlsCertifiedKeyPem | undefined,
): Deno.Listener<Deno.Conn, Deno.NetAddr> {
  try {
    return tls === undefined
      ? Deno.listen({ hostname, port })
      : Deno.listenTls({ hostname, port, ...tls });
  } catch (error) {
    // Deno's own message does not say which address.
    if (error instanceof Deno.errors.AddrInUse) {
      throw new Deno.errors.AddrInUse(
        `Cannot listen on ${
          formatHostPort(hostname, port)
        }: the address is already in use`,
        { cause: error },
      );
    }
    if (error instanceof Deno.errors.AddrNotAvailable) {
      throw new Deno.errors.AddrNotAvailable(
        `Cannot listen on ${
          formatHostPort(hostname, port)
        }: the address is not available on this machine`,
        { cause: error },
      );
    }
    if (error instanceof URIError) {
      throw invalidHostname(START, hostname, error);
    }
    // A plain Error is a host name that does not resolve; Deno's message does
    // not say which name.
    if (error instanceof Error && error.constructor === Error) {
      throw new Error(
        `Cannot listen on ${formatHostPort(hostname, port)}: ${error.message}`,
        { cause: error },
      );
    }
    throw error;
  }
}

class Connection {
  readonly conn: Deno.Conn;
  readonly remoteAddr: Deno.NetAddr;
  // Read only for onConnectionClose's durationMs: a clock reading is a call
  // into the runtime, about 0.7% of a one-shot exchange's CPU.
  readonly startedAt: number;
  // When the idle sweep last saw activity. Reads and writes only raise
  // `active`, which the sweep turns into a time: reading the clock after
  // every read and write cost about 1.5% of the server's CPU while streaming.
  // Opening the connection counts as activity.
  lastActivity = 0;
  active = true;
  bytesIn = 0;
  bytesOut = 0;
  // True while waiting for the client: ending our side then loses no data
  // already received.
  reading = false;
  handshaking = false;
  // True after a reply, while discarding input until the client ends its side.
  lingering = false;
  reason: CloseReason | undefined;
  message: string | undefined;
  // Where the server's list of open connections holds this one.
  slot = -1;
  #closed: PromiseWithResolvers<void> | undefined;

  constructor(conn: Deno.Conn, timed: boolean) {
    this.conn = conn;
    this.remoteAddr = conn.remoteAddr as Deno.NetAddr;
    this.startedAt = timed ? performance.now() : 0;
  }

  // The first reason wins: a read cancelled by an idle close still reports
  // "idle-timeout".
  close(reason: CloseReason): void {
    if (this.reason !== undefined) return;
    this.reason = reason;
    this.conn.close();
    this.#closed?.resolve();
  }

  // Only made for asynchronous replies, which are not bound to the socket and
  // so are not cut short when it closes.
  closed(): Promise<void> {
    this.#closed ??= Promise.withResolvers();
    if (this.reason !== undefined) this.#closed.resolve();
    return this.#closed.promise;
  }

  // Ends our side (the client reads the end of input) and keeps reading, so
  // that the final close does not reset the connection and destroy what the
  // client has not read yet.
  end(): void {
    this.conn.closeWrite().catch(() => {
      // The client is gone; the pending read reports it.
    });
  }

  info(): ConnectionCloseInfo {
    return {
      remoteAddr: this.remoteAddr,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      durationMs: performance.now() - this.startedAt,
      reason: this.reason ?? "error",
      ...(this.message === undefined ? {} : { message: this.message }),
    };
  }
}

class Server implements EchoServer {
  readonly addr: Deno.NetAddr;
  readonly finished: Promise<void>;
  readonly #listener: Deno.Listener;
  readonly #signal: AbortSignal | undefined;
  readonly #onError: (error: unknown) => void;
  readonly #onConnectionClose:
    | ((info: ConnectionCloseInfo) => void)
    | undefined;
  readonly #maxConnections: number;
  readonly #idleTimeout: number;
  readonly #shutdownGracePeriod: number;
  readonly #reply: ReplyHandler | undefined;
  readonly #maxMessageSize: number;
  readonly #tls: boolean;
  // An array, not a Set: a Set under constant add and delete keeps making new
  // hash tables, and an old one that outlived a garbage collection keeps the
  // connections it held alive until a full one. With one short connection per
  // exchange, that multiplied the young-generation pauses about six times and
  // doubled the one-shot p99 (bench/RESULTS.md).
  readonly #connections: Connection[] = [];
  readonly #largeBuffers: Uint8Array<ArrayBuffer>[] = [];
  readonly #messageBuffers: Uint8Array<ArrayBuffer>[] = [];
  readonly #messagePoolLimit: number;
  readonly #drained = Promise.withResolvers<void>();
  #served = 0;
  #rejected = 0;
  #bytesIn = 0;
  #bytesOut = 0;
  #stopping = false;
  #refed = true;
  #lastText: string | undefined;
  #lastBytes = new Uint8Array();
  #sweepTimer: ReturnType<typeof setInterval> | undefined;
  #cancelGrace: (() => void) | undefined;
  #cancelBackoff: (() => void) | undefined;

  constructor(
    listener: Deno.Listener<Deno.Conn, Deno.NetAddr>,
    options: EchoServerOptions,
    tls: boolean,
  ) {
    this.addr = listener.addr;
    this.#tls = tls;
    this.#listener = listener;
    this.#signal = options.signal;
    // deno-lint-ignore no-console -- documented default: an error nobody handles is printed, not lost
    this.#onError = options.onError ?? console.error;
    this.#onConnectionClose = options.onConnectionClose;
    this.#maxConnections = options.maxConnections ?? 10_000;
    // 0 and Infinity both turn the idle check off.
    this.#idleTimeout = options.idleTimeout || Infinity;
    this.#shutdownGracePeriod = options.shutdownGracePeriod ?? 5_000;
    this.#reply = options.reply;
    this.#maxMessageSize = options.maxMessageSize ?? 1024;
    this.#messagePoolLimit = Math.floor(
      MESSAGE_POOL_BYTES / this.#maxMessageSize,
    );

    // One sweep for all connections keeps timers off the per-read path. It
    // never keeps the program alive by itself: a connection it could close has
    // a pending read that does.
    if (this.#idleTimeout !== Infinity || this.#reply !== undefined) {
      // Activity is timed at the sweep after it, and the close comes at a
      // sweep: at most two intervals late. Sweeping every fifth of the
      // timeout keeps that to 40% (400 ms), under the documented half
      // (500 ms) with room for a timer that fires late; every quarter hit
      // the bound exactly.
      this.#sweepTimer = setInterval(
        () => this.#closeIdle(),
        Math.min(this.#idleTimeout, 1000) / 5,
      );
      Deno.unrefTimer(this.#sweepTimer);
    }
    this.finished = Promise.all([this.#acceptLoop(), this.#drained.promise])
      .then(() => {
        clearInterval(this.#sweepTimer);
        this.#cancelGrace?.();
      });
    if (this.#signal?.aborted) {
      void this.shutdown();
    } else {
      this.#signal?.addEventListener("abort", this.#onAbort, { once: true });
    }
  }

  get stats(): EchoServerStats {
    return {
      openConnections: this.#connections.length,
      connectionsServed: this.#served,
      connectionsRejected: this.#rejected,
      bytesIn: this.#bytesIn,
      bytesOut: this.#bytesOut,
    };
  }

  shutdown(): Promise<void> {
    if (this.#stop() && this.#connections.length > 0) {
      for (const connection of this.#connections) {
        // Nothing of ours is lost by dropping a handshake.
        if (connection.handshaking) connection.close("shutdown");
        else if (connection.reading) connection.end();
      }
      this.#cancelGrace = schedule(
        () => this.#closeAll(),
        this.#shutdownGracePeriod,
      );
    }
    return this.finished;
  }

  close(): Promise<void> {
    this.#stop();
    this.#closeAll();
    return this.finished;
  }

  ref(): void {
    this.#refed = true;
    this.#listener.ref();
  }

  unref(): void {
    this.#refed = false;
    this.#listener.unref();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }

  #onAbort = (): void => {
    void this.shutdown();
  };

  // Stops accepting; false if the server was already stopping.
  #stop(): boolean {
    if (this.#stopping) return false;
    this.#stopping = true;
    this.#signal?.removeEventListener("abort", this.#onAbort);
    // An unref'd pending accept would let the program end before `finished`
    // resolves, with the caller still awaiting it.
    this.#listener.ref();
    this.#listener.close();
    this.#cancelBackoff?.();
    if (this.#connections.length === 0) this.#drained.resolve();
    return true;
  }

  #closeAll(): void {
    for (const connection of this.#connections) connection.close("shutdown");
  }

  async #acceptLoop(): Promise<void> {
    let backoff = 0;
    while (!this.#stopping) {
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
      } catch (error) {
        if (this.#stopping) return;
        // A client that reset before its connection was accepted is gone;
        // pausing for it would let any client stall the accept loop.
        if (isDisconnectError(error)) continue;
        // Out of file descriptors and the like: wait for connections to close,
        // keep serving.
        if (backoff === 0) this.#report(error);
        backoff = Math.min(
          Math.max(backoff * 2, ACCEPT_BACKOFF_MIN),
          ACCEPT_BACKOFF_MAX,
        );
        await this.#pause(backoff);
        continue;
      }
      backoff = 0;
      if (this.#stopping) {
        this.#refuse(conn, "shutdown");
      } else if (this.#connections.length >= this.#maxConnections) {
        this.#refuse(conn, "limit");
      } else {
        void this.#serve(conn);
      }
    }
  }

  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      // Waiting to accept again must not keep an unref'd server's program
      // alive.
      if (!this.#refed) Deno.unrefTimer(timer);
      this.#cancelBackoff = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  #refuse(conn: Deno.Conn, reason: CloseReason): void {
    this.#rejected++;
    conn.close();
    this.#notifyClose({
      remoteAddr: conn.remoteAddr as Deno.NetAddr,
      bytesIn: 0,
      bytesOut: 0,
      durationMs: 0,
      reason,
    });
  }

  // Never rejects: it runs detached from the accept loop.
  async #serve(conn: Deno.Conn): Promise<void> {
    const connection = new Connection(
      conn,
      this.#onConnectionClose !== undefined,
    );
    connection.slot = this.#connections.length;
    this.#connections.push(connection);
    this.#served++;
    try {
      if (this.#tls && !await this.#handshake(connection)) return;
      const reason = this.#reply === undefined
        ? await this.#echo(connection)
        : await this.#answer(connection, this.#reply);
      connection.close(reason);
    } catch (error) {
      // A connection closed on purpose (idle, shutdown) already has its reason;
      // its cancelled read or write lands here.
      if (connection.reason === undefined) {
        // Records that do not decrypt after the handshake are as much the
        // client's doing as a reset: a log line per such client would let any
        // client fill the log with warnings.
        if (
          isDisconnectError(error) ||
          this.#tls && error instanceof Deno.errors.InvalidData
        ) {
          connection.close("reset");
        } else {
          this.#report(error);
          connection.close("error");
        }
      }
    } finally {
      this.#untrack(connection);
      // The figures cost an object per connection: only built when heard.
      if (this.#onConnectionClose !== undefined) {
        this.#notifyClose(connection.info());
      }
      if (this.#stopping && this.#connections.length === 0) {
        this.#drained.resolve();
      }
    }
  }

  // Done before the first read so that a failed handshake (a plain TCP client,
  // one that does not trust the certificate) is told apart from a failed read.
  async #handshake(connection: Connection): Promise<boolean> {
    connection.handshaking = true;
    try {
      await (connection.conn as Deno.TlsConn).handshake();
      connection.active = true;
      return true;
    } catch (error) {
      // An idle or shutdown close cancels the handshake and keeps its reason.
      connection.close(
        isDisconnectError(error) ? "reset" : "handshake-failed",
      );
      return false;
    } finally {
      connection.handshaking = false;
    }
  }

  async #echo(connection: Connection): Promise<CloseReason> {
    const { conn } = connection;
    const small = new Uint8Array(SMALL_BUFFER_SIZE);
    let buffer = small;
    try {
      while (true) {
        connection.reading = true;
        const n = await conn.read(buffer);
        connection.reading = false;
        if (n === null) return this.#stopping ? "shutdown" : "closed";
        if (this.#stopping) {
          // shutdown() ended our side while this read waited: what came is
          // not echoed.
          await discardInput(conn);
          return "shutdown";
        }
        connection.active = true;
        connection.bytesIn += n;
        this.#bytesIn += n;
        // Awaiting the write before reading again is the backpressure: a client
        // that does not read makes the server stop reading from it.
        const chunk = n === buffer.length ? buffer : buffer.subarray(0, n);
        let written = 0;
        while (written < n) {
          const count = await conn.write(
            written === 0 ? chunk : chunk.subarray(written),
          );
          written += count;
          connection.bytesOut += count;
          this.#bytesOut += count;
          connection.active = true;
        }
        if (this.#stopping) {
          // Closing while the client is still sending would reset the
          // connection, and a reset throws away echoed bytes still queued for
          // it. So end our side and let the client close (or the grace period
          // run out), discarding what it sends meanwhile.
          await conn.closeWrite();
          await discardInput(conn);
          return "shutdown";
        }
        if (buffer === small) {
          if (n === small.length) {
            buffer = this.#largeBuffers.pop() ??
              new Uint8Array(LARGE_BUFFER_SIZE);
          }
        } else if (n <= SMALL_BUFFER_SIZE) {
          // A read the small buffer would have held drained the socket: the
          // next read may wait a long time. Any larger read keeps the large
          // buffer: with many streams at once most reads come back a little
          // short, and dropping to 2 KiB after each cost an extra small
          // read and write per large one (about 10% of the throughput of
          // 64 streams, bench/RESULTS.md). An idle connection can pin 64 KiB
          // either way: one that sent exactly 2 KiB already does.
          this.#releaseBuffer(buffer);
          buffer = small;
        }
      }
    } finally {
      if (buffer !== small) this.#releaseBuffer(buffer);
    }
  }

  // Moves the last connection into the freed slot: the order is not kept.
  // Removal is only ever done after an await, never while a loop over the
  // list runs.
  #untrack(connection: Connection): void {
    const last = this.#connections.pop()!;
    if (last !== connection) {
      this.#connections[connection.slot] = last;
      last.slot = connection.slot;
    }
  }

  #releaseBuffer(buffer: Uint8Array<ArrayBuffer>): void {
    if (this.#largeBuffers.length < LARGE_BUFFER_POOL_LIMIT) {
      this.#largeBuffers.push(buffer);
    }
  }

  async #answer(
    connection: Connection,
    reply: ReplyHandler,
  ): Promise<CloseReason> {
    const { conn } = connection;
    // Message buffers go back to a pool after each exchange: a new one per
    // connection cost an allocation outside the JS heap (and the garbage
    // collector's work to free it) on every exchange. The reply handler gets
    // a copy of the message, so nothing it keeps sees the buffer reused.
    const buffer = this.#messageBuffers.pop() ??
      new Uint8Array(this.#maxMessageSize);
    try {
      connection.reading = true;
      const n = await conn.read(buffer);
      connection.reading = false;
      if (this.#stopping) {
        // shutdown() ended our side while this read waited: no answer.
        if (n !== null) await discardInput(conn);
        return "shutdown";
      }
      connection.active = true;
      const bytes = buffer.slice(0, n ?? 0);
      connection.bytesIn = bytes.length;
      this.#bytesIn += bytes.length;
      connection.message = decoder.decode(bytes);
      let answer: unknown = reply(connection.message, {
        bytes,
        remoteAddr: connection.remoteAddr,
      });
      // Most replies are computed at once; awaiting those would cost a
      // microtask turn per connection.
      if (typeof answer !== "string" && !(answer instanceof Uint8Array)) {
        answer = await Promise.race([answer, connection.closed()]);
        if (connection.reason !== undefined) return connection.reason;
        if (typeof answer !== "string" && !(answer instanceof Uint8Array)) {
          throw new TypeError(
            `Cannot answer ${
              formatHostPort(
                connection.remoteAddr.hostname,
                connection.remoteAddr.port,
              )
            }: reply returned ${
              describe(answer)
            }, not a string, a Uint8Array or a promise of one`,
          );
        }
      }
      const out = typeof answer === "string" ? this.#encode(answer) : answer;
      // One write sends a usual reply whole. The rest of a longer one goes
      // out as the client reads it: each part counts as activity, so a slow
      // reader is not taken for an idle one, and counts as sent, so a reply
      // cut short reports what went out.
      let written = 0;
      do {
        const count = await conn.write(
          written === 0 ? out : out.subarray(written),
        );
        written += count;
        connection.bytesOut += count;
        this.#bytesOut += count;
        connection.active = true;
      } while (written < out.length);
      await conn.closeWrite();
      // A client that ended its side before sending anything has nothing left
      // to send: no reset is possible, nothing to wait for.
      if (n === null) return "closed";
      connection.lingering = true;
      connection.active = true;
      // Usually the first read already sees the client's end.
      const more = await conn.read(discardBuffer);
      if (more !== null) await discardInput(conn, LINGER_LIMIT - more);
      return "closed";
    } finally {
      // Every read into the buffer has finished here: each one is awaited.
      if (this.#messageBuffers.length < this.#messagePoolLimit) {
        this.#messageBuffers.push(buffer);
      }
    }
  }

  // Most servers answer the same text every time (server.ts always does):
  // encoding it once saves a copy per connection. The bytes are only ever
  // written, never handed out, so sharing them is safe.
  #encode(text: string): Uint8Array {
    if (text !== this.#lastText) {
      this.#lastBytes = encoder.encode(text);
      this.#lastText = text;
    }
    return this.#lastBytes;
  }

  #closeIdle(): void {
    const now = performance.now();
    for (const connection of this.#connections) {
      if (connection.active) {
        connection.active = false;
        connection.lastActivity = now;
      } else if (connection.lingering) {
        if (now - connection.lastActivity >= LINGER_TIMEOUT) {
          connection.close("closed");
        }
      } else if (now - connection.lastActivity >= this.#idleTimeout) {
        connection.close("idle-timeout");
      }
    }
  }

  #notifyClose(info: ConnectionCloseInfo): void {
    if (this.#onConnectionClose === undefined) return;
    try {
      const result: unknown = this.#onConnectionClose(info);
      // An async hook's rejection would otherwise go unhandled, which ends
      // the process.
      if (result instanceof Promise) {
        result.catch((error) => this.#report(error));
      }
    } catch (error) {
      this.#report(error);
    }
  }

  #report(error: unknown): void {
    try {
      const result: unknown = this.#onError(error);
      if (result instanceof Promise) result.catch(() => {});
    } catch {
      // A failing error hook must not take the server down with it.
    }
  }
}
