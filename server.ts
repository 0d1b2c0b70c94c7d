/**
 * The server program: `deno run -N server.ts [options]`.
 *
 * Serves {@linkcode createGreetingHandler} over HTTP (port 8000) and
 * {@linkcode startEchoServer} over TCP (port 12345) until SIGINT or SIGTERM,
 * then stops accepting, finishes what is in flight and exits 0. With
 * `--cert FILE --key FILE` (and `-R` to read them), both speak TLS instead.
 *
 * @module
 */

import {
  createGreetingHandler,
  type EchoServer,
  startEchoServer,
} from "./mod.ts";
import { formatConnectionLog, formatRequestLog } from "./src/log.ts";
import config from "./deno.json" with { type: "json" };
import {
  CliError,
  describeError,
  integerFlag,
  listenError,
  parseFlags,
  portFlag,
  readPemFlag,
  requireNetPermission,
  runMain,
  stringFlag,
  usageError,
} from "./src/_cli.ts";
import { formatHostPort } from "./src/_net.ts";

const PROGRAM = "server.ts";
const SHUTDOWN_LIMIT_MS = 6_000;

const USAGE = `Usage: deno run -N server.ts [options]

Serves the greeting over HTTP and an echo service over TCP:
  curl 'http://localhost:8000/?name=Budi'
  deno run -N client.ts "Halo server!"

Over TLS (HTTPS and TLS on the same ports):
  deno run -N -R server.ts --cert cert.pem --key key.pem
  deno run -N -R client.ts --tls --ca ca.pem "Halo server!"

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
  --version                print the version and exit
  --help                   show this help and exit`;

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

function parseSettings(
  args: string[],
): ServerSettings | "help" | "version" {
  const flags = parseFlags(args, {
    string: [
      "hostname",
      "http-port",
      "echo-port",
      "reply",
      "max-connections",
      "idle-timeout",
      "cert",
      "key",
    ],
    boolean: ["help", "version", "quiet", "http", "echo"],
    negatable: ["http", "echo"],
    default: { http: true, echo: true },
  });
  if (flags.help) return "help";
  if (flags.version) return "version";
  if (flags._.length > 0) {
    throw usageError(`unexpected argument: ${flags._[0]}`);
  }
  if (!flags.http && !flags.echo) {
    throw usageError("--no-http and --no-echo leave nothing to serve");
  }
  const reply = stringFlag(flags, "reply");
  const cert = stringFlag(flags, "cert");
  const key = stringFlag(flags, "key");
  if ((cert === undefined) !== (key === undefined)) {
    throw usageError(
      cert === undefined
        ? "--key needs --cert too: TLS takes a certificate and its key"
        : "--cert needs --key too: TLS takes a certificate and its key",
    );
  }
  return {
    hostname: stringFlag(flags, "hostname") ?? "0.0.0.0",
    httpPort: flags.http ? portFlag(flags, "http-port", 8000) : undefined,
    echoPort: flags.echo ? portFlag(flags, "echo-port", 12345) : undefined,
    reply,
    maxConnections: integerFlag(flags, "max-connections", 10_000, 1, 1_000_000),
    idleTimeout: integerFlag(flags, "idle-timeout", 30_000, 0, 86_400_000),
    quiet: flags.quiet === true,
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
    throw new CliError(
      `cannot use --cert ${tlsFiles.cert} with --key ${tlsFiles.key}: ${
        describeError(error)
      }`,
    );
  }
  throw listenError(error, address);
}

// Access logs go to stderr, so stdout keeps only the start-up and shutdown lines.
// Lines are gathered and written once per turn of the event loop: under load, a
// write (and console.error's formatting) per request was most of what logging
// cost (see bench/RESULTS.md). Whatever is pending is written before any other
// stderr output and before exiting, so nothing is lost or reordered.
const logEncoder = new TextEncoder();
let pendingLog: string[] = [];
let logTimer: ReturnType<typeof setTimeout> | undefined;

function flushLog(): void {
  clearTimeout(logTimer);
  logTimer = undefined;
  if (pendingLog.length === 0) return;
  const bytes = logEncoder.encode(`${pendingLog.join("\n")}\n`);
  pendingLog = [];
  let written = 0;
  while (written < bytes.length) {
    written += Deno.stderr.writeSync(bytes.subarray(written));
  }
}

function logLine(line: string): void {
  pendingLog.push(line);
  logTimer ??= setTimeout(flushLog, 0);
}

/** Prints a message of the program's own on stderr, after the pending log. */
function warn(message: string): void {
  flushLog();
  console.error(`${PROGRAM}: ${message}`);
}

const logRequest = (entry: Parameters<typeof formatRequestLog>[0]) =>
  logLine(formatRequestLog(entry));
const logConnection = (info: Parameters<typeof formatConnectionLog>[0]) =>
  logLine(formatConnectionLog(info));

function startHttp(
  settings: ServerSettings,
  port: number,
  signal: AbortSignal,
  tls: Tls | undefined,
): Deno.HttpServer<Deno.NetAddr> {
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname: settings.hostname,
      port,
      ...tls,
      onListen: (addr) => {
        console.log(
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
  // Deno.serve's own `signal` option cuts off requests still arriving (a body
  // being uploaded); shutdown() stops accepting and lets them finish.
  signal.addEventListener("abort", () => void server.shutdown(), {
    once: true,
  });
  return server;
}

function startEcho(
  settings: ServerSettings,
  port: number,
  signal: AbortSignal,
  tls: Tls | undefined,
): EchoServer {
  const reply = settings.reply;
  try {
    return startEchoServer({
      hostname: settings.hostname,
      port,
      signal,
      maxConnections: settings.maxConnections,
      idleTimeout: settings.idleTimeout,
      ...tls,
      ...(reply === undefined ? {} : { reply: () => reply }),
      onListen: (addr) => {
        console.log(
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
  requireNetPermission(PROGRAM);
  const tls = readTls(settings);

  const controller = new AbortController();
  const finished: Promise<void>[] = [];
  try {
    if (settings.httpPort !== undefined) {
      finished.push(
        startHttp(settings, settings.httpPort, controller.signal, tls)
          .finished,
      );
    }
    if (settings.echoPort !== undefined) {
      finished.push(
        startEcho(settings, settings.echoPort, controller.signal, tls)
          .finished,
      );
    }
  } catch (error) {
    // The other server may already listen; stop it before reporting.
    controller.abort();
    await Promise.all(finished);
    throw error;
  }

  const stop = (signal: Deno.Signal) => {
    if (controller.signal.aborted) {
      // A second signal means the user does not want to wait for what is in flight.
      warn(`${signal} again, exiting now`);
      Deno.exit(130);
    }
    console.log(`${signal} received, finishing what is in flight...`);
    controller.abort();
    // Deno.serve cannot force-close its connections, so a client that never
    // finishes its request would hold the exit forever. The echo server closes
    // its own after its 5 s grace period; this gives up a second later.
    const giveUp = setTimeout(() => {
      warn(`requests still in flight after ${SHUTDOWN_LIMIT_MS} ms, exiting`);
      Deno.exit(1);
    }, SHUTDOWN_LIMIT_MS);
    Deno.unrefTimer(giveUp);
  };
  const onSigint = () => stop("SIGINT");
  const onSigterm = () => stop("SIGTERM");
  Deno.addSignalListener("SIGINT", onSigint);
  Deno.addSignalListener("SIGTERM", onSigterm);

  await Promise.all(finished);
  Deno.removeSignalListener("SIGINT", onSigint);
  Deno.removeSignalListener("SIGTERM", onSigterm);
  flushLog();
  console.log("Server stopped.");
}

if (import.meta.main) {
  await runMain(PROGRAM, USAGE, () => main(Deno.args));
}
