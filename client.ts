/**
 * The client program, run from JSR as
 * `deno run -N jsr:@learn/server-client/client [echo] [MESSAGE]` or from a
 * clone as `deno run -N client.ts [echo] [MESSAGE]`: sends a message to the
 * TCP echo server and prints the reply; with `greet [NAME]` it fetches the
 * HTTP greeting. `--tls` (echo) or an https `--url` (greet), with `--ca FILE`
 * for a private CA, talk to the server run with `--cert FILE --key FILE`.
 * `--help` lists the options.
 *
 * @module
 */

import { sendBytes } from "./mod.ts";
import config from "./deno.json" with { type: "json" };
import { parseArgs } from "@std/cli/parse-args";
import {
  CliError,
  describeError,
  hostFlag,
  integerFlag,
  joinFlagValues,
  portFlag,
  readPemFlag,
  rejectUnknownFlag,
  requireNetAccess,
  runMain,
  stringFlag,
  usageError,
} from "./src/_cli.ts";
import { formatHostPort } from "./src/_net.ts";

const PROGRAM = "client.ts";
// Run from a clone, the programs are files; run from JSR, the package's exports.
const FROM_FILE = import.meta.url.startsWith("file:");
const SERVER = FROM_FILE ? "server.ts" : `jsr:${config.name}/server`;
const CLIENT = FROM_FILE ? "client.ts" : `jsr:${config.name}/client`;
const DEFAULT_MESSAGE = "Halo server!";
const DEFAULT_URL = "http://localhost:8000/";
/** What a shell reports for a program that SIGPIPE ended: 128 + 13. */
const EXIT_BROKEN_PIPE = 141;

const USAGE = `Usage:
  deno run -N ${CLIENT} [echo] [MESSAGE] [options]
  deno run -N ${CLIENT} greet [NAME] [options]

Commands:
  echo     send MESSAGE to the TCP server and print its reply (the default).
           Without MESSAGE, sends standard input (up to 1 MiB) when it is
           piped and not empty, else "${DEFAULT_MESSAGE}". Quote a MESSAGE
           with spaces.
           On a terminal the reply is printed as a line of text; piped or
           redirected, its bytes are written exactly as they came (as nc).
  greet    ask the HTTP server to greet NAME and print the greeting (up to
           1 MiB), as echo prints a reply

Options:
  --hostname HOST   echo: TCP server host (default 127.0.0.1)
  -p, --port PORT   echo: TCP server port, 1 to 65535 (default 12345)
  --url URL         greet: HTTP server URL (default ${DEFAULT_URL});
                    https:// for ${SERVER} --cert/--key
  --tls             echo: over TLS, to ${SERVER} --cert/--key
  --ca FILE         also trust the CA certificate (PEM) in FILE, for --tls or
                    an https URL: a self-signed or private-CA server needs it.
                    Reading it needs -R (or --allow-read=FILE)
  --timeout MS      give up after MS milliseconds, 0 never (default 10000)
  -V, --version     print the version and exit
  -h, --help        show this help and exit

Network permission: -N, or only the server's address, e.g.
  --allow-net=127.0.0.1:12345 (echo) or --allow-net=localhost:8000 (greet).`;

type Command =
  | { kind: "help" }
  | { kind: "version" }
  | {
    kind: "echo";
    message: string | undefined;
    hostname: string;
    port: number;
    timeout: number;
    tls: boolean;
    /** The `--ca` file. */
    ca: string | undefined;
  }
  | {
    kind: "greet";
    name: string | undefined;
    url: URL;
    timeout: number;
    /** The `--ca` file. */
    ca: string | undefined;
  };

/** The flags that take a value; the rest are switches. */
const VALUED = ["hostname", "port", "url", "timeout", "ca"] as const;

function parseCommand(args: string[]): Command {
  const flags = parseArgs(joinFlagValues(args, [...VALUED, "p"]), {
    // "_" keeps positional arguments as text: "007" stays a message, not 7.
    string: [...VALUED, "_"],
    boolean: ["help", "version", "tls"],
    alias: { h: "help", V: "version", p: "port" },
    unknown: rejectUnknownFlag,
  });
  if (flags.help) return { kind: "help" };
  if (flags.version) return { kind: "version" };
  const words = flags._.map(String);
  const kind = words[0] === "echo" || words[0] === "greet"
    ? words.shift()!
    : "echo";
  if (words.length > 1) {
    // The shell split an unquoted text into words.
    const text = words.join(" ");
    throw usageError(
      `Too many arguments: ${text} (quote a text with spaces: "${text}")`,
    );
  }
  const timeout = integerFlag("timeout", flags.timeout, {
    fallback: 10_000,
    min: 0,
    max: 2 ** 31 - 1,
  });
  const misplaced = kind === "echo"
    ? (flags.url === undefined ? undefined : "url")
    : (["hostname", "port"] as const).find((name) => flags[name] !== undefined);
  if (misplaced !== undefined) {
    throw usageError(`--${misplaced} does not apply to ${kind}`);
  }
  const ca = stringFlag("ca", flags.ca);
  if (kind === "greet") {
    if (flags.tls) {
      throw usageError("--tls does not apply to greet: use an https:// --url");
    }
    const text = stringFlag("url", flags.url) ?? DEFAULT_URL;
    const url = URL.parse(text);
    if (
      url === null || (url.protocol !== "http:" && url.protocol !== "https:")
    ) {
      throw usageError(`--url must be an http or https URL, got "${text}"`);
    }
    if (ca !== undefined && url.protocol !== "https:") {
      throw usageError("--ca needs an https:// --url");
    }
    return { kind, name: words[0], url, timeout, ca };
  }
  if (ca !== undefined && !flags.tls) {
    throw usageError("--ca needs --tls: it is for TLS connections");
  }
  return {
    kind: "echo",
    message: words[0],
    hostname: hostFlag("hostname", flags.hostname, "127.0.0.1"),
    port: portFlag("port", flags.port, { fallback: 12345, connect: true }),
    timeout,
    tls: flags.tls,
    ca,
  };
}

/**
 * The most standard input sent, and the most of a greeting read: an echo has
 * to fit in the reply limit of `sendBytes` (1 MiB by default), and neither
 * `yes | client.ts` nor an endless answer to `greet` may fill memory.
 */
const MAX_BYTES = 1024 * 1024;

/**
 * Reads `stream` to its end, or throws what `tooLong` makes once it passes
 * `MAX_BYTES` (which stops reading it).
 */
async function readLimited(
  stream: ReadableStream<Uint8Array>,
  tooLong: () => Error,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let length = 0;
  for await (const chunk of stream) {
    length += chunk.length;
    if (length > MAX_BYTES) throw tooLong();
    chunks.push(chunk);
  }
  const bytes = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}

/**
 * Piped standard input, or `undefined` on a terminal or when empty (say
 * `< /dev/null`).
 */
async function readStdin(): Promise<Uint8Array | undefined> {
  if (Deno.stdin.isTerminal()) return undefined;
  let bytes: Uint8Array;
  try {
    bytes = await readLimited(
      Deno.stdin.readable,
      () =>
        new CliError(
          `Cannot send standard input: it is longer than ${MAX_BYTES} bytes, the most a reply can be`,
        ),
    );
  } catch (error) {
    // Say what was being read: `client.ts < folder` fails with EISDIR.
    if (error instanceof CliError) throw error;
    throw new CliError(`Cannot read standard input: ${describeError(error)}`);
  }
  return bytes.length > 0 ? bytes : undefined;
}

/**
 * Prints a reply. On a terminal, as text: one or more lines, with a final
 * newline unless it has one. Piped or redirected, its bytes exactly as they
 * came, as nc does: no decoding of binary data, no added newline.
 */
async function printReply(reply: Uint8Array): Promise<void> {
  if (Deno.stdout.isTerminal()) {
    const text = new TextDecoder().decode(reply);
    console.log(text.endsWith("\n") ? text.slice(0, -1) : text);
    return;
  }
  try {
    let written = 0;
    while (written < reply.length) {
      written += await Deno.stdout.write(reply.subarray(written));
    }
  } catch (error) {
    // The reader went away (`client.ts x | head -c 0`): end as a program
    // killed by SIGPIPE would, with no message (Deno ignores SIGPIPE).
    if (!(error instanceof Deno.errors.BrokenPipe)) {
      throw new CliError(
        `Cannot write the reply to standard output: ${describeError(error)}`,
      );
    }
    Deno.exitCode = EXIT_BROKEN_PIPE;
  }
}

/**
 * Where the echo server of the server program is, for a client pointed at
 * something else (its HTTP port, say).
 */
const ECHO_PORT_HINT =
  `${SERVER} echoes on its TCP port: the tcp:// address it prints, 12345 unless --echo-port`;

/** The hint for a refused connection: the server may simply not be running. */
function refused(address: string): CliError {
  return new CliError(
    `Cannot connect to ${address}: connection refused (is the server running? start it with deno run -N ${SERVER})`,
  );
}

/**
 * What to do about a failed TLS handshake, from its message: trust the
 * server's CA, or check that the server speaks TLS at all.
 */
function tlsHint(detail: string, ca: string | undefined): string {
  // What a plain `openssl req -x509` makes: rustls refuses it as a server's.
  if (/CaUsedAsEndEntity/.test(detail)) {
    return " (the server's certificate is itself a CA certificate, which Deno refuses: make a CA and a server certificate it signs, as docs/tls.md shows)";
  }
  if (!/certificate/i.test(detail)) {
    return ` (is the server using TLS, as ${SERVER} --cert/--key?)`;
  }
  return ca === undefined
    ? " (for a self-signed or private-CA certificate, pass its CA with --ca FILE)"
    : ` (did the CA in ${ca} sign the server's certificate, for this host name?)`;
}

/** The host and port `fetch` connects to for `url`. */
function urlAddress(url: URL): { hostname: string; port: number } {
  return {
    // An IPv6 host comes in brackets, which formatHostPort adds back.
    hostname: url.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: Number(url.port || (url.protocol === "https:" ? 443 : 80)),
  };
}

async function greet(
  name: string | undefined,
  url: URL,
  timeout: number,
  caCert: { file: string; pem: string } | undefined,
): Promise<void> {
  if (name !== undefined) url.searchParams.set("name", name);
  const { hostname, port } = urlAddress(url);
  const address = formatHostPort(hostname, port);
  const signal = timeout > 0 ? AbortSignal.timeout(timeout) : undefined;
  using client = caCert === undefined
    ? undefined
    : Deno.createHttpClient({ caCerts: [caCert.pem] });
  let response: Response;
  let body: Uint8Array;
  try {
    response = await fetch(url, {
      headers: { accept: "text/plain" },
      ...(signal ? { signal } : {}),
      ...(client ? { client } : {}),
    });
    body = await readLimited(
      response.body ?? ReadableStream.from([]),
      () =>
        new CliError(
          `Cannot read the greeting from ${address}: it is longer than ${MAX_BYTES} bytes`,
        ),
    );
  } catch (error) {
    if (error instanceof CliError) throw error;
    if (signal?.aborted) {
      throw new CliError(`No answer from ${address} within ${timeout} ms`);
    }
    // fetch reports a refused connection only in the text of its cause.
    const detail = describeError(
      error instanceof Error ? error.cause ?? error : error,
    );
    if (/connection refused/i.test(detail)) throw refused(address);
    let hint = "";
    if (
      url.protocol === "https:" &&
      /tls|certificate|handshake|corrupt message/i.test(detail)
    ) {
      hint = tlsHint(detail, caCert?.file);
    } else if (
      url.protocol === "http:" && /invalid HTTP version/i.test(detail)
    ) {
      // Neither a TLS server's handshake alert nor, say, an echo of the
      // request is a status line; only the first is helped by https://.
      hint =
        ` (the answer is not HTTP: if the server speaks TLS, use https://${address}/)`;
    }
    throw new CliError(`Cannot reach ${address}: ${detail}${hint}`);
  }
  if (!response.ok) {
    throw new CliError(
      `${address} answered ${response.status} ${response.statusText}: ${
        new TextDecoder().decode(body).trim().split("\n")[0]
      }`,
    );
  }
  await printReply(body);
}

async function main(args: string[]): Promise<void> {
  const command = parseCommand(args);
  if (command.kind === "help") {
    console.log(USAGE);
    return;
  }
  if (command.kind === "version") {
    console.log(`${config.name} ${config.version}`);
    return;
  }
  requireNetAccess(
    "connect to",
    [command.kind === "greet" ? urlAddress(command.url) : command],
  );
  const caCert = command.ca === undefined ? undefined : {
    file: command.ca,
    pem: readPemFlag("ca", command.ca, "certificate"),
  };
  if (command.kind === "greet") {
    await greet(command.name, command.url, command.timeout, caCert);
    return;
  }
  const input = command.message ?? await readStdin() ?? DEFAULT_MESSAGE;
  const message = typeof input === "string"
    ? new TextEncoder().encode(input)
    : input;
  const address = formatHostPort(command.hostname, command.port);
  let reply: Uint8Array;
  try {
    reply = await sendBytes(message, {
      hostname: command.hostname,
      port: command.port,
      timeout: command.timeout,
      tls: command.tls,
      ...(caCert ? { caCerts: [caCert.pem] } : {}),
    });
  } catch (error) {
    // The library's errors (timed out, too large, TLS) are already one line
    // naming the address; a refused connection or a failed handshake also
    // gets what to do.
    if (error instanceof Deno.errors.ConnectionRefused) throw refused(address);
    if (command.tls && error instanceof Deno.errors.InvalidData) {
      throw new CliError(error.message + tlsHint(error.message, caCert?.file));
    }
    if (error instanceof Deno.errors.TimedOut) {
      // An HTTP server, for one, may wait for the rest of a request; so does
      // a firewall that drops packets, at connecting.
      throw new CliError(
        `${error.message} (the server did not answer and close the connection in that time: is it an echo server? ${ECHO_PORT_HINT}; --timeout MS waits longer)`,
      );
    }
    throw error;
  }
  // An echo of nothing is nothing; to a message, an answer of nothing is what
  // an HTTP server gives a request it cannot parse.
  if (reply.length === 0 && message.length > 0) {
    throw new CliError(
      `No answer from ${address}: the server closed the connection without replying (is it an HTTP server? ${ECHO_PORT_HINT})`,
    );
  }
  if (isSame(reply, message)) {
    await printReply(reply);
    return;
  }
  if (!command.tls && isTlsAlert(reply)) {
    throw new CliError(
      `${address} answered with a TLS alert: it speaks TLS, add --tls (and --ca FILE for a private CA)`,
    );
  }
  const status = httpStatusLine(reply);
  if (status !== undefined && !HTTP_REQUEST.test(latin1(message))) {
    throw new CliError(
      `${address} answered with HTTP (${status}): it is an HTTP server, not an echo server (${ECHO_PORT_HINT}; for a greeting, use ${CLIENT} greet --url http://${address}/)`,
    );
  }
  await printReply(reply);
}

/** The start of an HTTP/1 request: a message meant for an HTTP server. */
const HTTP_REQUEST = /^[!-~]+ \S+ HTTP\/\d/;

/** The first bytes of `bytes` as text, one character a byte. */
function latin1(bytes: Uint8Array): string {
  return String.fromCharCode(...bytes.subarray(0, 200));
}

/**
 * The status line `bytes` start with if they are an HTTP response, printable
 * characters only: it is quoted in a message.
 */
function httpStatusLine(bytes: Uint8Array): string | undefined {
  return /^HTTP\/\d[ -~]*/.exec(latin1(bytes))?.[0];
}

/**
 * Whether `bytes` is one TLS alert record (type 21, version 3.x, two bytes of
 * alert): what a TLS server sends a plain client instead of an answer.
 */
function isTlsAlert(bytes: Uint8Array): boolean {
  return bytes.length === 7 && bytes[0] === 0x15 && bytes[1] === 0x03 &&
    bytes[3] === 0 && bytes[4] === 2;
}

function isSame(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

if (import.meta.main) {
  await runMain(PROGRAM, USAGE, () => main(Deno.args));
}
