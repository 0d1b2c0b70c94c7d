/**
 * `deno publish --dry-run` for CI: the slow-types check, the package's file
 * list and the type check of what JSR would receive.
 *
 * Where JSR is reachable it runs as is. Where it is not, publishing cannot
 * resolve `jsr:@std/...`, so this serves the offline stand-ins (the folder
 * given as the first argument) as a registry on loopback and points
 * `JSR_URL` at it, each package at the lowest version its `deno.json` range
 * allows. Nothing is uploaded either way.
 *
 * Usage: deno run -A .ci/publish_dry_run.ts ../shared/std-offline
 */

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

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, "0"))
    .join("");
}

/** `{ "http": "1.1.0" }` from `"@std/http": "jsr:@std/http@^1.1.0"`. */
function stdVersions(imports: Record<string, string>): Map<string, string> {
  const versions = new Map<string, string>();
  for (const target of Object.values(imports)) {
    const match = target.match(/^jsr:@std\/([\w-]+)@\D*(\d+\.\d+\.\d+)/);
    if (match) versions.set(match[1]!, match[2]!);
  }
  return versions;
}

/** The registry's answer for `path`, built from the stand-ins' import map. */
async function registryResponse(
  path: string,
  standIns: string,
  versions: Map<string, string>,
  standInMap: Record<string, string>,
): Promise<Response> {
  const packageMeta = path.match(/^\/@std\/([\w-]+)\/meta\.json$/);
  if (packageMeta) {
    const version = versions.get(packageMeta[1]!);
    if (version === undefined) return new Response(null, { status: 404 });
    return Response.json({
      scope: "std",
      name: packageMeta[1],
      latest: version,
      versions: { [version]: {} },
    });
  }
  const versionMeta = path.match(/^\/@std\/([\w-]+)\/[\d.]+_meta\.json$/);
  if (versionMeta) {
    const prefix = `@std/${versionMeta[1]}`;
    const exports: Record<string, string> = {};
    const manifest: Record<string, { size: number; checksum: string }> = {};
    for (const [specifier, file] of Object.entries(standInMap)) {
      const subpath = specifier.slice(prefix.length);
      if (!specifier.startsWith(prefix) || !/^(\/|$)/.test(subpath)) continue;
      exports[`.${subpath}`] = file;
      const bytes = await Deno.readFile(`${standIns}/${file}`);
      manifest[file.slice(1)] = {
        size: bytes.length,
        checksum: `sha256-${await sha256(bytes)}`,
      };
    }
    return Response.json({ manifest, exports });
  }
  const file = path.match(/^\/@std\/[\w-]+\/[\d.]+\/([\w-]+\.ts)$/);
  if (file) {
    return new Response(await Deno.readFile(`${standIns}/${file[1]}`), {
      headers: { "content-type": "application/typescript" },
    });
  }
  return new Response(null, { status: 404 });
}

async function main(standIns: string | undefined): Promise<number> {
  if (await jsrReachable()) return await publishDryRun();
  if (standIns === undefined) {
    console.error("JSR is unreachable and no stand-in folder was given");
    return 2;
  }
  const config = JSON.parse(await Deno.readTextFile("deno.json"));
  const versions = stdVersions(config.imports ?? {});
  const standInMap: Record<string, string> = JSON.parse(
    await Deno.readTextFile(`${standIns}/import_map.json`),
  ).imports;
  console.error(
    `JSR unreachable: publishing against the stand-ins in ${standIns}`,
  );
  await using registry = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request) =>
      registryResponse(
        new URL(request.url).pathname,
        standIns,
        versions,
        standInMap,
      ),
  );
  return await publishDryRun({
    JSR_URL: `http://127.0.0.1:${registry.addr.port}/`,
  });
}

Deno.exit(await main(Deno.args[0]));
