/**
 * A connected client as the chat hub sees it: an id, a time, and a way to push bytes to it.
 * The nick is not here: the hub owns it (one place, see server/chat/hub.ts).
 *
 * @module
 */

/** A connected client as the hub sees it. */
export interface Member {
  /**
   * Unique across every server process of one service (the node id, a dot, a counter), so an
   * engine shared by several processes can tell members apart.
   */
  readonly id: string;
  /** When it connected, unix milliseconds. */
  readonly since: number;
  /**
   * Queues encoded push frames to the client (one frame, or several back to back). The bytes are
   * shared with other members and must not be changed.
   * @returns `false` when the client is gone or takes no pushes.
   */
  deliver(bytes: Uint8Array): boolean;
  /**
   * Whether pushes reach this member now (`deliver` would not refuse them). Lets the hub count the
   * recipients of a message before it delivers it. Absent means yes.
   */
  readonly acceptsPushes?: boolean;
}

/** A value, or a promise of it: what every engine and hub call returns. */
export type Awaitable<T> = T | Promise<T>;
