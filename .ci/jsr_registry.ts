/**
 * A JSR registry on loopback, for CI where jsr.io is unreachable: it serves
 * the offline `@std` stand-ins as packages, and takes real `deno publish`
 * uploads (the very tarball JSR would receive, specifiers already rewritten),
 * so a published package can then be run and added as a JSR user would.
 *
 * Deno talks to it through `JSR_URL` (downloads: `meta.json`,
 * `<version>_meta.json` with the file manifest and exports, the files) and
 * `JSR_API_URL` (publishing). Nothing leaves 127.0.0.1.
 *
 * Packages it was not given come from jsr.io where that is reachable (so a
 * fresh cache fills from the real registry), else from the stand-ins. As a
 * program it runs one command with those variables set, and exits with the
 * command's status:
 *
 *   deno run -A .ci/jsr_registry.ts ../shared/std-offline -- deno task test
 *
 * @module
 */

/** One published version: its files by path (`/mod.ts`) and exports. */
interface PackageVersion {
  files: Map<string, Uint8Array<ArrayBuffer>>;
  exports: Record<string, string>;
}

/** A running registry: pass `env` to the deno processes that should use it. */
export interface Registry extends AsyncDisposable {
  /** `JSR_URL` and `JSR_API_URL` pointing at this registry. */
  env: { JSR_URL: string; JSR_API_URL: string };
  /** Packages published to it, as `@scope/name@version`. */
  published: string[];
  /** Where the other packages come from: jsr.io or the stand-ins. */
  source: string;
}

/**
 * The `@std` versions a project asks for, `{ "http": "1.1.0" }` from
 * `"@std/http": "jsr:@std/http@^1.1.0"`: the lowest its range allows.
 */
export function stdVersions(
  imports: Record<string, string>,
): Map<string, string> {
  const versions = new Map<string, string>();
  for (const target of Object.values(imports)) {
    const match = target.match(/^jsr:@std\/([\w-]+)@\D*(\d+\.\d+\.\d+)/);
    if (match) versions.set(match[1]!, match[2]!);
  }
  return versions;
}

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, "0"))
    .join("");
}

/** The stand-ins as `@std` packages, each file under every export of it. */
async function standInPackages(
  standIns: string,
  versions: Map<string, string>,
): Promise<Map<string, Map<string, PackageVersion>>> {
  const map: Record<string, string> = JSON.parse(
    await Deno.readTextFile(`${standIns}/import_map.json`),
  ).imports;
  const packages = new Map<string, Map<string, PackageVersion>>();
  for (const [name, version] of versions) {
    const prefix = `@std/${name}`;
    const pkg: PackageVersion = { files: new Map(), exports: {} };
    for (const [specifier, file] of Object.entries(map)) {
      const subpath = specifier.slice(prefix.length);
      if (!specifier.startsWith(prefix) || !/^(\/|$)/.test(subpath)) continue;
      pkg.exports[`.${subpath}`] = file;
      pkg.files.set(file.slice(1), await Deno.readFile(`${standIns}/${file}`));
    }
    packages.set(prefix, new Map([[version, pkg]]));
  }
  return packages;
}

/** The files of a `deno publish` upload: a gzipped ustar archive. */
async function untar(
  gzipped: Uint8Array<ArrayBuffer>,
): Promise<Map<string, Uint8Array<ArrayBuffer>>> {
  const tar = new Uint8Array(
    await new Response(
      new Blob([gzipped]).stream().pipeThrough(
        new DecompressionStream("gzip"),
      ),
    ).arrayBuffer(),
  );
  const text = (start: number, length: number) =>
    new TextDecoder().decode(tar.subarray(start, start + length)).replace(
      /\0.*$/s,
      "",
    );
  const files = new Map<string, Uint8Array<ArrayBuffer>>();
  for (let offset = 0; offset + 512 <= tar.length;) {
    const name = text(offset, 100);
    if (name === "") break;
    const size = parseInt(text(offset + 124, 12).trim() || "0", 8);
    const prefix = text(offset + 345, 155);
    const type = text(offset + 156, 1);
    const path = (prefix ? `${prefix}/${name}` : name).replace(/^\/?/, "/");
    if (type === "0" || type === "") {
      files.set(path, tar.slice(offset + 512, offset + 512 + size));
    }
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}

const CONTENT_TYPES: Record<string, string> = {
  ts: "application/typescript",
  js: "text/javascript",
  json: "application/json",
  md: "text/markdown",
};

/** jsr.io, where it is reachable. */
export const JSR = "https://jsr.io/";

/** Whether jsr.io answers within 3 seconds. */
export async function jsrReachable(): Promise<boolean> {
  try {
    const response = await fetch(`${JSR}@std/assert/meta.json`, {
      signal: AbortSignal.timeout(3_000),
    });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}

/**
 * Starts the registry on 127.0.0.1. Packages not published to it come from
 * jsr.io where that is reachable, else the `@std` packages the project in the
 * current folder uses are served from the stand-ins in `standIns`.
 */
export async function startRegistry(
  standIns: string | undefined,
): Promise<Registry> {
  const upstream = await jsrReachable() ? JSR : undefined;
  if (upstream === undefined && standIns === undefined) {
    throw new Error("JSR is unreachable and no stand-in folder was given");
  }
  const packages = upstream === undefined
    ? await standInPackages(standIns!, await projectStdVersions())
    : new Map<string, Map<string, PackageVersion>>();
  const published: string[] = [];
  const tasks = new Map<string, Record<string, string>>();

  async function publish(
    url: URL,
    scope: string,
    name: string,
    version: string,
    body: Uint8Array<ArrayBuffer>,
  ): Promise<Response> {
    const files = await untar(body);
    const configPath = url.searchParams.get("config") ?? "/deno.json";
    const config = files.get(configPath);
    if (config === undefined) {
      return Response.json(
        { code: "missingConfigFile", message: `no ${configPath}` },
        { status: 400 },
      );
    }
    const declared = JSON.parse(new TextDecoder().decode(config)).exports;
    const exports = typeof declared === "string" ? { ".": declared } : declared;
    const key = `@${scope}/${name}`;
    if (!packages.has(key)) packages.set(key, new Map());
    packages.get(key)!.set(version, { files, exports });
    published.push(`${key}@${version}`);
    const id = crypto.randomUUID();
    const task = {
      id,
      status: "success",
      packageScope: scope,
      packageName: name,
      packageVersion: version,
    };
    tasks.set(id, task);
    return Response.json(task);
  }

  async function handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const path = decodeURIComponent(url.pathname);
    const api = path.match(
      /^\/api\/scopes\/([\w-]+)\/packages\/([\w-]+)(?:\/versions\/([^/]+))?$/,
    );
    if (api) {
      const [, scope, name, version] = api;
      if (request.method === "POST" && version !== undefined) {
        return await publish(
          url,
          scope!,
          name!,
          version,
          new Uint8Array(await request.arrayBuffer()),
        );
      }
      // Every package may be published here, as if its scope and package
      // had been created on jsr.io beforehand.
      if (version === undefined) return Response.json({ scope, name });
      if (packages.get(`@${scope}/${name}`)?.has(version)) {
        return Response.json({ scope, name, version });
      }
      return Response.json({ code: "packageVersionNotFound" }, {
        status: 404,
      });
    }
    const status = path.match(/^\/api\/publish_status\/([\w-]+)$/);
    if (status) {
      const task = tasks.get(status[1]!);
      return task
        ? Response.json(task)
        : Response.json({ code: "notFound" }, { status: 404 });
    }

    const download = path.match(
      /^\/(@[\w-]+\/[\w-]+)\/(meta\.json|([^/]+)_meta\.json|([^/]+)(\/.+))$/,
    );
    const versionsOf = download && packages.get(download[1]!);
    if (download && !versionsOf && upstream !== undefined) {
      const response = await fetch(new URL(path.slice(1), upstream));
      return new Response(response.body, {
        status: response.status,
        headers: {
          "content-type": response.headers.get("content-type") ??
            "application/octet-stream",
        },
      });
    }
    if (!download || !versionsOf) {
      return new Response(null, { status: 404 });
    }
    const [, key, , metaVersion, fileVersion, filePath] = download;
    if (download[2] === "meta.json") {
      const [scope, name] = key!.slice(1).split("/");
      const all = [...versionsOf.keys()];
      return Response.json({
        scope,
        name,
        latest: all.at(-1),
        versions: Object.fromEntries(all.map((version) => [version, {}])),
      });
    }
    if (metaVersion !== undefined) {
      const pkg = versionsOf.get(metaVersion);
      if (!pkg) return new Response(null, { status: 404 });
      const manifest: Record<string, { size: number; checksum: string }> = {};
      for (const [file, bytes] of pkg.files) {
        manifest[file] = {
          size: bytes.length,
          checksum: `sha256-${await sha256(bytes)}`,
        };
      }
      return Response.json({ manifest, exports: pkg.exports });
    }
    const bytes = versionsOf.get(fileVersion!)?.files.get(filePath!);
    if (bytes === undefined) return new Response(null, { status: 404 });
    const extension = filePath!.slice(filePath!.lastIndexOf(".") + 1);
    return new Response(bytes, {
      headers: {
        "content-type": CONTENT_TYPES[extension] ?? "application/octet-stream",
      },
    });
  }

  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    handle,
  );
  const base = `http://127.0.0.1:${server.addr.port}/`;
  return {
    env: { JSR_URL: base, JSR_API_URL: `${base}api/` },
    published,
    source: upstream ?? `the stand-ins in ${standIns}`,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

/** The `@std` versions of the project in the current folder. */
export async function projectStdVersions(): Promise<Map<string, string>> {
  const config = JSON.parse(await Deno.readTextFile("deno.json"));
  return stdVersions(config.imports ?? {});
}

async function main(args: string[]): Promise<number> {
  const separator = args.indexOf("--");
  const [standIns] = args;
  const command = args.slice(separator + 1);
  if (separator !== 1 || standIns === undefined || command.length === 0) {
    console.error(
      "Usage: deno run -A .ci/jsr_registry.ts <std-offline folder> -- <command...>",
    );
    return 2;
  }
  await using registry = await startRegistry(standIns);
  console.error(
    `jsr_registry: a registry at ${registry.env.JSR_URL} (packages from ${registry.source})`,
  );
  const { code } = await new Deno.Command(command[0]!, {
    args: command.slice(1),
    env: registry.env,
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  return code;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
