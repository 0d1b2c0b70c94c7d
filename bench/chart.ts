// The benchmark's picture: each comparison's ratio (library ÷ bare, median of
// the rounds) as a bar, every round's ratio as a dot on a min–max whisker so
// the noise shows, a line at 1.0 and each floor as a mark. Plain SVG text, no
// dependencies. bench/load.ts draws it after a run; run as a program it
// redraws bench/RESULTS.svg from the table in bench/RESULTS.md:
//
//   deno run --allow-read=bench --allow-write=bench bench/chart.ts

/** One comparison of the chart. */
export interface ChartRow {
  name: string;
  /** The ratio of the medians. */
  ratio: number;
  /** The ratio in each round (one value when there was one round). */
  rounds: number[];
  /** The floor the ratio must meet, if any. */
  floor?: { bound: "at least" | "at most"; limit: number };
}

const WIDTH = 1240;
// Room for a name of about 105 characters at 12 px (6.5 px each).
const LABEL_WIDTH = 680;
const PLOT_LEFT = LABEL_WIDTH + 10;
const PLOT_RIGHT = WIDTH - 30;
const TOP = 88;
const ROW_HEIGHT = 26;
const BAR_HEIGHT = 12;

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;")
    .replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** Two decimals at most, no trailing zeros: coordinates and labels. */
function num(value: number): string {
  return String(Math.round(value * 100) / 100);
}

/** Whether the row's median meets its floor; `undefined` without one. */
export function meetsFloor(row: ChartRow): boolean | undefined {
  if (row.floor === undefined) return undefined;
  return row.floor.bound === "at least"
    ? row.ratio >= row.floor.limit
    : row.ratio <= row.floor.limit;
}

/** The largest ratio the axis shows: every value fits, in steps of 0.5. */
export function axisMax(rows: ChartRow[]): number {
  const values = rows.flatMap((row) => [
    row.ratio,
    ...row.rounds,
    row.floor?.limit ?? 0,
  ]).filter(Number.isFinite);
  return Math.max(1.5, Math.ceil(Math.max(...values) * 2) / 2);
}

/** The x coordinate of `ratio` on a chart whose axis ends at `max`. */
export function xOf(ratio: number, max: number): number {
  return PLOT_LEFT + (PLOT_RIGHT - PLOT_LEFT) * ratio / max;
}

/** The chart as an SVG document. */
export function renderChart(rows: ChartRow[], title: string): string {
  const max = axisMax(rows);
  const height = TOP + rows.length * ROW_HEIGHT + 40;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
    `<text x="10" y="20" font-size="15" font-weight="bold">${
      escapeXml(title)
    }</text>`,
    `<text x="10" y="40" fill="#444">Bar: the row's first server ÷ its second (mostly library ÷ bare), median of the rounds. Dots and whisker: each round's ratio, min to max.</text>`,
    `<text x="10" y="56" fill="#444">Red mark: the floor; bar green: met, red: missed, blue: no floor.</text>`,
  ];
  const bottom = TOP + rows.length * ROW_HEIGHT;
  for (let tick = 0; tick <= max + 1e-9; tick += 0.5) {
    const x = num(xOf(tick, max));
    out.push(
      `<line x1="${x}" y1="${
        TOP - 6
      }" x2="${x}" y2="${bottom}" stroke="#eee"/>`,
      `<text x="${x}" y="${bottom + 16}" text-anchor="middle" fill="#444">${
        num(tick)
      }</text>`,
    );
  }
  rows.forEach((row, i) => {
    const y = TOP + i * ROW_HEIGHT;
    const middle = y + ROW_HEIGHT / 2;
    const met = meetsFloor(row);
    const color = met === undefined ? "#7a9cc6" : met ? "#4c9a5b" : "#d0573f";
    const finite = row.rounds.filter(Number.isFinite);
    out.push(
      `<g class="case" data-case="${escapeXml(row.name)}">`,
      `<text x="${LABEL_WIDTH}" y="${num(middle + 4)}" text-anchor="end">${
        escapeXml(row.name)
      }</text>`,
      `<rect class="bar" x="${num(PLOT_LEFT)}" y="${
        num(middle - BAR_HEIGHT / 2)
      }" width="${
        num(xOf(row.ratio, max) - PLOT_LEFT)
      }" height="${BAR_HEIGHT}" fill="${color}" data-ratio="${row.ratio}"/>`,
    );
    if (finite.length > 1) {
      const low = num(xOf(Math.min(...finite), max));
      const high = num(xOf(Math.max(...finite), max));
      out.push(
        `<line class="whisker" x1="${low}" y1="${
          num(middle)
        }" x2="${high}" y2="${num(middle)}" stroke="#222"/>`,
        `<line x1="${low}" y1="${num(middle - 5)}" x2="${low}" y2="${
          num(middle + 5)
        }" stroke="#222"/>`,
        `<line x1="${high}" y1="${num(middle - 5)}" x2="${high}" y2="${
          num(middle + 5)
        }" stroke="#222"/>`,
      );
    }
    for (const value of finite) {
      out.push(
        `<circle class="round" cx="${num(xOf(value, max))}" cy="${
          num(middle)
        }" r="2.5" fill="#222" fill-opacity="0.6"/>`,
      );
    }
    if (row.floor !== undefined) {
      const x = num(xOf(row.floor.limit, max));
      out.push(
        `<line class="floor" x1="${x}" y1="${num(y + 3)}" x2="${x}" y2="${
          num(y + ROW_HEIGHT - 3)
        }" stroke="#c00" stroke-width="2.5"/>`,
        `<text x="${x}" y="${num(y + 8)}" dx="4" font-size="9" fill="#c00">${
          row.floor.bound === "at least" ? "≥" : "≤"
        } ${num(row.floor.limit)}</text>`,
      );
    }
    out.push("</g>");
  });
  const one = num(xOf(1, max));
  out.push(
    `<line class="parity" x1="${one}" y1="${
      TOP - 10
    }" x2="${one}" y2="${bottom}" stroke="#000" stroke-dasharray="4 3"/>`,
    `<text x="${one}" y="${TOP - 14}" text-anchor="middle">1.0 = parity</text>`,
    `<text x="${num((PLOT_LEFT + PLOT_RIGHT) / 2)}" y="${
      bottom + 34
    }" text-anchor="middle" fill="#444">ratio (1.0: parity)</text>`,
    "</svg>",
    "",
  );
  return out.join("\n");
}

/**
 * The ratio rows of the first comparison table bench/load.ts prints
 * (`| comparison | ratio (median) | per round | floor | met |`); absolute rows
 * are left out. Tables of later runs (bench/RESULTS.md keeps a partial rerun
 * below the full one) are not drawn: the chart is one run.
 */
export function parseComparisons(markdown: string): ChartRow[] {
  const rows: ChartRow[] = [];
  const number = (text: string) => Number(text.replace(/[,x]/g, ""));
  for (const line of markdown.split("\n")) {
    if (rows.length > 0 && !line.startsWith("|")) break;
    const cells = line.split("|").slice(1, -1).map((cell) => cell.trim());
    if (cells.length !== 5 || !/^[\d.,]+x$/.test(cells[1]!)) continue;
    const [name, ratio, perRound, floor] = cells as [
      string,
      string,
      string,
      string,
    ];
    const row: ChartRow = {
      name,
      ratio: number(ratio),
      rounds: perRound === "-"
        ? [number(ratio)]
        : perRound.split(", ").map(number),
    };
    const bound = floor.match(/^([≥≤]) ([\d.]+)x?$/);
    if (bound) {
      row.floor = {
        bound: bound[1] === "≥" ? "at least" : "at most",
        limit: Number(bound[2]),
      };
    }
    rows.push(row);
  }
  return rows;
}

if (import.meta.main) {
  const results = new URL("RESULTS.md", import.meta.url);
  const rows = parseComparisons(await Deno.readTextFile(results));
  const chart = new URL("RESULTS.svg", import.meta.url);
  await Deno.writeTextFile(
    chart,
    renderChart(rows, "bench/RESULTS.md: library vs bare Deno, side by side"),
  );
  console.log(`${rows.length} comparisons drawn in ${chart.pathname}`);
}
