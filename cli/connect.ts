/**
 * Connecting from the command line: TLS settings, logging in when the server asks, taking the
 * nick, and turning every failure into a message that says what failed and what to do.
 *
 * @module
 */

import { ServerError } from "../lib/protocol/errors.ts";
import { type Client, connect, ConnectionClosedError, TlsError } from "../client/mod.ts";
import { CliError, type Credentials, type Target, UsageError } from "./args.ts";
import { PromptCancelled, promptSecret } from "./term.ts";

/** Options of {@linkcode openClient}. */
export interface OpenOptions {
  /** The nick to take after logging in. */
  nick?: string;
  /**
   * What to answer when the server requires authentication.
   * @default {{ kind: "none" }}
   */
  credentials?: Credentials;
  /**
   * Milliseconds to wait for the connection and `HELLO`.
   * @default {10000}
   */
  timeout?: number;
  /** Reads a password when none was given (the CLI prompts on the terminal). */
  askPassword?: (question: string) => Promise<string>;
}

const caCache = new Map<string, string>();

/**
 * Reads the CA file of a target (once per process).
 *
 * @param target The target.
 * @returns The PEM text in a list, or undefined without `--ca`.
 * @throws {UsageError} When the file cannot be read or holds no certificate.
 */
export async function readCaCerts(target: Target): Promise<string[] | undefined> {
  if (target.caFile === undefined) return undefined;
  let pem = caCache.get(target.caFile);
  if (pem === undefined) {
    try {
      pem = await Deno.readTextFile(target.caFile);
    } catch (e) {
      throw new UsageError(
        `Cannot read the CA certificate "${target.caFile}": ${
          reason(e)
        }. Check the path given to --ca`,
      );
    }
    if (!pem.includes("-----BEGIN CERTIFICATE-----")) {
      throw new UsageError(
        `Cannot use the CA certificate "${target.caFile}": it holds no PEM certificate`,
      );
    }
    caCache.set(target.caFile, pem);
  }
  return [pem];
}

/**
 * The server refused the login (`ERR 401`: wrong credentials): trying again would only be refused
 * again, and count as one more failed login there.
 */
export class LoginRefusedError extends CliError {
  /**
   * @param message What failed and what to do.
   * @param options Standard error options (`cause`: the server's refusal).
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, 1, options);
    this.name = "LoginRefusedError";
  }
}

/**
 * Connects, logs in when the server requires it, and takes the nick.
 *
 * @param target Where the server is.
 * @param options See {@linkcode OpenOptions}.
 * @returns The connected client.
 * @throws {CliError} With a message that says what failed and what to do.
 * @throws {UsageError} When credentials are missing or the CA file cannot be read.
 */
export async function openClient(target: Target, options: OpenOptions = {}): Promise<Client> {
  const caCerts = await readCaCerts(target);
  let client: Client;
  try {
    client = await connect({
      host: target.host,
      port: target.port,
      tls: target.tls,
      caCerts,
      timeout: options.timeout ?? 10_000,
    });
  } catch (e) {
    throw describeConnectError(e, target);
  }
  try {
    if (client.hello.auth_required) await authenticate(client, target, options);
    if (options.nick !== undefined) await takeNick(client, options.nick, target);
  } catch (e) {
    client.close();
    throw e;
  }
  return client;
}

async function authenticate(client: Client, target: Target, options: OpenOptions): Promise<void> {
  const creds = options.credentials ?? { kind: "none" };
  const methods = client.hello.auth_methods ?? ["password", "token"];
  const how = methods.includes("password") && methods.includes("token")
    ? "Pass --user NAME (password from SWITCHBOARD_PASSWORD or a prompt), or set SWITCHBOARD_TOKEN"
    : methods.includes("token")
    ? "It takes a token: set SWITCHBOARD_TOKEN (or pass --token)"
    : "It takes a user name and password: pass --user NAME (password from SWITCHBOARD_PASSWORD or a prompt)";
  if (creds.kind === "none") {
    throw new UsageError(
      `Cannot log in to ${target.label}: the server requires authentication. ${how}`,
    );
  }
  if (!methods.includes(creds.kind)) {
    throw new UsageError(
      `Cannot log in to ${target.label} with a ${creds.kind}: the server does not take one. ${how}`,
    );
  }
  let password: string | undefined;
  if (creds.kind === "password") {
    password = creds.password;
    if (password === undefined) {
      const ask = options.askPassword ?? promptSecret;
      try {
        password = await ask(`Password for ${creds.user} at ${target.label}: `);
      } catch (e) {
        if (e instanceof PromptCancelled) throw new CliError("Cannot log in: cancelled", 130);
        throw new UsageError(
          `Cannot log in to ${target.label} as ${creds.user}: no password. ` +
            `Set SWITCHBOARD_PASSWORD, or run on a terminal to be asked`,
        );
      }
    }
  }
  try {
    if (creds.kind === "token") await client.auth(creds.token);
    else await client.auth(creds.user, password);
  } catch (e) {
    if (e instanceof TypeError) {
      throw new UsageError(`${e.message}. Check --user, the password or the token`);
    }
    if (e instanceof ServerError && e.code === 401) {
      throw new LoginRefusedError(
        `Cannot log in to ${target.label}${creds.kind === "password" ? ` as ${creds.user}` : ""}: ${
          serverReason(e)
        }. ` +
          `Check the ${creds.kind === "password" ? "user name and password" : "token"}`,
        { cause: e },
      );
    }
    if (e instanceof ServerError && e.code === 429) {
      // Not final: a full login queue (a crowd reconnecting after a restart) or a ban passes.
      throw new CliError(
        `Cannot log in to ${target.label}: ${
          serverReason(e)
        } (429). Wait a while before trying again`,
        1,
        { cause: e },
      );
    }
    throw describeError(e, target, "log in");
  }
}

async function takeNick(client: Client, nick: string, target: Target): Promise<void> {
  try {
    await client.setNick(nick);
  } catch (e) {
    if (e instanceof ServerError && e.code === 409) {
      throw new CliError(
        `Cannot take nick "${nick}": it is in use on ${target.label}. Pick another with --nick`,
        1,
        { cause: e },
      );
    }
    if (e instanceof ServerError && e.code === 400) {
      throw new CliError(
        `Cannot take nick "${nick}": ${serverText(e)}. A nick is 1-32 of A-Z a-z 0-9 _ -`,
        2,
        { cause: e },
      );
    }
    throw describeError(e, target, `take nick "${nick}"`);
  }
}

/**
 * The text of a server error without its code.
 *
 * @param e The error.
 * @returns The server's words.
 */
export function serverText(e: ServerError): string {
  return e.message.replace(/^\d+ /, "");
}

/**
 * The server's reason alone: its text without a leading `Cannot <action>: ` (for a sentence
 * that says the action in its own words, so it is not said twice).
 *
 * @param e The error.
 * @returns `wrong user name or password` for `401 Cannot log in: wrong user name or password`.
 * @example
 * ```ts
 * import { ServerError } from "../lib/protocol/errors.ts";
 * import { serverReason } from "./connect.ts";
 * const e = new ServerError(401, "Cannot log in: wrong token");
 * console.assert(serverReason(e) === "wrong token");
 * ```
 */
export function serverReason(e: ServerError): string {
  const text = serverText(e);
  const m = /^Cannot [^:]*: (.+)$/s.exec(text);
  return m === null ? text : m[1]!;
}

/**
 * A server error as one "Cannot <action>: <why> (<code>)" sentence, without repeating the server
 * when its own words already start with "Cannot".
 *
 * @param e The error.
 * @param action What was attempted (`delete a.txt`).
 * @returns The sentence.
 */
export function serverFailure(e: ServerError, action: string): string {
  const text = serverText(e);
  return /^Cannot /.test(text) ? `${text} (${e.code})` : `Cannot ${action}: ${text} (${e.code})`;
}

function reason(e: unknown): string {
  if (e instanceof Deno.errors.NotFound) return "no such file";
  if (e instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (e instanceof Deno.errors.IsADirectory) return "it is a folder";
  return (e as Error).message;
}

/**
 * Turns a failure to connect into a message that says what to do.
 *
 * @param e What `connect()` threw.
 * @param target Where we tried to go.
 * @returns An error for the CLI to print.
 */
export function describeConnectError(e: unknown, target: Target): CliError {
  const where = `Cannot connect to ${target.label}`;
  const hint = "(--host/--port or SWITCHBOARD_URL)";
  const msg = (e as Error)?.message ?? String(e);
  if (e instanceof ServerError) {
    if (e.code === 503) {
      return new CliError(`${where}: ${serverText(e)} (503). Try again later`, 1, { cause: e });
    }
    return new CliError(`${where}: the server answered ${e.message}`, 1, { cause: e });
  }
  if (e instanceof Deno.errors.ConnectionRefused) {
    return new CliError(`${where}: connection refused. Is switchboard-server running? ${hint}`);
  }
  if (/lookup address|Name or service not known|nodename nor servname|No such host/i.test(msg)) {
    return new CliError(`${where}: unknown host "${target.host}". Check the name ${hint}`);
  }
  if (e instanceof Deno.errors.PermissionDenied || (e as Error)?.name === "NotCapable") {
    return new CliError(`${where}: not allowed: ${msg}`);
  }
  if (/speaks TLS/.test(msg)) {
    return new CliError(
      `${where}: the server speaks TLS. Add --tls (or use sbs://host:port), and --ca FILE for a private CA`,
    );
  }
  if (e instanceof TlsError) {
    // The library's message already says what to do; say it in the CLI's words.
    return new CliError(
      msg.replace(" (caCerts)", "").replace("connect without --tls)", "drop --tls, or use sb://)"),
    );
  }
  if (e instanceof Deno.errors.TimedOut || /no HELLO within|timed out|aborted/i.test(msg)) {
    const tls = target.tls ? "" : " If the server uses TLS, add --tls (or use sbs://).";
    return new CliError(
      `${where}: no answer in time. Check the address and any firewall.${tls} ${hint}`,
    );
  }
  if (
    target.tls &&
    (e instanceof Deno.errors.InvalidData ||
      /certificate|tls|handshake|corrupt|InvalidContentType|peer/i.test(msg))
  ) {
    const ca = target.caFile === undefined
      ? "If the server uses a private CA, pass --ca FILE; if it does not speak TLS, drop --tls / use sb://"
      : `Check that ${target.caFile} signed the server's certificate and that it is issued for "${target.host}"`;
    return new CliError(`${where} over TLS: ${msg}. ${ca}`);
  }
  if (
    !target.tls &&
    /bad greeting|not a Switchboard server|unreadable HELLO|closed before HELLO|Protocol error/i
      .test(msg)
  ) {
    return new CliError(
      `${where}: ${msg.replace(/^Cannot connect to \S+: /, "")}. ` +
        `If the server uses TLS, add --tls (or use sbs://); otherwise check the port`,
    );
  }
  if (e instanceof Deno.errors.ConnectionReset || e instanceof Deno.errors.ConnectionAborted) {
    return new CliError(`${where}: the connection was reset. Is it a Switchboard server? ${hint}`);
  }
  if (e instanceof Deno.errors.AddrNotAvailable || e instanceof Deno.errors.NetworkUnreachable) {
    return new CliError(`${where}: ${msg}. Check the network and the address ${hint}`);
  }
  return new CliError(`${where}: ${msg.replace(/^Cannot connect to \S+: /, "")} ${hint}`);
}

/**
 * Turns a failure during a command into a message that says what failed and what to do.
 *
 * @param e What the command threw.
 * @param target The server.
 * @param action What we were doing, as `Cannot <action>`: `send to lobby`.
 * @returns An error for the CLI to print (usage errors pass through).
 */
export function describeError(e: unknown, target: Target, action: string): Error {
  if (e instanceof CliError || e instanceof UsageError) return e;
  if (e instanceof ServerError) {
    const what = serverFailure(e, action);
    const cause = { cause: e };
    switch (e.code) {
      case 401:
        return new CliError(`${what}. Log in with --user NAME or --token`, 1, cause);
      case 413:
        return new CliError(`${what}. The server's limit is smaller; send less`, 1, cause);
      case 429:
        return new CliError(`${what}. Slow down and try again`, 1, cause);
      case 503:
        return new CliError(`${what}. The server is busy or stopping; try again later`, 1, cause);
      default:
        return new CliError(what, 1, cause);
    }
  }
  if (e instanceof ConnectionClosedError) {
    return new CliError(
      `Cannot ${action}: ${e.message.replace(/^Cannot send: /, "")} (${target.label}). Try again`,
    );
  }
  if (e instanceof Deno.errors.PermissionDenied || (e as Error)?.name === "NotCapable") {
    return new CliError(`Cannot ${action}: not allowed: ${(e as Error).message}`);
  }
  return new CliError(`Cannot ${action}: ${(e as Error)?.message ?? String(e)}`);
}
