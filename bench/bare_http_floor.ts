// The floor: the least work a Deno HTTP server can do per request.
// Run by bench/load.ts: `deno run -N bench/bare_http_floor.ts`.

Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ port }) => console.log(`listening on 127.0.0.1:${port}`),
}, () => new Response("Hello, world!"));
