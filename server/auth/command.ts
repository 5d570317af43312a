/**
 * The `AUTH` command: logs a session in with a user name and password or the shared token,
 * counting failures per connection and per address (see {@linkcode AbuseGuard}).
 *
 * Secrets never reach a log line: the handler logs the peer address, the outcome, and a user name
 * only when that name is a real user (a password typed into the user field is never logged).
 *
 * @module
 */

import { ErrorCode } from "../../lib/protocol/errors.ts";
import type { Frame } from "../../lib/protocol/frame.ts";
import type { CommandContext, Handler } from "../core/handler.ts";
import type { Hub } from "../core/hub.ts";
import type { Logger } from "../core/logger.ts";
import type { Member } from "../core/member.ts";
import type { Metrics } from "../core/metrics.ts";
import { type AbuseGuard, addressKey, peerHost } from "./abuse_guard.ts";
import { loginUsage } from "./access.ts";
import type { Authenticator } from "./authenticator.ts";
import { LoginQueue } from "./login_queue.ts";
import type { User } from "./users.ts";

/** What the `AUTH` command needs. */
export interface AuthCommandOptions {
  /** The accounts or token. */
  auth: Authenticator;
  /** Per-address failed-login limits. */
  guard: AbuseGuard;
  /** The hub (the nick becomes the user name). */
  hub: Hub;
  /** Where logins are logged. */
  log: Logger;
  /** Failed logins on one connection before `BYE too many failed logins`. */
  maxAuthFailures: number;
  /** How long an address is refused, ms (for the log line). */
  authBan: number;
  /** Where failed logins are counted. */
  metrics?: Pick<Metrics, "authFailures">;
  /**
   * Password checks running at once for one address.
   * @default {1}
   */
  authHashesPerAddress?: number;
  /**
   * `AUTH` of one address waiting for a password check; one more answers `ERR 429` at once.
   * @default {8}
   */
  authQueuePerAddress?: number;
  /**
   * `AUTH` waiting for a password check, all addresses together; one more answers `ERR 429` at
   * once (the newest attempt of the address with the most waiting goes first).
   * @default {32}
   */
  authQueue?: number;
}

/** Refusals of `AUTH` (`ERR 429`) are logged at most this often; the next line counts the rest. */
const REFUSAL_LOG_INTERVAL = 1000;

/**
 * Makes the `AUTH` handler of a server with accounts or a token.
 *
 * It replies `OK <nick>` on success (the user name with accounts, `name-2` for a second
 * connection of the same user); `ERR 401` for a wrong user name, password or token (one answer
 * for all); `ERR 429` while the peer's address is refused, while its failed and pending logins
 * fill `auth_failures_per_minute`, and when the password checks' queues are full; and after
 * `max_auth_failures` failures on one connection, `BYE too many failed logins`.
 *
 * Password checks (scrypt) take their turns in a {@linkcode LoginQueue}: a few at once per address
 * and in total, round-robin between addresses, so a flood from one address does not hold up the
 * logins of others.
 *
 * @param options See {@linkcode AuthCommandOptions}.
 * @returns The handler.
 */
export function createAuthHandler(options: AuthCommandOptions): Handler {
  const { auth, guard, hub, log, maxAuthFailures, authBan } = options;
  const metrics = options.metrics ?? { authFailures: 0 };
  const failures = new WeakMap<Member, number>();
  const queue = new LoginQueue({
    perAddress: options.authHashesPerAddress,
    queuePerAddress: options.authQueuePerAddress,
    maxQueued: options.authQueue,
  });
  let lastRefusalLog = -Infinity;
  let unlogged = 0;

  function refuse(s: CommandContext, text: string): void {
    const now = Date.now();
    if (now - lastRefusalLog >= REFUSAL_LOG_INTERVAL) {
      log.warn("auth refused", {
        peer: s.peer,
        reason: text,
        unlogged: unlogged > 0 ? unlogged : undefined,
      });
      lastRefusalLog = now;
      unlogged = 0;
    } else {
      unlogged++;
    }
    s.replyError(ErrorCode.TooMany, text);
  }

  return async function authCommand(s: CommandContext, f: Frame): Promise<void> {
    if (s.access?.loggedIn) {
      return s.replyError(ErrorCode.BadRequest, "Cannot log in: already logged in");
    }
    const methods = auth.methods;
    const usage = loginUsage(methods);
    const byPassword = f.args.length === 2 && methods.includes("password");
    const byToken = f.args.length === 1 && methods.includes("token");
    if (!byPassword && !byToken) return s.replyError(ErrorCode.BadRequest, `Usage: ${usage}`);
    const host = peerHost(s.peer);
    const banned = guard.bannedFor(host, Date.now());
    if (banned > 0) return s.replyError(ErrorCode.TooMany, guard.banMessage(banned));
    // The attempt takes its place in the address's failed-login budget before anything is
    // checked, so attempts in flight count against it.
    const reservation = guard.reserve(host, Date.now());
    if (typeof reservation === "string") return refuse(s, reservation);

    const name = f.args[0]!;
    let user: User | null = null;
    let ok: boolean;
    try {
      if (byPassword) {
        const turn = await queue.enter(addressKey(host), () => s.ending);
        if (typeof turn === "string") {
          reservation.release();
          if (turn !== "" && !s.ending) refuse(s, turn);
          return;
        }
        try {
          // Other attempts of the address may have got it banned while this one waited.
          const left = guard.bannedFor(host, Date.now());
          if (left > 0) {
            reservation.release();
            return s.replyError(ErrorCode.TooMany, guard.banMessage(left));
          }
          user = await auth.checkPassword(name, f.args[1]!);
        } finally {
          turn();
        }
        ok = user !== null;
      } else {
        ok = auth.checkToken(name);
      }
    } catch (e) {
      reservation.release();
      throw e;
    }
    if (ok) reservation.release();
    // A wrong guess counts even when its connection is gone: closing early must not make it free.
    if (!ok && reservation.fail(Date.now())) {
      log.warn("address refused", {
        peer: s.peer,
        reason: "too many failed logins",
        for_s: Math.round(authBan / 1000),
      });
    }
    if (s.ending) return;
    if (!ok) {
      metrics.authFailures++;
      const n = (failures.get(s.member) ?? 0) + 1;
      failures.set(s.member, n);
      // Only a name that is a real user is logged: anything else may be a password typed in the
      // wrong field.
      const known = byPassword && auth.user(name) !== undefined ? auth.user(name)!.name : undefined;
      log.warn("auth failed", {
        peer: s.peer,
        method: byPassword ? "password" : "token",
        user: known,
        failures: n,
      });
      s.replyError(
        ErrorCode.Unauthorized,
        byPassword ? "Cannot log in: wrong user name or password" : "Cannot log in: wrong token",
      );
      if (n >= maxAuthFailures) s.end("too many failed logins");
      return;
    }
    failures.delete(s.member);
    if (user === null) {
      s.logIn(null, auth.tokenAccess);
      log.info("auth", { peer: s.peer, method: "token", nick: s.nick });
      return s.replyLine(`OK ${s.nick}`);
    }
    // The nick is the user name; a second connection of the same user is name-2, and so on.
    let nick = user.name;
    for (let i = 2; !(await hub.rename(s.member, nick)); i++) {
      if (i > 10_000) {
        return s.replyError(
          ErrorCode.Conflict,
          `Cannot log in as ${user.name}: too many connections`,
        );
      }
      nick = `${user.name}-${i}`;
    }
    s.logIn(user.name, auth.accessOf(user));
    log.info("auth", { peer: s.peer, method: "password", user: user.name, nick });
    s.replyLine(`OK ${nick}`);
  };
}
