/**
 * The retry rule of `Fetcher.json` as a `Schedule`: before round n (n >= 1) wait
 * min(factor^n, max_retry_delay) seconds plus uniform(0, retry_jitter_max) when jitter is on;
 * a Retry-After from a 429 or 503 replaces that (capped at max_retry_delay); `max_retries`
 * rounds after the first; 0 = zero-retry mode.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import * as Schedule from "effect/Schedule"

/** The settings the rule reads. */
export interface RetryPolicy {
  readonly maxRetries: number
  readonly backoffFactor: number
  readonly jitter: boolean
  readonly jitterMaxSeconds: number
  readonly maxDelaySeconds: number
}

/** What a failed round tells the schedule. */
export interface RetryHint {
  readonly retryAfterSeconds: number | undefined
}

/** Seconds to wait before round `round` (1-based), given a uniform draw in [0, 1). */
export const delayBeforeRound = (
  policy: RetryPolicy,
  round: number,
  retryAfterSeconds: number | undefined,
  uniform: number
): number => {
  if (retryAfterSeconds !== undefined) return Math.min(Math.max(0, retryAfterSeconds), policy.maxDelaySeconds)
  const backoff = Math.min(policy.backoffFactor ** round, policy.maxDelaySeconds)
  return backoff + (policy.jitter ? uniform * policy.jitterMaxSeconds : 0)
}

/**
 * The schedule. Its input is the error of the round that just failed; a `RetryHint` among them
 * carries the Retry-After to honour. Its output is the wait before the next round (for the logs).
 */
export const retrySchedule = (policy: RetryPolicy): Schedule.Schedule<Duration.Duration, unknown> =>
  Schedule.recurs(policy.maxRetries).pipe(
    // `attempt` counts the steps from 1: the round about to run.
    Schedule.modifyDelay(({ attempt, input }) => {
      const retryAfterSeconds = (input as Partial<RetryHint> | undefined)?.retryAfterSeconds
      return Effect.map(
        policy.jitter && retryAfterSeconds === undefined ? Random.next : Effect.succeed(0),
        (uniform) => Duration.seconds(delayBeforeRound(policy, attempt, retryAfterSeconds, uniform))
      )
    }),
    Schedule.map(({ duration }) => duration)
  )

/**
 * Seconds from a Retry-After header: delta-seconds or an HTTP date (relative to `nowMs`).
 * Unparseable values are ignored (the backoff applies).
 */
export const parseRetryAfter = (
  value: string | ReadonlyArray<string> | undefined,
  nowMs: number
): number | undefined => {
  const text = Array.isArray(value) ? value[0] : value
  if (typeof text !== "string" || text.trim() === "") return undefined
  const trimmed = text.trim()
  if (/^\d+$/.test(trimmed)) return Number(trimmed)
  const date = Date.parse(trimmed)
  return Number.isNaN(date) ? undefined : Math.max(0, (date - nowMs) / 1000)
}
