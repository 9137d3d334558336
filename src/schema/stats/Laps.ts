/**
 * What happened lap by lap: `pitstops.json` (`PitStops`, from 2011) and `laptimes.json` (`Laps`,
 * each lap's `Timings`: every driver's place and time at the end of it, from 1996).
 *
 * @since 0.2.0
 */
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import type { InvalidDataError } from "../Errors.js"
import { decodeDocument, NumberFromText, type PublishedTime, type Rows, TimeFromText } from "./common.js"

/**
 * One pit stop.
 *
 * @since 0.2.0
 */
export interface PitStop {
  /** The driver's Jolpica id (as `RaceResult.driver.id`). */
  readonly driverId: string
  readonly lap: number
  /** The driver's first, second, ... stop. */
  readonly stop: number
  /** Local time of day at the circuit, as published (`"15:22:58"`). */
  readonly timeOfDay: string
  /** Time in the pit lane (`"22.645"`; a stop under a red flag can be minutes: `"31:02.110"`). */
  readonly duration: PublishedTime
}

/**
 * A driver's place and lap time at the end of one lap.
 *
 * @since 0.2.0
 */
export interface LapPosition {
  readonly lap: number
  /** The driver's Jolpica id (as `RaceResult.driver.id`). */
  readonly driverId: string
  readonly position: number
  readonly time: PublishedTime
}

/**
 * `pitstops.json`.
 *
 * @since 0.2.0
 */
export const PitStopsDocument = Schema.Struct({
  MRData: Schema.Struct({
    total: NumberFromText,
    RaceTable: Schema.Struct({
      Races: Schema.Array(Schema.Struct({
        PitStops: Schema.Array(Schema.Struct({
          driverId: Schema.NonEmptyString,
          lap: NumberFromText,
          stop: NumberFromText,
          time: Schema.String,
          duration: TimeFromText
        }))
      }))
    })
  })
})

/**
 * `laptimes.json`.
 *
 * @since 0.2.0
 */
export const LapsDocument = Schema.Struct({
  MRData: Schema.Struct({
    total: NumberFromText,
    RaceTable: Schema.Struct({
      Races: Schema.Array(Schema.Struct({
        Laps: Schema.Array(Schema.Struct({
          number: NumberFromText,
          Timings: Schema.Array(Schema.Struct({
            driverId: Schema.NonEmptyString,
            position: NumberFromText,
            time: TimeFromText
          }))
        }))
      }))
    })
  })
})

const decodePitStopsDocument = decodeDocument(PitStopsDocument)
const decodeLapsDocument = decodeDocument(LapsDocument)

/**
 * Decode `pitstops.json` (`file` names it in errors), in the order published (by time).
 *
 * @since 0.2.0
 */
export const decodePitStops = (file: string, input: unknown): Result.Result<Rows<PitStop>, InvalidDataError> =>
  Result.map(decodePitStopsDocument(file, input), ({ MRData }) => ({
    rows: MRData.RaceTable.Races.flatMap((race) =>
      race.PitStops.map((stop) => ({
        driverId: stop.driverId,
        lap: stop.lap,
        stop: stop.stop,
        timeOfDay: stop.time,
        duration: stop.duration
      }))
    ),
    total: MRData.total
  }))

/**
 * Decode `laptimes.json`: one row per driver per lap, lap by lap, each lap in running order.
 *
 * @since 0.2.0
 */
export const decodeLapPositions = (
  file: string,
  input: unknown
): Result.Result<Rows<LapPosition>, InvalidDataError> =>
  Result.map(decodeLapsDocument(file, input), ({ MRData }) => ({
    rows: MRData.RaceTable.Races.flatMap((race) =>
      race.Laps.flatMap((lap) =>
        lap.Timings.map((timing) => ({
          lap: lap.number,
          driverId: timing.driverId,
          position: timing.position,
          time: timing.time
        }))
      )
    ),
    total: MRData.total
  }))
