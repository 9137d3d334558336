/**
 * One round of a fetch: the CDNs available now, asked in priority order until one delivers.
 * CDNs that gave a final answer earlier in the fetch are passed over. A round without delivery
 * ends in a `RetryableRound` when a CDN failed in a way a later round may not meet, else in the
 * fetch's final error (`FetchEvidence.finalError`).
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type { FetchError } from "../../schema/Errors.js"
import type { CdnSource } from "../CdnManager.js"
import type { RoundOutcome } from "../CircuitBreaker.js"
import type { RetryHint } from "../internal/retryPolicy.js"
import type { Answer, CdnAnswer, Retryable } from "./cdnAnswer.js"
import type { FetchEvidence } from "./evidence.js"

/** A round in which no CDN delivered but one may on a later round. */
export class RetryableRound implements RetryHint {
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

/** Whether a round's error is a `RetryableRound`. */
export const isRetryableRound = (error: unknown): error is RetryableRound => error instanceof RetryableRound

/**
 * Whether a round that did not deliver ended on an answer (a lone typed failure that is not a
 * `RetryableRound`: 404s, refusals, bad data), which the breaker counts as neutral.
 */
const isAnswer = (cause: Cause.Cause<unknown>): boolean => {
  const [reason] = cause.reasons
  return cause.reasons.length === 1 && Cause.isFailReason(reason!) && !(reason.error instanceof RetryableRound)
}

/**
 * What a round tells the breaker. A round without delivery fails it only when a CDN failed; when
 * every CDN answered (4xx or bad data) the network works and the round is neutral.
 */
export const classifyRound = (exit: Exit.Exit<unknown, unknown>): RoundOutcome =>
  Exit.isSuccess(exit)
    ? "delivered"
    : isAnswer(exit.cause)
    ? "neutral"
    : "failed"

/** The end of a round without delivery. */
const endOfRound = (evidence: FetchEvidence): Effect.Effect<never, RetryableRound | FetchError> => {
  const failures = evidence.takeRoundFailures()
  if (failures.length > 0) {
    const retryAfter = failures.reduce<number | undefined>(
      (longest, failure) =>
        failure.retryAfterSeconds === undefined ? longest : Math.max(longest ?? 0, failure.retryAfterSeconds),
      undefined
    )
    return Effect.fail(new RetryableRound(failures, retryAfter))
  }
  return Effect.fail(evidence.finalError())
}

/**
 * Ask `candidates[index]` and the ones after it, in order, until one delivers (or answers 304 to
 * a conditional request), recording every other answer in `evidence`. `ask` is the fetch's
 * request (its file, timeout and conditional headers) put to one CDN.
 */
export const askInTurn = (
  ask: (source: CdnSource) => Effect.Effect<CdnAnswer>,
  evidence: FetchEvidence,
  candidates: ReadonlyArray<CdnSource>,
  index: number
): Effect.Effect<Answer, RetryableRound | FetchError> => {
  const { settled } = evidence
  while (index < candidates.length && settled.has(candidates[index]!.name)) index++
  if (index === candidates.length) return endOfRound(evidence)
  evidence.asked++
  return Effect.flatMap(ask(candidates[index]!), (answer) => {
    if (answer._tag === "Delivered" || answer._tag === "NotModified") return Effect.succeed(answer)
    evidence.record(answer)
    const rest = () => askInTurn(ask, evidence, candidates, index + 1)
    const next = candidates.slice(index + 1).find((source) => !settled.has(source.name))
    if (answer._tag === "NotFound" || next === undefined) return rest()
    // A fallback: worth a line for whoever runs with --verbose (the common 404 is not).
    return Effect.andThen(
      Effect.logDebug(
        `fetch ${evidence.key}: ${answer.source}: ${
          answer._tag === "Invalid" ? `invalid data (${answer.reason})` : answer.kind +
            (answer.status === undefined ? "" : ` (HTTP ${answer.status})`)
        }; trying ${next.name}`
      ),
      rest()
    )
  })
}
