/**
 * `CircuitBreaker`: closed, open, half-open on the Effect `Clock`. It opens after
 * `circuit_breaker_threshold` consecutive failed rounds (rounds in which no CDN delivered and at
 * least one failed; 404s and invalid data are answers, not failures). A failed round counts only
 * if it started after the last delivered round: the stragglers of a healthy burst (a few stalled
 * requests timing out together at the end of a load) are no evidence of an outage. Open, it fails fast with
 * `NetworkError` (reason `circuit-open`) before any I/O. After `circuit_breaker_timeout` exactly one
 * probe goes through while other callers keep failing fast; the probe's outcome closes or reopens it.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import { Tif1Config } from "../schema/Config.js"
import { NetworkError } from "../schema/Errors.js"
import { circuitOpen } from "./internal/telemetry.js"

/**
 * The three states.
 *
 * @since 0.1.0
 */
export type CircuitState = "closed" | "open" | "half-open"

/**
 * A view of the breaker.
 *
 * @since 0.1.0
 */
export interface CircuitSnapshot {
  readonly state: CircuitState
  /** Consecutive failed rounds (while closed). */
  readonly consecutiveFailures: number
  /** Clock time (ms) the circuit last opened. */
  readonly openedAt: number | undefined
  /** Clock time (ms) from which a probe may go through. */
  readonly retryAt: number | undefined
  readonly threshold: number
  readonly timeoutSeconds: number
}

/**
 * What a caller holds for one round: a normal pass or the single half-open probe.
 *
 * @since 0.1.0
 */
export type CircuitPermit = "pass" | "probe"

/**
 * The outcome of one round as the breaker counts it.
 *
 * @since 0.1.0
 */
export type RoundOutcome = "delivered" | "failed" | "neutral"

/**
 * The breaker.
 *
 * @since 0.1.0
 */
export interface CircuitBreakerService {
  readonly state: Effect.Effect<CircuitState>
  readonly snapshot: Effect.Effect<CircuitSnapshot>
  readonly reset: Effect.Effect<void>
  /**
   * Run one round under the breaker: fails fast with `NetworkError` (`circuit-open`) when open or
   * when another caller holds the half-open probe; otherwise runs `round` and records
   * `classify(exit)`. A probe interrupted before it reports frees the probe slot. `url` names the
   * request in the circuit-open error (a function is called only when that error is made).
   */
  readonly protect: <A, E, R>(
    url: string | (() => string),
    round: Effect.Effect<A, E, R>,
    classify: (exit: Exit.Exit<A, E>) => RoundOutcome
  ) => Effect.Effect<A, E | NetworkError, R>
}

/**
 * The `CircuitBreaker` tag.
 *
 * @since 0.1.0
 */
export class CircuitBreaker
  extends Context.Service<CircuitBreaker, CircuitBreakerService>()("tif1-effect/CircuitBreaker")
{}

/** A change of state worth a log line. */
interface StateChange {
  readonly level: "info" | "warning"
  readonly message: string
}

/** The error of a cause that is one typed failure and nothing else (no defect, no interruption). */
const failureOf = <E>(cause: Cause.Cause<E>): Cause.Fail<E> | undefined => {
  const [reason] = cause.reasons
  return cause.reasons.length === 1 && Cause.isFailReason(reason!) ? reason : undefined
}

type Internal =
  | { readonly _tag: "closed"; readonly failures: number }
  | { readonly _tag: "open"; readonly openedAt: number }
  | { readonly _tag: "half-open"; readonly openedAt: number }

/**
 * Build a breaker.
 *
 * @since 0.1.0
 */
export const make = (options: { readonly threshold: number; readonly timeoutSeconds: number }) =>
  Effect.sync(() => {
    const timeoutMs = options.timeoutSeconds * 1000
    const closed: Internal = { _tag: "closed", failures: 0 }
    // One mutable cell: JavaScript runs one fiber step at a time and every read-modify-write
    // below is synchronous, so it is as atomic as a `Ref` without the allocation per round.
    let current: Internal = closed
    /** Delivered rounds so far: a round that saw a delivery after it started is a straggler. */
    let deliveries = 0

    const openError = (url: string | (() => string)) =>
      new NetworkError({
        url: typeof url === "string" ? url : url(),
        kind: "circuit-open",
        reason: "too many consecutive failed rounds"
      })

    /** The permit for a round at `now`, or undefined to fail fast. */
    const acquire = (now: number): CircuitPermit | undefined => {
      switch (current._tag) {
        case "closed":
          return "pass"
        case "open":
          if (now < current.openedAt + timeoutMs) return undefined
          current = { _tag: "half-open", openedAt: current.openedAt }
          return "probe"
        case "half-open":
          return undefined
      }
    }

    /** Count a round's outcome; a line for the log when the state changed. */
    const record = (
      permit: CircuitPermit,
      outcome: RoundOutcome | "interrupted",
      now: number,
      deliveriesAtStart: number
    ): StateChange | undefined => {
      if (outcome === "delivered") deliveries++
      if (permit === "probe") {
        if (current._tag !== "half-open") return undefined
        if (outcome === "interrupted") {
          current = { _tag: "open", openedAt: now - timeoutMs }
          return undefined
        }
        if (outcome === "failed") {
          current = { _tag: "open", openedAt: now }
          return {
            level: "warning",
            message: `circuit breaker open again: the probe failed; failing fast for ${options.timeoutSeconds} s`
          }
        }
        current = closed
        return { level: "info", message: "circuit breaker closed: the probe went through" }
      }
      if (current._tag !== "closed") return undefined
      if (outcome === "delivered") current = closed
      else if (outcome === "failed" && deliveriesAtStart === deliveries) {
        const failures = current.failures + 1
        if (failures < options.threshold) {
          current = { _tag: "closed", failures }
          return undefined
        }
        current = { _tag: "open", openedAt: now }
        return {
          level: "warning",
          message:
            `circuit breaker open after ${failures} consecutive failed rounds; failing fast for ${options.timeoutSeconds} s`
        }
      }
      return undefined
    }

    /** Log a state change, with what the round that caused it saw. */
    const report = <A, E>(change: StateChange | undefined, exit: Exit.Exit<A, E>) => {
      if (change === undefined) return Effect.void
      const gauge = Metric.update(circuitOpen, current._tag === "closed" ? 0 : 1)
      if (change.level === "info") return Effect.andThen(gauge, Effect.logInfo(change.message))
      const error = Exit.isFailure(exit) ? failureOf(exit.cause) : undefined
      const cause = error === undefined ? "" : ` (last: ${String(error.error)})`
      return Effect.andThen(gauge, Effect.logWarning(`${change.message}${cause}`))
    }

    const outcomeOf = <A, E>(exit: Exit.Exit<A, E>, classify: (exit: Exit.Exit<A, E>) => RoundOutcome) =>
      Exit.hasInterrupts(exit) ? "interrupted" : classify(exit)

    const snapshot = Effect.sync((): CircuitSnapshot => ({
      state: current._tag,
      consecutiveFailures: current._tag === "closed" ? current.failures : options.threshold,
      openedAt: current._tag === "closed" ? undefined : current.openedAt,
      retryAt: current._tag === "closed" ? undefined : current.openedAt + timeoutMs,
      threshold: options.threshold,
      timeoutSeconds: options.timeoutSeconds
    }))

    const service: CircuitBreakerService = {
      state: Effect.sync(() => current._tag),
      snapshot,
      reset: Effect.sync(() => {
        current = closed
      }),
      protect: <A, E, R>(
        url: string | (() => string),
        round: Effect.Effect<A, E, R>,
        classify: (exit: Exit.Exit<A, E>) => RoundOutcome
      ): Effect.Effect<A, E | NetworkError, R> =>
        Effect.suspend(() => {
          // Closed with no failures (the common case): nothing to record on delivery or on
          // interruption, so no clock read and no uninterruptible region.
          const deliveriesAtStart = deliveries
          if (current === closed) {
            return Effect.onExit(round, (exit) => {
              const outcome = outcomeOf(exit, classify)
              return outcome === "failed"
                ? Effect.flatMap(
                  Clock.currentTimeMillis,
                  (now) => report(record("pass", outcome, now, deliveriesAtStart), exit)
                )
                : Effect.sync(() => void record("pass", outcome, 0, deliveriesAtStart)) // the time is read only on failure
            })
          }
          return Effect.uninterruptibleMask((restore) =>
            Effect.flatMap(Clock.currentTimeMillis, (now): Effect.Effect<A, E | NetworkError, R> => {
              const permit = acquire(now)
              if (permit === undefined) return Effect.fail(openError(url))
              return restore(round).pipe(
                Effect.onExit((exit) =>
                  Effect.flatMap(
                    Clock.currentTimeMillis,
                    (later) => report(record(permit, outcomeOf(exit, classify), later, deliveriesAtStart), exit)
                  )
                )
              )
            })
          )
        })
    }
    return service
  })

/**
 * The breaker from config (`circuit_breaker_threshold`, `circuit_breaker_timeout`).
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<CircuitBreaker, never, Tif1Config> = Layer.effect(
  CircuitBreaker,
  Effect.flatMap(
    Tif1Config,
    (config) => make({ threshold: config.circuitBreakerThreshold, timeoutSeconds: config.circuitBreakerTimeout })
  )
)
