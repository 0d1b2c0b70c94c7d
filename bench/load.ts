// The load benchmark: the library's servers against the bare Deno code a user
// would otherwise write, side by side in one run, with the floors of issues 5
// and 13.
//
//   deno task bench [--smoke]
//
// Where JSR is unreachable, serve the @std stand-ins as a registry around it:
//   deno run -A .ci/jsr_registry.ts ../shared/std-offline -- deno task bench
//
// Every server runs as its own subprocess on a loopback port picked by the
// system, pinned to one core while this process and wrk load it from another.
// Each round starts every server of a comparison in turn (the order reversed
// every other round), warms it up, measures it and stops it; the tables show
// medians over the rounds and the spread. `--smoke` is one short round per case
// so CI can check that the harness still runs; its numbers mean little.

import {
  buildNativeClient,
  checkHttp,
  hasWrk,
  measureIdleMemory,
  parseBenchJson,
  runNativeStreaming,
  runOneShot,
  runStreaming,
  runWrk,
} from "./_drivers.ts";
import {
  pinCores,
  pinnedCommand,
  ServerProcess,
  type ServerSpec,
} from "./_servers.ts";
import { parseArgs } from "@std/cli/parse-args";
import { type ChartRow, renderChart } from "./chart.ts";
import { denoArgs, projectPath } from "../_tools/subprocess.ts";

const CASES = ["micro", "http", "one-shot", "streaming", "memory"] as const;
type Case = typeof CASES[number];

const USAGE =
  `Usage: deno task bench [--smoke] [--rounds N] [--only CASE,...] [--chart FILE]

Benchmarks server.ts (HTTP greeting, TCP reply and echo) against bare Deno
servers and prints the medians, the ratios and whether each floor is met.

  --smoke         one round of about a second per case, to check the harness
                  (CI); without wrk it skips the HTTP load cases and says so
  --rounds N      rounds of each comparison (default 3, smoke 1)
  --only CASES    run only these, comma-separated: ${CASES.join(", ")}
  --chart FILE    where to write the SVG chart of the ratios (default
                  bench/RESULTS.svg; with --smoke, a temporary file)
  --help          show this help`;

interface Settings {
  smoke: boolean;
  cases: Set<Case>;
  rounds: number;
  seconds: number;
  warmupSeconds: number;
  idleConnections: number;
  /** Bytes each of the 64 streams of the native client sends. */
  streamBytes: number;
  /** Where the chart goes; by default bench/RESULTS.svg, or a temporary file for --smoke. */
  chart: string | undefined;
}

function parseSettings(argv: string[]): Settings | "help" {
  const args = parseArgs(argv, {
    boolean: ["smoke", "help"],
    string: ["rounds", "only", "chart"],
    alias: { h: "help" },
    unknown: (arg) => {
      throw new UsageError(`unknown argument: ${arg}`);
    },
  });
  if (args.help) return "help";
  const smoke = args.smoke;
  let rounds = smoke ? 1 : 3;
  if (args.rounds !== undefined) {
    rounds = Number(args.rounds);
    if (!Number.isInteger(rounds) || rounds < 1 || rounds > 20) {
      throw new UsageError("--rounds needs a whole number from 1 to 20");
    }
  }
  let cases = new Set<Case>(CASES);
  if (args.only !== undefined) {
    const names = args.only.split(",");
    const unknown = names.find((name) =>
      !(CASES as readonly string[]).includes(name)
    );
    if (unknown !== undefined) {
      throw new UsageError(`--only: unknown case "${unknown}"`);
    }
    cases = new Set(names as Case[]);
  }
  return {
    smoke,
    cases,
    rounds,
    seconds: smoke ? 1 : 5,
    warmupSeconds: smoke ? 0 : 1,
    idleConnections: 1000,
    streamBytes: (smoke ? 1 : 16) * 1024 * 1024,
    chart: args.chart,
  };
}

class UsageError extends Error {}

// The seed's socket exchange.
const MESSAGE = "Halo server!";
const REPLY = "Pesan diterima server";
const CONCURRENCY = 64;
const GREETING_QUERY = "/?name=Budi";
const GREETING_BODY = "Hello, Budi!";

const LOOPBACK = ["--hostname", "127.0.0.1"];
const HTTP_ONLY = [...LOOPBACK, "--http-port", "0", "--no-echo"];
const TCP_ONLY = [...LOOPBACK, "--echo-port", "0", "--no-http"];

const LIB_HTTP: ServerSpec = {
  label: "server.ts --quiet",
  script: "server.ts",
  args: [...HTTP_ONLY, "--quiet"],
  stderr: "piped",
};
const LIB_HTTP_LOGGED: ServerSpec = {
  label: "server.ts, logging on (stderr to /dev/null)",
  script: "server.ts",
  args: HTTP_ONLY,
  stderr: "null",
};
const BARE_GREETING: ServerSpec = {
  label: "bare Deno.serve greeting",
  script: "bench/bare_http_greeting.ts",
  args: [],
  stderr: "piped",
};
const BARE_GREETING_LOGGED: ServerSpec = {
  label: "bare Deno.serve greeting, access log on (stderr to /dev/null)",
  script: "bench/bare_http_greeting.ts",
  args: ["log"],
  stderr: "null",
};
const BARE_FLOOR: ServerSpec = {
  label: "bare Deno.serve fixed Response",
  script: "bench/bare_http_floor.ts",
  args: [],
  stderr: "piped",
};
const BARE_ACCEPT: ServerSpec = {
  label: "bare fixed greeting after reading Accept",
  script: "bench/bare_http_accept.ts",
  args: [],
  stderr: "piped",
};
const BARE_ACCEPT_URL: ServerSpec = {
  label: "bare fixed greeting after reading Accept, method and URL",
  script: "bench/bare_http_accept.ts",
  args: ["url"],
  stderr: "piped",
};
const LIB_REPLY: ServerSpec = {
  label: "server.ts --reply --quiet",
  script: "server.ts",
  args: [...TCP_ONLY, "--reply", REPLY, "--quiet"],
  stderr: "piped",
};
const BARE_REPLY: ServerSpec = {
  label: "bare Deno.listen reply loop",
  script: "bench/bare_tcp_reply.ts",
  args: [REPLY],
  stderr: "piped",
};
const BARE_REPLY_DRAIN: ServerSpec = {
  label: "bare reply loop that also drains before closing",
  script: "bench/bare_tcp_reply.ts",
  args: [REPLY, "drain"],
  stderr: "piped",
};
const LIB_ECHO: ServerSpec = {
  label: "server.ts echo --quiet",
  script: "server.ts",
  args: [...TCP_ONLY, "--quiet"],
  stderr: "piped",
};
const BARE_LOOP: ServerSpec = {
  label: "bare read/write loop, 64 KiB buffer",
  script: "bench/bare_echo_loop.ts",
  args: ["65536"],
  stderr: "piped",
};
const BARE_PIPE: ServerSpec = {
  label: "bare readable.pipeTo(writable)",
  script: "bench/bare_echo_pipe.ts",
  args: [],
  stderr: "piped",
};
const BARE_SMALL: ServerSpec = {
  label: "bare read/write loop, 2 KiB buffer",
  script: "bench/bare_echo_loop.ts",
  args: ["2048"],
  stderr: "piped",
};

// Server CPU time per unit of work: steadier than throughput on a shared
// machine (other processes delay the server but do not add to its CPU time),
// so its ratios are shown as evidence beside the throughput floors.
const HTTP_CPU = "HTTP server CPU per request";
const ONE_SHOT_CPU = "TCP one-shot server CPU per exchange";
const echoCpu = (name: string) => `TCP echo server CPU per MB, ${name}`;
// The 64 streams come from the native client where a C compiler exists: a Deno
// client competes with the server for the same runtime costs (and the one
// core) and held the server below full speed. Its figures get their own names,
// so they are never compared with the Deno client's.
const STREAMS = 64;
const NATIVE = "native client";

const MICRO_BASELINE = "bare: new URL + searchParams.get + fixed Response";
const MICRO_CASES = ["html", "json", "404", "HEAD"];

/** Samples per metric and server, one per round. */
class Samples {
  readonly #values = new Map<string, number[]>();
  readonly metrics: { metric: string; unit: string; label: string }[] = [];

  add(metric: string, unit: string, label: string, value: number): void {
    const key = `${metric}\0${label}`;
    let values = this.#values.get(key);
    if (values === undefined) {
      values = [];
      this.#values.set(key, values);
      this.metrics.push({ metric, unit, label });
    }
    values.push(value);
  }

  get(metric: string, label: string): number[] {
    return this.#values.get(`${metric}\0${label}`) ?? [];
  }
}

function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? sorted[mid]!
    : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function format(value: number): string {
  if (!Number.isFinite(value)) return "n/a";
  const abs = Math.abs(value);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  return value.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

/** A comparison with its floor: `at least` (higher is better) or `at most`. */
interface Check {
  name: string;
  metric: string;
  library: string;
  baseline: string | undefined;
  bound: "at least" | "at most" | undefined;
  limit: number;
}

// Other work on the machine is what makes absolute numbers drift.
function loadAverage(): string {
  return Deno.loadavg().map((load) => load.toFixed(2)).join(", ");
}

/** Runs `work` and also returns the server CPU seconds it took. */
async function withCpu<T>(
  server: ServerProcess,
  work: () => Promise<T>,
): Promise<[T, number]> {
  const before = await server.cpuSeconds();
  const result = await work();
  return [result, await server.cpuSeconds() - before];
}

async function runRounds(
  settings: Settings,
  core: string | undefined,
  specs: ServerSpec[],
  measure: (server: ServerProcess) => Promise<void>,
): Promise<void> {
  for (let round = 0; round < settings.rounds; round++) {
    // Alternating the order keeps drift over the run (other load on the
    // machine, heat) from favouring whoever always goes first.
    const order = round % 2 === 0 ? specs : [...specs].reverse();
    for (const spec of order) {
      await using server = await ServerProcess.start(spec, core);
      await measure(server);
    }
  }
}

/** What every part of a run shares. */
interface Run {
  settings: Settings;
  samples: Samples;
  serverCore: string | undefined;
  loadCore: string | undefined;
  /** The native echo client's path, if it could be built. */
  nativeClient: string | undefined;
}

/** The name of a streaming case's figures: connections and, if so, the driver. */
function streamCase(connections: number, native: boolean): string {
  return native ? `${connections} conn, ${NATIVE}` : `${connections} conn`;
}

/** Handler micro-benchmarks, through `deno bench` as a user would run them. */
async function runMicro({ samples, serverCore }: Run): Promise<void> {
  console.log("- handler micro-benchmarks (deno bench)");
  const [program, args] = pinnedCommand(
    serverCore,
    Deno.execPath(),
    denoArgs("bench", ["--json"], "bench/greeting_bench.ts"),
  );
  const output = await new Deno.Command(program, {
    args,
    cwd: projectPath("."),
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new Error(
      `deno bench failed:\n${new TextDecoder().decode(output.stderr)}`,
    );
  }
  const times = parseBenchJson(new TextDecoder().decode(output.stdout));
  for (const [name, ns] of times) {
    samples.add("handler time per request", "ns", name, ns);
  }
}

const HTTP_SPECS = [
  LIB_HTTP,
  LIB_HTTP_LOGGED,
  BARE_GREETING,
  BARE_GREETING_LOGGED,
  BARE_ACCEPT,
  BARE_ACCEPT_URL,
  BARE_FLOOR,
];

async function runHttp(run: Run, wrk: boolean): Promise<void> {
  const { settings, samples, serverCore, loadCore } = run;
  const expected = (spec: ServerSpec) =>
    spec === BARE_FLOOR ? "Hello, world!" : GREETING_BODY;
  if (!wrk) {
    // CI machines may lack wrk, and installing packages is not the
    // benchmark's business; the servers still start and answer correctly.
    console.log(
      "- HTTP: SKIPPED the wrk load cases: wrk is not installed " +
        "(`sudo apt-get install wrk`); checking each HTTP server answers instead",
    );
    await runRounds(settings, serverCore, HTTP_SPECS, async (server) => {
      const url = `http://127.0.0.1:${server.port}${GREETING_QUERY}`;
      await checkHttp(url, expected(server.spec));
    });
    return;
  }
  console.log(`- HTTP: wrk, ${CONCURRENCY} keep-alive connections`);
  await runRounds(settings, serverCore, HTTP_SPECS, async (server) => {
    const url = `http://127.0.0.1:${server.port}${GREETING_QUERY}`;
    await checkHttp(url, expected(server.spec));
    if (settings.warmupSeconds > 0) {
      await runWrk(url, settings.warmupSeconds, CONCURRENCY, loadCore);
    }
    const [result, cpu] = await withCpu(
      server,
      () => runWrk(url, settings.seconds, CONCURRENCY, loadCore),
    );
    const { label } = server.spec;
    samples.add("HTTP req/s", "req/s", label, result.requestsPerSecond);
    samples.add("HTTP p99 latency", "ms", label, result.p99Ms);
    samples.add(HTTP_CPU, "µs", label, cpu * 1e6 / result.requests);
  });
}

async function runOneShotCase({ settings, samples, serverCore }: Run) {
  console.log(
    `- TCP one-shot: ${CONCURRENCY} clients, connect, send "${MESSAGE}", ` +
      "read the reply, close",
  );
  const exchange = (port: number, seconds: number) =>
    runOneShot(port, seconds, CONCURRENCY, MESSAGE, REPLY);
  const specs = [LIB_REPLY, BARE_REPLY, BARE_REPLY_DRAIN];
  await runRounds(settings, serverCore, specs, async (server) => {
    if (settings.warmupSeconds > 0) {
      await exchange(server.port, settings.warmupSeconds);
    }
    const [result, cpu] = await withCpu(
      server,
      () => exchange(server.port, settings.seconds),
    );
    const { label } = server.spec;
    samples.add(
      "TCP one-shot exchanges/s",
      "/s",
      label,
      result.exchangesPerSecond,
    );
    samples.add("TCP one-shot p50", "ms", label, result.p50Ms);
    samples.add("TCP one-shot p99", "ms", label, result.p99Ms);
    samples.add(ONE_SHOT_CPU, "µs", label, cpu * 1e6 / result.exchanges);
  });
}

async function runStreamingCase(
  { settings, samples, serverCore, loadCore, nativeClient }: Run,
) {
  const mib = settings.streamBytes / 1024 / 1024;
  console.log(
    "- TCP streaming echo, every byte checked: 1 connection (Deno client), " +
      (nativeClient === undefined
        ? `${STREAMS} connections (Deno client)`
        : `${STREAMS} connections × ${mib} MiB (native client)`),
  );
  if (nativeClient === undefined) {
    console.log(
      "  no C compiler (cc or gcc) to build bench/native/echo_load.c: " +
        `the ${STREAMS} streams come from the Deno client instead`,
    );
  }
  const stream = (port: number, seconds: number, connections: number) =>
    connections === 1 || nativeClient === undefined
      ? runStreaming(port, seconds, connections)
      : runNativeStreaming(
        nativeClient,
        port,
        seconds,
        connections,
        settings.streamBytes,
        loadCore,
      );
  const specs = [LIB_ECHO, BARE_LOOP, BARE_PIPE];
  await runRounds(settings, serverCore, specs, async (server) => {
    if (settings.warmupSeconds > 0) {
      await runStreaming(server.port, settings.warmupSeconds, 4);
    }
    for (const connections of [1, STREAMS]) {
      const [result, cpu] = await withCpu(
        server,
        () => stream(server.port, settings.seconds, connections),
      );
      const name = streamCase(
        connections,
        connections > 1 && nativeClient !== undefined,
      );
      const { label } = server.spec;
      samples.add(
        `TCP echo MB/s, ${name}`,
        "MB/s",
        label,
        result.megabytesPerSecond,
      );
      samples.add(
        echoCpu(name),
        "ms",
        label,
        cpu * 1e3 / (result.bytes / 1e6),
      );
    }
  });
}

async function runMemory({ settings, samples, serverCore }: Run) {
  console.log(
    `- memory: server RSS growth with ${settings.idleConnections} idle ` +
      "echo connections",
  );
  const specs = [LIB_ECHO, BARE_LOOP, BARE_SMALL, BARE_PIPE];
  await runRounds(settings, serverCore, specs, async (server) => {
    const kib = await measureIdleMemory(
      server.port,
      () => server.rssKiB(),
      settings.idleConnections,
    );
    samples.add("RSS per idle connection", "KiB", server.spec.label, kib);
  });
}

async function main(): Promise<number> {
  let settings: Settings | "help";
  try {
    settings = parseSettings(Deno.args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`bench: ${error.message}\n\n${USAGE}`);
    return 2;
  }
  if (settings === "help") {
    console.log(USAGE);
    return 0;
  }

  const wrk = await hasWrk();
  if (!wrk && !settings.smoke && settings.cases.has("http")) {
    console.error(
      "bench: wrk is not installed, and the HTTP load cases need it.\n" +
        "Install it (Debian/Ubuntu: `sudo apt-get install wrk`) and run again," +
        " or run `deno task bench --smoke`, which skips those cases.",
    );
    return 1;
  }
  const pinning = await pinCores();
  const serverCore = pinning?.server;
  const samples = new Samples();
  const started = performance.now();

  console.log(
    `# bench${
      settings.smoke ? " --smoke" : ""
    }: ${settings.rounds} round(s), ` +
      `${settings.seconds} s per measurement after ${settings.warmupSeconds} s` +
      ` of warm-up`,
  );
  console.log(
    `machine: ${navigator.hardwareConcurrency} cores, Deno ${Deno.version.deno}` +
      `, Linux ${Deno.osRelease()}; ${
        pinning
          ? `servers pinned to core ${pinning.server}, load to core ${pinning.load}`
          : "not pinned (no taskset or a single core)"
      }; load average ${loadAverage()}`,
  );

  // Built for this run only, so no binary is kept in the repository.
  const nativeDir = await Deno.makeTempDir({ prefix: "bench-native-" });
  try {
    const run: Run = {
      settings,
      samples,
      serverCore,
      loadCore: pinning?.load,
      nativeClient: settings.cases.has("streaming")
        ? await buildNativeClient(nativeDir)
        : undefined,
    };
    if (settings.cases.has("micro")) await runMicro(run);
    if (settings.cases.has("http")) await runHttp(run, wrk);
    if (settings.cases.has("one-shot")) await runOneShotCase(run);
    if (settings.cases.has("streaming")) await runStreamingCase(run);
    if (settings.cases.has("memory")) await runMemory(run);
  } finally {
    await Deno.remove(nativeDir, { recursive: true });
  }

  const elapsed = (performance.now() - started) / 1000;
  console.log(
    `\nfinished in ${elapsed.toFixed(0)} s; load average ${loadAverage()}\n`,
  );
  printMeasurements(samples);
  const { missed, rows } = printChecks(samples, checks(samples));
  const chart = settings.chart ??
    (settings.smoke
      ? await Deno.makeTempFile({ prefix: "bench-", suffix: ".svg" })
      : projectPath("bench/RESULTS.svg"));
  await Deno.writeTextFile(
    chart,
    renderChart(
      rows,
      `deno task bench${settings.smoke ? " --smoke" : ""}: ${settings.rounds}` +
        ` round(s), library vs bare Deno, side by side`,
    ),
  );
  console.log(`\nchart of the ratios: ${chart}`);
  if (settings.smoke) {
    console.log(
      "\n(smoke run: one short round; the floors above are not meaningful)",
    );
  } else if (missed > 0) {
    console.log(`\n${missed} floor(s) missed`);
  } else {
    console.log("\nall floors met");
  }
  return 0;
}

function printMeasurements(samples: Samples): void {
  console.log("| measurement | server | median | min – max | spread |");
  console.log("| --- | --- | ---: | ---: | ---: |");
  for (const { metric, unit, label } of samples.metrics) {
    const values = samples.get(metric, label);
    const mid = median(values);
    const min = Math.min(...values);
    const max = Math.max(...values);
    const spread = values.length > 1
      ? `±${format(((max - min) / 2 / mid) * 100)}%`
      : "-";
    console.log(
      `| ${metric} | ${label} | ${format(mid)} ${unit} | ${format(min)} – ${
        format(max)
      } | ${spread} |`,
    );
  }
}

function fastest(samples: Samples, metric: string, labels: string[]): string {
  return labels.reduce((best, label) =>
    median(samples.get(metric, label)) > median(samples.get(metric, best))
      ? label
      : best
  );
}

/** A ratio of the library's median to a baseline's, with a floor or none. */
function compare(
  name: string,
  metric: string,
  library: string,
  baseline: string,
  floor?: ["at least" | "at most", number],
): Check {
  return {
    name,
    metric,
    library,
    baseline,
    bound: floor?.[0],
    limit: floor?.[1] ?? NaN,
  };
}

function checks(samples: Samples): Check[] {
  const lib = LIB_HTTP.label;
  const list: Check[] = [
    compare(
      "HTTP req/s: server.ts vs bare greeting",
      "HTTP req/s",
      lib,
      BARE_GREETING.label,
      ["at least", 1.0],
    ),
    compare(
      "HTTP req/s: server.ts vs fixed-Response floor",
      "HTTP req/s",
      lib,
      BARE_FLOOR.label,
      ["at least", 0.75],
    ),
    compare(
      "HTTP p99: server.ts vs bare greeting",
      "HTTP p99 latency",
      lib,
      BARE_GREETING.label,
      ["at most", 1.1],
    ),
    compare(
      "HTTP CPU/request: server.ts vs bare greeting (lower is better)",
      HTTP_CPU,
      lib,
      BARE_GREETING.label,
    ),
    compare(
      "HTTP CPU/request: server.ts vs fixed-Response floor",
      HTTP_CPU,
      lib,
      BARE_FLOOR.label,
    ),
    compare(
      "HTTP req/s: bare fixed greeting after reading Accept vs fixed-Response floor (evidence)",
      "HTTP req/s",
      BARE_ACCEPT.label,
      BARE_FLOOR.label,
    ),
    compare(
      "HTTP req/s: server.ts vs bare fixed greeting after reading Accept",
      "HTTP req/s",
      lib,
      BARE_ACCEPT.label,
    ),
    compare(
      "HTTP CPU/request: server.ts vs bare fixed greeting after reading Accept (lower is better)",
      HTTP_CPU,
      lib,
      BARE_ACCEPT.label,
      ["at most", 1.0],
    ),
    // What reading the method and URL costs by itself, measured on bare Deno:
    // the greeting must, the Accept-only handler does not.
    compare(
      "HTTP CPU/request: bare fixed greeting reading Accept, method and URL vs Accept only (evidence)",
      HTTP_CPU,
      BARE_ACCEPT_URL.label,
      BARE_ACCEPT.label,
    ),
    compare(
      "HTTP CPU/request: server.ts vs bare fixed greeting reading Accept, method and URL (lower is better)",
      HTTP_CPU,
      lib,
      BARE_ACCEPT_URL.label,
    ),
    compare(
      "HTTP req/s: server.ts logging on vs --quiet",
      "HTTP req/s",
      LIB_HTTP_LOGGED.label,
      lib,
      ["at least", 0.92],
    ),
    compare(
      "HTTP CPU/request: server.ts logging on vs --quiet (lower is better)",
      HTTP_CPU,
      LIB_HTTP_LOGGED.label,
      lib,
    ),
    // What an access line per request costs by itself, measured on bare Deno
    // with the same fields and batching.
    compare(
      "HTTP req/s: bare greeting with a batched access log vs without (evidence)",
      "HTTP req/s",
      BARE_GREETING_LOGGED.label,
      BARE_GREETING.label,
    ),
    compare(
      "HTTP CPU/request: bare greeting with a batched access log vs without (evidence)",
      HTTP_CPU,
      BARE_GREETING_LOGGED.label,
      BARE_GREETING.label,
    ),
    compare(
      "HTTP req/s: server.ts logging on vs bare greeting with a batched access log",
      "HTTP req/s",
      LIB_HTTP_LOGGED.label,
      BARE_GREETING_LOGGED.label,
    ),
  ];
  for (const name of MICRO_CASES) {
    list.push(compare(
      `handler time: ${name} vs bare handler`,
      "handler time per request",
      `library: ${name}`,
      MICRO_BASELINE,
      ["at most", 1.5],
    ));
  }
  list.push(
    compare(
      "TCP one-shot exchanges/s: server.ts vs bare",
      "TCP one-shot exchanges/s",
      LIB_REPLY.label,
      BARE_REPLY.label,
      ["at least", 0.9],
    ),
    compare(
      "TCP one-shot p99: server.ts vs bare (lower is better)",
      "TCP one-shot p99",
      LIB_REPLY.label,
      BARE_REPLY.label,
      ["at most", 1.2],
    ),
    compare(
      "TCP one-shot CPU/exchange: server.ts vs bare (lower is better)",
      ONE_SHOT_CPU,
      LIB_REPLY.label,
      BARE_REPLY.label,
      ["at most", 1.05],
    ),
    // What the drain before closing costs by itself, measured on bare Deno.
    compare(
      "TCP one-shot CPU/exchange: bare with drain vs bare (evidence)",
      ONE_SHOT_CPU,
      BARE_REPLY_DRAIN.label,
      BARE_REPLY.label,
    ),
    compare(
      "TCP one-shot p99: bare with drain vs bare (evidence)",
      "TCP one-shot p99",
      BARE_REPLY_DRAIN.label,
      BARE_REPLY.label,
    ),
    compare(
      "TCP one-shot CPU/exchange: server.ts vs bare with drain (lower is better)",
      ONE_SHOT_CPU,
      LIB_REPLY.label,
      BARE_REPLY_DRAIN.label,
    ),
  );
  // Only the 64-stream case that ran (native or Deno client) has samples;
  // printChecks leaves out the other.
  const streamCases = [
    streamCase(1, false),
    streamCase(STREAMS, true),
    streamCase(STREAMS, false),
  ];
  for (const name of streamCases) {
    const metric = `TCP echo MB/s, ${name}`;
    const best = fastest(samples, metric, [BARE_LOOP.label, BARE_PIPE.label]);
    list.push(compare(
      `${metric}: server.ts vs bare 64 KiB loop`,
      metric,
      LIB_ECHO.label,
      BARE_LOOP.label,
      ["at least", 0.95],
    ));
    if (best !== BARE_LOOP.label) {
      list.push(compare(
        `${metric}: server.ts vs fastest bare (${best})`,
        metric,
        LIB_ECHO.label,
        best,
        ["at least", 0.95],
      ));
    }
    list.push(compare(
      `TCP echo CPU/MB, ${name}: server.ts vs bare 64 KiB loop (lower is better)`,
      echoCpu(name),
      LIB_ECHO.label,
      BARE_LOOP.label,
    ));
  }
  list.push({
    name: "RSS per idle connection: server.ts echo, KiB (absolute)",
    metric: "RSS per idle connection",
    library: LIB_ECHO.label,
    baseline: undefined,
    bound: "at most",
    limit: 16,
  });
  return list;
}

/**
 * Prints the ratios and floors; returns how many floors were missed and the
 * ratios as the chart's rows.
 */
function printChecks(
  samples: Samples,
  list: Check[],
): { missed: number; rows: ChartRow[] } {
  let missed = 0;
  const rows: ChartRow[] = [];
  console.log("\n| comparison | ratio (median) | per round | floor | met |");
  console.log("| --- | ---: | ---: | ---: | :---: |");
  for (const check of list) {
    const library = samples.get(check.metric, check.library);
    // Cases left out by --only, or wrk missing.
    if (library.length === 0) continue;
    const baseline = check.baseline === undefined
      ? undefined
      : samples.get(check.metric, check.baseline);
    const value = baseline === undefined
      ? median(library)
      : median(library) / median(baseline);
    // Servers of one comparison ran in the same round, so these ratios are
    // the side-by-side ones.
    const perRound = baseline === undefined || baseline.length < 2
      ? "-"
      : library.map((v, i) => format(v / baseline[i]!)).join(", ");
    let floor = "-";
    let met = "-";
    if (check.bound !== undefined) {
      const ok = check.bound === "at least"
        ? value >= check.limit
        : value <= check.limit;
      floor = `${check.bound === "at least" ? "≥" : "≤"} ${check.limit}${
        baseline === undefined ? "" : "x"
      }`;
      met = ok ? "yes" : "NO";
      if (!ok) missed++;
    }
    if (baseline !== undefined) {
      rows.push({
        name: check.name,
        ratio: value,
        rounds: library.map((v, i) => v / baseline[i]!),
        ...(check.bound === undefined
          ? {}
          : { floor: { bound: check.bound, limit: check.limit } }),
      });
    }
    const shown = baseline === undefined ? format(value) : `${format(value)}x`;
    console.log(
      `| ${check.name} | ${shown} | ${perRound} | ${floor} | ${met} |`,
    );
  }
  return { missed, rows };
}

if (import.meta.main) {
  try {
    Deno.exitCode = await main();
  } catch (error) {
    console.error(
      `bench: ${error instanceof Error ? error.message : String(error)}`,
    );
    Deno.exitCode = 1;
  }
}
