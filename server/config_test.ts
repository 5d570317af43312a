import assert from "node:assert/strict";
import {
  DEFAULT_CONFIG,
  envName,
  OPTIONS,
  optionsHelp,
  parseDuration,
  parseServerArgs,
  parseSize,
  validateConfig,
} from "./config.ts";

const ROOT = new URL("../", import.meta.url).pathname;

function env(vars: Record<string, string>): (name: string) => string | undefined {
  return (name) => vars[name];
}

/** Asserts `fn` throws a RangeError whose message matches `re`. */
function throwsRange(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof RangeError, `a RangeError, got ${e}`);
    assert.match(e.message, re);
    return true;
  });
}

Deno.test("parseServerArgs() with nothing gives the protocol's default limits", () => {
  const { config, help, version, positionals } = parseServerArgs([]);
  assert.deepEqual(config, { ...DEFAULT_CONFIG });
  assert.equal(help, false);
  assert.equal(version, false);
  assert.deepEqual(positionals, []);
  assert.equal(config.host, "127.0.0.1");
  assert.equal(config.port, 7373);
  assert.equal(config.files, "./files");
  assert.equal(config.maxLine, 4096);
  assert.equal(config.maxPayload, 1048576);
  assert.equal(config.maxFileSize, 8 * 1024 ** 3);
  assert.equal(config.maxClients, 10000);
  assert.equal(config.maxPending, 8 * 1024 ** 2);
  assert.equal(config.writeDeadline, 10_000);
  assert.equal(config.pingInterval, 60_000);
  assert.equal(config.logFormat, "text");
  assert.equal(config.readOnly, false);
});

Deno.test("flags win over environment variables, which win over defaults", () => {
  const vars = env({
    SWITCHBOARD_MAX_LINE: "8KiB",
    SWITCHBOARD_PORT: "9000",
    SWITCHBOARD_PING_INTERVAL: "30s",
    SWITCHBOARD_READ_ONLY: "yes",
  });
  const { config } = parseServerArgs(["--max-line", "16384", "--host", "0.0.0.0"], vars);
  assert.equal(config.maxLine, 16384, "flag over env");
  assert.equal(config.port, 9000, "env over default");
  assert.equal(config.pingInterval, 30_000);
  assert.equal(config.readOnly, true);
  assert.equal(config.host, "0.0.0.0", "flag over default");
  assert.equal(config.maxPayload, 1048576, "default");
});

Deno.test("every option has a flag and an environment variable SWITCHBOARD_<NAME>", () => {
  const flags = new Set<string>();
  for (const spec of OPTIONS) {
    assert.match(spec.flag, /^[a-z][a-z0-9-]*$/);
    assert.ok(!flags.has(spec.flag), `--${spec.flag} appears once`);
    flags.add(spec.flag);
    assert.equal(envName(spec.flag), "SWITCHBOARD_" + spec.flag.toUpperCase().replaceAll("-", "_"));
    assert.ok(spec.key in DEFAULT_CONFIG, `${spec.key} has a default`);
  }
  assert.equal(envName("max-line"), "SWITCHBOARD_MAX_LINE");
  for (
    const f of [
      "max-line",
      "max-payload",
      "max-file-size",
      "max-clients",
      "max-pending",
      "write-deadline",
      "ping-interval",
    ]
  ) {
    assert.ok(flags.has(f), `--${f} is an option`);
  }
});

Deno.test("parseSize() reads bytes and binary units, case-insensitively", () => {
  assert.equal(parseSize("4096"), 4096);
  assert.equal(parseSize("0"), 0);
  assert.equal(parseSize("64KiB"), 65536);
  assert.equal(parseSize("64k"), 65536);
  assert.equal(parseSize("64KB"), 65536);
  assert.equal(parseSize("1MiB"), 1048576);
  assert.equal(parseSize("1m"), 1048576);
  assert.equal(parseSize("8G"), 8 * 1024 ** 3);
  assert.equal(parseSize("8gib"), 8 * 1024 ** 3);
  assert.equal(parseSize("1TiB"), 1024 ** 4);
  assert.equal(parseSize("1.5k"), 1536);
  assert.equal(parseSize(" 10 MiB "), 10 * 1024 ** 2);
  assert.equal(parseSize("12b"), 12);
});

Deno.test("parseSize() refuses what is not a size", () => {
  for (const bad of ["", "abc", "-1", "1XB", "1 2", "0x10", "1e6", "k"]) {
    throwsRange(() => parseSize(bad), /is not a size/);
  }
  throwsRange(() => parseSize("99999999999999999999"), /too large/);
});

Deno.test("parseDuration() reads ms, s, m, h; a bare number is milliseconds", () => {
  assert.equal(parseDuration("250"), 250);
  assert.equal(parseDuration("500ms"), 500);
  assert.equal(parseDuration("10s"), 10_000);
  assert.equal(parseDuration("1.5s"), 1500);
  assert.equal(parseDuration("1m"), 60_000);
  assert.equal(parseDuration("2min"), 120_000);
  assert.equal(parseDuration("1h"), 3_600_000);
  assert.equal(parseDuration("10S"), 10_000);
});

Deno.test("parseDuration() refuses what is not a duration", () => {
  for (const bad of ["", "soon", "-5s", "10 parsecs", "1d", "s"]) {
    throwsRange(() => parseDuration(bad), /is not a duration/);
  }
});

Deno.test("sizes and durations work in flags and environment variables", () => {
  const { config } = parseServerArgs(
    ["--max-payload", "2MiB", "--write-deadline", "1.5s", "--max-pending", "64KiB"],
    env({ SWITCHBOARD_MAX_FILE_SIZE: "1G", SWITCHBOARD_PING_INTERVAL: "2m" }),
  );
  assert.equal(config.maxPayload, 2 * 1024 ** 2);
  assert.equal(config.writeDeadline, 1500);
  assert.equal(config.maxPending, 65536);
  assert.equal(config.maxFileSize, 1024 ** 3);
  assert.equal(config.pingInterval, 120_000);
});

Deno.test("a bad flag value names the flag", () => {
  throwsRange(() => parseServerArgs(["--max-line", "lots"]), /^--max-line: "lots" is not a size/);
  throwsRange(
    () => parseServerArgs(["--ping-interval", "soon"]),
    /^--ping-interval: "soon" is not a duration/,
  );
  throwsRange(() => parseServerArgs(["--port", "70000"]), /^--port: 70000 is not a port/);
  throwsRange(() => parseServerArgs(["--port", "http"]), /^--port: "http" is not a whole number/);
  throwsRange(() => parseServerArgs(["--max-clients", "-3"]), /--max-clients/);
  throwsRange(
    () => parseServerArgs(["--log-format", "xml"]),
    /^--log-format: "xml" is not text or json/,
  );
  throwsRange(() => parseServerArgs(["--host", ""]), /^--host: it must not be empty/);
});

Deno.test("a bad environment value names the variable", () => {
  throwsRange(
    () => parseServerArgs([], env({ SWITCHBOARD_MAX_PAYLOAD: "big" })),
    /^SWITCHBOARD_MAX_PAYLOAD: "big" is not a size/,
  );
  throwsRange(
    () => parseServerArgs([], env({ SWITCHBOARD_READ_ONLY: "maybe" })),
    /^SWITCHBOARD_READ_ONLY: "maybe" is not true or false/,
  );
  // A good flag hides a bad variable: the variable is not read.
  assert.equal(
    parseServerArgs(["--max-payload", "1k"], env({ SWITCHBOARD_MAX_PAYLOAD: "big" })).config
      .maxPayload,
    1024,
  );
});

Deno.test("values out of range name the option", () => {
  throwsRange(
    () => parseServerArgs(["--max-line", "10"]),
    /^--max-line: must be at least 64 bytes/,
  );
  throwsRange(() => parseServerArgs(["--max-clients", "0"]), /^--max-clients: must be at least 1/);
  throwsRange(
    () => parseServerArgs(["--max-pending", "1k"]),
    /^--max-pending: must be at least 64KiB/,
  );
  throwsRange(
    () => parseServerArgs(["--ping-interval", "5ms"]),
    /^--ping-interval: must be at least 10ms/,
  );
  throwsRange(
    () => parseServerArgs(["--write-deadline", "0"]),
    /^--write-deadline: must be at least 10ms/,
  );
  throwsRange(
    () => parseServerArgs(["--lobby-notices=-1"]),
    /^--lobby-notices: "-1" is not a whole number/,
  );
  throwsRange(
    () => validateConfig({ ...DEFAULT_CONFIG, lobbyNotices: -1 }),
    /^--lobby-notices: must be 0 or more/,
  );
  throwsRange(
    () => parseServerArgs([], env({ SWITCHBOARD_MAX_LINE: "32" })),
    /--max-line: must be at least 64 bytes/,
  );
});

Deno.test("an unknown flag is refused by name", () => {
  throwsRange(() => parseServerArgs(["--max-lines", "10"]), /--max-lines/);
  throwsRange(() => parseServerArgs(["--max-line"]), /--max-line/);
});

Deno.test("--help and --version are reported, words that are not flags are positionals", () => {
  assert.equal(parseServerArgs(["--help"]).help, true);
  assert.equal(parseServerArgs(["--version"]).version, true);
  assert.deepEqual(parseServerArgs(["serve", "--port", "1"]).positionals, ["serve"]);
});

Deno.test("optionsHelp() lists every option with its default and variable", () => {
  const help = optionsHelp();
  const lines = help.split("\n");
  assert.equal(lines.length, OPTIONS.length);
  for (const spec of OPTIONS) {
    const line = lines.find((l) =>
      l.trimStart().startsWith(`--${spec.flag} `) || l.trim() === `--${spec.flag}`
    );
    assert.ok(line, `--${spec.flag} is listed`);
    assert.match(line, new RegExp(`\\(default: [^;]+; env ${envName(spec.flag)}\\)$`), line);
  }
  for (
    const [flag, shown] of [
      ["max-line", "4KiB"],
      ["max-payload", "1MiB"],
      ["max-file-size", "8GiB"],
      ["max-clients", "10000"],
      ["max-pending", "8MiB"],
      ["write-deadline", "10s"],
      ["ping-interval", "1m"],
      ["port", "7373"],
      ["host", "127.0.0.1"],
    ] as const
  ) {
    const line = lines.find((l) => l.trimStart().startsWith(`--${flag} `))!;
    assert.match(line, new RegExp(`\\(default: ${shown.replaceAll(".", "\\.")};`), line);
    // The default shown parses back to the real default.
    const spec = OPTIONS.find((s) => s.flag === flag)!;
    const back = parseServerArgs([`--${flag}`, shown]).config[spec.key];
    assert.equal(back, DEFAULT_CONFIG[spec.key], `--${flag} ${shown}`);
  }
});

Deno.test("switchboard-server --help prints every option with its default and exits 0", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      `${ROOT}main.ts`,
      "server",
      "--help",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0);
  const text = new TextDecoder().decode(out.stdout);
  for (const spec of OPTIONS) {
    assert.match(
      text,
      new RegExp(`--${spec.flag}\\b.*\\(default: [^;]+; env ${envName(spec.flag)}\\)`),
    );
  }
  assert.match(text, /--help/);
});

Deno.test("switchboard-server with a bad flag exits 2 and names the flag", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      `${ROOT}main.ts`,
      "server",
      "--max-line",
      "huge",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 2);
  assert.match(new TextDecoder().decode(out.stderr), /--max-line: "huge" is not a size/);
});

Deno.test("formatDuration() writes the largest whole unit, and parseDuration() reads it back", async () => {
  const { formatDuration } = await import("./units.ts");
  for (
    const [ms, text] of [[86_400_000, "24h"], [90 * 60_000, "90m"], [25, "25ms"], [
      10_000,
      "10s",
    ]] as const
  ) {
    assert.equal(formatDuration(ms), text);
    assert.equal(parseDuration(text), ms);
  }
});
