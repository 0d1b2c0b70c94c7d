// TLS on both halves, with a throwaway CA and server certificate made by
// openssl at test time (tests/_tls.ts): the library (startEchoServer with
// cert/key, sendMessage with tls/caCerts, the greeting handler on Deno.serve
// with cert/key) and the executables (server.ts --cert/--key, client.ts --tls
// --ca and greet --ca).

import {
  assert,
  assertEquals,
  assertMatch,
  assertNotEquals,
  assertNotMatch,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import {
  type ConnectionCloseInfo,
  createGreetingHandler,
  sendBytes,
  sendMessage,
  startEchoServer,
} from "../mod.ts";
import { writeAll } from "../src/_net.ts";
import {
  firstDifference,
  LOOPBACK,
  randomBytes,
  readAll,
  waitUntil,
} from "./_echo_helpers.ts";
import { runDeno, Spawned } from "./_helpers.ts";
import {
  makeTestCertificates,
  openssl,
  type TestCertificates,
} from "./_tls.ts";

const encoder = new TextEncoder();
// A TLS record header: content type 21 (alert), then version 3.x.
const TLS_ALERT = [0x15, 0x03];

/** A TLS echo server on loopback that records how its connections ended. */
function startTlsServer(
  tls: { cert: string; key: string },
  options: { reply?: () => string } = {},
) {
  const closed: ConnectionCloseInfo[] = [];
  const errors: unknown[] = [];
  const server = startEchoServer({
    hostname: LOOPBACK,
    port: 0,
    ...tls,
    ...options,
    onConnectionClose: (info) => closed.push(info),
    onError: (error) => errors.push(error),
  });
  return { server, closed, errors };
}

Deno.test("startEchoServer with cert/key echoes to sendMessage/sendBytes over TLS", async () => {
  await using certs = await makeTestCertificates();
  const { server, closed, errors } = startTlsServer(certs);
  await using _ = server;
  const options = { port: server.addr.port, tls: true, caCerts: [certs.ca] };

  assertEquals(await sendMessage("Halo server!", options), "Halo server!");
  // The certificate names localhost as well as 127.0.0.1.
  assertEquals(
    await sendMessage("lewat localhost", { ...options, hostname: "localhost" }),
    "lewat localhost",
  );
  // Megabytes both ways at once: TLS keeps the echo's flow control working.
  const payload = randomBytes(4 * 1024 * 1024);
  const reply = await sendBytes(payload, {
    ...options,
    maxResponseSize: payload.length,
  });
  assertEquals(firstDifference(reply, payload), -1);

  await waitUntil(() => closed.length === 3, "three closed connections");
  assertEquals(closed.map((info) => info.reason), [
    "closed",
    "closed",
    "closed",
  ]);
  // The figures count the decrypted bytes, not the TLS records.
  assertEquals(closed[2]!.bytesIn, payload.length);
  assertEquals(closed[2]!.bytesOut, payload.length);
  assertEquals(errors, []);
});

Deno.test("startEchoServer with cert/key answers in reply mode over TLS", async () => {
  await using certs = await makeTestCertificates();
  const { server, closed } = startTlsServer(certs, {
    reply: () => "Pesan diterima server",
  });
  await using _ = server;
  const answer = await sendMessage("Halo server!", {
    port: server.addr.port,
    tls: true,
    caCerts: [certs.ca],
  });
  assertEquals(answer, "Pesan diterima server");
  await waitUntil(() => closed.length === 1, "the closed connection");
  assertEquals(closed[0]!.message, "Halo server!");
});

Deno.test("the TLS port sends a plain TCP client no plaintext echo", async () => {
  await using certs = await makeTestCertificates();
  const { server, closed, errors } = startTlsServer(certs);
  await using _ = server;
  const message = encoder.encode("Halo server!\n");
  using conn = await Deno.connect({
    hostname: LOOPBACK,
    port: server.addr.port,
  });
  await writeAll(conn, message);
  await conn.closeWrite();
  const reply = await readAll(conn);

  // What comes back is a TLS alert record, not the message.
  assertNotEquals(reply, message);
  assertEquals([...reply.subarray(0, 2)], TLS_ALERT);
  assertEquals(
    new TextDecoder().decode(reply).includes("Halo server!"),
    false,
  );
  await waitUntil(() => closed.length === 1, "the closed connection");
  assertEquals(closed[0]!.reason, "handshake-failed");
  assertEquals(closed[0]!.bytesIn, 0);
  // A client's failed handshake is the client's problem, like a reset.
  assertEquals(errors, []);
  assertEquals(server.stats.openConnections, 0);
});

Deno.test("a TLS client without the CA is refused with a clear error", async () => {
  await using certs = await makeTestCertificates();
  const { server, closed, errors } = startTlsServer(certs);
  await using _ = server;
  const port = server.addr.port;

  // Deno's default roots only: the throwaway CA is unknown.
  const noCa = await assertRejects(
    () => sendMessage("rahasia", { port, tls: true }),
    Deno.errors.InvalidData,
  );
  assertMatch(
    noCa.message,
    new RegExp(
      `^Cannot complete the TLS handshake with 127\\.0\\.0\\.1:${port}: invalid peer certificate: UnknownIssuer`,
    ),
  );
  // A CA, but not the one that signed the certificate.
  await assertRejects(
    () => sendMessage("rahasia", { port, tls: true, caCerts: [certs.otherCa] }),
    Deno.errors.InvalidData,
    "UnknownIssuer",
  );

  await waitUntil(() => closed.length === 2, "the refused connections");
  assert(closed.every((info) => info.reason === "handshake-failed"));
  assert(closed.every((info) => info.bytesIn === 0 && info.bytesOut === 0));
  assertEquals(errors, []);
  // The server still serves a client that trusts it.
  assertEquals(
    await sendMessage("ok", { port, tls: true, caCerts: [certs.ca] }),
    "ok",
  );
});

Deno.test("a TLS client against a plain TCP server fails the handshake clearly", async () => {
  await using certs = await makeTestCertificates();
  await using server = startEchoServer({
    hostname: LOOPBACK,
    port: 0,
    onError: () => {},
  });
  const port = server.addr.port;
  await assertRejects(
    () => sendMessage("Halo", { port, tls: true, caCerts: [certs.ca] }),
    Deno.errors.InvalidData,
    `Cannot complete the TLS handshake with 127.0.0.1:${port}: `,
  );
});

Deno.test("a TLS handshake that never completes ends with the timeout", async () => {
  await using certs = await makeTestCertificates();
  // Accepts and never answers.
  using listener = Deno.listen({ hostname: LOOPBACK, port: 0 });
  const accepted = listener.accept();
  const started = performance.now();
  await assertRejects(
    () =>
      sendMessage("Halo", {
        port: listener.addr.port,
        tls: true,
        caCerts: [certs.ca],
        timeout: 300,
      }),
    Deno.errors.TimedOut,
  );
  const elapsed = performance.now() - started;
  assert(elapsed < 5_000, `took ${elapsed} ms`);
  (await accepted).close();
});

Deno.test("startEchoServer wants both cert and key, as valid PEM", async () => {
  await using certs = await makeTestCertificates();
  const base = { hostname: LOOPBACK, port: 0 };
  assertThrows(
    () => startEchoServer({ ...base, cert: certs.cert }),
    TypeError,
    "TLS needs both `cert` and `key`, but `key` is missing",
  );
  assertThrows(
    () => startEchoServer({ ...base, key: certs.key }),
    TypeError,
    "but `cert` is missing",
  );
  assertThrows(
    () =>
      startEchoServer({ ...base, cert: "not a certificate", key: certs.key }),
    Deno.errors.InvalidData,
    "No certificates found",
  );
  // Swapped: the key where the certificate goes.
  assertThrows(
    () => startEchoServer({ ...base, cert: certs.key, key: certs.cert }),
    Deno.errors.InvalidData,
  );
});

Deno.test("sendMessage rejects caCerts without tls, or that are not PEM", async () => {
  await using certs = await makeTestCertificates();
  // No server is needed: the options are refused before connecting.
  await assertRejects(
    () => sendMessage("x", { port: 1, caCerts: [certs.ca] }),
    TypeError,
    "Cannot send the message: caCerts is only used over TLS: add `tls: true`",
  );
  await assertRejects(
    () =>
      sendMessage("x", { port: 1, tls: true, caCerts: [certs.ca, "ca.pem"] }),
    TypeError,
    'caCerts[1] is not a PEM certificate: no "-----BEGIN CERTIFICATE-----" line',
  );
  // A PEM text not in an array: named, not printed whole over many lines.
  await assertRejects(
    () =>
      sendMessage("x", {
        port: 1,
        tls: true,
        caCerts: certs.ca as unknown as string[],
      }),
    TypeError,
    `Cannot send the message: caCerts must be an array of PEM certificates, got a string of ${certs.ca.length} characters, "-----BEGIN CERTIFICATE-----\\nMI"…`,
  );
  const pem = (body: string) =>
    `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n`;
  const unreadable: [string[], string][] = [
    // Deno skips a block whose BEGIN line is indented (PEM text in an
    // indented template literal): the handshake would fail as if untrusted.
    [
      [certs.ca.replaceAll(/^/gm, "    ")],
      'caCerts[0] is not a PEM certificate: no "-----BEGIN CERTIFICATE-----" line (its BEGIN line is indented: Deno only reads one that starts the line)',
    ],
    // A block cut short, or one that is not base64 or not a certificate: before
    // connecting, in the library's words, not as an untrusted handshake.
    [
      [certs.ca, certs.ca.slice(0, 100)],
      'Cannot send the message: caCerts[1] holds a PEM certificate that cannot be read: section end "-----END CERTIFICATE-----" missing',
    ],
    [
      [pem("not base64!")],
      "caCerts[0] holds a PEM certificate that cannot be read: the text between its BEGIN and END lines is not base64 (InvalidByte(",
    ],
    [
      [pem("QUJDRA==")],
      "caCerts[0] holds a PEM certificate that cannot be read: its base64 text is not a DER certificate (",
    ],
  ];
  for (const [caCerts, message] of unreadable) {
    await assertRejects(
      () => sendMessage("x", { port: 1, tls: true, caCerts }),
      TypeError,
      message,
    );
  }
});

Deno.test("the greeting handler on Deno.serve with cert/key answers fetch over HTTPS", async () => {
  await using certs = await makeTestCertificates();
  await using server = Deno.serve({
    hostname: LOOPBACK,
    port: 0,
    cert: certs.cert,
    key: certs.key,
    onListen: () => {},
  }, createGreetingHandler());
  const url = `https://127.0.0.1:${server.addr.port}/?name=Budi`;

  using client = Deno.createHttpClient({ caCerts: [certs.ca] });
  const response = await fetch(url, { client });
  assertEquals(response.status, 200);
  assertEquals(await response.text(), "Hello, Budi!");

  // Without the CA, fetch refuses the certificate.
  const error = await assertRejects(() => fetch(url), TypeError);
  assertMatch(String(error.cause ?? error), /certificate|UnknownIssuer/i);
  // A plain HTTP request to the HTTPS port gets no greeting.
  const plain = await fetch(`http://127.0.0.1:${server.addr.port}/?name=Budi`)
    .then((response) => response.text(), (error: unknown) => String(error));
  assertNotMatch(plain, /Hello, Budi!/);
});

const HTTPS_LINE =
  /HTTPS greeting server listening on https:\/\/127\.0\.0\.1:(\d+)\//;
const TLS_LINE = /TLS echo server listening on tls:\/\/127\.0\.0\.1:(\d+)/;

/** One line on stderr naming the program, no stack trace. */
function assertOneLineError(stderr: string, program: string): void {
  assertNotMatch(stderr, /\n\s+at /);
  assertMatch(stderr, new RegExp(`^${program.replace(".", "\\.")}: [^\n]+\n`));
}

/** server.ts's flags for both servers on free loopback ports. */
const FREE_PORTS = [
  "--hostname",
  "127.0.0.1",
  "--http-port",
  "0",
  "--echo-port",
  "0",
];

/** server.ts serving HTTPS and TLS with `cert` and `key`, on free ports. */
function spawnTlsServer(
  permissions: string[],
  cert: string,
  key: string,
): Spawned {
  return new Spawned(permissions, "server.ts", [
    ...FREE_PORTS,
    "--cert",
    cert,
    "--key",
    key,
  ]);
}

Deno.test("server.ts --cert/--key serves HTTPS and TLS to client.ts --tls --ca and greet --ca", async () => {
  await using certs = await makeTestCertificates();
  // Read permission for exactly the two files is enough.
  await using server = spawnTlsServer(
    ["-N", `--allow-read=${certs.certFile},${certs.keyFile}`],
    certs.certFile,
    certs.keyFile,
  );
  const httpsPort = (await server.waitFor(HTTPS_LINE))[1]!;
  const tlsPort = (await server.waitFor(TLS_LINE))[1]!;
  const client = (args: string[]) =>
    runDeno(["-N", `--allow-read=${certs.caFile}`], "client.ts", args);

  const echo = await client([
    "--tls",
    "--ca",
    certs.caFile,
    "--port",
    tlsPort,
    "Halo TLS",
  ]);
  // Piped, the reply's bytes exactly as they came.
  assertEquals([echo.code, echo.stdout, echo.stderr], [0, "Halo TLS", ""]);

  const greet = await client([
    "greet",
    "Budi",
    "--url",
    `https://127.0.0.1:${httpsPort}/`,
    "--ca",
    certs.caFile,
  ]);
  assertEquals([greet.code, greet.stdout, greet.stderr], [
    0,
    "Hello, Budi!",
    "",
  ]);

  // Plain HTTP to the HTTPS port: a hint to use https://.
  const greetPlain = await client([
    "greet",
    "--url",
    `http://127.0.0.1:${httpsPort}/`,
  ]);
  assertEquals([greetPlain.code, greetPlain.stdout], [1, ""]);
  assertOneLineError(greetPlain.stderr, "client.ts");
  assertStringIncludes(
    greetPlain.stderr,
    `(the answer is not HTTP: if the server speaks TLS, use https://127.0.0.1:${httpsPort}/)`,
  );

  // Plain TCP on the TLS port: no echo, an error saying what to do.
  const plain = await client(["--port", tlsPort, "Halo TLS"]);
  assertEquals(plain.code, 1);
  assertEquals(plain.stdout, "");
  assertOneLineError(plain.stderr, "client.ts");
  assertStringIncludes(
    plain.stderr,
    `127.0.0.1:${tlsPort} answered with a TLS alert: it speaks TLS, add --tls`,
  );

  // Without the CA, both halves refuse the certificate.
  const noCa = await client(["--tls", "--port", tlsPort, "rahasia"]);
  assertEquals([noCa.code, noCa.stdout], [1, ""]);
  assertOneLineError(noCa.stderr, "client.ts");
  assertStringIncludes(
    noCa.stderr,
    `Cannot complete the TLS handshake with 127.0.0.1:${tlsPort}: invalid peer certificate: UnknownIssuer (for a self-signed or private-CA certificate, pass its CA with --ca FILE)`,
  );
  const greetNoCa = await client([
    "greet",
    "--url",
    `https://127.0.0.1:${httpsPort}/`,
  ]);
  assertEquals([greetNoCa.code, greetNoCa.stdout], [1, ""]);
  assertOneLineError(greetNoCa.stderr, "client.ts");
  assertMatch(greetNoCa.stderr, /UnknownIssuer.*pass its CA with --ca FILE/);

  assertEquals((await server.stop("SIGTERM")).code, 0);
  // The connection log tells the refused handshakes from served connections.
  assertMatch(server.stderr, /TCP closed in=8B out=8B/);
  assertEquals(
    server.stderr.match(/TCP handshake-failed in=0B out=0B/g)?.length,
    2,
  );
});

Deno.test("client.ts explains a server certificate that is itself a CA, as a plain openssl req -x509 makes", async () => {
  await using certs = await makeTestCertificates();
  await using server = spawnTlsServer(
    ["-N", "-R"],
    certs.caFile,
    certs.caKeyFile,
  );
  const httpsPort = (await server.waitFor(HTTPS_LINE))[1]!;
  const tlsPort = (await server.waitFor(TLS_LINE))[1]!;
  const client = (args: string[]) =>
    runDeno(["-N", "-R"], "client.ts", [...args, "--ca", certs.caFile]);
  for (
    const result of [
      await client(["--tls", "--port", tlsPort, "Halo"]),
      await client(["greet", "--url", `https://127.0.0.1:${httpsPort}/`]),
    ]
  ) {
    assertEquals([result.code, result.stdout], [1, ""]);
    assertOneLineError(result.stderr, "client.ts");
    assertMatch(
      result.stderr,
      /CaUsedAsEndEntity.*\(the server's certificate is itself a CA certificate, which Deno refuses: make a CA and a server certificate it signs, as docs\/tls\.md shows\)$/m,
    );
  }
  assertEquals((await server.stop("SIGTERM")).code, 0);
});

/** A file holding the start of the server certificate only. */
async function writeCutShort(certs: TestCertificates): Promise<string> {
  const file = `${certs.dir}/cut-short.pem`;
  await Deno.writeTextFile(file, certs.cert.slice(0, 100));
  return file;
}

Deno.test("server.ts refuses bad --cert/--key with one line and the documented exit code", async () => {
  await using certs = await makeTestCertificates();
  const cutShort = await writeCutShort(certs);
  // Deno only reads a key without a passphrase, and says "No keys found".
  const encrypted = `${certs.dir}/encrypted-key.pem`;
  await openssl([
    "pkey",
    "-in",
    certs.keyFile,
    "-aes-128-cbc",
    "-passout",
    "pass:secret",
    "-out",
    encrypted,
  ]);
  // Deno cannot sign with an RSA key under 2048 bits: "failed to parse".
  const rsa1024 = `${certs.dir}/rsa-1024-key.pem`;
  await openssl([
    "genpkey",
    "-algorithm",
    "rsa",
    "-pkeyopt",
    "rsa_keygen_bits:1024",
    "-out",
    rsa1024,
  ]);
  const serve = (permissions: string[], tls: string[]) =>
    runDeno(permissions, "server.ts", [...FREE_PORTS, ...tls]);
  const cases: [string[], string[], number, string][] = [
    [["-N", "-R"], ["--cert", certs.certFile], 2, "--cert needs --key too"],
    [["-N", "-R"], ["--key", certs.keyFile], 2, "--key needs --cert too"],
    [
      ["-N"],
      ["--cert", certs.certFile, "--key", certs.keyFile],
      1,
      `Cannot read --cert ${certs.certFile}: read permission is missing: run with -R or --allow-read=${certs.certFile}`,
    ],
    [
      ["-N", "-R"],
      ["--cert", `${certs.dir}/missing.pem`, "--key", certs.keyFile],
      1,
      `Cannot read --cert ${certs.dir}/missing.pem: no such file`,
    ],
    [
      ["-N", "-R"],
      ["--cert", certs.keyFile, "--key", certs.certFile],
      1,
      `--cert ${certs.keyFile} is not a PEM certificate: it has no "-----BEGIN CERTIFICATE-----" line`,
    ],
    [
      ["-N", "-R"],
      ["--cert", certs.certFile, "--key", certs.caKeyFile],
      1,
      `Cannot use --cert ${certs.certFile} with --key ${certs.caKeyFile}: `,
    ],
    [
      ["-N", "-R"],
      ["--cert", certs.certFile, "--key", rsa1024],
      1,
      `Cannot use --cert ${certs.certFile} with --key ${rsa1024}: unexpected error: failed to parse private key as RSA, ECDSA, or EdDSA (Deno takes RSA keys of 2048 bits or more, ECDSA keys and Ed25519 keys)`,
    ],
    [
      ["-N", "-R"],
      ["--cert", certs.certFile, "--key", encrypted],
      1,
      `--key ${encrypted} is encrypted with a passphrase, which Deno cannot use: decrypt it with openssl pkey -in ${encrypted} -out key-plain.pem, then use that file`,
    ],
    [
      ["-N", "-R"],
      ["--cert", cutShort, "--key", certs.keyFile],
      1,
      `--cert ${cutShort} holds a PEM certificate that cannot be read: section end "-----END CERTIFICATE-----" missing`,
    ],
  ];
  for (const [permissions, tls, code, message] of cases) {
    const result = await serve(permissions, tls);
    assertEquals(result.code, code, `${tls.join(" ")}: ${result.stderr}`);
    assertOneLineError(result.stderr, "server.ts");
    assertStringIncludes(result.stderr, message);
    // Nothing started: no listening line.
    assertEquals(result.stdout, "");
  }
});

Deno.test("client.ts refuses --tls/--ca where they do not apply, or unreadable", async () => {
  await using certs = await makeTestCertificates();
  const cutShort = await writeCutShort(certs);
  const indented = `${certs.dir}/indented.pem`;
  await Deno.writeTextFile(indented, certs.ca.replaceAll(/^/gm, "  "));
  const cases: [string[], string[], number, string][] = [
    [["-N", "-R"], ["--ca", certs.caFile, "Halo"], 2, "--ca needs --tls"],
    [
      ["-N", "-R"],
      ["greet", "--url", "http://127.0.0.1:1/", "--ca", certs.caFile],
      2,
      "--ca needs an https:// --url",
    ],
    [["-N", "-R"], ["greet", "--tls"], 2, "--tls does not apply to greet"],
    [
      ["-N"],
      ["--tls", "--ca", certs.caFile],
      1,
      `Cannot read --ca ${certs.caFile}: read permission is missing: run with -R or --allow-read=${certs.caFile}`,
    ],
    [
      ["-N", "-R"],
      ["--tls", "--ca", certs.keyFile],
      1,
      `--ca ${certs.keyFile} is not a PEM certificate`,
    ],
    [
      ["-N", "-R"],
      ["--tls", "--ca", indented, "Halo"],
      1,
      `--ca ${indented} is not a PEM certificate: it has no "-----BEGIN CERTIFICATE-----" line (its BEGIN line is indented: Deno only reads one that starts the line)`,
    ],
    [
      ["-N", "-R"],
      ["--tls", "--ca", cutShort, "Halo"],
      1,
      `--ca ${cutShort} holds a PEM certificate that cannot be read: section end "-----END CERTIFICATE-----" missing`,
    ],
    [
      ["-N", "-R"],
      ["greet", "--url", "https://127.0.0.1:1/", "--ca", cutShort],
      1,
      `--ca ${cutShort} holds a PEM certificate that cannot be read`,
    ],
  ];
  for (const [permissions, args, code, message] of cases) {
    const result = await runDeno(permissions, "client.ts", args);
    assertEquals(result.code, code, `${args.join(" ")}: ${result.stderr}`);
    assertOneLineError(result.stderr, "client.ts");
    assertStringIncludes(result.stderr, message);
    assertEquals(result.stdout, "");
  }
});

Deno.test("a TLS client that sends records that are not valid TLS after the handshake is its own fault: closed, not reported", async () => {
  await using certs = await makeTestCertificates();
  for (const reply of [undefined, () => "ok"]) {
    const { server, closed, errors } = startTlsServer(
      certs,
      reply === undefined ? {} : { reply },
    );
    await using _ = server;
    // Python's ssl completes the handshake; the raw socket then sends an
    // application-data record that does not decrypt, and plain text.
    const program = [
      "import os, socket, ssl, sys",
      "ctx = ssl.create_default_context(cafile=sys.argv[2])",
      `raw = socket.create_connection(("${LOOPBACK}", int(sys.argv[1])))`,
      `s = ctx.wrap_socket(raw, server_hostname="${LOOPBACK}")`,
      "s.do_handshake()",
      "dup = socket.socket(fileno=os.dup(s.fileno()))",
      "dup.sendall(b'\\x17\\x03\\x03\\x00\\x05GARBAGE GET / HTTP/1.1\\r\\n\\r\\n')",
      "try:",
      "    while dup.recv(4096): pass",
      "except OSError:",
      "    pass",
    ].join("\n");
    const output = await new Deno.Command("python3", {
      args: ["-c", program, String(server.addr.port), certs.caFile],
      stdin: "null",
    }).output();
    assert(output.success, new TextDecoder().decode(output.stderr));
    await waitUntil(() => closed.length === 1, "the connection to close");
    assertEquals(closed[0]!.reason, "reset");
    assertEquals(errors, []);
    assertEquals(server.stats.openConnections, 0);
  }
});
