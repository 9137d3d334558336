/**
 * `CircuitBreaker`: closed, open, half-open on the Effect `Clock`. It opens after
 * `circuit_breaker_threshold` consecutive failed rounds (rounds in which no CDN delivered and at
 * least one failed; 404s and invalid data are answers, not failures). Open, it fails fast with
 * `NetworkError` (reason `circuit-open`) before any I/O. After `circuit_breaker_timeout` exactly one
 * probe goes through while other callers keep failing fast; the probe's outcome closes or reopens it.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import { Tif1Config } from "../schema/Config.js"
import { NetworkError } from "../schema/Errors.js"

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
   * `classify(exit)`. A probe interrupted before it reports frees the probe slot.
   */
  readonly protect: <A, E, R>(
    url: string,
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
  extends Context.Tag("tif1-effect/CircuitBreaker")<CircuitBreaker, CircuitBreakerService>()
{}

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
  Effect.gen(function*() {
    const timeoutMs = options.timeoutSeconds * 1000
    const closed: Internal = { _tag: "closed", failures: 0 }
    const ref = yield* Ref.make<Internal>(closed)

    const acquire = (url: string) =>
      Effect.flatMap(
        Clock.currentTimeMillis,
        (now) =>
          Ref.modify(ref, (current): [CircuitPermit | undefined, Internal] => {
            switch (current._tag) {
              case "closed":
                return ["pass", current]
              case "open":
                return now >= current.openedAt + timeoutMs
                  ? ["probe", { _tag: "half-open", openedAt: current.openedAt }]
                  : [undefined, current]
              case "half-open":
                return [undefined, current]
            }
          }).pipe(
            Effect.flatMap((permit) =>
              permit === undefined
                ? Effect.fail(new NetworkError({ url, reason: "circuit-open: too many consecutive failed rounds" }))
                : Effect.succeed(permit)
            )
          )
      )

    const record = (permit: CircuitPermit, outcome: RoundOutcome | "interrupted") =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Ref.update(ref, (current): Internal => {
          if (permit === "probe") {
            if (current._tag !== "half-open") return current
            if (outcome === "interrupted") return { _tag: "open", openedAt: now - timeoutMs }
            return outcome === "failed" ? { _tag: "open", openedAt: now } : closed
          }
          if (current._tag !== "closed") return current
          if (outcome === "delivered") return closed
          if (outcome !== "failed") return current
          const failures = current.failures + 1
          return failures >= options.threshold ? { _tag: "open", openedAt: now } : { _tag: "closed", failures }
        }))

    const snapshot = Effect.map(Ref.get(ref), (current): CircuitSnapshot => ({
      state: current._tag,
      consecutiveFailures: current._tag === "closed" ? current.failures : options.threshold,
      openedAt: current._tag === "closed" ? undefined : current.openedAt,
      retryAt: current._tag === "closed" ? undefined : current.openedAt + timeoutMs,
      threshold: options.threshold,
      timeoutSeconds: options.timeoutSeconds
    }))

    const service: CircuitBreakerService = {
      state: Effect.map(snapshot, (s) => s.state),
      snapshot,
      reset: Ref.set(ref, closed),
      protect: (url, round, classify) =>
        Effect.uninterruptibleMask((restore) =>
          Effect.flatMap(acquire(url), (permit) =>
            restore(round).pipe(
              Effect.onExit((exit) =>
                record(permit, Exit.isInterrupted(exit) && Exit.isFailure(exit) ? "interrupted" : classify(exit))
              )
            ))
        )
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
