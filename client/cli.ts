/**
 * `switchboard`: the client command line.
 *
 * @module
 */

/**
 * Runs the client command line.
 *
 * @param args Arguments after the program name.
 * @returns The exit code.
 */
export function runClientCli(args: string[]): Promise<number> {
  console.error(`switchboard: the command line is not built yet (${args.join(" ")})`);
  return Promise.resolve(2);
}
