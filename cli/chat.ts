/**
 * `switchboard chat`: interactive chat. Line editing and history come from `node:readline`;
 * incoming messages are printed above the line being typed, which is redrawn as it was. When the
 * server goes away, chat reconnects with backoff, takes its nick back and rejoins its rooms.
 *
 * With standard input not a terminal, it reads one line per command, prints plain lines, and
 * quits at the end of input, so it can be scripted and tested.
 *
 * @module
 */

import process from "node:process";
import * as readline from "node:readline";
import { backoff } from "../lib/backoff.ts";
import { ServerError } from "../lib/protocol/errors.ts";
import { isValidNick, isValidRoom, LOBBY } from "../lib/protocol/limits.ts";
import type { Client } from "../client/client.ts";
import { CliError, type ParsedCli, UsageError } from "./args.ts";
import { describeConnectError, openClient, serverText } from "./connect.ts";
import { ago, bestTimeSample, describeOffset, formatPush } from "./commands.ts";
import {
  clock,
  colorEnabled,
  isTerminal,
  makeStyles,
  printable,
  promptSecret,
  type Styles,
  visibleWidth,
} from "./term.ts";

/** The slash commands, as `/help` prints them. */
export const SLASH_HELP = `Commands:
  /join ROOM        join a room and talk in it (also switches to a room already joined)
  /leave [ROOM]     leave a room (default: the current one)
  /msg NICK TEXT    direct message
  /who [ROOM]       who is online, or in a room
  /rooms            rooms and member counts
  /nick NAME        change nick
  /time             the server's time and this clock's offset
  /help             this list
  /quit             leave (Ctrl-D too)
Anything else goes to the current room (start with // to send a line that begins with /).`;

/** Where text goes: above the input line on a terminal, plain lines otherwise. */
class Screen {
  readonly #tty: boolean;
  #rl: readline.Interface | null = null;
  readonly #enc = new TextEncoder();

  constructor(tty: boolean) {
    this.#tty = tty;
  }

  attach(rl: readline.Interface): void {
    this.#rl = rl;
  }

  /** Prints a line above what is being typed, then redraws the prompt and the typed text. */
  print(line: string): void {
    const rl = this.#rl;
    if (!this.#tty || rl === null) {
      const bytes = this.#enc.encode(line + "\n");
      for (let off = 0; off < bytes.length;) off += Deno.stdout.writeSync(bytes.subarray(off));
      return;
    }
    const out = process.stdout;
    const rows = rl.getCursorPos().rows;
    if (rows > 0) readline.moveCursor(out, 0, -rows);
    readline.cursorTo(out, 0);
    readline.clearScreenDown(out);
    out.write(line + "\n");
    // readline redraws by first moving up to where it drew the prompt last time; the cursor is
    // already on the prompt's first row, so tell it so (Node's and Deno's readline keep that
    // row count in `prevRows`).
    (rl as unknown as { prevRows?: number }).prevRows = 0;
    rl.prompt(true);
  }

  /** Erases the line readline echoed when Enter was pressed (it is printed again, formatted). */
  eraseEcho(prompt: string, line: string): void {
    if (!this.#tty) return;
    const cols = process.stdout.columns || 80;
    const width = visibleWidth(prompt + line);
    const rows = Math.max(1, Math.ceil(width / cols));
    readline.moveCursor(process.stdout, 0, -rows);
    readline.cursorTo(process.stdout, 0);
    readline.clearScreenDown(process.stdout);
  }
}

/** One chat session: the connection, the rooms, the nick, and the input loop. */
class ChatSession {
  readonly #p: ParsedCli;
  readonly #s: Styles;
  readonly #screen: Screen;
  readonly #tty: boolean;
  #client: Client | null = null;
  #rl: readline.Interface | null = null;
  /** Rooms joined besides lobby, as the server spells them. */
  readonly #rooms = new Map<string, string>();
  #current: string = LOBBY;
  #nick: string | undefined;
  #quitting = false;
  #password: string | undefined;
  #wake: (() => void) | null = null;
  readonly #lines: string[] = [];
  #lineWaiter: (() => void) | null = null;
  #inputEnded = false;
  #finished!: () => void;
  readonly finished = new Promise<void>((resolve) => this.#finished = resolve);

  constructor(p: ParsedCli, tty: boolean) {
    this.#p = p;
    this.#tty = tty;
    this.#s = makeStyles(tty && colorEnabled(Deno.stdout));
    this.#screen = new Screen(tty);
    this.#nick = p.nick;
  }

  get #label(): string {
    return this.#p.target.label;
  }

  #info(text: string): void {
    this.#screen.print(`${this.#s.dim(clock())} ${this.#s.dim("--")} ${text}`);
  }

  #error(text: string): void {
    this.#screen.print(`${this.#s.dim(clock())} ${this.#s.red("!!")} ${printable(text)}`);
  }

  #promptText(): string {
    return `${this.#client === null ? "(offline) " : ""}${this.#current}> `;
  }

  #refreshPrompt(): void {
    if (this.#rl === null) return;
    this.#rl.setPrompt(this.#promptText());
    if (this.#tty) this.#rl.prompt(true);
  }

  async #connect(): Promise<Client> {
    const creds = this.#p.credentials;
    return await openClient(this.#p.target, {
      credentials: creds.kind === "password" && this.#password !== undefined
        ? { ...creds, password: this.#password }
        : creds,
      askPassword: async (q) => this.#password = await promptSecret(q),
    });
  }

  /** Connects the first time: failures end the command. */
  async start(room: string): Promise<void> {
    const client = await this.#connect();
    try {
      if (this.#nick !== undefined) await client.setNick(this.#nick);
      if (room.toLowerCase() !== LOBBY) {
        this.#rooms.set(room.toLowerCase(), await client.join(room));
      }
    } catch (e) {
      client.close();
      throw e;
    }
    this.#nick = client.nick;
    this.#current = this.#rooms.get(room.toLowerCase()) ?? LOBBY;
    this.#client = client;
    this.#info(
      `Connected to ${this.#label} as ${this.#s.nick(client.nick)}; talking in ${
        this.#s.cyan(this.#current)
      }. ` +
        `Type /help for commands${this.#tty ? ", Ctrl-D to quit" : ""}`,
    );
    void this.#pump(client);
  }

  /** Prints pushes until the connection closes, then reconnects unless quitting. */
  async #pump(client: Client): Promise<void> {
    let bye = "";
    for await (const m of client.messages()) {
      if (m.type === "bye") {
        bye = m.reason;
        this.#info(`The server says goodbye: ${printable(m.reason)}`);
        continue;
      }
      this.#screen.print(formatPush(m, new Date(), this.#s));
    }
    if (this.#client === client) this.#client = null;
    if (this.#quitting) return;
    this.#refreshPrompt();
    const why = bye !== "" ? bye : "connection lost";
    this.#info(this.#s.yellow(`Disconnected from ${this.#label} (${why}). Reconnecting...`));
    await this.#reconnect();
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = null;
        resolve();
      }, ms);
      this.#wake = () => {
        clearTimeout(timer);
        this.#wake = null;
        resolve();
      };
    });
  }

  async #reconnect(): Promise<void> {
    for (let attempt = 0; !this.#quitting; attempt++) {
      const delay = backoff(attempt, { base: 250, max: 10_000 });
      if (attempt > 0) {
        this.#info(
          this.#s.yellow(`Reconnecting in ${(delay / 1000).toFixed(1)} s (attempt ${attempt + 1})`),
        );
      }
      await this.#sleep(delay);
      if (this.#quitting) return;
      let client: Client;
      try {
        client = await this.#connect();
      } catch (e) {
        const err = e instanceof UsageError || e instanceof CliError
          ? e
          : describeConnectError(e, this.#p.target);
        this.#info(
          this.#s.yellow(err.message.replace(/ \(--host\/--port or SWITCHBOARD_URL\)$/, "")),
        );
        if (e instanceof UsageError) return;
        continue;
      }
      if (this.#quitting) {
        client.close();
        return;
      }
      const rejoined: string[] = [];
      let nickTaken = false;
      try {
        if (this.#nick !== undefined && client.nick.toLowerCase() !== this.#nick.toLowerCase()) {
          try {
            await client.setNick(this.#nick);
          } catch (e) {
            if (!(e instanceof ServerError)) throw e;
            nickTaken = true;
          }
        }
        for (const [key, name] of this.#rooms) {
          try {
            this.#rooms.set(key, await client.join(name));
            rejoined.push(name);
          } catch (e) {
            if (!(e instanceof ServerError)) throw e;
            this.#error(`Cannot rejoin ${name}: ${serverText(e)}`);
            this.#rooms.delete(key);
          }
        }
      } catch {
        client.close();
        continue;
      }
      if (!this.#rooms.has(this.#current.toLowerCase())) this.#current = LOBBY;
      this.#client = client;
      this.#info(
        this.#s.green(`Reconnected to ${this.#label} as ${client.nick}`) +
          (rejoined.length > 0 ? `; rejoined ${rejoined.join(", ")}` : ""),
      );
      this.#refreshPrompt();
      void this.#pump(client);
      if (nickTaken) void this.#takeNickBack(client);
      return;
    }
  }

  /** After a reconnect: the old connection may linger on the server a while, so retry 409. */
  async #takeNickBack(client: Client): Promise<void> {
    const want = this.#nick;
    if (want === undefined || client.nick.toLowerCase() === want.toLowerCase()) return;
    for (let attempt = 0; attempt < 8 && !client.closed && this.#client === client; attempt++) {
      try {
        await client.setNick(want);
        this.#info(`You are ${this.#s.nick(client.nick)} again`);
        return;
      } catch (e) {
        if (!(e instanceof ServerError) || e.code !== 409) {
          if (e instanceof ServerError) {
            this.#error(`Cannot take nick ${want} back: ${serverText(e)}`);
          }
          return;
        }
        if (attempt === 0) {
          this.#info(`Nick ${want} is still taken (the old connection lingers); retrying`);
        }
        await this.#sleep(backoff(attempt, { base: 500, max: 8000 }));
      }
    }
    if (!client.closed && this.#client === client) {
      this.#error(
        `Cannot take nick ${want} back: still in use; you are ${client.nick} (use /nick to try again)`,
      );
    }
  }

  /** Reads input lines until /quit or the end of input. */
  async run(): Promise<void> {
    const rl = readline.createInterface({
      input: process.stdin,
      output: this.#tty ? process.stdout : undefined,
      terminal: this.#tty,
      historySize: 1000,
      prompt: this.#promptText(),
    });
    this.#rl = rl;
    this.#screen.attach(rl);
    rl.on("line", (line: string) => {
      if (this.#tty) {
        this.#screen.eraseEcho(rl.getPrompt(), line);
        rl.prompt();
      }
      this.#lines.push(line);
      this.#lineWaiter?.();
    });
    rl.on("close", () => {
      this.#inputEnded = true;
      this.#lineWaiter?.();
    });
    rl.on("SIGINT", () => {
      if (rl.line !== "") {
        // Ctrl-C with text typed: drop the text and start history over, like a shell.
        const state = rl as unknown as { line: string; cursor: number; historyIndex: number };
        state.line = "";
        state.cursor = 0;
        state.historyIndex = -1;
        rl.prompt(false);
      } else {
        this.#inputEnded = true;
        this.#lines.length = 0;
        this.#lines.push("/quit");
        this.#lineWaiter?.();
      }
    });
    if (this.#tty) rl.prompt();
    for (;;) {
      while (this.#lines.length === 0 && !this.#inputEnded) {
        await new Promise<void>((resolve) => this.#lineWaiter = resolve);
        this.#lineWaiter = null;
      }
      const line = this.#lines.shift();
      if (line === undefined) break;
      if (!(await this.#handle(line))) break;
    }
    await this.#quit();
    if (this.#tty) {
      // Leave the terminal clean: no half-drawn prompt before the shell's.
      readline.cursorTo(process.stdout, 0);
      readline.clearScreenDown(process.stdout);
    }
    rl.close();
  }

  async #quit(): Promise<void> {
    this.#quitting = true;
    this.#wake?.();
    const client = this.#client;
    this.#client = null;
    if (client !== null) {
      await Promise.race([client.quit(), new Promise((r) => setTimeout(r, 2000))]);
      client.close();
    }
    this.#finished();
  }

  #needClient(what: string): Client | null {
    if (this.#client === null || this.#client.closed) {
      this.#error(`Cannot ${what}: not connected to ${this.#label} (reconnecting)`);
      return null;
    }
    return this.#client;
  }

  #fail(what: string, e: unknown): void {
    if (e instanceof ServerError) this.#error(`Cannot ${what}: ${serverText(e)} (${e.code})`);
    else this.#error(`Cannot ${what}: ${(e as Error).message}`);
  }

  /** Handles one input line; false to stop. */
  async #handle(raw: string): Promise<boolean> {
    const line = raw.replace(/\r$/, "");
    if (line.trim() === "") return true;
    if (!line.startsWith("/") || line.startsWith("//")) {
      await this.#say(line.startsWith("//") ? line.slice(1) : line);
      return true;
    }
    const m = /^\/(\S+)\s*(.*)$/.exec(line)!;
    const cmd = m[1]!.toLowerCase();
    const rest = m[2]!.trim();
    const args = rest === "" ? [] : rest.split(/\s+/);
    switch (cmd) {
      case "quit":
      case "exit":
      case "q":
        return false;
      case "help":
      case "h":
      case "?":
        for (const l of SLASH_HELP.split("\n")) this.#screen.print(l);
        return true;
      case "join":
      case "j":
        await this.#join(args[0]);
        return true;
      case "leave":
      case "part":
        await this.#leave(args[0]);
        return true;
      case "msg":
      case "tell": {
        const nick = args[0];
        const text = rest.slice(nick?.length ?? 0).replace(/^\s+/, "");
        if (nick === undefined || text === "") {
          this.#error("Cannot send a direct message: usage /msg NICK TEXT");
          return true;
        }
        await this.#tell(nick, text);
        return true;
      }
      case "who":
        await this.#who(args[0]);
        return true;
      case "rooms":
        await this.#listRooms();
        return true;
      case "nick":
        await this.#setNick(args[0]);
        return true;
      case "time":
        await this.#time();
        return true;
      default:
        this.#error(
          `Unknown command /${cmd}: type /help for the list (// sends a line starting with /)`,
        );
        return true;
    }
  }

  async #say(text: string): Promise<void> {
    const client = this.#needClient(`send to ${this.#current}`);
    if (client === null) return;
    const room = this.#current;
    try {
      await client.say(room, text);
      this.#screen.print(
        formatPush(
          { type: "msg", room, from: client.nick, payload: new Uint8Array(), text },
          new Date(),
          this.#s,
        ),
      );
    } catch (e) {
      this.#fail(`send to ${room}`, e);
    }
  }

  async #tell(nick: string, text: string): Promise<void> {
    if (!isValidNick(nick)) {
      return this.#error(`Cannot send a direct message to "${nick}": not a nick`);
    }
    const client = this.#needClient(`send a direct message to ${nick}`);
    if (client === null) return;
    try {
      await client.tell(nick, text);
      this.#screen.print(`${this.#s.dim(clock())} -> *${this.#s.nick(nick)}* ${text}`);
    } catch (e) {
      if (e instanceof ServerError && e.code === 404) {
        this.#error(`Cannot send a direct message to ${nick}: nobody has that nick`);
      } else this.#fail(`send a direct message to ${nick}`, e);
    }
  }

  async #join(room: string | undefined): Promise<void> {
    if (room === undefined) return this.#error("Cannot join: usage /join ROOM");
    if (!isValidRoom(room)) {
      return this.#error(`Cannot join "${room}": a room name is 1-64 of A-Z a-z 0-9 _ - .`);
    }
    const key = room.toLowerCase();
    const known = key === LOBBY ? LOBBY : this.#rooms.get(key);
    if (known !== undefined) {
      this.#current = known;
      this.#info(`Talking in ${this.#s.cyan(known)}`);
      this.#refreshPrompt();
      return;
    }
    const client = this.#needClient(`join ${room}`);
    if (client === null) return;
    try {
      const name = await client.join(room);
      this.#rooms.set(key, name);
      this.#current = name;
      this.#info(`Joined ${this.#s.cyan(name)}; talking in it now`);
      this.#refreshPrompt();
    } catch (e) {
      this.#fail(`join ${room}`, e);
    }
  }

  async #leave(room: string | undefined): Promise<void> {
    const target = room ?? this.#current;
    const key = target.toLowerCase();
    if (key === LOBBY) {
      return this.#error("Cannot leave lobby: everybody is in it while connected (/quit to leave)");
    }
    const name = this.#rooms.get(key);
    if (name === undefined) return this.#error(`Cannot leave ${target}: not joined`);
    const client = this.#needClient(`leave ${target}`);
    if (client === null) return;
    try {
      await client.leave(name);
    } catch (e) {
      if (!(e instanceof ServerError && e.code === 404)) return this.#fail(`leave ${name}`, e);
    }
    this.#rooms.delete(key);
    if (this.#current.toLowerCase() === key) {
      this.#current = [...this.#rooms.values()].at(-1) ?? LOBBY;
    }
    this.#info(`Left ${this.#s.cyan(name)}; talking in ${this.#s.cyan(this.#current)}`);
    this.#refreshPrompt();
  }

  async #who(room: string | undefined): Promise<void> {
    const client = this.#needClient("list who is online");
    if (client === null) return;
    try {
      const entries = await client.who(room);
      entries.sort((a, b) => a.nick.toLowerCase().localeCompare(b.nick.toLowerCase()));
      const now = Date.now();
      this.#info(`${entries.length} ${room === undefined ? "online" : `in ${room}`}:`);
      for (const e of entries) {
        this.#screen.print(
          `   ${this.#s.nick(e.nick)} (${ago(e.since, now)}) ${this.#s.dim(e.rooms.join(" "))}`,
        );
      }
    } catch (e) {
      this.#fail(room === undefined ? "list who is online" : `list who is in ${room}`, e);
    }
  }

  async #listRooms(): Promise<void> {
    const client = this.#needClient("list rooms");
    if (client === null) return;
    try {
      const rooms = await client.rooms();
      rooms.sort((a, b) => a.room.toLowerCase().localeCompare(b.room.toLowerCase()));
      this.#info(`${rooms.length} room${rooms.length === 1 ? "" : "s"}:`);
      for (const r of rooms) this.#screen.print(`   ${this.#s.cyan(r.room)} (${r.members})`);
    } catch (e) {
      this.#fail("list rooms", e);
    }
  }

  async #setNick(nick: string | undefined): Promise<void> {
    if (nick === undefined) return this.#error("Cannot change nick: usage /nick NAME");
    if (!isValidNick(nick)) {
      return this.#error(`Cannot take nick "${nick}": a nick is 1-32 of A-Z a-z 0-9 _ -`);
    }
    const client = this.#needClient(`take nick ${nick}`);
    if (client === null) return;
    try {
      const got = await client.setNick(nick);
      this.#nick = got;
      this.#info(`You are ${this.#s.nick(got)} now`);
    } catch (e) {
      if (e instanceof ServerError && e.code === 409) {
        this.#error(`Cannot take nick ${nick}: it is in use`);
      } else this.#fail(`take nick ${nick}`, e);
    }
  }

  async #time(): Promise<void> {
    const client = this.#needClient("ask the time");
    if (client === null) return;
    try {
      const best = await bestTimeSample(client, 4);
      this.#info(`Server time ${best.iso}; offset ${describeOffset(best)}`);
    } catch (e) {
      this.#fail("ask the time", e);
    }
  }
}

/**
 * Runs `switchboard chat`.
 *
 * @param p The parsed command line.
 * @returns The exit code.
 */
export async function runChat(p: ParsedCli): Promise<number> {
  if (p.positionals.length > 0) {
    throw new UsageError(
      `Cannot start chat: unexpected "${p.positionals[0]}" (use --room ROOM to pick a room)`,
    );
  }
  const room = (p.values.room as string | undefined) ?? LOBBY;
  if (!isValidRoom(room)) {
    throw new UsageError(`Cannot join room "${room}": a room name is 1-64 of A-Z a-z 0-9 _ - .`);
  }
  if (p.nick !== undefined && !isValidNick(p.nick)) {
    throw new UsageError(`Cannot take nick "${p.nick}": a nick is 1-32 of A-Z a-z 0-9 _ -`);
  }
  const tty = isTerminal(Deno.stdin) && isTerminal(Deno.stdout);
  const session = new ChatSession(p, tty);
  try {
    await session.start(room);
  } catch (e) {
    if (e instanceof ServerError && e.code === 409) {
      throw new CliError(
        `Cannot take nick "${p.nick}": it is in use on ${p.target.label}. Pick another with --nick`,
      );
    }
    if (e instanceof ServerError) {
      throw new CliError(`Cannot join room "${room}": ${serverText(e)} (${e.code})`);
    }
    throw e;
  }
  await session.run();
  await session.finished;
  return 0;
}
