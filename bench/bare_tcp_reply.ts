// The bare-Deno version of the seed's socket server: read one message, answer,
// close. Run by bench/load.ts:
// `deno run -N bench/bare_tcp_reply.ts TEXT [drain]`.
//
// With `drain`, it also does what the library must before closing (evidence
// for the cost of it): end its side and read until the client closes, since
// closing with unread input resets the connection and a reset destroys the
// part of the answer the client has not read yet.

const reply = new TextEncoder().encode(Deno.args[0] ?? "Pesan diterima server");
const drain = Deno.args[1] === "drain";
const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
console.log(`listening on 127.0.0.1:${listener.addr.port}`);

async function answer(conn: Deno.Conn): Promise<void> {
  try {
    const buffer = new Uint8Array(1024);
    await conn.read(buffer);
    await conn.write(reply);
    if (drain) {
      await conn.closeWrite();
      while (await conn.read(buffer) !== null) { /* discarded */ }
    }
  } catch {
    // A client that went away needs no answer.
  } finally {
    conn.close();
  }
}

for await (const conn of listener) void answer(conn);
