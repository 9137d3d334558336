/**
 * `rcm.json`: race-control messages as columns. `time` is an ISO timestamp string with nine
 * fraction digits (kept as published: JavaScript dates hold milliseconds only).
 *
 * @since 0.1.0
 */
import { type ColumnType, decodeTable, fastSchema } from "./columns.js"

/**
 * Race-control messages.
 *
 * @since 0.1.0
 */
export interface RaceControl {
  /** ISO timestamp, e.g. `2025-12-05T09:16:40.000000000`. */
  readonly time: ColumnType<"string">
  /** Category (`Flag`, `Other`, `SafetyCar`, `Drs`, ...). */
  readonly cat: ColumnType<"string?">
  readonly msg: ColumnType<"string?">
  readonly status: ColumnType<"string?">
  readonly flag: ColumnType<"string?">
  readonly scope: ColumnType<"string?">
  readonly sector: ColumnType<"number?">
  /** Driver number. */
  readonly dNum: ColumnType<"scalar?">
  readonly lap: ColumnType<"number?">
  readonly [extra: string]: unknown
}

/**
 * Decode parsed race-control messages. A `time` that is not an ISO timestamp is rejected.
 *
 * @since 0.1.0
 */
export const decodeRaceControl = (input: unknown) => {
  const table = decodeTable(input, {
    name: "race control",
    columns: {
      time: "string",
      cat: "string?",
      msg: "string?",
      status: "string?",
      flag: "string?",
      scope: "string?",
      sector: "number?",
      dNum: "scalar?",
      lap: "number?"
    }
  })
  if ("error" in table) return table
  const times = table.value.time as ReadonlyArray<string>
  const bad = times.findIndex((time) => !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?$/.test(time))
  if (bad >= 0) {
    return {
      error: `race control: column "time" index ${bad}: expected an ISO timestamp, got ${JSON.stringify(times[bad])}`
    }
  }
  return { value: table.value as unknown as RaceControl }
}

/**
 * The race-control schema.
 *
 * @since 0.1.0
 */
export const RaceControl = fastSchema("RaceControl", decodeRaceControl)
