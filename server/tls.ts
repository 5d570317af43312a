/**
 * TLS for the server: a listener from `--tls-cert` and `--tls-key` (the port speaks TLS from the
 * first byte), and the handshake of each accepted connection, bounded in time.
 *
 * @module
 */

/** Options of {@linkcode listenTls}. */
export interface TlsListenOptions {
  /** Address to bind. */
  hostname: string;
  /** Port; 0 picks a free one. */
  port: number;
  /** PEM certificate chain file (the server's certificate first). */
  certFile: string;
  /** PEM private key file. */
  keyFile: string;
}

function readPem(path: string, flag: string, marker: RegExp, what: string): string {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    throw new Error(`Cannot start TLS: cannot read ${flag} ${path}: ${(e as Error).message}`);
  }
  if (!marker.test(text)) throw new Error(`Cannot start TLS: ${flag} ${path} holds no PEM ${what}`);
  return text;
}

/**
 * Opens a TLS listener from PEM files.
 *
 * @param options See {@linkcode TlsListenOptions}.
 * @returns The listener; its connections need {@linkcode handshake} before use.
 * @throws {Error} `Cannot start TLS: ...` naming the file or flag at fault.
 * @throws {Deno.errors.AddrInUse} When the port is taken.
 * @example
 * ```ts ignore
 * import { listenTls } from "./tls.ts";
 * const listener = listenTls({ hostname: "127.0.0.1", port: 0, certFile: "cert.pem", keyFile: "key.pem" });
 * ```
 */
export function listenTls(options: TlsListenOptions): Deno.TlsListener {
  const cert = readPem(
    options.certFile,
    "--tls-cert",
    /-----BEGIN CERTIFICATE-----/,
    "certificate",
  );
  const key = readPem(
    options.keyFile,
    "--tls-key",
    /-----BEGIN [A-Z ]*PRIVATE KEY-----/,
    "private key",
  );
  try {
    return Deno.listenTls({
      hostname: options.hostname,
      port: options.port,
      cert,
      key,
      transport: "tcp",
    });
  } catch (e) {
    if (e instanceof Deno.errors.AddrInUse || e instanceof Deno.errors.PermissionDenied) throw e;
    throw new Error(
      `Cannot start TLS: ${options.certFile} and ${options.keyFile} are not a usable certificate and key: ${
        (e as Error).message
      }`,
      { cause: e },
    );
  }
}

/**
 * Tells whether an accepted connection is a TLS one (it has a handshake to finish).
 *
 * @param conn The connection.
 * @returns `true` for a `Deno.TlsConn`.
 */
export function isTlsConn(conn: Deno.Conn): conn is Deno.TlsConn {
  return typeof (conn as Partial<Deno.TlsConn>).handshake === "function";
}

/**
 * Finishes the TLS handshake of an accepted connection within `timeoutMs`.
 *
 * @param conn The connection.
 * @param timeoutMs Longest wait.
 * @returns `null` on success, else why it failed (a plaintext client, a client that does not
 *   trust the certificate, a timeout).
 */
export async function handshake(conn: Deno.TlsConn, timeoutMs: number): Promise<string | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      conn.handshake(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no handshake within --login-timeout ${timeoutMs} ms`)),
          timeoutMs,
        );
      }),
    ]);
    return null;
  } catch (e) {
    const msg = (e as Error).message;
    if (/InvalidContentType|corrupt message/i.test(msg)) {
      return `not TLS (a plaintext client?): ${msg}`;
    }
    return msg;
  } finally {
    clearTimeout(timer);
  }
}
