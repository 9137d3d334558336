/**
 * Classifications: a race's `results.json` (`Results`), a sprint's `sprint_results.json`
 * (`SprintResults`, the same row shape) and `quali_results.json` (`QualifyingResults`).
 *
 * As published: every value is text; a driver who did not finish has no `Time`; before 2004 no
 * row has a `FastestLap`; many 1950s drivers have no `code`; a lapped finisher's `Time` may be a
 * gap on the leader's lap (`"+1.327"`), and one retired row of 2025 has `"+-1:47:38.638"`, so a
 * race time's seconds come from its `millis`, never from its text. A qualifying time a driver did
 * not set is absent or `""`. Races the archive has no data for yet are documents with no race.
 *
 * @since 0.2.0
 */
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import type { InvalidDataError } from "../Errors.js"
import {
  ConstructorText,
  decodeDocument,
  type Driver,
  DriverText,
  NumberFromText,
  type PublishedTime,
  type Rows,
  type Team,
  TimeFromText,
  toDriver,
  toTeam
} from "./common.js"

/**
 * A race time: `seconds` is the driver's whole race time (from the published milliseconds),
 * `text` as published: the winner's time (`"1:42:06.304"`), the others' gap (`"+0.895"`).
 *
 * @since 0.2.0
 */
export type RaceTime = PublishedTime

/**
 * A driver's fastest lap of a race (published from 2004).
 *
 * @since 0.2.0
 */
export interface FastestLap {
  /** Its rank among the race's fastest laps, or `null` where not given. */
  readonly rank: number | null
  readonly lap: number
  readonly time: PublishedTime | null
}

/**
 * One row of a race's or a sprint's classification.
 *
 * @since 0.2.0
 */
export interface RaceResult {
  /** Place in the classification (1 first; retired drivers are placed too). */
  readonly position: number
  /**
   * As published: the place, or `R` retired, `D` disqualified, `E` excluded, `W` withdrawn,
   * `N` not classified, `F` failed to qualify.
   */
  readonly positionText: string
  /** Car number, or `null` where the archive has none. */
  readonly number: number | null
  readonly points: number
  readonly driver: Driver
  readonly team: Team
  /** Starting place; 0 is the pit lane. */
  readonly grid: number
  readonly laps: number
  /** Verbatim: `Finished`, `+1 Lap`, `Lapped`, `Retired`, `Engine`, `Disqualified`, ... */
  readonly status: string
  /** `null` for a driver who was not timed (retired, most lapped finishers before 2025). */
  readonly time: RaceTime | null
  /** `null` before 2004 and for drivers who set none. */
  readonly fastestLap: FastestLap | null
}

/**
 * One row of a qualifying classification.
 *
 * @since 0.2.0
 */
export interface QualifyingResult {
  readonly position: number
  readonly number: number | null
  readonly driver: Driver
  readonly team: Team
  /** `null` where the driver set no time in that part (or did not take part). */
  readonly q1: PublishedTime | null
  readonly q2: PublishedTime | null
  readonly q3: PublishedTime | null
}

/**
 * A classification row as `results.json` and `sprint_results.json` write it.
 *
 * @since 0.2.0
 */
export const ResultText = Schema.Struct({
  number: Schema.optionalKey(NumberFromText),
  position: NumberFromText,
  positionText: Schema.String,
  points: NumberFromText,
  Driver: DriverText,
  Constructor: ConstructorText,
  grid: NumberFromText,
  laps: NumberFromText,
  status: Schema.String,
  Time: Schema.optionalKey(Schema.Struct({ millis: NumberFromText, time: Schema.String })),
  FastestLap: Schema.optionalKey(Schema.Struct({
    rank: Schema.optionalKey(NumberFromText),
    lap: NumberFromText,
    Time: Schema.optionalKey(Schema.Struct({ time: TimeFromText }))
  }))
})

/** A qualifying time: absent, `""` (none set) or a time. */
const QualifyingTime = Schema.optionalKey(Schema.Union([Schema.Literal(""), TimeFromText]))

/**
 * A row as `quali_results.json` writes it.
 *
 * @since 0.2.0
 */
export const QualifyingText = Schema.Struct({
  number: Schema.optionalKey(NumberFromText),
  position: NumberFromText,
  Driver: DriverText,
  Constructor: ConstructorText,
  Q1: QualifyingTime,
  Q2: QualifyingTime,
  Q3: QualifyingTime
})

const envelope = <Races extends Schema.Top>(races: Races) =>
  Schema.Struct({ MRData: Schema.Struct({ total: NumberFromText, RaceTable: Schema.Struct({ Races: races }) }) })

/**
 * `results.json`.
 *
 * @since 0.2.0
 */
export const ResultsDocument = envelope(Schema.Array(Schema.Struct({ Results: Schema.Array(ResultText) })))

/**
 * `sprint_results.json`.
 *
 * @since 0.2.0
 */
export const SprintResultsDocument = envelope(Schema.Array(Schema.Struct({ SprintResults: Schema.Array(ResultText) })))

/**
 * `quali_results.json`.
 *
 * @since 0.2.0
 */
export const QualifyingDocument = envelope(
  Schema.Array(Schema.Struct({ QualifyingResults: Schema.Array(QualifyingText) }))
)

const toResult = (row: typeof ResultText.Type): RaceResult => ({
  position: row.position,
  positionText: row.positionText,
  number: row.number ?? null,
  points: row.points,
  driver: toDriver(row.Driver),
  team: toTeam(row.Constructor),
  grid: row.grid,
  laps: row.laps,
  status: row.status,
  time: row.Time === undefined ? null : { seconds: row.Time.millis / 1000, text: row.Time.time },
  fastestLap: row.FastestLap === undefined ? null : {
    rank: row.FastestLap.rank ?? null,
    lap: row.FastestLap.lap,
    time: row.FastestLap.Time?.time ?? null
  }
})

const qualifyingTime = (time: "" | PublishedTime | undefined): PublishedTime | null =>
  time === undefined || time === "" ? null : time

const toQualifying = (row: typeof QualifyingText.Type): QualifyingResult => ({
  position: row.position,
  number: row.number ?? null,
  driver: toDriver(row.Driver),
  team: toTeam(row.Constructor),
  q1: qualifyingTime(row.Q1),
  q2: qualifyingTime(row.Q2),
  q3: qualifyingTime(row.Q3)
})

const decodeResultsDocument = decodeDocument(ResultsDocument)
const decodeSprintDocument = decodeDocument(SprintResultsDocument)
const decodeQualifyingDocument = decodeDocument(QualifyingDocument)

/**
 * Decode `results.json` (`file` names it in errors); a document with no race is no rows.
 *
 * @since 0.2.0
 */
export const decodeResults = (file: string, input: unknown): Result.Result<Rows<RaceResult>, InvalidDataError> =>
  Result.map(decodeResultsDocument(file, input), ({ MRData }) => ({
    rows: MRData.RaceTable.Races.flatMap((race) => race.Results.map(toResult)),
    total: MRData.total
  }))

/**
 * Decode `sprint_results.json`.
 *
 * @since 0.2.0
 */
export const decodeSprintResults = (
  file: string,
  input: unknown
): Result.Result<Rows<RaceResult>, InvalidDataError> =>
  Result.map(decodeSprintDocument(file, input), ({ MRData }) => ({
    rows: MRData.RaceTable.Races.flatMap((race) => race.SprintResults.map(toResult)),
    total: MRData.total
  }))

/**
 * Decode `quali_results.json`.
 *
 * @since 0.2.0
 */
export const decodeQualifying = (
  file: string,
  input: unknown
): Result.Result<Rows<QualifyingResult>, InvalidDataError> =>
  Result.map(decodeQualifyingDocument(file, input), ({ MRData }) => ({
    rows: MRData.RaceTable.Races.flatMap((race) => race.QualifyingResults.map(toQualifying)),
    total: MRData.total
  }))
