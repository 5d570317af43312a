/**
 * The server's accounts: the users file (loaded at start, reloaded on demand) or the shared
 * token, checked in constant time, and the {@linkcode Access} each login gets.
 *
 * @module
 */

import type { Access } from "../core/access.ts";
import { guestAccess, type LoginMethod, TOKEN_ACCESS, userAccess } from "./access.ts";
import { dummyHash, secretsEqual, verifyPassword } from "./passwords.ts";
import { loadUsers, loadUsersSync, type User } from "./users.ts";

/** Options of {@linkcode Authenticator}. */
export interface AuthenticatorOptions {
  /** The users file; `AUTH user password` works when set. */
  usersFile?: string;
  /** The shared token; `AUTH token` works when set. */
  token?: string;
}

/** A hash no password matches, with the cost of the first user's, so unknown users take as long. */
function dummyHashOf(users: Map<string, User>): string {
  return dummyHash(users.values().next().value?.hash);
}

/**
 * The server's accounts: checks `AUTH` and hands out the {@linkcode Access} of sessions.
 *
 * @example
 * ```ts
 * import { Authenticator } from "./authenticator.ts";
 * const auth = new Authenticator({ token: "s3cret-token" });
 * console.assert(auth.checkToken("s3cret-token") && !auth.checkToken("guess"));
 * console.assert(auth.guest.verbs!.has("AUTH") && !auth.guest.verbs!.has("SAY"));
 * ```
 */
export class Authenticator {
  /** The users file, or `null`. */
  readonly usersFile: string | null;
  readonly #token: string | null;
  #users: Map<string, User>;
  #dummy: string;
  /** Access of a connection that has not logged in yet. */
  readonly guest: Access;
  /** Access after `AUTH token`: everything. */
  readonly tokenAccess: Access = TOKEN_ACCESS;

  /**
   * Loads the users file (synchronously: it runs once, at server start).
   *
   * @param options See {@linkcode AuthenticatorOptions}.
   * @throws {Error} When the users file cannot be loaded, or neither a file nor a token is given.
   */
  constructor(options: AuthenticatorOptions) {
    this.usersFile = options.usersFile || null;
    this.#token = options.token || null;
    if (this.usersFile === null && this.#token === null) {
      throw new Error("Cannot enable authentication: no users file and no token");
    }
    this.#users = this.usersFile === null ? new Map() : loadUsersSync(this.usersFile);
    this.#dummy = dummyHashOf(this.#users);
    this.guest = guestAccess(this.methods);
  }

  /** How clients may log in (`HELLO` `auth_methods`). */
  get methods(): LoginMethod[] {
    const m: LoginMethod[] = [];
    if (this.usersFile !== null) m.push("password");
    if (this.#token !== null) m.push("token");
    return m;
  }

  /** Number of users loaded. */
  get userCount(): number {
    return this.#users.size;
  }

  /**
   * Looks up a user by name, ignoring case.
   *
   * @param name The user name.
   * @returns The user, or `undefined`.
   */
  user(name: string): User | undefined {
    return this.#users.get(name.toLowerCase());
  }

  /**
   * Checks a user name and password. An unknown user costs the same scrypt run as a known one.
   *
   * @param name The user name given.
   * @param password The password given.
   * @returns The user, or `null` (the same for a wrong name and a wrong password).
   */
  async checkPassword(name: string, password: string): Promise<User | null> {
    const user = this.#users.get(name.toLowerCase());
    const ok = await verifyPassword(password, user?.hash ?? this.#dummy);
    return ok && user !== undefined ? user : null;
  }

  /**
   * Checks a token in constant time.
   *
   * @param token The token given.
   * @returns `true` when it is the server's token.
   */
  checkToken(token: string): boolean {
    return this.#token !== null && secretsEqual(token, this.#token);
  }

  /**
   * What a logged-in user may do.
   *
   * @param user The user.
   * @returns Its access.
   */
  accessOf(user: User): Access {
    return userAccess(user);
  }

  /**
   * Reloads the users file. On any error the users in force stay.
   *
   * @returns The number of users now loaded.
   * @throws {Error} `Cannot load users file PATH: reason`.
   */
  async reload(): Promise<number> {
    if (this.usersFile === null) {
      throw new Error("Cannot reload users: the server has no users file");
    }
    const users = await loadUsers(this.usersFile);
    this.#users = users;
    this.#dummy = dummyHashOf(users);
    return users.size;
  }
}
