#!/usr/bin/env node
/**
 * The `tif1` command: fetch, load, mirror pull|serve, stats, config, demo.
 *
 * Exit codes: 0 ok, 1 unexpected, 2 usage or configuration, 3 not found, 4 network,
 * 5 invalid data. Errors print as one line plus a hint; `--verbose` adds the full cause.
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Tif1 from "../layers/Tif1.js"
import * as MirrorServer from "../mirror/MirrorServer.js"
import { pullSession } from "../mirror/pull.js"
import { configKeys, envName, loadConfig, redactSecrets, snakeCase, Tif1Config, version } from "../schema/Config.js"
import { Cache, type CacheStats, databaseFileName } from "../services/Cache.js"
import { Calendar } from "../services/Calendar.js"
import { CdnManager } from "../services/CdnManager.js"
import { Fetcher } from "../services/Fetcher.js"
import { logLevelOf, stderrLogger } from "../services/internal/stderrLogger.js"
import { runDemo } from "./demo.js"
import { attemptRecorder, type AttemptTiming, loadWithProgress, slowestAttempts } from "./load.js"
import { diagnose, megabytes, stderr, table, UsageError } from "./render.js"

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

/** A UTC start as wall-clock time at the circuit (`2025-03-16 15:00 +11:00`). */
const localTime = (start: string, utcOffset: string): string => {
  const [, sign, hours, minutes] = /^([+-])(\d\d):(\d\d)$/.exec(utcOffset) ?? ["", "+", "00", "00"]
  const offsetMs = (sign === "-" ? -1 : 1) * (Number(hours) * 60 + Number(minutes)) * 60_000
  return `${new Date(Date.parse(start) + offsetMs).toISOString().slice(0, 16).replace("T", " ")} ${utcOffset}`
}

const verbose = Options.boolean("verbose").pipe(
  Options.withDescription("log debug lines, and print the full cause of an error")
)

const year = Args.integer({ name: "year" }).pipe(Args.withDescription("season, e.g. 2025"))
const gp = Args.text({ name: "gp" }).pipe(Args.withDescription("event name, e.g. \"Australian Grand Prix\""))
const session = Args.text({ name: "session" }).pipe(
  Args.withDescription("session name or alias: Race, Qualifying, Sprint, FP1, Practice 1, ...")
)

const json = Options.boolean("json").pipe(Options.withDescription("print the result as one JSON object"))

const refresh = Options.choice("refresh", ["revalidate", "reload"]).pipe(
  Options.optional,
  Options.withDescription(
    "revalidate: ask the CDN whether cached files are current (a remembered not-found is asked again); " +
      "reload: ignore the cache"
  )
)

/** The `refresh` fetch option of a `--refresh` flag. */
const refreshOption = (flag: Option.Option<"revalidate" | "reload">) =>
  Option.match(flag, { onNone: () => ({}), onSome: (refresh) => ({ refresh }) })

const telemetry = Options.boolean("telemetry").pipe(Options.withDescription("include every lap's telemetry"))

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
    path: Args.text({ name: "path" }).pipe(Args.withDescription("file in the session folder, e.g. VER/1_tel.json")),
    compact: Options.boolean("compact").pipe(Options.withDescription("one line of JSON instead of indented")),
    noCache: Options.boolean("no-cache").pipe(Options.withDescription("neither read nor write the cache")),
    refresh,
    verbose
  },
  (args) =>
    Effect.flatMap(Fetcher, (fetcher) =>
      fetcher.json(
        { ...sessionOf(args), path: args.path },
        { ...refreshOption(args.refresh), ...(args.noCache ? { useCache: false, writeCache: false } : {}) }
      )).pipe(
        Effect.map((value) => stdout(`${JSON.stringify(value, null, args.compact ? undefined : 2)}\n`)),
        Effect.provide(Tif1.layer)
      )
).pipe(Command.withDescription("Fetch one file and print it as JSON."))

const load = Command.make(
  "load",
  {
    year,
    gp,
    session,
    telemetry,
    json,
    refresh,
    verbose
  },
  (args) => {
    const load = loadWithProgress(
      sessionOf(args),
      { telemetry: args.telemetry, ...refreshOption(args.refresh) },
      { label: args.session, progress: stderr, report: stdout, json: args.json }
    ).pipe(Effect.provide(Tif1.layer))
    if (!args.verbose) return load
    // --verbose ends with the slowest CDN attempts, ranked from the stack's own spans.
    const attempts: Array<AttemptTiming> = []
    return Effect.flatMap(Effect.tracer, (base) =>
      load.pipe(
        Effect.withTracer(attemptRecorder(base, (attempt) => attempts.push(attempt))),
        Effect.ensuring(Effect.sync(() => {
          if (attempts.length > 0) process.stderr.write(`slowest CDN attempts:\n${slowestAttempts(attempts, 5)}`)
        }))
      ))
  }
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
    out: Options.directory("out").pipe(Options.withDescription("folder to fill in CDN layout")),
    telemetry,
    verbose
  },
  (args) =>
    pullSession(sessionOf(args), {
      out: args.out,
      telemetry: args.telemetry
    }).pipe(
      Effect.map((summary) =>
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
      ),
      Effect.provide(Tif1.layer)
    )
).pipe(Command.withDescription("Copy a session from the CDNs into a folder (resumable; files are written whole)."))

const serve = Command.make(
  "serve",
  {
    root: Args.directory({ name: "dir", exists: "yes" }).pipe(Args.withDescription("folder in CDN layout")),
    host: Options.text("host").pipe(Options.withDefault("127.0.0.1")),
    port: Options.integer("port").pipe(Options.withDefault(8080), Options.withDescription("0 picks a free port")),
    h2: Options.boolean("h2").pipe(Options.withDescription("HTTP/2: over TLS with --tls, else cleartext (h2c)")),
    tls: Options.boolean("tls").pipe(
      Options.withDescription("TLS with a generated self-signed certificate (offers h2 and http/1.1 by ALPN)")
    ),
    maxConnections: Options.integer("max-connections").pipe(
      Options.withDefault(MirrorServer.defaultMaxConnections),
      Options.withDescription("connections open at once; new ones past it are closed")
    ),
    headerTimeout: Options.integer("header-timeout").pipe(
      Options.withDefault(MirrorServer.defaultHeadersTimeoutMs / 1000),
      Options.withDescription("seconds a client has to send its request headers (or finish TLS)")
    ),
    verbose
  },
  (args) =>
    Effect.scoped(Effect.gen(function*() {
      const protocol = args.tls ? "h2" : args.h2 ? "h2c" : "h1"
      const mirror = yield* MirrorServer.make({
        root: args.root,
        host: args.host,
        port: args.port,
        protocol,
        maxConnections: args.maxConnections,
        headersTimeoutMs: args.headerTimeout * 1000
      })
      stdout(
        `serving ${Path.resolve(args.root)} at ${mirror.origin} (${protocol}); Ctrl-C stops\n` +
          `use it: TIF1_CDNS='${MirrorServer.templateFor(mirror.origin)}'\n`
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
const commandGroup = <
  const Subcommands extends readonly [
    Command.Command<any, any, any, any>,
    ...Array<Command.Command<any, any, any, any>>
  ]
>(
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
const describeRedis = (config: Tif1Config["Type"], redis: CacheStats["redis"]) =>
  `${redactSecrets(config.redisUrl ?? "")} ${redis.state}, ${redis.hits} hits, ${redis.errors} errors`

const stats = Command.make("stats", { json, verbose }, (args) =>
  Effect.gen(function*() {
    const config = yield* Tif1Config
    const cache = yield* (yield* Cache).stats
    const sources = yield* (yield* CdnManager).sources
    const file = config.enableCache ? Path.join(config.cacheDir, databaseFileName) : null
    if (args.json) {
      return stdout(
        `${JSON.stringify({ cacheFile: file, cache, cdns: sources.map(({ baseUrl, name }) => ({ name, baseUrl })) })}\n`
      )
    }
    stdout(table([
      ["cache file", file ?? "(cache disabled)"],
      ["cached files", String(cache.sqlite.entries)],
      ["cached MB", megabytes(cache.sqlite.bytes)],
      ["known missing", String(cache.negative.entries)],
      ...(cache.redis.enabled ? [["redis", describeRedis(config, cache.redis)] as const] : []),
      ...sources.map((source, index) => [`cdn ${index + 1}`, `${source.name} ${source.baseUrl}`] as const)
    ]))
  }).pipe(Effect.provide(Tif1.layer))).pipe(
    Command.withDescription("Show the cache (file, entries, size, files known to be missing) and the CDN sources.")
  )

const config = Command.make(
  "config",
  { json, verbose },
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

const events = Command.make(
  "events",
  { year, json, verbose },
  (args) =>
    Effect.gen(function*() {
      const calendar = yield* Calendar
      const season = yield* calendar.events(args.year)
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
      if (season.length === 0) {
        return stdout(
          `no schedule for ${args.year} (the bundled ones cover 2018-2026; schedule_dir points at newer files)\n`
        )
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
    }).pipe(Effect.provide(Tif1.layer))
).pipe(
  Command.withDescription("List a season's events and sessions with UTC and local start times, and which have started.")
)

const cacheInfo = Command.make("info", { json, verbose }, (args) =>
  Effect.gen(function*() {
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
  }).pipe(Effect.provide(Tif1.layer))).pipe(
    Command.withDescription("Show the cache file: size, rows, remembered not-found answers, oldest and newest row.")
  )

const cacheClear = Command.make(
  "clear",
  {
    scope: Args.text({ name: "year [gp [session]]" }).pipe(Args.repeated),
    verbose
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
      const cache = yield* Cache
      if (yearText === undefined) {
        yield* cache.invalidate("all")
        return stdout("cleared the whole cache\n")
      }
      const calendar = yield* Calendar
      const year = Number(yearText)
      const scope = gpName === undefined
        ? { year }
        : sessionName === undefined
        ? { year, gp: (yield* calendar.event(year, gpName))?.name ?? gpName }
        : yield* Effect.map(
          calendar.resolve(year, gpName, sessionName),
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
    }).pipe(Effect.provide(Tif1.layer))
).pipe(Command.withDescription("Drop cached files and remembered not-found answers: all, or a year, event or session."))

const cache = commandGroup(
  "cache",
  "Look at the cache, or clear some or all of it.",
  [cacheInfo, cacheClear],
  "info or clear"
)

const demo = Command.make("demo", { verbose }, () => runDemo({ progress: stderr, report: stdout })).pipe(
  Command.withDescription("Serve the bundled sample on 127.0.0.1 and load it cold, then warm from the cache.")
)

const tif1 = Command.make(
  "tif1",
  { verbose },
  () =>
    Effect.fail(
      new UsageError({ message: "tif1 needs a command: fetch, load, events, cache, mirror, stats, config or demo" })
    )
)
  .pipe(
    Command.withDescription("Formula 1 timing data from the TracingInsights CDNs."),
    Command.withSubcommands([fetch, load, events, cache, mirror, stats, config, demo])
  )

const cli = Command.run(tif1, { name: "tif1", version })

const isVerbose = process.argv.includes("--verbose")

/** Log lines on stderr, clearing a live progress line first. */
const logger = stderrLogger(() => (stderr.isTTY ? "\r\x1b[K" : ""))

/** Escape codes only for a terminal, and never under `NO_COLOR` (https://no-color.org). */
const colorFor = (stream: NodeJS.WriteStream) => stream.isTTY === true && (process.env.NO_COLOR ?? "") === ""
const ansiEscape = /\x1b\[[0-9;]*[A-Za-z]/g
const plain = (args: ReadonlyArray<unknown>) =>
  args.map((arg) => (typeof arg === "string" ? arg.replaceAll(ansiEscape, "") : arg))

/** `@effect/cli` prints help and usage errors through `Console` with escape codes: strip them where they do not belong. */
const withoutStrayEscapes = (base: Console.Console): Console.Console => ({
  ...base,
  log: (...args) => base.log(...(colorFor(process.stdout) ? args : plain(args))),
  error: (...args) => base.error(...(colorFor(process.stderr) ? args : plain(args))),
  unsafe: {
    ...base.unsafe,
    log: (...args) => base.unsafe.log(...(colorFor(process.stdout) ? args : plain(args))),
    error: (...args) => base.unsafe.error(...(colorFor(process.stderr) ? args : plain(args)))
  }
})

/**
 * `--verbose` is debug; otherwise `log_level` from the environment or config file. A config that
 * does not load leaves warning here: the command itself then fails with that config error.
 */
const minimumLogLevel = isVerbose
  ? Effect.succeed(LogLevel.Debug)
  : loadConfig().pipe(
    Effect.map((config) => logLevelOf(config.logLevel)),
    Effect.orElseSucceed(() => LogLevel.Warning),
    Logger.withMinimumLogLevel(LogLevel.None) // its warnings come again when the command loads it
  )

const program = Effect.flatMap(
  minimumLogLevel,
  (level) =>
    Console.consoleWith((base) => cli(process.argv).pipe(Console.withConsole(withoutStrayEscapes(base)))).pipe(
      Logger.withMinimumLogLevel(level)
    )
).pipe(Effect.provide(Layer.merge(NodeContext.layer, logger)))

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
  if (stoppedBySignal && Cause.isInterruptedOnly(exit.cause)) {
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
