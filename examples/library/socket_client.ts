/**
 * The teaching text's socket client with this library: {@linkcode sendMessage}
 * connects, sends, reads the whole answer and closes.
 *
 * ```sh
 * deno run -N examples/library/socket_client.ts      # Pesan dari server: Pesan diterima server
 * ```
 *
 * @module
 */

import { sendMessage } from "@learn/server-client";

const data = await sendMessage("Halo server!", {
  port: Number(Deno.args[0] ?? 12345),
});
console.log(`Pesan dari server: ${data}`);
