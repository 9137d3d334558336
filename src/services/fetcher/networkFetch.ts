/**
 * One file over the network: rounds over the CDNs under the circuit breaker, rounds after the
 * first per the backoff `Schedule` (`internal/retryPolicy.ts`), until a CDN delivers or no round
 * is left or useful. A not-found comes back as an answer (`NotPublished`) that says whether it is
 * evidence for the negative cache; every other ending is a typed error.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type { Tif1ConfigValues } from "../../schema/Config.js"
import type { DataRequest } from "../../schema/DataRequest.js"
import type { DataNotFoundError, FetchError } from "../../schema/Errors.js"
import type { Validators } from "../Cache.js"
import type { CdnSource } from "../CdnManager.js"
import { retrySchedule } from "../internal/retryPolicy.js"
import * as Telemetry from "../internal/telemetry.js"
import { type Answer, type AskCdn, conditionalHeaders } from "./cdnAnswer.js"
import type { FetcherCounters } from "./counters.js"
import { FetchEvidence } from "./evidence.js"
import { askInTurn, classifyRound, isRetryableRound, type RetryableRound } from "./round.js"
import type { FileSource } from "./source.js"

/** Every CDN asked said 404 or 410. */
export interface NotPublished {
  readonly _tag: "NotPublished"
  readonly error: DataNotFoundError
  /** Every configured CDN was asked and said so: evidence the negative cache may keep. */
  readonly onEveryCdn: boolean
}

/** The network options of a fetch (the rest of `FetchOptions` is the caller's business). */
export interface NetworkOptions {
  /** Retry rounds after the first (default `max_retries`). */
  readonly maxRetries?: number | undefined
  /** Per-request timeout (default `timeout` seconds). */
  readonly timeout?: Duration.Input | undefined
}

/**
 * Every round of one request (cache key `key`) over the network. With `stored` validators the
 * request is conditional (`If-None-Match`, `If-Modified-Since`) and a 304 ends it as `NotModified`.
 */
export type NetworkFetch = (
  request: DataRequest,
  key: string,
  options: NetworkOptions,
  stored?: Validators
) => Effect.Effect<Answer | NotPublished, FetchError>

/**
 * The network fetch over a source's CDN manager and breaker, with the retry settings of `config`.
 */
export const makeNetworkFetch = (
  { askCdn, config, counters, source }: {
    readonly config: Tif1ConfigValues
    readonly source: FileSource
    readonly askCdn: AskCdn
    readonly counters: FetcherCounters
  }
): NetworkFetch => {
  const { breaker, cdns, urlFor } = source
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

  /** The not-found of a fetch, weighed against the sources configured now. */
  const notPublished = (evidence: FetchEvidence, error: DataNotFoundError) =>
    Effect.map(cdns.sources, (configured): NotPublished => ({
      _tag: "NotPublished",
      error,
      onEveryCdn: evidence.notFoundOnEvery(configured)
    }))

  return (request, key, options, stored) =>
    Effect.suspend(() => {
      const timeout = options.timeout === undefined ? defaultTimeout : Duration.fromInputUnsafe(options.timeout)
      const conditional = stored === undefined ? undefined : conditionalHeaders(stored)
      const evidence = new FetchEvidence(request, key)
      const ask = (source: CdnSource) => askCdn(source, request, timeout, conditional)

      const round = Effect.withFiber((fiber) =>
        Effect.flatMap(cdns.available, (candidates) => {
          const retry = evidence.rounds++ > 0
          if (retry) counters.retries++
          const first = candidates[0]
          Telemetry.rounds.updateUnsafe(1, fiber.context)
          if (retry) Telemetry.retries.updateUnsafe(1, fiber.context)
          const counted = breaker.protect(
            () => (first === undefined ? "(no CDN)" : urlFor(first, request)),
            askInTurn(ask, evidence, candidates, 0),
            classifyRound
          )
          return Telemetry.traced(
            "Fetcher.round",
            () => ({ "tif1.round": evidence.rounds, "tif1.file": key }),
            counted
          )
        })
      )

      // Rounds after the first follow the schedule; its step function is made only when a round fails.
      const retrying = (firstFailure: RetryableRound) =>
        Effect.flatMap(Schedule.toStepWithSleep(scheduleFor(options.maxRetries)), (step) => {
          const next = (failure: RetryableRound): Effect.Effect<Answer, RetryableRound | FetchError> =>
            Effect.andThen(
              Effect.logDebug(`fetch ${key}: round ${evidence.rounds} failed (${failure})`),
              // The step sleeps the delay; it fails (`Cause.Done`) when no round is left.
              Effect.matchEffect(step(failure), {
                onFailure: () => Effect.fail(failure),
                onSuccess: (waited) =>
                  Effect.andThen(
                    Effect.logDebug(
                      `fetch ${key}: round ${evidence.rounds + 1} after ${Duration.format(waited)}`
                    ),
                    Effect.catchIf(round, isRetryableRound, next)
                  )
              })
            )
          return next(firstFailure)
        })

      const exhausted = (): Effect.Effect<never, FetchError> => Effect.fail(evidence.finalError())

      return round.pipe(
        Effect.catchIf(isRetryableRound, retrying),
        Effect.catchIf(isRetryableRound, exhausted),
        Effect.catchTag("DataNotFoundError", (error) => notPublished(evidence, error))
      )
    })
}
