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
  CliError,
  parseFlags,
  portFlag,
  requireNetPermission,
  runMain,
  stringFlag,
  usageError,
} from "../src/_cli.ts";

const PROGRAM = "examples/serve_forever.ts";
const USAGE = `Usage: deno run -N ${PROGRAM} [--hostname HOST] [--port PORT]

The greeting server of the teaching text's server.py, stopped cleanly by
Ctrl-C (SIGINT) or SIGTERM.

Options:
  --hostname HOST   address to listen on (default 0.0.0.0, every interface)
  --port PORT       port, 0 picks a free one (default 8000)
  --help            show this help and exit`;

async function main(args: string[]): Promise<void> {
  const flags = parseFlags(args, {
    string: ["hostname", "port"],
    boolean: ["help"],
  });
  if (flags.help) {
    console.log(USAGE);
    return;
  }
  if (flags._.length > 0) {
    throw usageError(`unexpected argument: ${flags._[0]}`);
  }
  const hostname = stringFlag(flags, "hostname") ?? "0.0.0.0";
  const port = portFlag(flags, "port", 8000);
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
    // Deno's own message does not say which port.
    if (error instanceof Deno.errors.AddrInUse) {
      throw new CliError(
        `port ${port} is already in use: stop the program using it, or pick another with --port`,
      );
    }
    throw error;
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
