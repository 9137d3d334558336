/**
 * How a persistent tier stores a value: a row is an encoding (bit flags), the size of its decoded
 * body, a checksum over the key and that body, and the stored body. Shared by the SQLite and Redis
 * stores, so a row means the same in both.
 *
 * Rows written from 0.2.0 on have a columnar body (`ColumnarBody.ts`): numeric columns as
 * contiguous typed bytes read back as views, the rest as JSON text. Rows written by earlier
 * versions (JSON text, V8 serialization with `Float64Array` columns, SHA-1 checksums, unkeyed
 * checksums) still decode (`LegacyBody.ts`); a row of the columnar format has a version byte of
 * its own, so a later format can be told apart.
 *
 * A row is input, not evidence: another process wrote it (Redis), and anyone who can write a row
 * can compute its checksum. So decoding bounds the row's stated size before decompressing it, and
 * accepts a value only if it holds JSON types (plus the columns this codec writes).
 *
 * @since 0.2.0
 */
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Crypto from "node:crypto"
import * as Zlib from "node:zlib"
import type { EncodedRow, JsonObject, Validators } from "./CacheStore.js"
import * as ColumnarBody from "./ColumnarBody.js"
import { decodeLegacyBody } from "./LegacyBody.js"

/**
 * Text sections at or above this size are stored compressed (`ColumnarBody.ts`).
 *
 * @since 0.1.0
 */
export const compressAboveBytes = ColumnarBody.compressAboveBytes

/**
 * How a decoded value holds its numeric columns (`ColumnarBody.ColumnRepresentation`).
 *
 * @since 0.2.0
 */
export type ColumnRepresentation = ColumnarBody.ColumnRepresentation

/**
 * How a row's body is stored, as bits: 0 = deflated, 1 = V8 serialization (`node:v8`) of the
 * parsed value instead of the JSON text, 2 = with every all-number array serialized as a
 * `Float64Array`, 3 = CRC-32 checksum instead of SHA-1, 4 = the checksum covers the row's key too
 * (two rows' values swapped no longer read as each other's files), 5 = a columnar body
 * (`ColumnarBody.ts`, which compresses its sections itself; bits 0 to 2 unset). Rows of 0.1.0 and
 * its development builds have bits 0 to 4; rows written now have bits 3, 4 and 5.
 */
const encodingDeflated = 1
const encodingV8 = 2
const encodingNumericColumns = 4
/** CRC-32 as 8 hex digits costs a fifth of SHA-1 (base64), which earlier rows carry. */
const encodingCrc32 = 8
const encodingKeyedChecksum = 16
const encodingColumnar = 32
const storedEncoding = encodingColumnar | encodingCrc32 | encodingKeyedChecksum

/**
 * A value as a persistent store keeps it (the type lives with the store interface, `CacheStore.ts`).
 *
 * @since 0.2.0
 */
export type { EncodedRow } from "./CacheStore.js"

/** CRC-32 as 8 hex digits, over the parts in order, seeded with the key's CRC-32 when `keyed`. */
const crc32Of = (parts: ReadonlyArray<Uint8Array>, key: string, keyed: boolean): string => {
  let crc = keyed ? Zlib.crc32(key) : 0
  for (const part of parts) crc = Zlib.crc32(part, crc)
  return crc.toString(16).padStart(8, "0")
}

/**
 * The checksum a legacy row's encoding names, over its key (bit 4) and its body. It catches
 * damage, not tampering: CRC-32 misses one random corruption in four billion, and deflated rows
 * are also checked by zlib's adler-32.
 */
const checksumOf = (encoding: number, bytes: Uint8Array, key: string): string =>
  (encoding & encodingCrc32) === 0
    ? Crypto.createHash("sha1").update(bytes).digest("base64")
    : crc32Of([bytes], key, (encoding & encodingKeyedChecksum) !== 0)

/**
 * A value as a row: a columnar body, its checksum over the key and every decoded section.
 *
 * @since 0.2.0
 */
export const encodeRow = (key: string, value: JsonObject): Effect.Effect<EncodedRow, Error> =>
  Effect.map(ColumnarBody.pack(value), (packed) => ({
    encoding: storedEncoding,
    size: packed.size,
    checksum: crc32Of(packed.decoded, key, true),
    body: packed.body
  }))

const isPlainObject = (value: unknown): value is JsonObject =>
  typeof value === "object" && value !== null && Object.getPrototypeOf(value) === Object.prototype

/** A columnar row's value: its sections checked and decompressed, its checksum, then its columns. */
const decodeColumnar = (
  key: string,
  row: EncodedRow,
  representation: ColumnRepresentation
): Result.Result<JsonObject, string> => {
  if (row.encoding !== storedEncoding) return Result.fail(`unknown encoding ${row.encoding}`)
  const unpacked = ColumnarBody.unpack(row.body, row.size)
  if (Result.isFailure(unpacked)) return Result.fail(unpacked.failure)
  if (crc32Of(unpacked.success.decoded, key, true) !== row.checksum) return Result.fail("size or checksum mismatch")
  return ColumnarBody.materialize(unpacked.success, representation)
}

/**
 * A row back to its value, or why it cannot be: damaged, written by a Node whose serialization
 * this one cannot read, stating a size over `maxSize`, or holding something JSON does not have.
 * The stated size is checked before anything is decompressed (a row on a shared server is
 * anyone's: 1 KB stating 255 MiB made the reader allocate 255 MiB); `max_response_bytes` is the
 * natural bound: no delivered file is larger, and a row is about its file's size (columnar
 * telemetry: 0.5 of the JSON text; the stores do not write a row over the bound). Legacy rows are
 * inflated here rather than on the thread pool: 0.2 ms for a telemetry row, and the stream object
 * and hop of the asynchronous API cost more than that. One output chunk of the stated size; a body
 * that inflates to more is damaged, and zlib stops there.
 *
 * `representation` says how the value holds its numeric columns: arrays of numbers (what JSON
 * gives, the default) or `Float64Array`s (columnar rows only; legacy rows always give arrays).
 *
 * @since 0.2.0
 */
export const decodeRow = (
  key: string,
  row: EncodedRow,
  maxSize: number,
  representation: ColumnRepresentation = "arrays"
): Result.Result<JsonObject, string> => {
  // A row edited by hand can hold text where the bytes were (SQLite's `||` makes text of a blob).
  if (!(row.body instanceof Uint8Array)) return Result.fail("the body is not bytes")
  if (!Number.isSafeInteger(row.size) || row.size < 0) return Result.fail(`bad stated size ${row.size}`)
  if (row.size > maxSize) return Result.fail(`states ${row.size} bytes, over max_response_bytes (${maxSize})`)
  if ((row.encoding & encodingColumnar) !== 0) return decodeColumnar(key, row, representation)
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
  const value = decodeLegacyBody(
    body,
    (row.encoding & encodingV8) !== 0,
    (row.encoding & encodingNumericColumns) !== 0
  )
  if (Result.isFailure(value)) return Result.fail(value.failure)
  return isPlainObject(value.success)
    ? Result.succeed(value.success)
    : Result.fail("the stored value is not a JSON object")
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
 * The validators as a framed row holds them, after its checksum: each as a 16-bit length
 * (0xffff = none) and its UTF-8 bytes. Self-delimiting, so equal bytes are equal validators:
 * `RedisStore.touch` compares a stored row's section with these bytes on the server.
 *
 * @since 0.2.0
 */
export const framedValidators = (validators: Validators): Buffer => {
  const texts = [validators.etag, validators.lastModified].map((text) =>
    text === undefined ? undefined : Buffer.from(text, "utf8")
  )
  const section = Buffer.allocUnsafe(4 + (texts[0]?.length ?? 0) + (texts[1]?.length ?? 0))
  let at = 0
  for (const text of texts) {
    at = section.writeUInt16BE(text === undefined ? noText : text.length, at)
    if (text !== undefined) at += text.copy(section, at)
  }
  return section
}

/**
 * Where the checksum's length sits in a framed row (the checksum follows it, then the validators).
 *
 * @since 0.2.0
 */
export const framedChecksumLengthOffset = 17

/**
 * A row, its storage time and validators as one byte string.
 *
 * @since 0.2.0
 */
export const frameRow = (row: EncodedRow, storedAt: number, validators: Validators): Buffer => {
  const checksum = Buffer.from(row.checksum, "latin1")
  const section = framedValidators(validators)
  const framed = Buffer.allocUnsafe(
    framedChecksumLengthOffset + 1 + checksum.length + section.length + row.body.byteLength
  )
  let at = frameMagic.copy(framed, 0)
  at = framed.writeUInt8(row.encoding, at)
  at = framed.writeUInt32BE(row.size, at)
  at = framed.writeDoubleBE(storedAt, at)
  at = framed.writeUInt8(checksum.length, at)
  at += checksum.copy(framed, at)
  at += section.copy(framed, at)
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
