// Evidence for the fixed-Response floor: the least a negotiating greeting can
// do. It reads the Accept header (which makes Deno.serve fetch and keep the
// request's headers and finish the response a microtask later) and answers a
// fixed body with the greeting's three headers, parsing no URL at all.
// Run by bench/load.ts: `deno run -N bench/bare_http_accept.ts [url]`.
//
// With `url`, it also reads the request's method and URL, as anything that
// routes must (the greeting matches the path and reads the name from the
// query), and still answers the fixed greeting: evidence for what reading
// them costs in Deno.serve.

const headers = {
  "content-type": "text/html; charset=utf-8",
  "vary": "Accept",
  "x-content-type-options": "nosniff",
};
const readUrl = Deno.args[0] === "url";

Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ port }) => console.log(`listening on 127.0.0.1:${port}`),
}, (request) => {
  if (readUrl && (request.method !== "GET" || request.url.length === 0)) {
    return new Response("Method Not Allowed\n", { status: 405 });
  }
  if (request.headers.get("accept") === "application/json") {
    return new Response('{"message":"Hello, Budi!"}', { headers });
  }
  return new Response("Hello, Budi!", { headers });
});
