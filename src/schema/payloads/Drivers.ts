/**
 * `drivers.json`: `{"drivers": [...]}`. New shape `{driver, team, dn, fn, ln, tc, url}`; old
 * shape `{driver, team}` only.
 *
 * @since 0.1.0
 */
import { fastSchema } from "./columns.js"

/**
 * One driver. Fields of the new shape are `undefined` in old files, `null` where the source
 * wrote `"None"`.
 *
 * @since 0.1.0
 */
export interface Driver {
  /** Three-letter abbreviation, e.g. `VER`. */
  readonly driver: string
  readonly team: string
  /** Car number, as published (a string). */
  readonly dn?: string | null
  /** First and last name. */
  readonly fn?: string | null
  readonly ln?: string | null
  /** Team colour, hex without `#`. */
  readonly tc?: string | null
  /** Headshot URL. */
  readonly url?: string | null
  readonly [extra: string]: unknown
}

/**
 * The driver list.
 *
 * @since 0.1.0
 */
export interface Drivers {
  readonly drivers: ReadonlyArray<Driver>
}

const optionalFields = ["dn", "fn", "ln", "tc", "url"] as const
const missing = new Set(["None", "none", "null", ""])

/**
 * Decode a parsed driver list.
 *
 * @since 0.1.0
 */
export const decodeDrivers = (input: unknown): { readonly value: Drivers } | { readonly error: string } => {
  const list = (input as { drivers?: unknown } | null)?.drivers
  if (!Array.isArray(list)) return { error: "drivers: missing array \"drivers\"" }
  const drivers: Array<Driver> = []
  for (let index = 0; index < list.length; index++) {
    const entry = list[index] as Record<string, unknown> | null
    if (entry === null || typeof entry !== "object") return { error: `drivers: index ${index} is not an object` }
    for (const field of ["driver", "team"]) {
      if (typeof entry[field] !== "string" || entry[field] === "") {
        return { error: `drivers: index ${index}: "${field}" must be a non-empty string` }
      }
    }
    const driver: Record<string, unknown> = { ...entry }
    for (const field of optionalFields) {
      const value = entry[field]
      if (value === undefined) continue
      if (value === null || (typeof value === "string" && missing.has(value))) driver[field] = null
      else if (typeof value === "number") driver[field] = String(value)
      else if (typeof value !== "string") return { error: `drivers: index ${index}: "${field}" must be a string` }
    }
    drivers.push(driver as Driver)
  }
  return { value: { ...(input as object), drivers } }
}

/**
 * The driver-list schema.
 *
 * @since 0.1.0
 */
export const Drivers = fastSchema("Drivers", decodeDrivers)
