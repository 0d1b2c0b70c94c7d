// The load generators of bench/load.ts: wrk for HTTP, in-process TCP clients
// for the one-shot, single-stream and idle-memory cases, and a native client
// (bench/native/echo_load.c) for the 64-stream case. Every reply is checked,
// so a server that answers wrongly fails the run instead of winning.

import { writeAll } from "../src/_net.ts";
import { delay, LOOPBACK as HOST, projectPath } from "../_tools/subprocess.ts";
import { pinnedCommand } from "./_servers.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** What one wrk run measured. */
export interface WrkResult {
  requests: number;
  requestsPerSecond: number;
  p99Ms: number;
}

/** Whether `wrk` can be run. */
export async function hasWrk(): Promise<boolean> {
  try {
    await new Deno.Command("wrk", {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    }).output();
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

const LATENCY_UNITS_MS: Record<string, number> = {
  us: 0.001,
  ms: 1,
  s: 1000,
  m: 60_000,
};

/**
 * Runs wrk with one thread and `connections` keep-alive connections against
 * `url` for `seconds`, and reads req/s and the 99th percentile latency.
 */
export async function runWrk(
  url: string,
  seconds: number,
  connections: number,
  core: string | undefined,
): Promise<WrkResult> {
  const [program, args] = pinnedCommand(core, "wrk", [
    "-t1",
    `-c${connections}`,
    `-d${seconds}s`,
    "--latency",
    url,
  ]);
  const output = await new Deno.Command(program, {
    args,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = decoder.decode(output.stdout);
  if (!output.success) {
    throw new Error(`wrk failed: ${decoder.decode(output.stderr)}${text}`);
  }
  const bad = text.match(/Non-2xx or 3xx responses: (\d+)/);
  if (bad) throw new Error(`${bad[1]} non-2xx answers from ${url}:\n${text}`);
  const count = text.match(/(\d+) requests in/);
  const rate = text.match(/Requests\/sec:\s+([\d.]+)/);
  const p99 = text.match(/^\s+99%\s+([\d.]+)(us|ms|s|m)$/m);
  if (!count || !rate || !p99) {
    throw new Error(`unexpected wrk output:\n${text}`);
  }
  return {
    requests: Number(count[1]),
    requestsPerSecond: Number(rate[1]),
    p99Ms: Number(p99[1]) * LATENCY_UNITS_MS[p99[2]!]!,
  };
}

/** Fetches `url` once and fails unless the answer is `200` with `body`. */
export async function checkHttp(url: string, body: string): Promise<void> {
  const response = await fetch(url);
  const text = await response.text();
  if (response.status !== 200 || text !== body) {
    throw new Error(
      `${url} answered ${response.status} ${JSON.stringify(text)}`,
    );
  }
}

/** What a run of one-shot TCP exchanges measured. */
export interface OneShotResult {
  exchanges: number;
  exchangesPerSecond: number;
  p50Ms: number;
  p99Ms: number;
}

function percentile(sorted: Float64Array, fraction: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[
    Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))
  ]!;
}

/**
 * The seed's client pattern, `concurrency` clients at a time for `seconds`:
 * connect, send `message`, read the reply to the end, close. Each reply must
 * equal `expected`.
 */
export async function runOneShot(
  port: number,
  seconds: number,
  concurrency: number,
  message: string,
  expected: string,
): Promise<OneShotResult> {
  const request = encoder.encode(message);
  const latencies: number[] = [];
  const start = performance.now();
  const deadline = start + seconds * 1000;
  const client = async () => {
    const buffer = new Uint8Array(1024);
    while (performance.now() < deadline) {
      const began = performance.now();
      const conn = await Deno.connect({ hostname: HOST, port });
      let length = 0;
      try {
        await writeAll(conn, request);
        while (length < buffer.length) {
          const n = await conn.read(buffer.subarray(length));
          if (n === null) break;
          length += n;
        }
      } finally {
        conn.close();
      }
      const reply = decoder.decode(buffer.subarray(0, length));
      if (reply !== expected) {
        throw new Error(`expected ${JSON.stringify(expected)}, got ${reply}`);
      }
      latencies.push(performance.now() - began);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, client));
  const elapsed = (performance.now() - start) / 1000;
  const sorted = Float64Array.from(latencies).sort();
  return {
    exchanges: latencies.length,
    exchangesPerSecond: latencies.length / elapsed,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
  };
}

// The streamed bytes: a pattern whose period is a multiple of 4 and not of the
// chunk size, so byte offsets shift from chunk to chunk, and whose copy past
// the period lets any chunk be one subarray. Checking it a 32-bit word at a
// time keeps the client's check several times faster than the echo it checks.
const CHUNK = 64 * 1024;
const PERIOD = CHUNK * 3 - 4;
const PATTERN = new Uint8Array(PERIOD + CHUNK + 4);
for (let i = 0; i < PATTERN.length; i++) {
  const x = i % PERIOD;
  PATTERN[i] = (x * 31 + (x >>> 8)) & 0xff;
}
const PATTERN_WORDS = new Uint32Array(PATTERN.buffer, 0, PATTERN.length >>> 2);

/**
 * Whether `bytes[from, to)` holds the pattern, where `bytes[0]` is the
 * pattern at stream offset `base` (a multiple of 4, as is `bytes`' offset in
 * its buffer, so the middle is compared in words).
 */
function matchesPattern(
  bytes: Uint8Array,
  words: Uint32Array,
  from: number,
  to: number,
  base: number,
): boolean {
  const at = base % PERIOD;
  let i = from;
  for (; i < to && (i & 3) !== 0; i++) {
    if (bytes[i] !== PATTERN[at + i]) return false;
  }
  const wordsEnd = to >>> 2;
  const wordsAt = at >>> 2;
  for (let w = i >>> 2; w < wordsEnd; w++) {
    if (words[w] !== PATTERN_WORDS[wordsAt + w]) return false;
  }
  for (i = Math.max(i, wordsEnd << 2); i < to; i++) {
    if (bytes[i] !== PATTERN[at + i]) return false;
  }
  return true;
}

async function streamOne(
  port: number,
  deadline: number,
): Promise<number> {
  const conn = await Deno.connect({ hostname: HOST, port });
  try {
    let sent = 0;
    const send = async () => {
      while (performance.now() < deadline) {
        const at = sent % PERIOD;
        await writeAll(conn, PATTERN.subarray(at, at + CHUNK));
        sent += CHUNK;
      }
      await conn.closeWrite();
    };
    const receive = async () => {
      const buffer = new Uint8Array(CHUNK + 4);
      const words = new Uint32Array(buffer.buffer);
      let received = 0;
      while (true) {
        // Reading at the stream offset's remainder keeps words aligned.
        const skew = received & 3;
        const n = await conn.read(buffer.subarray(skew));
        if (n === null) return received;
        if (!matchesPattern(buffer, words, skew, skew + n, received - skew)) {
          throw new Error(`echoed bytes differ near offset ${received}`);
        }
        received += n;
      }
    };
    const [, received] = await Promise.all([send(), receive()]);
    if (received !== sent) {
      throw new Error(`sent ${sent} bytes but ${received} came back`);
    }
    return received;
  } finally {
    conn.close();
  }
}

/** What a streaming run measured. */
export interface StreamingResult {
  bytes: number;
  /** Megabytes (10^6 bytes) echoed per second. */
  megabytesPerSecond: number;
}

/**
 * Streams the pattern through `connections` echo connections for `seconds`
 * and checks every byte that comes back.
 */
export async function runStreaming(
  port: number,
  seconds: number,
  connections: number,
): Promise<StreamingResult> {
  const start = performance.now();
  const deadline = start + seconds * 1000;
  const totals = await Promise.all(
    Array.from({ length: connections }, () => streamOne(port, deadline)),
  );
  const elapsed = (performance.now() - start) / 1000;
  const bytes = totals.reduce((a, b) => a + b, 0);
  return { bytes, megabytesPerSecond: bytes / elapsed / 1e6 };
}

/**
 * Compiles bench/native/echo_load.c with the first of `cc` and `gcc` found,
 * into a temporary folder (removed by the caller). Returns the program's path,
 * or `undefined` where there is no C compiler.
 */
export async function buildNativeClient(dir: string): Promise<
  string | undefined
> {
  const program = `${dir}/echo_load`;
  for (const compiler of ["cc", "gcc"]) {
    let output: Deno.CommandOutput;
    try {
      output = await new Deno.Command(compiler, {
        args: ["-O2", "-o", program, projectPath("bench/native/echo_load.c")],
        stdout: "piped",
        stderr: "piped",
      }).output();
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) continue;
      throw error;
    }
    // A compiler that is there but fails is a broken bench, not a missing tool.
    if (!output.success) {
      throw new Error(
        `${compiler} could not build bench/native/echo_load.c:\n${
          decoder.decode(output.stderr)
        }`,
      );
    }
    return program;
  }
  return undefined;
}

/**
 * Streams through `connections` echo connections from the native client
 * (`program`, from {@linkcode buildNativeClient}) pinned to `core`: each sends
 * `bytes` of the pattern, half-closes and reads it all back, every byte
 * checked. Runs it again until `seconds` have passed (at least once) and adds
 * up bytes and time.
 */
export async function runNativeStreaming(
  program: string,
  port: number,
  seconds: number,
  connections: number,
  bytes: number,
  core: string | undefined,
): Promise<StreamingResult> {
  let total = 0;
  let elapsed = 0;
  do {
    const [command, args] = pinnedCommand(core, program, [
      HOST,
      String(port),
      String(connections),
      String(bytes),
      "120",
    ]);
    const output = await new Deno.Command(command, {
      args,
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!output.success) {
      throw new Error(
        `the native echo client failed: ${decoder.decode(output.stderr)}`,
      );
    }
    const result = JSON.parse(decoder.decode(output.stdout)) as {
      bytes: number;
      seconds: number;
    };
    total += result.bytes;
    elapsed += result.seconds;
  } while (elapsed < seconds);
  return { bytes: total, megabytesPerSecond: total / elapsed / 1e6 };
}

/** Opens `count` echo connections, each after one round trip. */
async function openIdle(port: number, count: number): Promise<Deno.Conn[]> {
  const conns: Deno.Conn[] = [];
  const ping = encoder.encode("x");
  try {
    // In batches, so the server's accept backlog never overflows.
    for (let opened = 0; opened < count; opened += 100) {
      const batch = Math.min(100, count - opened);
      await Promise.all(Array.from({ length: batch }, async () => {
        const conn = await Deno.connect({ hostname: HOST, port });
        conns.push(conn);
        await writeAll(conn, ping);
        if ((await conn.read(new Uint8Array(1))) !== 1) {
          throw new Error("an idle connection got no echo");
        }
      }));
    }
    return conns;
  } catch (error) {
    for (const conn of conns) conn.close();
    throw error;
  }
}

/**
 * The server's resident memory per idle echo connection, in KiB: the RSS
 * growth from opening `count` connections that each made one round trip and
 * then wait. A first batch opened and closed beforehand warms up the code paths
 * so that compiling them is not counted.
 */
export async function measureIdleMemory(
  port: number,
  rssKiB: () => Promise<number>,
  count: number,
): Promise<number> {
  for (const conn of await openIdle(port, Math.min(count, 200))) conn.close();
  await delay(300);
  const before = await rssKiB();
  const conns = await openIdle(port, count);
  try {
    await delay(500);
    const after = await rssKiB();
    return (after - before) / count;
  } finally {
    for (const conn of conns) conn.close();
  }
}

/** Average times per call (ns) from `deno bench --json` output, by name. */
export function parseBenchJson(json: string): Map<string, number> {
  const report = JSON.parse(json) as {
    benches: {
      name: string;
      results: { ok?: { avg: number } }[];
    }[];
  };
  const times = new Map<string, number>();
  for (const bench of report.benches) {
    const ok = bench.results[0]?.ok;
    if (ok === undefined) throw new Error(`bench "${bench.name}" failed`);
    times.set(bench.name, ok.avg);
  }
  return times;
}
