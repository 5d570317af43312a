/**
 * `switchboard completions bash|zsh|fish`: a shell completion script, made from the command
 * and option tables, so it never lags behind the CLI. It completes commands, options, contexts,
 * local files for `put` and `--ca`, and remote paths for `get`, `rm` and `ls` by asking the
 * server (`switchboard __complete paths PREFIX -- WORDS...`, which LISTs the folder typed so far
 * with the same `--host`/`--port`/`--context` as the command line, gives up after 2 s and prints
 * nothing on any failure).
 *
 * @module
 */

import { dirname } from "node:path";
import { COMMAND_OPTIONS, GLOBAL_OPTIONS, parseCli, type ParsedCli, UsageError } from "./args.ts";
import { openClient } from "./connect.ts";
import { contextsPath, loadContexts, selectContext } from "./context.ts";
import { env } from "./term.ts";

/** The shells a script is made for. */
export const SHELLS = ["bash", "zsh", "fish"] as const;

/** Options that take a value (the next word is not a command). */
const VALUE_OPTIONS = [
  "--host",
  "--port",
  "-p",
  "--ca",
  "--nick",
  "-n",
  "--user",
  "-u",
  "--token",
  "--context",
  "--room",
  "-r",
  "--samples",
  "--count",
  "-c",
  "--history",
  "--limit",
  "--after",
  "--http",
  "--url",
];

/** The commands a person types (not the hidden helper). */
function commands(): string[] {
  return Object.keys(COMMAND_OPTIONS).filter((c) => !c.startsWith("_"));
}

function optionsOf(command: string): string[] {
  const names = [...GLOBAL_OPTIONS, ...(COMMAND_OPTIONS[command] ?? [])];
  return [...new Set(names)].map((o) => `--${o}`);
}

/**
 * The bash completion script (zsh uses it through `bashcompinit`).
 *
 * @returns The script.
 */
export function bashScript(): string {
  const perCommand = commands().map((c) => `      ${c}) opts="${optionsOf(c).join(" ")}" ;;`)
    .join("\n");
  return `# switchboard completion for bash. Load it with:
#   source <(switchboard completions bash)
_switchboard() {
  local cur prev cmd opts i
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  cmd=""
  local npos=0
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in
      ${VALUE_OPTIONS.join("|")}) i=$((i + 1)) ;;
      -*) ;;
      *) if [[ -z "$cmd" ]]; then cmd="\${COMP_WORDS[i]}"; else npos=$((npos + 1)); fi ;;
    esac
  done
  case "$prev" in
    --context)
      mapfile -t COMPREPLY < <(compgen -W "$(switchboard __complete contexts 2>/dev/null)" -- "$cur")
      return ;;
    --ca)
      mapfile -t COMPREPLY < <(compgen -f -- "$cur")
      return ;;
    ${VALUE_OPTIONS.filter((o) => o !== "--context" && o !== "--ca").join("|")})
      return ;;
  esac
  if [[ -z "$cmd" ]]; then
    mapfile -t COMPREPLY < <(compgen -W "${commands().join(" ")}" -- "$cur")
    return
  fi
  if [[ "$cur" == -* ]]; then
    case "$cmd" in
${perCommand}
      *) opts="" ;;
    esac
    mapfile -t COMPREPLY < <(compgen -W "$opts" -- "$cur")
    return
  fi
  case "$cmd" in
    get|rm|ls)
      if [[ $npos -eq 0 ]]; then
        mapfile -t COMPREPLY < <(switchboard __complete paths "$cur" -- "\${COMP_WORDS[@]:1:COMP_CWORD-1}" 2>/dev/null)
        compopt -o nospace 2>/dev/null
      else
        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
      fi ;;
    put)
      mapfile -t COMPREPLY < <(compgen -f -- "$cur") ;;
    completions)
      mapfile -t COMPREPLY < <(compgen -W "${SHELLS.join(" ")}" -- "$cur") ;;
    help)
      mapfile -t COMPREPLY < <(compgen -W "${commands().join(" ")}" -- "$cur") ;;
    context)
      if [[ $npos -eq 0 ]]; then
        mapfile -t COMPREPLY < <(compgen -W "add use ls rm" -- "$cur")
      else
        mapfile -t COMPREPLY < <(compgen -W "$(switchboard __complete contexts 2>/dev/null)" -- "$cur")
      fi ;;
  esac
}
complete -F _switchboard switchboard
`;
}

/**
 * The zsh completion script: the bash one through zsh's `bashcompinit`.
 *
 * @returns The script.
 */
export function zshScript(): string {
  return `#compdef switchboard
# switchboard completion for zsh. Load it with:
#   source <(switchboard completions zsh)
autoload -U +X bashcompinit && bashcompinit
${bashScript().split("\n").filter((l) => !l.startsWith("#")).join("\n")}`;
}

/**
 * The fish completion script.
 *
 * @returns The script.
 */
export function fishScript(): string {
  const lines = [
    "# switchboard completion for fish. Load it with:",
    "#   switchboard completions fish | source",
    "complete -c switchboard -f",
    `complete -c switchboard -n __fish_use_subcommand -a "${commands().join(" ")}"`,
  ];
  for (const c of commands()) {
    for (const o of optionsOf(c)) {
      const takes = VALUE_OPTIONS.includes(o) ? " -r" : "";
      lines.push(
        `complete -c switchboard -n "__fish_seen_subcommand_from ${c}" -l ${o.slice(2)}${takes}`,
      );
    }
  }
  lines.push(
    'complete -c switchboard -n "__fish_seen_subcommand_from get rm ls" -a "(switchboard __complete paths (commandline -ct) -- (commandline -opc)[2..-1] 2>/dev/null)"',
    'complete -c switchboard -n "__fish_seen_subcommand_from put" -F',
    `complete -c switchboard -n "__fish_seen_subcommand_from completions" -a "${SHELLS.join(" ")}"`,
    'complete -c switchboard -n "__fish_seen_subcommand_from context" -a "add use ls rm (switchboard __complete contexts 2>/dev/null)"',
    'complete -c switchboard -l context -r -a "(switchboard __complete contexts 2>/dev/null)"',
  );
  return lines.join("\n") + "\n";
}

/**
 * `completions bash|zsh|fish`.
 *
 * @param p The parsed command line.
 * @returns The exit code.
 */
export function runCompletions(p: ParsedCli): Promise<number> {
  const [shell, ...extra] = p.positionals;
  if (shell === undefined || !(SHELLS as readonly string[]).includes(shell) || extra.length > 0) {
    throw new UsageError(`Cannot print completions: name one shell of ${SHELLS.join(", ")}`);
  }
  const script = shell === "bash" ? bashScript() : shell === "zsh" ? zshScript() : fishScript();
  Deno.stdout.writeSync(new TextEncoder().encode(script));
  return Promise.resolve(0);
}

/**
 * `__complete contexts` and `__complete paths PREFIX -- [WORDS...]`: candidates for the shell, one
 * per line; nothing at all when they cannot be had (no server, no permission), and always exit 0.
 *
 * @param p The parsed command line.
 * @returns 0.
 */
export async function runComplete(p: ParsedCli): Promise<number> {
  const [what, prefix = "", ...words] = p.positionals;
  try {
    const found = what === "contexts"
      ? Object.keys(loadContexts(contextsPath()).contexts)
      : what === "paths"
      ? await remotePaths(prefix, words)
      : [];
    for (const f of found) console.log(f);
  } catch {
    // Completion stays silent.
  }
  return 0;
}

/** The shared paths that start with `prefix`, folders with a `/` after them. */
async function remotePaths(prefix: string, words: string[]): Promise<string[]> {
  // The command line typed so far says where the server is (flags, context, variables).
  const typed = words.filter((w) => w !== "");
  const parsed = parseCli(typed.length === 0 ? ["ls"] : typed, env, selectContext(typed, env));
  const dir = prefix.includes("/") ? dirname(prefix + "x") : "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("too slow")), 2000);
  });
  // Never a password prompt in the middle of a command line being typed.
  const askPassword = () => Promise.reject(new Error("no prompt while completing"));
  const opening = openClient(parsed.target, {
    credentials: parsed.credentials,
    timeout: 2000,
    askPassword,
  });
  try {
    const client = await Promise.race([opening, timeout]);
    try {
      const entries = await Promise.race([client.list(dir === "" ? undefined : dir), timeout]);
      const base = dir === "" ? "" : `${dir}/`;
      return entries.map((e) => `${base}${e.name}${e.type === "dir" ? "/" : ""}`)
        .filter((path) => path.startsWith(prefix));
    } finally {
      client.close();
    }
  } finally {
    clearTimeout(timer);
    opening.then((c) => c.close(), () => {});
  }
}
