// Kembaran Deno dari `server.py` (bab "Server + Client"), tanpa library apa pun.
// The Deno twin of the teaching text's `server.py`, with no library at all.
//
//   deno run -N greeting_server.ts        # python server.py
//   curl 'http://localhost:8000/?name=Budi'
//
// Argumen pertama (opsional) mengganti port 8000 (0 = port bebas mana saja);
// yang kedua mengganti alamat, misalnya 127.0.0.1: hanya komputer ini yang bisa
// mengakses server.
// Optional arguments: the port instead of 8000 (0 picks any free port), then
// the address, e.g. 127.0.0.1 so that only this computer can reach the server.
const port = Number(Deno.args[0] ?? 8000);
const hostname = Deno.args[1] ?? "0.0.0.0";

// class MyHandler + do_GET: di Deno, handler hanyalah fungsi Request -> Response.
// MyHandler.do_GET: in Deno a handler is just a function from Request to Response.
function handler(request: Request): Response {
  // Tanpa do_POST dan lainnya, Python menjawab metode lain dengan 501.
  // With only do_GET defined, Python answers every other method with 501.
  if (request.method !== "GET") return new Response(null, { status: 501 });
  // parsed_url = urlparse(self.path); base_path = parsed_url.path
  const url = new URL(request.url);
  if (url.pathname === "/") {
    // parse_qs membuang nilai kosong, jadi [0] adalah `name` pertama yang tidak kosong.
    // parse_qs drops empty values, so [0] is the first non-empty `name`.
    const names = url.searchParams.getAll("name").filter((v) => v !== "");
    const name = names[0] ?? "world";
    // send_response(200), send_header('Content-type', 'text/html'), wfile.write(...)
    // Seperti server.py, nama tidak di-escape; createGreetingHandler meng-escape-nya.
    // Like server.py the name is not escaped; the library's handler escapes it.
    return new Response(`Hello, ${name}!`, {
      headers: { "Content-Type": "text/html" },
    });
  }
  // else: send_response(404); end_headers()
  return new Response(null, { status: 404 });
}

// HTTPServer(('', port), MyHandler) + serve_forever(): Deno.serve membuka port
// (di semua antarmuka: '' di Python = 0.0.0.0) dan menjalankan perulangan
// server untuk kita.
// Deno.serve listens (on every interface: Python's '' is 0.0.0.0) and runs the
// server loop for us.
const server = Deno.serve({
  hostname,
  port,
  onListen: (addr) => console.log(`Starting server on port ${addr.port}...`),
}, handler);

// shutdown(): Ctrl-C meminta server berhenti (self.__shutdown_request = True);
// permintaan yang sedang berjalan tetap diselesaikan.
// Ctrl-C asks the server to stop; requests in flight are still finished.
Deno.addSignalListener("SIGINT", () => server.shutdown());
// self.__is_shut_down.wait(): tunggu sampai perulangannya benar-benar selesai.
// Wait until the loop has really ended.
await server.finished;
console.log("Server stopped.");
