/**
 * The teaching text's look inside `serve_forever()` (chapter "Server +
 * Client"): the Python server loops `while not self.__shutdown_request`,
 * `shutdown()` sets that flag, and `__is_shut_down` tells when the loop has
 * ended. In Deno the loop belongs to the runtime; a program only asks for the
 * shutdown and waits for it:
 *
 * - an `AbortController` is the shutdown request: its signal goes to
 *   `Deno.serve`, and aborting it stops the server (Ctrl-C here);
 * - `server.shutdown()` asks the same directly, like Python's
 *   `httpd.shutdown()` (SIGTERM here, what `kill`, Docker and systemd send);
 * - `server.finished` resolves once the server has stopped, like
 *   `__is_shut_down`.
 *
 * Either way the server stops accepting at once, closes idle connections and
 * lets the requests in flight finish.
 *
 * ```sh
 * deno run -N examples/serve_forever.ts        # then Ctrl-C
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

const PROGRAM = "examples/serve_forever.ts";
const USAGE = `Usage: deno run -N ${PROGRAM} [--hostname HOST] [--port PORT]

The greeting server of the teaching text's server.py, stopped cleanly by
Ctrl-C (SIGINT) or SIGTERM.

Options:
  --hostname HOST   address to listen on (default 0.0.0.0, every interface)
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

  const shutdownRequest = new AbortController();
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname,
      port,
      signal: shutdownRequest.signal,
      onListen: (addr) =>
        console.log(`Starting server on port ${addr.port}...`),
    }, createGreetingHandler());
  } catch (error) {
    throw listenError(error, `http://${formatHostPort(hostname, port)}/`);
  }

  const onSigint = () => {
    console.log("SIGINT received: finishing requests in flight...");
    shutdownRequest.abort();
  };
  const onSigterm = () => {
    console.log("SIGTERM received: finishing requests in flight...");
    // No deadlock here, unlike calling Python's shutdown() from the thread
    // running serve_forever(): the event loop keeps serving while this waits.
    void server.shutdown();
  };
  Deno.addSignalListener("SIGINT", onSigint);
  Deno.addSignalListener("SIGTERM", onSigterm);

  await server.finished;
  Deno.removeSignalListener("SIGINT", onSigint);
  Deno.removeSignalListener("SIGTERM", onSigterm);
  console.log("Server stopped.");
}

if (import.meta.main) {
  await runMain(PROGRAM, USAGE, () => main(Deno.args));
}
