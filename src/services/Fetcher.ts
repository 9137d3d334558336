/**
 * `Fetcher`: one file (`json`) or many (`many`), as typed results. Cache first; then rounds over
 * the CDNs in priority order under the circuit breaker, retried per the backoff `Schedule`; then
 * validation if asked; then the cache write. Concurrent identical requests share one fetch.
 *
 * What each CDN answer means within a round (the same whatever `max_retries` is):
 * - 2xx with a JSON object: delivered; the round ends.
 * - 3xx (301, 302, 303, 307, 308): followed, at most 5 hops, never from https to http; the final
 *   answer is that CDN's answer. Too many hops or a downgrade fails that CDN for the file (`redirect`).
 * - 404, 410: not published at that CDN; next CDN, never asked again for this file. Not a fault.
 * - 401, 403: refused; next CDN, never asked again for this file. Not a fault.
 * - other statuses (400, 405, ..., a 304 to an unconditional request, 1xx): that CDN fails for
 *   the file (`http-status`), not retried, not a fault of the CDN as a whole.
 * - a body that is not JSON, not an object, or in an encoding not asked for: next CDN in the same
 *   round (a mirror may hold a good copy), never asked again in later rounds.
 * - 5xx, 408, 429, timeouts and transport errors: retryable; counts toward skipping the CDN.
 *
 * When no CDN delivers, the first rule that applies decides:
 * 1. a CDN delivered bad data: `InvalidDataError`;
 * 2. a CDN failed (retryable) and never gave a final answer in this fetch: `NetworkError` with
 *    that failure's kind, after the retry rounds;
 * 3. a CDN refused: `NetworkError` `access-denied`;
 * 4. a CDN failed the file with an unexpected status or redirect: `NetworkError` of that kind;
 * 5. no CDN could be asked at all (all disabled or cooling down): `NetworkError` `no-cdn`;
 * 6. every CDN asked said 404/410: `DataNotFoundError`. The negative cache keeps it (the only
 *    answer it keeps) when those were every configured CDN: one skipped while cooling down, or
 *    disabled, may have the file (a lagging mirror says 404), so then it is this call's answer only.
 *
 * Two sources go through the same rules: the timing data (`json`, `many`, `raw`: the `cdns` and
 * the `CdnManager` and `CircuitBreaker` of the context) and the Stats archive (`sourceJson("stats",
 * path)`: `stats_cdns`, with a CDN manager and a breaker of its own, so that one source's outage
 * neither skips nor trips the other's). The session, the retry rules, the cache and the counters
 * are shared; the archive's cache keys start with `stats/`, and its documents follow their season
 * (live while it is the current one) rather than a session's start.
 *
 * Where each part lives (`fetcher/`): `cdnAnswer` (one CDN asked, its answer read by the table
 * above), `round` (the CDNs of one round in turn), `evidence` (what the answers of a fetch add up
 * to: the rules above), `networkFetch` (rounds under the breaker and the retry schedule),
 * `sharedFlight` (one network fetch per key, shared), `fetchAndStore` (each caller's validation
 * and cache writes), `freshness` (live, upcoming and archive sessions and seasons), `cacheFirst` (a
 * stored copy, a remembered not-found or the network), `fleetLead` (one process of a Redis fleet
 * fetches a file), `source` (the timing data and the Stats archive: CDNs, breaker, URLs, paths),
 * `resolvedRequests` and `many`. `make` wires them, once per source.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import type * as Option from "effect/Option"
import { Tif1Config } from "../schema/Config.js"
import { cacheKey, type DataRequest, type DataRequestInput } from "../schema/DataRequest.js"
import { type FetchError, InvalidDataError, NetworkError, type Tif1ConfigError } from "../schema/Errors.js"
import { validatePayload } from "../schema/payloads/index.js"
import { validateDocument } from "../schema/stats/index.js"
import { Cache, type JsonObject } from "./Cache.js"
import { Calendar } from "./Calendar.js"
import * as CdnManagerModule from "./CdnManager.js"
import { CdnManager, type CdnSource } from "./CdnManager.js"
import * as CircuitBreakerModule from "./CircuitBreaker.js"
import { CircuitBreaker, type CircuitSnapshot } from "./CircuitBreaker.js"
import { makeCacheFirst } from "./fetcher/cacheFirst.js"
import { makeAskCdn } from "./fetcher/cdnAnswer.js"
import { makeCounters } from "./fetcher/counters.js"
import { makeFetchAndStore, wantsValidation } from "./fetcher/fetchAndStore.js"
import { makeFleetLead } from "./fetcher/fleetLead.js"
import { makeFreshnessPolicy } from "./fetcher/freshness.js"
import { makeMany } from "./fetcher/many.js"
import { makeNetworkFetch } from "./fetcher/networkFetch.js"
import { makeResolveRequest, makeScheduleEvidence } from "./fetcher/resolvedRequests.js"
import { makeSharedFetch } from "./fetcher/sharedFlight.js"
import { archivePath, type FileSource, readStatsPath, statsUrlFor } from "./fetcher/source.js"
import { HttpSession } from "./HttpSession.js"
import { deepFreeze } from "./internal/json.js"
import * as Telemetry from "./internal/telemetry.js"

/**
 * Per-call options of `json`.
 *
 * @since 0.1.0
 */
export interface FetchOptions {
  /** Retry rounds after the first (default `max_retries`). */
  readonly maxRetries?: number
  /** Per-request timeout (default `timeout` seconds). */
  readonly timeout?: Duration.Input
  /** Read the cache (default true). */
  readonly useCache?: boolean
  /** Write the cache (default true). */
  readonly writeCache?: boolean
  /** Validate against the payload schema (default from the `validate_*` keys). */
  readonly validate?: boolean
  /**
   * `"revalidate"`: ask the CDN whether the stored copy is current (a conditional request with
   * its validators; a remembered not-found is asked again); `"reload"`: ignore the cache and
   * fetch (the answer is stored). Unset: the freshness policy of the session decides.
   */
  readonly refresh?: "revalidate" | "reload"
}

/**
 * A source of files beside the timing data: `"stats"`, the Stats archive
 * (`TracingInsights-Archive/Stats`, from `stats_cdns`).
 *
 * @since 0.2.0
 */
export type SourceName = "stats"

/**
 * Per-call options of `sourceJson`: those of `json` but `validate` (the `Archive` decodes the
 * archive's documents with their own schemas).
 *
 * @since 0.2.0
 */
export type SourceFetchOptions = Omit<FetchOptions, "validate">

/**
 * A source's CDNs in priority order with their health, and its circuit breaker.
 *
 * @since 0.2.0
 */
export interface SourceHealth {
  readonly cdns: ReadonlyArray<CdnSource>
  readonly circuit: CircuitSnapshot
}

/**
 * Progress of a `many` call, reported after each file.
 *
 * @since 0.1.0
 */
export interface FetchProgress {
  readonly completed: number
  readonly total: number
  readonly delivered: number
  readonly notFound: number
  readonly failed: number
}

/**
 * Per-call options of `many`.
 *
 * @since 0.1.0
 */
export interface ManyOptions extends FetchOptions {
  /** Files in flight at once (default `max_concurrent_requests`). */
  readonly concurrency?: number
  /** Called after each file completes. */
  readonly onProgress?: (progress: FetchProgress) => void
}

/**
 * Counters since the layer started.
 *
 * @since 0.1.0
 */
export interface FetcherStats {
  /** HTTP requests sent to CDNs. */
  readonly requests: number
  /** Body bytes received, decoded. */
  readonly bytes: number
  /** Body bytes on the wire (compressed size of compressed bodies). */
  readonly wireBytes: number
  /** Retry rounds run (after first rounds). */
  readonly retries: number
  /** Files answered from the cache (memory or SQLite). */
  readonly cacheHits: number
  /** Files answered by a negative-cache entry. */
  readonly negativeHits: number
  /** `json` calls that ended in an error other than not-found. */
  readonly failures: number
}

/**
 * The fetcher.
 *
 * @since 0.1.0
 */
export interface FetcherService {
  /** One file as a parsed, frozen JSON object, or a typed error. */
  readonly json: (request: DataRequestInput, options?: FetchOptions) => Effect.Effect<JsonObject, FetchError>
  /**
   * Many files, in input order, `None` for not found or failure (failures logged as warnings,
   * 404s not). Never fails as a whole; interrupting it cancels the requests in flight.
   */
  readonly many: (
    requests: Iterable<DataRequestInput>,
    options?: ManyOptions
  ) => Effect.Effect<ReadonlyArray<Option.Option<JsonObject>>>
  /**
   * One file from the CDNs with the exact bytes it was parsed from (for mirroring). Goes to the
   * network every time (the cache is neither read nor written); otherwise the same rules as `json`.
   */
  readonly raw: (
    request: DataRequestInput,
    options?: Omit<FetchOptions, "useCache" | "writeCache">
  ) => Effect.Effect<{ readonly value: JsonObject; readonly body: Uint8Array }, FetchError>
  /**
   * A request as it will be fetched: validated, with the published event and session names the
   * calendar resolves (a typo or a session the event does not have is an `InvalidDataError`).
   */
  readonly resolve: (request: DataRequestInput) => Effect.Effect<DataRequest, InvalidDataError>
  /**
   * One file of another source by its path there, through the same stack as `json` (the cache,
   * shared flights, retries, CDN fallback over that source's CDNs, its own breaker): for
   * `"stats"`, a path in the Stats archive such as `2025/events.json` or
   * `2025/australian-grand-prix/results.json` (cached as `stats/{path}`; the documents of the
   * current season are revalidated as live files are, older seasons are final). A bad path is an
   * `InvalidDataError` before any I/O; not found on every CDN is a `DataNotFoundError`
   * `{ year, gp: slug or "", session: "stats", path: file }`. Its metrics carry `source: "stats"`.
   */
  readonly sourceJson: (
    source: SourceName,
    path: string,
    options?: SourceFetchOptions
  ) => Effect.Effect<JsonObject, FetchError>
  /** A source's CDNs with their health, and its breaker (`"stats"`: the archive's, from `stats_cdns`). */
  readonly sourceHealth: (source: SourceName) => Effect.Effect<SourceHealth>
  /** Counters since start (every source). */
  readonly stats: Effect.Effect<FetcherStats>
}

/**
 * The `Fetcher` tag.
 *
 * @since 0.1.0
 */
export class Fetcher extends Context.Service<Fetcher, FetcherService>()("tif1-effect/Fetcher") {}

/**
 * Build the fetcher from its services. The Stats archive's CDN manager and breaker are made here
 * from `stats_cdns` and the same health and breaker settings as the timing data's.
 *
 * @since 0.1.0
 */
export const make = Effect.gen(function*() {
  const config = yield* Tif1Config
  const session = yield* HttpSession
  const cache = yield* Cache
  const calendar = yield* Calendar
  const counters = makeCounters()
  const freshnessPolicy = makeFreshnessPolicy(config)
  const withFleetLead = makeFleetLead({ cache, counters })

  /** The fetch of one source, from its CDNs to the cache: the parts of `fetcher/`, wired. */
  const wire = (source: FileSource) => {
    const askCdn = makeAskCdn({ session, cdns: source.cdns, urlFor: source.urlFor, counters })
    const fetchFromNetwork = makeNetworkFetch({ config, source, askCdn, counters })
    const fetchAndStore = makeFetchAndStore({
      cache,
      shared: makeSharedFetch(fetchFromNetwork),
      freshnessPolicy,
      validate: source.validate
    })
    const cacheFirst = makeCacheFirst({ config, cache, counters, freshnessPolicy, fetchAndStore, withFleetLead })
    return { fetchFromNetwork, cacheFirst }
  }

  const cdns = yield* CdnManager
  const timing = wire({
    cdns,
    breaker: yield* CircuitBreaker,
    urlFor: cdns.urlFor,
    validate: (request, value, options) =>
      wantsValidation(config, request, options) ? validatePayload(request.path, value) : undefined
  })
  const statsCdns = yield* CdnManagerModule.make({
    cdns: config.statsCdns,
    recoveryTimeoutSeconds: config.cdnRecoveryTimeout,
    minify: false,
    headers: config.cdnHeaders
  })
  const statsBreaker = yield* CircuitBreakerModule.make({
    threshold: config.circuitBreakerThreshold,
    timeoutSeconds: config.circuitBreakerTimeout
  })
  const stats = wire({
    cdns: statsCdns,
    breaker: statsBreaker,
    urlFor: statsUrlFor(statsCdns),
    // Every document is checked against its schema before it is stored: the archive's documents
    // are small, and a bad copy of a final season would otherwise be served for good.
    validate: (request, value) => validateDocument(`stats/${archivePath(request)}`, request.path, value)
  })
  const resolveRequest = makeResolveRequest(calendar)
  // Names the schedule does not list: the CDN's answer says whether the schedule is behind.
  const scheduleEvidence = makeScheduleEvidence()

  const json = (input: DataRequestInput, options: FetchOptions = {}): Effect.Effect<JsonObject, FetchError> =>
    Effect.flatMap(
      resolveRequest(input),
      (resolved) =>
        scheduleEvidence(
          resolved,
          Telemetry.traced(
            "Fetcher.json",
            () => ({ "tif1.file": resolved.key }),
            timing.cacheFirst(resolved.request, resolved.key, resolved.anchor, options)
          )
        )
    )

  const fetchMany = makeMany<ManyOptions>(json, config.maxConcurrentRequests)

  const raw = Effect.fn("Fetcher.raw")((input: DataRequestInput, options: FetchOptions = {}) =>
    Effect.flatMap(resolveRequest(input), (resolved) =>
      scheduleEvidence(
        resolved,
        Effect.gen(function*() {
          const { key, request } = resolved
          if (config.offlineMode) {
            return yield* new NetworkError({
              url: cacheKey(request),
              kind: "offline",
              reason: "offline mode: raw fetches need the network"
            })
          }
          const delivered = yield* timing.fetchFromNetwork(request, key, options)
          if (delivered._tag === "NotPublished") return yield* delivered.error
          if (delivered._tag === "NotModified") return yield* Effect.die("a 304 to an unconditional request")
          if (wantsValidation(config, request, options)) yield* validatePayload(request.path, delivered.value)
          return { value: deepFreeze(delivered.value), body: delivered.body }
        })
      ))
  )

  /** The archive's metrics apart from the timing data's: every series its fetches update carries `source: "stats"`. */
  const asStats = <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A, E> =>
    Effect.updateService(effect, Metric.CurrentMetricAttributes, (attributes) => ({ ...attributes, source: "stats" }))

  /** The one source beside the timing data, checked for callers without types. */
  const checkSource = (source: SourceName): Effect.Effect<void, InvalidDataError> =>
    source === "stats"
      ? Effect.void
      : Effect.fail(
        new InvalidDataError({ path: "source", reason: `unknown source ${JSON.stringify(source)}: "stats" is the one` })
      )

  const sourceJson = Effect.fn("Fetcher.sourceJson")(
    (source: SourceName, path: string, options: SourceFetchOptions = {}) =>
      Effect.andThen(
        checkSource(source),
        Effect.flatMap(
          readStatsPath(path),
          ({ key, request, season }) =>
            Effect.annotateCurrentSpan("tif1.file", key).pipe(
              Effect.andThen(asStats(stats.cacheFirst(request, key, { season }, options)))
            )
        )
      )
  )

  const service: FetcherService = {
    json,
    many: (requests, options = {}) => fetchMany(requests, options),
    raw,
    resolve: Effect.fn("Fetcher.resolve")((input: DataRequestInput) =>
      Effect.map(resolveRequest(input), ({ request }) => request)
    ),
    sourceJson,
    sourceHealth: (_source) => Effect.all({ cdns: statsCdns.sources, circuit: statsBreaker.snapshot }),
    stats: Effect.sync((): FetcherStats => ({ ...counters }))
  }
  return service
})

/**
 * The fetcher on the session, CDN manager, breaker and cache of the context. Fails with
 * `Tif1ConfigError` when a `stats_cdns` URL's `user:password@` cannot be read (`Tif1Config`
 * refuses such a value already; this guards values that never went through it).
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<
  Fetcher,
  Tif1ConfigError,
  Tif1Config | HttpSession | CdnManager | CircuitBreaker | Cache | Calendar
> = Layer.effect(Fetcher, make)
