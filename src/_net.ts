// Socket, timer and option helpers shared by the echo server and client. Not
// part of the published API.

/**
 * `host:port`, with brackets around an IPv6 host, as in a URL. A host already
 * in brackets (`"[::1]"`, which Deno takes too) keeps its own.
 */
export function formatHostPort(hostname: string, port: number): string {
  return hostname.includes(":") && !hostname.startsWith("[")
    ? `[${hostname}]:${port}`
    : `${hostname}:${port}`;
}

/**
 * Why Deno cannot read the PEM certificates in `pem` (a block cut short, a
 * body that is not base64, ...), or `undefined` if it can. Only Deno's parser
 * knows, and an HTTP client is the one place it runs without connecting
 * anywhere (40 µs for one certificate, 1.2 ms for a bundle of 140: what
 * `Deno.startTls` spends on them again); `Deno.startTls` would only say so
 * after connecting.
 * Text without any certificate is not an error here.
 */
export function pemCertificateError(pem: string): string | undefined {
  try {
    Deno.createHttpClient({ caCerts: [pem] }).close();
    return undefined;
  } catch (error) {
    const detail = (error as Error).message.replace(
      /^Unable to add pem file to certificate store: /,
      "",
    );
    // Deno names these by the Rust error's name only.
    if (/^Invalid(Byte|Length|LastSymbol|Padding)\b/.test(detail)) {
      return `the text between its BEGIN and END lines is not base64 (${detail})`;
    }
    if (/BadEncoding/.test(detail)) {
      return `its base64 text is not a DER certificate (${detail})`;
    }
    return detail;
  }
}

/**
 * A hint for PEM text whose BEGIN line is indented (PEM text in an indented
 * template literal, say), which Deno's parser skips without a word; `""` for
 * any other text.
 */
export function indentedPemHint(pem: string): string {
  return /^[ \t]+-----BEGIN /m.test(pem)
    ? " (its BEGIN line is indented: Deno only reads one that starts the line)"
    : "";
}

/**
 * Whether `error` is the peer going away (reset, closed pipe, ...): an ordinary
 * event on a TCP connection, not a failure worth reporting.
 */
export function isDisconnectError(error: unknown): boolean {
  return error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.ConnectionAborted ||
    error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.NotConnected ||
    error instanceof Deno.errors.UnexpectedEof;
}

/**
 * Writes all of `bytes`: `Conn.write` may write only part of what it is given.
 */
export async function writeAll(
  conn: Deno.Conn,
  bytes: Uint8Array,
): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    written += await conn.write(bytes.subarray(written));
  }
}

/**
 * Where input that is only thrown away is read: connections share it, since
 * nobody looks at its contents, and a connection's own buffer may still be in
 * use (a reply handler may keep the message's bytes).
 */
export const discardBuffer: Uint8Array = new Uint8Array(64 * 1024);

/**
 * Reads and throws away what the peer sends until it ends its side, or until
 * more than `limit` bytes came. Returns whether the peer ended its side.
 */
export async function discardInput(
  conn: Deno.Conn,
  limit = Infinity,
): Promise<boolean> {
  let total = 0;
  while (total <= limit) {
    const n = await conn.read(discardBuffer);
    if (n === null) return true;
    total += n;
  }
  return false;
}

// Timers take a signed 32-bit delay; a longer one fires at once (with a
// TimeoutOverflowWarning).
const MAX_TIMER_DELAY = 2 ** 31 - 1;

/**
 * Calls `callback` after `ms` milliseconds, never for `Infinity`. Delays too
 * long for one timer are waited out in several. Returns the cancel function.
 */
export function schedule(callback: () => void, ms: number): () => void {
  if (ms === Infinity) return () => {};
  let timer: ReturnType<typeof setTimeout>;
  const arm = (remaining: number) => {
    timer = remaining > MAX_TIMER_DELAY
      ? setTimeout(() => arm(remaining - MAX_TIMER_DELAY), MAX_TIMER_DELAY)
      : setTimeout(callback, remaining);
  };
  arm(ms);
  return () => clearTimeout(timer);
}

/** A value as an error message shows it: `NaN`, `"80"`, `ArrayBuffer`. */
export function describe(value: unknown): string {
  if (typeof value === "function") return "a function";
  // Shown whole, a PEM text would spread the message over many lines.
  if (typeof value === "string" && value.length > 40) {
    return `a string of ${value.length} characters, ${
      JSON.stringify(value.slice(0, 30))
    }…`;
  }
  if (typeof value === "object" && value !== null) {
    return value.constructor?.name ?? "an object";
  }
  return Deno.inspect(value);
}

/** What a numeric option accepts. */
export interface NumberRange {
  /** The smallest value allowed. */
  min: number;
  /** The largest value allowed; `Infinity` (the default) allows `Infinity`. */
  max?: number;
  /** Whether only whole numbers (and `Infinity` if allowed) are. */
  integer?: boolean;
}

/**
 * Throws unless `value` is `undefined` (the option's default) or a number in
 * `range`: a `TypeError` for a value that is not a number, a `RangeError`
 * otherwise, each naming the option and value after `context` (what failed,
 * e.g. "Cannot start the echo server").
 */
export function checkNumber(
  context: string,
  name: string,
  value: unknown,
  { min, max = Infinity, integer = false }: NumberRange,
): void {
  if (
    value === undefined ||
    typeof value === "number" && value >= min && value <= max &&
      (!integer || Number.isInteger(value) || value === Infinity)
  ) {
    return;
  }
  const kind = integer ? "whole number" : "number";
  const expected = max !== Infinity
    ? `a ${kind} from ${min} to ${max}`
    : `${
      min === 0
        ? `a non-negative ${kind}`
        : min === 1 && integer
        ? `a positive ${kind}`
        : `a ${kind} from ${min} up`
    } or Infinity`;
  const ErrorType = typeof value === "number" ? RangeError : TypeError;
  throw new ErrorType(
    `${context}: ${name} must be ${expected}, got ${describe(value)}`,
  );
}

/** Throws a `TypeError` unless `value` is `undefined` or has `type`. */
export function checkType(
  context: string,
  name: string,
  value: unknown,
  type: "string" | "boolean" | "function",
): void {
  if (value !== undefined && typeof value !== type) {
    throw new TypeError(
      `${context}: ${name} must be a ${type}, got ${describe(value)}`,
    );
  }
}

/** Throws a `TypeError` unless `options` is an object (not `null`). */
export function checkOptionsObject(context: string, options: unknown): void {
  // An array is an object too, but never an options object: `[]` would
  // silently start a server on the defaults.
  if (
    typeof options !== "object" || options === null || Array.isArray(options)
  ) {
    throw new TypeError(
      `${context}: options must be an object, got ${describe(options)}`,
    );
  }
}

/**
 * Throws a `TypeError` unless `value` is `undefined` or a non-empty string:
 * Deno's own error for an empty host name does not say which option.
 */
export function checkHostname(context: string, value: unknown): void {
  if (value !== undefined && (typeof value !== "string" || value === "")) {
    throw new TypeError(
      `${context}: hostname must be a non-empty string, got ${describe(value)}`,
    );
  }
}

/**
 * The `TypeError` for a `hostname` that Deno refused with a `URIError`, as no
 * address could have it (`"a b"`, a control character, a name of 300
 * letters): it names the option and the value after `context` (what failed),
 * where Deno's lower-case message did not say which option.
 */
export function invalidHostname(
  context: string,
  hostname: string,
  cause: unknown,
): TypeError {
  return new TypeError(
    `${context}: hostname must be a host name or IP address, got ${
      describe(hostname)
    }`,
    { cause },
  );
}

/** Throws a `TypeError` unless `value` is `undefined` or an `AbortSignal`. */
export function checkSignal(context: string, value: unknown): void {
  if (value !== undefined && !(value instanceof AbortSignal)) {
    throw new TypeError(
      `${context}: signal must be an AbortSignal, got ${describe(value)}`,
    );
  }
}
