/**
 * `SessionLoader`: the cold load tif1 users know. Drivers, weather and race control in parallel;
 * `session_laptimes.json`, else each driver's `laptimes.json`; then one `{DRV}/{lap}_tel.json` per
 * lap row at `telemetry_prefetch_max_concurrent_requests`. Missing files are left out and counted,
 * not fatal (only a session without `drivers.json` is an error). Returns typed data and a summary.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { Tif1Config } from "../schema/Config.js"
import type { DataRequestInput } from "../schema/DataRequest.js"
import { type FetchError, InvalidDataError } from "../schema/Errors.js"
import {
  decodeDrivers,
  decodeLapTimes,
  decodeRaceControl,
  decodeTelemetry,
  decodeWeather,
  type Drivers,
  type LapTimes,
  type RaceControl,
  type Telemetry,
  type Weather
} from "../schema/payloads/index.js"
import type { JsonObject } from "./Cache.js"
import { Fetcher } from "./Fetcher.js"

/**
 * Which session: `{ year, gp, session }` (aliases such as `FP1` or `R` allowed).
 *
 * @since 0.1.0
 */
export interface SessionRef {
  readonly year: number
  readonly gp: string
  readonly session: string
}

/**
 * Progress of a load: files completed out of files known so far (the total grows as lap tables
 * reveal telemetry files), and the phase.
 *
 * @since 0.1.0
 */
export interface LoadProgress {
  readonly phase: "metadata" | "laps" | "telemetry" | "done"
  readonly completed: number
  readonly total: number
}

/**
 * What to load. Defaults: laps, weather and messages on; telemetry off.
 *
 * @since 0.1.0
 */
export interface LoadOptions {
  readonly laps?: boolean
  readonly telemetry?: boolean
  readonly weather?: boolean
  readonly messages?: boolean
  readonly onProgress?: (progress: LoadProgress) => void
  /** `"revalidate"` or `"reload"` every file of the load (see `FetchOptions.refresh`). */
  readonly refresh?: "revalidate" | "reload"
}

/**
 * Counts of a load.
 *
 * @since 0.1.0
 */
export interface LoadSummary {
  /** Files asked for. */
  readonly files: number
  /** Files delivered (from network or cache). */
  readonly delivered: number
  /** HTTP requests sent. */
  readonly requests: number
  /** Body bytes received over the network, decoded. */
  readonly bytes: number
  /** Body bytes on the wire (less than `bytes` when the CDN compressed them). */
  readonly wireBytes: number
  readonly seconds: number
  /** Files answered from the cache. */
  readonly cacheHits: number
  /** Files not published (404 everywhere). */
  readonly notFound: number
  /** Files that failed (network or invalid data). */
  readonly failures: number
  /** Telemetry files missing or failed, included in `notFound`/`failures`. */
  readonly missingTelemetry: number
  /** Retry rounds run. */
  readonly retries: number
}

/**
 * A loaded session.
 *
 * @since 0.1.0
 */
export interface LoadedSession {
  readonly year: number
  readonly gp: string
  readonly session: string
  readonly drivers: Drivers
  readonly weather: Weather | null
  readonly raceControl: RaceControl | null
  /** Lap tables by driver abbreviation. */
  readonly laps: ReadonlyMap<string, LapTimes>
  /** Telemetry by driver, then lap number. */
  readonly telemetry: ReadonlyMap<string, ReadonlyMap<number, Telemetry>>
  readonly summary: LoadSummary
}

/**
 * The loader.
 *
 * @since 0.1.0
 */
export interface SessionLoaderService {
  readonly load: (session: SessionRef, options?: LoadOptions) => Effect.Effect<LoadedSession, FetchError>
}

/**
 * The `SessionLoader` tag.
 *
 * @since 0.1.0
 */
export class SessionLoader extends Context.Service<SessionLoader, SessionLoaderService>()(
  "tif1-effect/SessionLoader"
) {}

/** Decode, or warn and drop (a bad optional file is left out, like a missing one). */
const decodeOrDrop = <A>(
  path: string,
  value: Option.Option<JsonObject>,
  decode: (input: unknown) => { readonly value: A } | { readonly error: string },
  onInvalid: () => void
): Effect.Effect<A | null> => {
  if (Option.isNone(value)) return Effect.succeed(null)
  const decoded = decode(value.value)
  if ("value" in decoded) return Effect.succeed(decoded.value)
  onInvalid()
  return Effect.as(Effect.logWarning(`left out ${path}: ${decoded.error}`), null)
}

/**
 * Build the loader.
 *
 * @since 0.1.0
 */
export const make = Effect.gen(function*() {
  const fetcher = yield* Fetcher
  const config = yield* Tif1Config

  const load = (ref: SessionRef, options: LoadOptions = {}) =>
    Effect.gen(function*() {
      const base = yield* fetcher.resolve({ ...ref, path: "drivers.json" })
      const fetchOptions = options.refresh === undefined ? {} : { refresh: options.refresh }
      const started = yield* Clock.currentTimeMillis
      const before = yield* fetcher.stats
      const counts = { files: 0, delivered: 0, notFound: 0, failures: 0, missingTelemetry: 0, invalid: 0 }
      let phase: LoadProgress["phase"] = "metadata"
      const report = () =>
        options.onProgress?.({
          phase,
          completed: counts.delivered + counts.notFound + counts.failures,
          total: counts.files
        })
      const requestFor = (path: string): DataRequestInput => ({
        year: base.year,
        gp: base.gp,
        session: base.session,
        path
      })

      /** Fetch a batch through `Fetcher.many`, keeping the summary and progress up to date. */
      const batch = (paths: ReadonlyArray<string>, concurrency: number) =>
        Effect.suspend(() => {
          counts.files += paths.length
          report()
          let seen = { delivered: 0, notFound: 0, failed: 0 }
          return fetcher.many(paths.map(requestFor), {
            ...fetchOptions,
            concurrency,
            onProgress: (progress) => {
              counts.delivered += progress.delivered - seen.delivered
              counts.notFound += progress.notFound - seen.notFound
              counts.failures += progress.failed - seen.failed
              seen = progress
              report()
            }
          })
        })

      // Drivers first-class: a session without them is not a session.
      counts.files += 1
      report()
      const driversJson = yield* fetcher.json(base, fetchOptions).pipe(Effect.withSpan("SessionLoader.drivers"))
      counts.delivered += 1
      const drivers = decodeDrivers(driversJson)
      if ("error" in drivers) return yield* new InvalidDataError({ path: base.path, reason: drivers.error })
      report()

      const extras = [
        options.weather !== false ? "weather.json" : undefined,
        options.messages !== false ? "rcm.json" : undefined
      ]
        .filter((path): path is string => path !== undefined)
      const wantLaps = options.laps !== false || options.telemetry === true
      // The session-wide table is an optional shortcut: its absence is not a missing file.
      const sessionLapsFile = wantLaps
        ? fetcher.json(requestFor("session_laptimes.json"), fetchOptions).pipe(
          Effect.tap(() => Effect.sync(() => (counts.files++, counts.delivered++))),
          Effect.map(Option.some),
          Effect.catchTag("DataNotFoundError", () => Effect.succeed(Option.none<JsonObject>())),
          Effect.catch((error) =>
            Effect.as(
              Effect.andThen(
                Effect.sync(() => (counts.files++, counts.failures++)),
                Effect.logWarning(`left out session_laptimes.json: ${error.message}`)
              ),
              Option.none<JsonObject>()
            )
          )
        )
        : Effect.succeed(Option.none<JsonObject>())
      const [extraFiles, sessionLaps] = yield* Effect.all([batch(extras, extras.length || 1), sessionLapsFile], {
        concurrency: 2
      }).pipe(Effect.withSpan("SessionLoader.metadata", { attributes: { "tif1.files": extras.length + 1 } }))
      const markInvalid = () => {
        counts.invalid++
      }
      const weather = options.weather !== false
        ? yield* decodeOrDrop("weather.json", extraFiles[0]!, decodeWeather, markInvalid)
        : null
      const rcmIndex = options.weather !== false ? 1 : 0
      const raceControl = options.messages !== false
        ? yield* decodeOrDrop("rcm.json", extraFiles[rcmIndex]!, decodeRaceControl, markInvalid)
        : null

      const laps = new Map<string, LapTimes>()
      if (wantLaps) {
        phase = "laps"
        const joined = yield* decodeOrDrop("session_laptimes.json", sessionLaps, decodeLapTimes, markInvalid)
        if (joined !== null && joined.drv !== undefined) {
          for (const [driver, table] of splitByDriver(joined)) laps.set(driver, table)
        } else {
          const codes = drivers.value.drivers.map((driver) => driver.driver)
          const tables = yield* batch(codes.map((code) => `${code}/laptimes.json`), config.maxConcurrentRequests).pipe(
            Effect.withSpan("SessionLoader.laps", { attributes: { "tif1.files": codes.length } })
          )
          for (let index = 0; index < codes.length; index++) {
            const table = yield* decodeOrDrop(
              `${codes[index]}/laptimes.json`,
              tables[index]!,
              decodeLapTimes,
              markInvalid
            )
            if (table !== null) laps.set(codes[index]!, table)
          }
        }
      }

      const telemetry = new Map<string, Map<number, Telemetry>>()
      if (options.telemetry === true) {
        phase = "telemetry"
        const wanted: Array<readonly [string, number]> = []
        for (const [driver, table] of laps) {
          for (const lap of table.lap) if (Number.isInteger(lap) && lap > 0) wanted.push([driver, lap])
        }
        const files = yield* batch(
          wanted.map(([driver, lap]) => `${driver}/${lap}_tel.json`),
          config.telemetryPrefetchMaxConcurrentRequests
        ).pipe(Effect.withSpan("SessionLoader.telemetry", { attributes: { "tif1.files": wanted.length } }))
        for (let index = 0; index < wanted.length; index++) {
          const [driver, lap] = wanted[index]!
          const decoded = yield* decodeOrDrop(`${driver}/${lap}_tel.json`, files[index]!, decodeTelemetry, markInvalid)
          if (decoded === null) {
            counts.missingTelemetry++
            continue
          }
          let byLap = telemetry.get(driver)
          if (byLap === undefined) telemetry.set(driver, byLap = new Map())
          byLap.set(lap, decoded)
        }
      }

      phase = "done"
      report()
      const after = yield* fetcher.stats
      const finished = yield* Clock.currentTimeMillis
      const summary: LoadSummary = {
        files: counts.files,
        delivered: counts.delivered - counts.invalid,
        requests: after.requests - before.requests,
        bytes: after.bytes - before.bytes,
        wireBytes: after.wireBytes - before.wireBytes,
        seconds: (finished - started) / 1000,
        cacheHits: after.cacheHits - before.cacheHits,
        notFound: counts.notFound,
        failures: counts.failures + counts.invalid,
        missingTelemetry: counts.missingTelemetry,
        retries: after.retries - before.retries
      }
      return {
        year: base.year,
        gp: base.gp,
        session: base.session,
        drivers: drivers.value,
        weather,
        raceControl,
        laps,
        telemetry,
        summary
      } satisfies LoadedSession
    }).pipe(Effect.withSpan("SessionLoader.load", {
      attributes: {
        "tif1.year": ref.year,
        "tif1.gp": ref.gp,
        "tif1.session": ref.session,
        "tif1.telemetry": options.telemetry === true
      }
    }))

  return { load } satisfies SessionLoaderService
})

/**
 * Split a session-wide lap table into per-driver tables by its `drv` column.
 *
 * @since 0.1.0
 */
export const splitByDriver = (table: LapTimes): Map<string, LapTimes> => {
  const rowsByDriver = new Map<string, Array<number>>()
  const drv = table.drv ?? []
  for (let row = 0; row < drv.length; row++) {
    const driver = drv[row]
    if (driver === null || driver === undefined) continue
    let rows = rowsByDriver.get(driver)
    if (rows === undefined) rowsByDriver.set(driver, rows = [])
    rows.push(row)
  }
  const result = new Map<string, LapTimes>()
  for (const [driver, rows] of rowsByDriver) {
    const columns: Record<string, unknown> = {}
    for (const [name, values] of Object.entries(table)) {
      // `at`, not `values[row]`: an optimized indexed read would box numeric columns (columns.ts).
      columns[name] = Array.isArray(values) && values.length === drv.length ? rows.map((row) => values.at(row)) : values
    }
    result.set(driver, columns as LapTimes)
  }
  return result
}

/**
 * The loader on the context's `Fetcher`.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<SessionLoader, never, Fetcher | Tif1Config> = Layer.effect(SessionLoader, make)
