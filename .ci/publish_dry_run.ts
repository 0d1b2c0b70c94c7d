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

import { projectStdVersions, startRegistry } from "./jsr_registry.ts";

const JSR = "https://jsr.io/";
const PROBE_TIMEOUT_MS = 3_000;

async function jsrReachable(): Promise<boolean> {
  try {
    const response = await fetch(`${JSR}@std/assert/meta.json`, {
      signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
    });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}

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
  if (standIns === undefined) {
    console.error("JSR is unreachable and no stand-in folder was given");
    return 2;
  }
  console.error(
    `JSR unreachable: publishing against the stand-ins in ${standIns}`,
  );
  await using registry = await startRegistry(
    standIns,
    await projectStdVersions(),
  );
  return await publishDryRun({ JSR_URL: registry.env.JSR_URL });
}

Deno.exit(await main(Deno.args[0]));
