/**
 * What a session may do: the verbs of each permission (from the verb table in
 * lib/protocol/verbs.ts) and the {@linkcode Access} of a guest, of a token login and of a user.
 *
 * @module
 */

import { ErrorCode } from "../../lib/protocol/errors.ts";
import { type Permission, PERMISSIONS, verbsOf } from "../../lib/protocol/verbs.ts";
import type { Access } from "../core/access.ts";
import type { User } from "./users.ts";

/** The verbs each permission allows (from the verb table). */
export const PERMISSION_VERBS: Readonly<Record<Permission, readonly string[]>> = {
  chat: verbsOf("chat"),
  read: verbsOf("read"),
  write: verbsOf("write"),
};

/** Verbs that work before `AUTH` succeeds. */
export const PRE_AUTH_VERBS: ReadonlySet<string> = new Set(verbsOf("anyone"));

/** Verbs every logged-in user may run, whatever its permissions. */
export const LOGGED_IN_VERBS: ReadonlySet<string> = new Set([
  ...PRE_AUTH_VERBS,
  ...verbsOf("login"),
]);

/** A way to log in (`HELLO` `auth_methods`). */
export type LoginMethod = "password" | "token";

/**
 * How to log in with the given methods, as told to clients.
 *
 * @param methods The server's login methods.
 * @returns `AUTH user password`, `AUTH token`, or both joined with ` or `.
 * @example
 * ```ts
 * import { loginUsage } from "./access.ts";
 * console.assert(loginUsage(["password", "token"]) === "AUTH user password or AUTH token");
 * ```
 */
export function loginUsage(methods: readonly LoginMethod[]): string {
  return methods.map((m) => m === "password" ? "AUTH user password" : "AUTH token").join(" or ");
}

/**
 * Access of a connection that has not logged in yet: `AUTH`, `HELP`, `PING`, `PONG`, `QUIT`.
 *
 * @param methods The server's login methods (named in the refusal).
 * @returns The access.
 * @example
 * ```ts
 * import { guestAccess } from "./access.ts";
 * const guest = guestAccess(["token"]);
 * console.assert(guest.verbs!.has("AUTH") && !guest.verbs!.has("SAY"));
 * ```
 */
export function guestAccess(methods: readonly LoginMethod[]): Access {
  const how = loginUsage(methods);
  return {
    verbs: PRE_AUTH_VERBS,
    pushes: false,
    loggedIn: false,
    deny: (verb) => [ErrorCode.Unauthorized, `Cannot run ${verb}: log in first with ${how}`],
  };
}

/** Access after `AUTH token`: everything. */
export const TOKEN_ACCESS: Access = {
  verbs: null,
  pushes: true,
  loggedIn: true,
  deny: () => [ErrorCode.Forbidden, ""],
};

const verbCache = new Map<string, ReadonlySet<string>>();

function verbsFor(permissions: ReadonlySet<Permission>, nick: boolean): ReadonlySet<string> {
  const key = PERMISSIONS.filter((p) => permissions.has(p)).join(",") + (nick ? "+nick" : "");
  let verbs = verbCache.get(key);
  if (verbs === undefined) {
    const set = new Set(LOGGED_IN_VERBS);
    for (const p of permissions) for (const v of PERMISSION_VERBS[p]) set.add(v);
    if (!nick) set.delete("NICK");
    verbs = set;
    verbCache.set(key, verbs);
  }
  return verbs;
}

function permissionOf(verb: string): Permission | undefined {
  return PERMISSIONS.find((p) => PERMISSION_VERBS[p].includes(verb));
}

/**
 * What a logged-in user may do: the verbs of its permissions, never `NICK` (the nick is the user
 * name); hub pushes only with `chat`.
 *
 * @param user The user.
 * @returns Its access.
 * @example
 * ```ts
 * import { userAccess } from "./access.ts";
 * const access = userAccess({ name: "kim", hash: "", permissions: new Set(["read"]) });
 * console.assert(access.verbs!.has("GET") && !access.verbs!.has("PUT") && !access.pushes);
 * ```
 */
export function userAccess(user: User): Access {
  const verbs = verbsFor(user.permissions, false);
  const name = user.name;
  return {
    verbs,
    pushes: user.permissions.has("chat"),
    loggedIn: true,
    deny(verb) {
      if (verb === "NICK") {
        return [ErrorCode.Forbidden, `Cannot change nick: it is fixed to the user name ${name}`];
      }
      const p = permissionOf(verb);
      return [
        ErrorCode.Forbidden,
        p
          ? `Cannot run ${verb}: user ${name} lacks the ${p} permission`
          : `Cannot run ${verb}: not allowed for user ${name}`,
      ];
    },
  };
}
