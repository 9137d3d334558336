/**
 * How a persistent tier stores a value: V8 serialization with every telemetry column packed as a
 * `Float64Array`, deflated above a few KB, with a checksum over the key and the value. Shared by
 * the SQLite and Redis stores, so a row means the same in both; rows written by earlier
 * versions (JSON text, SHA-1 checksums, unkeyed checksums) still decode.
 *
 * @since 0.2.0
 */
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Crypto from "node:crypto"
import * as V8 from "node:v8"
import * as Zlib from "node:zlib"
import { knownNumericColumns } from "../../schema/payloads/knownNumeric.js"
import { parseJsonBytes } from "../internal/json.js"
import type { EncodedRow, JsonObject, Validators } from "./CacheStore.js"

/** Values at or above this size are stored deflated (zlib format: adler-32 checked on inflate). */
export const compressAboveBytes = 4096

/**
 * How a row's body is stored: bit 0 = deflated, bit 1 = V8 serialization (`node:v8`) of the
 * parsed value instead of the JSON text, bit 2 = with every all-number array (a telemetry
 * column) serialized as a `Float64Array`, bit 3 = CRC-32 checksum instead of SHA-1, bit 4 = the
 * checksum covers the row's key too (two rows' values swapped no longer read as each other's
 * files). New rows set bits 1 to 4 (and 0 when large). V8 writes a plain array element by element and reads every
 * double back boxed; a typed array is one block of bytes, and turning it back into an array of
 * unboxed doubles costs a fraction of that (a telemetry file: 135 µs against 456 µs; `JSON.parse`
 * of its text: 1,600 µs on the same machine).
 */
const encodingDeflated = 1
const encodingV8 = 2
const encodingNumericColumns = 4
/** CRC-32 as 8 hex digits costs a fifth of SHA-1 (base64), which earlier rows carry. */
const encodingCrc32 = 8
const encodingKeyedChecksum = 16
const storedEncoding = encodingV8 | encodingNumericColumns | encodingCrc32 | encodingKeyedChecksum

/**
 * A value as a persistent store keeps it (the type lives with the store interface, `CacheStore.ts`).
 *
 * @since 0.2.0
 */
export type { EncodedRow } from "./CacheStore.js"

/**
 * zlib on libuv's thread pool: deflating a 180 KB telemetry file takes about 2 ms, which on the
 * event loop would stall every request in flight; there it runs beside them.
 */
const deflateOnThreadPool = (input: Uint8Array, options: Zlib.ZlibOptions): Effect.Effect<Uint8Array, Error> =>
  Effect.callback<Uint8Array, Error>((resume) => {
    Zlib.deflate(
      input,
      options,
      (error, result) => resume(error === null ? Effect.succeed(result) : Effect.fail(error))
    )
  })

/**
 * A copy of `value` with every non-empty all-number array as a `Float64Array` (JSON never has
 * typed arrays). Arrays are iterated, not indexed, so the delivered ones stay unboxed (`columns.ts`).
 */
const packNumericColumns = (value: unknown): unknown => {
  if (value === null || typeof value !== "object") return value
  if (Array.isArray(value)) {
    // A plain loop and the array constructor: `every` and `Float64Array.from` cost twice as much.
    let numeric = value.length > 0
    for (const item of value) {
      if (typeof item !== "number") {
        numeric = false
        break
      }
    }
    return numeric ? new Float64Array(value) : value.map(packNumericColumns)
  }
  const copy: Record<string, unknown> = {}
  for (const key in value) copy[key] = packNumericColumns((value as Record<string, unknown>)[key])
  return copy
}

/** The inverse of `packNumericColumns`, in place on a freshly deserialized value. */
const unpackNumericColumns = (value: unknown): unknown => {
  if (value === null || typeof value !== "object") return value
  if (value instanceof Float64Array) {
    const column = new Array<number>(value.length)
    for (let index = 0; index < value.length; index++) column[index] = value[index]!
    knownNumericColumns.add(column)
    return column
  }
  const container = value as Record<string, unknown>
  for (const key in container) container[key] = unpackNumericColumns(container[key])
  return value
}

/**
 * The checksum a row's encoding names, over its key (bit 4) and its body. It catches damage, not
 * tampering: CRC-32 misses one random corruption in four billion, and deflated rows are also
 * checked by zlib's adler-32.
 */
const checksumOf = (encoding: number, bytes: Uint8Array, key: string): string => {
  if ((encoding & encodingCrc32) === 0) return Crypto.createHash("sha1").update(bytes).digest("base64")
  const seed = (encoding & encodingKeyedChecksum) !== 0 ? Zlib.crc32(key) : 0
  return Zlib.crc32(bytes, seed).toString(16).padStart(8, "0")
}

/**
 * A value as a row, deflated on the thread pool when large.
 *
 * @since 0.2.0
 */
export const encodeRow = (key: string, value: JsonObject): Effect.Effect<EncodedRow, Error> =>
  Effect.suspend(() => {
    const body = V8.serialize(packNumericColumns(value))
    const compressed = body.byteLength >= compressAboveBytes
    const encoding = storedEncoding | (compressed ? encodingDeflated : 0)
    const checksum = checksumOf(encoding, body, key)
    if (!compressed) return Effect.succeed({ encoding, size: body.byteLength, checksum, body })
    // Level 1 with the largest hash memory: 15-35% faster than the default memLevel on
    // telemetry rows for 1% more bytes; inflating is the same either way.
    return Effect.map(
      deflateOnThreadPool(body, { level: 1, memLevel: 9, chunkSize: body.byteLength }),
      (deflated) => ({ encoding, size: body.byteLength, checksum, body: deflated })
    )
  })

const isObject = (value: unknown): value is JsonObject =>
  value !== null && typeof value === "object" && !Array.isArray(value)

/**
 * A row back to its value, or why it cannot be (the row is damaged, or was written by a Node
 * whose serialization this one cannot read). Inflated here rather than on the thread pool: 0.2 ms
 * for a telemetry row, and the stream object and hop of the asynchronous API cost more than that
 * (measured on a warm session load: a quarter less time and a third less CPU). One output chunk
 * of the known size; a row whose body inflates to more than its size is damaged, and zlib stops there.
 *
 * @since 0.2.0
 */
export const decodeRow = (key: string, row: EncodedRow): Result.Result<JsonObject, string> => {
  let body = row.body
  if ((row.encoding & encodingDeflated) !== 0) {
    try {
      body = Zlib.inflateSync(row.body, { chunkSize: Math.max(64, row.size), maxOutputLength: Math.max(1, row.size) })
    } catch (error) {
      return Result.fail(`cannot inflate (${(error as Error).message})`)
    }
  }
  if (body.byteLength !== row.size || checksumOf(row.encoding, body, key) !== row.checksum) {
    return Result.fail("size or checksum mismatch")
  }
  let value: unknown
  if ((row.encoding & encodingV8) === 0) {
    value = parseJsonBytes(body).value
  } else {
    try {
      value = V8.deserialize(body)
      if ((row.encoding & encodingNumericColumns) !== 0) value = unpackNumericColumns(value)
    } catch {
      return Result.fail("written by a Node whose serialization this one cannot read")
    }
  }
  return isObject(value) ? Result.succeed(value) : Result.fail("the stored value is not a JSON object")
}

/**
 * A row in one byte string, for stores that keep a value per key (Redis): a magic, the encoding,
 * the size, the storage time at a fixed offset (so `touch` rewrites 8 bytes in place), the
 * checksum, the validators, then the body.
 *
 * | bytes | field |
 * |---|---|
 * | 4 | `T1R1` |
 * | 1 | encoding |
 * | 4 | size (uint32 BE) |
 * | 8 | stored at, Clock ms (float64 BE) |
 * | 1 + n | checksum (ASCII) |
 * | 2 + n | ETag (UTF-8; length 0xffff = none) |
 * | 2 + n | Last-Modified (UTF-8; length 0xffff = none) |
 * | rest | body |
 */
const frameMagic = Buffer.from("T1R1", "latin1")

/**
 * Where the storage time sits in a framed row.
 *
 * @since 0.2.0
 */
export const framedStoredAtOffset = 9

const noText = 0xffff

/**
 * A row, its storage time and validators as one byte string.
 *
 * @since 0.2.0
 */
export const frameRow = (row: EncodedRow, storedAt: number, validators: Validators): Buffer => {
  const checksum = Buffer.from(row.checksum, "latin1")
  const etag = validators.etag === undefined ? undefined : Buffer.from(validators.etag, "utf8")
  const lastModified = validators.lastModified === undefined ? undefined : Buffer.from(validators.lastModified, "utf8")
  const headerLength = 4 + 1 + 4 + 8 + 1 + checksum.length + 2 + (etag?.length ?? 0) + 2 + (lastModified?.length ?? 0)
  const framed = Buffer.allocUnsafe(headerLength + row.body.byteLength)
  let at = frameMagic.copy(framed, 0)
  at = framed.writeUInt8(row.encoding, at)
  at = framed.writeUInt32BE(row.size, at)
  at = framed.writeDoubleBE(storedAt, at)
  at = framed.writeUInt8(checksum.length, at)
  at += checksum.copy(framed, at)
  for (const text of [etag, lastModified]) {
    at = framed.writeUInt16BE(text === undefined ? noText : text.length, at)
    if (text !== undefined) at += text.copy(framed, at)
  }
  framed.set(row.body, at)
  return framed
}

/**
 * A framed row back to its parts, or why it is not one.
 *
 * @since 0.2.0
 */
export const unframeRow = (
  framed: Buffer
): Result.Result<{ readonly row: EncodedRow; readonly storedAt: number; readonly validators: Validators }, string> => {
  try {
    if (framed.length < 20 || !framed.subarray(0, 4).equals(frameMagic)) return Result.fail("not a tif1 row")
    let at = 4
    const encoding = framed.readUInt8(at++)
    const size = framed.readUInt32BE(at)
    at += 4
    const storedAt = framed.readDoubleBE(at)
    at += 8
    const checksumLength = framed.readUInt8(at++)
    const checksum = framed.toString("latin1", at, at + checksumLength)
    at += checksumLength
    const texts: Array<string | undefined> = []
    for (let index = 0; index < 2; index++) {
      const length = framed.readUInt16BE(at)
      at += 2
      if (length === noText) {
        texts.push(undefined)
      } else {
        if (at + length > framed.length) return Result.fail("truncated header")
        texts.push(framed.toString("utf8", at, at + length))
        at += length
      }
    }
    if (!Number.isFinite(storedAt)) return Result.fail("bad storage time")
    const [etag, lastModified] = texts
    return Result.succeed({
      row: { encoding, size, checksum, body: framed.subarray(at) },
      storedAt,
      validators: { ...(etag === undefined ? {} : { etag }), ...(lastModified === undefined ? {} : { lastModified }) }
    })
  } catch {
    return Result.fail("truncated header")
  }
}
