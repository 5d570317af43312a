/**
 * The option part of `switchboard-server --help`, made from the option table.
 *
 * @module
 */

import { DEFAULT_CONFIG, envName } from "./config.ts";
import { OPTIONS, type OptionSpec } from "./config_options.ts";
import { formatDuration, formatSize } from "./units.ts";

function showDefault(spec: OptionSpec): string {
  const v = DEFAULT_CONFIG[spec.key];
  if (spec.kind === "size") return formatSize(v as number);
  if (spec.kind === "duration") return formatDuration(v as number);
  if (v === "") return "none";
  return String(v);
}

/**
 * The option part of `switchboard-server --help`.
 *
 * @param extra More `[flag, help]` rows, aligned with the options.
 * @returns Lines for every option, with its default and environment variable.
 */
export function optionsHelp(extra: [string, string][] = []): string {
  const rows = OPTIONS.map((s) => {
    const arg = s.arg
      ? ` ${s.arg}`
      : s.kind === "bool"
      ? ""
      : s.kind === "format"
      ? " text|json"
      : s.kind === "size"
      ? " SIZE"
      : s.kind === "duration"
      ? " TIME"
      : s.kind === "int"
      ? " N"
      : " VALUE";
    return [
      `  --${s.flag}${arg}`,
      `${s.help} (default: ${showDefault(s)}; env ${envName(s.flag)})`,
    ];
  });
  for (const [flag, help] of extra) rows.push([`  ${flag}`, help]);
  const width = Math.max(...rows.map((r) => r[0]!.length)) + 2;
  return rows.map(([a, b]) => a!.padEnd(width) + b).join("\n");
}
