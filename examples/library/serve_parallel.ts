/**
 * The teaching text's `server.py` greeting on every CPU core. `deno serve`
 * runs a module's default export `{ fetch }`; with `--parallel` it starts one
 * worker per core (or `DENO_JOBS` workers), each running this module, all
 * sharing the port, and the kernel spreads connections over them. The greeting
 * handler keeps no state, so nothing has to be shared between workers.
 *
 * ```sh
 * deno serve --parallel examples/serve_parallel.ts             # every core
 * DENO_JOBS=2 deno serve --parallel examples/serve_parallel.ts # two workers
 * deno serve examples/serve_parallel.ts                         # one
 * curl 'http://localhost:8000/?name=Budi'                       # Hello, Budi!
 * ```
 *
 * @module
 */

import { createGreetingHandler } from "@learn/server-client";

export default {
  fetch: createGreetingHandler(),
} satisfies Deno.ServeDefaultExport;
