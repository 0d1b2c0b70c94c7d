/**
 * `server.py` with this library: {@linkcode createGreetingHandler} is the whole
 * `MyHandler`, `Deno.serve` the `HTTPServer` and its `serve_forever()` loop,
 * and Ctrl-C asks for the `shutdown()`.
 *
 * ```sh
 * deno run -N examples/library/greeting_server.ts    # python server.py
 * curl 'http://localhost:8000/?name=Budi'            # Hello, Budi!
 * ```
 *
 * @module
 */

import { createGreetingHandler } from "@learn/server-client";

const server = Deno.serve({
  port: Number(Deno.args[0] ?? 8000),
  hostname: Deno.args[1] ?? "0.0.0.0",
  onListen: (addr) => console.log(`Starting server on port ${addr.port}...`),
}, createGreetingHandler());

Deno.addSignalListener("SIGINT", () => server.shutdown());
await server.finished;
console.log("Server stopped.");
