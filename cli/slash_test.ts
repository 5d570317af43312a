import assert from "node:assert/strict";
import { parseChatLine, SLASH_COMMANDS, SLASH_HELP, SLASH_LINES, splitMessage } from "./slash.ts";
import { COMMAND_HELP } from "./help.ts";

Deno.test("parseChatLine() finds every name and alias of the table, in any case", () => {
  for (const c of SLASH_COMMANDS) {
    for (const n of c.names) {
      const line = parseChatLine(`/${n.toUpperCase()} a  b `);
      assert.deepEqual(line, { kind: "command", name: c.names[0], args: ["a", "b"], rest: "a  b" });
    }
  }
  assert.deepEqual(parseChatLine("/rooms"), { kind: "command", name: "rooms", args: [], rest: "" });
});

Deno.test("parseChatLine() sends plain lines and // lines to the room, and skips blank ones", () => {
  assert.deepEqual(parseChatLine("hi // not a command"), {
    kind: "say",
    text: "hi // not a command",
  });
  assert.deepEqual(parseChatLine("//slash at the start\r"), {
    kind: "say",
    text: "/slash at the start",
  });
  assert.deepEqual(parseChatLine("  \r"), { kind: "blank" });
  assert.deepEqual(parseChatLine("/Frob x"), { kind: "unknown", command: "frob" });
});

Deno.test("splitMessage() keeps the text as typed after the nick", () => {
  assert.deepEqual(splitMessage("bob hi  there"), { nick: "bob", text: "hi  there" });
  assert.deepEqual(splitMessage("bob"), { nick: "bob", text: "" });
  assert.deepEqual(splitMessage(""), { nick: undefined, text: "" });
});

Deno.test("the slash help is one text: /help and chat --help list the same lines", () => {
  const lines = SLASH_HELP.split("\n");
  assert.equal(lines[0], "Commands:");
  assert.equal(lines.length, SLASH_COMMANDS.length + 2);
  assert.match(SLASH_HELP, /^ {2}\/join ROOM {8}join a room/m);
  assert.ok(COMMAND_HELP.chat!.includes(`Slash commands:\n${SLASH_LINES}\n`));
});

Deno.test("parseChatLine() reads a lone slash, or one followed by a space, as an unknown command", () => {
  assert.deepEqual(parseChatLine("/ x"), { kind: "unknown", command: "" });
  assert.deepEqual(parseChatLine("/"), { kind: "unknown", command: "" });
});
