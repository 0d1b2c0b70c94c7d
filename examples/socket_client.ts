// Kembaran Deno dari "Client (Python)" (bab "Penjelasan Server dan Client").
// The Deno twin of the teaching text's socket client, with no library at all.
//
//   deno run -N socket_client.ts          # python socket_client.py
//
// Argumen pertama (opsional) mengganti port 12345 milik server.
// An optional first argument replaces the server's port 12345.
const port = Number(Deno.args[0] ?? 12345);

// socket.socket(...) + connect(('localhost', 12345)): Deno.connect membuat
// socket dan menyambung sekaligus. 'localhost' di Python (AF_INET) = 127.0.0.1.
// Deno.connect creates the socket and connects in one call.
const client = await Deno.connect({ hostname: "127.0.0.1", port });
// client_socket.send("Halo server!".encode()): teks diubah menjadi byte dulu.
// Text is encoded to bytes first.
await client.write(new TextEncoder().encode("Halo server!"));
// data = client_socket.recv(1024).decode(): baca paling banyak 1024 byte;
// null berarti server menutup koneksi tanpa menjawab.
// Read at most 1024 bytes; null means the server closed without answering.
const buffer = new Uint8Array(1024);
const n = await client.read(buffer);
const data = new TextDecoder().decode(buffer.subarray(0, n ?? 0));
console.log(`Pesan dari server: ${data}`);
// client_socket.close()
client.close();
