/**
 * `deno publish --dry-run` for CI: the slow-types check, the package's file
 * list and the type check of what JSR would receive.
 *
 * Where JSR is reachable it runs as is. Where it is not, publishing cannot
 * resolve `jsr:@std/...`, so this serves the offline stand-ins (the folder
 * given as the first argument) as a registry on loopback (.ci/jsr_registry.ts)
 * and points `JSR_URL` at it. Nothing is uploaded either way.
 *
 * Usage: deno run -A .ci/publish_dry_run.ts ../shared/std-offline
 */

import { jsrReachable, startRegistry } from "./jsr_registry.ts";

async function publishDryRun(
  env: Record<string, string> = {},
): Promise<number> {
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: ["publish", "--dry-run", "--allow-dirty", "--no-lock"],
    env,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  return code;
}

async function main(standIns: string | undefined): Promise<number> {
  if (await jsrReachable()) return await publishDryRun();
  console.error(
    `JSR unreachable: publishing against the stand-ins in ${standIns}`,
  );
  await using registry = await startRegistry(standIns);
  return await publishDryRun({ JSR_URL: registry.env.JSR_URL });
}

Deno.exit(await main(Deno.args[0]));
