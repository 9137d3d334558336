/**
 * The event and session names typed on the command line, resolved by the calendar before anything
 * else runs. A name near one the schedule lists but not it (a typo), or one naming several
 * events, is a usage mistake, exit 2, with the calendar's nearest names, and nothing is sent; the
 * library reports it as an `InvalidDataError`, which the command keeps for malformed requests and
 * files (exit 5). A name the schedule does not list and that is no near miss of one it lists goes
 * on to the CDN as written, as in the library (the schedule is a hint, the CDN is the evidence):
 * the fetcher warns once that the schedule is behind when the CDN publishes it, and names the
 * nearest names when it does not (exit 3, not found). A year the schedule does not know passes
 * through likewise.
 *
 * The Stats archive's commands (`results`, `standings`) resolve names in the archive itself
 * (`Archive`: by the calendar, then by race day in the archive's `events.json`; before 2018 in that
 * file alone): a name it resolves to nothing is the same usage mistake, with its nearest names.
 *
 * @since 0.2.0
 */
import * as Effect from "effect/Effect"
import type { FetchError, InvalidDataError } from "../schema/Errors.js"
import { Calendar, type CalendarEvent, type ResolvedSession } from "../services/Calendar.js"
import type { SessionRef } from "../services/SessionLoader.js"
import { UnknownNameError, UsageError } from "./render.js"

/** The calendar's failure for a name (its `path` is the argument) as a usage mistake; a broken schedule stays. */
const asUnknownName = (error: InvalidDataError): InvalidDataError | UnknownNameError =>
  error.path === "gp" || error.path === "session"
    ? new UnknownNameError({ message: error.reason, argument: error.path })
    : error

/**
 * The published names of a session as typed (`2025 australia race`: `Australian Grand Prix`, `Race`);
 * for a name the schedule does not list (and is no near miss), the name as typed.
 *
 * @since 0.2.0
 */
export const resolveSession = (
  ref: SessionRef
): Effect.Effect<ResolvedSession, InvalidDataError | UnknownNameError, Calendar> =>
  Calendar.use((calendar) => calendar.resolve(ref.year, ref.gp, ref.session)).pipe(Effect.mapError(asUnknownName))

/**
 * The event an event name means; `undefined` for a year the schedule does not know or a name it
 * does not list (and that is no near miss): the caller goes on with the name as typed.
 *
 * @since 0.2.0
 */
export const resolveEvent = (
  year: number,
  gp: string
): Effect.Effect<CalendarEvent | undefined, InvalidDataError | UnknownNameError, Calendar> =>
  Calendar.use((calendar) => calendar.event(year, gp)).pipe(Effect.mapError(asUnknownName))

/**
 * An archive call (`Archive.event`, `results`, `standings`) with its mistakes in what was typed
 * as usage mistakes (exit 2): an event name that resolves to nothing (or to several events), with
 * the nearest names, and a season outside the archive's. A race the archive has no document for
 * stays a `DataNotFoundError` (exit 3), a document that is not what it should be an
 * `InvalidDataError` (exit 5).
 *
 * @since 0.2.0
 */
export const archiveNames = <A, R>(
  effect: Effect.Effect<A, FetchError, R>
): Effect.Effect<A, FetchError | UnknownNameError | UsageError, R> =>
  Effect.mapError(effect, (error) =>
    error._tag !== "InvalidDataError"
      ? error
      : error.path === "year"
      ? new UsageError({ message: error.reason })
      : asUnknownName(error))
