/**
 * The teaching text's socket server with this library:
 * {@linkcode startEchoServer} in reply mode owns the `while True` loop and
 * each `accept`, `recv(1024)`, `send` and `close`; what is left is the answer.
 * Clients are served at the same time, and Ctrl-C shuts the server down after
 * the connections in flight got their answer.
 *
 * ```sh
 * deno run -N examples/library/socket_server.ts      # Server siap menerima koneksi...
 * deno run -N examples/library/socket_client.ts      # in another terminal
 * ```
 *
 * @module
 */

import { startEchoServer } from "@learn/server-client";

const server = startEchoServer({
  hostname: "127.0.0.1",
  port: Number(Deno.args[0] ?? 12345),
  onListen: (addr) =>
    console.log(`Server siap menerima koneksi... (port ${addr.port})`),
  // Called once the message has arrived, so both lines print together.
  reply: (message, { remoteAddr }) => {
    console.log(`Koneksi dari ('${remoteAddr.hostname}', ${remoteAddr.port})`);
    console.log(`Pesan dari client: ${message}`);
    return "Pesan diterima server";
  },
});

Deno.addSignalListener("SIGINT", () => server.shutdown());
await server.finished;
