import assert from "node:assert/strict";
import { hashPassword, secretProblem, secretsEqual, verifyPassword } from "./passwords.ts";

Deno.test("hashPassword() salts every hash, and verifyPassword() accepts only the right password", async () => {
  const a = await hashPassword("correct-horse", { ln: 10 });
  const b = await hashPassword("correct-horse", { ln: 10 });
  assert.notEqual(a, b);
  assert.match(a, /^\$scrypt\$ln=10,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
  assert.equal(await verifyPassword("correct-horse", a), true);
  assert.equal(await verifyPassword("correct-horse", b), true);
  assert.equal(await verifyPassword("correct-horsE", a), false);
  assert.equal(await verifyPassword("", a), false);
  assert.equal(await verifyPassword("correct-horse", "$scrypt$garbage"), false);
  assert.equal(await verifyPassword("correct-horse", a.replace("ln=10", "ln=11")), false);
});

Deno.test("the default hash cost is scrypt N=2^15, r=8, p=1", async () => {
  assert.match(await hashPassword("x-password"), /^\$scrypt\$ln=15,r=8,p=1\$/);
});

Deno.test("secretsEqual() compares secrets of any length", () => {
  assert.equal(secretsEqual("abc", "abc"), true);
  assert.equal(secretsEqual("abc", "abd"), false);
  assert.equal(secretsEqual("abc", "abcd"), false);
  assert.equal(secretsEqual("", "x"), false);
});

Deno.test("secretProblem() wants one word of at most 1024 bytes", () => {
  assert.equal(secretProblem("p@ss:w0rd!"), null);
  assert.match(secretProblem("two words")!, /one word/);
  assert.match(secretProblem("tab\there")!, /one word/);
  assert.match(secretProblem("")!, /empty/);
  assert.match(secretProblem("é".repeat(513))!, /longer than 1024 bytes/);
});
