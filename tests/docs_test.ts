// The README and docs/ keep their word: links lead to files that exist, the
// README's code prints what its comments say, the guide's code excerpts are
// the example files' own code, and every task they name exists.

import { assert, assertEquals } from "@std/assert";
import { projectPath, runDeno } from "./_helpers.ts";

const DOCS = [
  "README.md",
  ...[...Deno.readDirSync(projectPath("docs"))]
    .filter((entry) => entry.name.endsWith(".md"))
    .map((entry) => `docs/${entry.name}`),
  "docs/id/README.md",
];

function read(path: string): string {
  return Deno.readTextFileSync(projectPath(path));
}

/** The fenced code blocks of `markdown` whose info string is `info`. */
function codeBlocks(markdown: string, info: string): string[] {
  const fence = new RegExp("^```" + info + "\\n([\\s\\S]*?)^```$", "gm");
  return [...markdown.matchAll(fence)].map((match) => match[1]!);
}

/** The anchors GitHub gives the headings of `markdown`. */
function anchors(markdown: string): Set<string> {
  const headings = markdown.replace(/^```[\s\S]*?^```$/gm, "")
    .matchAll(/^#+ (.*)$/gm);
  return new Set(
    [...headings].map(([, text]) =>
      text!.toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, "").replaceAll(" ", "-")
    ),
  );
}

Deno.test("every relative link in README.md and docs/ leads to a file and heading that exist", () => {
  for (const doc of DOCS) {
    const base = new URL(doc, new URL("../", import.meta.url));
    for (const [, target] of read(doc).matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target!)) continue;
      const [path, anchor] = target!.split("#");
      const file = path === "" ? base : new URL(path!, base);
      assert(
        Deno.statSync(file).isFile,
        `${doc} links to ${target}, not a file`,
      );
      if (anchor !== undefined) {
        assert(
          anchors(Deno.readTextFileSync(file)).has(anchor),
          `${doc} links to ${target}, not a heading`,
        );
      }
    }
  }
});

Deno.test("every file path the docs name in backticks exists", () => {
  for (const doc of DOCS) {
    for (
      const [, path] of read(doc).matchAll(
        /`(?:deno (?:run|serve)[^`]*? )?((?:examples|tests|bench|docs)\/[\w/.-]+\.(?:ts|md|py))/g,
      )
    ) {
      assert(Deno.statSync(projectPath(path!)).isFile, `${doc} names ${path}`);
    }
  }
});

Deno.test("every `deno task` the docs name is in deno.json", () => {
  const { tasks } = JSON.parse(read("deno.json"));
  for (const doc of DOCS) {
    for (const [, task] of read(doc).matchAll(/deno task ([\w:]+)/g)) {
      assert(task! in tasks, `${doc} names the task ${task}`);
    }
  }
});

Deno.test("the README's code examples print what their comments say", async () => {
  const blocks = codeBlocks(read("README.md"), "ts");
  assert(blocks.length >= 3);
  for (const code of blocks) {
    const expected = [...code.matchAll(/console\.log\(.*\); \/\/ (.*)$/gm)]
      .map((match) => match[1] + "\n").join("");
    // Run inside the project, where `@learn/server-client` names this package.
    const file = await Deno.makeTempFile({
      dir: projectPath("."),
      prefix: ".readme-example-",
      suffix: ".ts",
    });
    try {
      await Deno.writeTextFile(file, code);
      const result = await runDeno(
        ["-N"],
        file.slice(file.lastIndexOf("/") + 1),
      );
      // stderr may hold Deno's `Download ...` lines on a fresh machine.
      assertEquals(result.code, 0, `${code}\n${result.stderr}`);
      assertEquals(result.stdout, expected, code);
    } finally {
      await Deno.remove(file);
    }
  }
});

Deno.test("the guide's code excerpts are the example files' own code", () => {
  const guide = read("docs/id/README.md");
  const excerpts = [
    ...guide.matchAll(/<!-- file: (\S+) -->\n\n```ts ignore\n([\s\S]*?)```/g),
  ];
  assertEquals(excerpts.length, 3);
  for (const [, file, code] of excerpts) {
    assert(read(file!).includes(code!), `${file} no longer contains:\n${code}`);
  }
});
