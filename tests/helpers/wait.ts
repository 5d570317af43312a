/**
 * Time helpers of the tests: sleeping, polling for a condition, and deadlines on promises.
 *
 * @module
 */

/**
 * Resolves after `ms` milliseconds.
 *
 * @param ms How long.
 */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Waits until `cond()` is true, polling every 10 ms.
 *
 * @param cond The condition.
 * @param timeoutMs How long to wait at the most.
 * @param what Names the condition in the error.
 * @throws {Error} `Timed out waiting for <what>` after `timeoutMs`.
 */
export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
  what = "condition",
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Runs `promise` with a deadline.
 *
 * @param ms The deadline.
 * @param what What is awaited, for the error.
 * @param promise The work.
 * @returns Its result.
 * @throws {Error} `Timed out after <ms> ms: <what>` when the deadline passes first.
 */
export async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms: ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
