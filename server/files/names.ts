/**
 * Names of the hidden files of uploads, each carrying the id of the server process (node) that
 * owns it, so that several servers can share one folder and each sweeps only its own files (or
 * those of a node that is gone):
 *
 * - `.sb-upload-<node>.t.<24 hex>`: an upload in progress that is not resumable;
 * - `.sb-upload-<node>.u.<key>.<8 hex>`: a resumable upload in progress;
 * - `.sb-upload-<node>.k.<key>`: a resumable upload that was cut, kept for a resume.
 *
 * `<key>` (32 hex digits) names what is being uploaded: the target's name, its size and the
 * announced sha256 (if any), so a resume finds the kept bytes with one lookup. Names without a
 * node (`.sb-upload-<anything else>`) are those of older servers.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { TEMP_PREFIX } from "./paths.ts";

/** What an upload file name says. */
export interface UploadName {
  /** The owning node. */
  readonly node: string;
  /** `t` plain in progress, `u` resumable in progress, `k` kept for a resume. */
  readonly kind: "t" | "u" | "k";
  /** The key (`u` and `k` only). */
  readonly key: string;
}

const NAME_RE =
  /^\.sb-upload-([0-9a-z]{1,32})\.(?:t\.[0-9a-f]{24}|u\.([0-9a-f]{32})\.[0-9a-f]{8}|k\.([0-9a-f]{32}))$/;

function randomHex(bytes: number): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(bytes)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
}

/**
 * A fresh node id: 12 random hex digits.
 *
 * @returns The id.
 */
export function newNodeId(): string {
  return randomHex(6);
}

/**
 * The key of an upload: what it writes (the target's name in its folder, the whole size, the
 * announced sha256 or `""`).
 *
 * @param name The target's last path segment.
 * @param size The size of the whole file.
 * @param sha256 The announced sha256 (lower-case hex), or `""`.
 * @returns 32 hex digits.
 * @example
 * ```ts
 * import { uploadKey } from "./names.ts";
 * console.assert(uploadKey("a.txt", 5, "").length === 32);
 * ```
 */
export function uploadKey(name: string, size: number, sha256: string): string {
  return createHash("sha256").update(`${name}\n${size}\n${sha256}`).digest("hex").slice(0, 32);
}

/**
 * The name of a plain upload in progress.
 *
 * @param node The owning node.
 * @returns The name.
 */
export function plainName(node: string): string {
  return `${TEMP_PREFIX}${node}.t.${randomHex(12)}`;
}

/**
 * The name of a resumable upload in progress.
 *
 * @param node The owning node.
 * @param key The upload's key.
 * @returns The name.
 */
export function resumableName(node: string, key: string): string {
  return `${TEMP_PREFIX}${node}.u.${key}.${randomHex(4)}`;
}

/**
 * The name of a kept (cut, resumable) upload.
 *
 * @param node The owning node.
 * @param key The upload's key.
 * @returns The name.
 */
export function keptName(node: string, key: string): string {
  return `${TEMP_PREFIX}${node}.k.${key}`;
}

/**
 * Reads an upload file name.
 *
 * @param name A file name.
 * @returns What it says, or `null` for a name of an older server (or no upload name at all).
 * @example
 * ```ts
 * import { keptName, parseUploadName } from "./names.ts";
 * const key = "0".repeat(32);
 * console.assert(parseUploadName(keptName("ab12", key))?.kind === "k");
 * console.assert(parseUploadName(".sb-upload-0123") === null);
 * ```
 */
export function parseUploadName(name: string): UploadName | null {
  const m = NAME_RE.exec(name);
  if (m === null) return null;
  const kind = name.charAt(TEMP_PREFIX.length + m[1]!.length + 1) as "t" | "u" | "k";
  return { node: m[1]!, kind, key: m[2] ?? m[3] ?? "" };
}
