/**
 * `Archive`: the Stats archive (`TracingInsights-Archive/Stats`, tif1's second source since 0.10):
 * results, qualifying, sprints, pit stops, lap positions and standings of every season since 1950,
 * as typed rows (`schema/stats`). Its documents come through the `Fetcher` (`sourceJson("stats",
 * ...)`): the archive's own CDNs (`stats_cdns`) with their health and breaker, the retries, the
 * cache (the current season's documents revalidated as live files are; older seasons final).
 *
 * Events are named as the timing data's are: any case, with or without accents, a round number,
 * a country or a location. A season the calendar knows (2018 on) resolves through `Calendar`, and
 * the event is then found in the archive's own `events.json` by its race day (UTC or local at the
 * circuit), the round breaking a tie: never by its name, because the archive names events its own
 * way (the timing data's `Bahrain Grand Prix` of 2026 is the archive's `Bahrain Grand Prix in
 * Malaysia`, folder `bahrain-grand-prix-in-malaysia`; its `São Paulo Grand Prix` is
 * `são-paulo-grand-prix` in 2024 and `brazilian-grand-prix` in 2026). A name the calendar does not
 * know may be the archive's own name for an event, and is looked up there. Earlier seasons resolve
 * against the archive's `events.json` alone. An event the archive does not list, after asking its
 * CDN once more whether `events.json` changed, is a `DataNotFoundError`: not published (yet).
 *
 * @since 0.2.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Result from "effect/Result"
import { DataNotFoundError, type FetchError, InvalidDataError } from "../schema/Errors.js"
import type { Rows } from "../schema/stats/common.js"
import type { ArchiveEvent } from "../schema/stats/Events.js"
import { decodeEvents } from "../schema/stats/Events.js"
import { decodeLapPositions, decodePitStops, type LapPosition, type PitStop } from "../schema/stats/Laps.js"
import {
  decodeQualifying,
  decodeResults,
  decodeSprintResults,
  type QualifyingResult,
  type RaceResult
} from "../schema/stats/Results.js"
import {
  decodeDriverStandings,
  decodeTeamStandings,
  type DriverStanding,
  type TeamStanding
} from "../schema/stats/Standings.js"
import { Calendar, type CalendarEvent, normalizeName } from "./Calendar.js"
import { Fetcher, type SourceFetchOptions } from "./Fetcher.js"
import { statsSession } from "./fetcher/source.js"
import { nameDistance } from "./internal/nameDistance.js"

/** The archive's typed rows, from `Stats` (`src/schema/stats/`). */
export type {
  /** @since 0.2.0 */
  ArchiveEvent,
  /** @since 0.2.0 */
  ArchiveSession,
  /** @since 0.2.0 */
  Driver,
  /** @since 0.2.0 */
  DriverStanding,
  /** @since 0.2.0 */
  FastestLap,
  /** @since 0.2.0 */
  LapPosition,
  /** @since 0.2.0 */
  PitStop,
  /** @since 0.2.0 */
  PublishedTime,
  /** @since 0.2.0 */
  QualifyingResult,
  /** @since 0.2.0 */
  RaceResult,
  /** @since 0.2.0 */
  RaceTime,
  /** @since 0.2.0 */
  Team,
  /** @since 0.2.0 */
  TeamStanding
} from "../schema/stats/index.js"

/**
 * One event of a season: `gp` as a user types it (a name in any case, with or without accents,
 * a round number, a country or a location).
 *
 * @since 0.2.0
 */
export interface EventQuery {
  readonly year: number
  readonly gp: string | number
}

/**
 * Standings: after one event (`gp`), or the season's as the archive last saved them (no `gp`);
 * of drivers (default) or of teams.
 *
 * @since 0.2.0
 */
export interface StandingsQuery<Of extends "drivers" | "teams" = "drivers" | "teams"> {
  readonly year: number
  readonly gp?: string | number
  readonly of?: Of
}

/**
 * Per-call options: those of `Fetcher.sourceJson` (`refresh`, `timeout`, `maxRetries`, `useCache`, `writeCache`).
 *
 * @since 0.2.0
 */
export type ArchiveOptions = SourceFetchOptions

/**
 * The standings rows `of` asks for.
 *
 * @since 0.2.0
 */
export type StandingsOf<Of extends "drivers" | "teams"> = Of extends "teams" ? ReadonlyArray<TeamStanding>
  : ReadonlyArray<DriverStanding>

/**
 * The archive. Every method fails with `InvalidDataError` for a bad query (before any I/O) or a
 * document that is not what the archive publishes, `DataNotFoundError` for a document or an event
 * the archive does not have, `NetworkError` when its CDNs fail. A document with no race (data not
 * published yet) is an empty list.
 *
 * @since 0.2.0
 */
export interface ArchiveService {
  /** The season's races in round order, as the archive lists them. */
  readonly events: (year: number, options?: ArchiveOptions) => Effect.Effect<ReadonlyArray<ArchiveEvent>, FetchError>
  /** The archive's event for a name, as every method below resolves it. */
  readonly event: (query: EventQuery, options?: ArchiveOptions) => Effect.Effect<ArchiveEvent, FetchError>
  /** The race's classification. */
  readonly results: (
    query: EventQuery,
    options?: ArchiveOptions
  ) => Effect.Effect<ReadonlyArray<RaceResult>, FetchError>
  /** The qualifying classification; a season the archive has none for (1950) is an empty list. */
  readonly qualifying: (
    query: EventQuery,
    options?: ArchiveOptions
  ) => Effect.Effect<ReadonlyArray<QualifyingResult>, FetchError>
  /** The sprint's classification; a weekend without a sprint is a `DataNotFoundError`. */
  readonly sprint: (query: EventQuery, options?: ArchiveOptions) => Effect.Effect<ReadonlyArray<RaceResult>, FetchError>
  /** The race's pit stops (from 2011). */
  readonly pitStops: (query: EventQuery, options?: ArchiveOptions) => Effect.Effect<ReadonlyArray<PitStop>, FetchError>
  /** Every driver's place and time at the end of each lap (from 1996). */
  readonly lapPositions: (
    query: EventQuery,
    options?: ArchiveOptions
  ) => Effect.Effect<ReadonlyArray<LapPosition>, FetchError>
  /** Drivers' (default) or teams' standings, after `gp` or for the season; each row says after which round. */
  readonly standings: <const Of extends "drivers" | "teams" = "drivers">(
    query: StandingsQuery<Of>,
    options?: ArchiveOptions
  ) => Effect.Effect<StandingsOf<Of>, FetchError>
}

/**
 * The `Archive` tag; `Archive.layer` builds it on the `Fetcher` and the `Calendar` of the context.
 *
 * @since 0.2.0
 */
export class Archive extends Context.Service<Archive, ArchiveService>()("tif1-effect/Archive") {
  static readonly layer: Layer.Layer<Archive, never, Fetcher | Calendar> = Layer.effect(Archive, make())
}

/**
 * The archive on the `Fetcher` and `Calendar` of the context.
 *
 * @since 0.2.0
 */
export const layer: Layer.Layer<Archive, never, Fetcher | Calendar> = Archive.layer

/** The first season of the archive. */
const firstSeason = 1950

/** The season, checked before any I/O. */
const checkYear = (year: unknown): Effect.Effect<number, InvalidDataError> =>
  typeof year === "number" && Number.isInteger(year) && year >= firstSeason && year <= 2100
    ? Effect.succeed(year)
    : Effect.fail(
      new InvalidDataError({
        path: "year",
        reason: `year must be an integer from ${firstSeason} (the first season of the Stats archive) to 2100, ` +
          `got ${JSON.stringify(year) ?? String(year)}`
      })
    )

/** The event as typed, checked before any I/O: a non-empty name on one line, or a round number. */
const checkGp = (gp: unknown): Effect.Effect<string, InvalidDataError> => {
  if (typeof gp === "number" && Number.isInteger(gp) && gp >= 1 && gp <= 99) return Effect.succeed(String(gp))
  if (typeof gp === "string" && gp.trim() !== "" && gp.length <= 200 && !/[\u0000-\u001f\u007f]/.test(gp)) {
    return Effect.succeed(gp.trim())
  }
  return Effect.fail(
    new InvalidDataError({
      path: "gp",
      reason: `gp must be an event's name, country or location, or its round number, got ${
        JSON.stringify(gp) ?? String(gp)
      }`
    })
  )
}

/** The names an archive event answers to: its own (with and without "Grand Prix"), its country and locality. */
const keysOf = (event: ArchiveEvent): ReadonlyArray<{ readonly key: string; readonly own: boolean }> => {
  const name = normalizeName(event.name)
  return [
    { key: name, own: true },
    { key: name.replace(/ grand prix$/, ""), own: true },
    { key: normalizeName(event.circuit.country), own: false },
    { key: normalizeName(event.circuit.locality), own: false }
  ]
}

const quoteList = (names: ReadonlyArray<string>) => names.map((name) => `'${name}'`).join(", ")

/**
 * The archive event a typed name means, by the rules of the calendar (a round number; else a
 * name, country or locality, in any case and with or without accents); a typo fails naming the
 * nearest names, and only near ones.
 */
const findByName = (
  year: number,
  events: ReadonlyArray<ArchiveEvent>,
  gp: string
): Result.Result<ArchiveEvent, InvalidDataError> => {
  const wanted = normalizeName(gp)
  const byRound = /^\d{1,2}$/.test(wanted) ? events.filter((event) => event.round === Number(wanted)) : []
  const matches = byRound.length > 0
    ? byRound
    : events.filter((event) => keysOf(event).some(({ key }) => key === wanted))
  if (matches.length === 1) return Result.succeed(matches[0]!)
  if (matches.length > 1) {
    return Result.fail(
      new InvalidDataError({
        path: "gp",
        reason: `${JSON.stringify(gp)} names more than one ${year} event of the Stats archive: ${
          quoteList(matches.map((event) => event.name))
        }`
      })
    )
  }
  const bound = Math.max(2, Math.floor(wanted.length / 3))
  const near = events
    .map((event) => {
      const scores = keysOf(event).map(({ key, own }) => ({ distance: nameDistance(wanted, key), own }))
      const best = scores.reduce((a, b) => (b.distance < a.distance || (b.distance === a.distance && b.own) ? b : a))
      return { name: event.name, ...best }
    })
    .filter((candidate) => candidate.distance <= bound)
    .sort((a, b) => a.distance - b.distance || Number(b.own) - Number(a.own))
    .slice(0, 3)
    .map((candidate) => candidate.name)
  return Result.fail(
    new InvalidDataError({
      path: "gp",
      reason: `no ${year} event of the Stats archive is called ${JSON.stringify(gp)}` +
        (near.length > 0 ? `; did you mean ${quoteList(near)}?` : "; no event name, country or location is near it") +
        ` (\`tif1 events ${year}\` lists them)`
    })
  )
}

/** The days a race may be dated on: its UTC day and its local day at the circuit (`+11:00` offsets). */
const raceDays = (start: string, utcOffset: string): ReadonlySet<string> => {
  const days = new Set([start.slice(0, 10)])
  const offset = /^([+-])(\d{2}):(\d{2})$/.exec(utcOffset)
  const at = Date.parse(start)
  if (offset !== null && !Number.isNaN(at)) {
    const minutes = (offset[1] === "-" ? -1 : 1) * (Number(offset[2]) * 60 + Number(offset[3]))
    days.add(new Date(at + minutes * 60_000).toISOString().slice(0, 10))
  }
  return days
}

/** The archive event on the calendar event's race day; on a tie, the one of the same round. */
const onRaceDay = (
  events: ReadonlyArray<ArchiveEvent>,
  event: CalendarEvent,
  days: ReadonlySet<string>
): ArchiveEvent | undefined => {
  const sameDay = events.filter((candidate) => days.has(candidate.date))
  return sameDay.find((candidate) => candidate.round === event.round) ?? sameDay[0]
}

/**
 * Build the archive on a fetcher and a calendar. Decoded documents are kept beside the parsed
 * ones the cache hands out (a warm call decodes nothing), for as long as those live.
 *
 * @since 0.2.0
 */
export function make(): Effect.Effect<ArchiveService, never, Fetcher | Calendar> {
  return Effect.gen(function*() {
    const fetcher = yield* Fetcher
    const calendar = yield* Calendar
    const decoded = new WeakMap<object, Rows<unknown>>()

    /** The rows of one document (`path` in the archive); a truncated page is used as it is, with a warning. */
    const rowsOf = <Row>(
      path: string,
      decode: (file: string, input: unknown) => Result.Result<Rows<Row>, InvalidDataError>,
      options: ArchiveOptions
    ): Effect.Effect<ReadonlyArray<Row>, FetchError> =>
      Effect.flatMap(fetcher.sourceJson("stats", path, options), (json) => {
        const known = decoded.get(json) as Rows<Row> | undefined
        if (known !== undefined) return Effect.succeed(known.rows)
        const result = decode(`stats/${path}`, json)
        if (Result.isFailure(result)) return Effect.fail(result.failure)
        decoded.set(json, result.success)
        const { rows, total } = result.success
        return rows.length < total
          ? Effect.as(
            Effect.logWarning(
              `stats/${path} holds ${rows.length} of the ${total} rows the archive counts (one page of a longer list)`
            ),
            rows
          )
          : Effect.succeed(rows)
      })

    const eventsOf = (year: number, options: ArchiveOptions) => rowsOf(`${year}/events.json`, decodeEvents, options)

    /** The archive's event for a calendar event, by race day (asking once more whether `events.json` changed). */
    const inArchive = (year: number, event: CalendarEvent, file: string, options: ArchiveOptions) =>
      Effect.gen(function*() {
        const race = event.sessions.find((session) => session.name === "Race")
        if (race === undefined) {
          return yield* new InvalidDataError({
            path: "gp",
            reason: `the ${year} ${event.name} has no race: the Stats archive has championship races only`
          })
        }
        const days = raceDays(race.start, event.utcOffset)
        const listed = onRaceDay(yield* eventsOf(year, options), event, days)
        if (listed !== undefined) return listed
        // The stored `events.json` may be older than the archive's: a calendar changes during a season.
        const again = onRaceDay(yield* eventsOf(year, { ...options, refresh: "revalidate" }), event, days)
        if (again !== undefined) return again
        yield* Effect.logDebug(
          `stats: the archive's ${year}/events.json lists no race on ${[...days].join(" or ")} ` +
            `(the ${event.name}, round ${event.round}): not published yet`
        )
        return yield* new DataNotFoundError({ year, gp: event.name, session: statsSession, path: file })
      })

    /** The archive's event a typed name means (`file` is the document asked for, named by a not-found). */
    const resolve = (
      year: number,
      gp: string,
      file: string,
      options: ArchiveOptions
    ): Effect.Effect<ArchiveEvent, FetchError> =>
      Effect.gen(function*() {
        const byArchive = Effect.flatMap(eventsOf(year, options), (events) =>
          Effect.fromResult(findByName(year, events, gp)))
        if ((yield* calendar.events(year)).length === 0) {
          return yield* byArchive
        }
        const known = yield* Effect.result(calendar.event(year, gp))
        if (Result.isSuccess(known)) {
          return known.success === undefined ? yield* byArchive : yield* inArchive(year, known.success, file, options)
        }
        // Not a name the calendar knows: it may be the archive's own name for an event. If the
        // archive does not know it either, the calendar's error says what may have been meant.
        const own = yield* Effect.result(byArchive)
        if (Result.isSuccess(own)) {
          return own.success
        }
        return yield* (own.failure._tag === "NetworkError" ? own.failure : known.failure)
      })

    /** A document of one event: `file` in the event's folder. */
    const eventRows = <Row>(
      query: EventQuery,
      file: string,
      decode: (file: string, input: unknown) => Result.Result<Rows<Row>, InvalidDataError>,
      options: ArchiveOptions
    ) =>
      Effect.gen(function*() {
        const year = yield* checkYear(query?.year)
        const gp = yield* checkGp(query?.gp)
        const event = yield* resolve(year, gp, file, options)
        return yield* rowsOf(`${year}/${event.slug}/${file}`, decode, options)
      })

    const standings = Effect.fn("Archive.standings")(function*(query: StandingsQuery, options: ArchiveOptions = {}) {
      const year = yield* checkYear(query?.year)
      const of = query.of ?? "drivers"
      if (of !== "drivers" && of !== "teams") {
        return yield* new InvalidDataError({
          path: "of",
          reason: `of must be "drivers" or "teams", got ${JSON.stringify(of) ?? String(of)}`
        })
      }
      const file = of === "teams" ? "teamPoints.json" : "driverPoints.json"
      const decode = of === "teams" ? decodeTeamStandings : decodeDriverStandings
      if (query.gp === undefined) {
        return yield* rowsOf<DriverStanding | TeamStanding>(`${year}/${file}`, decode, options)
      }
      const gp = yield* checkGp(query.gp)
      const event = yield* resolve(year, gp, file, options)
      return yield* rowsOf<DriverStanding | TeamStanding>(`${year}/${event.slug}/${file}`, decode, options)
    })

    const service: ArchiveService = {
      events: Effect.fn("Archive.events")(function*(year: number, options: ArchiveOptions = {}) {
        return yield* eventsOf(yield* checkYear(year), options)
      }),
      event: Effect.fn("Archive.event")(function*(query: EventQuery, options: ArchiveOptions = {}) {
        const year = yield* checkYear(query?.year)
        return yield* resolve(year, yield* checkGp(query?.gp), "events.json", options)
      }),
      results: Effect.fn("Archive.results")((query: EventQuery, options: ArchiveOptions = {}) =>
        eventRows(query, "results.json", decodeResults, options)
      ),
      qualifying: Effect.fn("Archive.qualifying")((query: EventQuery, options: ArchiveOptions = {}) =>
        eventRows(query, "quali_results.json", decodeQualifying, options)
      ),
      sprint: Effect.fn("Archive.sprint")((query: EventQuery, options: ArchiveOptions = {}) =>
        eventRows(query, "sprint_results.json", decodeSprintResults, options)
      ),
      pitStops: Effect.fn("Archive.pitStops")((query: EventQuery, options: ArchiveOptions = {}) =>
        eventRows(query, "pitstops.json", decodePitStops, options)
      ),
      lapPositions: Effect.fn("Archive.lapPositions")((query: EventQuery, options: ArchiveOptions = {}) =>
        eventRows(query, "laptimes.json", decodeLapPositions, options)
      ),
      standings: standings as ArchiveService["standings"]
    }
    return service
  })
}
