import { assert, assertAlmostEquals, assertEquals } from "@std/assert";
import {
  axisMax,
  type ChartRow,
  parseComparisons,
  renderChart,
  xOf,
} from "../bench/chart.ts";

const ROWS: ChartRow[] = [
  {
    name: "HTTP req/s: server.ts vs bare greeting",
    ratio: 1.01,
    rounds: [0.847, 0.951, 1.36, 1.05, 1.11],
    floor: { bound: "at least", limit: 1 },
  },
  {
    name: 'TCP one-shot p99 <&> "quoted"',
    ratio: 1.96,
    rounds: [2.14, 1.91, 1.96],
  },
  {
    name: "handler time: html vs bare handler",
    ratio: 0.738,
    rounds: [0.738],
    floor: { bound: "at most", limit: 1.5 },
  },
];

/** Every tag closes in order: the document is well-formed as far as tags go. */
function assertBalanced(svg: string): void {
  const open: string[] = [];
  for (
    const [tag, close, name, selfClosing] of svg.matchAll(
      /<(\/?)([a-z]+)\b[^>]*?(\/?)>/g,
    )
  ) {
    if (close) {
      assertEquals(open.pop(), name, `unexpected ${tag}`);
    } else if (!selfClosing) {
      open.push(name!);
    }
  }
  assertEquals(open, []);
}

function attribute(element: string, name: string): number {
  return Number(element.match(new RegExp(` ${name}="([^"]*)"`))![1]);
}

Deno.test("renderChart() draws a well-formed SVG with one bar per case, each at its ratio", () => {
  const svg = renderChart(ROWS, "title & more");
  assert(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
  assert(svg.trimEnd().endsWith("</svg>"));
  assertBalanced(svg);
  // Text is escaped, so no stray markup.
  assert(svg.includes("title &amp; more"));
  assert(svg.includes("&lt;&amp;&gt; &quot;quoted&quot;"));

  const bars = svg.match(/<rect class="bar"[^>]*>/g) ?? [];
  assertEquals(bars.length, ROWS.length);
  const max = axisMax(ROWS);
  assertEquals(max, 2.5);
  for (const [i, bar] of bars.entries()) {
    const row = ROWS[i]!;
    assertEquals(attribute(bar, "data-ratio"), row.ratio);
    assertAlmostEquals(
      attribute(bar, "x") + attribute(bar, "width"),
      xOf(row.ratio, max),
      0.01,
    );
  }
  // Bars go top to bottom in the order given.
  const ys = bars.map((bar) => attribute(bar, "y"));
  assertEquals(ys, [...ys].sort((a, b) => a - b));
});

Deno.test("renderChart() shows every round, a whisker from min to max, the floors and parity", () => {
  const svg = renderChart(ROWS, "t");
  const max = axisMax(ROWS);
  const groups = svg.split('<g class="case"').slice(1);
  assertEquals(groups.length, ROWS.length);
  for (const [i, group] of groups.entries()) {
    const row = ROWS[i]!;
    const dots = group.match(/<circle class="round"[^>]*>/g) ?? [];
    assertEquals(
      dots.map((dot) => attribute(dot, "cx")),
      row.rounds.map((value) => Math.round(xOf(value, max) * 100) / 100),
    );
    const whisker = group.match(/<line class="whisker"[^>]*>/)?.[0];
    if (row.rounds.length > 1) {
      assertAlmostEquals(
        attribute(whisker!, "x1"),
        xOf(Math.min(...row.rounds), max),
        0.01,
      );
      assertAlmostEquals(
        attribute(whisker!, "x2"),
        xOf(Math.max(...row.rounds), max),
        0.01,
      );
    } else {
      assertEquals(whisker, undefined);
    }
    const floor = group.match(/<line class="floor"[^>]*>/)?.[0];
    if (row.floor) {
      assertAlmostEquals(
        attribute(floor!, "x1"),
        xOf(row.floor.limit, max),
        0.01,
      );
    } else {
      assertEquals(floor, undefined);
    }
  }
  const parity = svg.match(/<line class="parity"[^>]*>/)![0];
  assertAlmostEquals(attribute(parity, "x1"), xOf(1, max), 0.01);
});

Deno.test("parseComparisons() reads the ratio rows of the bench's first comparison table, not the absolute ones or a later run's", () => {
  const table = [
    "| comparison | ratio (median) | per round | floor | met |",
    "| --- | ---: | ---: | ---: | :---: |",
    "| HTTP req/s: server.ts vs bare greeting | 1.01x | 0.847, 0.951, 1.36 | ≥ 1x | yes |",
    "| handler time: html vs bare handler | 0.738x | - | ≤ 1.5x | yes |",
    "| TCP one-shot p99: server.ts vs bare | 1.96x | 2.14, 1.91 | - | - |",
    "| RSS per idle connection: server.ts echo, KiB (absolute) | 11.0 | - | ≤ 16 | yes |",
    "",
    "A later, partial run:",
    "",
    "| comparison | ratio (median) | per round | floor | met |",
    "| HTTP req/s: server.ts vs bare greeting | 0.9x | 0.9 | ≥ 1x | NO |",
  ].join("\n");
  assertEquals(parseComparisons(table), [
    {
      name: "HTTP req/s: server.ts vs bare greeting",
      ratio: 1.01,
      rounds: [0.847, 0.951, 1.36],
      floor: { bound: "at least", limit: 1 },
    },
    {
      name: "handler time: html vs bare handler",
      ratio: 0.738,
      rounds: [0.738],
      floor: { bound: "at most", limit: 1.5 },
    },
    {
      name: "TCP one-shot p99: server.ts vs bare",
      ratio: 1.96,
      rounds: [2.14, 1.91],
    },
  ]);
});

Deno.test("bench/RESULTS.svg has a bar for every ratio in bench/RESULTS.md", async () => {
  // Drawn by `deno task bench` from the run itself, or by bench/chart.ts from the table.
  const markdown = await Deno.readTextFile(
    new URL("../bench/RESULTS.md", import.meta.url),
  );
  const svg = await Deno.readTextFile(
    new URL("../bench/RESULTS.svg", import.meta.url),
  );
  const names = parseComparisons(markdown).map((row) => row.name);
  assert(names.length > 0);
  assertBalanced(svg);
  assertEquals(
    [...svg.matchAll(/<g class="case" data-case="([^"]*)"/g)].map((match) =>
      match[1]!.replace(/&quot;/g, '"').replace(/&lt;/g, "<")
        .replace(/&gt;/g, ">").replace(/&amp;/g, "&")
    ),
    names,
    "regenerate it: deno run --allow-read=bench --allow-write=bench bench/chart.ts",
  );
});

Deno.test("renderChart() leaves room for every comparison name of bench/RESULTS.md", async () => {
  const rows = parseComparisons(
    await Deno.readTextFile(new URL("../bench/RESULTS.md", import.meta.url)),
  );
  const svg = renderChart(rows, "title");
  // Names end at the label column's right edge; 12 px sans-serif text is
  // about 6.5 px a character, so a longer name would start off the picture.
  const labels = [
    ...svg.matchAll(/<text x="([\d.]+)"[^>]*text-anchor="end">/g),
  ];
  assertEquals(labels.length, rows.length);
  const right = Number(labels[0]![1]);
  for (const row of rows) {
    assert(
      row.name.length * 6.5 <= right,
      `too long for ${right} px: ${row.name}`,
    );
  }
});
