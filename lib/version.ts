/**
 * The Switchboard version, read from deno.json at build time (works inside compiled binaries).
 *
 * @module
 */

import denoJson from "../deno.json" with { type: "json" };

/** The version both executables print and the server sends in `HELLO`. */
export const VERSION: string = denoJson.version;
