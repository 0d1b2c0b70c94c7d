// Helpers for the HTTP reliability tests: server.ts serving the greeting alone
// on loopback, and a raw HTTP/1.1 client that can send anything (junk, half a
// request, a trickle) and read responses off the socket itself.

import { Spawned } from "./_helpers.ts";
import { LOOPBACK } from "./_echo_helpers.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** `server.ts` serving only the greeting, on a free loopback port. */
export async function startGreetingServer(
  extraArgs: string[] = ["--quiet"],
): Promise<{ server: Spawned; port: number }> {
  const server = new Spawned(["-N"], "server.ts", [
    "--hostname",
    LOOPBACK,
    "--http-port",
    "0",
    "--no-echo",
    ...extraArgs,
  ]);
  try {
    const match = await server.waitFor(
      /listening on http:\/\/127\.0\.0\.1:(\d+)\//,
    );
    return { server, port: Number(match[1]) };
  } catch (error) {
    await server[Symbol.asyncDispose]();
    throw error;
  }
}

/** A GET of `/?name=<name>` as plain text, keeping the connection open. */
export function greetingRequest(name: string, extraHeaders = ""): string {
  return `GET /?name=${
    encodeURIComponent(name)
  } HTTP/1.1\r\nHost: ${LOOPBACK}\r\nAccept: text/plain\r\n${extraHeaders}\r\n`;
}

/** One parsed HTTP/1.1 response. */
export interface RawResponse {
  status: number;
  headers: Headers;
  body: string;
}

/**
 * An HTTP/1.1 connection driven by hand: write any bytes, read responses
 * delimited by `Content-Length` (all the greeting server sends).
 */
export class RawHttpConnection implements Disposable {
  readonly conn: Deno.TcpConn;
  #buffered = new Uint8Array(0);
  #closed = false;

  private constructor(conn: Deno.TcpConn) {
    this.conn = conn;
  }

  /** Connects to `port` on loopback. */
  static async open(port: number): Promise<RawHttpConnection> {
    return new RawHttpConnection(
      await Deno.connect({ hostname: LOOPBACK, port }),
    );
  }

  /** Writes all of `data`. */
  async send(data: string | Uint8Array): Promise<void> {
    let bytes = typeof data === "string" ? encoder.encode(data) : data;
    while (bytes.length > 0) {
      bytes = bytes.subarray(await this.conn.write(bytes));
    }
  }

  /** Reads more bytes into the buffer; false at end of input. */
  async #fill(): Promise<boolean> {
    const chunk = new Uint8Array(16 * 1024);
    const n = await this.conn.read(chunk);
    if (n === null) return false;
    const joined = new Uint8Array(this.#buffered.length + n);
    joined.set(this.#buffered);
    joined.set(chunk.subarray(0, n), this.#buffered.length);
    this.#buffered = joined;
    return true;
  }

  /**
   * Reads one response; `null` if the server closed before sending a byte of
   * one. A reset counts as a close.
   */
  async readResponse(): Promise<RawResponse | null> {
    let headEnd: number;
    while (
      (headEnd = decoder.decode(this.#buffered).indexOf("\r\n\r\n")) === -1
    ) {
      let more: boolean;
      try {
        more = await this.#fill();
      } catch (error) {
        if (!(error instanceof Deno.errors.ConnectionReset)) throw error;
        more = false;
      }
      if (!more) {
        if (this.#buffered.length === 0) return null;
        throw new Error(
          `closed in the middle of a response: ${
            JSON.stringify(decoder.decode(this.#buffered))
          }`,
        );
      }
    }
    // The head is ASCII, so its string length is its byte length.
    const [statusLine, ...lines] = decoder.decode(
      this.#buffered.subarray(0, headEnd),
    ).split("\r\n");
    const status = Number(statusLine!.match(/^HTTP\/1\.1 (\d{3}) /)?.[1]);
    if (!Number.isInteger(status)) throw new Error(`bad status ${statusLine}`);
    const headers = new Headers();
    for (const line of lines) {
      const colon = line.indexOf(":");
      headers.append(line.slice(0, colon), line.slice(colon + 1).trim());
    }
    const length = Number(headers.get("content-length") ?? 0);
    const bodyStart = headEnd + 4;
    while (this.#buffered.length < bodyStart + length) {
      if (!await this.#fill()) {
        throw new Error("closed in the middle of a body");
      }
    }
    const body = decoder.decode(
      this.#buffered.subarray(bodyStart, bodyStart + length),
    );
    this.#buffered = this.#buffered.slice(bodyStart + length);
    return { status, headers, body };
  }

  /** Waits for the server's next move: more bytes, a clean close or a reset. */
  async nextEvent(): Promise<"data" | "closed" | "reset"> {
    try {
      return await this.#fill() ? "data" : "closed";
    } catch (error) {
      if (error instanceof Deno.errors.ConnectionReset) return "reset";
      throw error;
    }
  }

  /** Closes the socket (again is fine). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.conn.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Sends a GET for `name` on a new connection and returns the response. */
export async function greetOnce(
  port: number,
  name: string,
): Promise<RawResponse> {
  using connection = await RawHttpConnection.open(port);
  await connection.send(greetingRequest(name, "Connection: close\r\n"));
  const response = await connection.readResponse();
  if (response === null) throw new Error(`no response for ${name}`);
  return response;
}
