import { assert, assertEquals, assertLess } from "@std/assert";
import {
  escapeLogText,
  formatConnectionLog,
  formatRequestLog,
  LogBuffer,
  MAX_LOGGED_TEXT,
} from "../src/log.ts";
import { createGreetingHandler, type RequestLogEntry } from "../mod.ts";

Deno.test("formatRequestLog and formatConnectionLog stamp each line with the current time, to the millisecond", async () => {
  const info = {
    remoteAddr: { transport: "tcp" as const, hostname: "127.0.0.1", port: 1 },
    bytesIn: 1,
    bytesOut: 1,
    durationMs: 1,
    reason: "closed" as const,
  };
  const entry = {
    request: new Request("http://localhost/"),
    status: 200,
    bodyBytes: 0,
    durationMs: 1,
  };
  const stamps = new Set<string>();
  // The stamp's text is kept for a millisecond: lines after a pause must not
  // get an old one.
  for (let i = 0; i < 5; i++) {
    const before = Date.now();
    const lines = [formatConnectionLog(info), formatRequestLog(entry)];
    const after = Date.now();
    for (const line of lines) {
      const stamp = line.slice(0, line.indexOf(" "));
      const ms = Date.parse(stamp);
      assert(
        before <= ms && ms <= after,
        `${stamp} not in [${before}, ${after}]`,
      );
      stamps.add(stamp);
    }
    await new Promise((resolve) => setTimeout(resolve, 3));
  }
  assert(stamps.size >= 5);
  const given = new Date(Date.UTC(2020, 0, 2, 3, 4, 5, 6));
  assert(
    formatRequestLog(entry, given).startsWith("2020-01-02T03:04:05.006Z "),
  );
});

Deno.test("escapeLogText escapes bidi controls, so a message cannot reorder its line", () => {
  for (
    const code of [
      0x202a,
      0x202b,
      0x202c,
      0x202d,
      0x202e,
      0x2066,
      0x2067,
      0x2068,
      0x2069,
      0x061c,
      0x200e,
      0x200f,
    ]
  ) {
    const char = String.fromCharCode(code);
    assertEquals(
      escapeLogText(`a${char}b`),
      `a\\u${code.toString(16).padStart(4, "0")}b`,
    );
  }
});

Deno.test("escapeLogText escapes invisible characters", () => {
  assertEquals(
    escapeLogText("a\u200bb\u200cc\u200dd"),
    "a\\u200bb\\u200cc\\u200dd",
  );
  assertEquals(escapeLogText("\ufeffx"), "\\ufeffx");
  assertEquals(escapeLogText("x\u180ey"), "x\\u180ey");
  assertEquals(escapeLogText("x\u2060y\u2064"), "x\\u2060y\\u2064");
  assertEquals(escapeLogText("soft\u00adhyphen"), "soft\\xadhyphen");
  assertEquals(
    escapeLogText("\u3164\u115f\u1160\uffa0"),
    "\\u3164\\u115f\\u1160\\uffa0",
  );
  // Tag characters (U+E0000 block) hide text in what looks like an emoji.
  assertEquals(escapeLogText("🏴\u{e0067}\u{e007f}"), "🏴\\u{e0067}\\u{e007f}");
  // A lone surrogate is shown, not turned into U+FFFD on output.
  assertEquals(escapeLogText("a\ud800b\udc00"), "a\\ud800b\\udc00");
});

Deno.test("escapeLogText still escapes controls, quotes and backslashes, and keeps ordinary text", () => {
  assertEquals(
    escapeLogText('q"\\\n\r\t\x00\x1b\x7f\x85\u2028\u2029'),
    'q\\"\\\\\\n\\r\\t\\x00\\x1b\\x7f\\x85\\u2028\\u2029',
  );
  const ordinary = "Halo, dunia! Ñoño 日本語 😀 مرحبا שלום नमस्ते ‘quotes’ – é";
  assertEquals(escapeLogText(ordinary), ordinary);
});

Deno.test("escapeLogText never cuts a surrogate pair in half", () => {
  const emoji = "😀".repeat(150); // 300 code units
  const cut = escapeLogText(emoji);
  assertEquals(cut, `${"😀".repeat(100)}…`);
  const odd = `x${emoji}`; // the 200th unit is the first half of a pair
  assertEquals(escapeLogText(odd), `x${"😀".repeat(99)}…`);
  assertEquals(escapeLogText("😀😀", 1), "…");
  assertEquals(escapeLogText("a😀", 2), "a…");
  assertEquals(
    escapeLogText("x".repeat(MAX_LOGGED_TEXT)),
    "x".repeat(MAX_LOGGED_TEXT),
  );
});

Deno.test("formatConnectionLog escapes a reply-mode message's bidi characters", () => {
  const line = formatConnectionLog({
    remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 50000 },
    bytesIn: 6,
    bytesOut: 6,
    durationMs: 1,
    reason: "closed",
    message: "a\u202eb\u2066c",
  });
  assert(line.endsWith(' message="a\\u202eb\\u2066c"'), line);
});

Deno.test("escapeLogText escapes format characters at the cost of control characters", () => {
  const median = (text: string) => {
    const times: number[] = [];
    for (let round = -1; round < 7; round++) {
      const start = performance.now();
      for (let call = 0; call < 3; call++) escapeLogText(text, Infinity);
      if (round >= 0) times.push(performance.now() - start);
    }
    return times.sort((a, b) => a - b)[3]!;
  };
  const size = 32 * 1024;
  // ESC was always escaped, one short string per character, in linear time.
  const control = median("\x1b".repeat(size));
  for (const hostile of ["\u202e", "\u200b", "\ud800", "\u{e0041}", "😀"]) {
    let ratio = Infinity;
    for (let attempt = 0; attempt < 3 && ratio >= 10; attempt++) {
      ratio = median(hostile.repeat(size / hostile.length)) / control;
    }
    assertLess(ratio, 10, `${JSON.stringify(hostile)}: ${ratio.toFixed(1)}x`);
  }
});

// The access line as a plain string template: what LogBuffer's byte writer
// must produce.
function modelRequestLine(entry: RequestLogEntry, now: Date): string {
  const addr = entry.remoteAddr as Deno.NetAddr | undefined;
  const where = addr === undefined
    ? "-"
    : addr.hostname.includes(":") && !addr.hostname.startsWith("[")
    ? `[${addr.hostname}]:${addr.port}`
    : `${addr.hostname}:${addr.port}`;
  const url = new URL(entry.request.url);
  const target = entry.request.url.slice(
    entry.request.url.indexOf("/", url.protocol.length + 2),
  );
  const ms = entry.durationMs < 10
    ? entry.durationMs.toFixed(2)
    : entry.durationMs.toFixed(1);
  return `${now.toISOString()} ${where} ${
    escapeLogText(entry.request.method, 20)
  } ${escapeLogText(target)} ${entry.status} ${entry.bodyBytes}B ${ms}ms`;
}

Deno.test("formatRequestLog writes each part of the line as the string format says, escaped and cut", () => {
  const now = new Date(Date.UTC(2026, 11, 1, 23, 59, 59, 999));
  const targets = [
    "/",
    "/?name=Budi",
    "/?name=%F0%9F%98%80&x=%22",
    `/${"a".repeat(MAX_LOGGED_TEXT - 1)}`,
    `/${"a".repeat(MAX_LOGGED_TEXT)}`,
    `/${"a".repeat(MAX_LOGGED_TEXT * 10)}`,
  ];
  const methods = ["GET", "HEAD", "PROPFIND", "X".repeat(20), "Y".repeat(21)];
  const hosts = [
    { transport: "tcp" as const, hostname: "127.0.0.1", port: 0 },
    { transport: "tcp" as const, hostname: "::1", port: 65535 },
    { transport: "tcp" as const, hostname: "[::1]", port: 8000 },
    undefined,
  ];
  const durations = [0, 0.004, 0.005, 1.235, 9.994, 9.996, 10, 99.95, 12345.67];
  const sizes = [0, 9, 10, 12, 1_000_000, Number.MAX_SAFE_INTEGER];
  let checked = 0;
  for (const target of targets) {
    for (const method of methods) {
      for (const remoteAddr of hosts) {
        const entry: RequestLogEntry = {
          request: new Request(`http://localhost:8000${target}`, { method }),
          status: 200 + (checked % 400),
          bodyBytes: sizes[checked % sizes.length]!,
          durationMs: durations[checked % durations.length]!,
        };
        if (remoteAddr !== undefined) entry.remoteAddr = remoteAddr;
        assertEquals(
          formatRequestLog(entry, now),
          modelRequestLine(entry, now),
        );
        checked++;
      }
    }
  }
  // A request with text to escape: the method as sent, the target escaped.
  const odd: RequestLogEntry = {
    request: new Request("http://localhost/"),
    status: 404,
    bodyBytes: 10,
    durationMs: 0.5,
  };
  Object.defineProperty(odd.request, "url", {
    value: 'http://localhost/"\\\u202e\x1b😀é',
  });
  Object.defineProperty(odd.request, "method", { value: "G\nET" });
  assertEquals(formatRequestLog(odd, now), modelRequestLine(odd, now));
  assert(
    formatRequestLog(odd, now).endsWith(
      ' G\\nET /\\"\\\\\\u202e\\x1b😀é 404 10B 0.50ms',
    ),
    formatRequestLog(odd, now),
  );
});

Deno.test("LogBuffer appends whole lines only, and refuses what does not fit", () => {
  const entry: RequestLogEntry = {
    request: new Request("http://localhost/?name=Budi"),
    status: 200,
    bodyBytes: 12,
    durationMs: 0.25,
    remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 50000 },
  };
  const now = new Date();
  const line = `${formatRequestLog(entry, now)}\n`;
  const size = new TextEncoder().encode(line).length;
  const batch = new LogBuffer(size * 2 + 5);
  assert(batch.appendRequest(entry, now));
  assert(batch.appendRequest(entry, now));
  assertEquals(batch.length, size * 2);
  assert(!batch.appendRequest(entry, now));
  assert(!batch.appendLine("é".repeat(3)));
  assertEquals(batch.length, size * 2);
  assert(batch.appendLine("é"));
  const text = new TextDecoder().decode(batch.bytes());
  assertEquals(text.split("\n"), [
    line.slice(0, -1),
    line.slice(0, -1),
    "é",
    "",
  ]);
  batch.clear();
  assertEquals(batch.bytes().length, 0);
  assert(batch.appendLine("after clear"));
});

Deno.test("formatRequestLog stamps the greeting handler's line with the time the request ended, without reading the clock again", async () => {
  const lines: string[] = [];
  const greet = createGreetingHandler({
    onRequest: (entry) => lines.push(formatRequestLog(entry)),
  });
  for (let i = 0; i < 5; i++) {
    const before = Date.now();
    greet(new Request(`http://localhost/?name=n${i}`));
    const after = Date.now();
    const stamp = lines.at(-1)!.slice(0, lines.at(-1)!.indexOf(" "));
    const ms = Date.parse(stamp);
    assert(
      before <= ms && ms <= after,
      `${stamp} not in [${before}, ${after}]`,
    );
    assert(lines.at(-1)!.includes(` GET /?name=n${i} 200 `), lines.at(-1));
    await new Promise((resolve) => setTimeout(resolve, 3));
  }
});
