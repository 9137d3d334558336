/**
 * `cor.json` (2026 on): the circuit map as objects, not columns: corners, marshal lights and
 * marshal sectors, each a list of `{ X, Y, Number, Letter, Angle, Distance }`, plus the map
 * `rotation` (lower case, unlike `corners.json`'s `Rotation`).
 *
 * @since 0.2.0
 */
import { fastSchema, showValue } from "./columns.js"

/**
 * One corner, marshal light or marshal sector.
 *
 * @since 0.2.0
 */
export interface CircuitMarker {
  readonly X: number
  readonly Y: number
  readonly Number: number
  /** A suffix such as `"a"` for corners numbered twice; `""` when there is none. */
  readonly Letter: string
  /** Degrees. */
  readonly Angle: number
  /** Metres from the start line. */
  readonly Distance: number
  readonly [extra: string]: unknown
}

/**
 * A `cor.json` file.
 *
 * @since 0.2.0
 */
export interface CircuitMap {
  readonly corners: ReadonlyArray<CircuitMarker>
  readonly marshal_lights: ReadonlyArray<CircuitMarker>
  readonly marshal_sectors: ReadonlyArray<CircuitMarker>
  /** Map rotation in degrees. */
  readonly rotation: number
  readonly [extra: string]: unknown
}

const markerFields = {
  X: "number",
  Y: "number",
  Number: "number",
  Letter: "string",
  Angle: "number",
  Distance: "number"
}
const markerLists = ["corners", "marshal_lights", "marshal_sectors"] as const

const checkMarkers = (list: string, values: unknown): string | undefined => {
  if (!Array.isArray(values)) return `circuit map: "${list}" is not an array`
  for (let index = 0; index < values.length; index++) {
    const marker: unknown = values[index]
    if (marker === null || typeof marker !== "object" || Array.isArray(marker)) {
      return `circuit map: ${list}[${index}]: expected an object, got ${showValue(marker)}`
    }
    for (const [field, type] of Object.entries(markerFields)) {
      const value = (marker as Record<string, unknown>)[field]
      if (typeof value !== type) {
        return `circuit map: ${list}[${index}].${field}: expected a ${type}, got ${showValue(value)}`
      }
    }
  }
  return undefined
}

/**
 * Decode a parsed `cor.json`: the same object when every field has its type (nothing is copied),
 * or a message naming the list, the index and the field.
 *
 * @since 0.2.0
 */
export const decodeCircuitMap = (input: unknown): { readonly value: CircuitMap } | { readonly error: string } => {
  if (input === null || typeof input !== "object" || Array.isArray(input)) {
    return { error: "circuit map: expected an object" }
  }
  const source = input as Record<string, unknown>
  for (const list of markerLists) {
    const error = checkMarkers(list, source[list])
    if (error !== undefined) return { error }
  }
  if (typeof source.rotation !== "number") {
    return { error: `circuit map: field "rotation" must be a number, got ${showValue(source.rotation)}` }
  }
  return { value: source as CircuitMap }
}

/**
 * The `cor.json` schema (unknown JSON to `CircuitMap`).
 *
 * @since 0.2.0
 */
export const CircuitMap = fastSchema("CircuitMap", decodeCircuitMap)
