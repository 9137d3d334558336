/**
 * `Calendar`: the season schedules tif1 vendors (2018 on, bundled in the package; `schedule_dir`
 * points at newer files of the same format), and name resolution before any I/O. An event is
 * found by its name in any case and with or without accents, its round number, its country or
 * its location; a session by its name in any case or an alias (`FP1`, `Q`, `R`, ...). A typo is an
 * `InvalidDataError` naming the nearest names; a session the event does not have is one naming
 * the sessions it has. A year the schedule does not know passes through unchanged, so a new
 * season never breaks (logged at debug).
 *
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
import { resolveSessionName } from "../schema/DataRequest.js"
import { InvalidDataError } from "../schema/Errors.js"

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
}

/**
 * The calendar.
 *
 * @since 0.2.0
 */
export interface CalendarService {
  /** The season's events in calendar order (testing included); empty for a year it does not know. */
  readonly events: (year: number) => Effect.Effect<ReadonlyArray<CalendarEvent>, InvalidDataError>
  /** The event a name means (as `resolve` finds it); `undefined` for a year the schedule does not know. */
  readonly event: (year: number, gp: string) => Effect.Effect<CalendarEvent | undefined, InvalidDataError>
  /** Published names for what a user typed, or an `InvalidDataError` that says what they may have meant. */
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

/** Edit distance, for "did you mean". */
const distance = (a: string, b: string): number => {
  const previous = Array.from({ length: b.length + 1 }, (_, index) => index)
  for (let i = 1; i <= a.length; i++) {
    let diagonal = previous[0]!
    previous[0] = i
    for (let j = 1; j <= b.length; j++) {
      const above = previous[j]!
      previous[j] = Math.min(above + 1, previous[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1))
      diagonal = above
    }
  }
  return previous[b.length]!
}

/** The `count` candidates nearest to `wanted`, nearest first. */
const nearest = (wanted: string, candidates: ReadonlyArray<{ key: string; name: string }>, count: number) => {
  const scored = new Map<string, number>()
  for (const { key, name } of candidates) {
    const score = distance(normalizeName(wanted), key)
    scored.set(name, Math.min(scored.get(name) ?? Infinity, score))
  }
  return [...scored].sort((a, b) => a[1] - b[1]).slice(0, count).map(([name]) => name)
}

const quoteList = (names: ReadonlyArray<string>) => names.map((name) => `'${name}'`).join(", ")

/** The names an event answers to: its name with and without "Grand Prix", country, location. */
const eventKeys = (event: CalendarEvent): ReadonlyArray<string> => {
  const name = normalizeName(event.name)
  return [name, name.replace(/ grand prix$/, ""), normalizeName(event.country), normalizeName(event.location)]
}

/**
 * Build the calendar on a folder of `{year}.json` files. Each year is read once, when first asked for.
 *
 * @since 0.2.0
 */
export const make = (scheduleDir: string): Effect.Effect<CalendarService> =>
  Effect.sync(() => {
    const seasons = new Map<number, ReadonlyArray<CalendarEvent> | undefined>()
    const resolved = new Map<string, ResolvedSession>()

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

    const findEvent = (year: number, events: ReadonlyArray<CalendarEvent>, gp: string) => {
      const wanted = normalizeName(gp)
      const byRound = /^\d{1,2}$/.test(wanted) ? events.filter((event) => event.round === Number(wanted)) : []
      const matches = byRound.length > 0
        ? byRound
        : events.filter((event) => eventKeys(event).includes(wanted) || normalizeName(event.officialName) === wanted)
      const distinct = [...new Map(matches.map((event) => [event.name, event])).values()]
      if (distinct.length === 1) return Effect.succeed(distinct[0]!)
      if (distinct.length > 1) {
        return Effect.fail(
          new InvalidDataError({
            path: "gp",
            reason: `${JSON.stringify(gp)} names more than one ${year} event: ${quoteList(distinct.map((e) => e.name))}`
          })
        )
      }
      const suggestions = nearest(
        gp,
        events.flatMap((event) => eventKeys(event).map((key) => ({ key, name: event.name }))),
        3
      )
      return Effect.fail(
        new InvalidDataError({
          path: "gp",
          reason: `no ${year} event is called ${JSON.stringify(gp)}; did you mean ${quoteList(suggestions)}? ` +
            `(\`tif1 events ${year}\` lists them)`
        })
      )
    }

    const findSession = (year: number, event: CalendarEvent, session: string) => {
      const aliased = normalizeName(resolveSessionName(session.trim()))
      const found = event.sessions.find((candidate) => normalizeName(candidate.name) === aliased)
      if (found !== undefined) return Effect.succeed(found)
      const names = event.sessions.map((candidate) => candidate.name)
      const near = nearest(session, names.map((name) => ({ key: normalizeName(name), name })), 1)
      return Effect.fail(
        new InvalidDataError({
          path: "session",
          reason: `the ${year} ${event.name} has no session ${JSON.stringify(session)}` +
            `${
              near.length > 0 && distance(normalizeName(session), normalizeName(near[0]!)) <= 3
                ? ` (did you mean '${near[0]}'?)`
                : ""
            }; ` +
            `it has ${quoteList(names)}`
        })
      )
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
              resolved.set(memo, passed)
              return Effect.succeed(passed)
            }
            return Effect.flatMap(findEvent(year, events, gp), (event) =>
              Effect.map(findSession(year, event, session), (found) => {
                const result: ResolvedSession = {
                  year,
                  gp: event.name,
                  session: found.name,
                  event,
                  startsAt: Date.parse(found.start)
                }
                resolved.set(memo, result)
                return result
              }))
          }),
          "Calendar.resolve",
          { attributes: { "tif1.year": year, "tif1.gp": gp, "tif1.session": session } }
        )
      })

    return {
      events: (year) =>
        Effect.map(season(year), (events) =>
          events ?? []),
      event: (year, gp) =>
        Effect.flatMap(
          season(year),
          (events) => (events === undefined ? Effect.succeed(undefined) : findEvent(year, events, gp))
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
