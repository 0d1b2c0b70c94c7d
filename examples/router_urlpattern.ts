/**
 * Embedding the greeting (the teaching text's `server.py`, as a library
 * handler) in a bigger app, routed with the web platform's `URLPattern` and
 * no framework: the handler is a plain `(request, info) => Response`, so
 * mounting it is one line, and another route can call it with a rewritten
 * request.
 *
 * ```sh
 * deno serve examples/router_urlpattern.ts     # http://localhost:8000/
 * curl 'http://localhost:8000/greet?name=Budi' # Hello, Budi!
 * curl http://localhost:8000/greet/Budi        # Hello, Budi!
 * curl http://localhost:8000/health            # ok
 * ```
 *
 * @module
 */

import { createGreetingHandler } from "../mod.ts";

type Route = {
  pattern: URLPattern;
  handler: (
    request: Request,
    info: Deno.ServeHandlerInfo,
    params: Record<string, string | undefined>,
  ) => Response | Promise<Response>;
};

// The greeting answers 404 on any path but its own, so it is told where it is
// mounted.
const greet = createGreetingHandler({ path: "/greet" });

const routes: Route[] = [
  {
    pattern: new URLPattern({ pathname: "/" }),
    handler: () =>
      new Response("Try /greet?name=Budi, /greet/Budi or /health\n"),
  },
  { pattern: new URLPattern({ pathname: "/greet" }), handler: greet },
  {
    // The name as a path segment: the same greeting, through the query the
    // handler reads.
    pattern: new URLPattern({ pathname: "/greet/:name" }),
    handler: (request, info, { name = "" }) => {
      let decoded: string;
      try {
        decoded = decodeURIComponent(name);
      } catch {
        return new Response("Bad Request: malformed percent escape\n", {
          status: 400,
        });
      }
      const url = new URL("/greet", request.url);
      url.searchParams.set("name", decoded);
      return greet(new Request(url, request), info);
    },
  },
  {
    pattern: new URLPattern({ pathname: "/health" }),
    handler: () => new Response("ok\n"),
  },
];

function route(
  request: Request,
  info: Deno.ServeHandlerInfo,
): Response | Promise<Response> {
  for (const { pattern, handler } of routes) {
    const match = pattern.exec(request.url);
    if (match) return handler(request, info, match.pathname.groups);
  }
  return new Response("Not Found\n", { status: 404 });
}

export default { fetch: route } satisfies Deno.ServeDefaultExport;
