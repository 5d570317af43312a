/**
 * The help texts of the client command line: one overview and one page per command, each with
 * examples.
 *
 * @module
 */

import { VERSION } from "../lib/version.ts";
import { SLASH_LINES } from "./slash.ts";

/** How `--json` reports a failure: the same on every command. */
const JSON_ERRORS =
  `Errors with --json (every command): one JSON line on stderr instead of the message, with
the same exit code, e.g.
  {"error":{"message":"Cannot delete a.txt: no such file (404). See switchboard ls",
  "kind":"failure","command":"rm"},"code":404,"exit":1}
code is the server's ERR code (null when the server did not refuse: no connection, wrong
usage); kind is usage (exit 2), failure (exit 1), interrupted (exit 130) or internal.`;

const WHERE = `Where the server is (every command):
  --host HOST        server host name or address (default 127.0.0.1)
  -p, --port N       server port (default 7373)
  --tls              speak TLS
  --ca FILE          trust the private CA in this PEM file (implies --tls; env SWITCHBOARD_CA)
  SWITCHBOARD_URL    sb://host:port, or sbs://host:port for TLS (flags win over it)
  --context NAME     use a saved context (env SWITCHBOARD_CONTEXT; default: the current one,
                     see switchboard context); flags and variables win over what it holds

Who you are:
  -n, --nick NAME    nick to take (1-32 of A-Z a-z 0-9 _ -; env SWITCHBOARD_NICK)
  -u, --user NAME    log in as NAME when the server requires it (env SWITCHBOARD_USER); the
                     password comes from SWITCHBOARD_PASSWORD, or is asked on the terminal
  --token TOKEN      log in with a token instead (better: env SWITCHBOARD_TOKEN, which other
                     users cannot see in the process list)

${JSON_ERRORS}`;

/** The overview printed by `switchboard --help`. */
export const OVERVIEW = `switchboard ${VERSION}: the Switchboard client (chat, messages, files)

Usage:
  switchboard <command> [arguments] [options]

Commands:
  chat [--room R]            interactive chat (slash commands, recent messages, reconnects)
  send <room> <text|->       send a message to a room (- reads stdin, one message per line)
  tell <nick> <text|->       send a direct message
  listen [room...]           print messages as they arrive, resuming after a reconnect (--json)
  history <room>             a room's last messages (--limit N, --after ID, --json)
  who [room]                 who is online, or in a room
  rooms                      rooms and how many are in each
  ping [--count N]           round-trip times to the server
  time [--samples N]         the server's time and this clock's offset from it
  ls [dir]                   list shared files
  get <path> [local]         download a file (resumes an interrupted download)
  put <local> [path]         upload a file
  rm <path>                  delete a shared file or empty folder
  status [--http URL]        the server's status from its HTTP endpoint, as tables (--json)
  context add|use|ls|rm      saved servers and logins (--context NAME on any command)
  completions bash|zsh|fish  print a shell completion script
  help [command]             this overview, or a command's help

${WHERE}

Other options:
  --json             machine-readable output, errors included (see below)
  -h, --help         help (also: switchboard <command> --help)
  -V, --version      print the version

Exit codes: 0 success, 1 the server or the network reported a failure, 2 wrong usage,
130 interrupted (Ctrl-C).

Examples:
  switchboard chat --nick alice
  SWITCHBOARD_URL=sb://chat.example.org:7373 switchboard send lobby "deploy done"
  make 2>&1 | switchboard send builds -
  switchboard listen lobby ops --json | jq .text
  switchboard history ops --limit 100
  switchboard get reports/2024.pdf && switchboard put notes.txt shared/notes.txt`;

/** The help of each command, by name. */
export const COMMAND_HELP: Record<string, string> = {
  help: `switchboard help [command]: the overview, or one command's help

Options:
  --json             only errors change: one JSON line on stderr (see switchboard --help)

Examples:
  switchboard help
  switchboard help get`,

  chat: `switchboard chat [--room ROOM] [--history N]: chat interactively

Plain lines go to the current room; incoming messages appear above the line you are typing.
Joining a room shows its last messages. Up/Down recall earlier lines, of earlier runs too (kept
in XDG_STATE_HOME/switchboard/history, 1000 lines, mode 0600). Tab completes commands, nicks
(the current room's first) and rooms. Messages of rooms other than the current one are counted
as unread: the prompt shows "lobby [ops 3]>", /rooms and /join say how many. Ctrl-C at an
empty prompt quits with exit code 130. When the server goes
away, chat reconnects with backoff, takes its nick back, rejoins its rooms and shows what was
said meanwhile ("(3 messages you missed in ops)"), or says "(some messages were lost in ops)"
when the room's log no longer has them. Nick changes show as "bob is now known as bob2". With
stdin not a terminal it reads one line per command and quits at end of input, so it can be
scripted.

Options:
  -r, --room ROOM    room to join and talk in at start (default lobby)
  --history N        earlier messages to show when joining a room (default 20; 0: none)

Slash commands:
${SLASH_LINES}

${WHERE}

Examples:
  switchboard chat --nick alice
  switchboard chat --nick bob --room ops --host chat.example.org
  switchboard chat --room ops --history 0`,

  send: `switchboard send <room> <text...>   |   switchboard send <room> -

Sends a message to a room, joining it first. With "-" it reads standard input and sends one
message per line (empty lines are skipped). Prints nothing on success, or with --json one line
per message, with its id in the room: {"room":"lobby","recipients":3,"id":41}. It is quiet: the
room's members see the message, not this client joining and leaving around it (on servers that
support JOIN room quiet; older ones announce it as before).

Options:
  --json             one JSON line per message sent; errors as JSON on stderr

${WHERE}

Examples:
  switchboard send lobby "hello everyone"
  switchboard send ops deploy finished --nick ci
  tail -f app.log | switchboard send logs -`,

  tell: `switchboard tell <nick> <text...>   |   switchboard tell <nick> -

Sends a direct message to a nick (any case). With "-" it reads standard input, one message
per line.

Options:
  --json             one line per message: {"nick":"bob","delivered":true}; errors as JSON

${WHERE}

Examples:
  switchboard tell bob "lunch?"
  echo "build broke" | switchboard tell alice - --nick ci`,

  listen: `switchboard listen [room...] [--json] [--count N]

Joins the rooms and prints each message as it arrives, with direct messages to this client.
Without rooms it listens to lobby. Text lines look like "12:01:02 [lobby] <bob> hi"; with
--json each message is one JSON object on its own line, room messages with their id:
  {"type":"msg","room":"lobby","from":"bob","id":41,"text":"hi","time":"2024-05-01T12:01:02.345Z"}
  {"type":"dm","from":"bob","text":"psst","time":"..."}
  {"type":"joined"|"left","room":"ops","nick":"carol","time":"..."}
  {"type":"renamed","old":"carol","nick":"carol2","time":"..."}
When the server goes away it reconnects (with backoff), rejoins, and prints the messages sent
meanwhile from the rooms' logs, in order and each once; when the log no longer has some of
them it prints a line saying so (with --json:
{"type":"gap","room":"ops","expected":12,"first":30,"epoch_changed":false,"time":"..."}, the
messages from "expected" up to before "first" are gone). A line "Listening on ..." and what
happens to the connection go to stderr. Stops after N messages with --count, on Ctrl-C, or
when the server ends the login (exit 1).

Options:
  --json             one JSON object per line
  -c, --count N      exit 0 after N messages (direct messages included)

${WHERE}

Examples:
  switchboard listen
  switchboard listen ops alerts --json | jq -r .text
  switchboard listen builds --count 1    # wait for the next message`,

  history: `switchboard history <room> [--limit N] [--after ID] [--json]: a room's messages

Prints the last N messages the server keeps of a room (default 50), oldest first, as
"#41 [ops] <bob> hi"; with --after ID the first N whose id is greater than ID (pass the id of
the last message you saw to read what came after it). It joins the room for the time it reads
when this client is not in it. With --json it prints one object:
  {"room":"ops","epoch":"...","first":3,"last":41,"messages":[{"id":41,"from":"bob","text":"hi"}]}
where first and last are the oldest and newest ids kept; ids restart in a new epoch.

Options:
  --limit N          messages to print, 1 to 100000 (default 50)
  --after ID         only messages with a greater id
  --json             one JSON object

${WHERE}

Examples:
  switchboard history ops
  switchboard history ops --after 41 --json | jq -r '.messages[].text'`,

  who: `switchboard who [room] [--json]: who is online, or in a room

Options:
  --json             the list as one JSON array: [{"nick":..,"rooms":[..],"since":..}]

${WHERE}

Examples:
  switchboard who
  switchboard who ops --json`,

  rooms: `switchboard rooms [--json]: the rooms and how many members each has

Options:
  --json             one JSON array: [{"room":"lobby","members":3}]

${WHERE}

Examples:
  switchboard rooms
  switchboard rooms --json | jq '.[].room'`,

  ping: `switchboard ping [--count N] [--json]: measure round trips to the server with PING

Options:
  -c, --count N      samples (default 4)
  --json             one line: {"samples_ms":[...],"min_ms":..,"avg_ms":..,"max_ms":..}

${WHERE}

Examples:
  switchboard ping
  switchboard ping --count 20 --host chat.example.org`,

  time: `switchboard time [--samples N] [--json]: the server's clock and this clock's offset

Takes N samples with TIME and keeps the one with the smallest round trip (as NTP clients do):
a round trip is measured as ping measures it (one command and its reply, after one uncounted
PING, 10 ms apart), so the two agree.
the offset is the server's clock minus this machine's, estimated at the middle of that round
trip, so it is accurate to within half of it.

Options:
  --samples N        samples to take (default 8)
  --json             one line: {"server_time":"...","server_ms":..,"rtt_ms":..,"avg_rtt_ms":..,
                     "max_rtt_ms":..,"offset_ms":..,"samples":N}

${WHERE}

Examples:
  switchboard time
  switchboard time --samples 32 --json`,

  ls: `switchboard ls [dir] [--json]: list a shared folder

Options:
  --json             one JSON array: [{"name":..,"type":"file"|"dir","size":..,"mtime":..}]

${WHERE}

Examples:
  switchboard ls
  switchboard ls reports --json`,

  get: `switchboard get [-r] <path> [local] [--json] [--no-resume] [--force]: download a shared file

Writes to LOCAL (default: the file's name in the current folder; a folder means inside it)
through LOCAL.part, checks the whole file's sha256, then renames it into place. If a
download is interrupted (Ctrl-C, network drop), run the same command again: it resumes from
the .part file. A progress bar shows on a terminal; --json prints one result line instead.
An existing LOCAL is never replaced without --force. With -r, PATH is a folder, downloaded
whole into LOCAL; files already complete there (same size and sha256) are skipped.

Options:
  -r, --recursive    a whole folder
  --force, -f        replace existing local files
  --no-resume        throw away a .part file and start over
  --json             one line: {"path":..,"local":..,"size":..,"sha256":..,"resumed_from":..}

${WHERE}

Examples:
  switchboard get reports/2024.pdf
  switchboard get big.iso /tmp/ && sha256sum /tmp/big.iso`,

  put: `switchboard put [-r] <local> [path] [--json] [--no-resume] [--force]: upload a file

Streams LOCAL to PATH (default: its file name at the top of the share). The server's sha256
is checked against this file's. A progress bar shows on a terminal. If an upload is cut,
the server keeps what arrived for a while (its --upload-resume-ttl): run the same command
again to send only the rest. An existing PATH is never replaced without --force. With -r,
LOCAL is a folder, uploaded whole; files already complete on the server are skipped.

Options:
  -r, --recursive    a whole folder (symlinks leading out of it are not followed)
  --force, -f        replace existing files on the server
  --no-resume        start over instead of resuming a cut upload
  --json             one line: {"path":..,"local":..,"size":..,"sha256":..}

${WHERE}

Examples:
  switchboard put notes.txt
  switchboard put build/app.tar.gz releases/app-1.2.tar.gz
  switchboard put -r photos shared/photos`,

  rm: `switchboard rm [-r] <path> [--json] [--yes]: delete a shared file or an empty folder

With -r, a folder and everything in it, after a confirmation on a terminal (--yes, -y
skips it; it is required when standard input is not a terminal).

Options:
  --json             one line: {"path":..,"deleted":true}

${WHERE}

Examples:
  switchboard rm old/notes.txt
  switchboard rm old
  switchboard rm -r old --yes`,

  status: `switchboard status [--http URL] [--token TOKEN] [--json]: a server's status

Reads GET /api/status from the server's HTTP endpoint (switchboard-server --http ADDR) and
prints it as tables: the counters, the clients (nick, address, rooms, since, queued bytes), the
rooms (members, last message id), transfers in flight and the recent disconnects with their
reasons. It does not connect to the chat port: --host and --port do not apply.

Options:
  --http URL         the endpoint: host:port or an http(s) URL (default http://127.0.0.1:7374)
  --token TOKEN      sent as Authorization: Bearer TOKEN (the server's --http-token)
  --json             the status JSON as the server sent it, on one line; errors as JSON on
                     stderr (see switchboard --help)

Examples:
  switchboard status
  switchboard status --http 10.0.0.5:7374 --token "$SWITCHBOARD_HTTP_TOKEN"
  switchboard status --json | jq '.clients[].nick'`,

  context: `switchboard context add|use|ls|rm [NAME]: saved servers and logins

  switchboard context add NAME --url sbs://host:7373 [--ca FILE] [--user U | --token T] [--nick N]
  switchboard context use NAME       make NAME the current context
  switchboard context ls             list them, * marks the current one (--json: the token is
                                     only said to be there)
  switchboard context rm NAME        remove one

Contexts are kept in the config folder (XDG_CONFIG_HOME/switchboard/contexts.json, default
~/.config/switchboard; on Windows %APPDATA%\\switchboard), readable by you only (mode 0600).
A password is never stored: with --user it comes from SWITCHBOARD_PASSWORD or is asked each
time; a token is stored (in that 0600 file). The first context added becomes the current one.
Any command takes --context NAME (or SWITCHBOARD_CONTEXT) to use another. What a flag or a
variable sets wins over the context: the server (--host, --port, --tls, --ca, SWITCHBOARD_URL,
SWITCHBOARD_CA), the login (--user, --token, SWITCHBOARD_USER, SWITCHBOARD_TOKEN), the nick.

Options:
  --url URL          sb://host:port, or sbs://host:port for TLS (add)
  --ca FILE          a private CA to trust, kept as an absolute path (add)
  -u, --user NAME    log in as NAME (add)
  --token TOKEN      log in with this token (add)
  -n, --nick NAME    nick to take (add)
  --json             JSON output; errors as JSON on stderr

Examples:
  switchboard context add prod --url sbs://chat.example.org:7373 --ca ca.pem --user alice
  switchboard context use prod && switchboard who
  switchboard send ops "deploy done" --context staging`,

  completions: `switchboard completions bash|zsh|fish: print a shell completion script

Completes commands, options, contexts, local files (put, --ca) and, for get, rm and ls, the
shared paths on the server named by the command line (or its context), when it answers
within 2 s.

Options:
  --json             only errors change: one JSON line on stderr

Examples:
  switchboard completions bash > ~/.local/share/bash-completion/completions/switchboard
  source <(switchboard completions bash)      # or this in ~/.bashrc
  source <(switchboard completions zsh)       # in ~/.zshrc
  switchboard completions fish > ~/.config/fish/completions/switchboard.fish`,
};
