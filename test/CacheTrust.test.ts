/**
 * What the cache takes from its tiers and gives to them, against a real SQLite file and a real
 * `redis-server` started here: a shared row is input, not evidence (its stated size is bounded
 * before it is inflated, it holds JSON types only, a bad one is never copied into the local
 * tiers); a 304 restarts only the copies holding the validators the request sent; a numeric
 * column the codec built is delivered as it is; a key prefix is matched literally; `__proto__`
 * is data; `Cache.set` spans name the tiers written.
 */
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/testing/TestClock"
import { Redis } from "ioredis"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as V8 from "node:v8"
import * as Zlib from "node:zlib"
import * as MirrorServer from "../src/mirror/MirrorServer.js"
import { Tif1Config, type Tif1ConfigOverrides } from "../src/schema/Config.js"
import { decodeTable } from "../src/schema/payloads/columns.js"
import { decodeTelemetry } from "../src/schema/payloads/Telemetry.js"
import * as Cache from "../src/services/Cache.js"
import type { EncodedRow, Validators } from "../src/services/cache/CacheStore.js"
import * as RowCodec from "../src/services/cache/RowCodec.js"
import { loadNodeSqlite } from "../src/services/cache/SqliteConnection.js"
import { Fetcher } from "../src/services/Fetcher.js"
import { parseJsonBytes } from "../src/services/internal/json.js"
import { capturedLogs } from "./support/logs.js"
import { type RedisServer, type RedisWithMirror, startRedisWithMirror } from "./support/redis.js"
import { fixturesRoot, stack } from "./support/stack.js"

const race = { year: 2025, gp: "Australian Grand Prix", session: "Race" }
const fixture = (path: string) =>
  parseJsonBytes(Fs.readFileSync(Path.join(fixturesRoot, "2025/Australian Grand Prix/Race", path))).value
const keyOf = (path: string) => `${race.year}/${race.gp}/${race.session}/${path}`
const tempDir = () => Fs.mkdtempSync(Path.join(Os.tmpdir(), "tif1-cache-trust-"))
/** A prefix per test, so tests share the server but not their keys. */
const freshPrefix = () => `t${Crypto.randomBytes(4).toString("hex")}:`
const openDatabase = (dir: string) => new (loadNodeSqlite().DatabaseSync)(Path.join(dir, Cache.databaseFileName))

let redis: RedisServer
let admin: Redis
let mirror: MirrorServer.MirrorServerService
let started: RedisWithMirror

beforeAll(async () => {
  started = await startRedisWithMirror()
  ;({ redis, admin, mirror } = started)
})
afterAll(() => started.stop())

/** The cache layer: memory + SQLite in `cacheDir` (+ Redis when the config names it). */
const cacheIn = (cacheDir: string, config: Tif1ConfigOverrides = {}) =>
  Cache.layerSqlite.pipe(Layer.provide(Tif1Config.layerDefaults({ cacheDir, ...config })))

/** The whole stack on the mirror, with that cache (a new stack each call, as a new process would be). */
const onStack =
  (cacheDir: string, config: Tif1ConfigOverrides, logs: Layer.Layer<never> = Layer.empty) =>
  <A, E>(effect: Effect.Effect<A, E, Fetcher | Cache.Cache>) =>
    effect.pipe(
      Effect.provide(
        stack({ cdns: [MirrorServer.templateFor(mirror.origin)], maxRetries: 0 }, cacheIn(cacheDir, config))
      ),
      Effect.provide(logs)
    )

const fetchAll = (paths: ReadonlyArray<string>) =>
  Fetcher.use((fetcher) => Effect.forEach(paths, (path) => fetcher.json({ ...race, path })))
const stats = Cache.Cache.use((cache) => cache.stats)

/** What any client of the server can compute: CRC-32 seeded with the key's CRC-32 (encoding bit 16). */
const keyedCrc32 = (key: string, body: Uint8Array) => Zlib.crc32(body, Zlib.crc32(key)).toString(16).padStart(8, "0")

/**
 * A row as another client could write it: the V8 bytes of anything, with a valid checksum.
 * Encoding bits: 2 = V8, 8 = CRC-32, 16 = keyed; 4 = numeric columns packed as `Float64Array`.
 */
const forgedRow = (key: string, value: unknown, encoding = 2 | 8 | 16): EncodedRow => {
  const body = V8.serialize(value)
  return { encoding, size: body.byteLength, checksum: keyedCrc32(key, body), body }
}

/**
 * A columnar row (encoding 32 | 16 | 8, `cache/ColumnarBody.ts`) with no columns, as another client
 * could write one: `text` as its text section (stored as `storedText`, deflated when `deflated`),
 * format `version`, and a valid keyed CRC-32 over the header and the decoded text.
 */
const forgedColumnarRow = (
  key: string,
  text: string,
  options: { readonly storedText?: Uint8Array; readonly version?: number } = {}
): EncodedRow => {
  const decoded = Buffer.from(text, "utf8")
  const stored = options.storedText ?? decoded
  const header = Buffer.alloc(24)
  header.writeUInt8(options.version ?? 1, 0)
  header.writeUInt8(options.storedText === undefined ? 0 : 1, 1)
  header.writeUInt32LE(stored.length, 8)
  header.writeUInt32LE(decoded.length, 12)
  const checksum = Zlib.crc32(decoded, Zlib.crc32(header, Zlib.crc32(key))).toString(16).padStart(8, "0")
  // The (empty) column section starts at a multiple of 8.
  const padding = Buffer.alloc((8 - ((24 + stored.length) % 8)) % 8)
  return { encoding: 32 | 16 | 8, size: 24 + decoded.length, checksum, body: Buffer.concat([header, stored, padding]) }
}

const plant = (prefix: string, key: string, row: EncodedRow, storedAt = 1000, validators: Validators = {}) =>
  Effect.promise(() => admin.set(`${prefix}v:${key}`, RowCodec.frameRow(row, storedAt, validators)))

const redisStoredAt = (prefix: string, key: string) =>
  Effect.map(
    Effect.promise(() => admin.getBuffer(`${prefix}v:${key}`)),
    (framed) => framed?.readDoubleBE(RowCodec.framedStoredAtOffset)
  )

const sqliteStoredAt = (cacheDir: string, key: string) => {
  const database = openDatabase(cacheDir)
  const row = database.prepare("SELECT stored_at FROM payloads WHERE key = ?").get(key) as
    | { stored_at: number }
    | undefined
  database.close()
  return row?.stored_at
}

describe("Cache: a shared tier is input", () => {
  it.live(
    "a Redis row stating more than max_response_bytes is dropped before it is inflated; the CDN answers",
    () =>
      Effect.gen(function*() {
        const prefix = freshPrefix()
        const config = { redisUrl: redis.url, redisKeyPrefix: prefix, maxResponseBytes: 64 * 1024 }
        // A real value over the limit, checksum and all (what a process with a larger limit may write).
        const large = yield* RowCodec.encodeRow(keyOf("drivers.json"), { drivers: ["x".repeat(100_000)] })
        yield* plant(prefix, keyOf("drivers.json"), large)
        // The attack: 1 KB on the server stating 255 MiB (the old reader allocated that much to inflate it).
        const body = Zlib.deflateSync(Buffer.alloc(1024))
        yield* plant(prefix, keyOf("corners.json"), { encoding: 31, size: 255 * 1024 * 1024, checksum: "0", body })
        mirror.resetCounters()
        const logs = capturedLogs()
        const result = yield* onStack(tempDir(), config, logs.layer)(
          Effect.all({ values: fetchAll(["drivers.json", "corners.json"]), stats })
        )
        expect(result.values).toEqual([fixture("drivers.json"), fixture("corners.json")])
        expect(mirror.hits(keyOf("drivers.json"))).toBe(1)
        expect(mirror.hits(keyOf("corners.json"))).toBe(1)
        expect(result.stats.redis.corruptValuesDropped).toBe(2)
        const dropped = logs.lines.filter((line) => line.includes("dropping corrupt Redis value"))
        expect(dropped).toHaveLength(2)
        expect(dropped.find((line) => line.includes("corners.json"))).toContain(
          `states ${255 * 1024 * 1024} bytes, over max_response_bytes (65536)`
        )
        expect(dropped.find((line) => line.includes("drivers.json"))).toContain("over max_response_bytes (65536)")
      }),
    30_000
  )

  it.live(
    "a Redis row holding anything but JSON types is dropped, never copied into SQLite; the CDN answers",
    () =>
      Effect.gen(function*() {
        const prefix = freshPrefix()
        const cacheDir = tempDir()
        const config = { redisUrl: redis.url, redisKeyPrefix: prefix }
        // What the review planted: a BigInt, a Date and a Map below the top level (JSON.stringify throws on it).
        yield* plant(
          prefix,
          keyOf("drivers.json"),
          forgedRow(keyOf("drivers.json"), {
            drivers: [{ driver: "VER", points: 1n, born: new Date(0), laps: new Map([[1, 2]]) }]
          })
        )
        // A number wrapper and a hole (an `undefined` to a reader), deeper still.
        yield* plant(
          prefix,
          keyOf("corners.json"),
          forgedRow(keyOf("corners.json"), { corners: [{ Number: new Number(1), Distance: [1, , 3] }] })
        )
        // A typed array where the row does not say it packs numeric columns.
        yield* plant(
          prefix,
          keyOf("VER/laptimes.json"),
          forgedRow(keyOf("VER/laptimes.json"), { time: new Float64Array([1, 2]) })
        )
        mirror.resetCounters()
        const logs = capturedLogs()
        const paths = ["drivers.json", "corners.json", "VER/laptimes.json"]
        const result = yield* onStack(cacheDir, config, logs.layer)(Effect.all({ values: fetchAll(paths), stats }))
        expect(result.values).toEqual(paths.map(fixture))
        for (const path of paths) expect(mirror.hits(keyOf(path)), path).toBe(1)
        expect(result.stats.redis.corruptValuesDropped).toBe(3)
        const dropped = logs.lines.filter((line) => line.includes("dropping corrupt Redis value"))
        expect(dropped.find((line) => line.includes("drivers.json"))).toMatch(
          /not JSON: a BigInt at drivers\.0\.points/
        )
        expect(dropped.find((line) => line.includes("corners.json"))).toMatch(
          /not JSON: a Number object at corners\.0\.Number/
        )
        expect(dropped.find((line) => line.includes("laptimes.json"))).toMatch(/not JSON: a Float64Array at time/)
        // The server is emptied: what the process kept in SQLite is the CDN's file, not the planted one.
        yield* Effect.promise(() => admin.flushall())
        const offline = yield* onStack(cacheDir, { offlineMode: true })(fetchAll(paths))
        expect(offline).toEqual(paths.map(fixture))
      }),
    30_000
  )

  it.live(
    "a forged columnar Redis row (a deflate bomb, an unknown format, no object) is dropped, never copied down",
    () =>
      Effect.gen(function*() {
        const prefix = freshPrefix()
        const cacheDir = tempDir()
        const config = { redisUrl: redis.url, redisKeyPrefix: prefix }
        // Its text states 17 bytes and inflates to 16 MiB: decoding stops at the stated length.
        const bomb = Zlib.deflateSync(Buffer.alloc(16 * 1024 * 1024, 0x20))
        yield* plant(
          prefix,
          keyOf("drivers.json"),
          forgedColumnarRow(keyOf("drivers.json"), `[{"drivers":[]},[]]`, {
            storedText: bomb
          })
        )
        yield* plant(
          prefix,
          keyOf("corners.json"),
          forgedColumnarRow(keyOf("corners.json"), `[{"corners":[]},[]]`, { version: 9 })
        )
        yield* plant(prefix, keyOf("VER/laptimes.json"), forgedColumnarRow(keyOf("VER/laptimes.json"), `[[1],[]]`))
        mirror.resetCounters()
        const logs = capturedLogs()
        const paths = ["drivers.json", "corners.json", "VER/laptimes.json"]
        const result = yield* onStack(cacheDir, config, logs.layer)(Effect.all({ values: fetchAll(paths), stats }))
        expect(result.values).toEqual(paths.map(fixture))
        for (const path of paths) expect(mirror.hits(keyOf(path)), path).toBe(1)
        expect(result.stats.redis.corruptValuesDropped).toBe(3)
        const dropped = logs.lines.filter((line) => line.includes("dropping corrupt Redis value"))
        expect(dropped.find((line) => line.includes("drivers.json"))).toContain("cannot decompress the text section")
        expect(dropped.find((line) => line.includes("corners.json"))).toContain(
          "columnar format 9, not one this version reads"
        )
        expect(dropped.find((line) => line.includes("laptimes.json"))).toContain(
          "the stored value is not a JSON object"
        )
        // What this process kept in SQLite is the CDN's file, not the planted one.
        yield* Effect.promise(() => admin.flushall())
        expect(yield* onStack(cacheDir, { offlineMode: true })(fetchAll(paths))).toEqual(paths.map(fixture))
      }),
    30_000
  )

  it.live(
    "a Redis row naming one object twice is dropped: V8 keeps references, JSON has none",
    () =>
      Effect.gen(function*() {
        const prefix = freshPrefix()
        // 20 levels of an object naming the next one twice: 300 bytes that are a million objects to walk.
        let bottom: object = { driver: "VER" }
        for (let level = 0; level < 20; level++) bottom = { left: bottom, right: bottom }
        yield* plant(prefix, keyOf("drivers.json"), forgedRow(keyOf("drivers.json"), { drivers: [bottom] }))
        // One packed column named three times: unpacked, three arrays from the bytes of one.
        const column = new Float64Array(10_000)
        yield* plant(
          prefix,
          keyOf("VER/1_tel.json"),
          forgedRow(keyOf("VER/1_tel.json"), { tel: { time: column, rpm: column, speed: column } }, 2 | 4 | 8 | 16)
        )
        const loop: Record<string, unknown> = { Number: 1 }
        loop.self = loop
        yield* plant(prefix, keyOf("corners.json"), forgedRow(keyOf("corners.json"), { corners: [loop] }))
        mirror.resetCounters()
        const logs = capturedLogs()
        const paths = ["drivers.json", "VER/1_tel.json", "corners.json"]
        const result = yield* onStack(tempDir(), { redisUrl: redis.url, redisKeyPrefix: prefix }, logs.layer)(
          Effect.all({ values: fetchAll(paths), stats })
        )
        expect(result.values).toEqual(paths.map(fixture))
        for (const path of paths) expect(mirror.hits(keyOf(path)), path).toBe(1)
        const dropped = logs.lines.filter((line) => line.includes("dropping corrupt Redis value"))
        expect(dropped.find((line) => line.includes("drivers.json"))).toMatch(
          /not JSON: a second reference to one object at drivers\.0(\.left)+\.right/
        )
        expect(dropped.find((line) => line.includes("1_tel.json"))).toContain(
          "not JSON: a second reference to one object at tel.rpm"
        )
        expect(dropped.find((line) => line.includes("corners.json"))).toContain(
          "not JSON: a second reference to one object at corners.0.self"
        )
      }),
    30_000
  )
})

describe("Cache: a 304 restarts only the copies the request named", () => {
  it.effect("touch compares the stored validators in every tier (memory, SQLite, Redis)", () =>
    Effect.gen(function*() {
      const prefix = freshPrefix()
      const cacheDir = tempDir()
      const key = keyOf("drivers.json")
      const current = { etag: "\"v2\"", lastModified: "Sat, 01 Mar 2025 10:00:00 GMT" }
      yield* Effect.gen(function*() {
        const cache = yield* Cache.Cache
        yield* TestClock.adjust("1 second")
        yield* cache.set(key, { drivers: ["v2"] }, current)
        // Another process stored the lagging mirror's copy in Redis since.
        yield* plant(prefix, key, yield* RowCodec.encodeRow(key, { drivers: ["v1"] }), 1000, { etag: "\"v1\"" })
        yield* TestClock.adjust("4 seconds")
        yield* cache.touch(key, current)
        const memory = yield* cache.get(key)
        expect(memory._tag === "Hit" && [memory.tier, memory.storedAt]).toEqual(["memory", 5000])
        expect(sqliteStoredAt(cacheDir, key)).toBe(5000)
        expect(yield* redisStoredAt(prefix, key)).toBe(1000)
        // The same ETag with another Last-Modified is another copy: nothing restarts.
        yield* TestClock.adjust("1 second")
        yield* cache.touch(key, { etag: "\"v2\"" })
        expect(sqliteStoredAt(cacheDir, key)).toBe(5000)
        // A 304 for the lagging copy restarts the lagging copy alone.
        yield* TestClock.adjust("1 second")
        yield* cache.touch(key, { etag: "\"v1\"" })
        expect(yield* redisStoredAt(prefix, key)).toBe(7000)
        expect(sqliteStoredAt(cacheDir, key)).toBe(5000)
        const again = yield* cache.get(key)
        expect(again._tag === "Hit" && again.storedAt).toBe(5000)
        // No validators sent: no conditional request could have been answered 304; nothing restarts.
        yield* TestClock.adjust("1 second")
        yield* cache.touch(key, {})
        expect(yield* redisStoredAt(prefix, key)).toBe(7000)
        expect(sqliteStoredAt(cacheDir, key)).toBe(5000)
      }).pipe(Effect.provide(cacheIn(cacheDir, { redisUrl: redis.url, redisKeyPrefix: prefix })))
    }), 30_000)

  it.live(
    "a revalidation answered 304 by the CDN leaves another process's different copy in Redis as old as it was",
    () =>
      Effect.gen(function*() {
        const prefix = freshPrefix()
        const cacheDir = tempDir()
        const key = keyOf("drivers.json")
        mirror.resetCounters()
        yield* onStack(cacheDir, { redisUrl: redis.url, redisKeyPrefix: prefix })(
          Effect.gen(function*() {
            yield* fetchAll(["drivers.json"])
            yield* plant(prefix, key, yield* RowCodec.encodeRow(key, { drivers: [] }), 1000, { etag: "\"lagging\"" })
            const database = openDatabase(cacheDir)
            database.prepare("UPDATE payloads SET stored_at = 1000 WHERE key = ?").run(key)
            database.close()
            const value = yield* Fetcher.use((fetcher) =>
              fetcher.json({ ...race, path: "drivers.json" }, { refresh: "revalidate" })
            )
            expect(value).toEqual(fixture("drivers.json"))
          })
        )
        expect(mirror.hits(key)).toBe(2) // the fetch, then the revalidation (304)
        expect(sqliteStoredAt(cacheDir, key)).toBeGreaterThan(1000) // this process's copy, confirmed
        expect(yield* redisStoredAt(prefix, key)).toBe(1000) // the other copy: not confirmed by that 304
      }),
    30_000
  )
})

describe("Cache: numeric columns read back from a row", () => {
  it.live(
    "are delivered by the decoders as they are, without a second pass; every other array is checked",
    () =>
      Effect.gen(function*() {
        const cacheDir = tempDir()
        const key = keyOf("VER/1_tel.json")
        yield* Cache.Cache.use((cache) => cache.set(key, fixture("VER/1_tel.json") as Cache.JsonObject)).pipe(
          Effect.provide(cacheIn(cacheDir))
        )
        /** The file from the SQLite row, on a new stack. */
        const found = yield* Cache.Cache.use((cache) => cache.get(key)).pipe(Effect.provide(cacheIn(cacheDir)))
        if (found._tag !== "Hit" || found.tier !== "sqlite") throw new Error(`expected a SQLite hit, got ${found._tag}`)
        const read = found.value as { tel: Record<string, ReadonlyArray<unknown>> }
        const decoded = decodeTelemetry(read)
        if ("error" in decoded) throw new Error(decoded.error)
        // The codec's own arrays, numbers by construction: delivered, not copied or walked again.
        expect(decoded.value.tel.speed).toBe(read.tel.speed)
        expect(decoded.value.tel.speed).toEqual((fixture("VER/1_tel.json") as any).tel.speed)
        // An array built anywhere else (a caller's copy) is checked value by value.
        const copied = [...read.tel.speed!]
        copied[10] = "fast"
        expect(decodeTelemetry({ tel: { ...read.tel, speed: copied } })).toEqual({
          error: "telemetry: column \"speed\" index 10: expected a number, got \"fast\""
        })
        const holed = [...read.tel.rpm!]
        delete holed[3]
        expect(decodeTelemetry({ tel: { ...read.tel, rpm: holed } })).toEqual({
          error: "telemetry: column \"rpm\" index 3: expected a number, got undefined"
        })
        // A column that allows missing values: "None" in a copy decodes to null, in a copy of that.
        const spec = { name: "table", columns: { speed: "number?" } } as const
        const missing: Array<unknown> = [...read.tel.speed!]
        missing[0] = "None"
        const withNull = decodeTable({ speed: missing }, spec) as { value: { speed: ReadonlyArray<unknown> } }
        expect(withNull.value.speed[0]).toBeNull()
        expect(withNull.value.speed).not.toBe(missing)
        expect((decodeTable({ speed: read.tel.speed }, spec) as typeof withNull).value.speed).toBe(read.tel.speed)
      }),
    30_000
  )
})

describe("Cache: keys and values as given", () => {
  it.live("a key prefix with glob characters clears its own keys and no other fleet's", () =>
    Effect.gen(function*() {
      const key = keyOf("drivers.json")
      const pairs = [["team?:", "teamA:"], ["fleet[1]*:", "fleet1x:"], ["a\\:", "a\\\\:"]] as const
      for (const [glob, neighbour] of pairs) {
        for (const prefix of [glob, neighbour]) {
          yield* Cache.Cache.use((cache) => Effect.andThen(cache.set(key, { prefix }), cache.setMissing(`${key}.gone`)))
            .pipe(Effect.provide(Cache.layerMemory.pipe(
              Layer.provide(Tif1Config.layerDefaults({ redisUrl: redis.url, redisKeyPrefix: prefix }))
            )))
        }
        const clear = (scope: Cache.CacheScope | Cache.SessionScope) =>
          Cache.Cache.use((cache) => cache.invalidate(scope)).pipe(Effect.provide(Cache.layerMemory.pipe(
            Layer.provide(Tif1Config.layerDefaults({ redisUrl: redis.url, redisKeyPrefix: glob }))
          )))
        yield* clear(race)
        yield* clear("all")
        const exists = (name: string) => Effect.promise(() => admin.exists(name))
        expect(yield* exists(`${glob}v:${key}`), glob).toBe(0)
        expect(yield* exists(`${glob}m:${key}.gone`), glob).toBe(0)
        expect(yield* exists(`${neighbour}v:${key}`), neighbour).toBe(1)
        expect(yield* exists(`${neighbour}m:${key}.gone`), neighbour).toBe(1)
      }
    }), 30_000)

  it.live(
    "a \"__proto__\" key comes back from SQLite and Redis as data, and no prototype changes",
    () =>
      Effect.gen(function*() {
        const prefix = freshPrefix()
        const cacheDir = tempDir()
        const text = `{"__proto__":{"polluted":"yes"},"drivers":[{"__proto__":{"team":"x"},"driver":"VER"}],` +
          `"tel":{"__proto__":[1.5,2.5],"Speed":[1,2]}}`
        const value = JSON.parse(text) as Cache.JsonObject
        const key = keyOf("drivers.json")
        const config = { redisUrl: redis.url, redisKeyPrefix: prefix }
        yield* Cache.Cache.use((cache) => cache.set(key, value)).pipe(Effect.provide(cacheIn(cacheDir, config)))
        const fromSqlite = yield* Cache.Cache.use((cache) => cache.get(key)).pipe(Effect.provide(cacheIn(cacheDir)))
        const fromRedis = yield* Cache.Cache.use((cache) => cache.get(key)).pipe(
          Effect.provide(Cache.layerMemory.pipe(Layer.provide(Tif1Config.layerDefaults(config))))
        )
        for (const [tier, found] of [["sqlite", fromSqlite], ["redis", fromRedis]] as const) {
          expect(found._tag === "Hit" && found.tier).toBe(tier)
          const back = (found as Extract<Cache.CacheLookup, { _tag: "Hit" }>).value as any
          expect(JSON.stringify(back), tier).toBe(text)
          expect(Object.hasOwn(back, "__proto__"), tier).toBe(true)
          expect(Object.getPrototypeOf(back), tier).toBe(Object.prototype)
          expect(back.polluted, tier).toBeUndefined()
          expect(Object.getPrototypeOf(back.drivers[0]), tier).toBe(Object.prototype)
          expect(back.drivers[0].team, tier).toBeUndefined()
        }
        expect(({} as any).polluted).toBeUndefined()
        expect(({} as any).team).toBeUndefined()
      }),
    30_000
  )

  it.live("Cache.set spans name the tiers written", () =>
    Effect.gen(function*() {
      const exporter = new InMemorySpanExporter()
      const otel = NodeSdk.layer(() => ({
        resource: { serviceName: "tif1-test" },
        spanProcessor: new SimpleSpanProcessor(exporter)
      }))
      const config = { redisUrl: redis.url, redisKeyPrefix: freshPrefix(), redisMaxValueBytes: 2000 }
      const spans = yield* Effect.gen(function*() {
        const cache = yield* Cache.Cache
        yield* cache.set(keyOf("drivers.json"), { drivers: [] })
        // Random text does not compress: over redis_max_value_bytes, kept in the local tiers.
        yield* cache.set(keyOf("corners.json"), { corners: Crypto.randomBytes(4000).toString("hex") })
        return exporter.getFinishedSpans().filter((span) => span.name === "Cache.set")
      }).pipe(Effect.provide(Layer.merge(cacheIn(tempDir(), config), otel)))
      expect(spans.map((span) => [span.attributes["tif1.file"], span.attributes["tif1.cache.tiers"]])).toEqual([
        [keyOf("drivers.json"), ["memory", "sqlite", "redis"]],
        [keyOf("corners.json"), ["memory", "sqlite"]]
      ])
    }), 30_000)
})
