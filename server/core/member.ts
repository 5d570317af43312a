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

/**
 * Applies `fn` to a value that may be a promise, staying synchronous when it is not (the memory
 * engine answers at once, and its callers should not pay for a promise).
 *
 * @param value A value or a promise of it.
 * @param fn What to do with the value.
 * @returns `fn`'s result, or a promise of it.
 */
export function then<T, R>(value: Awaitable<T>, fn: (value: T) => Awaitable<R>): Awaitable<R> {
  if (value instanceof Promise) return value.then(fn);
  return fn(value);
}
