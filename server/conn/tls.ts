/**
 * TLS for the server: the port speaks TLS from the first byte when `--tls-cert` and `--tls-key`
 * are set.
 *
 * The server accepts plain TCP with `Deno.listen` and runs the TLS server side of each connection
 * through `node:tls` over that socket. Why not `Deno.listenTls`: a `Deno.TlsConn` whose handshake
 * never started cannot be closed (Deno finishes the handshake before closing, denoland/deno#14547),
 * so a client that connects and stays silent would hold its socket forever. Here the handshake is
 * bounded by `--login-timeout`, and closing really closes the TCP socket. The connection checks
 * (`--max-clients`, `--conn-rate`, failed-login bans) also run before any TLS work.
 *
 * @module
 */

import type { Buffer } from "node:buffer";
import type { Socket } from "node:net";
import { createPrivateKey, createPublicKey, X509Certificate } from "node:crypto";
import { Duplex } from "node:stream";
import { createSecureContext, type SecureContext, TLSSocket } from "node:tls";
import type { SessionConn } from "./session.ts";

/** Options of {@linkcode loadTlsContext}. */
export interface TlsFiles {
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
 * Reads and checks the certificate and key.
 *
 * @param files See {@linkcode TlsFiles}.
 * @returns The context every TLS connection uses.
 * @throws {Error} `Cannot start TLS: ...` naming the file or flag at fault (never the key).
 * @example
 * ```ts ignore
 * import { loadTlsContext } from "./tls.ts";
 * const context = loadTlsContext({ certFile: "cert.pem", keyFile: "key.pem" });
 * ```
 */
export function loadTlsContext(files: TlsFiles): SecureContext {
  const cert = readPem(files.certFile, "--tls-cert", /-----BEGIN CERTIFICATE-----/, "certificate");
  const key = readPem(
    files.keyFile,
    "--tls-key",
    /-----BEGIN [A-Z ]*PRIVATE KEY-----/,
    "private key",
  );
  const mismatch =
    `Cannot start TLS: ${files.certFile} and ${files.keyFile} are not a matching certificate and key`;
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
    const a = x509.publicKey.export({ type: "spki", format: "der" });
    const b = createPublicKey(createPrivateKey(key)).export({ type: "spki", format: "der" });
    if (!a.equals(b)) throw new Error("the key is not the certificate's");
  } catch (e) {
    throw new Error(`${mismatch}: ${(e as Error).message.split("\n")[0]}`);
  }
  if (Date.parse(x509.validTo) < Date.now()) {
    throw new Error(
      `Cannot start TLS: the certificate in ${files.certFile} expired on ${x509.validTo}`,
    );
  }
  try {
    return createSecureContext({ cert, key, minVersion: "TLSv1.2" });
  } catch (e) {
    throw new Error(`${mismatch}: ${(e as Error).message.split("\n")[0]}`);
  }
}

/** A readable/writable node stream over a `Deno.Conn`, for `TLSSocket` to run on. */
function duplexOf(conn: Deno.Conn): Duplex {
  return new Duplex({
    read() {
      const buf = new Uint8Array(16 * 1024);
      conn.read(buf).then(
        (n) => this.push(n === null ? null : buf.subarray(0, n)),
        (e) => this.destroy(e),
      );
    },
    write(chunk: Uint8Array, _encoding, callback) {
      (async () => {
        for (let off = 0; off < chunk.length;) off += await conn.write(chunk.subarray(off));
      })().then(() => callback(), (e) => callback(e));
    },
    final(callback) {
      conn.closeWrite().then(() => callback(), () => callback());
    },
    destroy(error, callback) {
      try {
        conn.close();
      } catch {
        // Closed already.
      }
      callback(error);
    },
  });
}

const HIGH_WATER = 256 * 1024;

/**
 * The plaintext side of a server TLS connection, with the read/write/close shape sessions use.
 */
export class TlsConnection implements SessionConn {
  readonly #tcp: Deno.Conn;
  readonly #socket: TLSSocket;
  readonly #queue: Uint8Array[] = [];
  #queued = 0;
  #eof = false;
  #wake: (() => void) | null = null;
  #closed = false;

  /** Use {@linkcode acceptTls}. */
  constructor(tcp: Deno.Conn, socket: TLSSocket) {
    this.#tcp = tcp;
    this.#socket = socket;
    socket.on("data", (chunk: Buffer) => {
      this.#queue.push(chunk);
      this.#queued += chunk.length;
      if (this.#queued > HIGH_WATER) socket.pause();
      this.#wake?.();
    });
    const eof = () => {
      this.#eof = true;
      this.#wake?.();
    };
    socket.on("end", eof);
    socket.on("close", eof);
    socket.on("error", eof);
  }

  /** Reads decrypted bytes; `null` at the end. */
  async read(buf: Uint8Array): Promise<number | null> {
    while (this.#queue.length === 0) {
      if (this.#eof) return null;
      await new Promise<void>((resolve) => this.#wake = resolve);
      this.#wake = null;
    }
    let n = 0;
    while (n < buf.length && this.#queue.length > 0) {
      const head = this.#queue[0]!;
      const take = Math.min(head.length, buf.length - n);
      buf.set(take === head.length ? head : head.subarray(0, take), n);
      n += take;
      if (take === head.length) this.#queue.shift();
      else this.#queue[0] = head.subarray(take);
    }
    this.#queued -= n;
    if (this.#queued <= HIGH_WATER / 2 && this.#socket.isPaused()) this.#socket.resume();
    return n;
  }

  /** Encrypts and sends all of `buf`; resolves once it reached the TCP socket. */
  write(buf: Uint8Array): Promise<number> {
    return new Promise((resolve, reject) => {
      if (this.#closed || this.#socket.destroyed) {
        reject(new Deno.errors.BrokenPipe("Cannot write: the TLS connection is closed"));
        return;
      }
      this.#socket.write(buf, (err) => err ? reject(err) : resolve(buf.length));
    });
  }

  /** Sends TLS close_notify when it can, and closes the TCP socket (within a second at most). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#eof = true;
    this.#wake?.();
    const destroy = () => {
      clearTimeout(timer);
      this.#socket.destroy();
      try {
        this.#tcp.close();
      } catch {
        // Closed already.
      }
    };
    const timer = setTimeout(destroy, 1000);
    this.#socket.end(destroy);
  }
}

/**
 * Runs the server side of the TLS handshake on an accepted TCP connection.
 *
 * @param tcp The accepted connection.
 * @param context From {@linkcode loadTlsContext}.
 * @param timeoutMs The handshake must finish within this (`--login-timeout`).
 * @returns The TLS connection.
 * @throws {Error} Why the handshake failed (a plaintext client, a client that does not trust the
 *   certificate, a timeout); the TCP connection is closed by then.
 */
export function acceptTls(
  tcp: Deno.Conn,
  context: SecureContext,
  timeoutMs: number,
): Promise<TlsConnection> {
  const socket = new TLSSocket(duplexOf(tcp) as unknown as Socket, {
    isServer: true,
    secureContext: context,
  });
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => {
      const msg = e.message.split("\n")[0] ?? String(e);
      const plain = /wrong version|http request|unknown protocol|record|packet length/i.test(msg);
      fail(plain ? `not TLS (a plaintext client?): ${msg}` : msg);
    };
    const onClose = () => fail("closed during the TLS handshake");
    const unlisten = () => {
      clearTimeout(timer);
      socket.off("error", onError);
      socket.off("close", onClose);
      socket.off("end", onClose);
    };
    const fail = (why: string) => {
      unlisten();
      socket.on("error", () => {});
      socket.destroy();
      try {
        tcp.close();
      } catch {
        // Closed already.
      }
      reject(new Error(why));
    };
    const timer = setTimeout(
      () => fail(`no TLS handshake within ${timeoutMs} ms (--tls-handshake-timeout)`),
      timeoutMs,
    );
    socket.once("secure", () => {
      unlisten();
      resolve(new TlsConnection(tcp, socket));
    });
    socket.once("error", onError);
    socket.once("close", onClose);
    socket.once("end", onClose);
  });
}
