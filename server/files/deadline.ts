/**
 * Deadlines for file operations: a stat, an open or a read of the shared folder that does not
 * answer in time (a FIFO opened for reading waits for a writer forever; a dead network disk never
 * answers) fails with {@linkcode DeadlineError} instead of holding its session. The operation itself
 * cannot be cancelled: what it yields later is handed to a clean-up (a late handle is closed).
 *
 * @module
 */

/** A file operation did not finish within its deadline. */
export class DeadlineError extends Error {
  /** The deadline, milliseconds. */
  readonly ms: number;
  /** The path turned out to be a FIFO (see {@linkcode openForReading}). */
  readonly fifo: boolean;

  /**
   * @param what The operation (`open`, `read`), for the message.
   * @param ms The deadline, milliseconds.
   * @param fifo The path is a FIFO.
   */
  constructor(what: string, ms: number, fifo = false) {
    super(`Cannot ${what}: no answer from the disk within ${ms} ms`);
    this.name = "DeadlineError";
    this.ms = ms;
    this.fifo = fifo;
  }
}

/**
 * Waits for `op` at most `ms` milliseconds.
 *
 * @param op The operation, already started.
 * @param ms The deadline; 0 or less waits without one.
 * @param what The operation's name, for the error.
 * @param late Gets the value of an operation that succeeds after its deadline (close a handle
 *   there); a late failure is ignored.
 * @returns The operation's value.
 * @throws {DeadlineError} When `op` has not settled after `ms`.
 * @example
 * ```ts
 * import { DeadlineError, withDeadline } from "./deadline.ts";
 * const never = new Promise<number>(() => {});
 * const e = await withDeadline(never, 10, "read").catch((e) => e);
 * console.assert(e instanceof DeadlineError);
 * console.assert(await withDeadline(Promise.resolve(1), 10, "read") === 1);
 * ```
 */
export function withDeadline<T>(
  op: Promise<T>,
  ms: number,
  what: string,
  late?: (value: T) => void,
): Promise<T> {
  if (ms <= 0) return op;
  return new Promise<T>((resolve, reject) => {
    let expired = false;
    const timer = setTimeout(() => {
      expired = true;
      reject(new DeadlineError(what, ms));
    }, ms);
    op.then(
      (value) => {
        clearTimeout(timer);
        if (!expired) resolve(value);
        else late?.(value);
      },
      (e) => {
        clearTimeout(timer);
        if (!expired) reject(e);
      },
    );
  });
}

let waiting = 0;

/**
 * Opens of {@linkcode openForReading} not finished yet, past their deadline or not (for tests and
 * diagnostics: each holds a thread of the runtime).
 *
 * @returns How many.
 */
export function waitingOpens(): number {
  return waiting;
}

/**
 * Opens a file for reading within a deadline. Opening a FIFO for reading waits for a writer, and
 * Deno has no `O_NONBLOCK`: so callers check the type first, and a FIFO swapped in after that
 * check is caught here. Past the deadline, a path that is a FIFO is opened for reading and writing
 * (which never waits on Linux and counts as the writer): the waiting open ends, and both handles
 * are closed, so no thread of the runtime stays blocked.
 *
 * @param real The real path.
 * @param ms The deadline; 0 or less waits without one.
 * @returns The open file.
 * @throws {DeadlineError} Past the deadline, with `fifo` true when the path is a FIFO.
 * @example
 * ```ts
 * import { openForReading } from "./deadline.ts";
 * const path = await Deno.makeTempFile();
 * using file = await openForReading(path, 1000);
 * console.assert((await file.stat()).isFile);
 * await Deno.remove(path);
 * ```
 */
export async function openForReading(real: string, ms: number): Promise<Deno.FsFile> {
  waiting++;
  const opening = Deno.open(real, { read: true });
  opening.then(() => waiting--, () => waiting--);
  try {
    return await withDeadline(opening, ms, "open", (late) => late.close());
  } catch (e) {
    if (!(e instanceof DeadlineError)) throw e;
    const info = await withDeadline(Deno.stat(real), ms, "stat").catch(() => null);
    if (info?.isFifo) {
      const writer = await withDeadline(
        Deno.open(real, { read: true, write: true }),
        ms,
        "open",
        (late) => late.close(),
      ).catch(() => null);
      writer?.close();
      throw new DeadlineError("open", ms, true);
    }
    throw e;
  }
}
