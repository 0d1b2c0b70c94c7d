// The bare-Deno version of the seed's socket server: read one message, answer,
// close. Run by bench/load.ts: `deno run -N bench/bare_tcp_reply.ts TEXT`.

const reply = new TextEncoder().encode(Deno.args[0] ?? "Pesan diterima server");
const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
console.log(`listening on 127.0.0.1:${listener.addr.port}`);

async function answer(conn: Deno.Conn): Promise<void> {
  try {
    await conn.read(new Uint8Array(1024));
    await conn.write(reply);
  } catch {
    // A client that went away needs no answer.
  } finally {
    conn.close();
  }
}

for await (const conn of listener) void answer(conn);
