/**
 * The shared folder: confined paths, listings, downloads, atomic uploads, and the file commands
 * (`LIST`, `GET`, `DEL`, `PUT`, `RESUME`) that speak the protocol for it; resumable uploads kept
 * for a while when cut; the heartbeat and sweep that let several servers share one folder.
 *
 * @example
 * ```ts
 * import { createFileHandlers, FileStore } from "./mod.ts";
 * const root = await Deno.makeTempDir();
 * const { handlers, streamHandlers } = createFileHandlers(FileStore.create(root));
 * console.assert(handlers.has("GET") && streamHandlers.has("PUT"));
 * await Deno.remove(root, { recursive: true });
 * ```
 *
 * @module
 */

export { createFileHandlers, type FileHandlerOptions, type FileHandlers } from "./commands.ts";
export { FileError, type FileErrorKind } from "./errors.ts";
export { HashCache, type HashCacheOptions } from "./hash_cache.ts";
export { TEMP_PREFIX } from "./paths.ts";
export { FileStore, type FileStoreOptions, type OpenedFile, Upload } from "./store.ts";
export type { SweepResult } from "./sweep.ts";
export { Uploads } from "./uploads.ts";
