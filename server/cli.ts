/**
 * `switchboard-server`: parses options, starts the server, and stops it on SIGINT/SIGTERM.
 *
 * @module
 */

import { VERSION } from "../lib/version.ts";
import { optionsHelp, parseServerArgs } from "./config.ts";
import { runHashPassword } from "./auth/mod.ts";
import { createLogger } from "./observe/log.ts";
import { loadRedis, type Server, startServer } from "./server.ts";

const USAGE = `switchboard-server ${VERSION}: the Switchboard message and file server

Usage:
  switchboard-server [options]
  switchboard-server hash-password [--user NAME] [--permissions chat,read,write]

Options (flags win over SWITCHBOARD_* variables, which win over defaults):
${optionsHelp([["--help", "show this help"], ["--version", "print the version"]])}

Sizes take KiB/MiB/GiB suffixes; times take ms/s/m.

Examples:
  switchboard-server                                   # 127.0.0.1:7373, sharing ./files
  switchboard-server --host 0.0.0.0 --port 0 --files /srv/share
  SWITCHBOARD_MAX_CLIENTS=200 switchboard-server --log-format json`;

// A variable we may not read (a binary built with narrower --allow-env) counts as unset.
function readEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

/**
 * Runs the server command line until the server stops.
 *
 * @param args Arguments after the program name.
 * @returns The exit code: 0 after a clean stop, 2 for wrong usage, 1 when the server cannot start.
 */
export async function runServerCli(args: string[]): Promise<number> {
  if (args[0] === "hash-password") return await runHashPassword(args.slice(1));
  let parsed;
  try {
    parsed = parseServerArgs(args, readEnv);
  } catch (e) {
    console.error(
      `switchboard-server: ${(e as Error).message}\nRun switchboard-server --help for the options.`,
    );
    return 2;
  }
  if (parsed.help) {
    console.log(USAGE);
    return 0;
  }
  if (parsed.version) {
    console.log(VERSION);
    return 0;
  }
  if (parsed.positionals.length > 0) {
    console.error(
      `switchboard-server: unknown command "${
        parsed.positionals[0]
      }"\nRun switchboard-server --help for usage.`,
    );
    return 2;
  }
  const { config } = parsed;
  const log = createLogger({ format: config.logFormat });
  // SIGHUP reloads the users file (POSIX only; a failed reload is logged and changes nothing).
  // Without one it is ignored with a log line, rather than ending the server as it would by
  // default. Bound before the server starts: a SIGHUP right after "listening" must not kill it.
  const started: { server?: Server } = {};
  const reload = () => {
    if (config.users === "") log.warn("SIGHUP ignored: no users file to reload (--users)");
    else void started.server?.reloadUsers().catch(() => {});
  };
  const hup = Deno.build.os !== "windows";
  if (hup) Deno.addSignalListener("SIGHUP", reload);
  // SIGINT/SIGTERM are bound before the server starts too, for the same reason.
  let stopRequested = false;
  const stop = () => {
    stopRequested = true;
    void started.server?.shutdown(2000);
  };
  const signals: Deno.Signal[] = Deno.build.os === "windows"
    ? ["SIGINT", "SIGBREAK"]
    : ["SIGINT", "SIGTERM"];
  for (const sig of signals) Deno.addSignalListener(sig, stop);
  let server;
  try {
    server = startServer(config, { log, redis: await loadRedis(config, log) });
  } catch (e) {
    const why = e instanceof Deno.errors.AddrInUse
      ? `port ${config.port} is in use (pick another with --port, or --port 0 for any free port)`
      : e instanceof Deno.errors.PermissionDenied
      ? `permission denied (ports below 1024 need privileges): ${(e as Error).message}`
      : (e as Error).message;
    log.error("cannot start", { host: config.host, port: config.port, error: why });
    if (hup) Deno.removeSignalListener("SIGHUP", reload);
    for (const sig of signals) Deno.removeSignalListener(sig, stop);
    return 1;
  }
  started.server = server;
  if (stopRequested) void server.shutdown(2000);
  await server.finished;
  for (const sig of signals) Deno.removeSignalListener(sig, stop);
  if (hup) Deno.removeSignalListener("SIGHUP", reload);
  return 0;
}
