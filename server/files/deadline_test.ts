import assert from "node:assert/strict";
import { DeadlineError, openForReading, waitingOpens, withDeadline } from "./deadline.ts";

async function mkfifo(path: string): Promise<void> {
  const out = await new Deno.Command("mkfifo", { args: [path] }).output();
  if (!out.success) throw new Error(`mkfifo ${path} failed`);
}

Deno.test("withDeadline() rejects past its deadline and hands a late value to the clean-up", async () => {
  let resolveLate!: (v: string) => void;
  const late = new Promise<string>((r) => resolveLate = r);
  const got: string[] = [];
  const e = await withDeadline(late, 20, "read", (v) => got.push(v)).catch((e) => e);
  assert.ok(e instanceof DeadlineError);
  assert.equal(e.message, "Cannot read: no answer from the disk within 20 ms");
  resolveLate("handle");
  await late;
  assert.deepEqual(got, ["handle"]);
  assert.equal(await withDeadline(Promise.resolve(7), 20, "read"), 7);
  assert.equal(await withDeadline(Promise.resolve(7), 0, "read"), 7);
});

Deno.test({
  name: "openForReading() of a FIFO ends within its deadline and leaves no open waiting",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      await mkfifo(`${dir}/pipe`);
      const t0 = performance.now();
      const e = await openForReading(`${dir}/pipe`, 100).catch((e) => e);
      assert.ok(e instanceof DeadlineError && e.fifo, String(e));
      assert.ok(performance.now() - t0 < 2000);
      // The open that waited for a writer was ended by the FIFO's own read-write open.
      for (let i = 0; i < 100 && waitingOpens() > 0; i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      assert.equal(waitingOpens(), 0, "an open of the FIFO still waits");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
