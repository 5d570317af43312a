import assert from "node:assert/strict";
import { AbuseGuard, type LoginReservation } from "./abuse_guard.ts";

function reserved(r: LoginReservation | string): LoginReservation {
  assert.notEqual(typeof r, "string", `a reservation, got ${JSON.stringify(r)}`);
  return r as LoginReservation;
}

Deno.test("reserve() counts attempts in flight: at most N+1 at once, the next refused naming the limit", () => {
  const g = new AbuseGuard({ authFailuresPerMinute: 3 });
  const held = [0, 1, 2, 3].map(() => reserved(g.reserve("10.0.0.1", 0)));
  assert.equal(
    g.reserve("10.0.0.1", 0),
    "Too many logins from your address: failed and pending ones are over --auth-failures-per-minute 3; try again in a moment",
  );
  assert.notEqual(typeof g.reserve("10.0.0.2", 0), "string", "another address has its own budget");
  // Three failures fit the budget; the fourth gets the address banned.
  assert.equal(held[0]!.fail(1), false);
  assert.equal(held[1]!.fail(1), false);
  assert.equal(held[2]!.fail(1), false);
  assert.equal(held[3]!.fail(1), true);
  assert.match(g.reserve("10.0.0.1", 2) as string, /^Too many failed logins from your address/);
});

Deno.test("reserve(): a success gives its place back; settling twice counts once", () => {
  const g = new AbuseGuard({ authFailuresPerMinute: 1 });
  const a = reserved(g.reserve("10.0.0.1", 0));
  const b = reserved(g.reserve("10.0.0.1", 0));
  assert.equal(typeof g.reserve("10.0.0.1", 0), "string");
  a.release();
  a.release();
  const c = reserved(g.reserve("10.0.0.1", 0));
  assert.equal(typeof g.reserve("10.0.0.1", 0), "string");
  b.release();
  c.release();
  assert.equal(g.size, 0, "nothing pending is remembered");
  // Failures of the last minute count with the pending ones; older ones do not.
  const f = reserved(g.reserve("10.0.0.1", 0));
  assert.equal(f.fail(0), false);
  assert.equal(f.fail(0), false, "a second fail() does nothing");
  reserved(g.reserve("10.0.0.1", 10));
  assert.equal(typeof g.reserve("10.0.0.1", 10), "string");
  assert.notEqual(typeof g.reserve("10.0.0.1", 60_000), "string");
});
