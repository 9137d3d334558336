/**
 * The evidence of a fetch: what the CDNs said over its rounds, and what a fetch in which none
 * delivered ends in (the rules under the table at the top of `Fetcher.ts`). Among those endings
 * only one is evidence that a file is missing: a 404 or 410 from every configured CDN. A CDN that
 * was not asked (skipped while cooling down, or disabled) may have the file, so "every CDN asked
 * said 404" is then this call's answer only, never remembered (SPEC section 4).
 *
 * @internal
 */
import type { DataRequest } from "../../schema/DataRequest.js"
import { DataNotFoundError, type FetchError, InvalidDataError, NetworkError } from "../../schema/Errors.js"
import type { CdnSource } from "../CdnManager.js"
import type { CdnAnswer, Rejected, Retryable } from "./cdnAnswer.js"

const describe = (answers: ReadonlyArray<Retryable | Rejected>) =>
  answers.map((answer) => `${answer.source}: ${answer.reason}`).join("; ")

/** The answers of one fetch so far: mutable, owned by that fetch's fiber. */
export class FetchEvidence {
  /** CDNs that gave a final answer (404, a refusal, bad data, ...): not asked again in later rounds. */
  readonly settled = new Set<string>()
  /** CDNs that said 404 or 410. */
  private readonly notFound = new Set<string>()
  private readonly invalid: Array<string> = []
  private readonly rejections: Array<Rejected> = []
  /** The retryable failures of the round in progress. */
  private readonly roundFailures: Array<Retryable> = []
  /**
   * CDNs whose last answer in this fetch was a retryable failure: while one is here, "every CDN
   * said 404" is not established, whatever the number of rounds.
   */
  private readonly unanswered = new Map<string, Retryable>()
  /** Requests started (a CDN asked, its redirects not counted). */
  asked = 0
  /** Rounds started. */
  rounds = 0

  /** `key` is the request's cache key (how logs and errors name the file). */
  constructor(readonly request: DataRequest, readonly key: string) {}

  /** Take in an answer that did not end the fetch. */
  record(answer: Exclude<CdnAnswer, { _tag: "Delivered" | "NotModified" }>): void {
    switch (answer._tag) {
      case "NotFound":
        this.settled.add(answer.source)
        this.notFound.add(answer.source)
        this.unanswered.delete(answer.source)
        break
      case "Invalid":
        this.settled.add(answer.source)
        this.unanswered.delete(answer.source)
        this.invalid.push(`${answer.source}: ${answer.reason}`)
        break
      case "Rejected":
        this.settled.add(answer.source)
        this.unanswered.delete(answer.source)
        this.rejections.push(answer)
        break
      case "Retryable":
        this.roundFailures.push(answer)
        this.unanswered.set(answer.source, answer)
    }
  }

  /** The retryable failures of the round that just ended (none: the round ended on answers). */
  takeRoundFailures(): ReadonlyArray<Retryable> {
    return this.roundFailures.splice(0)
  }

  /** The error of a fetch in which no CDN delivered and no retry is left or useful. */
  finalError(): FetchError {
    const failed = [...this.unanswered.values()]
    const others = describe([...failed, ...this.rejections])
    if (this.invalid.length > 0) {
      return new InvalidDataError({
        path: this.request.path,
        reason: `no CDN delivered valid JSON (${this.invalid.join("; ")}${others === "" ? "" : `; others: ${others}`})`
      })
    }
    const decisive = failed.at(-1) ?? this.rejections.find((r) => r.kind === "access-denied") ?? this.rejections[0]
    if (decisive !== undefined) {
      return new NetworkError({
        url: decisive.url,
        ...(decisive.status === undefined ? {} : { status: decisive.status }),
        kind: decisive.kind,
        reason: failed.length > 0
          ? `every CDN failed after ${this.rounds} round(s): ${others}`
          : `no CDN delivered: ${others}`
      })
    }
    if (this.asked === 0) {
      return new NetworkError({
        url: this.key,
        kind: "no-cdn",
        reason: "no CDN is available (every source is disabled or cooling down); see cdnSources()"
      })
    }
    return new DataNotFoundError(this.request)
  }

  /**
   * Whether each configured source said 404 or 410 in this fetch: the only not-found the
   * negative cache may keep.
   */
  notFoundOnEvery(configured: ReadonlyArray<CdnSource>): boolean {
    return configured.every((source) => this.notFound.has(source.name))
  }
}
