// The obvious bare-Deno greeting a user would write instead of the library: the
// same parse (`new URL`, `searchParams.get`), path check, body and headers as
// the library's default HTML answer, with no negotiation or escaping.
// Run by bench/load.ts: `deno run -N bench/bare_http_greeting.ts [log]`.
//
// With `log`, it also writes an access line per request with what server.ts's
// line holds (time, client address, request line, status, duration), gathered
// and written to stderr every 20 ms as server.ts does: evidence for what any
// access log costs on Deno.serve, apart from how the library writes its own.

const headers = {
  "content-type": "text/html; charset=utf-8",
  "vary": "Accept",
  "x-content-type-options": "nosniff",
};

function greet(request: Request): Response {
  const url = new URL(request.url);
  if (url.pathname !== "/") return new Response("Not Found\n", { status: 404 });
  const name = url.searchParams.get("name") || "world";
  return new Response(`Hello, ${name}!`, { headers });
}

const encoder = new TextEncoder();
let lines: string[] = [];
let writing = false;

async function writeLines(): Promise<void> {
  while (lines.length > 0) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    const batch = encoder.encode(lines.join(""));
    lines = [];
    for (let written = 0; written < batch.length;) {
      written += await Deno.stderr.write(batch.subarray(written));
    }
  }
  writing = false;
}

function logged(
  request: Request,
  info: Deno.ServeHandlerInfo<Deno.NetAddr>,
): Response {
  const start = performance.now();
  const response = greet(request);
  const end = performance.now();
  const { hostname, port } = info.remoteAddr;
  const target = request.url.slice(request.url.indexOf("/", 8));
  lines.push(
    `${new Date().toISOString()} ${hostname}:${port} ${request.method} ` +
      `${target} ${response.status} ${(end - start).toFixed(2)}ms\n`,
  );
  if (!writing) {
    writing = true;
    void writeLines();
  }
  return response;
}

Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ port }) => console.log(`listening on 127.0.0.1:${port}`),
}, Deno.args[0] === "log" ? logged : greet);
