/**
 * The package as a JSR user gets it, with no network: `deno publish` uploads
 * it to a loopback registry (.ci/jsr_registry.ts, with the `@std` stand-ins),
 * then, in an empty folder with an empty `DENO_DIR` and nothing of this
 * repository around:
 *
 * - `deno run -N jsr:@learn/server-client/server` serves HTTP and TCP echo,
 * - `deno run -N jsr:@learn/server-client/client` talks to it (echo and greet),
 * - `deno add jsr:@learn/server-client` and a three-line script using
 *   `createGreetingHandler` runs.
 *
 * Everything listens on 127.0.0.1 and the whole run is bounded in time. The
 * last line says PASS or FAIL; the exit status is 0 or 1.
 *
 *   deno run -A .ci/jsr_e2e.ts ../shared/std-offline
 *
 * @module
 */

import { exitOrKill } from "../_tools/subprocess.ts";
import { startRegistry } from "./jsr_registry.ts";

const TIME_LIMIT_MS = 180_000;
const STEP_LIMIT_MS = 60_000;
const PACKAGE = "jsr:@learn/server-client";

class Failure extends Error {}

/** Output of a finished command, decoded. */
interface Output {
  code: number;
  stdout: string;
  stderr: string;
}

function describe(output: Output): string {
  return `exit ${output.code}\n--- stdout\n${output.stdout}--- stderr\n${output.stderr}`;
}

async function run(
  args: string[],
  options: { cwd: string; env: Record<string, string> },
): Promise<Output> {
  const output = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: options.cwd,
    env: options.env,
    clearEnv: true,
    stdin: "null",
    signal: AbortSignal.timeout(STEP_LIMIT_MS),
  }).output();
  return {
    code: output.code,
    stdout: new TextDecoder().decode(output.stdout),
    stderr: new TextDecoder().decode(output.stderr),
  };
}

function expect(ok: boolean, what: string, output?: Output): void {
  if (!ok) {
    throw new Failure(output ? `${what}\n${describe(output)}` : what);
  }
  console.log(`ok: ${what}`);
}

/** `deno run -N jsr:.../server`, with its ports read from its stdout. */
async function startServer(
  cwd: string,
  env: Record<string, string>,
): Promise<{
  child: Deno.ChildProcess;
  httpPort: number;
  echoPort: number;
  output: () => Output;
}> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-N",
      `${PACKAGE}/server`,
      "--hostname",
      "127.0.0.1",
      "--http-port",
      "0",
      "--echo-port",
      "0",
    ],
    cwd,
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let stdout = "";
  let stderr = "";
  const collect = async (
    stream: ReadableStream<Uint8Array>,
    append: (text: string) => void,
  ) => {
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      append(text);
    }
  };
  void collect(child.stdout, (text) => stdout += text);
  void collect(child.stderr, (text) => stderr += text);
  let exited = false;
  void child.status.then(() => exited = true);
  const output = () => ({ code: NaN, stdout, stderr });
  const deadline = Date.now() + STEP_LIMIT_MS;
  while (Date.now() < deadline && !exited) {
    const http = stdout.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
    const echo = stdout.match(
      /echo server listening on (?:tcp:\/\/)?127\.0\.0\.1:(\d+)/,
    );
    if (http && echo) {
      return {
        child,
        httpPort: Number(http[1]),
        echoPort: Number(echo[1]),
        output,
      };
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill("SIGKILL");
  await child.status;
  throw new Failure(
    `the server from JSR did not say where it listens\n${describe(output())}`,
  );
}

async function main(standIns: string | undefined): Promise<void> {
  await using registry = await startRegistry(standIns);
  console.log(
    `registry: ${registry.env.JSR_URL}, @std from ${registry.source}`,
  );
  const home = await Deno.makeTempDir({ prefix: "jsr-e2e-" });
  try {
    // A user's machine: no import map, no config of ours, an empty cache.
    const env: Record<string, string> = {
      ...registry.env,
      PATH: Deno.env.get("PATH") ?? "",
      HOME: home,
      DENO_DIR: `${home}/deno-dir`,
      NO_COLOR: "1",
    };
    const user = `${home}/project`;
    await Deno.mkdir(user);

    // The publisher's cache is not the user's.
    const published = await run(
      ["publish", "--token", "ci", "--no-provenance", "--allow-dirty"],
      { cwd: Deno.cwd(), env: { ...env, DENO_DIR: `${home}/publisher` } },
    );
    expect(
      published.code === 0 && registry.published.length === 1,
      `deno publish to the loopback registry: ${
        registry.published[0] ?? "nothing published"
      }`,
      published,
    );

    const server = await startServer(user, env);
    try {
      console.log(
        `ok: deno run -N ${PACKAGE}/server serves on 127.0.0.1, HTTP ${server.httpPort}, echo ${server.echoPort}`,
      );
      const echo = await run(
        [
          "run",
          "-N",
          `${PACKAGE}/client`,
          "--port",
          String(server.echoPort),
          "Halo server!",
        ],
        { cwd: user, env },
      );
      // Its stderr has Deno's download lines: the user's first run.
      expect(
        echo.code === 0 && echo.stdout.trim() === "Halo server!",
        `deno run -N ${PACKAGE}/client --port ${server.echoPort} "Halo server!" prints the echo`,
        echo,
      );
      const greet = await run(
        [
          "run",
          "-N",
          `${PACKAGE}/client`,
          "greet",
          "Budi",
          "--url",
          `http://127.0.0.1:${server.httpPort}/`,
        ],
        { cwd: user, env },
      );
      expect(
        greet.code === 0 && greet.stdout.includes("Budi"),
        `deno run -N ${PACKAGE}/client greet Budi --url ... greets`,
        greet,
      );
    } finally {
      server.child.kill("SIGTERM");
      const status = await exitOrKill(server.child, 10_000);
      expect(
        status.code === 0,
        "the server from JSR stops on SIGTERM with exit 0",
        server.output(),
      );
    }

    const added = await run(["add", PACKAGE], { cwd: user, env });
    expect(added.code === 0, `deno add ${PACKAGE}`, added);
    await Deno.writeTextFile(
      `${user}/main.ts`,
      [
        'import { createGreetingHandler } from "@learn/server-client";',
        "const greet = createGreetingHandler();",
        'console.log(await greet(new Request("http://localhost/?name=JSR")).text());',
        "",
      ].join("\n"),
    );
    const script = await run(["run", "main.ts"], { cwd: user, env });
    expect(
      script.code === 0 && script.stdout.includes("JSR"),
      "a three-line script importing createGreetingHandler from the added package runs",
      script,
    );
  } finally {
    await Deno.remove(home, { recursive: true });
  }
}

if (import.meta.main) {
  // The stand-ins are needed only where jsr.io is unreachable.
  const [standIns] = Deno.args;
  const limit = setTimeout(() => {
    console.log(`jsr e2e: FAIL: not done after ${TIME_LIMIT_MS / 1000} s`);
    Deno.exit(1);
  }, TIME_LIMIT_MS);
  try {
    await main(standIns);
    console.log("jsr e2e: PASS");
  } catch (error) {
    console.log(
      `jsr e2e: FAIL: ${error instanceof Error ? error.message : error}`,
    );
    Deno.exitCode = 1;
  } finally {
    clearTimeout(limit);
  }
}
