/**
 * `weather.json`: one sample a minute, as columns.
 *
 * @since 0.1.0
 */
import { type ColumnType, decodeTable, fastSchema } from "./columns.js"

/**
 * Weather samples.
 *
 * @since 0.1.0
 */
export interface Weather {
  /** Session time, seconds. */
  readonly wT: ColumnType<"number?">
  /** Air temperature, deg C. */
  readonly wAT: ColumnType<"number?">
  /** Humidity, percent. */
  readonly wH: ColumnType<"number?">
  /** Pressure, mbar. */
  readonly wP: ColumnType<"number?">
  /** Rainfall. */
  readonly wR: ColumnType<"boolean?">
  /** Track temperature, deg C. */
  readonly wTT: ColumnType<"number?">
  /** Wind direction, degrees. */
  readonly wWD: ColumnType<"number?">
  /** Wind speed, m/s. */
  readonly wWS: ColumnType<"number?">
  readonly [extra: string]: unknown
}

/**
 * Decode parsed weather.
 *
 * @since 0.1.0
 */
export const decodeWeather = (input: unknown) => {
  const table = decodeTable(input, {
    name: "weather",
    columns: {
      wT: "number?",
      wAT: "number?",
      wH: "number?",
      wP: "number?",
      wR: "boolean?",
      wTT: "number?",
      wWD: "number?",
      wWS: "number?"
    }
  })
  return "error" in table ? table : { value: table.value as unknown as Weather }
}

/**
 * The weather schema.
 *
 * @since 0.1.0
 */
export const Weather = fastSchema("Weather", decodeWeather)
