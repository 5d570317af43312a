import assert from "node:assert/strict";
import fc from "fast-check";
import { jsonSyntaxError } from "./json_errors.ts";

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

Deno.test("jsonSyntaxError() names the line, column and fault of each kind of mistake", () => {
  const cases: [string, number, number, RegExp][] = [
    ['{"users": [\n  {"name": "a"},\n]}', 3, 1, /comma before \]/],
    ['{"users": [\n  {"name": "a",}\n]}', 2, 16, /comma before \}/],
    ['{"users": [\n  {"name": "a"}\n  {"name": "b"}\n]}', 3, 3, /missing , or \]/],
    ['{"users": [{"name" "a"}]}', 1, 20, /missing :/],
    ['{"users": [{"name": "a" "b": 1}]}', 1, 25, /missing , or \}/],
    ["{users: []}", 1, 2, /field name that is not in double quotes/],
    ["{\"users\": ['a']}", 1, 12, /double quotes/],
    ['{"users": [', 1, 12, /ends before the closing \]/],
    ['{"users": [{"name": "é', 1, 21, /never closed/],
    ['{"a": "x\ny"}', 1, 9, /line break inside a string/],
    ['{"a": "\\q"}', 1, 8, /unknown escape/],
    ['{"a": 01}', 1, 7, /malformed number/],
    ['{"a": 1}}', 1, 9, /after the end/],
    ["  \n", 2, 1, /empty/],
    ["\uFEFF{}", 1, 1, /unexpected character/],
  ];
  for (const [text, line, column, reason] of cases) {
    const e = jsonSyntaxError(text);
    assert.ok(e, text);
    assert.equal(parses(text), false, text);
    assert.deepEqual([e.line, e.column], [line, column], `${JSON.stringify(text)}: ${e.reason}`);
    assert.match(e.reason, reason, text);
  }
});

Deno.test("jsonSyntaxError() agrees with JSON.parse on valid JSON, its mutations and random text", () => {
  const valid = fc.oneof(fc.json(), fc.jsonValue().map((v) => JSON.stringify(v, null, 2)));
  fc.assert(fc.property(valid, (text) => jsonSyntaxError(text) === null));
  const mutated = fc.tuple(
    valid,
    fc.nat(),
    fc.nat(),
    fc.constantFrom(",", "]", "}", '"', ":", "\n", "\\", ""),
  ).map(
    ([text, at, cut, insert]) =>
      text.slice(0, at % (text.length + 1)) + insert +
      text.slice((at % (text.length + 1)) + (cut % 3)),
  );
  const anything = fc.oneof(
    mutated,
    fc.string({ unit: fc.constantFrom(...'{}[],:"\\ 0-1.eE+tnr\n\tx') }),
  );
  fc.assert(
    fc.property(anything, (text) => (jsonSyntaxError(text) === null) === parses(text)),
    { numRuns: 2000 },
  );
});
