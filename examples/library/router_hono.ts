/**
 * The greeting in a [Hono](https://hono.dev) app from npm: the library's
 * handler takes the `Request` Hono received (`c.req.raw`) and returns the
 * `Response`, so it is one route among others. Told its path, it answers
 * there (and `405` for methods other than GET and HEAD).
 *
 * ```sh
 * deno serve -N examples/library/router_hono.ts       # http://localhost:8000/
 * curl 'http://localhost:8000/greet?name=Budi'        # Hello, Budi!
 * curl http://localhost:8000/health                   # ok
 * ```
 *
 * @module
 */

import { Hono } from "hono";
import { createGreetingHandler } from "@learn/server-client";

const greet = createGreetingHandler({ path: "/greet" });

const app = new Hono();
app.get("/", (c) => c.text("Try /greet?name=Budi or /health\n"));
app.all("/greet", (c) => greet(c.req.raw));
app.get("/health", (c) => c.text("ok\n"));

export default app satisfies Deno.ServeDefaultExport;
