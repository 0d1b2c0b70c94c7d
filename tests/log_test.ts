import { assert, assertEquals, assertLess } from "@std/assert";
import {
  escapeLogText,
  formatConnectionLog,
  formatRequestLog,
  MAX_LOGGED_TEXT,
} from "../src/log.ts";

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
