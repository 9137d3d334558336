/**
 * The bodies of rows written before 0.2.0, read and never written: the JSON text of the file
 * (early 0.1 builds), or the V8 serialization (`node:v8`) of the parsed value, with every
 * all-number array as a `Float64Array` when the row says so (0.1.0). `RowCodec` has checked the row's size and checksum
 * and inflated it; what is left is turning the bytes into a value that holds JSON types only.
 *
 * @since 0.2.0
 */
import * as Result from "effect/Result"
import * as V8 from "node:v8"
import { markCodecColumns } from "../../schema/payloads/knownNumeric.js"
import { parseJsonBytes } from "../internal/json.js"

/** Why a deserialized value is not JSON: what was found and where. */
class NotJson {
  readonly path: Array<string> = []
  constructor(readonly found: string) {}
  get message(): string {
    return this.path.length === 0 ? `${this.found} at the top level` : `${this.found} at ${this.path.join(".")}`
  }
}

/** What a value that is not JSON is, for a person: "a BigInt", "a Map", "a Number object". */
const describeNonJson = (value: unknown): string => {
  if (value === undefined) return "undefined (or a hole)"
  if (typeof value !== "object") return `a ${typeof value === "bigint" ? "BigInt" : typeof value}`
  const tag = Object.prototype.toString.call(value).slice(8, -1)
  return ["Number", "String", "Boolean"].includes(tag) ? `a ${tag} object` : `a ${tag}`
}

/** The failure of a part of a value, named by its key in the part above. */
const atKey = (key: string, error: NotJson): NotJson => {
  error.path.unshift(key)
  return error
}

/**
 * A value being restored: the objects met so far, and the packed columns turned into arrays
 * (`undefined` when the row has none: a `Float64Array` is then not JSON).
 */
interface Restoring {
  readonly seen: Set<object>
  readonly columns: Array<ReadonlyArray<number>> | undefined
}

/** `restoreJson` on an element or property, naming it when it is not JSON. */
const within = (key: string, item: object, restoring: Restoring): unknown => {
  try {
    return restoreJson(item, restoring)
  } catch (error) {
    throw error instanceof NotJson ? atKey(key, error) : error
  }
}

/**
 * A freshly deserialized value checked to hold JSON types only, in place: strings, numbers,
 * booleans, null, arrays and plain objects (V8 also reads back `BigInt`, `Date`, `Map`, `Set`,
 * `RegExp`, errors, wrappers, typed arrays, `undefined` and holes, none of which JSON has).
 * Where the row has packed columns (encoding bit 2), a `Float64Array` is one: it becomes the array
 * of numbers it was, kept in `restoring.columns`.
 * Every object is met once (`seen`): V8 keeps references, so a few bytes can name one object a
 * thousand times (or itself), which JSON cannot, and walking or copying each would multiply the
 * work and memory past any bound on the row's size.
 * Arrays are iterated, never read by index (see `columns.ts`); an element is written back only
 * when it was a packed column.
 */
const restoreJson = (value: unknown, restoring: Restoring): unknown => {
  if (typeof value !== "object") {
    if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") return value
    throw new NotJson(describeNonJson(value))
  }
  if (value === null) return value
  if (restoring.seen.has(value)) throw new NotJson("a second reference to one object")
  restoring.seen.add(value)
  const prototype = Object.getPrototypeOf(value)
  if (prototype === Array.prototype) {
    const array = value as Array<unknown>
    let index = 0
    for (const item of array) {
      if (typeof item === "object" && item !== null) {
        const restored = within(String(index), item, restoring)
        if (restored !== item) array[index] = restored
      } else if (typeof item !== "string" && typeof item !== "number" && typeof item !== "boolean" && item !== null) {
        throw atKey(String(index), new NotJson(describeNonJson(item)))
      }
      index++
    }
    return value
  }
  if (prototype === Object.prototype) {
    const container = value as Record<string, unknown>
    for (const key in container) {
      const item = container[key]
      if (typeof item === "object" && item !== null) {
        const restored = within(key, item, restoring)
        if (restored !== item) container[key] = restored
      } else if (typeof item !== "string" && typeof item !== "number" && typeof item !== "boolean" && item !== null) {
        throw atKey(key, new NotJson(describeNonJson(item)))
      }
    }
    return value
  }
  if (restoring.columns !== undefined && prototype === Float64Array.prototype) {
    const packed = value as Float64Array
    const column = new Array<number>(packed.length)
    for (let index = 0; index < packed.length; index++) column[index] = packed[index]!
    restoring.columns.push(column)
    return column
  }
  throw new NotJson(describeNonJson(value))
}

/**
 * A legacy body (inflated, its checksum checked) as a value: JSON text when `v8` is false, else
 * V8's serialization checked to hold JSON types only (`numericColumns`: its `Float64Array`s are
 * packed columns).
 *
 * @since 0.2.0
 */
export const decodeLegacyBody = (
  body: Uint8Array,
  v8: boolean,
  numericColumns: boolean
): Result.Result<unknown, string> => {
  if (!v8) return Result.succeed(parseJsonBytes(body).value)
  let value: unknown
  try {
    value = V8.deserialize(body)
  } catch {
    return Result.fail("written by a Node whose serialization this one cannot read")
  }
  try {
    const restoring: Restoring = { seen: new Set(), columns: numericColumns ? [] : undefined }
    const restored = restoreJson(value, restoring)
    // Only a value that is an object has columns: it is what the cache keeps.
    if (restoring.columns !== undefined && typeof restored === "object" && restored !== null) {
      markCodecColumns(restored, restoring.columns)
    }
    return Result.succeed(restored)
  } catch (error) {
    return Result.fail(`not JSON: ${error instanceof NotJson ? error.message : "nested too deeply to read"}`)
  }
}
