/**
 * The messages a new user meets (issue 26), each checked in a real child process by its exact
 * text and exit code: a name that resolves to nothing, a season no schedule covers, a year that
 * is not one, the help of every command and its `--log-level`, and the cache falling back to
 * memory.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as MirrorServer from "../src/mirror/MirrorServer.js"
import { logLevels } from "../src/schema/Config.js"
import { bundledScheduleDir } from "../src/services/Calendar.js"
import { runCli, sandbox } from "./support/cli.js"
import { fixturesRoot } from "./support/stack.js"

const run = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  Effect.promise(() => runCli(args, { env }))

/** A mirror over the fixtures that counts what it is asked, and the env pointing the CLI at it. */
const fixtureMirror = Effect.map(
  MirrorServer.make({ root: fixturesRoot, protocol: "h1" }),
  (mirror) => ({ mirror, env: { TIF1_CDNS: MirrorServer.templateFor(mirror.origin), TIF1_MAX_RETRIES: "0" } })
)

/** The seasons of the bundled schedules, as the error names them (`2018-2026`: they have no gap). */
const bundledYears = (() => {
  const years = Fs.readdirSync(bundledScheduleDir).flatMap((name) => /^(\d{4})\.json$/.exec(name)?.[1] ?? [])
    .map(Number).sort((a, b) => a - b)
  expect(years.at(-1)! - years[0]! + 1).toBe(years.length)
  return `${years[0]}-${years.at(-1)}`
})()

/** The hint under a name the schedule does not resolve. */
const eventHint = "hint: an event is its name, round number, country or location, in any case, accents optional\n"

describe("tif1: a name that resolves to nothing is a usage mistake with its nearest names (exit 2)", () => {
  it.live("a misspelt event: the calendar's nearest names, no 'invalid data', no request", () =>
    Effect.gen(function*() {
      const { env, mirror } = yield* fixtureMirror
      const result = yield* run(["load", "2025", "Vegas", "race"], env)
      expect(result.code).toBe(2)
      expect(result.stderr).toBe(
        "error: no 2025 event is called \"Vegas\"; did you mean 'Las Vegas Grand Prix'? " +
          "(`tif1 events 2025` lists them)\n" + eventHint
      )
      expect(result.stdout).toBe("")
      expect(mirror.hits()).toBe(0)
    }))

  it.live("a misspelt session names the sessions the event has; fetch and mirror pull say the same", () =>
    Effect.gen(function*() {
      const { env, mirror } = yield* fixtureMirror
      const expected = "error: the 2025 Australian Grand Prix has no session \"Raec\" (did you mean 'Race'?); " +
        "it has 'Practice 1', 'Practice 2', 'Practice 3', 'Qualifying', 'Race'\n" +
        "hint: a session is its name or an alias: FP1, FP2, FP3, SQ, SS, S, Q, R\n"
      const fetched = yield* run(["fetch", "2025", "australia", "Raec", "drivers.json"], env)
      expect(fetched.code).toBe(2)
      expect(fetched.stderr).toBe(expected)
      const pulled = yield* run(["mirror", "pull", "2025", "australia", "Raec", "--out", sandbox()], env)
      expect(pulled.code).toBe(2)
      expect(pulled.stderr).toBe(expected)
      expect(mirror.hits()).toBe(0)
    }))

  it.live("a malformed request is still invalid data (exit 5), with a hint about that field", () =>
    Effect.gen(function*() {
      const result = yield* run(["fetch", "2025", "Australian Grand Prix", "Race", "../secrets.json"], {
        TIF1_CDNS: "http://127.0.0.1:9/{year}/{gp}/{session}/{path}"
      })
      expect(result.code).toBe(5)
      expect(result.stderr.split("\n").at(-2)).toBe(
        "hint: a file is named from the session folder: drivers.json, VER/laptimes.json, VER/1_tel.json"
      )
    }))
})

describe("tif1: the schedule is a hint, the CDN is the evidence (issue 27)", () => {
  /**
   * The 2026 calendar of 30 March (the season as it ran without the round added in August, later
   * rounds one lower) in a folder for TIF1_SCHEDULE_DIR, and a mirror publishing that round as
   * TracingInsights does (`2026/Bahrain Grand Prix/Race/`, a real drivers.json).
   */
  const behindTheSeason = Effect.gen(function*() {
    const season = JSON.parse(Fs.readFileSync(Path.join(bundledScheduleDir, "2026.json"), "utf8"))
    const added = season.events.find((event: { location: string }) => event.location === "Sepang")
    const events = season.events.filter((event: unknown) => event !== added)
      .map((event: { round: number }) => (event.round > added.round ? { ...event, round: event.round - 1 } : event))
    const scheduleDir = sandbox()
    Fs.writeFileSync(Path.join(scheduleDir, "2026.json"), JSON.stringify({ year: 2026, events }))
    const root = sandbox()
    const published = Path.join(root, "2026/Bahrain Grand Prix/Race/drivers.json")
    Fs.mkdirSync(Path.dirname(published), { recursive: true })
    Fs.copyFileSync(Path.join(fixturesRoot, "2024/Bahrain Grand Prix/Race/drivers.json"), published)
    const mirror = yield* MirrorServer.make({ root, protocol: "h1" })
    const env = {
      TIF1_CDNS: MirrorServer.templateFor(mirror.origin),
      TIF1_MAX_RETRIES: "0",
      TIF1_SCHEDULE_DIR: scheduleDir
    }
    return { env, mirror, published, scheduleFile: Path.join(scheduleDir, "2026.json") }
  })

  it.live("an event the schedule does not list is fetched from the CDN that publishes it, with one warning", () =>
    Effect.gen(function*() {
      const { env, published, scheduleFile } = yield* behindTheSeason
      const result = yield* run(["fetch", "2026", "Bahrain Grand Prix", "Race", "drivers.json"], env)
      expect(result.code, result.stderr).toBe(0)
      expect(JSON.parse(result.stdout)).toEqual(JSON.parse(Fs.readFileSync(published, "utf8")))
      expect(result.stderr).toBe(
        `warn: calendar: the CDN publishes the 2026 event "Bahrain Grand Prix", which the schedule ${scheduleFile} ` +
          "does not list: that schedule is behind (its round numbers may name other events too); replace it with " +
          "a current 2026.json (the bundled format: data/schedules/README.md), or unset schedule_dir " +
          "(TIF1_SCHEDULE_DIR) to use the bundled schedules\n"
      )
    }))

  it.live("a typo of a listed name is still a usage mistake (exit 2) that sends nothing", () =>
    Effect.gen(function*() {
      const { env, mirror } = yield* behindTheSeason
      const result = yield* run(["fetch", "2026", "Singapur Grand Prix", "Race", "drivers.json"], env)
      expect(result.code).toBe(2)
      expect(result.stderr).toBe(
        "error: no 2026 event is called \"Singapur Grand Prix\"; did you mean 'Singapore Grand Prix'? " +
          "(`tif1 events 2026` lists them)\n" + eventHint
      )
      expect(mirror.hits()).toBe(0)
    }))

  it.live("an unlisted name no CDN publishes: not found (exit 3) after one request, the nearest names logged", () =>
    Effect.gen(function*() {
      const { env, mirror } = yield* behindTheSeason
      const result = yield* run(["fetch", "2026", "Saudi Arabian Grand Prix", "Race", "drivers.json"], env)
      expect(result.code).toBe(3)
      const [warning, error, ...rest] = result.stderr.split("\n")
      expect(warning).toMatch(
        /^warn: not found on any CDN: 2026\/Saudi Arabian Grand Prix\/Race\/drivers\.json; the 2026 schedule has no /
      )
      expect(warning).toMatch(/the nearest it has: '[^']+', '[^']+', '[^']+' \(`tif1 events 2026` lists them\)$/)
      expect(error).toBe("error: not found on any CDN: 2026/Saudi Arabian Grand Prix/Race/drivers.json")
      expect(rest.length).toBe(2)
      expect(mirror.hits()).toBe(1)
    }))
})

describe("tif1 events: a season no schedule covers, and a year that is not one", () => {
  it.live("no schedule is an error (not found, exit 3) naming what the schedules cover, with or without --json", () =>
    Effect.gen(function*() {
      const expected = `error: no schedule for 2030: the bundled schedules cover ${bundledYears}\n` +
        "hint: schedule_dir (TIF1_SCHEDULE_DIR) names a folder of {year}.json schedules in the bundled format, " +
        "read instead of the bundled ones\n"
      for (const args of [["events", "2030"], ["events", "2030", "--json"]]) {
        const result = yield* run(args)
        expect(result.code, args.join(" ")).toBe(3)
        expect(result.stdout).toBe("")
        expect(result.stderr).toBe(expected)
      }
    }))

  it.live("with schedule_dir, the error names that folder and its seasons", () =>
    Effect.gen(function*() {
      const dir = sandbox()
      Fs.copyFileSync(Path.join(bundledScheduleDir, "2025.json"), Path.join(dir, "2025.json"))
      const result = yield* run(["events", "2030"], { TIF1_SCHEDULE_DIR: dir })
      expect(result.code).toBe(3)
      expect(result.stderr.split("\n")[0]).toBe(`error: no schedule for 2030: the schedules in ${dir} cover 2025`)
      expect((yield* run(["events", "2025"], { TIF1_SCHEDULE_DIR: dir })).code).toBe(0)
    }))

  it.live("a year that is not four digits is a usage mistake naming the argument", () =>
    Effect.gen(function*() {
      for (const typed of ["twentyfive", "25", "2025.5"]) {
        const result = yield* run(["events", typed])
        expect(result.code, typed).toBe(2)
        expect(result.stderr).toBe(
          `\nERROR\n  Invalid value for argument <year>: "${typed}". Expected a season as four digits, e.g. 2025\n` +
            "hint: see --help\n"
        )
      }
    }))
})

/** Every command path, for its `--help`. */
const commandPaths = [
  [],
  ["fetch"],
  ["load"],
  ["events"],
  ["results"],
  ["standings"],
  ["cache"],
  ["cache", "info"],
  ["cache", "clear"],
  ["mirror"],
  ["mirror", "pull"],
  ["mirror", "serve"],
  ["stats"],
  ["config"],
  ["demo"]
]

/**
 * The rows of a help text's ARGUMENTS and FLAGS sections as name and description (without the
 * `(optional)` and `(choices: ...)` effect/cli appends).
 */
const helpRows = (help: string) => {
  const rows: Array<{ readonly name: string; readonly description: string }> = []
  let section = ""
  for (const line of help.split("\n")) {
    if (/^[A-Z][A-Z ]+$/.test(line)) section = line
    else if (line.startsWith("  ") && (section === "ARGUMENTS" || section.endsWith("FLAGS"))) {
      const row = section === "ARGUMENTS"
        ? /^ {2}(.+?) (?:integer|string|directory|file|path|choice) ?(.*)$/.exec(line)
        : /^ {2}(--[\w-]+(?:, -\w)?)(?: (?:<[^>]+>|[a-z]+)(?= ))?\s*(.*)$/.exec(line)
      expect(row, line).not.toBeNull()
      rows.push({
        name: row![1]!,
        description: row![2]!.replace(/\s*\(optional\)$/, "").replace(/\s*\(choices: [^)]*\)$/, "").trim()
      })
    }
  }
  return rows
}

describe("tif1 --help", () => {
  it.live("every flag and argument of every command has a description of its own; no --wizard", () =>
    Effect.gen(function*() {
      const helps = yield* Effect.forEach(commandPaths, (path) => run([...path, "--help"]), { concurrency: 4 })
      for (const [index, help] of helps.entries()) {
        const command = ["tif1", ...commandPaths[index]!].join(" ")
        expect(help.code, command).toBe(0)
        expect(help.stdout, command).not.toContain("--wizard")
        const rows = helpRows(help.stdout)
        expect(rows.length, command).toBeGreaterThan(0)
        for (const { description, name } of rows) {
          expect(description, `${command}: ${name}`).not.toBe("")
          expect(description, `${command}: ${name}`).not.toBe("A true or false value.")
        }
      }
    }))

  it.live("--log-level takes and names the levels of TIF1_LOG_LEVEL, and rules over it", () =>
    Effect.gen(function*() {
      const help = yield* run(["load", "--help"])
      const line = help.stdout.split("\n").find((row) => row.trimStart().startsWith("--log-level"))
      expect(line).toMatch(
        new RegExp(
          "^ {2}--log-level level +log lines on stderr from this level up, as TIF1_LOG_LEVEL " +
            `\\(default warning; --verbose: debug\\) \\(choices: ${logLevels.join(", ")}\\)$`
        )
      )
      const warn = yield* run(["events", "2025", "--log-level", "warn"])
      expect(warn.code).toBe(2)
      expect(warn.stderr).toBe(
        "\nERROR\n  Invalid value for flag --log-level: \"warn\". Expected: " +
          `${logLevels.map((level) => `"${level}"`).join(" | ")}\nhint: see --help\n`
      )
      // An unusable cache folder is one warning: shown at warning, not at error or none.
      const home = sandbox()
      Fs.writeFileSync(Path.join(home, "not-a-folder"), "")
      const env = { TIF1_CACHE_DIR: Path.join(home, "not-a-folder", "cache") }
      const cacheInfo = (args: ReadonlyArray<string>, extra: Record<string, string> = {}) =>
        Effect.promise(() => runCli(["cache", "info", ...args], { home, env: { ...env, ...extra } }))
      const warned = /^warn: cache: the folder .*not-a-folder\/cache is not usable/m
      expect((yield* cacheInfo([])).stderr).toMatch(warned)
      expect((yield* cacheInfo(["--log-level", "error"])).stderr).toBe("")
      expect((yield* cacheInfo(["--log-level", "none"], { TIF1_LOG_LEVEL: "warning" })).stderr).toBe("")
      expect((yield* cacheInfo([], { TIF1_LOG_LEVEL: "none" })).stderr).toBe("")
      const flagOverEnv = yield* cacheInfo(["--log-level", "warning"], { TIF1_LOG_LEVEL: "none" })
      expect(flagOverEnv.code).toBe(0)
      expect(flagOverEnv.stderr).toMatch(warned)
    }))
})

describe("tif1: the cache falling back to memory is a warning that says what to do", () => {
  it.live("node:sqlite switched off: a warning naming the switch, the command carries on (exit 0)", () =>
    Effect.gen(function*() {
      const result = yield* run(["cache", "info"], { NODE_OPTIONS: "--no-experimental-sqlite" })
      expect(result.code).toBe(0)
      expect(result.stderr).toBe(
        "warn: cache: Node's built-in SQLite module does not load (Failed to load node:sqlite: " +
          `Node ${process.version} has no built-in node:sqlite module); running without the persistent cache ` +
          "(memory only); drop --no-experimental-sqlite from the node command line or NODE_OPTIONS\n"
      )
      expect(result.stdout).toMatch(/^ {2}file\s+\(no persistent cache\)$/m)
    }))

  it.live("an unusable folder: a warning saying where to point the cache; stats does not claim a cache file", () =>
    Effect.gen(function*() {
      const home = sandbox()
      const file = Path.join(home, "not-a-folder")
      Fs.writeFileSync(file, "")
      const folder = Path.join(file, "cache")
      const result = yield* Effect.promise(() => runCli(["stats"], { home, env: { TIF1_CACHE_DIR: folder } }))
      expect(result.code).toBe(0)
      expect(result.stderr).toBe(
        `warn: cache: the folder ${folder} is not usable (Error: ENOTDIR: not a directory, mkdir '${folder}'); ` +
          "running without the persistent cache (memory only); " +
          "point cache_dir (TIF1_CACHE_DIR) at a folder this user can write\n"
      )
      expect(result.stdout).toMatch(/^ {2}cache file\s+\(no persistent cache\)$/m)
    }))
})
