/**
 * The teaching text's socket server (chapter "Penjelasan Server dan Client",
 * "Server (Python)"): listens on localhost:12345, and for each client prints
 * who connected and its message, answers `Pesan diterima server` and closes
 * the connection. The Python `socket` loop becomes this library's
 * {@linkcode startEchoServer} in reply mode; its messages are kept.
 *
 * ```sh
 * deno run -N examples/socket_server.ts        # Server siap menerima koneksi...
 * deno run -N examples/socket_client.ts        # in another terminal
 * ```
 *
 * @module
 */

import { startEchoServer } from "../mod.ts";
import {
  describeError,
  parseAddressFlags,
  requireNetPermission,
  runMain,
} from "../src/_cli.ts";

const PROGRAM = "examples/socket_server.ts";
const USAGE = `Usage: deno run -N ${PROGRAM} [--port PORT]

The teaching text's socket server: answers "Pesan diterima server" on
localhost:12345.

Options:
  --port PORT   port, 0 picks a free one (default 12345)
  --help        show this help and exit`;

async function main(args: string[]): Promise<void> {
  const address = parseAddressFlags(args, { port: 12345 });
  if (address === "help") {
    console.log(USAGE);
    return;
  }
  const { port } = address;
  requireNetPermission(PROGRAM);

  const server = startEchoServer({
    // The Python binds ('localhost', 12345) on an AF_INET socket: IPv4
    // loopback only, which "localhost" would not guarantee here.
    hostname: "127.0.0.1",
    port,
    onListen: () => console.log("Server siap menerima koneksi..."),
    // One read of at most 1024 bytes, like recv(1024), then this answer and
    // the connection closes.
    reply: (message, { remoteAddr }) => {
      // Python prints the address as the tuple (host, port).
      console.log(
        `Koneksi dari ('${remoteAddr.hostname}', ${remoteAddr.port})`,
      );
      console.log(`Pesan dari client: ${message}`);
      return "Pesan diterima server";
    },
    onError: (error) => console.error(`${PROGRAM}: ${describeError(error)}`),
  });
  await server.finished;
}

if (import.meta.main) {
  await runMain(PROGRAM, USAGE, () => main(Deno.args));
}
