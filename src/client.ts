/**
 * `Tif1Client`: the Promise face, for plain async scripts.
 *
 * One client holds one runtime: one HTTP session (one undici dispatcher), one cache database, one
 * breaker. Rejections are the typed error instances (`instanceof NetworkError` works), never
 * wrapped fiber failures. Per-call options use the config's units (seconds).
 *
 * @example
 * ```ts
 * import { Tif1Client, DataNotFoundError } from "tif1-effect"
 *
 * const client = await Tif1Client.make({ timeout: 10 })
 * try {
 *   const drivers = await client.fetchJson(2025, "Australian Grand Prix", "Race", "drivers.json")
 * } catch (error) {
 *   if (error instanceof DataNotFoundError) console.log("not published yet")
 * } finally {
 *   await client.close()
 * }
 * ```
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Option from "effect/Option"
import * as References from "effect/References"
import { layerFrom, type Tif1LayerParts, type Tif1Services } from "./layers/Tif1.js"
import { loadConfig, Tif1Config, type Tif1ConfigOverrides } from "./schema/Config.js"
import type { DataRequestInput } from "./schema/DataRequest.js"
import { type InvalidDataError, NetworkError, Tif1ClientClosedError, type Tif1ConfigError } from "./schema/Errors.js"
import {
  Archive,
  type ArchiveEvent,
  type ArchiveOptions,
  type LapPosition,
  type PitStop,
  type QualifyingResult,
  type RaceResult,
  type StandingsOf
} from "./services/Archive.js"
import { Cache, type CacheScope, type CacheStats, type JsonObject, type SessionScope } from "./services/Cache.js"
import { Calendar, type CalendarEvent } from "./services/Calendar.js"
import { CdnManager, type CdnSource } from "./services/CdnManager.js"
import { CircuitBreaker, type CircuitSnapshot } from "./services/CircuitBreaker.js"
import { Fetcher, type FetchOptions, type FetchProgress } from "./services/Fetcher.js"
import { type ConnectionStats, HttpSession } from "./services/HttpSession.js"
import { heldLogger, logLevelOf, stderrLogger } from "./services/internal/stderrLogger.js"
import { type LoadedSession, type LoadOptions, SessionLoader } from "./services/SessionLoader.js"

/**
 * Per-call options of `fetchJson`; `timeout` in seconds.
 *
 * @since 0.1.0
 */
export interface ClientFetchOptions {
  /** Seconds for one request (default: the `timeout` key). */
  readonly timeout?: number
  /** Retry rounds after the first (default: `max_retries`). */
  readonly maxRetries?: number
  /** Read the cache (default true). */
  readonly useCache?: boolean
  /** Write the cache (default true). */
  readonly writeCache?: boolean
  /** Validate against the payload schema (default: the `validate_*` keys). */
  readonly validate?: boolean
  /**
   * `"revalidate"`: ask the CDN whether the stored copy is current; `"reload"`: ignore the
   * cache. Unset: stored copies of live sessions are revalidated after `live_revalidate_after`.
   */
  readonly refresh?: "revalidate" | "reload"
  /**
   * Aborting cancels the requests in flight and rejects the call at once with the signal's
   * `reason` (a `DOMException` named `AbortError` unless you gave another), as `fetch` does.
   */
  readonly signal?: AbortSignal
}

/**
 * Per-call options of the Stats archive's methods (`results`, `standings`, ...); `timeout` in seconds.
 *
 * @since 0.2.0
 */
export type ClientArchiveOptions = Omit<ClientFetchOptions, "validate">

/**
 * What `standings` asks for: after one event (`gp`) or the season's, of drivers (default) or
 * teams; and the per-call options.
 *
 * @since 0.2.0
 */
export interface ClientStandingsOptions<Of extends "drivers" | "teams" = "drivers" | "teams">
  extends ClientArchiveOptions
{
  readonly gp?: string | number
  readonly of?: Of
}

/**
 * Per-call options of `loadSession`: what to load, progress, and an `AbortSignal`.
 *
 * @since 0.2.0
 */
export interface ClientLoadOptions extends LoadOptions {
  /** Aborting cancels the load's requests and rejects at once with the signal's `reason`. */
  readonly signal?: AbortSignal
}

/**
 * Per-call options of `fetchMany`.
 *
 * @since 0.1.0
 */
export interface ClientManyOptions extends ClientFetchOptions {
  /** Files in flight at once (default: `max_concurrent_requests`). */
  readonly concurrency?: number
  /** Called after each file completes. */
  readonly onProgress?: (progress: FetchProgress) => void
}

const fetchOptions = (options: Omit<ClientFetchOptions, "signal">): FetchOptions => ({
  ...(options.maxRetries === undefined ? {} : { maxRetries: options.maxRetries }),
  ...(options.timeout === undefined ? {} : { timeout: Duration.seconds(options.timeout) }),
  ...(options.useCache === undefined ? {} : { useCache: options.useCache }),
  ...(options.writeCache === undefined ? {} : { writeCache: options.writeCache }),
  ...(options.validate === undefined ? {} : { validate: options.validate }),
  ...(options.refresh === undefined ? {} : { refresh: options.refresh })
})

const archiveOptions = (options: ClientArchiveOptions): ArchiveOptions => {
  const { signal: _signal, ...rest } = options
  return fetchOptions(rest)
}

/** The seasons `events` answers from the Stats archive: those before the timing data (2018). */
const firstTimingSeason = 2018
const firstArchiveSeason = 1950

/**
 * An archive event in the calendar's shape: `officialName` is the archive's name, `format`
 * conventional (sprints began in 2021), `utcOffset` empty (the archive does not say), and a
 * session's `start` its UTC time where the archive gives one, else its date alone.
 */
const asCalendarEvent = (event: ArchiveEvent): CalendarEvent => ({
  round: event.round,
  name: event.name,
  officialName: event.name,
  country: event.circuit.country,
  location: event.circuit.locality,
  format: "conventional",
  utcOffset: "",
  sessions: event.sessions.map((session) => ({
    name: session.name,
    start: session.time === null ? session.date : `${session.date}T${session.time}`
  }))
})

/**
 * A part of the cache to clear: a season, an event of it, or one of its sessions.
 *
 * @since 0.2.0
 */
export interface ClearScope {
  readonly year: number
  readonly gp?: string
  readonly session?: string
}

/** A clear scope with the published names (the calendar resolves them as it does for a fetch). */
const resolveScope = (scope: ClearScope) =>
  Calendar.use((calendar): Effect.Effect<SessionScope, InvalidDataError> => {
    const { gp, session, year } = scope
    if (gp === undefined) return Effect.succeed({ year })
    if (session === undefined) {
      return Effect.map(calendar.event(year, gp), (event) => ({ year, gp: event?.name ?? gp }))
    }
    return Effect.map(
      calendar.resolve(year, gp, session),
      (resolved) => ({ year, gp: resolved.gp, session: resolved.session })
    )
  })

/** The failure itself for a typed failure; the defect for a defect; an `Error` for an interruption. */
const rejection = (cause: Cause.Cause<unknown>): unknown =>
  Option.getOrElse(Cause.findErrorOption(cause), () => Cause.squash(cause))

/**
 * The Promise client. Build it with `Tif1Client.make`.
 *
 * @since 0.1.0
 */
export class Tif1Client {
  /**
   * A client with `overrides` on top of `TIF1_*` variables and the `.tif1rc` search path.
   * Rejects with a `Tif1ConfigError` for a bad setting. `parts` swaps pieces of the stack
   * (for example `{ http: { ca } }` to trust a local mirror's certificate).
   */
  static async make(overrides: Tif1ConfigOverrides = {}, parts: Tif1LayerParts = {}): Promise<Tif1Client> {
    // The config is read first, so that its own warnings (an unknown key) obey the `log_level`
    // it sets; log lines go to stderr at that level from then on.
    const early = heldLogger()
    const configured = await Effect.runPromiseExit(
      loadConfig(overrides).pipe(Effect.provide(early.layer), Effect.provideService(References.MinimumLogLevel, "All"))
    )
    if (Exit.isFailure(configured)) throw rejection(configured.cause)
    const level = logLevelOf(configured.value.logLevel)
    early.flush(level)
    const runtime = ManagedRuntime.make(
      layerFrom(Layer.succeed(Tif1Config, configured.value), parts).pipe(
        Layer.provideMerge(Layer.succeed(References.MinimumLogLevel, level)),
        Layer.provideMerge(stderrLogger())
      )
    )
    // Build the layer now, so that a bad setting or an unopenable resource rejects `make`.
    const exit = await Effect.runPromiseExit(runtime.contextEffect)
    if (Exit.isFailure(exit)) {
      await runtime.dispose()
      throw rejection(exit.cause)
    }
    return new Tif1Client(runtime)
  }

  #runtime: ManagedRuntime.ManagedRuntime<Tif1Services, Tif1ConfigError> | undefined
  /** Aborted by `close()`: interrupts every call in flight. */
  readonly #closing = new AbortController()
  /** Calls in flight, so `close()` can wait for them to settle before closing sockets and the cache. */
  readonly #inFlight = new Set<Promise<unknown>>()

  private constructor(runtime: ManagedRuntime.ManagedRuntime<Tif1Services, Tif1ConfigError>) {
    this.#runtime = runtime
  }

  async #run<A, E>(method: string, effect: Effect.Effect<A, E, Tif1Services>, signal?: AbortSignal): Promise<A> {
    const runtime = this.#runtime
    if (runtime === undefined) throw new Tif1ClientClosedError({ method })
    signal?.throwIfAborted()
    const stop = signal === undefined ? this.#closing.signal : AbortSignal.any([signal, this.#closing.signal])
    const running = runtime.runPromiseExit(effect, { signal: stop })
    this.#inFlight.add(running)
    // The caller's abort rejects at once; the interruption finishes (requests cancelled) behind it.
    const aborted = signal === undefined ? undefined : new Promise<never>((_, reject) => {
      const onAbort = () => reject(signal.reason)
      signal.addEventListener("abort", onAbort, { once: true })
      void running.finally(() => signal.removeEventListener("abort", onAbort))
    })
    try {
      const exit = await (aborted === undefined ? running : Promise.race([running, aborted]))
      if (Exit.isSuccess(exit)) return exit.value
      if (Cause.hasInterruptsOnly(exit.cause)) {
        if (signal?.aborted === true) throw signal.reason
        if (this.#closing.signal.aborted) {
          throw new NetworkError({
            url: `Tif1Client.${method}`,
            kind: "closed",
            reason: "the client was closed while the call was in flight"
          })
        }
      }
      throw rejection(exit.cause)
    } finally {
      this.#inFlight.delete(running)
    }
  }

  /**
   * One file, parsed and frozen. Rejects with `DataNotFoundError` (404 on every CDN),
   * `NetworkError` (every CDN failed) or `InvalidDataError` (bad request or body).
   */
  fetchJson(
    year: number,
    gp: string,
    session: string,
    path: string,
    options: ClientFetchOptions = {}
  ): Promise<JsonObject> {
    return this.#run(
      "fetchJson",
      Fetcher.use((fetcher) => fetcher.json({ year, gp, session, path }, fetchOptions(options))),
      options.signal
    )
  }

  /** Many files, in input order; `null` where a file was not found or failed. Never rejects for a file. */
  fetchMany(
    requests: ReadonlyArray<DataRequestInput>,
    options: ClientManyOptions = {}
  ): Promise<Array<JsonObject | null>> {
    return this.#run(
      "fetchMany",
      Fetcher.use((fetcher) =>
        fetcher.many(requests, {
          ...fetchOptions(options),
          ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
          ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress })
        })
      ).pipe(Effect.map((results) => results.map(Option.getOrNull))),
      options.signal
    )
  }

  /** A whole session: drivers, laps, weather, race control and (with `telemetry: true`) telemetry. */
  loadSession(year: number, gp: string, session: string, options: ClientLoadOptions = {}): Promise<LoadedSession> {
    const { signal, ...load } = options
    return this.#run(
      "loadSession",
      SessionLoader.use((loader) => loader.load({ year, gp, session }, load)),
      signal
    )
  }

  /** Requests, connections opened and reused, per origin. */
  connectionStats(): Promise<ConnectionStats> {
    return this.#run("connectionStats", HttpSession.use((http) => http.stats))
  }

  /** The cache: hits and misses per tier, entries and bytes, negative entries; `sqlite.enabled` false when it could not be opened. */
  cacheStats(): Promise<CacheStats> {
    return this.#run("cacheStats", Cache.use((cache) => cache.stats))
  }

  /** The circuit breaker: state, consecutive failures, when it opened and when it lets a probe through. */
  circuitState(): Promise<CircuitSnapshot> {
    return this.#run("circuitState", CircuitBreaker.use((breaker) => breaker.snapshot))
  }

  /** The CDN sources in priority order with their health (failures, skipped until, cooldown). */
  cdnSources(): Promise<ReadonlyArray<CdnSource>> {
    return this.#run("cdnSources", CdnManager.use((cdns) => cdns.sources))
  }

  /**
   * Drop cached files and remembered not-found answers: `all` (default), `memory`, `json`
   * (non-telemetry) or `telemetry`; or a season, event or session, `{ year, gp?, session? }`
   * (names resolved as for a fetch: `{ year: 2025, gp: "australia", session: "R" }`).
   */
  clearCache(scope: CacheScope | ClearScope = "all"): Promise<void> {
    return this.#run(
      "clearCache",
      Cache.use((cache) =>
        typeof scope === "string"
          ? cache.invalidate(scope)
          : Effect.flatMap(resolveScope(scope), (resolved) => cache.invalidate(resolved))
      )
    )
  }

  /**
   * The season's events in calendar order (testing included), with their sessions' UTC starts;
   * empty for a year the bundled schedule does not know. 1950-2017 come from the Stats archive
   * (its `events.json`): there `officialName` is the archive's name, `utcOffset` is empty (the
   * archive does not say), and a session's `start` is its UTC time where the archive has one,
   * else its date alone (`1950-05-13`).
   */
  events(year: number): Promise<ReadonlyArray<CalendarEvent>> {
    if (Number.isInteger(year) && year >= firstArchiveSeason && year < firstTimingSeason) {
      return this.#run(
        "events",
        Archive.use((archive) => Effect.map(archive.events(year), (events) => events.map(asCalendarEvent)))
      )
    }
    return this.#run("events", Calendar.use((calendar) => calendar.events(year)))
  }

  /**
   * A race's classification from the Stats archive (1950 on): typed rows (`position`, `points`,
   * `grid`, `laps` as numbers; `time` with its seconds and its text, `null` for a driver not
   * timed; `fastestLap` `null` before 2004). `gp` as for `fetchJson` (name, round, country,
   * location). Rejects with `DataNotFoundError` when the archive has no results for it (yet).
   */
  results(year: number, gp: string | number, options: ClientArchiveOptions = {}): Promise<ReadonlyArray<RaceResult>> {
    return this.#run(
      "results",
      Archive.use((archive) => archive.results({ year, gp }, archiveOptions(options))),
      options.signal
    )
  }

  /** The qualifying classification (`q1`..`q3` with seconds and text, `null` where no time was set). */
  qualifying(
    year: number,
    gp: string | number,
    options: ClientArchiveOptions = {}
  ): Promise<ReadonlyArray<QualifyingResult>> {
    return this.#run(
      "qualifying",
      Archive.use((archive) => archive.qualifying({ year, gp }, archiveOptions(options))),
      options.signal
    )
  }

  /** The sprint's classification; rejects with `DataNotFoundError` for a weekend without a sprint. */
  sprint(year: number, gp: string | number, options: ClientArchiveOptions = {}): Promise<ReadonlyArray<RaceResult>> {
    return this.#run(
      "sprint",
      Archive.use((archive) => archive.sprint({ year, gp }, archiveOptions(options))),
      options.signal
    )
  }

  /** The race's pit stops (from 2011): driver, lap, stop, local time of day, duration. */
  pitStops(year: number, gp: string | number, options: ClientArchiveOptions = {}): Promise<ReadonlyArray<PitStop>> {
    return this.#run(
      "pitStops",
      Archive.use((archive) => archive.pitStops({ year, gp }, archiveOptions(options))),
      options.signal
    )
  }

  /** Every driver's place and lap time at the end of each lap (from 1996). */
  lapPositions(
    year: number,
    gp: string | number,
    options: ClientArchiveOptions = {}
  ): Promise<ReadonlyArray<LapPosition>> {
    return this.#run(
      "lapPositions",
      Archive.use((archive) => archive.lapPositions({ year, gp }, archiveOptions(options))),
      options.signal
    )
  }

  /**
   * Championship standings from the Stats archive: of drivers (default) or `of: "teams"`, after
   * the event `gp` or, without it, the season's as the archive last saved them (each row's
   * `round` says after which round).
   */
  standings<const Of extends "drivers" | "teams" = "drivers">(
    year: number,
    options: ClientStandingsOptions<Of> = {}
  ): Promise<StandingsOf<Of>> {
    const { gp, of, ...rest } = options
    return this.#run(
      "standings",
      Archive.use((archive) =>
        archive.standings<Of>({
          year,
          ...(gp === undefined ? {} : { gp }),
          ...(of === undefined ? {} : { of })
        }, archiveOptions(rest))
      ),
      options.signal
    )
  }

  /**
   * Close sockets and the cache database. Calls in flight are cancelled first and reject with a
   * `NetworkError` of kind `closed`. Idempotent; any later call rejects with `Tif1ClientClosedError`.
   */
  async close(): Promise<void> {
    const runtime = this.#runtime
    this.#runtime = undefined
    if (runtime === undefined) return
    this.#closing.abort()
    await Promise.allSettled(this.#inFlight)
    await runtime.dispose()
  }

  /** `await using client = await Tif1Client.make()` closes it at the end of the block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }
}
