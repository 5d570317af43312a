/**
 * Order per room for an engine that gives ids asynchronously: a room's messages go out in the
 * order they were published, each one once its id is known and the one before it went out.
 *
 * @module
 */

/** The last message of each room still going out. */
export class RoomOrder {
  readonly #tails = new Map<string, Promise<unknown>>();

  /**
   * Runs `send` with the id once it is known and the room's message before it was sent.
   *
   * @param room The room's key.
   * @param id The id the engine gives.
   * @param send Sends the message with its id.
   * @returns What `send` gives.
   */
  after<T>(
    room: string,
    id: number | Promise<number>,
    send: (id: number) => Promise<T>,
  ): Promise<T> {
    const before = this.#tails.get(room);
    const done = Promise.all([id, before]).then(([n]) => send(n));
    const tail = done.catch(() => {});
    this.#tails.set(room, tail);
    tail.then(() => {
      if (this.#tails.get(room) === tail) this.#tails.delete(room);
    });
    return done;
  }
}
