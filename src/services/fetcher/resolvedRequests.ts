/**
 * Requests as they will be fetched: decoded (`DataRequest`), their names resolved by the calendar
 * before any I/O, with their cache key and what their freshness follows: their session's start,
 * or their season when the schedule gives no start (a name it does not list, a year it does not
 * have), so that a session of the season in progress is live whether or not the schedule lists it. Resolved requests are kept by
 * their four fields: a warm lookup of a file skips the schema decode and the calendar (a third of
 * a memory hit's time). Both are pure and only successes are kept; bounded (emptied when full).
 *
 * The schedule is a hint, the CDN is the evidence (SPEC section 4): a name the schedule does not
 * list, and that is no near miss of one it lists, resolves as written and `unlisted`, and
 * `makeScheduleEvidence` reads the answer to it. A delivered file is one warning per event (or
 * unlisted session) that the schedule is behind; a not-found one line naming the nearest names the
 * schedule has. That line is a log line and not the error's message: `DataNotFoundError` is what
 * the CDNs answered (year, event, session, path, the same whether fresh or remembered by the
 * negative cache), and the suggestions are advice from the local schedule, not part of that answer.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import { cacheKey, type DataRequest, type DataRequestInput, decodeRequest } from "../../schema/DataRequest.js"
import type { FetchError, InvalidDataError } from "../../schema/Errors.js"
import type { CalendarService, UnlistedName } from "../Calendar.js"
import type { FreshnessAnchor } from "./freshness.js"

/** A decoded request resolved through the calendar. */
export interface ResolvedRequest {
  readonly request: DataRequest
  readonly key: string
  /** Its session's start (epoch ms) where the schedule lists it, else its season. */
  readonly anchor: FreshnessAnchor
  /** Set when the schedule does not list the event or the session: the CDN's answer is the evidence. */
  readonly unlisted: UnlistedName | undefined
}

/** Resolve a request input (a typo, or a session near one the event has, is an `InvalidDataError`). */
export type ResolveRequest = (input: DataRequestInput) => Effect.Effect<ResolvedRequest, InvalidDataError>

/** Resolved requests kept at most (then emptied). */
const maxKept = 16_384

/** The memo key of an input whose fields are all plain values; `undefined` for anything else (decoded every time). */
const memoKeyOf = (input: DataRequestInput): string | undefined => {
  if (typeof input !== "object" || input === null) return undefined
  const { gp, path, session, year } = input
  return typeof year === "number" && typeof gp === "string" && typeof session === "string" && typeof path === "string"
    ? `${year}\u0000${gp}\u0000${session}\u0000${path}`
    : undefined
}

/** The resolver over `calendar`, keeping what it resolved as long as the returned function lives. */
export const makeResolveRequest = (calendar: CalendarService): ResolveRequest => {
  const resolved = new Map<string, ResolvedRequest>()
  return (input) => {
    const memo = memoKeyOf(input)
    const known = memo === undefined ? undefined : resolved.get(memo)
    if (known !== undefined) return Effect.succeed(known)
    return Effect.flatMap(
      decodeRequest(input),
      (decoded) =>
        Effect.map(calendar.resolve(decoded.year, decoded.gp, decoded.session), (names) => {
          const request = names.gp === decoded.gp && names.session === decoded.session
            ? decoded
            : { ...decoded, gp: names.gp, session: names.session }
          const result: ResolvedRequest = {
            request,
            key: cacheKey(request),
            anchor: names.startsAt ?? { season: request.year },
            unlisted: names.unlisted
          }
          if (memo !== undefined) {
            if (resolved.size >= maxKept) resolved.clear()
            resolved.set(memo, result)
          }
          return result
        })
    )
  }
}

/**
 * The answer to a resolved request, with what it says about the schedule when the request names
 * something the schedule does not list; any other request's answer is returned as it is.
 */
export type ScheduleEvidence = <A>(
  resolved: ResolvedRequest,
  answer: Effect.Effect<A, FetchError>
) => Effect.Effect<A, FetchError>

/** Unlisted names remembered at most by each set (then emptied: a line may then be logged again). */
const maxNamesLogged = 1024

/**
 * Read the CDN's answers to unlisted names, each line logged once per event, or per unlisted
 * session, for as long as the returned function lives:
 * - delivered: a warning that the schedule is behind (where it is, how to update it);
 * - not found, before anything of it was delivered: a warning naming the nearest names the
 *   schedule has (after a delivery it is a file not published yet, as for any event).
 * Everything else (errors, answers to listed names) passes untouched.
 */
export const makeScheduleEvidence = (): ScheduleEvidence => {
  /** Unlisted names a CDN delivered a file of (the warning that the schedule is behind is out). */
  const published = new Set<string>()
  /** Unlisted names whose not-found line is out. */
  const namedNearest = new Set<string>()
  const firstTime = (logged: Set<string>, name: string) => {
    if (logged.has(name)) return false
    if (logged.size >= maxNamesLogged) logged.clear()
    logged.add(name)
    return true
  }
  return (resolved, answer) => {
    const unlisted = resolved.unlisted
    if (unlisted === undefined) return answer
    const { gp, session, year } = resolved.request
    const name = unlisted.kind === "event" ? `${year}\u0000${gp}` : `${year}\u0000${gp}\u0000${session}`
    return answer.pipe(
      Effect.tap(() =>
        Effect.suspend(() => firstTime(published, name) ? Effect.logWarning(unlisted.behind) : Effect.void)
      ),
      Effect.tapError((error) =>
        Effect.suspend(() =>
          error._tag === "DataNotFoundError" && !published.has(name) && firstTime(namedNearest, name)
            ? Effect.logWarning(`${error.message}; ${unlisted.notListed}`)
            : Effect.void
        )
      )
    )
  }
}
