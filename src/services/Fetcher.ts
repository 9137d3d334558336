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
 * 6. every CDN asked said 404/410: `DataNotFoundError`, the only answer the negative cache keeps.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import { Tif1Config } from "../schema/Config.js"
import { cacheKey, type DataRequest, type DataRequestInput, decodeRequest } from "../schema/DataRequest.js"
import {
  DataNotFoundError,
  type FetchError,
  InvalidDataError,
  NetworkError,
  type NetworkErrorKind
} from "../schema/Errors.js"
import { shouldValidate, validatePayload } from "../schema/payloads/index.js"
import { Cache, type CacheLookup, type FleetLead, type JsonObject, type Validators } from "./Cache.js"
import { Calendar } from "./Calendar.js"
import { CdnManager, type CdnSource } from "./CdnManager.js"
import { CircuitBreaker, type RoundOutcome } from "./CircuitBreaker.js"
import { type HttpResponse, HttpSession } from "./HttpSession.js"
import { deepFreeze, parseJsonBytes } from "./internal/json.js"
import { parseRetryAfter, type RetryHint, retrySchedule } from "./internal/retryPolicy.js"
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
  /** Counters since start. */
  readonly stats: Effect.Effect<FetcherStats>
}

/**
 * The `Fetcher` tag.
 *
 * @since 0.1.0
 */
export class Fetcher extends Context.Service<Fetcher, FetcherService>()("tif1-effect/Fetcher") {}

/** What one CDN said in one round. */
type CdnAttempt =
  | {
    readonly _tag: "Delivered"
    readonly value: JsonObject
    readonly body: Uint8Array
    readonly validators: Validators
  }
  /** A 304 to a conditional request: the stored copy is current. */
  | { readonly _tag: "NotModified"; readonly source: string }
  | { readonly _tag: "NotFound"; readonly source: string; readonly status: number }
  | { readonly _tag: "Invalid"; readonly source: string; readonly reason: string }
  | {
    /** A final answer that is neither data nor "not published": refused, unexpected status, bad redirect. */
    readonly _tag: "Rejected"
    readonly source: string
    readonly url: string
    readonly status: number | undefined
    readonly kind: NetworkErrorKind
    readonly reason: string
  }
  | {
    readonly _tag: "Retryable"
    readonly source: string
    readonly url: string
    readonly status: number | undefined
    readonly kind: NetworkErrorKind
    readonly reason: string
    readonly retryAfterSeconds: number | undefined
  }

type Rejected = Extract<CdnAttempt, { _tag: "Rejected" }>
/** How a fetch ends well: a delivery, or a stored copy confirmed current. */
type Answer = Extract<CdnAttempt, { _tag: "Delivered" | "NotModified" }>
type Retryable = Extract<CdnAttempt, { _tag: "Retryable" }>

/** A round in which no CDN delivered but one may on a later round. */
class RetryableRound implements RetryHint {
  readonly _tag = "RetryableRound"
  constructor(
    readonly failures: ReadonlyArray<Retryable>,
    readonly retryAfterSeconds: number | undefined
  ) {}
  /** Each CDN and how it failed, for logs (the breaker's reason for opening too). */
  toString(): string {
    return this.failures.map((failure) =>
      `${failure.source}: ${failure.kind}${failure.status === undefined ? "" : ` (HTTP ${failure.status})`}`
    ).join("; ")
  }
}

const isRetryableStatus = (status: number) => status >= 500 || status === 408 || status === 429
const isRedirectStatus = (status: number) =>
  status === 301 || status === 302 || status === 303 || status === 307 || status === 308
/** Redirect hops followed at most (as browsers and curl's `--max-redirs` default bound them). */
const maxRedirects = 5

const parseUrl = (location: string, base: string): URL | undefined => {
  try {
    return new URL(location, base)
  } catch {
    return undefined
  }
}

/** The validators of a response, to store beside the file. */
const validatorsOf = (headers: HttpResponse["headers"]): Validators => {
  const etag = headerValue(headers.etag)
  const lastModified = headerValue(headers["last-modified"])
  return { ...(etag === undefined ? {} : { etag }), ...(lastModified === undefined ? {} : { lastModified }) }
}

/** The headers of a conditional request from stored validators; `undefined` when there are none. */
const conditionalHeaders = (stored: Validators): Record<string, string> | undefined =>
  stored.etag === undefined && stored.lastModified === undefined ? undefined : {
    ...(stored.etag === undefined ? {} : { "if-none-match": stored.etag }),
    ...(stored.lastModified === undefined ? {} : { "if-modified-since": stored.lastModified })
  }

const headerValue = (value: string | ReadonlyArray<string> | undefined): string | undefined =>
  typeof value === "string" ? value : value?.[0]

const isRetryableRound = (error: unknown): error is RetryableRound => error instanceof RetryableRound

/**
 * Whether a round that did not deliver ended on an answer (a lone typed failure that is not a
 * `RetryableRound`: 404s, refusals, bad data), which the breaker counts as neutral.
 */
const isAnswer = (cause: Cause.Cause<unknown>): boolean => {
  const [reason] = cause.reasons
  return cause.reasons.length === 1 && Cause.isFailReason(reason!) && !(reason.error instanceof RetryableRound)
}

/** A fetch in progress: joiners are resumed with its exit. */
/** What a shared network fetch hands its callers. */
type SharedAnswer =
  | { readonly _tag: "Delivered"; readonly value: JsonObject; readonly validators: Validators }
  | { readonly _tag: "NotModified"; readonly source: string }

/**
 * Where a session stands: started less than `live_window_days` ago (revalidated, short negative
 * TTL), not started yet (nothing remembered), or older or unknown to the calendar (never revalidated).
 */
type Freshness = "live" | "upcoming" | "archive"

const dayMs = 24 * 60 * 60 * 1000

interface Flight {
  readonly joiners: Set<(exit: Effect.Effect<Exit.Exit<SharedAnswer, FetchError>>) => void>
  /** Whether a caller has written the delivered value to the cache. */
  stored: boolean
}

/** Wait for a flight's exit (leaving the joiner list if interrupted). */
const joinFlight = (flight: Flight) =>
  Effect.callback<Exit.Exit<SharedAnswer, FetchError>>((resume) => {
    flight.joiners.add(resume)
    return Effect.sync(() => {
      flight.joiners.delete(resume)
    })
  })

/** A decoded request resolved through the calendar. */
interface ResolvedRequest {
  readonly request: DataRequest
  readonly key: string
  readonly startsAt: number | undefined
}

/** The memo key of a request input whose fields are all plain values; `undefined` for anything else (decoded every time). */
const memoKeyOf = (input: DataRequestInput): string | undefined => {
  if (typeof input !== "object" || input === null) return undefined
  const { gp, path, session, year } = input
  return typeof year === "number" && typeof gp === "string" && typeof session === "string" && typeof path === "string"
    ? `${year}\u0000${gp}\u0000${session}\u0000${path}`
    : undefined
}

/**
 * Build the fetcher from its services.
 *
 * @since 0.1.0
 */
export const make = Effect.gen(function*() {
  const config = yield* Tif1Config
  const session = yield* HttpSession
  const cdns = yield* CdnManager
  const breaker = yield* CircuitBreaker
  const cache = yield* Cache
  const calendar = yield* Calendar
  const counters = { requests: 0, bytes: 0, wireBytes: 0, retries: 0, cacheHits: 0, negativeHits: 0, failures: 0 }
  // In-flight fetches by cache key: one network fetch per key at a time.
  const inFlight = new Map<string, Flight>()
  const defaultPolicy = {
    maxRetries: config.maxRetries,
    backoffFactor: config.retryBackoffFactor,
    jitter: config.retryJitter,
    jitterMaxSeconds: config.retryJitterMax,
    maxDelaySeconds: config.maxRetryDelay
  }
  const defaultSchedule = retrySchedule(defaultPolicy)
  const scheduleFor = (maxRetries: number | undefined) =>
    maxRetries === undefined || maxRetries === defaultPolicy.maxRetries
      ? defaultSchedule
      : retrySchedule({ ...defaultPolicy, maxRetries })
  const defaultTimeout = Duration.seconds(config.timeout)

  const requestCounter = Telemetry.taggedBy(Telemetry.requests, "cdn", "outcome")
  /**
   * A response's metrics, updated in place (synchronously: this runs for every request) in the
   * registry of the fiber's context.
   */
  const recordResponse = (context: Context.Context<never>, cdn: string, response: HttpResponse) => {
    requestCounter(cdn, `${Math.floor(response.status / 100)}xx`).updateUnsafe(1, context)
    if (response.status >= 200 && response.status < 300) {
      Telemetry.fileSize.updateUnsafe(response.body.byteLength, context)
    }
    Telemetry.wireBytes.updateUnsafe(response.wireBytes, context)
    Telemetry.decodedBytes.updateUnsafe(response.body.byteLength, context)
  }

  // The hot path is written with plain combinators rather than `Effect.gen`: at 1,000 files
  // every operation per file shows in the benchmark.
  const tryCdn = (
    source: CdnSource,
    request: DataRequest,
    timeout: Duration.Duration,
    conditional: Readonly<Record<string, string>> | undefined
  ) => {
    const retryable = (
      url: string,
      status: number | undefined,
      kind: NetworkErrorKind,
      reason: string,
      retryAfterSeconds?: number
    ): CdnAttempt => ({ _tag: "Retryable", source: source.name, url, status, kind, reason, retryAfterSeconds })
    const rejected = (url: string, status: number | undefined, kind: NetworkErrorKind, reason: string): CdnAttempt => ({
      _tag: "Rejected",
      source: source.name,
      url,
      status,
      kind,
      reason
    })
    const sourceHeaders = cdns.headersFor(source.name)
    const ask = (url: string, hops: number): Effect.Effect<CdnAttempt> =>
      Telemetry.traced(
        "Fetcher.attempt",
        () => ({ "tif1.cdn": source.name, "url.full": url, "tif1.redirects": hops }),
        Effect.matchEffect(
          // Counted when it goes on the wire, not when the attempt is built (a breaker that fails
          // fast sends nothing).
          Effect.withFiber((fiber) => {
            counters.requests++
            // A source's own headers (credentials) never follow a redirect to another origin.
            const own = hops === 0 || url.startsWith(`${firstOrigin}/`) ? sourceHeaders : undefined
            const headers = own === undefined
              ? conditional
              : conditional === undefined
              ? own
              : { ...own, ...conditional }
            const get = session.get(url, headers === undefined ? { timeout } : { timeout, headers })
            return Effect.tap(
              Effect.tapError(
                get,
                (error) => Effect.sync(() => requestCounter(source.name, error.kind).updateUnsafe(1, fiber.context))
              ),
              (response) => Effect.sync(() => recordResponse(fiber.context, source.name, response))
            )
          }),
          {
            onFailure: (error): Effect.Effect<CdnAttempt> =>
              // A body that does not decode, or decodes too large, is that CDN's bad data, not a fault.
              error.kind === "encoding" || error.kind === "too-large"
                ? Effect.succeed({ _tag: "Invalid", source: source.name, reason: error.reason })
                : Effect.as(
                  cdns.recordFailure(source.name, source),
                  retryable(url, undefined, error.kind, error.reason)
                ),
            onSuccess: ({ body, headers, status, wireBytes }): Effect.Effect<CdnAttempt> => {
              counters.bytes += body.byteLength
              counters.wireBytes += wireBytes
              if (status >= 200 && status < 300) {
                const parsed = parseJsonBytes(body)
                if (parsed.error !== undefined) {
                  return Effect.succeed({
                    _tag: "Invalid",
                    source: source.name,
                    reason: `not valid JSON: ${parsed.error}`
                  })
                }
                if (parsed.value === null || typeof parsed.value !== "object" || Array.isArray(parsed.value)) {
                  return Effect.succeed({ _tag: "Invalid", source: source.name, reason: "JSON is not an object" })
                }
                return Effect.as(
                  cdns.recordSuccess(source.name),
                  {
                    _tag: "Delivered",
                    value: parsed.value as JsonObject,
                    body,
                    validators: validatorsOf(headers)
                  } as const
                )
              }
              if (status === 304 && conditional !== undefined) {
                return Effect.as(cdns.recordSuccess(source.name), { _tag: "NotModified", source: source.name } as const)
              }
              if (status === 404 || status === 410) {
                return Effect.succeed({ _tag: "NotFound", source: source.name, status })
              }
              if (status === 401 || status === 403) {
                return Effect.succeed(rejected(url, status, "access-denied", `HTTP ${status}: access refused`))
              }
              if (isRedirectStatus(status)) {
                const location = headerValue(headers.location)
                const next = location === undefined ? undefined : parseUrl(location, url)
                if (next === undefined) {
                  return Effect.succeed(rejected(url, status, "redirect", `HTTP ${status} without a usable Location`))
                }
                if (hops >= maxRedirects) {
                  return Effect.succeed(rejected(url, status, "redirect", `more than ${maxRedirects} redirects`))
                }
                if (url.startsWith("https:") && next.protocol === "http:") {
                  return Effect.succeed(
                    rejected(url, status, "redirect", `refused a redirect from https to http (${next.href})`)
                  )
                }
                return ask(next.href, hops + 1)
              }
              if (!isRetryableStatus(status)) {
                return Effect.succeed(rejected(url, status, "http-status", `unexpected HTTP ${status}`))
              }
              const failed = cdns.recordFailure(source.name, source)
              if (status !== 429 && status !== 503) {
                return Effect.as(failed, retryable(url, status, "http-status", `HTTP ${status}`))
              }
              const kind = status === 429 ? "too-many-requests" : "http-status"
              return Effect.andThen(
                failed,
                Effect.map(
                  Clock.currentTimeMillis,
                  (now) => retryable(url, status, kind, `HTTP ${status}`, parseRetryAfter(headers["retry-after"], now))
                )
              )
            }
          }
        )
      )
    const firstUrl = cdns.urlFor(source, request)
    const firstOrigin = sourceHeaders === undefined ? "" : new URL(firstUrl).origin
    return ask(firstUrl, 0)
  }

  /**
   * Every round of one request over the network. With `stored` validators the request is
   * conditional (`If-None-Match`, `If-Modified-Since`) and a 304 ends it as `NotModified`.
   */
  const fetchFromNetwork = (request: DataRequest, options: FetchOptions, stored?: Validators) =>
    Effect.suspend(() => {
      const timeout = options.timeout === undefined ? defaultTimeout : Duration.fromInputUnsafe(options.timeout)
      const conditional = stored === undefined ? undefined : conditionalHeaders(stored)
      // CDNs that gave a final answer (404, a refusal, bad data, ...) are not asked again in later rounds.
      const settled = new Set<string>()
      const invalid: Array<string> = []
      const rejections: Array<Rejected> = []
      const failures: Array<Retryable> = []
      // CDNs whose last answer in this fetch was a retryable failure: while one is here, "every CDN
      // said 404" is not established, whatever the number of rounds.
      const unanswered = new Map<string, Retryable>()
      let asked = 0
      let rounds = 0

      /** Ask `candidates[index]` and the ones after it, in order, until one delivers. */
      const askFrom = (candidates: ReadonlyArray<CdnSource>, index: number): Effect.Effect<
        Answer,
        RetryableRound | FetchError
      > => {
        while (index < candidates.length && settled.has(candidates[index]!.name)) index++
        if (index === candidates.length) return endOfRound()
        asked++
        return Effect.flatMap(tryCdn(candidates[index]!, request, timeout, conditional), (attempt) => {
          switch (attempt._tag) {
            case "Delivered":
            case "NotModified":
              return Effect.succeed(attempt)
            case "NotFound":
              settled.add(attempt.source)
              unanswered.delete(attempt.source)
              break
            case "Invalid":
              settled.add(attempt.source)
              unanswered.delete(attempt.source)
              invalid.push(`${attempt.source}: ${attempt.reason}`)
              break
            case "Rejected":
              settled.add(attempt.source)
              unanswered.delete(attempt.source)
              rejections.push(attempt)
              break
            case "Retryable":
              failures.push(attempt)
              unanswered.set(attempt.source, attempt)
          }
          const next = candidates.slice(index + 1).find((source) => !settled.has(source.name))
          if (attempt._tag === "NotFound" || next === undefined) return askFrom(candidates, index + 1)
          // A fallback: worth a line for whoever runs with --verbose (the common 404 is not).
          return Effect.andThen(
            Effect.logDebug(
              `fetch ${cacheKey(request)}: ${attempt.source}: ${
                attempt._tag === "Invalid" ? `invalid data (${attempt.reason})` : attempt.kind +
                  (attempt.status === undefined ? "" : ` (HTTP ${attempt.status})`)
              }; trying ${next.name}`
            ),
            askFrom(candidates, index + 1)
          )
        })
      }

      const describe = (attempts: ReadonlyArray<Retryable | Rejected>) =>
        attempts.map((attempt) => `${attempt.source}: ${attempt.reason}`).join("; ")

      /** The error of a fetch in which no CDN delivered and no retry is left or useful. */
      const finalError = (): FetchError => {
        const failed = [...unanswered.values()]
        const others = describe([...failed, ...rejections])
        if (invalid.length > 0) {
          return new InvalidDataError({
            path: request.path,
            reason: `no CDN delivered valid JSON (${invalid.join("; ")}${others === "" ? "" : `; others: ${others}`})`
          })
        }
        const decisive = failed.at(-1) ?? rejections.find((r) => r.kind === "access-denied") ?? rejections[0]
        if (decisive !== undefined) {
          return new NetworkError({
            url: decisive.url,
            ...(decisive.status === undefined ? {} : { status: decisive.status }),
            kind: decisive.kind,
            reason: failed.length > 0
              ? `every CDN failed after ${rounds} round(s): ${others}`
              : `no CDN delivered: ${others}`
          })
        }
        if (asked === 0) {
          return new NetworkError({
            url: cacheKey(request),
            kind: "no-cdn",
            reason: "no CDN is available (every source is disabled or cooling down); see cdnSources()"
          })
        }
        return new DataNotFoundError(request)
      }

      const endOfRound = () => {
        if (failures.length > 0) {
          const retryAfter = failures.reduce<number | undefined>(
            (longest, failure) =>
              failure.retryAfterSeconds === undefined ? longest : Math.max(longest ?? 0, failure.retryAfterSeconds),
            undefined
          )
          return Effect.fail(new RetryableRound(failures.splice(0), retryAfter))
        }
        return Effect.fail(finalError())
      }

      // A round without delivery fails the breaker only when a CDN failed; when every CDN
      // answered (4xx or bad data) the network works and the round is neutral.
      const classify = (exit: Exit.Exit<unknown, unknown>): RoundOutcome =>
        Exit.isSuccess(exit)
          ? "delivered"
          : isAnswer(exit.cause)
          ? "neutral"
          : "failed"
      const round = Effect.withFiber((fiber) =>
        Effect.flatMap(cdns.available, (candidates) => {
          const retry = rounds++ > 0
          if (retry) counters.retries++
          const first = candidates[0]
          Telemetry.rounds.updateUnsafe(1, fiber.context)
          if (retry) Telemetry.retries.updateUnsafe(1, fiber.context)
          const counted = breaker.protect(
            () => (first === undefined ? "(no CDN)" : cdns.urlFor(first, request)),
            askFrom(candidates, 0),
            classify
          )
          return Telemetry.traced(
            "Fetcher.round",
            () => ({ "tif1.round": rounds, "tif1.file": cacheKey(request) }),
            counted
          )
        })
      )

      // Rounds after the first follow the schedule; its step function is made only when a round fails.
      const retrying = (firstFailure: RetryableRound) =>
        Effect.flatMap(Schedule.toStepWithSleep(scheduleFor(options.maxRetries)), (step) => {
          const next = (failure: RetryableRound): Effect.Effect<
            Answer,
            RetryableRound | FetchError
          > =>
            Effect.andThen(
              Effect.logDebug(`fetch ${cacheKey(request)}: round ${rounds} failed (${failure})`),
              // The step sleeps the delay; it fails (`Cause.Done`) when no round is left.
              Effect.matchEffect(step(failure), {
                onFailure: () => Effect.fail(failure),
                onSuccess: (waited) =>
                  Effect.andThen(
                    Effect.logDebug(`fetch ${cacheKey(request)}: round ${rounds + 1} after ${Duration.format(waited)}`),
                    Effect.catchIf(round, isRetryableRound, next)
                  )
              })
            )
          return next(firstFailure)
        })

      const exhausted = (): Effect.Effect<never, FetchError> => Effect.fail(finalError())

      return round.pipe(
        Effect.catchIf(isRetryableRound, retrying),
        Effect.catchIf(isRetryableRound, exhausted)
      )
    })

  const wantsValidation = (request: DataRequest, options: FetchOptions) =>
    options.validate ?? shouldValidate(config, request.path)

  /**
   * One network fetch per key at a time, shared by concurrent callers: the owner's exit is handed
   * to every joiner; if the owner is interrupted, a joiner starts its own fetch. The network
   * options (timeout, retries) are the owner's; what each caller does with the answer
   * (validation, cache writes) is its own, in `fetchAndStore`. A conditional fetch (revalidation)
   * is shared only with other conditional fetches of the key.
   */
  const shared = (
    request: DataRequest,
    key: string,
    options: FetchOptions,
    stored: Validators | undefined
  ): Effect.Effect<{ readonly answer: SharedAnswer; readonly flight: Flight }, FetchError> =>
    Effect.suspend(() => {
      const flightKey = stored === undefined ? key : `${key}\u0000revalidate`
      const existing = inFlight.get(flightKey)
      if (existing !== undefined) {
        return Effect.flatMap(
          joinFlight(existing),
          (exit) =>
            Exit.hasInterrupts(exit)
              ? shared(request, key, options, stored)
              : Exit.map(exit, (answer) => ({ answer, flight: existing }))
        )
      }
      const flight: Flight = { joiners: new Set(), stored: false }
      inFlight.set(flightKey, flight)
      const fetched = Effect.map(
        fetchFromNetwork(request, options, stored),
        (answer): SharedAnswer =>
          answer._tag === "NotModified"
            ? answer
            : { _tag: "Delivered", value: deepFreeze(answer.value), validators: answer.validators }
      )
      return Effect.map(
        Effect.onExit(fetched, (exit) =>
          Effect.sync(() => {
            inFlight.delete(flightKey)
            for (const joiner of flight.joiners) joiner(Effect.succeed(exit))
          })),
        (answer) => ({ answer, flight })
      )
    })

  /**
   * This caller's validation and cache writes of a shared answer (each answer stored once). A
   * revalidation (`stored` given) that is answered 304 restarts the stored copy's clock and
   * returns it.
   */
  const fetchAndStore = (
    request: DataRequest,
    key: string,
    options: FetchOptions,
    freshness: Freshness,
    revalidating?: Extract<CacheLookup, { _tag: "Hit" }>
  ): Effect.Effect<JsonObject, FetchError> => {
    // A session that has not started yet: answered, nothing remembered (its files will change).
    const writeCache = options.writeCache !== false && freshness !== "upcoming"
    /** The first caller that wants the answer stored stores it; the others find it done. */
    const storeOnce = (flight: Flight, store: Effect.Effect<void>) =>
      Effect.suspend(() => {
        if (!writeCache || flight.stored) return Effect.void
        flight.stored = true
        return store
      })
    return shared(request, key, options, revalidating?.validators).pipe(
      Effect.tapError((error) =>
        error._tag === "DataNotFoundError" && writeCache
          ? cache.setMissing(key, freshness === "live" ? config.liveMissingTtl : undefined)
          : Effect.void
      ),
      Effect.flatMap(({ answer, flight }) => {
        if (answer._tag === "NotModified") {
          return Effect.as(storeOnce(flight, cache.touch(key)), revalidating!.value)
        }
        const validated = wantsValidation(request, options)
          ? Effect.as(validatePayload(request.path, answer.value), answer.value)
          : Effect.succeed(answer.value)
        return Effect.tap(validated, () => storeOnce(flight, cache.set(key, answer.value, answer.validators)))
      })
    )
  }

  /** Where a session stands on the Clock: live files are revalidated, upcoming ones never stored. */
  const freshnessAt = (startsAt: number | undefined, now: number): Freshness =>
    startsAt === undefined
      ? "archive"
      : now < startsAt
      ? "upcoming"
      : now - startsAt < config.liveWindowDays * dayMs
      ? "live"
      : "archive"

  /**
   * Requests already decoded and resolved, by their four fields: a warm lookup of a file skips
   * the schema decode and the calendar (a third of a memory hit's time). Both are pure, and only
   * successes are kept; bounded (emptied when full).
   */
  const resolvedRequests = new Map<string, ResolvedRequest>()
  const resolvedRequestsMax = 16_384

  /** A request with the names the calendar resolved (before any I/O), its cache key and the session's start. */
  const resolveRequest = (input: DataRequestInput): Effect.Effect<ResolvedRequest, InvalidDataError> => {
    const memo = memoKeyOf(input)
    const known = memo === undefined ? undefined : resolvedRequests.get(memo)
    if (known !== undefined) return Effect.succeed(known)
    return Effect.flatMap(
      decodeRequest(input),
      (decoded) =>
        Effect.map(calendar.resolve(decoded.year, decoded.gp, decoded.session), (resolved) => {
          const request = resolved.event === undefined
            ? decoded
            : { ...decoded, gp: resolved.gp, session: resolved.session }
          const result: ResolvedRequest = { request, key: cacheKey(request), startsAt: resolved.startsAt }
          if (memo !== undefined) {
            if (resolvedRequests.size >= resolvedRequestsMax) resolvedRequests.clear()
            resolvedRequests.set(memo, result)
          }
          return result
        })
    )
  }

  const json = (input: DataRequestInput, options: FetchOptions = {}): Effect.Effect<JsonObject, FetchError> =>
    Effect.flatMap(resolveRequest(input), ({ key, request, startsAt }) => {
      return Telemetry.traced(
        "Fetcher.json",
        () => ({ "tif1.file": key }),
        jsonResolved(request, key, startsAt, options)
      )
    })

  const jsonResolved = (
    request: DataRequest,
    key: string,
    startsAt: number | undefined,
    options: FetchOptions
  ): Effect.Effect<JsonObject, FetchError> =>
    Effect.suspend(() => {
      const fetch = (freshness: Freshness, revalidating?: Extract<CacheLookup, { _tag: "Hit" }>) => {
        if (config.offlineMode) {
          return revalidating !== undefined
            ? Effect.succeed(revalidating.value)
            : Effect.fail(new NetworkError({ url: key, kind: "offline", reason: "offline mode: not in the cache" }))
        }
        const fetched = Effect.tapError(
          fetchAndStore(request, key, options, freshness, revalidating),
          (error) => error._tag === "DataNotFoundError" ? Effect.void : Effect.sync(() => counters.failures++)
        )
        if (revalidating === undefined) {
          // A file no tier has: fleet-wide single flight when the cache is shared (Redis), unless
          // the caller wants the network's own answer (any `refresh`) or nothing stored.
          const sharesTheFetch = options.useCache !== false && options.refresh === undefined &&
            options.writeCache !== false && freshness !== "upcoming"
          return sharesTheFetch ? Effect.flatMap(cache.lead(key), (lead) => afterLead(request, lead, fetched)) : fetched
        }
        // A stored copy that cannot be revalidated now is still the best answer there is.
        return Effect.catch(fetched, (error) =>
          Effect.as(
            Effect.logDebug(`revalidating ${key} failed, serving the stored copy: ${error.message}`),
            revalidating.value
          ))
      }
      const withFreshness = <A, E>(use: (freshness: Freshness, now: number) => Effect.Effect<A, E>) =>
        startsAt === undefined
          ? use("archive", 0)
          : Effect.flatMap(Clock.currentTimeMillis, (now) => use(freshnessAt(startsAt, now), now))
      if (options.useCache === false || options.refresh === "reload") {
        return withFreshness((freshness) => fetch(freshness))
      }
      return Effect.flatMap(cache.get(key), (found): Effect.Effect<JsonObject, FetchError> => {
        if (found._tag === "Hit") {
          if (options.refresh === "revalidate") return withFreshness((freshness) => fetch(freshness, found))
          if (startsAt === undefined) {
            counters.cacheHits++
            return Effect.succeed(found.value)
          }
          return withFreshness((freshness, now) => {
            if (freshness === "live" && now - found.storedAt >= config.liveRevalidateAfter * 1000) {
              return fetch(freshness, found)
            }
            counters.cacheHits++
            return Effect.succeed(found.value)
          })
        }
        if (found._tag === "Missing" && options.refresh !== "revalidate") {
          counters.negativeHits++
          return Effect.fail(new DataNotFoundError(request))
        }
        return withFreshness((freshness) => fetch(freshness))
      })
    })

  /** Fetch it holding the fleet lock (released once stored or failed), or take what another process fetched. */
  const afterLead = (
    request: DataRequest,
    lead: FleetLead,
    fetched: Effect.Effect<JsonObject, FetchError>
  ): Effect.Effect<JsonObject, FetchError> => {
    if (lead._tag === "Lead") return Effect.ensuring(fetched, lead.release)
    if (lead._tag === "Hit") {
      counters.cacheHits++
      return Effect.succeed(lead.value)
    }
    counters.negativeHits++
    return Effect.fail(new DataNotFoundError(request))
  }

  const many = (requests: Iterable<DataRequestInput>, options: ManyOptions = {}) =>
    Effect.suspend(() => {
      const list = Array.from(requests)
      return Telemetry.traced("Fetcher.many", () => ({ "tif1.files": list.length }), manyOf(list, options))
    })

  const manyOf = (list: ReadonlyArray<DataRequestInput>, options: ManyOptions) =>
    Effect.suspend(() => {
      const progress = { completed: 0, total: list.length, delivered: 0, notFound: 0, failed: 0 }
      const report = () => {
        progress.completed++
        options.onProgress?.({ ...progress })
      }
      return Effect.forEach(
        list,
        (request) =>
          Effect.matchEffect(json(request, options), {
            onSuccess: (value) => {
              progress.delivered++
              report()
              return Effect.succeed(Option.some(value))
            },
            onFailure: (error) => {
              if (error._tag === "DataNotFoundError") {
                progress.notFound++
                report()
                return Effect.succeed(Option.none<JsonObject>())
              }
              progress.failed++
              report()
              return Effect.as(Effect.logWarning(`fetch failed: ${error.message}`), Option.none<JsonObject>())
            }
          }),
        { concurrency: options.concurrency ?? config.maxConcurrentRequests }
      )
    })

  const raw = Effect.fn("Fetcher.raw")((input: DataRequestInput, options: FetchOptions = {}) =>
    Effect.flatMap(resolveRequest(input), ({ request }) =>
      Effect.gen(function*() {
        if (config.offlineMode) {
          return yield* new NetworkError({
            url: cacheKey(request),
            kind: "offline",
            reason: "offline mode: raw fetches need the network"
          })
        }
        const delivered = yield* fetchFromNetwork(request, options)
        if (delivered._tag === "NotModified") return yield* Effect.die("a 304 to an unconditional request")
        if (wantsValidation(request, options)) yield* validatePayload(request.path, delivered.value)
        return { value: deepFreeze(delivered.value), body: delivered.body }
      }))
  )

  const service: FetcherService = {
    json,
    many,
    raw,
    resolve: Effect.fn("Fetcher.resolve")((input: DataRequestInput) =>
      Effect.map(resolveRequest(input), ({ request }) => request)
    ),
    stats: Effect.sync(() => ({ ...counters }))
  }
  return service
})

/**
 * The fetcher on the session, CDN manager, breaker and cache of the context.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<
  Fetcher,
  never,
  Tif1Config | HttpSession | CdnManager | CircuitBreaker | Cache | Calendar
> = Layer.effect(Fetcher, make)
