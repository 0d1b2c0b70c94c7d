/**
 * Servers and clients for learning and for real use, the Deno counterpart of
 * a teaching text about servers and clients:
 *
 * - {@linkcode createGreetingHandler}: a fetch-style HTTP handler that greets
 *   by name (`Hello, Budi!`), for `Deno.serve` or any router.
 * - {@linkcode startEchoServer}: a TCP echo server on `Deno.listen`, with the
 *   text's one-message reply mode.
 * - {@linkcode sendMessage}: a TCP client that sends a message and reads the
 *   reply.
 *
 * @example Greet over HTTP
 * ```ts
 * import { createGreetingHandler } from "@learn/server-client";
 * import { assertEquals } from "@std/assert";
 *
 * const greet = createGreetingHandler();
 * const response = greet(new Request("http://localhost/?name=Budi"));
 * assertEquals(await response.text(), "Hello, Budi!");
 * ```
 *
 * @module
 */

export * from "./src/greeting.ts";
export * from "./src/echo_server.ts";
export * from "./src/echo_client.ts";
export * from "./src/log.ts";
