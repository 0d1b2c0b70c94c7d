/**
 * The server program, run from JSR as
 * `deno run -N jsr:@learn/server-client/server [options]` or from a clone as
 * `deno run -N server.ts [options]` (`--help` lists the options).
 *
 * Serves {@linkcode createGreetingHandler} over HTTP (port 8000) and
 * {@linkcode startEchoServer} over TCP (port 12345) until SIGINT or SIGTERM,
 * then stops accepting, finishes what is in flight and exits 0; a second
 * signal closes every connection at once (exit 130 or 143). With
 * `--cert FILE --key FILE` (and `-R` to read them), both speak TLS instead.
 *
 * @module
 */

import {
  createGreetingHandler,
  type EchoServer,
  type RequestLogEntry,
  startEchoServer,
} from "./mod.ts";
import { formatConnectionLog, LogBuffer } from "./src/log.ts";
import config from "./deno.json" with { type: "json" };
import { parseArgs } from "@std/cli/parse-args";
import {
  CliError,
  describeError,
  EXIT_FAILURE,
  hostFlag,
  integerFlag,
  joinFlagValues,
  listenError,
  portFlag,
  readPemFlag,
  rejectUnknownFlag,
  requireNetAccess,
  runMain,
  stringFlag,
  usageError,
} from "./src/_cli.ts";
import { formatHostPort } from "./src/_net.ts";

const PROGRAM = "server.ts";
// Run from a clone, the programs are files; run from JSR, the package's exports.
const FROM_FILE = import.meta.url.startsWith("file:");
const SERVER = FROM_FILE ? "server.ts" : `jsr:${config.name}/server`;
const CLIENT = FROM_FILE ? "client.ts" : `jsr:${config.name}/client`;
const SHUTDOWN_LIMIT_MS = 6_000;

const USAGE = `Usage: deno run -N ${SERVER} [options]

Serves the greeting over HTTP and an echo service over TCP:
  curl 'http://localhost:8000/?name=Budi'
  deno run -N ${CLIENT} "Halo server!"

Over TLS (HTTPS and TLS on the same ports):
  deno run -N -R ${SERVER} --cert cert.pem --key key.pem
  deno run -N -R ${CLIENT} --tls --ca ca.pem "Halo server!"

Options:
  --hostname HOST          address to listen on (default 0.0.0.0: every interface)
  --http-port PORT         HTTP port, 0 picks a free one (default 8000)
  --echo-port PORT         TCP port, 0 picks a free one (default 12345)
  --no-http                do not start the HTTP greeting server
  --no-echo                do not start the TCP echo server
  --reply TEXT             TCP reply mode: read one message, answer TEXT, close
                           (as the teaching text's socket server)
  --max-connections N      TCP connections open at once (default 10000)
  --idle-timeout MS        close TCP connections idle this long, 0 never
                           (default 30000)
  --cert FILE              TLS certificate chain (PEM); with --key, serves
                           HTTPS and TLS instead of HTTP and TCP. Reading the
                           files needs -R (or --allow-read=FILE,...)
  --key FILE               the certificate's private key (PEM)
  --quiet                  no log line per request or connection on stderr
  -V, --version            print the version and exit
  -h, --help               show this help and exit
  (No -p: there are two ports.)

Network permission: -N, or only the addresses used, e.g.
  --allow-net=0.0.0.0:8000,0.0.0.0:12345 (or --allow-net=127.0.0.1 with
  --hostname 127.0.0.1).

Stopping: SIGINT (Ctrl+C) or SIGTERM stops accepting, lets what is in flight
finish (up to ${
  SHUTDOWN_LIMIT_MS / 1000
} s) and exits 0. A second signal stops at once, cutting
connections still open, and exits 130 (SIGINT) or 143 (SIGTERM); a stop still
waiting after ${
  SHUTDOWN_LIMIT_MS / 1000
} s is forced the same way and exits 1.`;

/** The settings `server.ts` runs with, parsed from its command line. */
interface ServerSettings {
  hostname: string;
  httpPort: number | undefined;
  echoPort: number | undefined;
  reply: string | undefined;
  maxConnections: number;
  idleTimeout: number;
  quiet: boolean;
  /** The files of `--cert` and `--key`: TLS on both servers. */
  tlsFiles: { cert: string; key: string } | undefined;
}

/** The flags that take a value; the rest are switches. */
const VALUED = [
  "hostname",
  "http-port",
  "echo-port",
  "reply",
  "max-connections",
  "idle-timeout",
  "cert",
  "key",
] as const;

/** Flags that only the TCP half uses. */
const ECHO_ONLY = [
  "echo-port",
  "reply",
  "max-connections",
  "idle-timeout",
] as const;

function parseSettings(
  args: string[],
): ServerSettings | "help" | "version" {
  const flags = parseArgs(joinFlagValues(args, VALUED), {
    string: VALUED,
    boolean: ["help", "version", "quiet", "http", "echo"],
    negatable: ["http", "echo"],
    default: { http: true, echo: true },
    alias: { h: "help", V: "version" },
    unknown: rejectUnknownFlag,
  });
  if (flags.help) return "help";
  if (flags.version) return "version";
  if (flags._.length > 0) {
    throw usageError(`Unexpected argument: ${flags._[0]}`);
  }
  if (!flags.http && !flags.echo) {
    throw usageError("--no-http and --no-echo leave nothing to serve");
  }
  // A value for a half that does not run would be silently ignored.
  const unused = flags.echo
    ? (flags.http ? [] : ["http-port"] as const)
    : ECHO_ONLY;
  const ignored = unused.find((name) => flags[name] !== undefined);
  if (ignored !== undefined) {
    throw usageError(
      `--${ignored} does not apply with --no-${flags.echo ? "http" : "echo"}`,
    );
  }
  const cert = stringFlag("cert", flags.cert);
  const key = stringFlag("key", flags.key);
  if ((cert === undefined) !== (key === undefined)) {
    throw usageError(
      cert === undefined
        ? "--key needs --cert too: TLS takes a certificate and its key"
        : "--cert needs --key too: TLS takes a certificate and its key",
    );
  }
  return {
    hostname: hostFlag("hostname", flags.hostname, "0.0.0.0"),
    httpPort: flags.http
      ? portFlag("http-port", flags["http-port"], { fallback: 8000 })
      : undefined,
    echoPort: flags.echo
      ? portFlag("echo-port", flags["echo-port"], { fallback: 12345 })
      : undefined,
    reply: stringFlag("reply", flags.reply),
    maxConnections: integerFlag("max-connections", flags["max-connections"], {
      fallback: 10_000,
      min: 1,
      max: 1_000_000,
    }),
    idleTimeout: integerFlag("idle-timeout", flags["idle-timeout"], {
      fallback: 30_000,
      min: 0,
      max: 86_400_000,
    }),
    quiet: flags.quiet,
    tlsFiles: cert !== undefined && key !== undefined
      ? { cert, key }
      : undefined,
  };
}

function httpUrl(hostname: string, port: number, tls: boolean): string {
  return `${tls ? "https" : "http"}://${formatHostPort(hostname, port)}/`;
}

function tcpUrl(hostname: string, port: number, tls: boolean): string {
  return `${tls ? "tls" : "tcp"}://${formatHostPort(hostname, port)}`;
}

/** The PEM texts of `--cert` and `--key`, read once for both servers. */
type Tls = Deno.TlsCertifiedKeyPem;

function readTls(settings: ServerSettings): Tls | undefined {
  const files = settings.tlsFiles;
  if (files === undefined) return undefined;
  return {
    cert: readPemFlag("cert", files.cert, "certificate"),
    key: readPemFlag("key", files.key, "private key"),
  };
}

/**
 * Explains a failure to bind as one line naming the address, or with TLS, the
 * certificate and key that do not work (a corrupt block, a key of another
 * certificate).
 */
function bindError(
  error: unknown,
  address: string,
  tlsFiles: ServerSettings["tlsFiles"],
): never {
  // Deno reports a bad PEM as InvalidData, and a key that is not the
  // certificate's as a plain Error ("keys may not be consistent").
  if (
    tlsFiles !== undefined &&
    (error instanceof Deno.errors.InvalidData ||
      /\bkeys?\b|certificate/i.test(describeError(error)))
  ) {
    const detail = describeError(error);
    // Deno's words for a key it cannot sign with, whatever its kind.
    const hint = /failed to parse private key/.test(detail)
      ? " (Deno takes RSA keys of 2048 bits or more, ECDSA keys and Ed25519 keys)"
      : "";
    throw new CliError(
      `Cannot use --cert ${tlsFiles.cert} with --key ${tlsFiles.key}: ${detail}${hint}`,
    );
  }
  throw listenError(error, address);
}

/** The most log bytes held back while stderr is slow: about 2,500 lines. */
const LOG_BACKLOG_BYTES = 256 * 1024;
/**
 * How long lines are gathered before a write, unless half the backlog came
 * first: Deno hands an asynchronous stderr write to another thread, which
 * costs 40-60 µs of CPU even for /dev/null (a synchronous write: 3 µs). Under
 * load, a write every 5 ms still cost about 0.5 µs a request, 3% of it
 * (bench/RESULTS.md); every 20 ms, a quarter of that.
 */
const LOG_BATCH_MS = 20;
const LOG_BATCH_BYTES = LOG_BACKLOG_BYTES / 2;

/**
 * The log on stderr: access lines and the program's own warnings, in order.
 * stdout keeps only the start-up and shutdown lines.
 *
 * Lines are gathered for `LOG_BATCH_MS` and written together: under load, a
 * write (and console.error's formatting) per request was most of what logging
 * cost (see bench/RESULTS.md). Each line goes straight into the bytes of the
 * next batch, while the one before is being written. The write is
 * asynchronous, one at a time, so a log reader that reads slowly, or not at
 * all, never holds up a request; while it waits, at most `LOG_BACKLOG_BYTES`
 * of lines wait behind it, and later lines are dropped and counted. A reader
 * that has gone away (`server.ts 2>&1 | head`) ends the log, not the service.
 */
class StderrLog {
  /** Lines dropped: stderr was closed, failed, or too far behind. */
  dropped = 0;
  /** Takes new lines; the other buffer may be being written. */
  #pending = new LogBuffer(LOG_BACKLOG_BYTES);
  #spare = new LogBuffer(LOG_BACKLOG_BYTES);
  #pendingLines = 0;
  /** Lines of the batch being written not known to be written whole. */
  #writingLines = 0;
  /** A write is under way: the reader may have taken part of it already. */
  #inWrite = false;
  #writing: Promise<void> | undefined;
  /** Ends the wait for more lines early: a full batch, or a flush. */
  #wake: (() => void) | undefined;
  #broken = false;
  readonly #onFirstDrop: (reason: string) => void;

  /** `onFirstDrop` is told, once, why lines start being dropped. */
  constructor(onFirstDrop: (reason: string) => void) {
    this.#onFirstDrop = onFirstDrop;
  }

  line(text: string): void {
    if (this.#broken) return this.#drop(1);
    this.#added(this.#pending.appendLine(text));
  }

  request(entry: RequestLogEntry): void {
    if (this.#broken) return this.#drop(1);
    this.#added(this.#pending.appendRequest(entry));
  }

  #added(fit: boolean): void {
    if (!fit) {
      return this.#drop(1, "The log is not read as fast as it is written");
    }
    this.#pendingLines++;
    if (this.#pending.length >= LOG_BATCH_BYTES) this.#wake?.();
    this.#writing ??= this.#writeAll();
  }

  /**
   * Resolves once every line is written or dropped, or `false` after
   * `timeoutMs` if a write is still waiting for a reader that does not read.
   */
  async flush(timeoutMs: number): Promise<boolean> {
    this.#wake?.();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      return await Promise.race([
        (this.#writing ?? Promise.resolve()).then(() => true),
        timeout,
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  async #writeAll(): Promise<void> {
    while (true) {
      if (this.#pending.length < LOG_BATCH_BYTES) await this.#gather();
      if (this.#pendingLines === 0) break;
      const batch = this.#pending;
      const lines = this.#pendingLines;
      this.#pending = this.#spare;
      this.#spare = batch;
      this.#pendingLines = 0;
      const bytes = batch.bytes();
      this.#writingLines = lines;
      let written = 0;
      try {
        while (written < bytes.length) {
          this.#inWrite = true;
          try {
            written += await Deno.stderr.write(bytes.subarray(written));
          } catch (error) {
            // A full non-blocking pipe (EAGAIN) is a slow reader: the write
            // may have stopped in the middle of a line, so the rest waits as
            // for a blocking pipe, and later lines wait in the backlog.
            if (!(error instanceof Deno.errors.WouldBlock)) throw error;
            this.#inWrite = false;
            this.#writingLines = lines -
              countLines(bytes.subarray(0, written));
            await new Promise((resolve) => setTimeout(resolve, LOG_BATCH_MS));
          }
        }
      } catch (error) {
        // Anything else (EPIPE: the reader is gone) ends the log. Lines
        // written in full before it are not dropped.
        this.#broken = true;
        this.#drop(
          lines - countLines(bytes.subarray(0, written)),
          `Cannot write the log to stderr: ${describeError(error)}`,
        );
        this.#drop(this.#pendingLines);
        this.#pendingLines = 0;
        this.#pending.clear();
      }
      this.#inWrite = false;
      this.#writingLines = 0;
      batch.clear();
    }
    this.#writing = undefined;
  }

  /** Waits `LOG_BATCH_MS` for more lines, or less if woken. */
  async #gather(): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, LOG_BATCH_MS);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.#wake = undefined;
  }

  /**
   * Lines dropped, or lost if the program exits now, and whether that is
   * only an upper bound: a write under way (to a reader that does not read)
   * may already have put some of its lines out.
   */
  lost(): { lines: number; atMost: boolean } {
    return {
      lines: this.dropped + this.#pendingLines + this.#writingLines,
      atMost: this.#inWrite,
    };
  }

  /** `reason` says why, for the notice at the first drop. */
  #drop(count: number, reason?: string): void {
    if (this.dropped === 0 && reason !== undefined) this.#onFirstDrop(reason);
    this.dropped += count;
  }
}

/** The line breaks in `bytes`. */
function countLines(bytes: Uint8Array): number {
  let count = 0;
  for (
    let at = bytes.indexOf(0x0a);
    at !== -1;
    at = bytes.indexOf(0x0a, at + 1)
  ) {
    count++;
  }
  return count;
}

const log = new StderrLog((reason) =>
  say(
    `${PROGRAM}: ${reason}; dropping log lines (counted when the server stops)`,
  )
);

/**
 * Prints one of the few lines meant for stdout (listening, stopping, stopped).
 * A stdout that cannot take them (a full disk) costs those lines, not the
 * service.
 */
function say(line: string): void {
  try {
    console.log(line);
  } catch (error) {
    warn(`Cannot print on stdout: ${describeError(error)}`);
  }
}

/** Prints a message of the program's own on stderr, in order with the log. */
function warn(message: string): void {
  log.line(`${PROGRAM}: ${message}`);
}

const logRequest = (entry: RequestLogEntry) => log.request(entry);
const logConnection = (info: Parameters<typeof formatConnectionLog>[0]) =>
  log.line(formatConnectionLog(info));

function startHttp(
  settings: ServerSettings,
  port: number,
  tls: Tls | undefined,
): Deno.HttpServer<Deno.NetAddr> {
  try {
    return Deno.serve({
      hostname: settings.hostname,
      port,
      ...tls,
      onListen: (addr) => {
        say(
          `HTTP${tls ? "S" : ""} greeting server listening on ${
            httpUrl(addr.hostname, addr.port, tls !== undefined)
          }`,
        );
      },
    }, createGreetingHandler(settings.quiet ? {} : { onRequest: logRequest }));
  } catch (error) {
    bindError(
      error,
      httpUrl(settings.hostname, port, tls !== undefined),
      settings.tlsFiles,
    );
  }
}

function startEcho(
  settings: ServerSettings,
  port: number,
  tls: Tls | undefined,
): EchoServer {
  const reply = settings.reply;
  try {
    return startEchoServer({
      hostname: settings.hostname,
      port,
      maxConnections: settings.maxConnections,
      idleTimeout: settings.idleTimeout,
      ...tls,
      ...(reply === undefined ? {} : { reply: () => reply }),
      onListen: (addr) => {
        say(
          `${tls ? "TLS" : "TCP"} ${
            reply === undefined ? "echo" : "reply"
          } server listening on ${
            tcpUrl(addr.hostname, addr.port, tls !== undefined)
          }`,
        );
      },
      onError: (error) => warn(String(error)),
      ...(settings.quiet ? {} : { onConnectionClose: logConnection }),
    });
  } catch (error) {
    bindError(
      error,
      tcpUrl(settings.hostname, port, tls !== undefined),
      settings.tlsFiles,
    );
  }
}

/** How long the HTTP server waits for file descriptors to be freed before it listens again. */
const HTTP_RESTART_MS = 1_000;
/** EMFILE and ENFILE, as Deno words them. */
const OUT_OF_FILES = /too many open files/i;

/** Exit codes of a forced stop: 128 + the signal's number, as a shell reports it. */
const FORCED_EXIT = { SIGINT: 130, SIGTERM: 143 } as const;

async function main(args: string[]): Promise<void> {
  const settings = parseSettings(args);
  if (settings === "help") {
    console.log(USAGE);
    return;
  }
  if (settings === "version") {
    console.log(`${config.name} ${config.version}`);
    return;
  }
  requireNetAccess(
    "listen on",
    [settings.httpPort, settings.echoPort]
      .filter((port) => port !== undefined)
      .map((port) => ({ hostname: settings.hostname, port })),
  );
  const tls = readTls(settings);

  let http: Deno.HttpServer<Deno.NetAddr> | undefined;
  let echo: EchoServer | undefined;

  // The first signal stops accepting and lets what is in flight finish; a
  // second one, or a stop still waiting after SHUTDOWN_LIMIT_MS, closes
  // every connection now.
  let firstSignal: Deno.Signal | undefined;
  let giveUp: ReturnType<typeof setTimeout> | undefined;
  const forced = Promise.withResolvers<void>();
  let forcing = false;
  const force = (exitCode: number) => {
    if (forcing) return;
    forcing = true;
    Deno.exitCode = exitCode;
    forced.resolve();
    void echo?.close();
  };
  const stop = (signal: keyof typeof FORCED_EXIT) => {
    if (firstSignal !== undefined) {
      say(
        `${signal} received while finishing after ${firstSignal}: closing every connection now`,
      );
      force(FORCED_EXIT[signal]);
      return;
    }
    firstSignal = signal;
    say(
      `${signal} received, finishing what is in flight (send it again to stop at once)...`,
    );
    void http?.shutdown();
    void echo?.shutdown();
    giveUp = setTimeout(() => {
      warn(
        `Connections still open after ${SHUTDOWN_LIMIT_MS} ms: closing them now`,
      );
      force(EXIT_FAILURE);
    }, SHUTDOWN_LIMIT_MS);
  };
  const onSigint = () => stop("SIGINT");
  const onSigterm = () => stop("SIGTERM");
  // Listening before the servers start: a signal sent as soon as the
  // listening line appears must not find Deno's default (exit at once).
  Deno.addSignalListener("SIGINT", onSigint);
  Deno.addSignalListener("SIGTERM", onSigterm);
  const removeSignalListeners = () => {
    Deno.removeSignalListener("SIGINT", onSigint);
    Deno.removeSignalListener("SIGTERM", onSigterm);
  };

  try {
    if (settings.httpPort !== undefined) {
      http = startHttp(settings, settings.httpPort, tls);
    }
    if (settings.echoPort !== undefined) {
      echo = startEcho(settings, settings.echoPort, tls);
    }
  } catch (error) {
    removeSignalListeners();
    // The other server may already listen; stop it before reporting.
    await Promise.all([http?.shutdown(), echo?.shutdown()]);
    throw error;
  }
  let httpOpen = http !== undefined;
  // Deno.serve's accept loop ends for good when accept() fails, as it does
  // once the process runs out of file descriptors: a flood of idle
  // connections under the usual limit of 1024 files (denoland/deno#10148).
  // Requests in flight still finish; the greeting then listens again on its
  // port, as the echo server keeps accepting.
  const keepServing = async (server: Deno.HttpServer<Deno.NetAddr>) => {
    while (true) {
      try {
        await server.finished;
        break;
      } catch (error) {
        if (firstSignal !== undefined) throw error;
        warn(
          `The HTTP server stopped accepting: ${
            describeError(error)
          }; listening again in ${HTTP_RESTART_MS} ms`,
        );
      }
      const port = server.addr.port;
      while (true) {
        await new Promise((resolve) => setTimeout(resolve, HTTP_RESTART_MS));
        if (firstSignal !== undefined) return;
        try {
          http = server = startHttp(settings, port, tls);
          break;
        } catch (error) {
          if (!OUT_OF_FILES.test(describeError(error))) throw error;
        }
      }
    }
    httpOpen = false;
  };
  const httpFinished = http && keepServing(http);
  const finished = Promise.all([httpFinished, echo?.finished]);

  await Promise.race([finished, forced.promise.then(() => echo?.finished)]);
  clearTimeout(giveUp);
  removeSignalListeners();
  const flushed = await log.flush(1_000);
  // Not flushed, the lines still waiting are lost when the program exits.
  const lost = log.lost();
  const dropped = lost.lines === 0
    ? ""
    : ` (${lost.atMost ? "up to " : ""}${
      lost.lines === 1 ? "1 log line" : `${lost.lines} log lines`
    } dropped)`;
  say(`Server stopped${dropped}.`);
  // Deno.serve cannot cut its connections once shutdown() has begun (its
  // `signal` then throws BadResource), and a write to a stderr nobody reads
  // cannot be cancelled: either would keep the process alive, so only then
  // does it exit here instead of returning.
  if (httpOpen || !flushed) Deno.exit();
}

if (import.meta.main) {
  await runMain(PROGRAM, USAGE, () => main(Deno.args));
}
