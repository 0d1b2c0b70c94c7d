// Throwaway TLS material for the TLS tests, made with openssl at test time so
// that no key is ever committed: a CA, a server certificate it signs (valid for
// localhost, 127.0.0.1 and ::1), and a second, unrelated CA for "wrong CA"
// cases. Everything lives in a temporary directory removed on dispose.

import { outputOrKill } from "../_tools/subprocess.ts";

/** The openssl command, 3.0 or newer (for `req -x509 -CA`). */
const OPENSSL = "openssl";

/** PEM texts and the files they are in. */
export interface TestCertificates extends AsyncDisposable {
  /** The temporary directory holding the files. */
  readonly dir: string;
  /** The CA certificate that signed {@linkcode cert}, and its file. */
  readonly ca: string;
  readonly caFile: string;
  /** The CA's private key file: a key that does not match {@linkcode cert}. */
  readonly caKeyFile: string;
  /** The server certificate and its file. */
  readonly cert: string;
  readonly certFile: string;
  /** The server's private key and its file. */
  readonly key: string;
  readonly keyFile: string;
  /** A CA that did not sign {@linkcode cert}, and its file. */
  readonly otherCa: string;
  readonly otherCaFile: string;
}

// P-256 keys: generated in milliseconds, unlike RSA.
const KEY_OPTIONS = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];

/** Runs openssl with `args`, throwing with its stderr if it fails. */
export async function openssl(args: string[]): Promise<void> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(OPENSSL, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Error(
        "the TLS tests make their certificates with openssl 3, which is not on PATH: install it (apt-get install openssl)",
        { cause: error },
      );
    }
    throw error;
  }
  const output = await outputOrKill(child, 15_000);
  if (!output.success) {
    throw new Error(
      `openssl ${args[0]} failed (${output.code}): ${
        new TextDecoder().decode(output.stderr)
      }`,
    );
  }
}

function selfSignedCaArgs(
  name: string,
  keyFile: string,
  certFile: string,
): string[] {
  return [
    "req",
    "-x509",
    "-nodes",
    ...KEY_OPTIONS,
    "-days",
    "1",
    "-subj",
    `/CN=${name}`,
    "-keyout",
    keyFile,
    "-out",
    certFile,
  ];
}

/**
 * Makes a fresh CA, a server certificate signed by it and an unrelated CA in a
 * new temporary directory. Dispose the result to delete them.
 */
export async function makeTestCertificates(): Promise<TestCertificates> {
  const dir = await Deno.makeTempDir({ prefix: "tls_test_" });
  const file = (name: string) => `${dir}/${name}`;
  try {
    await openssl(
      selfSignedCaArgs("throwaway test CA", file("ca-key.pem"), file("ca.pem")),
    );
    await openssl(
      selfSignedCaArgs(
        "unrelated CA",
        file("other-key.pem"),
        file("other.pem"),
      ),
    );
    // The server certificate must not itself be a CA (rustls refuses that) and
    // must name every address the tests connect to.
    await openssl([
      "req",
      "-x509",
      "-CA",
      file("ca.pem"),
      "-CAkey",
      file("ca-key.pem"),
      "-nodes",
      ...KEY_OPTIONS,
      "-days",
      "1",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1",
      "-addext",
      "basicConstraints=critical,CA:FALSE",
      "-addext",
      "extendedKeyUsage=serverAuth",
      "-keyout",
      file("key.pem"),
      "-out",
      file("cert.pem"),
    ]);
    const read = (name: string) => Deno.readTextFile(file(name));
    return {
      dir,
      ca: await read("ca.pem"),
      caFile: file("ca.pem"),
      caKeyFile: file("ca-key.pem"),
      cert: await read("cert.pem"),
      certFile: file("cert.pem"),
      key: await read("key.pem"),
      keyFile: file("key.pem"),
      otherCa: await read("other.pem"),
      otherCaFile: file("other.pem"),
      [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
    };
  } catch (error) {
    await Deno.remove(dir, { recursive: true });
    throw error;
  }
}
