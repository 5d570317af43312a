import assert from "node:assert/strict";
import { AbuseGuard, addressKey, peerHost } from "./abuse_guard.ts";

Deno.test("peerHost() takes the host out of host:port and [v6]:port", () => {
  assert.equal(peerHost("127.0.0.1:5000"), "127.0.0.1");
  assert.equal(peerHost("[::1]:5000"), "::1");
  assert.equal(peerHost("[2001:db8::7]:80"), "2001:db8::7");
  assert.equal(peerHost("nohost"), "nohost");
});

Deno.test("addressKey() keeps IPv4, unwraps IPv4-mapped IPv6, and groups other IPv6 by /64", () => {
  assert.equal(addressKey("10.0.0.1"), "10.0.0.1");
  assert.equal(addressKey("::ffff:10.0.0.1"), "10.0.0.1");
  assert.equal(addressKey("0:0:0:0:0:ffff:10.0.0.1"), "10.0.0.1");
  assert.equal(addressKey("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
  assert.equal(addressKey("2001:DB8:1:2::9"), "2001:db8:1:2::/64");
  assert.equal(addressKey("2001:db8::1"), "2001:db8:0:0::/64");
  assert.equal(addressKey("::1"), "0:0:0:0::/64");
  assert.equal(addressKey("fe80::1%eth0"), "fe80:0:0:0::/64");
  assert.equal(addressKey("2001:0db8:0001:0002::1"), addressKey("2001:db8:1:2::ffff"));
  assert.notEqual(addressKey("2001:db8:1:2::1"), addressKey("2001:db8:1:3::1"));
});

Deno.test("admit() lets --conn-rate connections in at once, refuses the next naming the limit, and refills with time", () => {
  const g = new AbuseGuard({ connRate: 3 });
  for (let i = 0; i < 3; i++) assert.equal(g.admit("10.0.0.1", 1000), null);
  assert.equal(
    g.admit("10.0.0.1", 1000),
    "Too many connections from your address: over --conn-rate 3/s",
  );
  assert.equal(g.admit("10.0.0.2", 1000), null, "another address has its own bucket");
  assert.notEqual(g.admit("10.0.0.1", 1300), null, "0.9 of a token after 300 ms");
  assert.equal(g.admit("10.0.0.1", 1340), null, "a token after 340 ms");
  assert.notEqual(g.admit("10.0.0.1", 1340), null);
  assert.equal(g.admit("10.0.0.1", 5000), null, "full again after a pause");
});

Deno.test("admit() counts two IPv6 addresses of one /64 together", () => {
  const g = new AbuseGuard({ connRate: 1 });
  assert.equal(g.admit("2001:db8:1:2::1", 0), null);
  assert.notEqual(g.admit("2001:db8:1:2::abcd", 0), null);
  assert.equal(g.admit("2001:db8:1:3::1", 0), null);
});

Deno.test("admit() with connRate 0 never refuses for rate", () => {
  const g = new AbuseGuard({ connRate: 0 });
  for (let i = 0; i < 10_000; i++) assert.equal(g.admit("10.0.0.1", 0), null);
  assert.equal(g.size, 0, "nothing is remembered");
});

Deno.test("authFailed() bans after more than N failures within a minute; older failures do not count", () => {
  const g = new AbuseGuard({ authFailuresPerMinute: 3, authBan: 10_000 });
  assert.equal(g.authFailed("10.0.0.1", 0), false);
  assert.equal(g.authFailed("10.0.0.1", 1000), false);
  assert.equal(g.authFailed("10.0.0.1", 2000), false);
  // The first failure is now more than a minute old: still three in the window.
  assert.equal(g.authFailed("10.0.0.1", 60_500), false);
  assert.equal(g.bannedFor("10.0.0.1", 60_500), 0);
  assert.equal(g.authFailed("10.0.0.1", 60_900), true, "four within 1000..60900");
  assert.equal(g.bannedFor("10.0.0.1", 60_900), 10_000);
  assert.equal(g.bannedFor("10.0.0.2", 60_900), 0);
  assert.equal(
    g.admit("10.0.0.1", 62_000),
    "Too many failed logins from your address: over --auth-failures-per-minute 3; refused for 9 s more",
  );
  assert.equal(g.bannedFor("10.0.0.1", 70_900), 0, "the ban ends");
  assert.equal(g.admit("10.0.0.1", 71_000), null);
});

Deno.test("sweep() forgets expired bans, old failures and full buckets", () => {
  const g = new AbuseGuard({ connRate: 2, authFailuresPerMinute: 1, authBan: 1000 });
  g.admit("10.0.0.1", 0);
  g.authFailed("10.0.0.2", 0);
  g.authFailed("10.0.0.3", 0);
  g.authFailed("10.0.0.3", 0);
  assert.equal(g.size, 3);
  g.sweep(100);
  assert.equal(g.size, 3, "all still matter at 100 ms");
  g.sweep(61_000);
  assert.equal(g.size, 0);
});

Deno.test("maxAddresses bounds memory: the oldest addresses are forgotten first", () => {
  const g = new AbuseGuard({ authFailuresPerMinute: 5, maxAddresses: 100 });
  for (let i = 0; i < 1000; i++) g.authFailed(`10.0.${i >> 8}.${i & 255}`, 0);
  assert.equal(g.size, 100);
});

Deno.test("AbuseGuard refuses negative options with a RangeError naming them", () => {
  assert.throws(() => new AbuseGuard({ connRate: -1 }), /connRate must be a non-negative number/);
  assert.throws(() => new AbuseGuard({ authBan: Number.NaN }), /authBan/);
});
