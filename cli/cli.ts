/**
 * `switchboard`: the client command line. Parses the arguments, runs one command, and turns
 * every failure into a message that says what failed and what to do, with the exit code:
 * 0 success, 1 a failure the server or the network reported, 2 wrong usage, 130 interrupted.
 * With `--json` the failure is one JSON object on stderr instead (see {@linkcode errorJson}).
 *
 * @module
 */

import { ServerError } from "../lib/protocol/errors.ts";
import { VERSION } from "../lib/version.ts";
import { runChat } from "./chat.ts";
import { CliError, parseCli, type ParsedCli, UsageError } from "./args.ts";
import { runGet, runLs, runPut, runRm } from "./files.ts";
import { runPing, runRooms, runSend, runTime, runWho } from "./commands.ts";
import { runHistory } from "./history.ts";
import { runListen } from "./listen.ts";
import { runStatus } from "./status.ts";
import { runComplete, runCompletions } from "./completions.ts";
import { runContext, selectContext } from "./context.ts";
import { COMMAND_HELP, OVERVIEW } from "./help.ts";
import { env, printable } from "./term.ts";

type Runner = (p: ParsedCli) => Promise<number>;

const RUNNERS: Record<string, Runner> = {
  send: runSend,
  tell: runSend,
  listen: runListen,
  history: runHistory,
  who: runWho,
  rooms: runRooms,
  ping: runPing,
  time: runTime,
  chat: runChat,
  ls: runLs,
  get: runGet,
  put: runPut,
  rm: runRm,
  status: runStatus,
  context: runContext,
  completions: runCompletions,
  __complete: runComplete,
};

/**
 * Runs the client command line.
 *
 * @param args Arguments after the program name.
 * @returns The exit code.
 */
export async function runClientCli(args: string[]): Promise<number> {
  // Before parsing: a command line too wrong to parse still answers in JSON when asked to.
  const json = args.includes("--json");
  const fail = (e: unknown, command?: string) => report(e, command, json);
  let parsed: ParsedCli;
  try {
    parsed = parseCli(args, env, selectContext(args, env));
  } catch (e) {
    // --help and --version work even next to a mistake.
    if (args.includes("--version") || args.includes("-V")) {
      console.log(VERSION);
      return 0;
    }
    if (args.includes("--help") || args.includes("-h")) {
      console.log(OVERVIEW);
      return 0;
    }
    return fail(e);
  }
  if (parsed.version) {
    console.log(VERSION);
    return 0;
  }
  if (parsed.command === "help") {
    const topic = parsed.positionals[0];
    if (topic === undefined) {
      console.log(parsed.help && args.includes("help") ? COMMAND_HELP.help : OVERVIEW);
      return 0;
    }
    const page = COMMAND_HELP[topic];
    if (page === undefined) {
      return fail(
        new UsageError(`Cannot show help for "${topic}": no such command. Run switchboard --help`),
      );
    }
    console.log(page);
    return 0;
  }
  if (parsed.help) {
    console.log(COMMAND_HELP[parsed.command] ?? OVERVIEW);
    return 0;
  }
  const runner = RUNNERS[parsed.command];
  if (runner === undefined) {
    return fail(new CliError(`Cannot run ${parsed.command}: not available in this build yet`));
  }
  try {
    return await runner(parsed);
  } catch (e) {
    return fail(e, parsed.command);
  }
}

/** What went wrong, as `--json` reports it. */
export interface JsonError {
  /** The failure. */
  error: {
    /** The message a person would read. */
    message: string;
    /** `usage`, `failure` (the server or the network), `interrupted` or `internal` (a bug). */
    kind: "usage" | "failure" | "interrupted" | "internal";
    /** The command, when known. */
    command: string | null;
  };
  /** The server's `ERR` code when the server refused (403, 404, 409...), else null. */
  code: number | null;
  /** The exit code (1, 2, 130). */
  exit: number;
}

/**
 * A failure as the one line of JSON that `--json` prints on stderr.
 *
 * @param e What the command threw.
 * @param command The command.
 * @returns The object.
 * @example
 * ```ts
 * import { errorJson } from "./cli.ts";
 * import { UsageError } from "./args.ts";
 * const j = errorJson(new UsageError("Cannot run rooms: it takes no arguments"), "rooms");
 * console.assert(j.exit === 2 && j.code === null && j.error.kind === "usage");
 * ```
 */
export function errorJson(e: unknown, command?: string): JsonError {
  let server: ServerError | undefined;
  for (let c: unknown = e; c instanceof Error && server === undefined; c = c.cause) {
    if (c instanceof ServerError) server = c;
  }
  const cmd = (e instanceof UsageError ? e.command : undefined) ?? command ?? null;
  const of = (kind: JsonError["error"]["kind"], message: string, exit: number): JsonError => ({
    error: { message, kind, command: cmd },
    code: server?.code ?? null,
    exit,
  });
  if (e instanceof UsageError) return of("usage", e.message, 2);
  if (e instanceof CliError) {
    return of(e.exitCode === 130 ? "interrupted" : "failure", e.message, e.exitCode);
  }
  if (e instanceof Deno.errors.Interrupted) return of("interrupted", "interrupted", 130);
  return of("internal", `unexpected error: ${(e as Error)?.stack ?? String(e)}`, 1);
}

function report(e: unknown, command: string | undefined, json: boolean): number {
  if (json) {
    const j = errorJson(e, command);
    console.error(JSON.stringify(j));
    return j.exit;
  }
  if (e instanceof UsageError) {
    const cmd = e.command ?? command;
    const more = cmd === undefined ? "switchboard --help" : `switchboard ${cmd} --help`;
    console.error(`switchboard: ${printable(e.message)}\nRun ${more} for usage.`);
    return 2;
  }
  if (e instanceof CliError) {
    console.error(`switchboard: ${printable(e.message)}`);
    return e.exitCode;
  }
  if (e instanceof Deno.errors.Interrupted) {
    console.error("switchboard: interrupted");
    return 130;
  }
  // A bug: say so, with the stack, so it can be reported.
  console.error(`switchboard: unexpected error: ${(e as Error)?.stack ?? String(e)}`);
  return 1;
}
