/**
 * Every row type the protocol carries as JSON, in one place for both sides: the `HELLO` greeting
 * and the rows of `WHO`, `ROOMS` and `LIST` replies.
 *
 * @module
 */

/** What the server said in `HELLO`. */
export interface Hello {
  /** Always `switchboard`. */
  server: string;
  /** The server's version (`0.1.0`). */
  version: string;
  /** The protocol version. */
  proto: number;
  /** The guest nick the client got. */
  nick: string;
  /** Largest message payload the server takes, in bytes. */
  max_payload: number;
  /** Longest control line the server reads (optional: servers before 0.1.0 did not say). */
  max_line?: number;
  /** Largest file `PUT` takes. */
  max_file_size?: number;
  /** Whether commands other than `AUTH`, `HELP`, `PING`, `PONG`, `QUIT` need a login first. */
  auth_required: boolean;
  /** How to log in when `auth_required`: `password` (`AUTH user password`), `token` (`AUTH token`). */
  auth_methods?: ("password" | "token")[];
  /** Whether the connection is TLS. */
  tls: boolean;
  /** Fields a later server may add. */
  [key: string]: unknown;
}

/** One row of the JSON array of a `WHO` reply. */
export interface WhoEntry {
  /** The nick. */
  nick: string;
  /** Rooms joined, `lobby` first. */
  rooms: string[];
  /** Connected since, unix milliseconds. */
  since: number;
}

/** One row of the JSON array of a `ROOMS` reply. */
export interface RoomEntry {
  /** The room, as first created. */
  room: string;
  /** Number of members. */
  members: number;
}

/** One row of `LIST`. */
export interface ListEntry {
  /** The name in its folder (plain, not percent-encoded). */
  name: string;
  /** `file` or `dir`. */
  type: "file" | "dir";
  /** Bytes; 0 for a folder. */
  size: number;
  /** Modification time, unix milliseconds. */
  mtime: number;
}
