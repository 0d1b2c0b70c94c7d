// Kembaran Deno dari "Server (Python)" (bab "Penjelasan Server dan Client").
// The Deno twin of the teaching text's socket server, with no library at all.
//
//   deno run -N socket_server.ts          # python socket_server.py
//
// Argumen pertama (opsional) mengganti port 12345; 0 = port bebas mana saja,
// dan port yang didapat ikut dicetak.
// An optional first argument replaces port 12345; with 0 any free port is
// taken and printed.
const port = Number(Deno.args[0] ?? 12345);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

// socket.socket(...), bind(('localhost', 12345)), listen(1): Deno.listen membuat
// socket TCP, mengikatnya ke alamat dan mulai mendengarkan, sekaligus.
// 'localhost' pada socket AF_INET berarti 127.0.0.1 (IPv4).
// Deno.listen creates, binds and listens in one call; 'localhost' on an
// AF_INET socket means 127.0.0.1.
const server = Deno.listen({ hostname: "127.0.0.1", port });
const shown = port === 0 ? ` (port ${server.addr.port})` : "";
console.log(`Server siap menerima koneksi...${shown}`);

// Satu client: recv, cetak, send, close, seperti isi perulangan di Python.
// One client: recv, print, send, close, as in the body of the Python loop.
async function handle(client: Deno.TcpConn): Promise<void> {
  try {
    // data = client_socket.recv(1024).decode(): baca paling banyak 1024 byte;
    // null berarti client sudah menutup koneksi tanpa mengirim apa pun.
    // Read at most 1024 bytes; null means the client closed without sending.
    const buffer = new Uint8Array(1024);
    const n = await client.read(buffer);
    const data = decoder.decode(buffer.subarray(0, n ?? 0));
    console.log(`Pesan dari client: ${data}`);
    // client_socket.send("Pesan diterima server".encode())
    await client.write(encoder.encode("Pesan diterima server"));
  } catch (error) {
    // Client yang memutus koneksi (reset) hanya mengakhiri koneksinya sendiri;
    // di Python, error ini menghentikan seluruh server.
    // A client that resets ends only its own connection; in Python the same
    // error stops the whole server.
    console.log(`Koneksi terputus: ${error}`);
  } finally {
    // client_socket.close()
    client.close();
  }
}

// while True: perulangan yang berjalan selamanya, satu putaran per koneksi.
// The loop that runs forever, one turn per connection.
while (true) {
  // client_socket, addr = server_socket.accept(): tunggu client berikutnya.
  // Wait for the next client.
  let client: Deno.TcpConn;
  try {
    client = await server.accept();
  } catch (error) {
    // Deno menanyakan alamat client saat accept(); client yang sudah memutus
    // (reset) sebelum itu membuat accept() gagal. Lewati, tunggu yang berikut.
    // accept() also asks for the client's address and fails for a client that
    // already reset; skip it and wait for the next one.
    if (error instanceof Deno.errors.NotConnected) continue;
    throw error;
  }
  const addr = client.remoteAddr;
  console.log(`Koneksi dari ('${addr.hostname}', ${addr.port})`);
  // Tanpa `await`: perulangan langsung kembali ke accept(), jadi client lain
  // dilayani selagi yang ini masih ditunggu. Python menunggu di recv() dulu.
  // No `await`: the loop goes straight back to accept(), so other clients are
  // served while this one is still awaited. Python waits in recv() first.
  handle(client);
}
