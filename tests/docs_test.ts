// The README and docs/ keep their word: links lead to files that exist, the
// README's code prints what its comments say, the guide's code excerpts are
// the example files' own code, every task they name exists, and every message
// they quote from the programs or the library is one the code prints.

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

/**
 * The messages the programs and the library can print: each string and
 * template literal in their code as a pattern, a `${...}` matching anything.
 * Literals with little fixed text (`${program}: ${message}`) would match any
 * line, so they are left out. `passThrough` marks a literal that ends with a
 * `${...}`, such as `Cannot listen on ${address}: ${error.message}`: it quotes
 * another error's message.
 */
function messagePatterns(): { pattern: RegExp; passThrough: boolean }[] {
  const files = [
    "server.ts",
    "client.ts",
    ...[...Deno.readDirSync(projectPath("src"))]
      .filter((entry) => entry.name.endsWith(".ts"))
      .map((entry) => `src/${entry.name}`),
  ];
  const patterns: { pattern: RegExp; passThrough: boolean }[] = [];
  const add = (parts: string[]) => {
    if (parts.join("").replaceAll(" ", "").length < 12) return;
    const escaped = parts.map((part) =>
      part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
    );
    patterns.push({
      pattern: new RegExp(`^${escaped.join("([^]*?)")}$`),
      passThrough: parts.length > 1 && parts.at(-1) === "",
    });
  };
  const plugin: Deno.lint.Plugin = {
    name: "docs-test",
    rules: {
      "messages": {
        create: () => ({
          TemplateLiteral(node) {
            add(node.quasis.map((quasi) => quasi.cooked ?? quasi.raw));
          },
          Literal(node) {
            if (typeof node.value === "string") add([node.value]);
          },
        }),
      },
    },
  };
  for (const file of files) Deno.lint.runPlugin(plugin, file, read(file));
  return patterns;
}

/**
 * The messages the docs quote: lines of `text` blocks and code spans that
 * start with a program's name or read `Cannot ...`, without the docs' own
 * trailing note (`   (examples/socket_client.ts)`).
 */
function quotedMessages(markdown: string): string[] {
  const lines = [
    // Fences may be indented, inside a list item.
    ...[...markdown.matchAll(/^ *```text\n([\s\S]*?)^ *```$/gm)]
      .flatMap((match) => match[1]!.split("\n").map((line) => line.trim())),
    ...[...markdown.replace(/^```[\s\S]*?^```$/gm, "").matchAll(/`([^`\n]+)`/g)]
      .map((match) => match[1]!),
  ];
  const messages: string[] = [];
  for (const line of lines) {
    const text = line.replace(/ {3,}\(.*\)$/, "");
    const message = /^(?:server|client)\.ts: .*/.exec(text)?.[0] ??
      /^(?:error: Uncaught \(in promise\) )?(?:\w+: )?(Cannot .*)/.exec(text)
        ?.[1];
    if (message !== undefined) messages.push(message);
  }
  return messages;
}

Deno.test("every message the docs quote from the programs or the library is one their code prints", () => {
  const patterns = messagePatterns();
  // A message quoting another error (Deno's, shown as the docs write it, or
  // "...") must end in one of ours, or be that other error only: otherwise
  // `Cannot listen on ${address}: ${error.message}` would vouch for any
  // wording of the specific messages beside it.
  const printed = (message: string): boolean =>
    patterns.some(({ pattern, passThrough }) => {
      const match = pattern.exec(message);
      if (match === null) return false;
      if (!passThrough) return true;
      const quoted = match.at(-1)!;
      if (quoted === "..." || !/[a-z] [a-z]/i.test(quoted)) return true;
      for (let i = 0; i < quoted.length; i++) {
        if (
          patterns.some((other) =>
            !other.passThrough && other.pattern.test(quoted.slice(i))
          )
        ) return true;
      }
      return false;
    });
  let checked = 0;
  for (const doc of DOCS) {
    for (const message of quotedMessages(read(doc))) {
      const bare = message.replace(/^(?:server|client)\.ts: /, "");
      assert(
        printed(message) || printed(bare),
        `${doc} quotes a message no code prints: ${message}`,
      );
      checked++;
    }
  }
  assert(checked >= 20, `only ${checked} messages found`);
});
