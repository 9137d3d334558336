/**
 * `{DRV}/{lap}_tel.json`: one lap's car data under `tel`, about 900 samples per channel.
 *
 * @since 0.1.0
 */
import { type ColumnType, decodeTable, fastSchema, type TableSpec } from "./columns.js"

/**
 * The channels. `brake` and `drs` are published as 0/1 and decode to booleans. 2026 files add
 * `DriverAhead` and `DistanceToDriverAhead`; any other new channel is kept as it is.
 *
 * @since 0.1.0
 */
export interface TelemetryChannels {
  /** Seconds since the lap started. */
  readonly time: ColumnType<"number">
  readonly rpm: ColumnType<"number">
  /** km/h. */
  readonly speed: ColumnType<"number">
  readonly gear: ColumnType<"number">
  /** Percent. */
  readonly throttle: ColumnType<"number">
  readonly brake: ColumnType<"boolean">
  readonly drs: ColumnType<"boolean">
  /** Metres since the lap started. */
  readonly distance: ColumnType<"number">
  /** Fraction of the lap, 0..1. */
  readonly rel_distance: ColumnType<"number">
  readonly acc_x: ColumnType<"number">
  readonly acc_y: ColumnType<"number">
  readonly acc_z: ColumnType<"number">
  readonly x: ColumnType<"number">
  readonly y: ColumnType<"number">
  readonly z: ColumnType<"number">
  /** Driver ahead (2026 on). */
  readonly DriverAhead?: ColumnType<"string?">
  /** Metres to the driver ahead (2026 on). */
  readonly DistanceToDriverAhead?: ColumnType<"number?">
  /** `"{year}-{Event}-{Session}-{DRV}-{lap}"`: a scalar, not a column. */
  readonly dataKey: string
  readonly [extra: string]: unknown
}

/**
 * A telemetry file.
 *
 * @since 0.1.0
 */
export interface Telemetry {
  readonly tel: TelemetryChannels
}

const spec: TableSpec = {
  name: "telemetry",
  columns: {
    time: "number",
    rpm: "number",
    speed: "number",
    gear: "number",
    throttle: "number",
    brake: "boolean",
    drs: "boolean",
    distance: "number",
    rel_distance: "number",
    acc_x: "number",
    acc_y: "number",
    acc_z: "number",
    x: "number",
    y: "number",
    z: "number",
    DriverAhead: "string?",
    DistanceToDriverAhead: "number?"
  },
  optional: ["DriverAhead", "DistanceToDriverAhead"],
  scalars: { dataKey: "string" }
}

/**
 * Decode a parsed telemetry file.
 *
 * @since 0.1.0
 */
export const decodeTelemetry = (input: unknown): { readonly value: Telemetry } | { readonly error: string } => {
  if (input === null || typeof input !== "object" || !("tel" in input)) return { error: "telemetry: missing \"tel\"" }
  const table = decodeTable((input as { tel: unknown }).tel, spec)
  return "error" in table
    ? table
    : { value: { ...(input as object), tel: table.value as unknown as TelemetryChannels } }
}

/**
 * The telemetry schema (unknown JSON to `Telemetry`).
 *
 * @since 0.1.0
 */
export const Telemetry = fastSchema("Telemetry", decodeTelemetry)
