/**
 * Payload schemas for every published file kind, chosen by path, and the validation hook the
 * `Fetcher` calls.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type { Tif1ConfigValues } from "../Config.js"
import { isTelemetryPath } from "../DataRequest.js"
import { InvalidDataError } from "../Errors.js"
import { decodeCircuitMap } from "./CircuitMap.js"
import { decodeCorners } from "./Corners.js"
import { decodeDrivers } from "./Drivers.js"
import { decodeLapTimes } from "./LapTimes.js"
import { decodeRaceControl } from "./RaceControl.js"
import { decodeTelemetry } from "./Telemetry.js"
import { decodeWeather } from "./Weather.js"

export * from "./CircuitMap.js"
export * from "./columns.js"
export * from "./Corners.js"
export * from "./Drivers.js"
export * from "./LapTimes.js"
export * from "./RaceControl.js"
export * from "./Telemetry.js"
export * from "./Weather.js"

/**
 * Which payload a path holds.
 *
 * @since 0.1.0
 */
export type PayloadKind = "drivers" | "laptimes" | "telemetry" | "weather" | "rcm" | "corners" | "circuit-map" | "other"

/**
 * The payload kind of a session-relative path.
 *
 * @since 0.1.0
 */
export const payloadKind = (path: string): PayloadKind => {
  if (isTelemetryPath(path)) return "telemetry"
  const file = path.slice(path.lastIndexOf("/") + 1)
  switch (file) {
    case "drivers.json":
      return "drivers"
    case "laptimes.json":
    case "session_laptimes.json":
      return "laptimes"
    case "weather.json":
      return "weather"
    case "rcm.json":
      return "rcm"
    case "corners.json":
      return "corners"
    case "cor.json":
      return "circuit-map"
    default:
      return "other"
  }
}

const decoders: Record<Exclude<PayloadKind, "other">, (input: unknown) => { value: unknown } | { error: string }> = {
  drivers: decodeDrivers,
  laptimes: decodeLapTimes,
  telemetry: decodeTelemetry,
  weather: decodeWeather,
  rcm: decodeRaceControl,
  corners: decodeCorners,
  "circuit-map": decodeCircuitMap
}

/**
 * Decode a parsed file by its path, or fail with `InvalidDataError` naming the path and the
 * first offending column and index. Files of no known kind pass through.
 *
 * @since 0.1.0
 */
export const decodePayload = (path: string, input: unknown): Effect.Effect<unknown, InvalidDataError> => {
  const kind = payloadKind(path)
  if (kind === "other") return Effect.succeed(input)
  const result = decoders[kind](input)
  return "error" in result
    ? Effect.fail(new InvalidDataError({ path, reason: result.error }))
    : Effect.succeed(result.value)
}

/**
 * Validate a parsed file (the `Fetcher`'s hook): the same checks as `decodePayload`.
 *
 * @since 0.1.0
 */
export const validatePayload = (path: string, input: unknown): Effect.Effect<void, InvalidDataError> =>
  Effect.asVoid(decodePayload(path, input))

/**
 * Whether the config asks for validation of a path: `validate_data` for every file,
 * `validate_lap_times` for lap tables, `validate_telemetry` for telemetry.
 *
 * @since 0.1.0
 */
export const shouldValidate = (
  config: Pick<Tif1ConfigValues, "validateData" | "validateLapTimes" | "validateTelemetry">,
  path: string
): boolean => {
  if (config.validateData) return true
  const kind = payloadKind(path)
  return (kind === "laptimes" && config.validateLapTimes) || (kind === "telemetry" && config.validateTelemetry)
}
