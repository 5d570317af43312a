/**
 * Authentication: accounts (a users file of scrypt hashes and permissions) or a shared token,
 * what a session may do before and after `AUTH`, the `AUTH` command, per-address limits on
 * connections and failed logins, fair turns at the password hash, and the `hash-password` tool.
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

export { AbuseGuard, type AbuseGuardOptions, type LoginReservation } from "./abuse_guard.ts";
export { Authenticator, type AuthenticatorOptions } from "./authenticator.ts";
export { type AuthCommandOptions, createAuthHandler } from "./command.ts";
export { runHashPassword } from "./hash_password.ts";
export { LoginQueue, type LoginQueueOptions, type Release } from "./login_queue.ts";
