/**
 * Where a JSON text breaks, for error messages: `JSON.parse` names the position of some faults
 * only (a trailing comma gets none) and quotes the text around it, which in a users file means
 * quoting password hashes. This scanner accepts exactly what `JSON.parse` accepts and names the
 * line, the column and the fault without quoting anything but one structural character.
 *
 * @module
 */

/** Where and why a JSON text is invalid. */
export interface JsonSyntaxError {
  /** Offset of the fault, in UTF-16 code units from the start of the text. */
  offset: number;
  /** Line of the fault, from 1. */
  line: number;
  /** Column of the fault, from 1, in characters (code points). */
  column: number;
  /** What is wrong there, in a few words that never quote the text. */
  reason: string;
}

type Mode = "value" | "key" | "after";

/**
 * Finds the first syntax error of a JSON text.
 *
 * @param text The text.
 * @returns The error, or `null` when `JSON.parse(text)` succeeds.
 * @example
 * ```ts
 * import { jsonSyntaxError } from "./json_errors.ts";
 * const e = jsonSyntaxError('{"users": [\n  {"name": "a"},\n]}');
 * console.assert(e?.line === 3 && e.column === 1, e?.reason);
 * console.assert(jsonSyntaxError('{"users": []}') === null);
 * ```
 */
export function jsonSyntaxError(text: string): JsonSyntaxError | null {
  const n = text.length;
  const stack: string[] = [];
  let i = 0;
  let mode: Mode = "value";
  let afterComma = false;
  const fail = (at: number, reason: string): JsonSyntaxError => {
    const before = text.slice(0, at);
    const lineStart = before.lastIndexOf("\n") + 1;
    return {
      offset: at,
      line: before.split("\n").length,
      column: [...before.slice(lineStart)].length + 1,
      reason,
    };
  };
  const skipSpace = () => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
      i++;
    }
  };
  /** Scans the string at `i` (a `"`); null when it is well formed, else the error. */
  const scanString = (): JsonSyntaxError | null => {
    const start = i++;
    for (;;) {
      if (i >= n) return fail(start, 'a string that is never closed (a missing ")');
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return null;
      }
      if (c < 0x20) return fail(i, "a control character or line break inside a string");
      if (c === 0x5c) {
        const e = text[i + 1];
        if (e === "u") {
          if (!/^[0-9A-Fa-f]{4}$/.test(text.slice(i + 2, i + 6))) {
            return fail(i, "a \\u escape without 4 hex digits");
          }
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else return fail(i, "an unknown escape (a \\ must be written \\\\)");
      } else i++;
    }
  };
  const number = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

  for (;;) {
    skipSpace();
    if (mode === "after" && stack.length === 0) {
      return i < n ? fail(i, "more text after the end of the JSON value") : null;
    }
    if (i >= n) {
      if (mode === "value" && stack.length === 0) return fail(i, "the text is empty");
      return fail(i, `the text ends before the closing ${stack.at(-1) === "{" ? "}" : "]"}`);
    }
    const c = text[i]!;
    if (mode === "value") {
      if (c === "{" || c === "[") {
        stack.push(c);
        i++;
        skipSpace();
        const close = c === "{" ? "}" : "]";
        if (text[i] === close) {
          i++;
          stack.pop();
          mode = "after";
        } else mode = c === "{" ? "key" : "value";
        afterComma = false;
        continue;
      }
      mode = "after";
      if (c === '"') {
        const e = scanString();
        if (e) return e;
        continue;
      }
      if (c === "-" || (c >= "0" && c <= "9")) {
        number.lastIndex = i;
        const m = number.exec(text);
        const end = m ? i + m[0].length : i;
        const next = text[end];
        if (!m || (next !== undefined && /[0-9.eE+-]/.test(next))) {
          return fail(i, "a malformed number");
        }
        i = end;
        continue;
      }
      const word = ["true", "false", "null"].find((w) => text.startsWith(w, i));
      if (word !== undefined) {
        i += word.length;
        continue;
      }
      if (afterComma && (c === "]" || c === "}")) {
        return fail(i, `a comma before ${c} (JSON allows none after the last entry)`);
      }
      return fail(
        i,
        /[A-Za-z_']/.test(c)
          ? "a value that is not JSON (strings need double quotes)"
          : `an unexpected ${c === "," || c === ":" ? c : "character"} where a value should be`,
      );
    }
    if (mode === "key") {
      if (c !== '"') {
        if (afterComma && c === "}") {
          return fail(i, "a comma before } (JSON allows none after the last field)");
        }
        return fail(i, "a field name that is not in double quotes");
      }
      const e = scanString();
      if (e) return e;
      skipSpace();
      if (text[i] !== ":") return fail(i, "a missing : after a field name");
      i++;
      mode = "value";
      afterComma = false;
      continue;
    }
    // After a value inside an array or object.
    const inObject = stack.at(-1) === "{";
    if (c === ",") {
      i++;
      mode = inObject ? "key" : "value";
      afterComma = true;
    } else if (c === (inObject ? "}" : "]")) {
      i++;
      stack.pop();
      afterComma = false;
    } else {
      return fail(
        i,
        inObject ? "a missing , or } after a field" : "a missing , or ] after an array element",
      );
    }
  }
}
