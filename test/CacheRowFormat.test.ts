/**
 * The row format of 0.2.0 (`cache/ColumnarBody.ts`): numeric columns as contiguous typed bytes read
 * back as views, the rest as JSON text. Every fixture file reads back as the JSON it came from
 * (values and key order); integer columns are stored narrow; rows written by 0.1.0 (captured from
 * its encoder into `CacheRowFormat.rows-0.2.json`) still read; and a row is input: forged rows
 * built here from the documented layout, with valid checksums, fail with a reason, bounded by their
 * stated size before anything is inflated.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Result from "effect/Result"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import * as Zlib from "node:zlib"
import { Tif1Config } from "../src/schema/Config.js"
import { knownNumericColumns } from "../src/schema/payloads/knownNumeric.js"
import { decodeTelemetry } from "../src/schema/payloads/Telemetry.js"
import * as Cache from "../src/services/Cache.js"
import type { EncodedRow } from "../src/services/cache/CacheStore.js"
import * as ColumnarBody from "../src/services/cache/ColumnarBody.js"
import * as RowCodec from "../src/services/cache/RowCodec.js"
import { loadNodeSqlite } from "../src/services/cache/SqliteConnection.js"
import { parseJsonBytes } from "../src/services/internal/json.js"
import { fixturesRoot } from "./support/stack.js"

const maxSize = 64 * 1024 * 1024
const fixturePath = (path: string) => Path.join(fixturesRoot, path)
const parsedFixture = (path: string) => parseJsonBytes(Fs.readFileSync(fixturePath(path))).value as Cache.JsonObject
const telemetryPath = "2025/Australian Grand Prix/Race/VER/1_tel.json"
const tempDir = () => Fs.mkdtempSync(Path.join(Os.tmpdir(), "tif1-row-format-"))

const everyFixture = (): Array<string> => {
  const found: Array<string> = []
  const walk = (dir: string) => {
    for (const entry of Fs.readdirSync(dir, { withFileTypes: true })) {
      const full = Path.join(dir, entry.name)
      if (entry.isDirectory()) walk(full)
      else if (entry.name.endsWith(".json")) found.push(Path.relative(fixturesRoot, full))
    }
  }
  walk(fixturesRoot)
  return found.sort()
}

const decode = (key: string, row: EncodedRow, representation?: RowCodec.ColumnRepresentation) =>
  RowCodec.decodeRow(key, row, maxSize, representation)

/** The header of a columnar body, read as `ColumnarBody.ts` documents it. */
const headerOf = (body: Uint8Array) => {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength)
  const count = view.getUint32(4, true)
  return {
    version: view.getUint8(0),
    textCodec: view.getUint8(1),
    columnCodec: view.getUint8(2),
    count,
    textStored: view.getUint32(8, true),
    textDecoded: view.getUint32(12, true),
    columnsStored: view.getUint32(16, true),
    types: Array.from({ length: count }, (_, index) => view.getUint8(24 + 8 * index)),
    lengths: Array.from({ length: count }, (_, index) => view.getUint32(24 + 8 * index + 4, true))
  }
}

/**
 * A columnar row as anyone could write one from the documented layout, with a valid keyed
 * CRC-32 (over the header, the decoded text and the column bytes). `columns` are f64 columns;
 * `overrides` change header fields after the fact; `storedText` replaces the stored text bytes.
 */
const forgeRow = (
  key: string,
  text: string,
  columns: ReadonlyArray<ReadonlyArray<number>>,
  options: {
    readonly size?: number
    readonly types?: ReadonlyArray<number>
    readonly version?: number
    readonly storedText?: Uint8Array
    readonly textCodec?: number
    readonly textDecoded?: number
  } = {}
): EncodedRow => {
  const textBytes = Buffer.from(text, "utf8")
  const storedText = options.storedText ?? textBytes
  const headerLength = 24 + 8 * columns.length
  const header = new DataView(new ArrayBuffer(headerLength))
  const section = Buffer.alloc(columns.reduce((sum, column) => sum + column.length * 8, 0))
  let offset = 0
  for (const column of columns) {
    for (const value of column) offset = section.writeDoubleLE(value, offset)
  }
  header.setUint8(0, options.version ?? 1)
  header.setUint8(1, options.textCodec ?? 0)
  header.setUint32(4, columns.length, true)
  header.setUint32(8, storedText.byteLength, true)
  header.setUint32(12, options.textDecoded ?? textBytes.byteLength, true)
  header.setUint32(16, section.byteLength, true)
  header.setUint32(20, section.byteLength, true)
  columns.forEach((column, index) => {
    header.setUint8(24 + 8 * index, options.types?.[index] ?? 1)
    header.setUint32(24 + 8 * index + 4, column.length, true)
  })
  const headerBytes = new Uint8Array(header.buffer)
  const padding = (8 - ((headerLength + storedText.byteLength) % 8)) % 8
  const body = Buffer.concat([headerBytes, storedText, Buffer.alloc(padding), section])
  let crc = Zlib.crc32(key)
  for (const part of [headerBytes, textBytes, section]) crc = Zlib.crc32(part, crc)
  return {
    encoding: 32 | 16 | 8,
    size: options.size ?? headerLength + textBytes.byteLength + section.byteLength,
    checksum: crc.toString(16).padStart(8, "0"),
    body
  }
}

const failure = (result: Result.Result<Cache.JsonObject, string>) =>
  Result.isFailure(result) ? result.failure : "decoded"

describe("the columnar row format", () => {
  it.effect("every fixture file reads back as the JSON it came from: values, key order, NaN as null", () =>
    Effect.gen(function*() {
      const files = everyFixture()
      expect(files.length).toBeGreaterThan(50)
      for (const file of files) {
        const value = parsedFixture(file)
        const row = yield* RowCodec.encodeRow(file, value)
        expect(row.encoding, file).toBe(56)
        const back = decode(file, row)
        if (Result.isFailure(back)) throw new Error(`${file}: ${back.failure}`)
        expect(back.success, file).toStrictEqual(value)
        expect(JSON.stringify(back.success), file).toBe(JSON.stringify(value))
      }
    }))

  it.effect("telemetry: 0/1 and small-integer channels stored as bytes, the rest as doubles, text uncompressed", () =>
    Effect.gen(function*() {
      const value = parsedFixture(telemetryPath) as { tel: Record<string, unknown> }
      const row = yield* RowCodec.encodeRow(telemetryPath, value)
      const header = headerOf(row.body)
      expect(header.version).toBe(1)
      expect([header.textCodec, header.columnCodec]).toEqual([0, 0])
      const channels = Object.keys(value.tel).filter((name) => name !== "dataKey")
      expect(header.count).toBe(channels.length)
      const typeOf = Object.fromEntries(channels.map((name, index) => [name, header.types[index]]))
      // 4 = u8 (every value 0..255), 1 = f64
      expect(typeOf).toMatchObject({ gear: 4, brake: 4, drs: 4, time: 1, distance: 1, x: 1 })
      expect(header.lengths.every((length) => length === (value.tel.time as Array<number>).length)).toBe(true)
      // Smaller than the JSON text, and about the size of the numbers: no codec on the columns.
      const jsonBytes = Fs.statSync(fixturePath(telemetryPath)).size
      expect(row.body.byteLength).toBeLessThan(jsonBytes * 0.6)
      expect(row.body.byteLength).toBe(row.size)
    }))

  it.effect("a large text section (a session's lap table) is deflated; the row still states its decoded size", () =>
    Effect.gen(function*() {
      const path = "2025/Abu Dhabi Grand Prix/Practice 1/session_laptimes.json"
      const value = parsedFixture(path)
      const row = yield* RowCodec.encodeRow(path, value)
      const header = headerOf(row.body)
      expect(header.textCodec).toBe(1)
      expect(header.textStored).toBeLessThan(header.textDecoded / 2)
      expect(row.size).toBeGreaterThan(row.body.byteLength)
      expect(decode(path, row)).toEqual(Result.succeed(value))
    }))

  it.effect("integers by range, -0 and infinities kept, nested and `__proto__` columns in place; NaN refused", () =>
    Effect.gen(function*() {
      const eight = (values: (index: number) => number) => Array.from({ length: 8 }, (_, index) => values(index))
      const text = `{"bytes":[0,1,2,3,4,5,6,255],"shorts":[-1,2,3,4,5,6,7,-32768],"ints":[70000,1,2,3,4,5,6,-5],` +
        `"doubles":[4294967296,1,2,3,4,5,6,7],"signed":[-0,1,2,3,4,5,6,7],"infinite":[1e999,-1e999,0,1,2,3,4,5],` +
        `"short":[1,2,3],"mixed":[1,"a",2,3,4,5,6,7],"nested":[{"__proto__":[1,2,3,4,5,6,7,8.5]},[1,2,3,4,5,6,7,9]],` +
        `"scalar":1e999,"empty":[]}`
      const value = JSON.parse(text) as Cache.JsonObject
      const row = yield* RowCodec.encodeRow("k", value)
      // 1 f64, 2 i32, 3 i16, 4 u8, in the order the columns appear
      expect(headerOf(row.body).types).toEqual([4, 3, 2, 1, 1, 1, 1, 4])
      const back = decode("k", row)
      if (Result.isFailure(back)) throw new Error(back.failure)
      const read = back.success as any
      expect(read).toStrictEqual(value)
      expect(Object.is(read.signed[0], -0)).toBe(true)
      expect(read.infinite.slice(0, 2)).toEqual([Infinity, -Infinity])
      expect(read.scalar).toBe(Infinity)
      expect(Object.hasOwn(read.nested[0], "__proto__")).toBe(true)
      expect(Object.getPrototypeOf(read.nested[0])).toBe(Object.prototype)
      expect(read.nested[0]["__proto__"]).toEqual(eight((index) => index === 7 ? 8.5 : index + 1))
      expect(read.nested[1]).toEqual(eight((index) => index === 7 ? 9 : index + 1))
      const refused = yield* Effect.flip(RowCodec.encodeRow("k", { tel: { speed: [1, 2, Number.NaN] } }))
      expect(refused.message).toBe("NaN at tel.speed.2 (JSON has none)")
      const inColumn = yield* Effect.flip(RowCodec.encodeRow("k", { speed: eight((index) => index === 5 ? NaN : 1) }))
      expect(inColumn.message).toBe("NaN at speed.5 (JSON has none)")
      const notJson = yield* Effect.flip(RowCodec.encodeRow("k", { when: new Date(0) }))
      expect(notJson.message).toBe("a Date at when (not JSON)")
    }))

  it.effect("columns come back as arrays the payload decoders trust, or as Float64Array views of the row", () =>
    Effect.gen(function*() {
      const value = parsedFixture(telemetryPath) as { tel: Record<string, ReadonlyArray<number>> }
      const row = yield* RowCodec.encodeRow(telemetryPath, value)
      const arrays = decode(telemetryPath, row)
      if (Result.isFailure(arrays)) throw new Error(arrays.failure)
      const tel = (arrays.success as typeof value).tel
      expect(Array.isArray(tel.speed)).toBe(true)
      expect(knownNumericColumns.has(tel.speed!)).toBe(true)
      expect(knownNumericColumns.has(tel.gear!)).toBe(true)
      expect(decodeTelemetry(arrays.success)).not.toHaveProperty("error")
      const typed = decode(telemetryPath, row, "float64")
      if (Result.isFailure(typed)) throw new Error(typed.failure)
      const typedTel = (typed.success as { tel: Record<string, Float64Array> }).tel
      expect(typedTel.speed).toBeInstanceOf(Float64Array)
      expect(Array.from(typedTel.speed!)).toEqual(value.tel.speed)
      expect(Array.from(typedTel.gear!)).toEqual(value.tel.gear)
      // A double column is a view of the row's own bytes; a byte column is widened into its own.
      expect(typedTel.speed!.buffer).toBe(row.body.buffer)
      expect(typedTel.gear!.buffer).not.toBe(row.body.buffer)
    }))

  it.effect("a column the codec built is trusted once, as read from its row: a caller's write is reported after", () =>
    Effect.gen(function*() {
      const cacheDir = tempDir()
      const value = parsedFixture(telemetryPath)
      const layer = () => Cache.layerSqlite.pipe(Layer.provide(Tif1Config.layerDefaults({ cacheDir })))
      yield* Cache.Cache.use((cache) => cache.set(telemetryPath, value)).pipe(Effect.provide(layer()))
      const speedOf = (found: Cache.CacheLookup) => {
        if (found._tag !== "Hit") throw new Error(`expected a hit, got ${found._tag}`)
        return (found.value as { tel: { speed: Array<unknown> } }).tel.speed
      }
      const expectReported = (found: Cache.CacheLookup) => {
        expect(found).toMatchObject({ _tag: "Hit", tier: "memory" })
        expect(decodeTelemetry((found as { value: unknown }).value)).toEqual({
          error: expect.stringContaining("column \"speed\" index 3")
        })
      }
      // In a new process each time: the value comes from its SQLite row, then stays in the memory tier.
      // A decoder had it first (a session load), then a caller wrote into it.
      yield* Effect.gen(function*() {
        const cache = yield* Cache.Cache
        const read = yield* cache.get(telemetryPath)
        expect(read).toMatchObject({ _tag: "Hit", tier: "sqlite" })
        const first = decodeTelemetry((read as { value: unknown }).value)
        if ("error" in first) throw new Error(first.error)
        expect(first.value.tel.speed).toBe(speedOf(read))
        speedOf(read)[3] = "fast"
        expectReported(yield* cache.get(telemetryPath))
      }).pipe(Effect.provide(layer()))
      // A caller had it first, as `fetchJson` gives it, and wrote into it before any decoder saw it.
      yield* Effect.gen(function*() {
        const cache = yield* Cache.Cache
        const read = yield* cache.get(telemetryPath)
        expect(read).toMatchObject({ _tag: "Hit", tier: "sqlite" })
        speedOf(read)[3] = "fast"
        expectReported(yield* cache.get(telemetryPath))
      }).pipe(Effect.provide(layer()))
      Fs.rmSync(cacheDir, { recursive: true, force: true })
    }))

  it.effect("the big-endian path (a DataView, value by value) writes and reads the same little-endian bytes", () =>
    Effect.gen(function*() {
      const value = parsedFixture("2026/Austrian Grand Prix/Practice 1/ALB/1_tel.json")
      const typed = yield* ColumnarBody.pack(value, "typed-arrays")
      const viewed = yield* ColumnarBody.pack(value, "data-view")
      expect(Buffer.from(viewed.body).equals(Buffer.from(typed.body))).toBe(true)
      const unpacked = ColumnarBody.unpack(typed.body, typed.size)
      if (Result.isFailure(unpacked)) throw new Error(unpacked.failure)
      for (const representation of ["arrays", "float64"] as const) {
        const read = ColumnarBody.materialize(unpacked.success, representation, "data-view")
        if (Result.isFailure(read)) throw new Error(read.failure)
        const tel = (read.success as { tel: Record<string, unknown> }).tel
        const expected = (value as { tel: Record<string, unknown> }).tel
        for (const name of ["time", "gear", "x", "DistanceToDriverAhead"]) {
          expect(Array.from(tel[name] as ArrayLike<number>), `${representation} ${name}`).toEqual(expected[name])
        }
        expect(tel.DriverAhead).toEqual(expected.DriverAhead)
      }
    }))

  it.effect("a body inside a larger buffer at any offset (a Redis reply) reads the same", () =>
    Effect.gen(function*() {
      const value = parsedFixture(telemetryPath)
      const row = yield* RowCodec.encodeRow(telemetryPath, value)
      for (const offset of [1, 3, 4, 8]) {
        const outer = Buffer.alloc(row.body.byteLength + offset + 5)
        outer.set(row.body, offset)
        const moved = { ...row, body: outer.subarray(offset, offset + row.body.byteLength) }
        expect(decode(telemetryPath, moved), String(offset)).toEqual(Result.succeed(value))
      }
    }))
})

describe("rows written by 0.1.0 still read", () => {
  interface CapturedRow {
    readonly key: string
    readonly encoding: number
    readonly size: number
    readonly checksum: string
    readonly body: string
  }
  const captured = JSON.parse(
    Fs.readFileSync(Path.join(Path.dirname(fileURLToPath(import.meta.url)), "CacheRowFormat.rows-0.2.json"), "utf8")
  ) as { readonly rows: ReadonlyArray<CapturedRow> }
  const rowOf = (row: CapturedRow): EncodedRow => ({
    encoding: row.encoding,
    size: row.size,
    checksum: row.checksum,
    body: Buffer.from(row.body, "base64")
  })

  it("decoded by the codec: the files they were written from", () => {
    expect(captured.rows.map((row) => row.encoding)).toEqual([30, 30, 31, 31])
    for (const row of captured.rows) {
      expect(decode(row.key, rowOf(row)), row.key).toEqual(Result.succeed(parsedFixture(row.key)))
    }
  })

  it.effect("from a SQLite file: a hit, its columns trusted by the payload decoders", () =>
    Effect.gen(function*() {
      const cacheDir = tempDir()
      const layer = Cache.layerSqlite.pipe(Layer.provide(Tif1Config.layerDefaults({ cacheDir })))
      yield* Effect.flatMap(Cache.Cache, (cache) => cache.stats).pipe(Effect.provide(layer)) // creates the file
      const database = new (loadNodeSqlite().DatabaseSync)(Path.join(cacheDir, Cache.databaseFileName))
      const insert = database.prepare(
        "INSERT INTO payloads (key, encoding, size, checksum, body, stored_at) VALUES (?, ?, ?, ?, ?, 7)"
      )
      for (const row of captured.rows) insert.run(row.key, row.encoding, row.size, row.checksum, rowOf(row).body)
      database.close()
      const telemetryKey = "2026/Austrian Grand Prix/Practice 1/ALB/1_tel.json"
      const found = yield* Effect.flatMap(Cache.Cache, (cache) =>
        Effect.forEach(captured.rows, (row) => cache.get(row.key))).pipe(Effect.provide(layer))
      captured.rows.forEach((row, index) => {
        expect(found[index], row.key).toMatchObject({ _tag: "Hit", tier: "sqlite", storedAt: 7 })
        expect((found[index] as { value: unknown }).value, row.key).toEqual(parsedFixture(row.key))
      })
      const telemetry = found[
        captured.rows.findIndex((row) =>
          row.key === telemetryKey
        )
      ] as { value: unknown }
      const speed = (telemetry.value as { tel: { speed: ReadonlyArray<number> } }).tel.speed
      expect(knownNumericColumns.has(speed)).toBe(true)
      expect(decodeTelemetry(telemetry.value)).not.toHaveProperty("error")
      Fs.rmSync(cacheDir, { recursive: true, force: true })
    }))
})

describe("a columnar row is input", () => {
  const key = "2025/Australian Grand Prix/Race/VER/1_tel.json"
  const column = [1.5, 2, 3, 4, 5, 6, 7, 8]
  const valid = `[{"tel":{"speed":null,"dataKey":"x"}},[["tel","speed"]]]`

  it("a forged row built from the documented layout reads (the test's forger is right)", () => {
    expect(decode(key, forgeRow(key, valid, [column]))).toEqual(
      Result.succeed({ tel: { speed: column, dataKey: "x" } })
    )
  })

  it("its stated size is bounded before anything is inflated, and must match its sections", () => {
    const bomb = Zlib.deflateSync(Buffer.alloc(16 * 1024 * 1024, 0x20))
    const stated = forgeRow(key, valid, [column], { size: 255 * 1024 * 1024 })
    expect(failure(RowCodec.decodeRow(key, stated, 64 * 1024))).toBe(
      `states ${255 * 1024 * 1024} bytes, over max_response_bytes (65536)`
    )
    // A text section stating 60 bytes that inflates to 16 MiB: zlib stops at the stated length.
    const inflating = forgeRow(key, valid, [column], { storedText: bomb, textCodec: 1 })
    expect(failure(decode(key, inflating))).toMatch(/^cannot decompress the text section/)
    const disagreeing = forgeRow(key, valid, [column], { size: 1000 })
    expect(failure(decode(key, disagreeing))).toBe("section lengths disagree with the size")
  })

  it("a column table, version or path that does not hold is a failure with its reason", () => {
    expect(failure(decode(key, forgeRow(key, valid, [column], { version: 2 })))).toBe(
      "columnar format 2, not one this version reads"
    )
    expect(failure(decode(key, forgeRow(key, valid, [column], { types: [9] })))).toBe(
      "column 0: unknown storage type"
    )
    // A path to a key that is not there, to a value that is not a column's place, and one place twice.
    const elsewhere = `[{"tel":{"speed":null}},[["tel","rpm"]]]`
    const onData = `[{"tel":{"speed":3}},[["tel","speed"]]]`
    const twice = `[{"tel":{"speed":null}},[["tel","speed"],["tel","speed"]]]`
    for (const text of [elsewhere, onData]) {
      expect(failure(decode(key, forgeRow(key, text, [column]))), text).toBe(
        "column 0: its path does not lead to its place"
      )
    }
    expect(failure(decode(key, forgeRow(key, twice, [column, column])))).toBe(
      "column 1: its path does not lead to its place"
    )
    expect(failure(decode(key, forgeRow(key, `[{"tel":{}},[]]`, [column])))).toBe(
      "column paths disagree with the table"
    )
    expect(failure(decode(key, forgeRow(key, `[[1],[]]`, [])))).toBe("the stored value is not a JSON object")
    expect(failure(decode(key, forgeRow(key, `{"tel":`, [])))).toMatch(/^text section is not JSON/)
  })

  it("a `__proto__` path places data, never a prototype", () => {
    const text = `[{"__proto__":null,"tel":{"__proto__":null}},[["__proto__"],["tel","__proto__"]]]`
    const back = decode(key, forgeRow(key, text, [column, column]))
    if (Result.isFailure(back)) throw new Error(back.failure)
    const value = back.success as any
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype)
    expect(Object.getPrototypeOf(value.tel)).toBe(Object.prototype)
    expect(Object.hasOwn(value, "__proto__")).toBe(true)
    expect(JSON.stringify(value)).toBe(
      `{"__proto__":${JSON.stringify(column)},"tel":{"__proto__":${JSON.stringify(column)}}}`
    )
  })

  it("a body of text (SQLite's `||` makes text of a blob) is a failure, not a crash", () => {
    const row = forgeRow(key, valid, [column])
    expect(failure(decode(key, { ...row, body: "not bytes" as unknown as Uint8Array }))).toBe("the body is not bytes")
  })
})
