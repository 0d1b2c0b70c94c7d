/**
 * Embedding the greeting (the teaching text's `server.py`, as a library
 * handler) in a [Hono](https://hono.dev) app from npm: `app.mount()` takes any
 * fetch-style handler and strips the mount path, so the greeting keeps its
 * default path `/`.
 *
 * ```sh
 * deno serve examples/router_hono.ts           # http://localhost:8000/
 * curl 'http://localhost:8000/greet?name=Budi' # Hello, Budi!
 * curl http://localhost:8000/health            # ok
 * ```
 *
 * @module
 */

import { Hono } from "hono";
import { createGreetingHandler } from "../mod.ts";

const app = new Hono();
app.get("/", (c) => c.text("Try /greet?name=Budi or /health\n"));
app.mount("/greet", createGreetingHandler());
app.get("/health", (c) => c.text("ok\n"));

export default app satisfies Deno.ServeDefaultExport;
