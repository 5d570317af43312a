/**
 * Authentication: accounts (a users file of scrypt hashes and permissions) or a shared token,
 * what a session may do before and after `AUTH`, the `AUTH` command, per-address limits on
 * connections and failed logins, and the `hash-password` tool.
 *
 * @example
 * ```ts
 * import { Authenticator, createAuthHandler } from "./mod.ts";
 * const auth = new Authenticator({ token: "s3cret-token" });
 * console.assert(auth.methods.join() === "token" && typeof createAuthHandler === "function");
 * ```
 *
 * @module
 */

export { AbuseGuard, type AbuseGuardOptions } from "./abuse_guard.ts";
export { Authenticator, type AuthenticatorOptions } from "./authenticator.ts";
export { type AuthCommandOptions, createAuthHandler } from "./command.ts";
export { runHashPassword } from "./hash_password.ts";
