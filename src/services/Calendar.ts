/**
 * `Calendar`: the season schedules tif1 vendors (2018 on, bundled in the package; `schedule_dir`
 * points at newer files of the same format), and name resolution before any I/O. An event is
 * found by its name in any case and with or without accents, its round number, its country or
 * its location; a session by its name in any case or an alias (`FP1`, `Q`, `R`, ...). A typo is an
 * `InvalidDataError` naming the nearest names, measured against event names, countries and
 * locations and the words in them alike (`Vegas` suggests the Las Vegas Grand Prix), and only
 * near ones; a session near one the event has is one naming the sessions it has. A year the
 * schedule does not know passes through unchanged, so a new season never breaks (logged at debug).
 *
 * The schedule is a hint, the CDN is the evidence (SPEC section 4): calendars change during a
 * season (2026 lost two rounds in March and gained one in August), so a name the schedule does
 * not list and that is no near miss of one it lists passes through as written, marked `unlisted`:
 * the fetcher serves what the CDN publishes for it, with one warning that the schedule is behind,
 * and names the nearest names when the CDN has nothing either. "Bahrain Grand Prix" on a schedule
 * without that round is no near miss of the "Belgian Grand Prix": names that say "Grand Prix" are
 * compared by the words before it, and with event names only (the 2020 Sakhir Grand Prix was a new
 * event at the location of the Bahrain Grand Prix). A published session name (`Sprint`) an event
 * does not list passes likewise: weekends change format.

 * Not `Schedule`: that name is Effect's retry module.
 *
 * @since 0.2.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { Tif1Config } from "../schema/Config.js"
import { resolveSessionName, sessionAliases } from "../schema/DataRequest.js"
import { InvalidDataError } from "../schema/Errors.js"
import { nameDistance } from "./internal/nameDistance.js"

/**
 * One session of an event, as published.
 *
 * @since 0.2.0
 */
export const CalendarSession = Schema.Struct({
  /** The published session folder name: `Practice 1`, `Qualifying`, `Sprint`, `Race`, ... */
  name: Schema.String,
  /** Start, UTC, ISO 8601 (`2025-03-16T04:00:00Z`). */
  start: Schema.String
})

/**
 * A session of an event.
 *
 * @since 0.2.0
 */
export type CalendarSession = typeof CalendarSession.Type

/**
 * One event of a season.
 *
 * @since 0.2.0
 */
export const CalendarEvent = Schema.Struct({
  /** Championship round; 0 for testing. */
  round: Schema.Int,
  /** The published event folder name (`São Paulo Grand Prix`). */
  name: Schema.String,
  officialName: Schema.String,
  country: Schema.String,
  location: Schema.String,
  /** `conventional`, `testing`, `sprint`, `sprint_shootout`, `sprint_qualifying`. */
  format: Schema.String,
  /** The circuit's UTC offset on race day (`+11:00`). */
  utcOffset: Schema.String,
  sessions: Schema.Array(CalendarSession)
})

/**
 * An event.
 *
 * @since 0.2.0
 */
export type CalendarEvent = typeof CalendarEvent.Type

const SeasonFile = Schema.Struct({ year: Schema.Int, events: Schema.Array(CalendarEvent) })

/**
 * A name the schedule does not list for a year it knows, and that is no near miss of one it
 * lists: it goes to the CDN as written, and what the CDN answers says whether the schedule is
 * behind. The two lines are for the fetcher to log, each once.
 *
 * @since 0.2.0
 */
export interface UnlistedName {
  /** What the schedule does not list: the event, or a session of an event it lists. */
  readonly kind: "event" | "session"
  /** The names the schedule has nearest to the one typed, nearest first (none of them near). */
  readonly nearest: ReadonlyArray<string>
  /** For when a CDN publishes it: the schedule is behind, which file it is, and how to update it. */
  readonly behind: string
  /** For when no CDN publishes the file: the schedule does not list the name either, and the nearest it has. */
  readonly notListed: string
}

/**
 * A request's names after resolution: the published names, and the event and the session's
 * start when the schedule knows them (`undefined` for a year or event it does not know).
 *
 * @since 0.2.0
 */
export interface ResolvedSession {
  readonly year: number
  readonly gp: string
  readonly session: string
  readonly event: CalendarEvent | undefined
  /** Session start, epoch milliseconds. */
  readonly startsAt: number | undefined
  /** Set when the schedule knows the year but does not list the event or the session (then `startsAt` is unset). */
  readonly unlisted?: UnlistedName | undefined
}

/**
 * The calendar.
 *
 * @since 0.2.0
 */
export interface CalendarService {
  /** The season's events in calendar order (testing included); empty for a year it does not know. */
  readonly events: (year: number) => Effect.Effect<ReadonlyArray<CalendarEvent>, InvalidDataError>
  /**
   * The event a name means (as `resolve` finds it); `undefined` for a year the schedule does not
   * know, or a name it does not list and that is no near miss of one it lists.
   */
  readonly event: (year: number, gp: string) => Effect.Effect<CalendarEvent | undefined, InvalidDataError>
  /**
   * Published names for what a user typed, or an `InvalidDataError` that says what they may have
   * meant; a name the schedule does not list and that is no near miss passes as written, `unlisted`.
   */
  readonly resolve: (year: number, gp: string, session: string) => Effect.Effect<ResolvedSession, InvalidDataError>
}

/**
 * The `Calendar` tag.
 *
 * @since 0.2.0
 */
export class Calendar extends Context.Service<Calendar, CalendarService>()("tif1-effect/Calendar") {}

/**
 * The schedules bundled with the package (`data/schedules/{year}.json`; the same from `src/` and `dist/`).
 *
 * @since 0.2.0
 */
export const bundledScheduleDir = Path.resolve(
  Path.dirname(fileURLToPath(import.meta.url)),
  "../../data/schedules"
)

/** Lower case, no accents, one space between words: how names are compared. */
export const normalizeName = (name: string): string =>
  name.normalize("NFD").replace(/\p{M}/gu, "").toLowerCase().replace(/[^\p{L}\p{N}]+/gu, " ").trim()

/**
 * A name a candidate answers to: `own` for its own name (an event's name, a session's name),
 * not for its country or location; on equal distance its own name ranks first.
 */
interface CandidateKey {
  readonly key: string
  readonly name: string
  readonly own: boolean
}

/**
 * The names nearest to `typed` (normalized), nearest first (ties in the order given), at most
 * `count`, none further than `bound`.
 */
const nearest = (typed: string, candidates: ReadonlyArray<CandidateKey>, count: number, bound: number) => {
  const scored = new Map<string, { readonly distance: number; readonly own: boolean }>()
  for (const { key, name, own } of candidates) {
    const score = { distance: nameDistance(typed, key), own }
    const known = scored.get(name)
    if (known === undefined || rank(score, known) < 0) scored.set(name, score)
  }
  return [...scored]
    .filter(([, score]) => score.distance <= bound)
    .sort(([, a], [, b]) => rank(a, b))
    .slice(0, count)
    .map(([name]) => name)
}

/**
 * How far a name may be from what was typed (normalized) to be a near miss of it: a third of
 * what was typed, 2 for short words. Nothing near is no list of unrelated names.
 */
const nearBound = (typed: string): number => Math.max(2, Math.floor(typed.length / 3))

/** Nearer first; on equal distance, a match on a candidate's own name first. */
const rank = (
  a: { readonly distance: number; readonly own: boolean },
  b: { readonly distance: number; readonly own: boolean }
): number => a.distance - b.distance || Number(b.own) - Number(a.own)

const quoteList = (names: ReadonlyArray<string>) => names.map((name) => `'${name}'`).join(", ")

/** A normalized event name without its closing "grand prix" (or "gp"): the words that tell rounds apart. */
const withoutGrandPrix = (name: string): string => name.replace(/ (?:grand prix|gp)$/, "")

/** The names an event answers to: its name with and without "Grand Prix" (its own), its country and location. */
const eventKeys = (event: CalendarEvent): ReadonlyArray<CandidateKey> => {
  const name = normalizeName(event.name)
  return [
    { key: name, name: event.name, own: true },
    { key: withoutGrandPrix(name), name: event.name, own: true },
    { key: normalizeName(event.country), name: event.name, own: false },
    { key: normalizeName(event.location), name: event.name, own: false }
  ]
}

/**
 * An event name as typed, as it is compared for near misses. A name that says "Grand Prix" (or
 * "GP") names a round: every round shares those words, so only the words before them count, and
 * only against event names, never a country or location (a new round may be named after the place
 * of another one: the 2020 Sakhir Grand Prix ran at the Bahrain Grand Prix's location, and the
 * 2026 Bahrain Grand Prix in Malaysia is a round named after a country where testing is held).
 * Anything else is compared whole against every name an event answers to (`Vegas`, `Emirats`).
 */
const typedEvent = (gp: string, events: ReadonlyArray<CalendarEvent>) => {
  const typed = normalizeName(gp)
  const words = withoutGrandPrix(typed)
  return words === typed
    ? { typed, candidates: events.flatMap(eventKeys) }
    : {
      typed: words,
      candidates: events.map((event): CandidateKey => ({
        key: withoutGrandPrix(normalizeName(event.name)),
        name: event.name,
        own: true
      }))
    }
}

/** The session names TracingInsights publishes (what the aliases stand for): real names, never a typo. */
const publishedSessionNames: ReadonlyArray<string> = [...new Set(Object.values(sessionAliases))]

/** What an event name or a session name resolves to: what the schedule lists, or a name it does not list. */
type Listing<A> =
  | { readonly _tag: "Listed"; readonly value: A }
  | { readonly _tag: "Unlisted"; readonly name: string; readonly unlisted: UnlistedName }

/** Resolved names kept at most (then emptied). */
const maxRemembered = 4096

/**
 * Build the calendar on a folder of `{year}.json` files. Each year is read once, when first asked for.
 *
 * @since 0.2.0
 */
export const make = (scheduleDir: string): Effect.Effect<CalendarService> =>
  Effect.sync(() => {
    const seasons = new Map<number, ReadonlyArray<CalendarEvent> | undefined>()
    // Names are typed by users, so what is kept is bounded (emptied when full).
    const resolved = new Map<string, ResolvedSession>()
    const remember = (memo: string, result: ResolvedSession) => {
      if (resolved.size >= maxRemembered) resolved.clear()
      resolved.set(memo, result)
    }

    const season = (year: number): Effect.Effect<ReadonlyArray<CalendarEvent> | undefined, InvalidDataError> =>
      Effect.suspend(() => {
        if (seasons.has(year)) return Effect.succeed(seasons.get(year))
        const file = Path.join(scheduleDir, `${year}.json`)
        let text: string
        try {
          text = Fs.readFileSync(file, "utf8")
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== "ENOENT") {
            return Effect.fail(
              new InvalidDataError({ path: file, reason: `cannot read the schedule: ${String(error)}` })
            )
          }
          seasons.set(year, undefined)
          return Effect.as(
            Effect.logDebug(`calendar: no schedule for ${year} in ${scheduleDir}; names pass through`),
            undefined
          )
        }
        return Schema.decodeUnknownEffect(Schema.fromJsonString(SeasonFile))(text).pipe(
          Effect.mapError((error) =>
            new InvalidDataError({ path: file, reason: `not a schedule file: ${error.message}` })
          ),
          Effect.filterOrFail(
            (parsed) => parsed.year === year,
            (parsed) => new InvalidDataError({ path: file, reason: `holds the ${parsed.year} season, not ${year}` })
          ),
          Effect.map((parsed) => {
            seasons.set(year, parsed.events)
            return parsed.events
          })
        )
      })

    const scheduleFile = (year: number) => Path.join(scheduleDir, `${year}.json`)

    /** How to bring the schedule of `year` up to date: the bundled one with the package, or the caller's own file. */
    const howToUpdate = (year: number) =>
      scheduleDir === bundledScheduleDir
        ? `update tif1-effect, or point schedule_dir (TIF1_SCHEDULE_DIR) at a folder holding a current ` +
          `${year}.json (the bundled format: data/schedules/README.md)`
        : `replace it with a current ${year}.json (the bundled format: data/schedules/README.md), or unset ` +
          `schedule_dir (TIF1_SCHEDULE_DIR) to use the bundled schedules`

    const findEvent = (
      year: number,
      events: ReadonlyArray<CalendarEvent>,
      gp: string
    ): Effect.Effect<Listing<CalendarEvent>, InvalidDataError> => {
      const wanted = normalizeName(gp)
      const byRound = /^\d{1,2}$/.test(wanted) ? events.filter((event) => event.round === Number(wanted)) : []
      const matches = byRound.length > 0
        ? byRound
        : events.filter((event) =>
          eventKeys(event).some(({ key }) => key === wanted) || normalizeName(event.officialName) === wanted
        )
      const distinct = [...new Map(matches.map((event) => [event.name, event])).values()]
      if (distinct.length === 1) return Effect.succeed({ _tag: "Listed", value: distinct[0]! })
      if (distinct.length > 1) {
        return Effect.fail(
          new InvalidDataError({
            path: "gp",
            reason: `${JSON.stringify(gp)} names more than one ${year} event: ${quoteList(distinct.map((e) => e.name))}`
          })
        )
      }
      const { candidates, typed } = typedEvent(gp, events)
      const suggestions = nearest(typed, candidates, 3, nearBound(typed))
      if (suggestions.length > 0) {
        return Effect.fail(
          new InvalidDataError({
            path: "gp",
            reason: `no ${year} event is called ${JSON.stringify(gp)}; did you mean ${quoteList(suggestions)}? ` +
              `(\`tif1 events ${year}\` lists them)`
          })
        )
      }
      // No near miss: the schedule may be behind; the CDN says whether the event exists.
      const nearestListed = nearest(typed, events.flatMap(eventKeys), 3, Infinity)
      return Effect.as(
        Effect.logDebug(
          `calendar: ${year} lists no event near ${JSON.stringify(gp)}; asking the CDN for it as written`
        ),
        {
          _tag: "Unlisted",
          name: gp,
          unlisted: {
            kind: "event",
            nearest: nearestListed,
            behind: `calendar: the CDN publishes the ${year} event ${JSON.stringify(gp)}, which the schedule ` +
              `${scheduleFile(year)} does not list: that schedule is behind (its round numbers may name other ` +
              `events too); ${howToUpdate(year)}`,
            notListed: `the ${year} schedule has no event ${JSON.stringify(gp)} either; the nearest it has: ` +
              `${quoteList(nearestListed)} (\`tif1 events ${year}\` lists them)`
          }
        }
      )
    }

    const findSession = (
      year: number,
      event: CalendarEvent,
      session: string
    ): Effect.Effect<Listing<CalendarSession>, InvalidDataError> => {
      const aliased = resolveSessionName(session.trim())
      const wanted = normalizeName(aliased)
      const found = event.sessions.find((candidate) => normalizeName(candidate.name) === wanted)
      if (found !== undefined) return Effect.succeed({ _tag: "Listed", value: found })
      const names = event.sessions.map((candidate) => candidate.name)
      const published = publishedSessionNames.find((name) => normalizeName(name) === wanted)
      if (published === undefined) {
        const near = nearest(
          wanted,
          names.map((name) => ({ key: normalizeName(name), name, own: true })),
          1,
          nearBound(wanted)
        )
        if (near.length > 0) {
          return Effect.fail(
            new InvalidDataError({
              path: "session",
              reason: `the ${year} ${event.name} has no session ${JSON.stringify(session)} ` +
                `(did you mean '${near[0]}'?); it has ${quoteList(names)}`
            })
          )
        }
      }
      // A published session name (a weekend that changed format) or nothing near: the CDN says.
      const name = published ?? aliased
      return Effect.succeed({
        _tag: "Unlisted",
        name,
        unlisted: {
          kind: "session",
          nearest: names,
          behind: `calendar: the CDN publishes ${JSON.stringify(name)} of the ${year} ${event.name}, a session ` +
            `the schedule ${scheduleFile(year)} does not list for it: that schedule is behind; ${howToUpdate(year)}`,
          notListed: `the ${year} schedule lists no session ${JSON.stringify(name)} for the ${event.name} either; ` +
            `it has ${quoteList(names)}`
        }
      })
    }

    /** The names of a session of a listed event. */
    const sessionOf = (year: number, event: CalendarEvent, session: string) =>
      Effect.map(findSession(year, event, session), (found): ResolvedSession =>
        found._tag === "Listed"
          ? { year, gp: event.name, session: found.value.name, event, startsAt: Date.parse(found.value.start) }
          : { year, gp: event.name, session: found.name, event, startsAt: undefined, unlisted: found.unlisted })

    /** A session name as it goes to the CDN for an event the schedule does not list: a published name in its case. */
    const publishedOrAsTyped = (session: string) => {
      const aliased = resolveSessionName(session)
      const wanted = normalizeName(aliased)
      return publishedSessionNames.find((name) => normalizeName(name) === wanted) ?? aliased
    }

    const resolve = (year: number, gp: string, session: string): Effect.Effect<ResolvedSession, InvalidDataError> =>
      Effect.suspend(() => {
        const memo = `${year}\u0000${gp}\u0000${session}`
        const known = resolved.get(memo)
        if (known !== undefined) return Effect.succeed(known)
        return Effect.withSpan(
          Effect.flatMap(season(year), (events) => {
            if (events === undefined) {
              const passed = { year, gp, session: resolveSessionName(session), event: undefined, startsAt: undefined }
              remember(memo, passed)
              return Effect.succeed(passed)
            }
            const names = Effect.flatMap(
              findEvent(year, events, gp),
              (found): Effect.Effect<ResolvedSession, InvalidDataError> =>
                found._tag === "Listed"
                  ? sessionOf(year, found.value, session)
                  : Effect.succeed({
                    year,
                    gp: found.name,
                    session: publishedOrAsTyped(session),
                    event: undefined,
                    startsAt: undefined,
                    unlisted: found.unlisted
                  })
            )
            return Effect.tap(names, (result) => Effect.sync(() => remember(memo, result)))
          }),
          "Calendar.resolve",
          { attributes: { "tif1.year": year, "tif1.gp": gp, "tif1.session": session } }
        )
      })

    return {
      events: (year) => Effect.map(season(year), (events) => events ?? []),
      event: (year, gp) =>
        Effect.flatMap(
          season(year),
          (events) =>
            events === undefined
              ? Effect.succeed(undefined)
              : Effect.map(findEvent(year, events, gp), (found) => found._tag === "Listed" ? found.value : undefined)
        ),
      resolve
    }
  })

/**
 * The calendar from `schedule_dir` (the bundled schedules when unset).
 *
 * @since 0.2.0
 */
export const layer: Layer.Layer<Calendar, never, Tif1Config> = Layer.effect(
  Calendar,
  Tif1Config.use((config) => make(config.scheduleDir ?? bundledScheduleDir))
)

/**
 * A calendar that knows no year: every name passes through (for tests of code that uses names
 * the schedule does not have).
 *
 * @since 0.2.0
 */
export const layerEmpty: Layer.Layer<Calendar> = Layer.effect(
  Calendar,
  make(Path.join(bundledScheduleDir, "(none)"))
)
