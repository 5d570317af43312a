import assert from "node:assert/strict";
import { measures, scenarios, summary } from "./burst.ts";
import type { BurstResult } from "./load_burst.ts";
import { unitOf } from "./results.ts";

function result(got: number[], cut: string[] = []): BurstResult {
  return {
    receivers: [
      { name: "pub1", expected: 0, got: 0, outOfOrder: 0, cut: "" },
      ...got.map((g, i) => ({
        name: `sub${i + 1}`,
        expected: 1000,
        got: g,
        outOfOrder: 0,
        cut: cut[i] ?? "",
      })),
    ],
    sent: [1000],
    publisherRate: 250_000,
    longestStall: 12.5,
    ended: "complete",
    seconds: 0.01,
    selfEcho: 0,
  };
}

Deno.test("burst scenarios: four, the long one 5x, the three publishers' shares add up", () => {
  const all = scenarios(200_000);
  assert.equal(all.length, 4);
  assert.deepEqual(all[0]!.shares, [200_000]);
  assert.deepEqual(all[1]!.shares, [1_000_000]);
  assert.deepEqual(all[2]!.shares, [66_667, 66_667, 66_666]);
  assert.equal(all[2]!.membersPublish, true);
  assert.equal(all[3]!.pauseAfter, 10_000);
  assert.equal(all.filter((s) => s.pauseAfter > 0).length, 1);
});

Deno.test("burst summary: one line when all got everything, every receiver when not", () => {
  assert.match(
    summary(result([1000, 1000])),
    /^all 2 subscribers got 1,000\/1,000 in order; 0 cut;/,
  );
  const cut = summary(result([1000, 300], ["", "BYE slow consumer"]));
  assert.match(
    cut,
    /^least 30\.0%: sub1 1,000\/1,000, sub2 300\/1,000 \(cut: BYE slow consumer\); 1 cut;/,
  );
});

Deno.test("burst measures: named by scenario, with their units", () => {
  const [first] = scenarios(1000);
  const m = measures(first!, result([1000, 300], ["", "closed by the server"]));
  assert.equal(m["1→10, 1,000: least delivered"], 30);
  assert.equal(m["1→10, 1,000: connections cut"], 1);
  for (const name of Object.keys(m)) assert.notEqual(unitOf(name).unit, "", name);
  assert.equal(unitOf("1→10, 1,000: longest write stall").unit, "ms");
});
