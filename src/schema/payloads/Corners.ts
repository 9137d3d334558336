/**
 * `corners.json`: the circuit's corners, as columns, plus the map `Rotation`.
 *
 * @since 0.1.0
 */
import { type ColumnType, decodeTable, fastSchema } from "./columns.js"

/**
 * Corners.
 *
 * @since 0.1.0
 */
export interface Corners {
  readonly CornerNumber: ColumnType<"number">
  readonly X: ColumnType<"number">
  readonly Y: ColumnType<"number">
  readonly Angle: ColumnType<"number">
  /** Metres from the start line. */
  readonly Distance: ColumnType<"number">
  /** Map rotation in degrees: a scalar, not a column (absent from some files). */
  readonly Rotation?: number
  readonly [extra: string]: unknown
}

/**
 * Decode parsed corners.
 *
 * @since 0.1.0
 */
export const decodeCorners = (input: unknown) => {
  const table = decodeTable(input, {
    name: "corners",
    columns: { CornerNumber: "number", X: "number", Y: "number", Angle: "number", Distance: "number" },
    scalars: { Rotation: "number?" }
  })
  return "error" in table ? table : { value: table.value as unknown as Corners }
}

/**
 * The corners schema.
 *
 * @since 0.1.0
 */
export const Corners = fastSchema("Corners", decodeCorners)
