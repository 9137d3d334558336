/**
 * A season's races: `{year}/events.json` (`MRData.RaceTable.Races`) and one race's
 * `{year}/{slug}/event_info.json` (the same fields, not wrapped in `MRData`). Since 2021 a race
 * also dates its other sessions (`FirstPractice`, `Qualifying`, `Sprint`, ...); before 2005 it has
 * a date and no time.
 *
 * An event's folder in the archive, its slug, is Jolpica's `raceName` lower-cased with spaces as
 * hyphens, accents kept (`São Paulo Grand Prix` is `são-paulo-grand-prix`). It is read from the
 * archive's own name for the race, never from a name a user typed: the timing data's `Bahrain Grand
 * Prix` of 2026 is the archive's `Bahrain Grand Prix in Malaysia`.
 *
 * @since 0.2.0
 */
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import type { InvalidDataError } from "../Errors.js"
import { decodeDocument, NumberFromText, type Rows } from "./common.js"

/**
 * One session of an archive event, as the archive dates it.
 *
 * @since 0.2.0
 */
export interface ArchiveSession {
  /** The timing data's name for it: `Practice 1`, `Sprint Qualifying`, `Qualifying`, `Sprint`, `Race`, ... */
  readonly name: string
  /** `YYYY-MM-DD`. */
  readonly date: string
  /** `HH:MM:SSZ` (UTC), or `null` where the archive gives none. */
  readonly time: string | null
}

/**
 * One race of a season, as the Stats archive lists it.
 *
 * @since 0.2.0
 */
export interface ArchiveEvent {
  readonly year: number
  readonly round: number
  /** The archive's name for it (`raceName`), which may differ from the timing data's. */
  readonly name: string
  /** Its folder in the archive (`australian-grand-prix`, `são-paulo-grand-prix`). */
  readonly slug: string
  /** Race day, `YYYY-MM-DD`. */
  readonly date: string
  /** Race start, `HH:MM:SSZ` (UTC), or `null` (none before 2005). */
  readonly time: string | null
  readonly circuit: {
    readonly id: string
    readonly name: string
    readonly locality: string
    readonly country: string
    readonly latitude: number
    readonly longitude: number
  }
  /** The sessions the archive dates, in time order, the race last (only the race before 2021). */
  readonly sessions: ReadonlyArray<ArchiveSession>
}

/**
 * The folder of a race in the archive: its `raceName` lower-cased, spaces as hyphens, accents kept.
 *
 * @since 0.2.0
 */
export const slugOf = (raceName: string): string => raceName.normalize("NFC").toLowerCase().replaceAll(" ", "-")

const SessionDate = Schema.Struct({
  date: Schema.String,
  time: Schema.optionalKey(Schema.String)
})

/** The archive's session keys and the timing data's names for them. */
const sessionNames = {
  FirstPractice: "Practice 1",
  SecondPractice: "Practice 2",
  ThirdPractice: "Practice 3",
  SprintShootout: "Sprint Shootout",
  SprintQualifying: "Sprint Qualifying",
  Sprint: "Sprint",
  Qualifying: "Qualifying"
} as const

/**
 * A race as `events.json` and `event_info.json` write it.
 *
 * @since 0.2.0
 */
export const RaceText = Schema.Struct({
  season: NumberFromText,
  round: NumberFromText,
  raceName: Schema.NonEmptyString,
  Circuit: Schema.Struct({
    circuitId: Schema.String,
    circuitName: Schema.String,
    Location: Schema.Struct({
      lat: NumberFromText,
      long: NumberFromText,
      locality: Schema.String,
      country: Schema.String
    })
  }),
  date: Schema.String.check(Schema.isPattern(/^\d{4}-\d{2}-\d{2}$/, { expected: "a date such as \"2025-03-16\"" })),
  time: Schema.optionalKey(Schema.String),
  FirstPractice: Schema.optionalKey(SessionDate),
  SecondPractice: Schema.optionalKey(SessionDate),
  ThirdPractice: Schema.optionalKey(SessionDate),
  SprintShootout: Schema.optionalKey(SessionDate),
  SprintQualifying: Schema.optionalKey(SessionDate),
  Sprint: Schema.optionalKey(SessionDate),
  Qualifying: Schema.optionalKey(SessionDate)
})

/**
 * `{year}/events.json`.
 *
 * @since 0.2.0
 */
export const EventsDocument = Schema.Struct({
  MRData: Schema.Struct({
    total: NumberFromText,
    RaceTable: Schema.Struct({ Races: Schema.Array(RaceText) })
  })
})

/** A decoded race as an `ArchiveEvent`. */
const toEvent = (race: typeof RaceText.Type): ArchiveEvent => {
  const sessions: Array<ArchiveSession> = []
  for (const [key, name] of Object.entries(sessionNames)) {
    const dated = race[key as keyof typeof sessionNames]
    if (dated !== undefined) sessions.push({ name, date: dated.date, time: dated.time ?? null })
  }
  // In time order; a session without a time sorts as the start of its day.
  sessions.sort((a, b) => `${a.date}T${a.time ?? ""}`.localeCompare(`${b.date}T${b.time ?? ""}`))
  sessions.push({ name: "Race", date: race.date, time: race.time ?? null })
  return {
    year: race.season,
    round: race.round,
    name: race.raceName,
    slug: slugOf(race.raceName),
    date: race.date,
    time: race.time ?? null,
    circuit: {
      id: race.Circuit.circuitId,
      name: race.Circuit.circuitName,
      locality: race.Circuit.Location.locality,
      country: race.Circuit.Location.country,
      latitude: race.Circuit.Location.lat,
      longitude: race.Circuit.Location.long
    },
    sessions
  }
}

const decodeEventsDocument = decodeDocument(EventsDocument)
const decodeRace = decodeDocument(RaceText)

/**
 * Decode `{year}/events.json` (`file` names it in errors): the season's races in round order.
 *
 * @since 0.2.0
 */
export const decodeEvents = (file: string, input: unknown): Result.Result<Rows<ArchiveEvent>, InvalidDataError> =>
  Result.map(decodeEventsDocument(file, input), (document) => ({
    rows: document.MRData.RaceTable.Races.map(toEvent).sort((a, b) => a.round - b.round),
    total: document.MRData.total
  }))

/**
 * Decode `{year}/{slug}/event_info.json`.
 *
 * @since 0.2.0
 */
export const decodeEventInfo = (file: string, input: unknown): Result.Result<ArchiveEvent, InvalidDataError> =>
  Result.map(decodeRace(file, input), toEvent)
