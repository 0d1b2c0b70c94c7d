// The obvious bare-Deno greeting a user would write instead of the library: the
// same parse (`new URL`, `searchParams.get`), path check, body and headers as
// the library's default HTML answer, with no negotiation or escaping.
// Run by bench/load.ts: `deno run -N bench/bare_http_greeting.ts`.

const headers = {
  "content-type": "text/html; charset=utf-8",
  "vary": "Accept",
  "x-content-type-options": "nosniff",
};

Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ port }) => console.log(`listening on 127.0.0.1:${port}`),
}, (request) => {
  const url = new URL(request.url);
  if (url.pathname !== "/") return new Response("Not Found\n", { status: 404 });
  const name = url.searchParams.get("name") || "world";
  return new Response(`Hello, ${name}!`, { headers });
});
