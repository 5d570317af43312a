/**
 * Entry point of both executables: `main.ts server ...` is `switchboard-server`, and
 * `main.ts client ...` is `switchboard`. Argument dispatch only.
 *
 * @module
 */

import { runServerCli } from "./server/cli.ts";
import { runClientCli } from "./cli/cli.ts";

/**
 * Runs the program named by the first argument.
 *
 * @param args `server ...` or `client ...`.
 * @returns The exit code.
 */
export async function main(args: string[]): Promise<number> {
  const [role, ...rest] = args;
  if (role === "server") return await runServerCli(rest);
  if (role === "client") return await runClientCli(rest);
  console.error("Usage: main.ts server [options] | main.ts client <command> [options]");
  return 2;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
