// Shared test helpers: spawning this project's programs the way a user runs them, and reading
// their output with bounded waits. They live in _tools/ so the benchmark can use them too.

import { cacheScripts } from "../_tools/subprocess.ts";

export * from "../_tools/subprocess.ts";

// Tests compare a program's stderr exactly, and on a fresh machine a program's first run adds
// Deno's `Download jsr:@std/cli...` lines to it (the test run itself never loads `@std/cli`).
// So whatever a test runs is downloaded here first, once per test file, before any test starts.
function scriptsIn(folder: string): string[] {
  return [...Deno.readDirSync(new URL(`../${folder}`, import.meta.url))]
    .flatMap((entry) =>
      entry.isDirectory
        ? scriptsIn(`${folder}${entry.name}/`)
        : entry.name.endsWith(".ts")
        ? [`${folder}${entry.name}`]
        : []
    );
}

await cacheScripts(["server.ts", "client.ts", ...scriptsIn("examples/")]);
