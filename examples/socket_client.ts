/**
 * The teaching text's socket client (chapter "Penjelasan Server dan Client",
 * "Client (Python)"): connects to localhost:12345, sends `Halo server!` and
 * prints the answer as `Pesan dari server: ...`. The Python `socket` calls
 * become this library's {@linkcode sendMessage}.
 *
 * ```sh
 * deno run -N examples/socket_client.ts        # Pesan dari server: Pesan diterima server
 * ```
 *
 * @module
 */

import { sendMessage } from "../mod.ts";
import {
  CliError,
  parseAddressFlags,
  requireNetPermission,
  runMain,
} from "../src/_cli.ts";

const PROGRAM = "examples/socket_client.ts";
const USAGE = `Usage: deno run -N ${PROGRAM} [--port PORT]

The teaching text's socket client: sends "Halo server!" to localhost:12345
and prints the answer.

Options:
  --port PORT   the server's port (default 12345)
  --help        show this help and exit`;

async function main(args: string[]): Promise<void> {
  const address = parseAddressFlags(args, { port: 12345 });
  if (address === "help") {
    console.log(USAGE);
    return;
  }
  const { port } = address;
  requireNetPermission(PROGRAM);

  let data: string;
  try {
    // The Python connects to ('localhost', 12345) over IPv4, that is
    // 127.0.0.1, sendMessage's default host.
    data = await sendMessage("Halo server!", { port });
  } catch (error) {
    if (error instanceof Deno.errors.ConnectionRefused) {
      throw new CliError(
        `connection to 127.0.0.1:${port} refused: is the server running? (start it with \`deno run -N examples/socket_server.ts\`)`,
      );
    }
    throw error;
  }
  console.log(`Pesan dari server: ${data}`);
}

if (import.meta.main) {
  await runMain(PROGRAM, USAGE, () => main(Deno.args));
}
