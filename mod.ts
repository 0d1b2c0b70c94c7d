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

export {
  type ConnectionInfo,
  createGreetingHandler,
  GREETING_MEDIA_TYPES,
  type GreetingHandler,
  type GreetingHandlerOptions,
  type RequestLogEntry,
} from "./src/greeting.ts";
export {
  type CloseReason,
  type ConnectionCloseInfo,
  type EchoServer,
  type EchoServerOptions,
  type EchoServerStats,
  type ReplyContext,
  type ReplyHandler,
  startEchoServer,
} from "./src/echo_server.ts";
export {
  ResponseTooLargeError,
  sendBytes,
  sendMessage,
  type SendOptions,
} from "./src/echo_client.ts";
