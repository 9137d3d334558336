/**
 * Championship standings: `driverPoints.json` (`DriverStandings`) and `teamPoints.json`
 * (`ConstructorStandings`), after one race (`{year}/{slug}/...`) or for the season
 * (`{year}/...`, as the archive last saved it: check `round`).
 *
 * As published: a driver or team without a championship place has no `position` and
 * `positionText` `"-"` (every constructor of 1950, before there was a constructors' title); a
 * driver who drove for several teams lists each; a season's document may be one page of a longer
 * list (`1950/driverPoints.json` holds 30 of 81 rows); standings not computed yet are a document
 * with no list.
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
  type Rows,
  type Team,
  toDriver,
  toTeam
} from "./common.js"

/**
 * A driver's place in the championship.
 *
 * @since 0.2.0
 */
export interface DriverStanding {
  /** The round these standings are after. */
  readonly round: number
  /** `null` for a driver without a championship place (`positionText` `"-"`). */
  readonly position: number | null
  readonly positionText: string
  readonly points: number
  readonly wins: number
  readonly driver: Driver
  /** The teams the driver drove for, as listed. */
  readonly teams: ReadonlyArray<Team>
}

/**
 * A team's place in the constructors' championship.
 *
 * @since 0.2.0
 */
export interface TeamStanding {
  /** The round these standings are after. */
  readonly round: number
  /** `null` for a team without a championship place (`positionText` `"-"`). */
  readonly position: number | null
  readonly positionText: string
  readonly points: number
  readonly wins: number
  readonly team: Team
}

const StandingFields = {
  position: Schema.optionalKey(NumberFromText),
  positionText: Schema.String,
  points: NumberFromText,
  wins: NumberFromText
}

/**
 * `driverPoints.json`.
 *
 * @since 0.2.0
 */
export const DriverStandingsDocument = Schema.Struct({
  MRData: Schema.Struct({
    total: NumberFromText,
    StandingsTable: Schema.Struct({
      StandingsLists: Schema.Array(Schema.Struct({
        round: NumberFromText,
        DriverStandings: Schema.Array(Schema.Struct({
          ...StandingFields,
          Driver: DriverText,
          Constructors: Schema.Array(ConstructorText)
        }))
      }))
    })
  })
})

/**
 * `teamPoints.json`.
 *
 * @since 0.2.0
 */
export const TeamStandingsDocument = Schema.Struct({
  MRData: Schema.Struct({
    total: NumberFromText,
    StandingsTable: Schema.Struct({
      StandingsLists: Schema.Array(Schema.Struct({
        round: NumberFromText,
        ConstructorStandings: Schema.Array(Schema.Struct({ ...StandingFields, Constructor: ConstructorText }))
      }))
    })
  })
})

const decodeDriverDocument = decodeDocument(DriverStandingsDocument)
const decodeTeamDocument = decodeDocument(TeamStandingsDocument)

/**
 * Decode `driverPoints.json` (`file` names it in errors); standings not computed yet are no rows.
 *
 * @since 0.2.0
 */
export const decodeDriverStandings = (
  file: string,
  input: unknown
): Result.Result<Rows<DriverStanding>, InvalidDataError> =>
  Result.map(decodeDriverDocument(file, input), ({ MRData }) => ({
    rows: MRData.StandingsTable.StandingsLists.flatMap((list) =>
      list.DriverStandings.map((row) => ({
        round: list.round,
        position: row.position ?? null,
        positionText: row.positionText,
        points: row.points,
        wins: row.wins,
        driver: toDriver(row.Driver),
        teams: row.Constructors.map(toTeam)
      }))
    ),
    total: MRData.total
  }))

/**
 * Decode `teamPoints.json`.
 *
 * @since 0.2.0
 */
export const decodeTeamStandings = (
  file: string,
  input: unknown
): Result.Result<Rows<TeamStanding>, InvalidDataError> =>
  Result.map(decodeTeamDocument(file, input), ({ MRData }) => ({
    rows: MRData.StandingsTable.StandingsLists.flatMap((list) =>
      list.ConstructorStandings.map((row) => ({
        round: list.round,
        position: row.position ?? null,
        positionText: row.positionText,
        points: row.points,
        wins: row.wins,
        team: toTeam(row.Constructor)
      }))
    ),
    total: MRData.total
  }))
