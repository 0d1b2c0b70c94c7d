// A bare-Deno echo server that pipes each connection's readable into its
// writable. Run by bench/load.ts: `deno run -N bench/bare_echo_pipe.ts`.

const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
console.log(`listening on 127.0.0.1:${listener.addr.port}`);

for await (const conn of listener) {
  // pipeTo closes the connection when the client ends its input.
  conn.readable.pipeTo(conn.writable).catch(() => {
    // A client that went away ends its echo.
  });
}
