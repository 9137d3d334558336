#!/usr/bin/env node
/**
 * The `tif1` command: fetch, load, events, results, standings, cache, mirror pull|serve, stats, config, demo.
 *
 * Exit codes: 0 ok, 1 unexpected, 2 usage or configuration (an event or session name the schedule
 * resolves to nothing included), 3 not found (a season no schedule covers included), 4 network,
 * 5 invalid data (a malformed request or file). Errors print as one line plus a hint; `--verbose`
 * adds the full cause.
 *
 * Startup: only the command line itself is loaded up front. What a command does (the client
 * stack with undici and SQLite, the mirror server, the load display, the demo) is imported when
 * that command runs, so `tif1 --help` and usage errors answer at once.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Argument from "effect/cli/Argument"
import * as CliConfig from "effect/cli/CliConfig"
import * as CliOutput from "effect/cli/CliOutput"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import * as GlobalFlag from "effect/cli/GlobalFlag"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import type * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as References from "effect/References"
import * as Fs from "node:fs"
import * as Path from "node:path"
import type * as Tif1 from "../layers/Tif1.js"
import {
  defaultHeadersTimeoutMs,
  defaultIdleTimeoutMs,
  defaultMaxCachedBytes,
  defaultMaxConnections
} from "../mirror/limits.js"
import {
  configKeys,
  envName,
  loadConfig,
  logLevels,
  redactSecrets,
  type ResolvedTif1Config,
  snakeCase,
  version
} from "../schema/Config.js"
import type { Tif1ConfigError } from "../schema/Errors.js"
import type { CacheStats } from "../services/Cache.js"
import { logLevelOf, stderrLogger } from "../services/internal/stderrLogger.js"
import type { AttemptTiming } from "./load.js"
import * as Platform from "./platform.js"
import { diagnose, megabytes, NoScheduleError, stderr, table, UsageError } from "./render.js"

const stdout = (text: string) => {
  process.stdout.write(text)
}

/** A setting as `tif1 config` shows it (JSON): header values and passwords in URLs as `***`. */
const shownValue = (key: string, value: unknown): string =>
  key === "cdnHeaders"
    ? JSON.stringify(Object.fromEntries(
      Object.entries(value as Record<string, Record<string, string>>).map((
        [cdn, headers]
      ) => [cdn, Object.fromEntries(Object.keys(headers).map((name) => [name, "***"]))])
    ))
    : redactSecrets(JSON.stringify(value))

/** Bytes of a file, 0 when it does not exist. */
const fileSize = (file: string): number => {
  try {
    return Fs.statSync(file).size
  } catch {
    return 0
  }
}

/** The seasons a schedule folder holds (`{year}.json` files); none when it cannot be read. */
const scheduleYears = (folder: string): ReadonlyArray<number> => {
  try {
    return Fs.readdirSync(folder).flatMap((name) => {
      const match = /^(\d{4})\.json$/.exec(name)
      return match === null ? [] : [Number(match[1])]
    })
  } catch {
    return []
  }
}

/** A UTC start as wall-clock time at the circuit (`2025-03-16 15:00 +11:00`). */
const localTime = (start: string, utcOffset: string): string => {
  const [, sign, hours, minutes] = /^([+-])(\d\d):(\d\d)$/.exec(utcOffset) ?? ["", "+", "00", "00"]
  const offsetMs = (sign === "-" ? -1 : 1) * (Number(hours) * 60 + Number(minutes)) * 60_000
  return `${new Date(Date.parse(start) + offsetMs).toISOString().slice(0, 16).replace("T", " ")} ${utcOffset}`
}

/** A module imported when the command that needs it runs (never for `--help`). */
const importing = <M>(load: () => Promise<M>): Effect.Effect<M> => Effect.promise(load)

/** Run `effect` with the client stack (imported on first use: undici, SQLite, DNS, ...). */
const withStack = <A, E, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E | Tif1ConfigError, Exclude<R, Tif1.Tif1Services>> =>
  Effect.flatMap(importing(() => import("../layers/Tif1.js")), (Tif1) => Effect.provide(effect, Tif1.layer))

const verbose = Flag.Boolean("verbose").pipe(
  Flag.withDefault(false),
  Flag.withDescription("log debug lines, and print the full cause of an error")
)

/**
 * The command itself, before its subcommands are added: `--verbose` is shared with all of them
 * (`tif1 --verbose load ...` or `tif1 load ... --verbose`), and `load` reads it from here.
 */
const root = Command.make(
  "tif1",
  {},
  () =>
    Effect.fail(
      new UsageError({
        message: "tif1 needs a command: fetch, load, events, results, standings, cache, mirror, stats, config or demo"
      })
    )
).pipe(
  Command.withSharedFlags({ verbose }),
  Command.withDescription("Formula 1 timing data from the TracingInsights CDNs.")
)

/** A season: four digits. `twentyfive` or `25` is a usage mistake that says what a year looks like. */
const year = Argument.String("year").pipe(
  Argument.filterMap(
    (text) => (/^\d{4}$/.test(text) ? Option.some(Number(text)) : Option.none()),
    () => "Expected a season as four digits, e.g. 2025"
  ),
  Argument.withMetavar("integer"),
  Argument.withDescription("season, four digits, e.g. 2025")
)
const gp = Argument.String("gp").pipe(Argument.withDescription("event name, e.g. \"Australian Grand Prix\""))
const session = Argument.String("session").pipe(
  Argument.withDescription("session name or alias: Race, Qualifying, Sprint, FP1, Practice 1, ...")
)

/** `--json`, with what it prints for its command. */
const jsonFlag = (description: string) =>
  Flag.Boolean("json").pipe(Flag.withDefault(false), Flag.withDescription(description))

/** `--refresh revalidate|reload`, with what revalidating asks for its command. */
const refreshFlag = (description: string) =>
  Flag.Literals("refresh", ["revalidate", "reload"]).pipe(Flag.optional, Flag.withDescription(description))

const json = jsonFlag("print the result as one JSON object")

const refresh = refreshFlag(
  "revalidate: ask the CDN whether cached files are current (a remembered not-found is asked again); " +
    "reload: ignore the cache"
)

/** The `refresh` fetch option of a `--refresh` flag. */
const refreshOption = (flag: Option.Option<"revalidate" | "reload">) =>
  Option.match(flag, { onNone: () => ({}), onSome: (refresh) => ({ refresh }) })

const telemetry = Flag.Boolean("telemetry").pipe(
  Flag.withDefault(false),
  Flag.withDescription("include every lap's telemetry")
)

/** The session named by the positional arguments. */
const sessionOf = (args: { readonly year: number; readonly gp: string; readonly session: string }) => ({
  year: args.year,
  gp: args.gp,
  session: args.session
})

const fetch = Command.make(
  "fetch",
  {
    year,
    gp,
    session,
    path: Argument.String("path").pipe(Argument.withDescription("file in the session folder, e.g. VER/1_tel.json")),
    compact: Flag.Boolean("compact").pipe(
      Flag.withDefault(false),
      Flag.withDescription("one line of JSON instead of indented")
    ),
    noCache: Flag.Boolean("no-cache").pipe(
      Flag.withoutNegation,
      Flag.withDefault(false),
      Flag.withDescription("neither read nor write the cache")
    ),
    refresh
  },
  (args) =>
    withStack(Effect.gen(function*() {
      const [{ Fetcher }, { resolveSession }] = yield* importing(() =>
        Promise.all([import("../services/Fetcher.js"), import("./names.js")])
      )
      const fetcher = yield* Fetcher
      const names = yield* resolveSession(sessionOf(args))
      const value = yield* fetcher.json(
        { year: args.year, gp: names.gp, session: names.session, path: args.path },
        { ...refreshOption(args.refresh), ...(args.noCache ? { useCache: false, writeCache: false } : {}) }
      )
      stdout(`${JSON.stringify(value, null, args.compact ? undefined : 2)}\n`)
    }))
).pipe(Command.withDescription("Fetch one file and print it as JSON."))

const load = Command.make(
  "load",
  {
    year,
    gp,
    session,
    telemetry,
    json,
    refresh
  },
  (args) =>
    Effect.gen(function*() {
      const { attemptRecorder, loadWithProgress, slowestAttempts } = yield* importing(() => import("./load.js"))
      const load = withStack(loadWithProgress(
        sessionOf(args),
        { telemetry: args.telemetry, ...refreshOption(args.refresh) },
        { progress: stderr, report: stdout, json: args.json }
      ))
      if (!(yield* root).verbose) return yield* load
      // --verbose ends with the slowest CDN attempts, ranked from the stack's own spans.
      const attempts: Array<AttemptTiming> = []
      const base = yield* Effect.tracer
      return yield* load.pipe(
        Effect.withTracer(attemptRecorder(base, (attempt) => attempts.push(attempt))),
        Effect.ensuring(Effect.sync(() => {
          if (attempts.length > 0) process.stderr.write(`slowest CDN attempts:\n${slowestAttempts(attempts, 5)}`)
        }))
      )
    })
).pipe(Command.withDescription(
  "Load a session (drivers, laps, weather, race control; telemetry with --telemetry) with a progress bar, " +
    "then print a summary table."
))

const pull = Command.make(
  "pull",
  {
    year,
    gp,
    session,
    out: Flag.Directory("out").pipe(Flag.withDescription("folder to fill in CDN layout")),
    telemetry
  },
  (args) =>
    withStack(Effect.gen(function*() {
      const [{ pullSession }, { resolveSession }] = yield* importing(() =>
        Promise.all([import("../mirror/pull.js"), import("./names.js")])
      )
      const names = yield* resolveSession(sessionOf(args))
      const summary = yield* pullSession(
        { year: args.year, gp: names.gp, session: names.session },
        { out: args.out, telemetry: args.telemetry }
      )
      stdout(`${summary.folder}\n${
        table([
          ["written", String(summary.written)],
          ["kept", String(summary.kept)],
          ["stale partial files removed", String(summary.staleRemoved)],
          ["missing", String(summary.missing)],
          ["failed", String(summary.failed)],
          ["MB", megabytes(summary.bytes)]
        ])
      }`)
    }))
).pipe(Command.withDescription("Copy a session from the CDNs into a folder (resumable; files are written whole)."))

const serve = Command.make(
  "serve",
  {
    root: Argument.Directory("dir", { mustExist: true }).pipe(Argument.withDescription("folder in CDN layout")),
    host: Flag.String("host").pipe(
      Flag.withDefault("127.0.0.1"),
      Flag.withDescription("address to listen on; 0.0.0.0 serves other machines too")
    ),
    port: Flag.Int("port").pipe(Flag.withDefault(8080), Flag.withDescription("0 picks a free port")),
    h2: Flag.Boolean("h2").pipe(
      Flag.withDefault(false),
      Flag.withDescription("HTTP/2: over TLS with --tls, else cleartext (h2c)")
    ),
    tls: Flag.Boolean("tls").pipe(
      Flag.withDefault(false),
      Flag.withDescription("TLS with a generated self-signed certificate (offers h2 and http/1.1 by ALPN)")
    ),
    maxConnections: Flag.Int("max-connections").pipe(
      Flag.withDefault(defaultMaxConnections),
      Flag.withDescription("connections open at once; new ones past it are closed")
    ),
    headerTimeout: Flag.Int("header-timeout").pipe(
      Flag.withDefault(defaultHeadersTimeoutMs / 1000),
      Flag.withDescription("seconds a client has to send its request headers (or finish TLS)")
    ),
    idleTimeout: Flag.Int("idle-timeout").pipe(
      Flag.withDefault(defaultIdleTimeoutMs / 1000),
      Flag.withDescription("seconds a connection with no request in flight stays open after its last response")
    ),
    cacheMb: Flag.Int("cache-mb").pipe(
      Flag.withDefault(defaultMaxCachedBytes / (1024 * 1024)),
      Flag.withDescription("MiB of served bodies kept in memory (least recently served dropped first)")
    )
  },
  (args) =>
    Effect.scoped(Effect.gen(function*() {
      const MirrorServer = yield* importing(() => import("../mirror/MirrorServer.js"))
      const protocol = args.tls ? "h2" : args.h2 ? "h2c" : "h1"
      const mirror = yield* MirrorServer.make({
        root: args.root,
        host: args.host,
        port: args.port,
        protocol,
        maxConnections: args.maxConnections,
        headersTimeoutMs: args.headerTimeout * 1000,
        idleTimeoutMs: args.idleTimeout * 1000,
        maxCachedBytes: args.cacheMb * 1024 * 1024
      })
      stdout(
        `serving ${Path.resolve(args.root)} at ${mirror.origin} (${protocol}); Ctrl-C stops\n` +
          `use it: TIF1_CDNS='${MirrorServer.templateFor(mirror.origin)}'\n` +
          `or, for a folder of the Stats archive: TIF1_STATS_CDNS='${mirror.origin}/{path}'\n`
      )
      if (mirror.certificate !== undefined) {
        stdout("clients must trust this self-signed certificate (NODE_EXTRA_CA_CERTS=<file>):\n")
        stdout(mirror.certificate.cert)
      }
      return yield* Effect.never
    }))
).pipe(Command.withDescription(
  "Serve a folder in CDN layout over HTTP/1.1, h2c or TLS (ETag/304, gzip, never a file outside it)."
))

/** A command that only groups others (`tif1 mirror`, `tif1 cache`): alone, it is a usage error naming them. */
const commandGroup = <const Subcommands extends ReadonlyArray<Command.Command.Any>>(
  name: string,
  description: string,
  subcommands: Subcommands,
  names: string
) =>
  Command.make(name, {}, () => Effect.fail(new UsageError({ message: `tif1 ${name} needs a command: ${names}` }))).pipe(
    Command.withDescription(description),
    Command.withSubcommands(subcommands)
  )

const mirror = commandGroup(
  "mirror",
  "Fill a local folder in CDN layout, or serve one.",
  [pull, serve],
  "pull or serve"
)

/** The shared tier in one line: where, whether it answers, and what it did in this process. */
const describeRedis = (config: ResolvedTif1Config, redis: CacheStats["redis"]) =>
  `${redactSecrets(config.redisUrl ?? "")} ${redis.state}, ${redis.hits} hits, ${redis.errors} errors`

const stats = Command.make("stats", { json }, (args) =>
  withStack(Effect.gen(function*() {
    const [{ Tif1Config }, { Cache, databaseFileName }, { CdnManager }] = yield* importing(() =>
      Promise.all([
        import("../schema/Config.js"),
        import("../services/Cache.js"),
        import("../services/CdnManager.js")
      ])
    )
    const config = yield* Tif1Config
    const cache = yield* (yield* Cache).stats
    const sources = yield* (yield* CdnManager).sources
    const file = cache.sqlite.enabled ? Path.join(config.cacheDir, databaseFileName) : null
    if (args.json) {
      return stdout(
        `${JSON.stringify({ cacheFile: file, cache, cdns: sources.map(({ baseUrl, name }) => ({ name, baseUrl })) })}\n`
      )
    }
    stdout(table([
      ["cache file", file ?? (config.enableCache && !config.ciMode ? "(no persistent cache)" : "(cache disabled)")],
      ["cached files", String(cache.sqlite.entries)],
      ["cached MB", megabytes(cache.sqlite.bytes)],
      ["known missing", String(cache.negative.entries)],
      ...(cache.redis.enabled ? [["redis", describeRedis(config, cache.redis)] as const] : []),
      ...sources.map((source, index) => [`cdn ${index + 1}`, `${source.name} ${source.baseUrl}`] as const)
    ]))
  }))).pipe(
    Command.withDescription("Show the cache (file, entries, size, files known to be missing) and the CDN sources.")
  )

const config = Command.make(
  "config",
  { json },
  (args) =>
    Effect.map(loadConfig(), (resolved) =>
      args.json
        ? stdout(`${
          JSON.stringify(Object.fromEntries(configKeys.map((key) => [
            snakeCase(key),
            {
              value: JSON.parse(shownValue(key, resolved[key] ?? null)),
              source: resolved.sources[key],
              env: envName(key)
            }
          ])))
        }\n`)
        : stdout(table(configKeys.map((key) => {
          const value = resolved[key]
          return [
            snakeCase(key),
            `${value === undefined ? "(auto)" : shownValue(key, value)}  from ${resolved.sources[key]}  [${
              envName(key)
            }]`
          ] as const
        }))))
).pipe(Command.withDescription("Show the effective configuration and where each value came from."))

/**
 * The seasons of the Stats archive before the timing data: `tif1 events` answers them from the
 * archive's `events.json` when no schedule covers them (the timing data, and its schedules, begin in 2018).
 */
const firstArchiveSeason = 1950
const firstTimingSeason = 2018

const events = Command.make(
  "events",
  { year, json },
  (args) =>
    withStack(Effect.gen(function*() {
      const [{ Tif1Config }, { bundledScheduleDir, Calendar }] = yield* importing(() =>
        Promise.all([import("../schema/Config.js"), import("../services/Calendar.js")])
      )
      const calendar = yield* Calendar
      const season = yield* calendar.events(args.year)
      if (season.length === 0 && args.year >= firstArchiveSeason && args.year < firstTimingSeason) {
        const { archiveEventsReport } = yield* importing(() => import("./archive.js"))
        return stdout(yield* archiveEventsReport(args.year, { json: args.json }))
      }
      if (season.length === 0) {
        const scheduleDir = (yield* Tif1Config).scheduleDir ?? bundledScheduleDir
        return yield* new NoScheduleError({
          year: args.year,
          scheduleDir,
          bundled: scheduleDir === bundledScheduleDir,
          years: scheduleYears(scheduleDir)
        })
      }
      const now = Date.now()
      if (args.json) {
        return stdout(`${
          JSON.stringify(season.map((event) => ({
            ...event,
            sessions: event.sessions.map((session) => ({
              ...session,
              local: localTime(session.start, event.utcOffset),
              started: Date.parse(session.start) <= now
            }))
          })))
        }\n`)
      }
      for (const event of season) {
        stdout(
          `${
            event.round === 0 ? "test" : `R${String(event.round).padStart(2, "0")}`
          }  ${event.name}  (${event.location}, ${event.country})\n`
        )
        stdout(table(event.sessions.map((session) =>
          [
            session.name,
            `${session.start.replace("T", " ").replace(":00Z", " UTC")}  ${
              localTime(session.start, event.utcOffset)
            } local` +
            `${Date.parse(session.start) <= now ? "  started" : ""}`
          ] as const
        )))
      }
    }))
).pipe(
  Command.withDescription(
    "List a season's events and sessions with UTC and local start times, and which have started; " +
      "1950-2017 from the Stats archive (race days, UTC times from 2005)."
  )
)

/** `--json` of the archive's commands. */
const rowsJson = jsonFlag("print the typed rows as JSON (one line)")

const archiveRefresh = refreshFlag(
  "revalidate: ask the archive's CDN whether cached documents are current; reload: ignore the cache"
)

const results = Command.make(
  "results",
  { year, gp, json: rowsJson, refresh: archiveRefresh },
  (args) =>
    withStack(Effect.gen(function*() {
      const { resultsReport } = yield* importing(() => import("./archive.js"))
      stdout(
        yield* resultsReport({ year: args.year, gp: args.gp }, { json: args.json, ...refreshOption(args.refresh) })
      )
    }))
).pipe(Command.withDescription(
  "A race's classification from the Stats archive (1950 on): place, driver, team, time or gap, points; " +
    "--json prints the typed rows."
))

const standings = Command.make(
  "standings",
  {
    year,
    teams: Flag.Boolean("teams").pipe(
      Flag.withDefault(false),
      Flag.withDescription("the constructors' championship instead of the drivers'")
    ),
    after: Flag.String("after").pipe(
      Flag.optional,
      Flag.withMetavar("gp"),
      Flag.withDescription("the standings after this event (name, round, country); else as the archive last saved them")
    ),
    json: rowsJson,
    refresh: archiveRefresh
  },
  (args) =>
    withStack(Effect.gen(function*() {
      const { standingsReport } = yield* importing(() => import("./archive.js"))
      stdout(
        yield* standingsReport(
          { year: args.year, of: args.teams ? "teams" : "drivers", after: Option.getOrUndefined(args.after) },
          { json: args.json, ...refreshOption(args.refresh) }
        )
      )
    }))
).pipe(Command.withDescription(
  "Championship standings from the Stats archive (1950 on): place, driver or team, points, wins; " +
    "--json prints the typed rows."
))

const cacheInfo = Command.make("info", { json }, (args) =>
  withStack(Effect.gen(function*() {
    const [{ Tif1Config }, { Cache, databaseFileName }] = yield* importing(() =>
      Promise.all([import("../schema/Config.js"), import("../services/Cache.js")])
    )
    const config = yield* Tif1Config
    const cacheStats = yield* (yield* Cache).stats
    const stats = cacheStats.sqlite
    const file = Path.join(config.cacheDir, databaseFileName)
    const fileBytes = stats.enabled ? fileSize(file) + fileSize(`${file}-wal`) : 0
    const negative = cacheStats.negative.entries
    const when = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString())
    const info = {
      file: stats.enabled ? file : null,
      fileBytes,
      rows: stats.entries,
      storedBytes: stats.bytes,
      notFoundEntries: negative,
      oldest: when(stats.oldestStoredAt),
      newest: when(stats.newestStoredAt)
    }
    if (args.json) return stdout(`${JSON.stringify(info)}\n`)
    stdout(table([
      ["file", info.file ?? "(no persistent cache)"],
      ["size on disk", `${megabytes(fileBytes)} MB`],
      ["rows", String(info.rows)],
      ["not-found entries", String(info.notFoundEntries)],
      ["oldest", info.oldest ?? "-"],
      ["newest", info.newest ?? "-"],
      ...(cacheStats.redis.enabled ? [["redis", describeRedis(config, cacheStats.redis)] as const] : [])
    ]))
  }))).pipe(
    Command.withDescription("Show the cache file: size, rows, remembered not-found answers, oldest and newest row.")
  )

const cacheClear = Command.make(
  "clear",
  {
    scope: Argument.String("year [gp [session]]").pipe(
      Argument.variadic(),
      Argument.withDescription("what to drop: a season, an event of it, or a session of that; nothing drops all")
    )
  },
  (args) =>
    Effect.gen(function*() {
      const [yearText, gpName, sessionName, ...extra] = args.scope
      if (extra.length > 0) {
        return yield* new UsageError({ message: "tif1 cache clear takes at most a year, an event and a session" })
      }
      if (yearText !== undefined && !/^\d{4}$/.test(yearText)) {
        return yield* new UsageError({ message: `tif1 cache clear: ${JSON.stringify(yearText)} is not a year` })
      }
      return yield* withStack(Effect.gen(function*() {
        const [{ Cache }, { resolveEvent, resolveSession }] = yield* importing(() =>
          Promise.all([import("../services/Cache.js"), import("./names.js")])
        )
        const cache = yield* Cache
        if (yearText === undefined) {
          yield* cache.invalidate("all")
          return stdout("cleared the whole cache\n")
        }
        const year = Number(yearText)
        const scope = gpName === undefined
          ? { year }
          : sessionName === undefined
          ? { year, gp: (yield* resolveEvent(year, gpName))?.name ?? gpName }
          : yield* Effect.map(
            resolveSession({ year, gp: gpName, session: sessionName }),
            (r) => ({ year, gp: r.gp, session: r.session })
          )
        yield* cache.invalidate(scope)
        stdout(
          `cleared ${
            [scope.year, "gp" in scope ? scope.gp : undefined, "session" in scope ? scope.session : undefined].filter((
              part
            ) => part !== undefined).join(" ")
          }\n`
        )
      }))
    })
).pipe(Command.withDescription("Drop cached files and remembered not-found answers: all, or a year, event or session."))

const cache = commandGroup(
  "cache",
  "Look at the cache, or clear some or all of it.",
  [cacheInfo, cacheClear],
  "info or clear"
)

const demo = Command.make("demo", {}, () =>
  Effect.flatMap(
    importing(() => import("./demo.js")),
    ({ runDemo }) => runDemo({ progress: stderr, report: stdout })
  )).pipe(
    Command.withDescription(
      "Serve the bundled sample (timing data and Stats archive) on 127.0.0.1 and load it cold, " +
        "then warm from the cache."
    )
  )

/**
 * `--log-level`, with the levels and names of `log_level` (`TIF1_LOG_LEVEL`). It replaces
 * effect/cli's built-in flag, whose levels are Effect's (all, trace, warn, fatal, ...).
 */
const logLevel = GlobalFlag.Setting("log-level")({
  flag: Flag.Literals("log-level", logLevels).pipe(
    Flag.optional,
    Flag.withMetavar("level"),
    Flag.withDescription(
      "log lines on stderr from this level up, as TIF1_LOG_LEVEL (default warning; --verbose: debug)"
    )
  )
})

/** The level `--log-level` names, over the one from `--verbose` or the configuration. */
const chosenLogLevel: Effect.Effect<LogLevel.LogLevel, never, GlobalFlag.Setting.Identifier<"log-level">> = Effect.gen(
  function*() {
    const chosen = yield* logLevel
    return Option.isSome(chosen) ? logLevelOf(chosen.value) : yield* References.MinimumLogLevel
  }
)

const tif1 = root.pipe(
  Command.withSubcommands([fetch, load, events, results, standings, cache, mirror, stats, config, demo]),
  Command.provideEffect(References.MinimumLogLevel, chosenLogLevel),
  Command.withGlobalFlags([logLevel])
)

const cli = Command.runWith(tif1, { version })

/**
 * effect/cli's built-in flags `--help`, `--version` and `--completions`. Not `--wizard`: its
 * prompts read the terminal key by key, which this command line does not implement (see
 * ./platform.ts). Not its `--log-level`: `logLevel` above takes its place.
 */
const cliConfig = CliConfig.make({
  builtIns: GlobalFlag.BuiltIns.filter((flag) => flag !== GlobalFlag.Wizard && flag !== GlobalFlag.LogLevel)
})

const isVerbose = process.argv.includes("--verbose")

/** Log lines on stderr, clearing a live progress line first. */
const logger = stderrLogger(() => (stderr.isTTY ? "\r\x1b[K" : ""))

/** Escape codes only for a terminal, and never under `NO_COLOR` (https://no-color.org). */
const colorFor = (stream: NodeJS.WriteStream) => stream.isTTY === true && (process.env.NO_COLOR ?? "") === ""

/**
 * How `effect/cli` prints help (stdout) and what was wrong with a command line (stderr): with
 * escape codes where each of those streams is a terminal, plain text elsewhere.
 */
const formatter: CliOutput.Formatter = {
  ...CliOutput.defaultFormatter({ colors: colorFor(process.stdout) }),
  formatErrors: CliOutput.defaultFormatter({ colors: colorFor(process.stderr) }).formatErrors
}

/**
 * `--verbose` is debug; otherwise `log_level` from the environment or config file. A config that
 * does not load leaves warning here: the command itself then fails with that config error.
 * `--log-level`, parsed with the command, rules over both (`chosenLogLevel`).
 */
const minimumLogLevel: Effect.Effect<LogLevel.LogLevel> = isVerbose
  ? Effect.succeed("Debug")
  : loadConfig().pipe(
    Effect.map((config) => logLevelOf(config.logLevel)),
    Effect.orElseSucceed((): LogLevel.LogLevel => "Warn"),
    // its warnings come again when the command loads it
    Effect.provideService(References.MinimumLogLevel, "None")
  )

const program = Effect.flatMap(
  minimumLogLevel,
  (level) =>
    cli(process.argv.slice(2)).pipe(
      Effect.provideService(References.MinimumLogLevel, level),
      Effect.provideService(CliOutput.Formatter, formatter),
      Effect.provideService(CliConfig.CliConfig, cliConfig)
    )
).pipe(Effect.provide(Layer.merge(Platform.layer, logger)))

// `tif1 events 2025 | head`: a reader that stops early is no error.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(process.exitCode ?? 0)
  throw error
})

const fiber = Effect.runFork(program)
let stoppedBySignal = false
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    stoppedBySignal = true
    Effect.runFork(Fiber.interrupt(fiber))
  })
}
/** Ctrl-C is how `mirror serve` is meant to stop; any other command it interrupts (exit 130). */
const servesUntilStopped = process.argv.includes("serve")

fiber.addObserver((exit) => {
  if (Exit.isSuccess(exit)) return
  if (stoppedBySignal && Cause.hasInterruptsOnly(exit.cause)) {
    if (servesUntilStopped) return
    process.stderr.write("interrupted\n")
    process.exitCode = 130
    return
  }
  const diagnosis = diagnose(exit.cause)
  if (diagnosis.line !== "") process.stderr.write(`error: ${diagnosis.line}\n`)
  if (diagnosis.hint !== undefined) process.stderr.write(`hint: ${diagnosis.hint}\n`)
  if (isVerbose) process.stderr.write(`${Cause.pretty(exit.cause)}\n`)
  process.exitCode = diagnosis.exitCode
})
