/**
 * Column tables as TracingInsights publishes them: one JSON object of equal-length arrays. A
 * decoder checks each column in one pass and copies it only when a value must change (`"None"`
 * to `null`, `0`/`1` to a boolean), so decoding costs little next to `JSON.parse`.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import { knownZeroOneAsBooleans, takeKnownNumeric } from "./knownNumeric.js"

/**
 * How one column's values decode. A trailing `?` allows missing values: `null` and the strings
 * `"None"`, `"null"`, `"nan"`, `"NaN"` and `""` decode to `null`. `scalar` is any string, number
 * or boolean.
 *
 * @since 0.1.0
 */
export type ColumnKind =
  | "number"
  | "number?"
  | "boolean"
  | "boolean?"
  | "string"
  | "string?"
  | "scalar?"

/**
 * The TypeScript type of a column of a kind.
 *
 * @since 0.1.0
 */
export type ColumnType<K extends ColumnKind> = K extends "number" ? ReadonlyArray<number>
  : K extends "number?" ? ReadonlyArray<number | null>
  : K extends "boolean" ? ReadonlyArray<boolean>
  : K extends "boolean?" ? ReadonlyArray<boolean | null>
  : K extends "string" ? ReadonlyArray<string>
  : K extends "string?" ? ReadonlyArray<string | null>
  : ReadonlyArray<string | number | boolean | null>

const missingWords = new Set(["None", "none", "null", "nan", "NaN", ""])
const isMissing = (value: unknown) => value === null || (typeof value === "string" && missingWords.has(value))

const noChange = Symbol("noChange")
const invalid = Symbol("invalid")
type Converted = unknown | typeof noChange | typeof invalid

/** Converts one value: `noChange` when it is already right, `invalid` when it cannot be. */
const converters: Record<ColumnKind, (value: unknown) => Converted> = {
  "number": (value) => (typeof value === "number" ? noChange : invalid),
  "number?": (value) => (typeof value === "number" || value === null ? noChange : isMissing(value) ? null : invalid),
  "boolean": (value) => (typeof value === "boolean" ? noChange : value === 0 || value === 1 ? value === 1 : invalid),
  "boolean?": (value) =>
    typeof value === "boolean" || value === null
      ? noChange
      : value === 0 || value === 1
      ? value === 1
      : isMissing(value)
      ? null
      : invalid,
  "string": (value) => (typeof value === "string" ? noChange : invalid),
  "string?": (
    value
  ) => (value === null ? noChange : isMissing(value) ? null : typeof value === "string" ? noChange : invalid),
  "scalar?": (value) =>
    value === null
      ? noChange
      : isMissing(value)
      ? null
      : ["string", "number", "boolean"].includes(typeof value)
      ? noChange
      : invalid
}

const expected: Record<ColumnKind, string> = {
  "number": "a number",
  "number?": "a number or a missing value",
  "boolean": "a boolean or 0/1",
  "boolean?": "a boolean, 0/1 or a missing value",
  "string": "a string",
  "string?": "a string or a missing value",
  "scalar?": "a string, number, boolean or missing value"
}

/**
 * A short rendering of a bad value for an error message (at most 40 characters of its JSON).
 *
 * @since 0.2.0
 */
export const showValue = (value: unknown): string => {
  const text = JSON.stringify(value) ?? String(value)
  return text.length > 40 ? `${text.slice(0, 40)}...` : text
}

/**
 * A column of 0/1 numbers (how the CDN writes `brake` and `drs`) as booleans, or `undefined` when
 * some value is anything else. One tight loop into a fresh array: the general path hands every
 * value to a converter (boxing each double of a double array on the way) and writes booleans into
 * a copy of the number array (which V8 then converts to a generic one): 130 MB of garbage in a warm
 * session load. Columns the row codec built take `knownZeroOneAsBooleans` instead.
 */
const zeroOneAsBooleans = (values: ReadonlyArray<unknown>): Array<boolean> | undefined => {
  const booleans = new Array<boolean>(values.length)
  let index = 0
  for (const value of values) {
    if (value === 1) booleans[index++] = true
    else if (value === 0) booleans[index++] = false
    else return undefined
  }
  return booleans
}

/**
 * Whether every value already has the column's type (the common case), checked in one tight
 * loop before the general per-value conversion. One function literal per kind, not one taking
 * the kind: each keeps its own V8 feedback, so the loop over number columns sees only number
 * arrays and stays fast (a third of the time of a shared loop over every kind of column).
 * `"string?"` and `"scalar?"` have none: their strings may be missing words (`"None"`).
 *
 * The loops iterate (`for...of`) instead of reading `values[index]`: once V8 optimizes an
 * indexed read that has seen both arrays of doubles and generic arrays, it converts the double
 * arrays it reads to generic ones, boxing every number (three times the memory, and the page
 * faults and garbage collection that come with it). Iteration never converts.
 */
const alreadyTyped: Partial<Record<ColumnKind, (values: ReadonlyArray<unknown>) => boolean>> = {
  "number": (values) => {
    for (const value of values) if (typeof value !== "number") return false
    return true
  },
  "number?": (values) => {
    for (const value of values) if (typeof value !== "number" && value !== null) return false
    return true
  },
  "boolean": (values) => {
    for (const value of values) if (typeof value !== "boolean") return false
    return true
  },
  "boolean?": (values) => {
    for (const value of values) if (typeof value !== "boolean" && value !== null) return false
    return true
  },
  "string": (values) => {
    for (const value of values) if (typeof value !== "string") return false
    return true
  }
}

/**
 * Decode one column: the same array when nothing changes, a copy when something does, or a
 * message naming the first bad index.
 *
 * @since 0.1.0
 */
export const decodeColumn = (
  name: string,
  values: ReadonlyArray<unknown>,
  kind: ColumnKind
): { readonly values: ReadonlyArray<unknown> } | { readonly error: string } => {
  // A column the row codec built holds numbers by construction, until a caller has it (knownNumeric.ts).
  if ((kind === "number" || kind === "number?") && takeKnownNumeric(values)) return { values }
  if (alreadyTyped[kind]?.(values) === true) return { values }
  if (kind === "boolean" || kind === "boolean?") {
    const booleans = knownZeroOneAsBooleans(values) ?? zeroOneAsBooleans(values)
    if (booleans !== undefined) return { values: booleans }
  }
  const convert = converters[kind]
  let copy: Array<unknown> | undefined
  let index = 0
  for (const value of values) {
    const converted = convert(value)
    if (converted === invalid) {
      return { error: `column "${name}" index ${index}: expected ${expected[kind]}, got ${showValue(value)}` }
    }
    if (converted !== noChange) (copy ??= values.slice())[index] = converted
    index++
  }
  return { values: copy ?? values }
}

/**
 * A table: its columns (required unless listed in `optional`) and scalar (non-column) fields.
 *
 * @since 0.1.0
 */
export interface TableSpec {
  readonly name: string
  readonly columns: Readonly<Record<string, ColumnKind>>
  readonly optional?: ReadonlyArray<string>
  /** Non-column fields; a trailing `?` makes one optional. */
  readonly scalars?: Readonly<Record<string, "string" | "number" | "string?" | "number?">>
}

/** A table spec as `decodeTable` walks it: its entries listed once, not on every call. */
interface CompiledSpec {
  readonly columns: ReadonlyArray<readonly [string, ColumnKind]>
  readonly optional: ReadonlySet<string>
  readonly scalars: ReadonlyArray<readonly [string, "string" | "number", boolean]>
}

/**
 * Compiled specs, by spec. The payload modules keep theirs as constants, so a warm session load
 * (a thousand telemetry files) compiles the telemetry spec once rather than listing its entries
 * and building its set of optional columns for every file.
 */
const compiledSpecs = new WeakMap<TableSpec, CompiledSpec>()

const compile = (spec: TableSpec): CompiledSpec => {
  let compiled = compiledSpecs.get(spec)
  if (compiled === undefined) {
    compiled = {
      columns: Object.entries(spec.columns),
      optional: new Set(spec.optional ?? []),
      scalars: Object.entries(spec.scalars ?? {}).map(([name, kind]) => [
        name,
        kind.replace("?", "") as "string" | "number",
        kind.endsWith("?")
      ])
    }
    compiledSpecs.set(spec, compiled)
  }
  return compiled
}

/**
 * Decode a column table. Unknown extra columns are kept (new channels must not vanish) and
 * length-checked like the others.
 *
 * @since 0.1.0
 */
export const decodeTable = (
  input: unknown,
  spec: TableSpec
): { readonly value: Record<string, unknown> } | { readonly error: string } => {
  if (input === null || typeof input !== "object" || Array.isArray(input)) {
    return { error: `${spec.name}: expected an object of columns` }
  }
  const source = input as Record<string, unknown>
  const { columns, optional, scalars } = compile(spec)
  const output: Record<string, unknown> = {}
  let length: number | undefined
  let lengthColumn = ""
  const checkLength = (name: string, values: ReadonlyArray<unknown>) => {
    if (length === undefined) {
      length = values.length
      lengthColumn = name
      return undefined
    }
    return values.length === length
      ? undefined
      : `${spec.name}: columns differ in length: "${lengthColumn}" has ${length}, "${name}" has ${values.length}`
  }
  for (const [name, kind] of columns) {
    const values = source[name]
    if (values === undefined) {
      if (optional.has(name)) continue
      return { error: `${spec.name}: missing column "${name}"` }
    }
    if (!Array.isArray(values)) return { error: `${spec.name}: column "${name}" is not an array` }
    const lengthError = checkLength(name, values)
    if (lengthError !== undefined) return { error: lengthError }
    const decoded = decodeColumn(name, values, kind)
    if ("error" in decoded) return { error: `${spec.name}: ${decoded.error}` }
    output[name] = decoded.values
  }
  for (const [name, type, optionalScalar] of scalars) {
    const value = source[name]
    if (value === undefined && optionalScalar) continue
    if (typeof value !== type) {
      return { error: `${spec.name}: field "${name}" must be a ${type}, got ${showValue(value)}` }
    }
    output[name] = value
  }
  for (const name in source) {
    // Own keys only: `in` would also see `Object.prototype`'s (a column named "constructor").
    if (Object.hasOwn(output, name) || Object.hasOwn(spec.columns, name)) continue
    const value = source[name]
    if (Array.isArray(value)) {
      const lengthError = checkLength(name, value)
      if (lengthError !== undefined) return { error: lengthError }
    }
    // A `__proto__` key is data: defined, not assigned (which would set the output's prototype).
    if (name === "__proto__") Object.defineProperty(output, name, { value, enumerable: true, writable: true })
    else output[name] = value
  }
  return { value: output }
}

/**
 * An Effect Schema (from unknown JSON to `A`) around a fast decoder. A value it rejects fails
 * with an `InvalidValue` issue whose message is the decoder's.
 *
 * @since 0.1.0
 */
export const fastSchema = <A>(
  identifier: string,
  decode: (input: unknown) => { readonly value: A } | { readonly error: string }
): Schema.Codec<A, unknown> =>
  Schema.declareConstructor<A, unknown>()([], () => (input, _ast, options) => {
    const result = decode(input)
    return "error" in result
      ? Effect.fail(new SchemaIssue.InvalidValue({ message: result.error }, input, options))
      : Effect.succeed(result.value)
  }, { identifier })
