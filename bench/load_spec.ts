/**
 * What the load client runs: the spec the orchestrator sends it as JSON.
 *
 * @module
 */

import type { Proto } from "./wire.ts";

/** What to run. */
export type LoadSpec =
  | {
    workload: "fanout";
    proto: Proto;
    port: number;
    messages: number;
    subscribers: number;
    size: number;
    window: number;
    batch: number;
    deadlineMs: number;
    /** The subscribers' server when it is another node of a cluster (absent: `port`). */
    subPort?: number;
  }
  | {
    /** Cross-node latency: timestamped messages at a moderate rate, from `port` to `subPort`. */
    workload: "probe";
    proto: Proto;
    port: number;
    subPort: number;
    subscribers: number;
    size: number;
    /** Messages measured, after `warmup` not measured; one every `intervalMs`. */
    count: number;
    warmup: number;
    intervalMs: number;
    deadlineMs: number;
  }
  | {
    workload: "chat";
    proto: Proto;
    port: number;
    clients: number;
    messages: number;
    size: number;
    window: number;
    deadlineMs: number;
  }
  | {
    workload: "latency";
    proto: Proto;
    port: number;
    count: number;
    warmup: number;
    deadlineMs: number;
  }
  | {
    workload: "idle";
    proto: Proto;
    port: number;
    count: number;
    concurrency: number;
    deadlineMs: number;
  }
  | {
    workload: "burst";
    proto: Proto;
    port: number;
    /** Messages each publisher sends (one entry per publisher). */
    shares: number[];
    subscribers: number;
    /** Whether the publishers are members of the room too (they get each other's messages). */
    membersPublish: boolean;
    size: number;
    /** The last subscriber stops reading once, for `pauseMs`, after this many messages (0: never). */
    pauseAfter: number;
    pauseMs: number;
    /** The run ends when no message arrived for this long. */
    idleMs: number;
    deadlineMs: number;
  }
  | ({ workload: "put" } & FileSpec)
  | ({ workload: "get" } & FileSpec)
  /** `downloadFile` of the client library into a new file in `dir`. */
  | ({ workload: "clientGet"; dir: string } & FileSpec)
  /** `uploadFile` of the client library from the file `local`. */
  | ({ workload: "clientPut"; local: string } & FileSpec)
  /** Raw `GET`s one after another for `untilMs` (after `READY`/`go`). */
  | ({ workload: "downloading"; untilMs: number } & FileSpec)
  /** Sequential `PING`s for `durationMs`, `delayMs` after `READY`/`go`. */
  | {
    workload: "pings";
    proto: "switchboard";
    port: number;
    delayMs: number;
    durationMs: number;
  };

/** What a `PUT` and a `GET` need: the file's name on the server, its size and its sha256. */
export interface FileSpec {
  proto: "switchboard";
  port: number;
  path: string;
  bytes: number;
  sha256: string;
  deadlineMs: number;
}
