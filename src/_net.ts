// Socket helpers shared by the echo server and client. Not part of the
// published API.

/** `host:port`, with brackets around an IPv6 host, as in a URL. */
export function formatHostPort(hostname: string, port: number): string {
  return hostname.includes(":")
    ? `[${hostname}]:${port}`
    : `${hostname}:${port}`;
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
