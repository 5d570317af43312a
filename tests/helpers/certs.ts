/**
 * Throwaway certificates for TLS tests, made with `openssl` at test time: a CA, and a server
 * certificate it signed for `localhost` and `127.0.0.1`.
 *
 * @module
 */

import { decodeText } from "./bytes.ts";

/** Files of a throwaway CA and server certificate. */
export interface TestCerts extends AsyncDisposable {
  /** The folder holding them. */
  dir: string;
  /** CA certificate (PEM file). */
  caFile: string;
  /** CA certificate (PEM text), for `caCerts`. */
  caPem: string;
  /** Server certificate (PEM file), signed by the CA. */
  certFile: string;
  /** Server private key (PEM file). */
  keyFile: string;
}

/** Why TLS tests are skipped here, or `null` when `openssl` runs. */
export const OPENSSL_MISSING: string | null = await (async () => {
  try {
    const out = await new Deno.Command("openssl", {
      args: ["version"],
      stdout: "null",
      stderr: "null",
    }).output();
    return out.success ? null : "openssl version failed";
  } catch (e) {
    return `openssl is not installed (${(e as Error).name})`;
  }
})();

async function openssl(cwd: string, args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd, stdout: "piped", stderr: "piped" })
    .output();
  if (!out.success) {
    throw new Error(`openssl ${args[0]} failed: ${decodeText(out.stderr)}`);
  }
}

/**
 * Makes a CA and a server certificate (EC P-256, valid one day) in a fresh temporary folder,
 * removed on dispose.
 *
 * @param name Names the CA (two calls make two unrelated CAs).
 */
export async function makeTestCerts(name = "Switchboard Test CA"): Promise<TestCerts> {
  const dir = await Deno.makeTempDir({ prefix: "sb-certs-" });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  await openssl(dir, [
    "req",
    "-x509",
    ...ec,
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "1",
    "-subj",
    `/CN=${name}`,
  ]);
  await openssl(dir, [
    "req",
    ...ec,
    "-keyout",
    "server.key",
    "-out",
    "server.csr",
    "-subj",
    "/CN=localhost",
  ]);
  await Deno.writeTextFile(
    `${dir}/ext.cnf`,
    "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n" +
      "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
  );
  await openssl(dir, [
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "server.pem",
    "-days",
    "1",
    "-extfile",
    "ext.cnf",
  ]);
  return {
    dir,
    caFile: `${dir}/ca.pem`,
    caPem: await Deno.readTextFile(`${dir}/ca.pem`),
    certFile: `${dir}/server.pem`,
    keyFile: `${dir}/server.key`,
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/**
 * The server options that serve TLS with these certificates.
 *
 * @param certs From {@linkcode makeTestCerts}.
 * @returns `tlsCert` and `tlsKey`, to spread into a server config.
 */
export function tlsConfig(certs: TestCerts): { tlsCert: string; tlsKey: string } {
  return { tlsCert: certs.certFile, tlsKey: certs.keyFile };
}
