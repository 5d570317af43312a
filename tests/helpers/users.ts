/**
 * Users files for tests of authentication: hashed with a cheap scrypt cost so tests stay fast,
 * written atomically so a reloading server never sees half a file.
 *
 * @module
 */

import { hashPassword } from "../../server/auth/passwords.ts";

/** One user: name, password in clear, permissions (`chat`, `read`, `write`). */
export type UserEntry = [name: string, password: string, permissions: string[]];

/** A users file in a temporary folder, removed with it on dispose. */
export interface UsersFile extends AsyncDisposable {
  /** The file. */
  path: string;
  /** The folder holding it. */
  dir: string;
}

/**
 * Writes a users file: each password hashed, then the file renamed into place.
 *
 * @param path The file.
 * @param entries The users.
 */
export async function writeUsers(path: string, entries: UserEntry[]): Promise<void> {
  const users = await Promise.all(
    entries.map(async ([name, password, permissions]) => ({
      name,
      password: await hashPassword(password, { ln: 10 }),
      permissions,
    })),
  );
  // Write then rename: a reload never sees half a file.
  await Deno.writeTextFile(`${path}.tmp`, JSON.stringify({ users }, null, 2));
  await Deno.rename(`${path}.tmp`, path);
}

/**
 * Writes `users.json` into a fresh temporary folder (or into `dir`).
 *
 * @param entries The users.
 * @param dir The folder to write into instead of a fresh one (removed on dispose all the same).
 * @returns The file; dispose it with `await using`.
 */
export async function usersFile(entries: UserEntry[], dir?: string): Promise<UsersFile> {
  const folder = dir ?? await Deno.makeTempDir({ prefix: "sb-users-" });
  const path = `${folder}/users.json`;
  await writeUsers(path, entries);
  return {
    path,
    dir: folder,
    async [Symbol.asyncDispose]() {
      await Deno.remove(folder, { recursive: true }).catch(() => {});
    },
  };
}
