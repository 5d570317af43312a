/**
 * The hub's calls to an engine: a rejection becomes `ERR 503` for the command
 * (`EngineUnavailableError`), answers that may come later are awaited only when they do, and a
 * member the engine refused to forget is forgotten on a later call.
 *
 * @module
 */

import type { Presence } from "../core/engine.ts";
import { EngineUnavailableError } from "../core/handler.ts";
import type { Published } from "../core/hub.ts";
import type { Awaitable } from "../core/member.ts";

/** An engine's rejection as `EngineUnavailableError` (the command's `ERR 503`). */
export function engineError(e: unknown): EngineUnavailableError {
  if (e instanceof EngineUnavailableError) return e;
  return new EngineUnavailableError(e instanceof Error ? e.message : String(e), { cause: e });
}

/** Turns an engine's rejection into `EngineUnavailableError`. */
export function engineCall<T>(value: Awaitable<T>): Awaitable<T> {
  if (!(value instanceof Promise)) return value;
  return value.catch((e: unknown) => {
    throw engineError(e);
  });
}

/** A publish result from a recipient count that may still be coming. */
export function published(recipients: Awaitable<number>, id: number): Awaitable<Published> {
  if (typeof recipients === "number") return { recipients, id };
  return recipients.then((n) => ({ recipients: n, id }));
}

/** Waits for the promises among `values`, if any. */
export function all(values: Awaitable<unknown>[]): Awaitable<void> {
  const pending = values.filter((v) => v instanceof Promise);
  if (pending.length === 0) return;
  return engineCall(Promise.all(pending).then(() => {}));
}

/** Members gone from a node whose removal the engine refused (it was away): tried again later. */
export class Orphans {
  readonly #presence: Presence;
  readonly #ids = new Set<string>();

  constructor(presence: Presence) {
    this.#presence = presence;
  }

  /** Removes a member from the engine; when that fails, it is tried again on later calls. */
  forget(id: string): Awaitable<void> {
    let done: Awaitable<void>;
    try {
      done = this.#presence.detach(id);
    } catch (e) {
      done = Promise.reject(e);
    }
    if (!(done instanceof Promise)) return;
    return done.catch((e) => {
      this.#ids.add(id);
      throw e;
    });
  }

  /** Tries again to remove the members the engine refused to forget (it may be back). */
  retry(): void {
    if (this.#ids.size === 0) return;
    const ids = [...this.#ids];
    this.#ids.clear();
    for (const id of ids) {
      const done = this.forget(id);
      if (done instanceof Promise) done.catch(() => {});
    }
  }
}
