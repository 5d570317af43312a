/**
 * Runs the load client (bench/load.ts) in its own process with one spec and reads its answer:
 * `READY` (the idle workload, answered with `go` once the orchestrator has measured), then
 * `RESULT` or `FAILED`.
 *
 * @module
 */

import type { LoadSpec } from "./load.ts";
import { DENO_PERMISSIONS, denoRun, drain, killQuietly, spawn } from "./servers.ts";

/**
 * Runs bench/load.ts with a spec; returns its result. `onReady` sees the idle workload's READY.
 *
 * @param spec What to run.
 * @param timeoutMs When to kill the load client.
 * @param onReady Called with the idle workload's `READY` numbers before it is told to go on.
 * @returns The numbers it printed after `RESULT`.
 */
export async function runLoad(
  spec: LoadSpec,
  timeoutMs: number,
  onReady?: (ready: Record<string, number>) => Promise<void>,
): Promise<Record<string, unknown>> {
  const child = spawn(denoRun(DENO_PERMISSIONS, "bench/load.ts", JSON.stringify(spec)), {
    stdin: "piped",
  });
  const err = drain(child.stderr);
  const stdin = child.stdin.getWriter();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killQuietly(child);
  }, timeoutMs);
  let result: Record<string, unknown> | null = null;
  let failure = "";
  try {
    let buffered = "";
    const decoder = new TextDecoder();
    for await (const chunk of child.stdout) {
      buffered += decoder.decode(chunk, { stream: true });
      let nl;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line.startsWith("READY ")) {
          await onReady?.(JSON.parse(line.slice(6)));
          await stdin.write(new TextEncoder().encode("go\n")).catch(() => {});
        } else if (line.startsWith("RESULT ")) result = JSON.parse(line.slice(7));
        else if (line.startsWith("FAILED ")) failure = JSON.parse(line.slice(7));
      }
    }
  } finally {
    clearTimeout(timer);
    await stdin.close().catch(() => {});
    await child.status;
    await err.done;
  }
  if (result !== null) return result;
  if (timedOut) throw new Error(`load client did not finish within ${timeoutMs / 1000} s`);
  throw new Error(
    failure || `load client failed: ${err.text().trim().split("\n").slice(-3).join(" / ")}`,
  );
}

/** Runs the files load client with a spec (bench/files.ts calls back here). */
export function runLoadFiles(
  spec: Record<string, unknown>,
  timeoutMs: number,
  onReady?: () => Promise<void>,
): Promise<Record<string, unknown>> {
  return runLoad(spec as unknown as LoadSpec, timeoutMs, onReady && (() => onReady()));
}
