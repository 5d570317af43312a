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
import { type AbuseGuard, peerHost } from "./abuse_guard.ts";
import { loginUsage } from "./access.ts";
import type { Authenticator } from "./authenticator.ts";

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
}

/**
 * Makes the `AUTH` handler of a server with accounts or a token.
 *
 * It replies `OK <nick>` on success (the user name with accounts, `name-2` for a second
 * connection of the same user); `ERR 401` for a wrong user name, password or token (one answer
 * for all); `ERR 429` while the peer's address is refused; and after `max_auth_failures` failures
 * on one connection, `BYE too many failed logins`.
 *
 * @param options See {@linkcode AuthCommandOptions}.
 * @returns The handler.
 */
export function createAuthHandler(options: AuthCommandOptions): Handler {
  const { auth, guard, hub, log, maxAuthFailures, authBan } = options;
  const metrics = options.metrics ?? { authFailures: 0 };
  const failures = new WeakMap<Member, number>();

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

    const name = f.args[0]!;
    const user = byPassword ? await auth.checkPassword(name, f.args[1]!) : null;
    const ok = byPassword ? user !== null : auth.checkToken(name);
    if (s.ending) return;
    if (!ok) {
      metrics.authFailures++;
      const n = (failures.get(s.member) ?? 0) + 1;
      failures.set(s.member, n);
      const nowBanned = guard.authFailed(host, Date.now());
      // Only a name that is a real user is logged: anything else may be a password typed in the
      // wrong field.
      const known = byPassword && auth.user(name) !== undefined ? auth.user(name)!.name : undefined;
      log.warn("auth failed", {
        peer: s.peer,
        method: byPassword ? "password" : "token",
        user: known,
        failures: n,
      });
      if (nowBanned) {
        log.warn("address refused", {
          peer: s.peer,
          reason: "too many failed logins",
          for_s: Math.round(authBan / 1000),
        });
      }
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
