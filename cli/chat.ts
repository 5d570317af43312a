/**
 * `switchboard chat`: interactive chat. Line editing and history come from `node:readline`;
 * incoming messages are printed above the line being typed, which is redrawn as it was. When the
 * server goes away, chat reconnects with backoff, takes its nick back, rejoins its rooms and shows
 * what was said meanwhile (or that some of it is gone). A room joined shows its last messages.
 *
 * With standard input not a terminal, it reads one line per command, prints plain lines, and
 * quits at the end of input, so it can be scripted and tested.
 *
 * @module
 */

import process from "node:process";
import * as readline from "node:readline";
import { ServerError } from "../lib/protocol/errors.ts";
import { isValidNick, isValidRoom, LOBBY } from "../lib/protocol/limits.ts";
import { type Client, type ReconnectEvent, ReconnectingClient } from "../client/mod.ts";
import { CliError, countOption, type ParsedCli, UsageError } from "./args.ts";
import { describeConnectError, LoginRefusedError, openClient, serverFailure } from "./connect.ts";
import { bestTimeSample, describeOffset, formatPush } from "./commands.ts";
import { chatNote, roomLines, whoLines } from "./chat_events.ts";
import { ChatInput, type CompletionState } from "./chat_input.ts";
import { Roster } from "./chat_roster.ts";
import { Screen } from "./screen.ts";
import { ACTION_PREFIX, parseChatLine, SLASH_HELP, splitMessage } from "./slash.ts";
import {
  clock,
  colorEnabled,
  isTerminal,
  makeStyles,
  printable,
  promptSecret,
  type Styles,
} from "./term.ts";

/** One chat session: the connection (which reconnects), the current room, and the input loop. */
class ChatSession {
  readonly #p: ParsedCli;
  readonly #s: Styles;
  readonly #screen: Screen;
  readonly #tty: boolean;
  readonly #room: string;
  /** The connection, the nick and the rooms joined besides lobby, across reconnects. */
  readonly #chat: ReconnectingClient;
  #input: ChatInput | null = null;
  #current: string = LOBBY;
  #password: string | undefined;
  /** Who is where, and what is unread (for Tab, the prompt, /join and /rooms). */
  readonly #roster = new Roster();
  /** The last failure to reconnect, said on the line of the next attempt. */
  #failure: string | null = null;
  #exitCode = 0;
  #finished!: () => void;
  readonly finished = new Promise<void>((resolve) => this.#finished = resolve);

  constructor(p: ParsedCli, tty: boolean, room: string) {
    this.#p = p;
    this.#tty = tty;
    this.#room = room;
    this.#s = makeStyles(tty && colorEnabled(Deno.stdout));
    this.#screen = new Screen(tty);
    this.#chat = new ReconnectingClient(() => this.#connect(), {
      nick: p.nick,
      rooms: [room],
      announce: true,
      history: countOption(p, "history", 20, 1000),
      // Missing credentials, or a login the server refused, will not get better by retrying
      // (and every retry would be one more failed login on the server).
      isFatal: (e) => e instanceof UsageError || e instanceof LoginRefusedError,
    });
  }

  get #client(): Client | null {
    return this.#chat.client;
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

  /** `lobby> `, with unread rooms: `lobby [ops 3, dev 1]> `. */
  #promptText(): string {
    const unread = this.#roster.unreadRooms().map((u) => `${u.room} ${u.count}`);
    const marker = unread.length === 0 ? "" : ` [${unread.join(", ")}]`;
    return `${this.#client === null ? "(offline) " : ""}${this.#current}${marker}> `;
  }

  #refreshPrompt(): void {
    const rl = this.#input?.rl;
    if (rl === undefined) return;
    if (rl.getPrompt() === this.#promptText()) return;
    rl.setPrompt(this.#promptText());
    if (this.#tty) rl.prompt(true);
  }

  /** Switches the current room, saying how many of its messages were unread. */
  #talkIn(room: string, verb: string): void {
    this.#current = room;
    const unread = this.#roster.markRead(room);
    const more = unread === 0 ? "" : ` (${unread} unread message${unread === 1 ? "" : "s"} above)`;
    this.#info(`${verb} ${this.#s.cyan(room)}${more}`);
    this.#refreshPrompt();
  }

  /** What Tab completes from (the current room's members asked again when stale). */
  async #completion(): Promise<CompletionState> {
    const room = this.#current;
    await this.#roster.refresh(this.#client, room);
    const joined = [LOBBY, ...this.#chat.rooms.values()];
    return this.#roster.completion(room, this.#client?.nick ?? "", joined);
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
  async start(): Promise<void> {
    const client = await this.#chat.start();
    this.#current = this.#chat.rooms.get(this.#room.toLowerCase()) ?? LOBBY;
    this.#info(
      `Connected to ${this.#label} as ${this.#s.nick(client.nick)}; talking in ${
        this.#s.cyan(this.#current)
      }. ` +
        `Type /help for commands${this.#tty ? ", Ctrl-D to quit" : ""}`,
    );
    void this.#pump();
  }

  /** Prints pushes, and what happens to the connection, until the chat quits. */
  async #pump(): Promise<void> {
    for await (const ev of this.#chat.events()) this.#show(ev);
  }

  #show(ev: ReconnectEvent): void {
    const s = this.#s;
    switch (ev.type) {
      case "msg":
      case "dm":
      case "joined":
      case "left":
      case "renamed":
        this.#roster.note(ev, this.#current);
        this.#screen.print(formatPush(ev, new Date(), s));
        return this.#refreshPrompt();
      case "disconnected":
        this.#refreshPrompt();
        if (ev.final) {
          this.#error(
            `Disconnected from ${this.#label} (${printable(ev.reason)}): the server ended this ` +
              `login; not reconnecting`,
          );
          return this.#stop(1);
        }
        return this.#info(
          s.yellow(`Disconnected from ${this.#label} (${ev.reason}). Reconnecting...`),
        );
      case "connectFailed": {
        const e = ev.error;
        const err = e instanceof UsageError || e instanceof CliError
          ? e
          : describeConnectError(e, this.#p.target);
        const text = err.message.replace(/ \(--host\/--port or SWITCHBOARD_URL\)$/, "");
        // Said with the next attempt: one line per attempt.
        if (!ev.final) return void (this.#failure = text);
        this.#error(`${text}; not reconnecting`);
        return this.#stop(1);
      }
      case "retrying": {
        const failure = this.#failure;
        this.#failure = null;
        if (ev.attempt === 0) return;
        const next = `in ${(ev.delay / 1000).toFixed(1)} s (attempt ${ev.attempt + 1})`;
        return this.#info(
          s.yellow(failure === null ? `Reconnecting ${next}` : `${failure}; retrying ${next}`),
        );
      }
      case "reconnected":
        this.#failure = null;
        if (!this.#chat.rooms.has(this.#current.toLowerCase())) this.#current = LOBBY;
        this.#info(
          s.green(`Reconnected to ${this.#label} as ${ev.nick}`) +
            (ev.rejoined.length > 0 ? `; rejoined ${ev.rejoined.join(", ")}` : ""),
        );
        return this.#refreshPrompt();
      default: {
        const note = chatNote(ev, s);
        if (note?.error) this.#error(note.text);
        else if (note !== null) this.#info(note.text);
      }
    }
  }

  /** Reads input lines until /quit or the end of input. */
  async run(): Promise<void> {
    const input = await ChatInput.open({
      tty: this.#tty,
      prompt: this.#promptText(),
      completion: () => this.#completion(),
    });
    this.#input = input;
    const rl = input.rl;
    this.#screen.attach(rl);
    rl.on("line", (line: string) => {
      if (this.#tty) {
        this.#screen.eraseEcho(rl.getPrompt(), line);
        rl.prompt();
      }
    });
    if (this.#tty) rl.prompt();
    for (;;) {
      const line = await input.next();
      if (line === null) break;
      if (!(await this.#handle(line))) break;
    }
    // Ctrl-C at an empty prompt: interrupted (130), as everywhere in the CLI.
    if (input.interrupted && this.#exitCode === 0) this.#exitCode = 130;
    await this.#quit();
    if (this.#tty) {
      // Leave the terminal clean: no half-drawn prompt before the shell's.
      readline.cursorTo(process.stdout, 0);
      readline.clearScreenDown(process.stdout);
    }
    await input.close();
  }

  async #quit(): Promise<void> {
    if (this.#client !== null) {
      await Promise.race([this.#chat.quit(), new Promise((r) => setTimeout(r, 2000))]);
    }
    this.#chat.close();
    this.#finished();
  }

  /** The exit code of the chat: 1 once the server refused to let it go on. */
  get exitCode(): number {
    return this.#exitCode;
  }

  /** Ends the chat as if its input had ended, with this exit code. */
  #stop(code: number): void {
    this.#exitCode = code;
    this.#input?.end();
  }

  #needClient(what: string): Client | null {
    if (this.#client === null || this.#client.closed) {
      this.#error(`Cannot ${what}: not connected to ${this.#label} (reconnecting)`);
      return null;
    }
    return this.#client;
  }

  #fail(what: string, e: unknown): void {
    if (e instanceof ServerError) this.#error(serverFailure(e, what));
    else this.#error(`Cannot ${what}: ${(e as Error).message}`);
  }

  /** Handles one input line; false to stop. */
  async #handle(raw: string): Promise<boolean> {
    const input = parseChatLine(raw);
    if (input.kind === "blank") return true;
    if (input.kind === "say") {
      await this.#say(input.text);
      return true;
    }
    if (input.kind === "unknown") {
      this.#error(
        `Unknown command /${input.command}: type /help for the list (// sends a line starting with /)`,
      );
      return true;
    }
    const arg = input.args[0];
    switch (input.name) {
      case "quit":
        return false;
      case "help":
        for (const l of SLASH_HELP.split("\n")) this.#screen.print(l);
        break;
      case "me":
        if (input.rest === "") this.#error("Cannot send an action: usage /me ACTION");
        else await this.#say(`${ACTION_PREFIX}${input.rest}`);
        break;
      case "msg": {
        const { nick, text } = splitMessage(input.rest);
        if (nick === undefined || text === "") {
          this.#error("Cannot send a direct message: usage /msg NICK TEXT");
        } else await this.#tell(nick, text);
        break;
      }
      case "join":
        await this.#join(arg);
        break;
      case "leave":
        await this.#leave(arg);
        break;
      case "who":
        await this.#who(arg);
        break;
      case "rooms":
        await this.#listRooms();
        break;
      case "nick":
        await this.#setNick(arg);
        break;
      case "time":
        await this.#time();
    }
    return true;
  }

  async #say(text: string): Promise<void> {
    const client = this.#needClient(`send to ${this.#current}`);
    if (client === null) return;
    const room = this.#current;
    try {
      const { id } = await this.#chat.sayWithId(room, text);
      const payload = new Uint8Array();
      const m = { type: "msg", room, from: client.nick, id, payload, text } as const;
      this.#screen.print(formatPush(m, new Date(), this.#s));
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
    const known = key === LOBBY ? LOBBY : this.#chat.rooms.get(key);
    if (known !== undefined) return this.#talkIn(known, "Talking in");
    if (this.#needClient(`join ${room}`) === null) return;
    try {
      const name = await this.#chat.join(room);
      this.#roster.markRead(name);
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
    const name = this.#chat.rooms.get(key);
    if (name === undefined) return this.#error(`Cannot leave ${target}: not joined`);
    if (this.#needClient(`leave ${target}`) === null) return;
    try {
      // Not in the room (404) counts as left.
      await this.#chat.leave(name);
    } catch (e) {
      return this.#fail(`leave ${name}`, e);
    }
    this.#roster.forget(name);
    if (this.#current.toLowerCase() === key) {
      this.#current = [...this.#chat.rooms.values()].at(-1) ?? LOBBY;
      this.#roster.markRead(this.#current);
    }
    this.#info(`Left ${this.#s.cyan(name)}; talking in ${this.#s.cyan(this.#current)}`);
    this.#refreshPrompt();
  }

  async #who(room: string | undefined): Promise<void> {
    const client = this.#needClient("list who is online");
    if (client === null) return;
    try {
      const entries = await client.who(room);
      if (room !== undefined) this.#roster.setMembers(room, entries);
      this.#info(`${entries.length} ${room === undefined ? "online" : `in ${room}`}:`);
      for (const l of whoLines(entries, client.nick, this.#s)) this.#screen.print(l);
    } catch (e) {
      this.#fail(room === undefined ? "list who is online" : `list who is in ${room}`, e);
    }
  }

  async #listRooms(): Promise<void> {
    const client = this.#needClient("list rooms");
    if (client === null) return;
    try {
      const rooms = await client.rooms();
      this.#roster.setRooms(rooms);
      this.#info(`${rooms.length} room${rooms.length === 1 ? "" : "s"}:`);
      const lines = roomLines(rooms, this.#current, (r) => this.#roster.unread(r), this.#s);
      for (const l of lines) this.#screen.print(l);
    } catch (e) {
      this.#fail("list rooms", e);
    }
  }

  async #setNick(nick: string | undefined): Promise<void> {
    if (nick === undefined) return this.#error("Cannot change nick: usage /nick NAME");
    if (!isValidNick(nick)) {
      return this.#error(`Cannot take nick "${nick}": a nick is 1-32 of A-Z a-z 0-9 _ -`);
    }
    if (this.#needClient(`take nick ${nick}`) === null) return;
    try {
      const got = await this.#chat.setNick(nick);
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
      const { best } = await bestTimeSample(client, 4);
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
  const session = new ChatSession(p, tty, room);
  try {
    await session.start();
  } catch (e) {
    if (e instanceof ServerError && e.code === 409) {
      throw new CliError(
        `Cannot take nick "${p.nick}": it is in use on ${p.target.label}. Pick another with --nick`,
        1,
        { cause: e },
      );
    }
    if (e instanceof ServerError) {
      throw new CliError(serverFailure(e, `join room "${room}"`), 1, { cause: e });
    }
    throw e;
  }
  await session.run();
  await session.finished;
  return session.exitCode;
}
