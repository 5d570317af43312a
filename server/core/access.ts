/**
 * What a session may do, as decided by authentication (server/auth/) and enforced by the
 * session's gate (server/conn/gate.ts).
 *
 * @module
 */

/** What a session may do. */
export interface Access {
  /** Verbs it may run; `null` for all. */
  readonly verbs: ReadonlySet<string> | null;
  /** Whether hub pushes (`MSG`, `DM`, `JOINED`, `LEFT`) reach it. */
  readonly pushes: boolean;
  /** Whether it has logged in. */
  readonly loggedIn: boolean;
  /** The `ERR` code and text for a verb outside `verbs`. */
  deny(verb: string): [number, string];
}
