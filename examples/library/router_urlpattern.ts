/**
 * The greeting in a bigger app, routed with the web platform's `URLPattern`
 * and no framework: the handler is a plain `(request, info) => Response`, so
 * mounting it is one line, and another route can call it with a rewritten
 * request.
 *
 * ```sh
 * deno serve -N examples/library/router_urlpattern.ts # http://localhost:8000/
 * curl 'http://localhost:8000/greet?name=Budi'        # Hello, Budi!
 * curl http://localhost:8000/greet/Budi               # Hello, Budi!
 * curl http://localhost:8000/health                   # ok
 * ```
 *
 * @module
 */

import { createGreetingHandler } from "@learn/server-client";

type Handler = (
  request: Request,
  info: Deno.ServeHandlerInfo,
  params: Record<string, string | undefined>,
) => Response;

// The greeting answers 404 on any path but its own, so it is told where it is.
const greet = createGreetingHandler({ path: "/greet" });

const routes: [URLPattern, Handler][] = [
  [new URLPattern({ pathname: "/greet" }), greet],
  // The name as a path segment: the same greeting, through the query the
  // handler reads.
  [new URLPattern({ pathname: "/greet/:name" }), (request, info, params) => {
    const url = new URL("/greet", request.url);
    try {
      url.searchParams.set("name", decodeURIComponent(params.name ?? ""));
    } catch {
      return new Response("Bad Request: malformed percent escape\n", {
        status: 400,
      });
    }
    // Only what the greeting reads is copied: `new Request(url, request)`
    // would also read `request.signal`, which makes Deno 2.9 warn that the
    // signal "aborts on successful responses (legacy behavior)".
    const rewritten = new Request(url, {
      method: request.method,
      headers: request.headers,
    });
    return greet(rewritten, info);
  }],
  [new URLPattern({ pathname: "/health" }), () => new Response("ok\n")],
];

function route(request: Request, info: Deno.ServeHandlerInfo): Response {
  for (const [pattern, handler] of routes) {
    const match = pattern.exec(request.url);
    if (match) return handler(request, info, match.pathname.groups);
  }
  return new Response("Not Found\n", { status: 404 });
}

export default { fetch: route } satisfies Deno.ServeDefaultExport;
