// The README's way to use this package before it is on JSR: another project
// links a local checkout (`deno link`, which writes `"links"` into its
// deno.json) and imports the package by its name. Run as that project would,
// in an empty folder with a fresh DENO_DIR; where JSR is unreachable (the
// offline stand-ins are in use), `@std` comes from the loopback registry in
// .ci/jsr_registry.ts instead of jsr.io.

import { assertEquals } from "@std/assert";
import { projectPath } from "./_helpers.ts";
import { type Registry, startRegistry } from "../.ci/jsr_registry.ts";

const SCRIPT = `import { createGreetingHandler } from "@learn/server-client";
const greet = createGreetingHandler();
console.log(await greet(new Request("http://localhost/?name=Budi")).text());
`;

/**
 * The loopback registry, when the tests run on the offline stand-ins (when
 * CI runs them under the registry already, `JSR_URL` is inherited instead).
 */
async function offlineRegistry(): Promise<Registry | undefined> {
  const mapPath = Deno.env.get("STD_OFFLINE_IMPORT_MAP");
  if (mapPath === undefined) return undefined;
  const map = JSON.parse(await Deno.readTextFile(mapPath));
  return await startRegistry(new URL(".", map.imports["@std/assert"]).pathname);
}

async function deno(
  args: string[],
  cwd: string,
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    env: { ...env, NO_COLOR: "1" },
    stdin: "null",
    signal: AbortSignal.timeout(60_000),
  }).output();
  return {
    code: output.code,
    stdout: new TextDecoder().decode(output.stdout),
    stderr: new TextDecoder().decode(output.stderr),
  };
}

Deno.test("a project that links a local checkout imports the package by name", async () => {
  await using registry = await offlineRegistry();
  const project = await Deno.makeTempDir({ prefix: "linked-project-" });
  try {
    const env = { ...registry?.env, DENO_DIR: `${project}/.deno-dir` };
    await Deno.writeTextFile(`${project}/deno.json`, "{}\n");
    const link = await deno(["link", projectPath(".")], project, env);
    assertEquals(link.code, 0, link.stderr);
    const config = JSON.parse(await Deno.readTextFile(`${project}/deno.json`));
    assertEquals(config.links.length, 1);

    await Deno.writeTextFile(`${project}/main.ts`, SCRIPT);
    const run = await deno(["run", "-N", "main.ts"], project, env);
    assertEquals(run, {
      code: 0,
      stdout: "Hello, Budi!\n",
      stderr: run.stderr,
    });
  } finally {
    await Deno.remove(project, { recursive: true });
  }
});
