// A bare-Deno echo server: a read/write loop with one reused buffer per
// connection. Run by bench/load.ts:
// `deno run -N bench/bare_echo_loop.ts [BUFFER_BYTES]` (default 65536).

const bufferSize = Number(Deno.args[0] ?? 65536);
const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
console.log(`listening on 127.0.0.1:${listener.addr.port}`);

async function echo(conn: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(bufferSize);
  try {
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) break;
      let written = 0;
      while (written < n) {
        written += await conn.write(buffer.subarray(written, n));
      }
    }
  } catch {
    // A client that went away ends its echo.
  } finally {
    conn.close();
  }
}

for await (const conn of listener) void echo(conn);
