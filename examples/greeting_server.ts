/**
 * The teaching text's `server.py` (chapter "Server + Client"): an HTTP server
 * on port 8000 that answers `GET /?name=Budi` with `Hello, Budi!`, `GET /`
 * with `Hello, world!` and any other path with 404. The Python
 * `BaseHTTPRequestHandler` becomes this library's
 * {@linkcode createGreetingHandler}, `HTTPServer(...).serve_forever()` becomes
 * `Deno.serve`.
 *
 * ```sh
 * deno run -N examples/greeting_server.ts      # python server.py
 * curl 'http://localhost:8000/?name=Budi'      # Hello, Budi!
 * ```
 *
 * @module
 */

import { createGreetingHandler } from "../mod.ts";
import {
  listenError,
  parseAddressFlags,
  requireNetPermission,
  runMain,
} from "../src/_cli.ts";
import { formatHostPort } from "../src/_net.ts";

const PROGRAM = "examples/greeting_server.ts";
const USAGE = `Usage: deno run -N ${PROGRAM} [--hostname HOST] [--port PORT]

The teaching text's server.py: greets on http://localhost:8000/?name=Budi

Options:
  --hostname HOST   address to listen on (default 0.0.0.0, every interface,
                    as server.py's '')
  --port PORT       port, 0 picks a free one (default 8000)
  --help            show this help and exit`;

async function main(args: string[]): Promise<void> {
  const address = parseAddressFlags(args, { hostname: "0.0.0.0", port: 8000 });
  if (address === "help") {
    console.log(USAGE);
    return;
  }
  const { hostname, port } = address;
  requireNetPermission(PROGRAM);

  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname,
      port,
      // server.py prints this before serve_forever(); printing it once
      // listening gives the real port when --port 0 asked for any.
      onListen: (addr) =>
        console.log(`Starting server on port ${addr.port}...`),
    }, createGreetingHandler());
  } catch (error) {
    throw listenError(error, `http://${formatHostPort(hostname, port)}/`);
  }
  await server.finished;
}

if (import.meta.main) {
  await runMain(PROGRAM, USAGE, () => main(Deno.args));
}
