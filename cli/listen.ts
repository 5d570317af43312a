/**
 * `switchboard listen [room...]`: prints messages as they arrive. When the server goes away it
 * reconnects like chat does, rejoins, and prints what was sent meanwhile from the rooms' logs, in
 * order and once each; when some messages are gone it says so (a `gap` line).
 *
 * @module
 */

import { ServerError } from "../lib/protocol/errors.ts";
import { LOBBY } from "../lib/protocol/limits.ts";
import { type Client, type ReconnectEvent, ReconnectingClient } from "../client/mod.ts";
import { CliError, intOption, type ParsedCli, UsageError } from "./args.ts";
import { checkRoom, formatPush, printJson, pushJson } from "./commands.ts";
import {
  describeConnectError,
  describeError,
  LoginRefusedError,
  openClient,
  serverText,
} from "./connect.ts";
import { clock, colorEnabled, makeStyles, printable, type Styles } from "./term.ts";

/**
 * `listen [room...]`: prints messages until `--count`, Ctrl-C, or a disconnection after which
 * reconnecting would not help (a final `BYE`, a refused login).
 *
 * @param p The parsed command line.
 * @returns The exit code.
 */
export async function runListen(p: ParsedCli): Promise<number> {
  const count = p.values.count === undefined ? Infinity : intOption(p, "count", 1, 1e9);
  const rooms = p.positionals.length === 0 ? [LOBBY] : p.positionals;
  for (const r of rooms) checkRoom(r, "listen to");
  const watched = new Set(rooms.map((r) => r.toLowerCase()));
  const s = makeStyles(colorEnabled(Deno.stdout));

  // The first connection takes the nick (and says so when it is in use); later ones get theirs
  // back through the reconnecting client.
  let first = true;
  const open = (): Promise<Client> =>
    openClient(p.target, { credentials: p.credentials, nick: first ? p.nick : undefined });
  const listener = new ReconnectingClient(open, {
    rooms,
    isFatal: (e) => e instanceof UsageError || e instanceof LoginRefusedError,
  });
  let client: Client;
  try {
    client = await listener.start();
  } catch (e) {
    if (e instanceof ServerError) throw describeError(e, p.target, `join room ${rooms.join(", ")}`);
    throw e;
  }
  first = false;
  await using _ = listener;
  console.error(
    `Listening on ${rooms.join(", ")} as ${client.nick} at ${p.target.label} (Ctrl-C to stop)`,
  );
  let seen = 0;
  for await (const ev of listener.events()) {
    if ("room" in ev && !watched.has(ev.room.toLowerCase())) continue;
    if (ev.type === "bye") continue;
    const shown = show(ev, p, s);
    if (shown !== null) throw shown;
    if (ev.type === "msg" || ev.type === "dm") {
      seen++;
      if (seen >= count) return 0;
    }
  }
  throw new CliError(`Stopped listening: not connected to ${p.target.label}`);
}

/** Prints one event; returns the error to end with when listening cannot go on. */
function show(ev: Exclude<ReconnectEvent, { type: "bye" }>, p: ParsedCli, s: Styles): Error | null {
  const now = new Date();
  const note = (text: string) => console.error(`${clock(now)} -- ${text}`);
  switch (ev.type) {
    case "msg":
    case "dm":
    case "joined":
    case "left":
    case "renamed":
      if (p.json) printJson(pushJson(ev, now));
      else console.log(formatPush(ev, now, s));
      return null;
    case "gap":
      if (p.json) {
        const { expected, first, epochChanged } = ev;
        printJson({
          type: "gap",
          room: ev.room,
          expected,
          first,
          epoch_changed: epochChanged,
          time: now.toISOString(),
        });
      } else {console.log(
          `${s.dim(clock(now))} ${s.dim("--")} some messages in ${ev.room} were lost`,
        );}
      return null;
    case "missed":
      if (ev.count > 0) note(`${ev.count} messages of ${ev.room} sent while disconnected follow`);
      return null;
    case "disconnected":
      if (ev.final) {
        return new CliError(
          `Stopped listening: ${p.target.label} closed the connection (${printable(ev.reason)})`,
        );
      }
      note(`Disconnected from ${p.target.label} (${printable(ev.reason)}). Reconnecting...`);
      return null;
    case "connectFailed": {
      const e = ev.error;
      const err = e instanceof CliError ? e : describeConnectError(e, p.target);
      if (ev.final) return err;
      note(err.message.replace(/ \(--host\/--port or SWITCHBOARD_URL\)$/, ""));
      return null;
    }
    case "reconnected":
      note(`Reconnected to ${p.target.label} as ${ev.nick}`);
      return null;
    case "rejoinFailed":
      note(`Cannot rejoin ${ev.room}: ${serverText(ev.error)}`);
      return null;
    case "nickGaveUp":
      note(`Cannot take nick ${ev.nick} back: still in use; listening as ${ev.current}`);
      return null;
    default:
      return null;
  }
}
