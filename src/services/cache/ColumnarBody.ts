/**
 * The body of a row from 0.2.0 on: a value's numeric columns as contiguous little-endian typed bytes,
 * and the rest of the value as JSON text. A warm load reads each column through a typed-array view
 * of the bytes SQLite handed over: no V8 deserialization of numbers, nothing to check in them (they
 * are numbers by construction), then one tight copy into the array the caller gets (or none, for
 * `"float64"` columns).
 *
 * A body, every integer little-endian:
 *
 * | bytes | field |
 * |---|---|
 * | 1 | format version (1) |
 * | 1 | codec of the text section: 0 none, 1 deflate (zlib format) |
 * | 1 | codec of the column section: 0 none, 1 deflate (zlib format) |
 * | 1 | 0 |
 * | 4 | number of columns, n |
 * | 4 + 4 | text section: stored bytes, decoded bytes |
 * | 4 + 4 | column section: stored bytes, decoded bytes |
 * | 8 n | a column each: storage type (1 f64, 2 i32, 3 i16, 4 u8), 3 zero bytes, its number of values |
 * | | the text section |
 * | 0-7 | zero bytes, so the column section starts at a multiple of 8 |
 * | | the column section: each column at a multiple of 8 from its start, in the order above |
 *
 * The text is the UTF-8 JSON of `[value, paths]`: `value` with `null` where each column was, and
 * `paths[i]` the keys and indexes that lead to column i (`["tel", "speed"]`). Keys keep their
 * order, so a value reads back as the JSON text it came from. A column is an array of at least
 * `minColumnLength` numbers, stored in the narrowest type that holds every value exactly (`gear`,
 * `brake` and `drs` as bytes, the rest of a telemetry file as doubles); NaN is refused (JSON has
 * none), infinities are kept (`1e999` in the text, the value itself in a column).
 *
 * What is compressed was chosen by measurement (2026-12-06, 2 cores, Node 24; `bench/README.md`):
 * - Columns: none. The doubles of real telemetry compress only to 58% (zstd level 1 or deflate
 *   level 1; 48-64% for time, rpm, speed, x, y, z, 92-97% for distance and the accelerations), and
 *   decompressing them is what a warm load would spend its time on: 1,023 files from SQLite took
 *   235-260 ms uncompressed, 450-490 ms with zstd, 560-590 ms with deflate, for 96 MB on disk
 *   against 68 MB. Integer columns stored as bytes are most of what compression found anyway.
 * - Text: deflate level 6 at or above `compressAboveBytes`, when it saves an eighth (lap tables,
 *   race control; a telemetry file's text is under 4 KB). For texts of 5 KB to 100 KB it was the
 *   smallest and the fastest to decode of deflate, zstd and brotli, except for the largest (zstd
 *   103 µs against 120 µs); zstd's decompressor costs about 25 µs a call before any byte.
 *
 * Decoding is bounded by the row's stated size (checked by `RowCodec` against
 * `max_response_bytes` first): every length in the header must add up to it before anything is
 * decompressed, and each section inflates to at most its stated length. The text is parsed by
 * `JSON.parse`, so it holds JSON types only; a path must end at a `null` its column replaced
 * (damage, or a forged row, fails the row). Rows are CRC-32 checked by `RowCodec` over the header,
 * the decoded text and the column bytes.
 *
 * @since 0.2.0
 */
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Zlib from "node:zlib"
import { markCodecColumns } from "../../schema/payloads/knownNumeric.js"
import type { JsonObject } from "./CacheStore.js"

/**
 * Text sections at or above this size are compressed (deflate), when that saves an eighth.
 *
 * @since 0.1.0
 */
export const compressAboveBytes = 4096

/**
 * Arrays shorter than this stay in the text: a column's entry and alignment cost more than the
 * numbers would as text.
 *
 * @since 0.2.0
 */
export const minColumnLength = 8

/**
 * How a decoded value holds its numeric columns: `"arrays"`, arrays of numbers (what JSON gives);
 * `"float64"`, `Float64Array`s over the stored bytes.
 *
 * @since 0.2.0
 */
export type ColumnRepresentation = "arrays" | "float64"

const formatVersion = 1
const headerBytes = 24
const columnEntryBytes = 8
const codecNone = 0
const codecDeflate = 1

/** The storage types, by their code in a column entry. */
const typeF64 = 1
const typeI32 = 2
const typeI16 = 3
const typeU8 = 4
const widthOf: Readonly<Record<number, number>> = { [typeF64]: 8, [typeI32]: 4, [typeI16]: 2, [typeU8]: 1 }

/** Bytes a column takes in the column section: its values, padded to a multiple of 8. */
const paddedBytes = (length: number, type: number) => Math.ceil((length * widthOf[type]!) / 8) * 8

/** Zero bytes that bring `offset` to a multiple of 8. */
const paddingAfter = (offset: number) => (8 - (offset % 8)) % 8

/**
 * How columns are written and read: through typed arrays, which use the host's byte order (little
 * endian on every platform Node ships binaries for but s390x), or through a `DataView`, value by
 * value in little-endian order, on a big-endian host. Tests pass `"data-view"` to run that path here.
 *
 * @since 0.2.0
 */
export type ByteOrder = "typed-arrays" | "data-view"

const hostByteOrder: ByteOrder = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? "typed-arrays" : "data-view"

// ---------------------------------------------------------------------------------------------
// Encoding

/** The narrowest type that holds every value of a column exactly (-0 only as a double). */
const storageType = (column: ReadonlyArray<number>): number => {
  let min = 0
  let max = 0
  // Iterated, not indexed: an indexed loop would box the caller's double arrays (`columns.ts`).
  for (const value of column) {
    if (!Number.isInteger(value) || Object.is(value, -0)) return typeF64
    if (value < min) min = value
    else if (value > max) max = value
  }
  return min >= 0 && max <= 0xff
    ? typeU8
    : min >= -0x8000 && max <= 0x7fff
    ? typeI16
    : min >= -0x80000000 && max <= 0x7fffffff
    ? typeI32
    : typeF64
}

/** Whether an array is a column: long enough, and numbers only (NaN is not JSON). */
const isColumn = (value: ReadonlyArray<unknown>): boolean => {
  if (value.length < minColumnLength) return false
  // NaN is left to the text, which refuses it: JSON has none, and a column would keep it.
  for (const item of value) if (typeof item !== "number" || Number.isNaN(item)) return false
  return true
}

/** Why a value cannot be stored: what was found and where. */
class NotStorable extends Error {}

/** A number as JSON text; infinities as `1e999` (which `JSON.parse` reads back), NaN refused. */
const numberText = (value: number, path: ReadonlyArray<string | number>): string => {
  if (Number.isFinite(value)) return Object.is(value, -0) ? "-0" : String(value)
  if (Number.isNaN(value)) throw new NotStorable(`NaN at ${path.join(".") || "the top level"} (JSON has none)`)
  return value > 0 ? "1e999" : "-1e999"
}

/**
 * An array none of whose items needs the walk (strings, booleans, nulls, finite numbers): one
 * `JSON.stringify` call writes it.
 */
const isFlat = (values: ReadonlyArray<unknown>): boolean => {
  for (const item of values) {
    if (item === null || typeof item === "string" || typeof item === "boolean") continue
    if (typeof item !== "number" || !Number.isFinite(item)) return false
  }
  return true
}

/** A value split into its text (columns replaced by their numbers) and its columns, with their paths. */
interface Split {
  readonly parts: Array<string>
  readonly columns: Array<ReadonlyArray<number>>
  readonly paths: Array<ReadonlyArray<string | number>>
}

/** Write `value` into `split`, at `path` (the path array is reused: copied only for a column). */
const splitValue = (value: unknown, path: Array<string | number>, split: Split): void => {
  if (value === null || typeof value === "boolean") {
    split.parts.push(String(value))
  } else if (typeof value === "string") {
    split.parts.push(JSON.stringify(value))
  } else if (typeof value === "number") {
    split.parts.push(numberText(value, path))
  } else if (Array.isArray(value)) {
    if (isColumn(value)) {
      split.parts.push("null")
      split.columns.push(value as ReadonlyArray<number>)
      split.paths.push([...path])
    } else if (isFlat(value)) {
      split.parts.push(JSON.stringify(value))
    } else {
      split.parts.push("[")
      let index = 0
      for (const item of value) {
        if (index > 0) split.parts.push(",")
        path.push(index)
        splitValue(item, path, split)
        path.pop()
        index++
      }
      split.parts.push("]")
    }
  } else if (typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    split.parts.push("{")
    let first = true
    for (const key in value) {
      if (!first) split.parts.push(",")
      first = false
      split.parts.push(JSON.stringify(key), ":")
      path.push(key)
      splitValue((value as Record<string, unknown>)[key], path, split)
      path.pop()
    }
    split.parts.push("}")
  } else {
    const found = value === undefined
      ? "undefined"
      : typeof value === "object"
      ? `a ${Object.prototype.toString.call(value).slice(8, -1)}`
      : `a ${typeof value === "bigint" ? "BigInt" : typeof value}`
    throw new NotStorable(`${found} at ${path.join(".") || "the top level"} (not JSON)`)
  }
}

/** The column section: every column in its storage type, each at a multiple of 8. */
const columnSection = (
  columns: ReadonlyArray<ReadonlyArray<number>>,
  types: ReadonlyArray<number>,
  byteOrder: ByteOrder
): Uint8Array => {
  let total = 0
  for (let index = 0; index < columns.length; index++) total += paddedBytes(columns[index]!.length, types[index]!)
  const section = new Uint8Array(total)
  let offset = 0
  for (let index = 0; index < columns.length; index++) {
    const column = columns[index]!
    const type = types[index]!
    // `set` converts in native code (exact: the type was chosen to hold every value).
    if (byteOrder === "typed-arrays") {
      const View = type === typeF64
        ? Float64Array
        : type === typeI32
        ? Int32Array
        : type === typeI16
        ? Int16Array
        : Uint8Array
      new View(section.buffer, offset, column.length).set(column)
    } else {
      const view = new DataView(section.buffer, offset)
      let at = 0
      for (const value of column) {
        if (type === typeF64) view.setFloat64(at * 8, value, true)
        else if (type === typeI32) view.setInt32(at * 4, value, true)
        else if (type === typeI16) view.setInt16(at * 2, value, true)
        else view.setUint8(at, value)
        at++
      }
    }
    offset += paddedBytes(column.length, type)
  }
  return section
}

/** Deflate on libuv's thread pool (a lap table of a whole session is a hundred KB of text). */
const deflateOnThreadPool = (input: Uint8Array): Effect.Effect<Uint8Array, Error> =>
  Effect.callback<Uint8Array, Error>((resume) => {
    Zlib.deflate(
      input,
      { level: 6 },
      (error, result) => resume(error === null ? Effect.succeed(result) : Effect.fail(error))
    )
  })

/**
 * A body as `pack` made it: the stored bytes, the decoded size, and the decoded parts a checksum
 * covers (header, text, columns), in that order.
 *
 * @since 0.2.0
 */
export interface Packed {
  readonly body: Uint8Array
  readonly size: number
  readonly decoded: ReadonlyArray<Uint8Array>
}

/**
 * A value as a body; fails when it holds what JSON does not have (`NaN`, a `Map`, ...), which a
 * parsed file never does.
 *
 * @since 0.2.0
 */
export const pack = (value: JsonObject, byteOrder: ByteOrder = hostByteOrder): Effect.Effect<Packed, Error> =>
  Effect.suspend(() => {
    const split: Split = { parts: ["["], columns: [], paths: [] }
    try {
      splitValue(value, [], split)
    } catch (error) {
      return Effect.fail(error instanceof NotStorable ? error : new NotStorable("nested too deeply to store"))
    }
    split.parts.push(",", JSON.stringify(split.paths), "]")
    const text = Buffer.from(split.parts.join(""), "utf8")
    const types = split.columns.map(storageType)
    const columns = columnSection(split.columns, types, byteOrder)
    const storedText = text.byteLength >= compressAboveBytes
      ? Effect.map(
        deflateOnThreadPool(text),
        (compressed) => compressed.byteLength <= text.byteLength - text.byteLength / 8 ? compressed : text
      )
      : Effect.succeed(text)
    return Effect.map(storedText, (stored) => {
      const header = new Uint8Array(headerBytes + columnEntryBytes * types.length)
      const view = new DataView(header.buffer)
      view.setUint8(0, formatVersion)
      view.setUint8(1, stored === text ? codecNone : codecDeflate)
      view.setUint8(2, codecNone)
      view.setUint32(4, types.length, true)
      view.setUint32(8, stored.byteLength, true)
      view.setUint32(12, text.byteLength, true)
      view.setUint32(16, columns.byteLength, true)
      view.setUint32(20, columns.byteLength, true)
      for (let index = 0; index < types.length; index++) {
        view.setUint8(headerBytes + columnEntryBytes * index, types[index]!)
        view.setUint32(headerBytes + columnEntryBytes * index + 4, split.columns[index]!.length, true)
      }
      const padding = paddingAfter(header.byteLength + stored.byteLength)
      const body = new Uint8Array(header.byteLength + stored.byteLength + padding + columns.byteLength)
      body.set(header, 0)
      body.set(stored, header.byteLength)
      body.set(columns, header.byteLength + stored.byteLength + padding)
      return { body, size: header.byteLength + text.byteLength + columns.byteLength, decoded: [header, text, columns] }
    })
  })

// ---------------------------------------------------------------------------------------------
// Decoding

/**
 * A body checked against its header and decompressed, not yet a value: the decoded parts a
 * checksum covers (header, text, columns), and the column table.
 *
 * @since 0.2.0
 */
export interface Unpacked {
  readonly decoded: readonly [header: Uint8Array, text: Uint8Array, columns: Uint8Array]
  /** Storage type and number of values of each column. */
  readonly types: ReadonlyArray<number>
  readonly lengths: ReadonlyArray<number>
}

/** A section's decoded bytes: as stored, or decompressed to exactly `decoded` bytes. */
const decodeSection = (
  what: string,
  codec: number,
  stored: Uint8Array,
  decoded: number
): Result.Result<Uint8Array, string> => {
  if (codec === codecNone) {
    return stored.byteLength === decoded ? Result.succeed(stored) : Result.fail(`${what} section length mismatch`)
  }
  let output: Uint8Array
  try {
    // One output chunk of the stated size; more than that is damage, and zlib stops there.
    output = Zlib.inflateSync(stored, { chunkSize: Math.max(64, decoded), maxOutputLength: Math.max(1, decoded) })
  } catch (error) {
    return Result.fail(`cannot decompress the ${what} section (${(error as Error).message})`)
  }
  return output.byteLength === decoded ? Result.succeed(output) : Result.fail(`${what} section length mismatch`)
}

/**
 * A body's sections, checked against its header and the row's stated `size` (already bounded by
 * `max_response_bytes`): every length must add up before anything is decompressed.
 *
 * @since 0.2.0
 */
export const unpack = (body: Uint8Array, size: number): Result.Result<Unpacked, string> => {
  if (body.byteLength < headerBytes) return Result.fail("truncated columnar header")
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength)
  const version = view.getUint8(0)
  if (version !== formatVersion) return Result.fail(`columnar format ${version}, not one this version reads`)
  const textCodec = view.getUint8(1)
  const columnCodec = view.getUint8(2)
  if (textCodec > codecDeflate || columnCodec > codecDeflate || view.getUint8(3) !== 0) {
    return Result.fail("unknown section codec")
  }
  const count = view.getUint32(4, true)
  const headerLength = headerBytes + columnEntryBytes * count
  const textStored = view.getUint32(8, true)
  const textDecoded = view.getUint32(12, true)
  const columnsStored = view.getUint32(16, true)
  const columnsDecoded = view.getUint32(20, true)
  if (headerLength + textDecoded + columnsDecoded !== size) return Result.fail("section lengths disagree with the size")
  const columnsStart = headerLength + textStored + paddingAfter(headerLength + textStored)
  if (headerLength > body.byteLength || columnsStart + columnsStored !== body.byteLength) {
    return Result.fail("section lengths disagree with the body")
  }
  const types = new Array<number>(count)
  const lengths = new Array<number>(count)
  let columnBytes = 0
  for (let index = 0; index < count; index++) {
    const entry = headerBytes + columnEntryBytes * index
    const type = view.getUint8(entry)
    if (widthOf[type] === undefined || view.getUint8(entry + 1) !== 0 || view.getUint16(entry + 2) !== 0) {
      return Result.fail(`column ${index}: unknown storage type`)
    }
    types[index] = type
    lengths[index] = view.getUint32(entry + 4, true)
    columnBytes += paddedBytes(lengths[index]!, type)
  }
  if (columnBytes !== columnsDecoded) return Result.fail("column table disagrees with the column section")
  const text = decodeSection("text", textCodec, body.subarray(headerLength, headerLength + textStored), textDecoded)
  if (Result.isFailure(text)) return Result.fail(text.failure)
  const columns = decodeSection("column", columnCodec, body.subarray(columnsStart), columnsDecoded)
  if (Result.isFailure(columns)) return Result.fail(columns.failure)
  // Typed-array views need their element size's alignment: a body inside a larger buffer (a Redis
  // reply) may not have it, and is copied once (`new Uint8Array`: a Buffer's `slice` is a view).
  const aligned = columns.success.byteOffset % 8 === 0 ? columns.success : new Uint8Array(columns.success)
  return Result.succeed({ decoded: [body.subarray(0, headerLength), text.success, aligned], types, lengths })
}

/**
 * A column as an array of numbers: one tight loop from the section's view into a fresh array of
 * unboxed values (doubles, or small integers for an integer column, as `JSON.parse` makes them).
 * One function literal per view type, so each loop sees one kind of typed array.
 */
const arrayFromFloat64 = (values: Float64Array, start: number, length: number): Array<number> => {
  const column = new Array<number>(length)
  for (let index = 0; index < length; index++) column[index] = values[start + index]!
  return column
}
const arrayFromInt32 = (values: Int32Array, start: number, length: number): Array<number> => {
  const column = new Array<number>(length)
  for (let index = 0; index < length; index++) column[index] = values[start + index]!
  return column
}
const arrayFromInt16 = (values: Int16Array, start: number, length: number): Array<number> => {
  const column = new Array<number>(length)
  for (let index = 0; index < length; index++) column[index] = values[start + index]!
  return column
}
const arrayFromUint8 = (values: Uint8Array, start: number, length: number): Array<number> => {
  const column = new Array<number>(length)
  for (let index = 0; index < length; index++) column[index] = values[start + index]!
  return column
}

/** A column read through a `DataView` (a big-endian host), as a `Float64Array`. */
const float64ThroughDataView = (section: Uint8Array, offset: number, type: number, length: number) => {
  const view = new DataView(section.buffer, section.byteOffset + offset)
  const values = new Float64Array(length)
  for (let index = 0; index < length; index++) {
    values[index] = type === typeF64
      ? view.getFloat64(index * 8, true)
      : type === typeI32
      ? view.getInt32(index * 4, true)
      : type === typeI16
      ? view.getInt16(index * 2, true)
      : view.getUint8(index)
  }
  return values
}

/**
 * The column section seen as each storage type, each view made on first use: one view a type for
 * the whole section rather than one a column (making a typed array costs more than copying a
 * short column). Every column starts at a multiple of 8, so each is whole in its type's view.
 */
class SectionViews {
  private f64: Float64Array | undefined
  private i32: Int32Array | undefined
  private i16: Int16Array | undefined
  private u8: Uint8Array | undefined
  constructor(
    private readonly section: Uint8Array,
    private readonly representation: ColumnRepresentation,
    private readonly byteOrder: ByteOrder
  ) {}

  /** The column of `length` values of `type` at byte `offset`. */
  column(offset: number, type: number, length: number): Array<number> | Float64Array {
    const { section } = this
    if (this.byteOrder === "data-view") {
      const values = float64ThroughDataView(section, offset, type, length)
      return this.representation === "float64" ? values : arrayFromFloat64(values, 0, length)
    }
    const { buffer, byteOffset, byteLength } = section
    if (type === typeF64) {
      if (this.representation === "float64") return new Float64Array(buffer, byteOffset + offset, length)
      this.f64 ??= new Float64Array(buffer, byteOffset, byteLength >> 3)
      return arrayFromFloat64(this.f64, offset >> 3, length)
    }
    if (type === typeI32) {
      this.i32 ??= new Int32Array(buffer, byteOffset, byteLength >> 2)
      const start = offset >> 2
      return this.representation === "float64"
        ? new Float64Array(this.i32.subarray(start, start + length))
        : arrayFromInt32(this.i32, start, length)
    }
    if (type === typeI16) {
      this.i16 ??= new Int16Array(buffer, byteOffset, byteLength >> 1)
      const start = offset >> 1
      return this.representation === "float64"
        ? new Float64Array(this.i16.subarray(start, start + length))
        : arrayFromInt16(this.i16, start, length)
    }
    this.u8 ??= section
    return this.representation === "float64"
      ? new Float64Array(this.u8.subarray(offset, offset + length))
      : arrayFromUint8(this.u8, offset, length)
  }
}

/** The container a path step leads into, or undefined when the step does not exist in it. */
const step = (container: unknown, key: unknown): unknown => {
  if (typeof key === "string") {
    return typeof container === "object" && container !== null && !Array.isArray(container) &&
        Object.hasOwn(container, key)
      ? (container as Record<string, unknown>)[key]
      : undefined
  }
  return Array.isArray(container) && Number.isSafeInteger(key) && (key as number) >= 0 &&
      (key as number) < container.length
    ? container.at(key as number)
    : undefined
}

/** Put a column in its place (a `__proto__` key is data: defined, never assigned). */
const place = (container: unknown, key: string | number, column: unknown): void => {
  if (key === "__proto__") Object.defineProperty(container, key, { value: column, enumerable: true, writable: true })
  else (container as Record<string | number, unknown>)[key] = column
}

/**
 * An unpacked body as its value: the text parsed, each column read from its bytes and put where
 * its path says. Columns built as arrays are recorded as built here (`markCodecColumns`), so the
 * first payload decoder of the value delivers them without looking at each number.
 *
 * @since 0.2.0
 */
export const materialize = (
  unpacked: Unpacked,
  representation: ColumnRepresentation = "arrays",
  byteOrder: ByteOrder = hostByteOrder
): Result.Result<JsonObject, string> => {
  const [, textBytes, section] = unpacked.decoded
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.from(textBytes.buffer, textBytes.byteOffset, textBytes.byteLength).toString("utf8"))
  } catch (error) {
    return Result.fail(`text section is not JSON (${(error as Error).message})`)
  }
  if (!Array.isArray(parsed) || parsed.length !== 2) return Result.fail("text section is not [value, paths]")
  const [value, paths] = parsed as [unknown, unknown]
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return Result.fail("the stored value is not a JSON object")
  }
  const { lengths, types } = unpacked
  if (!Array.isArray(paths) || paths.length !== types.length) return Result.fail("column paths disagree with the table")
  const views = new SectionViews(section, representation, byteOrder)
  const built: Array<ReadonlyArray<number>> = []
  let offset = 0
  for (let index = 0; index < types.length; index++) {
    const path: unknown = paths[index]
    if (!Array.isArray(path) || path.length === 0) return Result.fail(`column ${index}: bad path`)
    let container: unknown = value
    for (let depth = 0; depth < path.length - 1 && container !== undefined; depth++) {
      container = step(container, path[depth])
    }
    const last: unknown = path[path.length - 1]
    if (
      container === undefined || (typeof last !== "string" && typeof last !== "number") ||
      step(container, last) !== null
    ) {
      return Result.fail(`column ${index}: its path does not lead to its place`)
    }
    const column = views.column(offset, types[index]!, lengths[index]!)
    if (Array.isArray(column)) built.push(column)
    place(container, last, column)
    offset += paddedBytes(lengths[index]!, types[index]!)
  }
  markCodecColumns(value, built)
  return Result.succeed(value as JsonObject)
}
