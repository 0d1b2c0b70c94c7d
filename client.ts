/**
 * The client: `deno run -N client.ts [echo] [MESSAGE]` sends a message to the
 * TCP echo server and prints the reply; `deno run -N client.ts greet [NAME]`
 * fetches the HTTP greeting. `--tls` (echo) or an https `--url` (greet), with
 * `--ca FILE` for a private CA, talk to `server.ts --cert FILE --key FILE`.
 *
 * @module
 */

import { sendBytes } from "./mod.ts";
import {
  CliError,
  describeError,
  integerFlag,
  parseFlags,
  portFlag,
  readPemFlag,
  requireNetPermission,
  runMain,
  stringFlag,
  usageError,
} from "./src/_cli.ts";
import { formatHostPort } from "./src/_net.ts";

const PROGRAM = "client.ts";
const DEFAULT_MESSAGE = "Halo server!";
const DEFAULT_URL = "http://localhost:8000/";

const USAGE = `Usage:
  deno run -N client.ts [echo] [MESSAGE] [--hostname HOST] [--port PORT]
                        [--tls [--ca FILE]]
  deno run -N client.ts greet [NAME] [--url URL [--ca FILE]]

Commands:
  echo     send MESSAGE to the TCP server and print its reply (the default).
           Without MESSAGE, sends standard input when it is piped and not
           empty, else "${DEFAULT_MESSAGE}".
  greet    ask the HTTP server to greet NAME and print the greeting

Options:
  --hostname HOST   TCP server host (default 127.0.0.1)
  --port PORT       TCP server port (default 12345)
  --url URL         HTTP server URL for greet (default ${DEFAULT_URL});
                    https:// for server.ts --cert/--key
  --tls             echo over TLS, to server.ts --cert/--key
  --ca FILE         also trust the CA certificate (PEM) in FILE, for --tls or
                    an https URL: a self-signed or private-CA server needs it.
                    Reading it needs -R (or --allow-read=FILE)
  --timeout MS      give up after MS milliseconds, 0 never (default 10000)
  --help            show this help and exit`;

type Command =
  | { kind: "help" }
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

function parseCommand(args: string[]): Command {
  const flags = parseFlags(args, {
    // "_" keeps positional arguments as text: "007" stays a message, not 7.
    string: ["hostname", "port", "url", "timeout", "ca", "_"],
    boolean: ["help", "tls"],
  });
  if (flags.help) return { kind: "help" };
  const words = flags._.map(String);
  const explicit = words[0] === "echo" || words[0] === "greet";
  const kind = explicit ? words.shift() : "echo";
  if (words.length > 1) {
    throw usageError(
      explicit
        ? `too many arguments: ${words.join(" ")} (quote a text with spaces)`
        : `unknown command: ${words[0]}`,
    );
  }
  const timeout = integerFlag(flags, "timeout", 10_000, 0, 2 ** 31 - 1);
  const misplaced = (kind === "echo" ? ["url"] : ["hostname", "port"])
    .find((name) => flags[name] !== undefined);
  if (misplaced !== undefined) {
    throw usageError(`--${misplaced} does not apply to ${kind}`);
  }
  const ca = stringFlag(flags, "ca");
  const tls = flags.tls === true;
  if (kind === "greet") {
    if (tls) {
      throw usageError("--tls does not apply to greet: use an https:// --url");
    }
    const text = stringFlag(flags, "url") ?? DEFAULT_URL;
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
  if (ca !== undefined && !tls) {
    throw usageError("--ca needs --tls: it is for TLS connections");
  }
  return {
    kind: "echo",
    message: words[0],
    hostname: stringFlag(flags, "hostname") ?? "127.0.0.1",
    port: portFlag(flags, "port", 12345),
    timeout,
    tls,
    ca,
  };
}

/**
 * Piped standard input, or `undefined` on a terminal or when empty (say
 * `< /dev/null`).
 */
async function readStdin(): Promise<Uint8Array | undefined> {
  if (Deno.stdin.isTerminal()) return undefined;
  const bytes = await new Response(Deno.stdin.readable).bytes();
  return bytes.length > 0 ? bytes : undefined;
}

/**
 * Prints `text` as one or more lines: with a final newline unless it has one.
 */
function printReply(text: string): void {
  console.log(text.endsWith("\n") ? text.slice(0, -1) : text);
}

/**
 * What to do about a failed TLS handshake, from its message: trust the
 * server's CA, or check that the server speaks TLS at all.
 */
function tlsHint(detail: string, ca: string | undefined): string {
  if (!/certificate/i.test(detail)) {
    return " (is the server using TLS, as server.ts --cert/--key?)";
  }
  return ca === undefined
    ? " (for a self-signed or private-CA certificate, pass its CA with --ca FILE)"
    : ` (did the CA in ${ca} sign the server's certificate, for this host name?)`;
}

async function greet(
  name: string | undefined,
  url: URL,
  timeout: number,
  caCert: { file: string; pem: string } | undefined,
): Promise<void> {
  if (name !== undefined) url.searchParams.set("name", name);
  const signal = timeout > 0 ? AbortSignal.timeout(timeout) : undefined;
  using client = caCert === undefined
    ? undefined
    : Deno.createHttpClient({ caCerts: [caCert.pem] });
  let response: Response;
  let text: string;
  try {
    response = await fetch(url, {
      headers: { accept: "text/plain" },
      ...(signal ? { signal } : {}),
      ...(client ? { client } : {}),
    });
    text = await response.text();
  } catch (error) {
    if (signal?.aborted) {
      throw new CliError(`no answer from ${url.host} within ${timeout} ms`);
    }
    // fetch reports a refused connection only in the text of its cause.
    const detail = describeError(
      error instanceof Error ? error.cause ?? error : error,
    );
    throw new CliError(
      /connection refused/i.test(detail)
        ? `connection to ${url.host} refused: is the server running? (start it with \`deno run -N server.ts\`)`
        : `cannot reach ${url.host}: ${detail}${
          url.protocol === "https:" &&
            /tls|certificate|handshake|corrupt message/i.test(detail)
            ? tlsHint(detail, caCert?.file)
            : ""
        }`,
    );
  }
  if (!response.ok) {
    throw new CliError(
      `${url.host} answered ${response.status} ${response.statusText}: ${
        text.trim().split("\n")[0]
      }`,
    );
  }
  printReply(text);
}

async function main(args: string[]): Promise<void> {
  const command = parseCommand(args);
  if (command.kind === "help") {
    console.log(USAGE);
    return;
  }
  requireNetPermission(PROGRAM);
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
    // The library's errors (refused, timed out, too large, TLS) are already
    // one line naming the address; a failed handshake also gets what to do.
    if (command.tls && error instanceof Deno.errors.InvalidData) {
      throw new CliError(error.message + tlsHint(error.message, caCert?.file));
    }
    if (error instanceof Deno.errors.ConnectionRefused) {
      throw new CliError(
        `${error.message} (is the server running? start it with \`deno run -N server.ts\`)`,
      );
    }
    throw error;
  }
  if (!command.tls && isTlsAlert(reply) && !isSame(reply, message)) {
    throw new CliError(
      `${
        formatHostPort(command.hostname, command.port)
      } answered with a TLS alert: it speaks TLS, add --tls (and --ca FILE for a private CA)`,
    );
  }
  printReply(new TextDecoder().decode(reply));
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
