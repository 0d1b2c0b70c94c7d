// deno-lint-ignore-file no-console -- the programs' own code, which reports to the terminal
// Helpers shared by the executables (server.ts, client.ts and the examples). Not part of the
// published API: they turn bad command-line input into one clear line and an exit code, never a
// stack trace.

import { type Args, parseArgs, type ParseOptions } from "@std/cli/parse-args";

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
 * `parseArgs` that rejects unknown flags instead of silently accepting them.
 * Positional arguments are left to the caller.
 */
export function parseFlags<const O extends ParseOptions>(
  args: string[],
  options: O,
): Args<Record<string, unknown>> {
  const unknown: string[] = [];
  const parsed = parseArgs(joinNegativeValues(args, options), {
    ...options,
    unknown(arg: string, key?: string) {
      if (key === undefined) return true; // a positional argument
      unknown.push(arg);
      return false;
    },
  });
  if (unknown.length > 0) {
    throw usageError(`unknown option: ${unknown[0]}`);
  }
  return parsed as Args<Record<string, unknown>>;
}

/**
 * `parseArgs` reads the `-5` of `--port -5` as a flag of its own ("unknown
 * option: -5"); joined as `--port=-5`, the value reaches the flag's own check
 * and its clearer message.
 */
function joinNegativeValues(args: string[], options: ParseOptions): string[] {
  const valued = new Set<string>([options.string ?? []].flat());
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") {
      joined.push(...args.slice(i));
      break;
    }
    const next = args[i + 1];
    if (
      arg.startsWith("--") && valued.has(arg.slice(2)) &&
      next !== undefined && /^-\d/.test(next)
    ) {
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
  args: Args<Record<string, unknown>>,
  name: string,
): string | undefined {
  const value = args[name];
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value === "") {
    throw usageError(`--${name} needs a value`);
  }
  return value;
}

/** Parses a whole number in `[min, max]` from a flag value, or throws a usage error. */
export function integerFlag(
  args: Args<Record<string, unknown>>,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const text = stringFlag(args, name);
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
    throw usageError(
      `--${name} must be a whole number from ${min} to ${max}, got "${text}"`,
    );
  }
  return Number(text);
}

/** Parses a TCP port (0 to 65535; 0 lets the system pick one) from a flag. */
export function portFlag(
  args: Args<Record<string, unknown>>,
  name: string,
  fallback: number,
): number {
  return integerFlag(args, name, fallback, 0, 65535);
}

/**
 * Reads the command line of a program whose only settings are where it listens
 * or connects: `--port`, `--help`, and `--hostname` when `defaults.hostname`
 * is given (without it, the host is always 127.0.0.1, the IPv4 loopback the
 * teaching text's `localhost` sockets use). Anything else is a usage error.
 */
export function parseAddressFlags(
  args: string[],
  defaults: { hostname?: string; port: number },
): { hostname: string; port: number } | "help" {
  const flags = parseFlags(args, {
    string: defaults.hostname === undefined ? ["port"] : ["hostname", "port"],
    boolean: ["help"],
  });
  if (flags.help) return "help";
  if (flags._.length > 0) {
    throw usageError(`unexpected argument: ${flags._[0]}`);
  }
  return {
    hostname: stringFlag(flags, "hostname") ?? defaults.hostname ??
      "127.0.0.1",
    port: portFlag(flags, "port", defaults.port),
  };
}

/**
 * Explains a failure to listen on `address` (a URL such as
 * `http://0.0.0.0:8000/`) in one line; an error it does not know is returned
 * as it is.
 */
export function listenError(error: unknown, address: string): unknown {
  if (error instanceof Deno.errors.AddrInUse) {
    return new CliError(`${address} is already in use; pick another port`);
  }
  if (error instanceof Deno.errors.AddrNotAvailable) {
    return new CliError(`${address} is not an address of this machine`);
  }
  if (
    error instanceof Deno.errors.PermissionDenied ||
    error instanceof Deno.errors.NotCapable
  ) {
    return new CliError(`not allowed to listen on ${address}`);
  }
  if (error instanceof Error && error.constructor === Error) {
    // A host name that does not resolve; Deno's message does not name it.
    return new CliError(`cannot listen on ${address}: ${error.message}`);
  }
  return error;
}

/**
 * Ensures network permission before anything starts. Deno would otherwise prompt (on a terminal)
 * or throw `NotCapable` deep inside a call (without one); this says what to do in one line.
 */
export function requireNetPermission(program: string): void {
  const state = Deno.permissions.querySync({ name: "net" }).state;
  if (state === "granted") return;
  if (
    state === "prompt" && Deno.stdin.isTerminal() &&
    Deno.permissions.requestSync({ name: "net" }).state === "granted"
  ) {
    return;
  }
  throw new CliError(
    `network access is needed: run it as \`deno run -N ${program}\``,
  );
}

/** The first line of the PEM block a `--cert`, `--key` or `--ca` file must hold. */
const PEM_BEGIN = {
  certificate: /-----BEGIN CERTIFICATE-----/,
  // "RSA PRIVATE KEY" and "EC PRIVATE KEY" (PKCS#1, SEC1) too: Deno takes them.
  "private key": /-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/,
} as const;

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
      `reading --${flag} ${path} needs read permission: pass -R or --allow-read=${path}`,
    );
  }
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new CliError(`--${flag} ${path}: no such file`);
    }
    throw new CliError(
      `cannot read --${flag} ${path}: ${describeError(error)}`,
    );
  }
  if (!PEM_BEGIN[kind].test(text)) {
    throw new CliError(
      `--${flag} ${path} is not a PEM ${kind}: it has no "-----BEGIN ${kind.toUpperCase()}-----" line`,
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
      console.error(`${program}: ${error.message}`);
      if (error.showUsage) console.error(`\n${usage}`);
      Deno.exit(error.exitCode);
    }
    console.error(`${program}: ${describeError(error)}`);
    Deno.exit(EXIT_FAILURE);
  }
}

/** One line describing an error, without its stack. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}
