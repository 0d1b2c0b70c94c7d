/**
 * The client: `deno run -N client.ts [echo] [MESSAGE]` sends a message to the
 * TCP echo server and prints the reply; `deno run -N client.ts greet [NAME]`
 * fetches the HTTP greeting.
 *
 * @module
 */

import { sendMessage } from "./mod.ts";
import {
  CliError,
  describeError,
  integerFlag,
  parseFlags,
  portFlag,
  requireNetPermission,
  runMain,
  stringFlag,
  usageError,
} from "./src/_cli.ts";

const PROGRAM = "client.ts";
const DEFAULT_MESSAGE = "Halo server!";
const DEFAULT_URL = "http://localhost:8000/";

const USAGE = `Usage:
  deno run -N client.ts [echo] [MESSAGE] [--hostname HOST] [--port PORT]
  deno run -N client.ts greet [NAME] [--url URL]

Commands:
  echo     send MESSAGE to the TCP server and print its reply (the default).
           Without MESSAGE, sends standard input when it is piped and not
           empty, else "${DEFAULT_MESSAGE}".
  greet    ask the HTTP server to greet NAME and print the greeting

Options:
  --hostname HOST   TCP server host (default 127.0.0.1)
  --port PORT       TCP server port (default 12345)
  --url URL         HTTP server URL for greet (default ${DEFAULT_URL})
  --timeout MS      give up after MS milliseconds, 0 never (default 10000)
  --help            show this help and exit`;

type Command =
  | { kind: "help" }
  | {
    kind: "echo";
    message: string | undefined;
    hostname: string;
    port: number;
    timeout: number;
  }
  | { kind: "greet"; name: string | undefined; url: URL; timeout: number };

function parseCommand(args: string[]): Command {
  const flags = parseFlags(args, {
    // "_" keeps positional arguments as text: "007" stays a message, not 7.
    string: ["hostname", "port", "url", "timeout", "_"],
    boolean: ["help"],
  });
  if (flags.help) return { kind: "help" };
  const words = flags._.map(String);
  const explicit = words[0] === "echo" || words[0] === "greet";
  const kind = explicit ? words.shift() : "echo";
  if (words.length > 1) {
    throw usageError(
      explicit
        ? `too many arguments: ${words.join(" ")} (quote a text with spaces)`
        : `unknown command: ${words[0]}`,
    );
  }
  const timeout = integerFlag(flags, "timeout", 10_000, 0, 2 ** 31 - 1);
  const misplaced = (kind === "echo" ? ["url"] : ["hostname", "port"])
    .find((name) => flags[name] !== undefined);
  if (misplaced !== undefined) {
    throw usageError(`--${misplaced} does not apply to ${kind}`);
  }
  if (kind === "greet") {
    const text = stringFlag(flags, "url") ?? DEFAULT_URL;
    const url = URL.parse(text);
    if (
      url === null || (url.protocol !== "http:" && url.protocol !== "https:")
    ) {
      throw usageError(`--url must be an http or https URL, got "${text}"`);
    }
    return { kind, name: words[0], url, timeout };
  }
  return {
    kind: "echo",
    message: words[0],
    hostname: stringFlag(flags, "hostname") ?? "127.0.0.1",
    port: portFlag(flags, "port", 12345),
    timeout,
  };
}

/**
 * Piped standard input, or `undefined` on a terminal or when empty (say
 * `< /dev/null`).
 */
async function readStdin(): Promise<Uint8Array | undefined> {
  if (Deno.stdin.isTerminal()) return undefined;
  const bytes = await new Response(Deno.stdin.readable).bytes();
  return bytes.length > 0 ? bytes : undefined;
}

/**
 * Prints `text` as one or more lines: with a final newline unless it has one.
 */
function printReply(text: string): void {
  console.log(text.endsWith("\n") ? text.slice(0, -1) : text);
}

async function greet(
  name: string | undefined,
  url: URL,
  timeout: number,
): Promise<void> {
  if (name !== undefined) url.searchParams.set("name", name);
  const signal = timeout > 0 ? AbortSignal.timeout(timeout) : undefined;
  let response: Response;
  let text: string;
  try {
    response = await fetch(url, {
      headers: { accept: "text/plain" },
      ...(signal ? { signal } : {}),
    });
    text = await response.text();
  } catch (error) {
    if (signal?.aborted) {
      throw new CliError(`no answer from ${url.host} within ${timeout} ms`);
    }
    // fetch reports a refused connection only in the text of its cause.
    const detail = describeError(
      error instanceof Error ? error.cause ?? error : error,
    );
    throw new CliError(
      /connection refused/i.test(detail)
        ? `connection to ${url.host} refused: is the server running? (start it with \`deno run -N server.ts\`)`
        : `cannot reach ${url.host}: ${detail}`,
    );
  }
  if (!response.ok) {
    throw new CliError(
      `${url.host} answered ${response.status} ${response.statusText}: ${
        text.trim().split("\n")[0]
      }`,
    );
  }
  printReply(text);
}

async function main(args: string[]): Promise<void> {
  const command = parseCommand(args);
  if (command.kind === "help") {
    console.log(USAGE);
    return;
  }
  requireNetPermission(PROGRAM);
  if (command.kind === "greet") {
    await greet(command.name, command.url, command.timeout);
    return;
  }
  const message = command.message ?? await readStdin() ?? DEFAULT_MESSAGE;
  // The library's errors (refused, timed out, too large) are already one line
  // naming the address.
  printReply(
    await sendMessage(message, {
      hostname: command.hostname,
      port: command.port,
      timeout: command.timeout,
    }),
  );
}

if (import.meta.main) {
  await runMain(PROGRAM, USAGE, () => main(Deno.args));
}
