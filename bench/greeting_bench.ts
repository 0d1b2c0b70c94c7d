// Micro-benchmarks of the greeting handler against a bare handler doing the
// same URL parse and answering a fixed Response:
//   bash /work/shared/std-offline/run-offline.sh deno bench bench/greeting_bench.ts
// bench/load.ts runs this file with --json and checks the 1.5x floor.

import { createGreetingHandler } from "../mod.ts";

const GROUP = "greeting handler";
const greet = createGreetingHandler();

// Requests are built once: constructing a Request costs more than handling it
// and would hide the difference being measured. Handlers only read them.
const html = new Request("http://127.0.0.1:8000/?name=Budi");
const json = new Request("http://127.0.0.1:8000/?name=Budi", {
  headers: { accept: "application/json" },
});
const notFound = new Request("http://127.0.0.1:8000/missing?name=Budi");
const head = new Request("http://127.0.0.1:8000/?name=Budi", {
  method: "HEAD",
});

const bareHeaders = {
  "content-type": "text/html; charset=utf-8",
  "vary": "Accept",
  "x-content-type-options": "nosniff",
};

function bareHandler(request: Request): Response {
  const url = new URL(request.url);
  if (url.pathname !== "/") return new Response("Not Found\n", { status: 404 });
  const name = url.searchParams.get("name") || "world";
  return new Response(`Hello, ${name}!`, { headers: bareHeaders });
}

Deno.bench({
  name: "bare: new URL + searchParams.get + fixed Response",
  group: GROUP,
  baseline: true,
  fn: () => {
    bareHandler(html);
  },
});

Deno.bench({
  name: "library: html",
  group: GROUP,
  fn: () => {
    greet(html);
  },
});

Deno.bench({
  name: "library: json",
  group: GROUP,
  fn: () => {
    greet(json);
  },
});

Deno.bench({
  name: "library: 404",
  group: GROUP,
  fn: () => {
    greet(notFound);
  },
});

Deno.bench({
  name: "library: HEAD",
  group: GROUP,
  fn: () => {
    greet(head);
  },
});
