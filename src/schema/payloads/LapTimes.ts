/**
 * `{DRV}/laptimes.json` and `session_laptimes.json`: one row per lap, as equal-length columns, in
 * three shapes: minimal (`time, lap, compound`), short (11 columns) and long (42, plus `qs` in
 * qualifying). `session_laptimes.json` joins every driver's rows; `drv` says whose row it is.
 *
 * @since 0.1.0
 */
import { type ColumnType, decodeTable, fastSchema, type TableSpec } from "./columns.js"

/**
 * The lap table. Times are seconds; `null` where the source wrote `"None"` or `NaN`.
 *
 * @since 0.1.0
 */
export interface LapTimes {
  /** Lap time, seconds. */
  readonly time: ColumnType<"number?">
  /** Lap number (floats in some 2024 files, not always consecutive). */
  readonly lap: ColumnType<"number">
  /** Tyre compound (`SOFT`, `MEDIUM`, `HARD`, `INTERMEDIATE`, `WET`). */
  readonly compound: ColumnType<"string?">
  readonly stint?: ColumnType<"number?">
  /** Sector times, seconds. */
  readonly s1?: ColumnType<"number?">
  readonly s2?: ColumnType<"number?">
  readonly s3?: ColumnType<"number?">
  /** Mini-sector status strings. */
  readonly ms1?: ColumnType<"string?">
  readonly ms2?: ColumnType<"string?">
  readonly ms3?: ColumnType<"string?">
  /** Tyre life, laps. */
  readonly life?: ColumnType<"number?">
  readonly pos?: ColumnType<"number?">
  /** Track status codes. */
  readonly status?: ColumnType<"scalar?">
  /** Personal best. */
  readonly pb?: ColumnType<"boolean?">
  /** Session time at lap end, seconds. */
  readonly sesT?: ColumnType<"number?">
  /** Driver abbreviation. */
  readonly drv?: ColumnType<"string?">
  /** Driver number. */
  readonly dNum?: ColumnType<"scalar?">
  /** Pit out / pit in session times, seconds. */
  readonly pout?: ColumnType<"number?">
  readonly pin?: ColumnType<"number?">
  readonly s1T?: ColumnType<"number?">
  readonly s2T?: ColumnType<"number?">
  readonly s3T?: ColumnType<"number?">
  /** Speed traps, km/h. */
  readonly vi1?: ColumnType<"number?">
  readonly vi2?: ColumnType<"number?">
  readonly vfl?: ColumnType<"number?">
  readonly vst?: ColumnType<"number?">
  readonly fresh?: ColumnType<"boolean?">
  readonly team?: ColumnType<"string?">
  /** Lap start time (session seconds) and date (ISO string). */
  readonly lST?: ColumnType<"number?">
  readonly lSD?: ColumnType<"string?">
  /** Deleted, and why. */
  readonly del?: ColumnType<"boolean?">
  readonly delR?: ColumnType<"string?">
  readonly ff1G?: ColumnType<"boolean?">
  readonly iacc?: ColumnType<"boolean?">
  /** Weather at the lap (see `Weather`). */
  readonly wT?: ColumnType<"number?">
  readonly wAT?: ColumnType<"number?">
  readonly wH?: ColumnType<"number?">
  readonly wP?: ColumnType<"number?">
  readonly wR?: ColumnType<"boolean?">
  readonly wTT?: ColumnType<"number?">
  readonly wWD?: ColumnType<"number?">
  readonly wWS?: ColumnType<"number?">
  /** Qualifying segment. */
  readonly qs?: ColumnType<"scalar?">
  readonly [extra: string]: unknown
}

const optionalColumns = {
  stint: "number?",
  s1: "number?",
  s2: "number?",
  s3: "number?",
  ms1: "string?",
  ms2: "string?",
  ms3: "string?",
  life: "number?",
  pos: "number?",
  status: "scalar?",
  pb: "boolean?",
  sesT: "number?",
  drv: "string?",
  dNum: "scalar?",
  pout: "number?",
  pin: "number?",
  s1T: "number?",
  s2T: "number?",
  s3T: "number?",
  vi1: "number?",
  vi2: "number?",
  vfl: "number?",
  vst: "number?",
  fresh: "boolean?",
  team: "string?",
  lST: "number?",
  lSD: "string?",
  del: "boolean?",
  delR: "string?",
  ff1G: "boolean?",
  iacc: "boolean?",
  wT: "number?",
  wAT: "number?",
  wH: "number?",
  wP: "number?",
  wR: "boolean?",
  wTT: "number?",
  wWD: "number?",
  wWS: "number?",
  qs: "scalar?"
} as const

const spec: TableSpec = {
  name: "lap table",
  columns: { time: "number?", lap: "number", compound: "string?", ...optionalColumns },
  optional: Object.keys(optionalColumns)
}

/**
 * Decode a parsed lap table.
 *
 * @since 0.1.0
 */
export const decodeLapTimes = (input: unknown) => {
  const table = decodeTable(input, spec)
  return "error" in table ? table : { value: table.value as unknown as LapTimes }
}

/**
 * The lap-table schema.
 *
 * @since 0.1.0
 */
export const LapTimes = fastSchema("LapTimes", decodeLapTimes)

/**
 * Rows in a lap table.
 *
 * @since 0.1.0
 */
export const lapCount = (laps: LapTimes): number => laps.lap.length
