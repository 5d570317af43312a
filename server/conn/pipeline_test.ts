import assert from "node:assert/strict";
import type { Frame } from "../../lib/protocol/frame.ts";
import { EngineUnavailableError } from "../core/handler.ts";
import { Pipeline, type PipelineOwner } from "./pipeline.ts";

const frame: Frame = { type: "frame", verb: "SAY", args: [], payload: null, badText: false };

function owner(sent: string[], failures: string[] = []): PipelineOwner {
  return {
    send: (b: Uint8Array) => void sent.push(new TextDecoder().decode(b).trim()),
    failed: (verb: string) => void failures.push(verb),
  } as unknown as PipelineOwner;
}

Deno.test("Pipeline: past max commands in flight, run() hands back a promise to wait for (the read loop's bound)", async () => {
  const sent: string[] = [];
  const pipeline = new Pipeline(owner(sent), 3);
  const releases: (() => void)[] = [];
  const slow = (n: number) => (ctx: Parameters<Parameters<Pipeline["run"]>[0]>[0]) =>
    new Promise<void>((r) => releases.push(r)).then(() => ctx.replyLine(`OK ${n}`));
  assert.equal(pipeline.run(slow(1), frame, true), undefined);
  assert.equal(pipeline.run(slow(2), frame, true), undefined);
  const wait = pipeline.run(slow(3), frame, true);
  assert.ok(wait instanceof Promise, "the third fills the pipeline: the reader must wait");
  assert.equal(pipeline.inFlight, 3);
  let waited = false;
  void wait.then(() => waited = true);
  releases[1]!(); // the second finishes first: its reply waits for the first's
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(sent, []);
  assert.equal(waited, false);
  releases[0]!();
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(sent, ["OK 1", "OK 2"]);
  assert.equal(waited, true, "room again: the reader goes on");
  releases[2]!();
  await pipeline.idle();
  assert.deepEqual(sent, ["OK 1", "OK 2", "OK 3"]);
});

Deno.test("Pipeline: a rejected command gets ERR 503 (engine) or ERR 500 (anything else) in its place, and the rest go on", async () => {
  const sent: string[] = [];
  const failures: string[] = [];
  const pipeline = new Pipeline(owner(sent, failures), 8);
  pipeline.run(() => Promise.reject(new EngineUnavailableError("redis down")), frame, true);
  pipeline.run(() => Promise.reject(new Error("bug")), frame, true);
  pipeline.run((ctx) => ctx.replyLine("OK 1"), frame, true);
  await pipeline.idle();
  assert.deepEqual(sent, [
    "ERR 503 cluster unavailable: redis down",
    "ERR 500 internal error",
    "OK 1",
  ]);
  assert.deepEqual(failures, ["SAY"], "only the non-engine failure is logged as a bug");
});

Deno.test("Pipeline: a serial command waits for every overlapping one before it runs", async () => {
  const sent: string[] = [];
  const pipeline = new Pipeline(owner(sent), 8);
  let release = () => {};
  pipeline.run(
    (ctx) => new Promise<void>((r) => release = r).then(() => ctx.replyLine("OK say")),
    frame,
    true,
  );
  let ran = false;
  const serial = pipeline.run(
    (ctx) => {
      ran = true;
      ctx.replyLine("OK nick");
    },
    frame,
    false,
  );
  assert.ok(serial instanceof Promise);
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(ran, false);
  release();
  await serial;
  assert.deepEqual(sent, ["OK say", "OK nick"]);
});

Deno.test("Pipeline: past maxBytes of payloads in flight the reader waits too; one command always gets in", async () => {
  const sent: string[] = [];
  const pipeline = new Pipeline(owner(sent), 1000, null, 1000);
  const sized = (n: number): Frame => ({ ...frame, payload: new Uint8Array(n) });
  const releases: (() => void)[] = [];
  const slow = (n: number) => (ctx: Parameters<Parameters<Pipeline["run"]>[0]>[0]) =>
    new Promise<void>((r) => releases.push(r)).then(() => ctx.replyLine(`OK ${n}`));
  assert.equal(pipeline.run(slow(1), sized(600), true), undefined);
  const wait = pipeline.run(slow(2), sized(600), true);
  assert.ok(wait instanceof Promise, "1,200 bytes in flight, over 1,000: the reader must wait");
  assert.equal(pipeline.inFlightBytes, 1200);
  let waited = false;
  void wait.then(() => waited = true);
  releases[0]!();
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(waited, true, "600 bytes left, under the bound: the reader goes on");
  assert.equal(pipeline.inFlightBytes, 600);
  releases[1]!();
  await pipeline.idle();
  assert.equal(pipeline.inFlightBytes, 0);
  // A payload bigger than the bound alone: let in, then the reader waits until it is done.
  const big = pipeline.run(slow(3), sized(5000), true);
  assert.ok(big instanceof Promise);
  let bigDone = false;
  void big.then(() => bigDone = true);
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(bigDone, false);
  releases[2]!();
  await Promise.all([big, pipeline.idle()]); // both waiters are told
  assert.equal(bigDone, true);
  assert.deepEqual(sent, ["OK 1", "OK 2", "OK 3"]);
  // Commands answered at once count nothing.
  assert.equal(pipeline.run((ctx) => ctx.replyLine("OK 4"), sized(5000), true), undefined);
  assert.equal(pipeline.inFlightBytes, 0);
});
