// deno-lint-ignore-file no-console -- the programs' own code, which reports to the terminal
// Helpers shared by the programs (server.ts, client.ts), not part of the library's API: they
// turn bad command-line input into one clear line and an exit code, never a stack trace. Each
// program calls `parseArgs` itself, so its flags keep their types; these are the pieces every
// program needs around that call.

import {
  formatHostPort,
  indentedPemHint,
  pemCertificateError,
} from "./_net.ts";

/** Exit code for bad command-line usage (unknown flag, bad value), as BSD's EX_USAGE-style 2. */
export const EXIT_USAGE = 2;
/** Exit code for a runtime failure (port in use, connection refused, missing permission). */
export const EXIT_FAILURE = 1;

/** A failure the executable reports as one line on stderr before exiting with `exitCode`. */
export class CliError extends Error {
  /** The process exit code to use. */
  readonly exitCode: number;
  /** Whether the usage text follows the message. */
  readonly showUsage: boolean;

  constructor(message: string, exitCode = EXIT_FAILURE, showUsage = false) {
    super(message);
    this.name = "CliError";
    this.exitCode = exitCode;
    this.showUsage = showUsage;
  }
}

/** A usage error: the message, then the usage text, exit code 2. */
export function usageError(message: string): CliError {
  return new CliError(message, EXIT_USAGE, true);
}

/**
 * The `unknown` option of `parseArgs`: keeps positional arguments and rejects
 * any flag the program does not declare, instead of silently accepting it.
 */
export function rejectUnknownFlag(arg: string, key?: string): boolean {
  if (key === undefined) return true;
  throw usageError(`Unknown option: ${arg}`);
}

/**
 * `parseArgs` takes neither a negative number nor an empty string as the value
 * of the flag before it: `--port -5` becomes an unknown option `-5`, and
 * `--port ""` an empty positional argument. Joined as `--port=-5` and
 * `--port=`, the value reaches the flag's own check and its clearer message.
 * `valued` names the flags that take a value, long (`"port"`) or short
 * (`"p"`).
 */
export function joinFlagValues(
  args: readonly string[],
  valued: readonly string[],
): string[] {
  const flags = new Set(
    valued.map((name) => name.length === 1 ? `-${name}` : `--${name}`),
  );
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") {
      joined.push(...args.slice(i));
      break;
    }
    const next = args[i + 1];
    if (flags.has(arg) && next !== undefined && /^(?:-\d|$)/.test(next)) {
      joined.push(`${arg}=${next}`);
      i++;
    } else {
      joined.push(arg);
    }
  }
  return joined;
}

/**
 * Reads an optional string flag, rejecting `--flag` given with no value. Given
 * twice, the last one wins, as `parseArgs` (and most programs) do.
 */
export function stringFlag(
  name: string,
  value: string | undefined,
): string | undefined {
  if (value === undefined) return undefined;
  if (value === "") throw usageError(`--${name} needs a value`);
  return value;
}

/**
 * Reads a host name or IP address flag. What no URL could hold (`a b`,
 * `999.1.1.1`) is a usage error here rather than a failure deep in Deno.
 */
export function hostFlag(
  name: string,
  value: string | undefined,
  fallback: string,
): string {
  const host = stringFlag(name, value) ?? fallback;
  // URL.parse drops tabs and newlines before parsing: they are tested first.
  if (
    // deno-lint-ignore no-control-regex -- control characters are its target
    /[\x00-\x1f\x7f]/.test(host) ||
    URL.parse(`http://${formatHostPort(host, 1)}/`) === null
  ) {
    // JSON quoting shows a control character instead of breaking the line.
    throw usageError(
      `--${name} must be a host name or IP address, got ${
        JSON.stringify(host)
      }`,
    );
  }
  return host;
}

/** Parses a whole number in `[min, max]` from a flag value, or throws a usage error. */
export function integerFlag(
  name: string,
  value: string | undefined,
  range: { fallback: number; min: number; max: number },
): number {
  const text = stringFlag(name, value);
  if (text === undefined) return range.fallback;
  // Digits only: no sign, exponent, hex, or spaces that Number() would accept.
  if (
    !/^\d+$/.test(text) || Number(text) < range.min ||
    Number(text) > range.max
  ) {
    throw usageError(
      `--${name} must be a whole number from ${range.min} to ${range.max}, got "${text}"`,
    );
  }
  return Number(text);
}

/**
 * Parses a TCP port from a flag: 0 to 65535 to listen on (0 lets the system
 * pick one), 1 to 65535 to connect to.
 */
export function portFlag(
  name: string,
  value: string | undefined,
  use: { fallback: number; connect?: boolean },
): number {
  return integerFlag(name, value, {
    fallback: use.fallback,
    min: use.connect ? 1 : 0,
    max: 65535,
  });
}

/**
 * Explains a failure to listen on `address` (a URL such as
 * `http://0.0.0.0:8000/`) in one line; an error it does not know is returned
 * as it is.
 */
export function listenError(error: unknown, address: string): unknown {
  if (error instanceof Deno.errors.AddrInUse) {
    return new CliError(
      `Cannot listen on ${address}: the address is already in use; pick another port`,
    );
  }
  if (error instanceof Deno.errors.AddrNotAvailable) {
    return new CliError(
      `Cannot listen on ${address}: it is not an address of this machine`,
    );
  }
  if (error instanceof Error && error.constructor === Error) {
    // A host name that does not resolve; Deno's message does not name it.
    return new CliError(`Cannot listen on ${address}: ${error.message}`);
  }
  return error;
}

/**
 * Ensures the network permission for exactly the addresses a program will
 * listen on or connect to (`host:port`), so a narrow grant such as
 * `--allow-net=127.0.0.1` or `--allow-net=127.0.0.1:8000` is enough. On a
 * terminal Deno may ask; otherwise the one line says which grant is missing,
 * instead of a prompt or a `NotCapable` deep inside a call.
 */
export function requireNetAccess(
  action: "listen on" | "connect to",
  addresses: readonly { hostname: string; port: number }[],
): void {
  const missing = addresses
    .map(({ hostname, port }) => formatHostPort(hostname, port))
    .filter((host) => {
      const descriptor = { name: "net", host } as const;
      const state = Deno.permissions.querySync(descriptor).state;
      return state !== "granted" &&
        !(state === "prompt" && Deno.stdin.isTerminal() &&
          Deno.permissions.requestSync(descriptor).state === "granted");
    });
  if (missing.length === 0) return;
  throw new CliError(
    `Cannot ${action} ${
      missing.join(" and ")
    }: network permission is missing: run with -N or --allow-net=${
      missing.join(",")
    }`,
  );
}

/** The first line of the PEM block a `--cert`, `--key` or `--ca` file must hold. */
const PEM_BEGIN = {
  certificate: /^-----BEGIN CERTIFICATE-----/m,
  // "RSA PRIVATE KEY" and "EC PRIVATE KEY" (PKCS#1, SEC1) too: Deno takes them.
  "private key": /^-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/m,
} as const;

/**
 * The longest PEM file read: a certificate chain is a few KiB, and a wrong file
 * (a disk image, `/dev/zero`) must not be read into memory to its end.
 */
const MAX_PEM_BYTES = 1024 * 1024;

/**
 * What `path` is if not a regular file: a pipe (`mkfifo`, `<(...)`) may never
 * end, or never be opened for writing, and would hang the program.
 */
function notAFile(path: string): string | undefined {
  const info = Deno.statSync(path);
  if (info.isFile) return undefined;
  return info.isDirectory
    ? "a folder"
    : info.isFifo
    ? "a pipe"
    : info.isSocket
    ? "a socket"
    : "a device";
}

/** The text of `path`, or what `tooLong` makes once it passes `max` bytes. */
function readUpTo(path: string, max: number, tooLong: () => Error): string {
  using file = Deno.openSync(path);
  const buffer = new Uint8Array(max + 1);
  let length = 0;
  while (length < buffer.length) {
    const n = file.readSync(buffer.subarray(length));
    if (n === null) break;
    length += n;
  }
  if (length > max) throw tooLong();
  return new TextDecoder().decode(buffer.subarray(0, length));
}

/**
 * Reads the PEM file a flag names (`--cert`, `--key`, `--ca`). A missing read permission, a
 * missing or unreadable file, or a file without the expected PEM block becomes one line naming
 * the flag and the file, instead of a prompt or a stack trace.
 */
export function readPemFlag(
  flag: string,
  path: string,
  kind: keyof typeof PEM_BEGIN,
): string {
  const descriptor = { name: "read", path } as const;
  const state = Deno.permissions.querySync(descriptor).state;
  if (
    state !== "granted" &&
    !(state === "prompt" && Deno.stdin.isTerminal() &&
      Deno.permissions.requestSync(descriptor).state === "granted")
  ) {
    throw new CliError(
      `Cannot read --${flag} ${path}: read permission is missing: run with -R or --allow-read=${path}`,
    );
  }
  let text: string;
  try {
    const kind = notAFile(path);
    if (kind !== undefined) {
      throw new CliError(
        `Cannot read --${flag} ${path}: it is ${kind}, not a file`,
      );
    }
    text = readUpTo(path, MAX_PEM_BYTES, () =>
      new CliError(
        `Cannot read --${flag} ${path}: it is longer than ${MAX_PEM_BYTES} bytes, too long for a PEM file`,
      ));
  } catch (error) {
    if (error instanceof CliError) throw error;
    if (error instanceof Deno.errors.NotFound) {
      throw new CliError(`Cannot read --${flag} ${path}: no such file`);
    }
    throw new CliError(
      `Cannot read --${flag} ${path}: ${describeError(error)}`,
    );
  }
  if (!PEM_BEGIN[kind].test(text)) {
    throw new CliError(
      `--${flag} ${path} is not a PEM ${kind}: it has no "-----BEGIN ${kind.toUpperCase()}-----" line${
        indentedPemHint(text)
      }`,
    );
  }
  // PKCS#8 ("ENCRYPTED PRIVATE KEY") or the older PEM header: Deno would say
  // only "No keys found in key data".
  if (
    kind === "private key" &&
    /^-----BEGIN ENCRYPTED PRIVATE KEY-----|^Proc-Type: 4,ENCRYPTED/m.test(text)
  ) {
    throw new CliError(
      `--${flag} ${path} is encrypted with a passphrase, which Deno cannot use: decrypt it with openssl pkey -in ${path} -out key-plain.pem, then use that file`,
    );
  }
  const error = kind === "certificate" ? pemCertificateError(text) : undefined;
  if (error !== undefined) {
    throw new CliError(
      `--${flag} ${path} holds a PEM certificate that cannot be read: ${error}`,
    );
  }
  return text;
}

/**
 * Runs an executable's `main`, turning a `CliError` (or any other error) into one line on
 * stderr and an exit code. `usage` is printed after usage errors.
 */
export async function runMain(
  program: string,
  usage: string,
  main: () => Promise<void> | void,
): Promise<void> {
  try {
    await main();
  } catch (error) {
    if (error instanceof CliError) {
      console.error(`${program}: ${cut(error.message)}`);
      if (error.showUsage) console.error(`\n${usage}`);
      Deno.exit(error.exitCode);
    }
    console.error(`${program}: ${cut(describeError(error))}`);
    Deno.exit(EXIT_FAILURE);
  }
}

/**
 * The most of a message printed: a message can quote what the user gave or
 * what a URL held (`greet` with a 60,000-character name), and one line should
 * stay readable.
 */
const MAX_MESSAGE = 1000;

function cut(message: string): string {
  if (message.length <= MAX_MESSAGE) return message;
  // Whole code points, so a surrogate pair is never split.
  return `${[...message.slice(0, MAX_MESSAGE + 1)].slice(0, -1).join("")}…`;
}

/** One line describing an error, without its stack. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}
