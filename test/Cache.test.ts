import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/testing/TestClock"
import * as ChildProcess from "node:child_process"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as V8 from "node:v8"
import * as Zlib from "node:zlib"
import * as MirrorServer from "../src/mirror/MirrorServer.js"
import { Tif1Config } from "../src/schema/Config.js"
import * as Cache from "../src/services/Cache.js"
import { loadNodeSqlite } from "../src/services/cache/SqliteConnection.js"
import { Fetcher } from "../src/services/Fetcher.js"
import { deepFreeze, parseJsonBytes } from "../src/services/internal/json.js"
import { valueFor } from "./support/cacheChild.js"
import { fixturesRoot, stack } from "./support/stack.js"

const race = { year: 2025, gp: "Australian Grand Prix", session: "Race" }
const fixtureText = (path: string) =>
  Fs.readFileSync(Path.join(fixturesRoot, "2025/Australian Grand Prix/Race", path), "utf8")
const tempDir = () => Fs.mkdtempSync(Path.join(Os.tmpdir(), "tif1-cache-"))
const sqliteCache = (cacheDir: string) => Cache.layerSqlite.pipe(Layer.provide(Tif1Config.layerDefaults({ cacheDir })))
/** The cache's database file in `dir`, opened directly (`node:sqlite`, loaded as the cache loads it). */
const openDatabase = (dir: string, options: { readonly readOnly?: boolean } = {}) =>
  new (loadNodeSqlite().DatabaseSync)(Path.join(dir, Cache.databaseFileName), options)

/** `Fetcher.json` on a new stack each call (as a new process would be) with a SQLite cache in `cacheDir`. */
const fetchOnNewStack = (origin: string, cacheDir: string) => (path: string) =>
  Fetcher.use((f) => f.json({ ...race, path })).pipe(
    Effect.provide(stack({ cdns: [origin] }, sqliteCache(cacheDir)))
  )

describe("Cache", () => {
  it.live("a second json makes no HTTP request; a new layer on the same dir serves from SQLite", () =>
    Effect.gen(function*() {
      const cacheDir = tempDir()
      const mirror = yield* MirrorServer.make({ root: fixturesRoot })
      const fetchTwice = Effect.gen(function*() {
        const fetcher = yield* Fetcher
        const first = yield* fetcher.json({ ...race, path: "VER/1_tel.json" })
        const second = yield* fetcher.json({ ...race, path: "VER/1_tel.json" })
        expect(second).toBe(first)
        return [first, yield* Cache.Cache.use((c) => c.stats)] as const
      })
      const [value, stats] = yield* fetchTwice.pipe(
        Effect.provide(stack({ cdns: [mirror.origin] }, sqliteCache(cacheDir)))
      )
      expect(mirror.hits()).toBe(1)
      expect(stats.memory.hits).toBe(1)
      expect(stats.sqlite.entries).toBe(1)
      expect(JSON.stringify(value)).toBe(JSON.stringify(JSON.parse(fixtureText("VER/1_tel.json"))))

      const [again, fresh] = yield* fetchTwice.pipe(
        Effect.provide(stack({ cdns: [mirror.origin] }, sqliteCache(cacheDir)))
      )
      expect(mirror.hits()).toBe(1)
      expect(fresh.sqlite.hits).toBe(1)
      expect(again).toEqual(value)
    }))

  it("deepFreeze freezes objects and non-numeric arrays, and leaves numeric columns packed", () => {
    const value = deepFreeze({ tel: { speed: [1.5, 2], gear: [1, 2] }, drivers: [{ driver: "VER" }], tags: ["a"] })
    expect(Object.isFrozen(value)).toBe(true)
    expect(Object.isFrozen(value.tel)).toBe(true)
    expect(Object.isFrozen(value.drivers)).toBe(true)
    expect(Object.isFrozen(value.drivers[0])).toBe(true)
    expect(Object.isFrozen(value.tags)).toBe(true)
    expect(Object.isFrozen(value.tel.speed)).toBe(false)
    expect(Object.isFrozen(value.tel.gear)).toBe(false)
  })

  it("parseJsonBytes skips a UTF-8 byte order mark and decodes multi-byte text", () => {
    const body = new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode(`{"gp":"São Paulo","x":NaN}`)])
    expect(parseJsonBytes(body)).toEqual({ value: { gp: "São Paulo", x: null } })
  })

  it.live("values handed out are frozen", () =>
    Effect.gen(function*() {
      const mirror = yield* MirrorServer.make({ root: fixturesRoot })
      const value = yield* Fetcher.use((f) => f.json({ ...race, path: "drivers.json" })).pipe(
        Effect.provide(stack({ cdns: [mirror.origin] }, Cache.layerMemory))
      )
      expect(() => {
        ;(value as any).drivers = []
      }).toThrow(TypeError)
      expect(() => {
        ;(value as any).drivers[0].team = "Other"
      }).toThrow(TypeError)
    }))

  it.effect("the memory tier evicts the least recently used (reads count)", () =>
    Effect.gen(function*() {
      const cache = yield* Cache.make({
        memoryMaxItems: 2,
        memoryTelemetryMaxItems: 1,
        missingTtlDays: 7
      })
      yield* cache.set("a.json", { a: 1 })
      yield* cache.set("b.json", { b: 1 })
      yield* cache.get("a.json") // a is now the most recent
      yield* cache.set("c.json", { c: 1 })
      expect((yield* cache.get("b.json"))._tag).toBe("Miss")
      expect((yield* cache.get("a.json"))._tag).toBe("Hit")
      expect((yield* cache.get("c.json"))._tag).toBe("Hit")
      // Telemetry has its own size: it does not push JSON files out.
      yield* cache.set("VER/1_tel.json", { tel: 1 })
      yield* cache.set("VER/2_tel.json", { tel: 2 })
      expect((yield* cache.get("VER/1_tel.json"))._tag).toBe("Miss")
      expect((yield* cache.get("a.json"))._tag).toBe("Hit")
    }))

  it.effect("negative entries last missing_payloads_ttl_days (TestClock), memory and SQLite", () =>
    Effect.gen(function*() {
      for (
        const layer of [
          Cache.layerMemory.pipe(Layer.provide(Tif1Config.layerDefaults({ missingPayloadsTtlDays: 7 }))),
          sqliteCache(tempDir())
        ]
      ) {
        yield* Effect.gen(function*() {
          const cache = yield* Cache.Cache
          yield* cache.setMissing("x/weather.json")
          expect((yield* cache.stats).negative.entries).toBe(1)
          yield* TestClock.adjust("6 days")
          expect((yield* cache.get("x/weather.json"))._tag).toBe("Missing")
          yield* TestClock.adjust("1 days")
          expect((yield* cache.get("x/weather.json"))._tag).toBe("Miss")
          yield* cache.setMissing("x/rcm.json")
          yield* cache.set("x/rcm.json", { ok: true })
          // A later successful write clears the negative entry (looked up past the memory tier).
          yield* cache.invalidate("memory")
          expect((yield* cache.get("x/rcm.json"))._tag).not.toBe("Missing")
          yield* cache.setMissing("x/corners.json")
          yield* cache.invalidate("json")
          expect((yield* cache.get("x/corners.json"))._tag).toBe("Miss")
        }).pipe(Effect.provide(layer))
      }
    }))

  it.live("a negative hit raises DataNotFoundError with no network", () =>
    Effect.gen(function*() {
      const mirror = yield* MirrorServer.make({ root: fixturesRoot })
      yield* Effect.gen(function*() {
        const fetcher = yield* Fetcher
        expect((yield* Effect.flip(fetcher.json({ ...race, path: "weather.json" })))._tag).toBe("DataNotFoundError")
        expect((yield* Effect.flip(fetcher.json({ ...race, path: "weather.json" })))._tag).toBe("DataNotFoundError")
      }).pipe(Effect.provide(stack({ cdns: [mirror.origin] }, sqliteCache(tempDir()))))
      expect(mirror.hits()).toBe(1)
    }))

  it.live("a corrupt row is a miss, is replaced, and the data is correct", () =>
    Effect.gen(function*() {
      const cacheDir = tempDir()
      const mirror = yield* MirrorServer.make({ root: fixturesRoot })
      const fetchOnce = fetchOnNewStack(mirror.origin, cacheDir)
      yield* fetchOnce("VER/4_tel.json") // large: stored deflated
      yield* fetchOnce("drivers.json") // small: stored raw
      const database = openDatabase(cacheDir)
      database.prepare("UPDATE payloads SET body = substr(body, 1, length(body) - 10) || zeroblob(10)").run()
      // A raw row whose bytes still parse as JSON but are not what was stored: the checksum catches it.
      database.prepare(
        "UPDATE payloads SET body = CAST('{\"drivers\":[]}' AS BLOB), size = 14 WHERE key LIKE '%drivers.json'"
      ).run()
      database.close()
      const hitsBefore = mirror.hits()
      const telemetry = yield* fetchOnce("VER/4_tel.json")
      const drivers = yield* fetchOnce("drivers.json")
      expect(mirror.hits()).toBe(hitsBefore + 2)
      expect(telemetry).toEqual(JSON.parse(fixtureText("VER/4_tel.json")))
      expect(drivers).toEqual(JSON.parse(fixtureText("drivers.json")))
      // Replaced: a third layer reads both from SQLite without the network.
      yield* fetchOnce("VER/4_tel.json")
      yield* fetchOnce("drivers.json")
      expect(mirror.hits()).toBe(hitsBefore + 2)
    }))

  it.live("rows are columnar (numeric columns as typed bytes); rows of earlier versions still read", () =>
    Effect.gen(function*() {
      const cacheDir = tempDir()
      const mirror = yield* MirrorServer.make({ root: fixturesRoot })
      const fetchOnce = fetchOnNewStack(mirror.origin, cacheDir)
      yield* fetchOnce("VER/5_tel.json")
      yield* fetchOnce("drivers.json")
      const database = openDatabase(cacheDir)
      const encodings = Object.fromEntries(
        (database.prepare("SELECT key, encoding FROM payloads").all() as Array<{ key: string; encoding: number }>)
          .map((row) => [row.key.slice(row.key.lastIndexOf("/") + 1), row.encoding])
      )
      // 32 = a columnar body, 16 = the checksum covers the key, 8 = CRC-32 checksum (rows of 0.2:
      // 30 and 31, in CacheRowFormat.test.ts)
      expect(encodings).toEqual({ "5_tel.json": 56, "drivers.json": 56 })
      const checksums = database.prepare("SELECT checksum FROM payloads").all() as Array<{ checksum: string }>
      expect(checksums.every((row) => /^[0-9a-f]{8}$/.test(row.checksum))).toBe(true)
      // Earlier versions' rows, with SHA-1 checksums: the JSON text, deflated (1) or raw (0), NaN
      // and all; plain V8 (3).
      const laps = Buffer.from(fixtureText("VER/laptimes.json"))
      const corners = Buffer.from(fixtureText("corners.json"))
      const sha1 = (bytes: Buffer) => Crypto.createHash("sha1").update(bytes).digest("base64")
      const insert = database.prepare(
        "INSERT INTO payloads (key, encoding, size, checksum, body, stored_at) VALUES (?, ?, ?, ?, ?, 0)"
      )
      insert.run(
        `2025/Australian Grand Prix/Race/VER/laptimes.json`,
        1,
        laps.length,
        sha1(laps),
        Zlib.deflateSync(laps)
      )
      insert.run(`2025/Australian Grand Prix/Race/corners.json`, 0, corners.length, sha1(corners), corners)
      const plainV8 = V8.serialize(JSON.parse(fixtureText("VER/6_tel.json")))
      insert.run(
        `2025/Australian Grand Prix/Race/VER/6_tel.json`,
        3,
        plainV8.length,
        sha1(plainV8),
        Zlib.deflateSync(plainV8)
      )
      // The previous version's rows: CRC-32 over the body alone (14).
      const weatherless = V8.serialize({ drivers: [{ driver: "VER", team: "Red Bull Racing" }] })
      insert.run(
        `2025/Australian Grand Prix/Qualifying/drivers.json`,
        14,
        weatherless.length,
        Zlib.crc32(weatherless).toString(16).padStart(8, "0"),
        weatherless
      )
      database.close()
      const hitsBefore = mirror.hits()
      expect(
        yield* Fetcher.use((f) => f.json({ ...race, session: "Qualifying", path: "drivers.json" })).pipe(
          Effect.provide(stack({ cdns: [mirror.origin] }, sqliteCache(cacheDir)))
        )
      ).toEqual({ drivers: [{ driver: "VER", team: "Red Bull Racing" }] })
      expect(yield* fetchOnce("VER/5_tel.json")).toEqual(JSON.parse(fixtureText("VER/5_tel.json")))
      expect(yield* fetchOnce("VER/6_tel.json")).toEqual(JSON.parse(fixtureText("VER/6_tel.json")))
      const lapTable = yield* fetchOnce("VER/laptimes.json")
      expect(yield* fetchOnce("corners.json")).toEqual(JSON.parse(fixtureText("corners.json")))
      expect(mirror.hits()).toBe(hitsBefore)
      expect((lapTable.time as Array<number | null>)[1]).toBeNull() // the file's bare NaN
    }))

  it.live("a database of the previous schema is migrated in place: its rows read, without validators", () =>
    Effect.gen(function*() {
      const cacheDir = tempDir()
      const database = openDatabase(cacheDir)
      database.exec(`CREATE TABLE schema_version (version INTEGER NOT NULL);
        INSERT INTO schema_version (version) VALUES (1);
        CREATE TABLE payloads (key TEXT PRIMARY KEY, encoding INTEGER NOT NULL, size INTEGER NOT NULL,
          checksum TEXT NOT NULL, body BLOB NOT NULL, stored_at INTEGER NOT NULL);
        CREATE TABLE missing (key TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);`)
      const body = V8.serialize({ drivers: [{ driver: "NOR", team: "McLaren" }] })
      database.prepare("INSERT INTO payloads VALUES (?, 14, ?, ?, ?, 1234)").run(
        "2025/Australian Grand Prix/Race/drivers.json",
        body.length,
        Zlib.crc32(body).toString(16).padStart(8, "0"),
        body
      )
      database.close()
      const found = yield* Cache.Cache.use((cache) => cache.get("2025/Australian Grand Prix/Race/drivers.json")).pipe(
        Effect.provide(sqliteCache(cacheDir))
      )
      expect(found).toMatchObject({
        _tag: "Hit",
        tier: "sqlite",
        storedAt: 1234,
        validators: {},
        value: { drivers: [{ driver: "NOR", team: "McLaren" }] }
      })
      const migrated = openDatabase(cacheDir, { readOnly: true })
      const version = migrated.prepare("SELECT version FROM schema_version").get() as { version: number }
      const columns = (migrated.prepare("PRAGMA table_info(payloads)").all() as Array<{ name: string }>).map((c) =>
        c.name
      )
      migrated.close()
      expect(version.version).toBe(2)
      expect(columns).toEqual(["key", "encoding", "size", "checksum", "body", "stored_at", "etag", "last_modified"])
    }))

  it.live("two rows with their values swapped are both misses: the checksum covers the key", () =>
    Effect.gen(function*() {
      const cacheDir = tempDir()
      const mirror = yield* MirrorServer.make({ root: fixturesRoot })
      const fetchOnce = fetchOnNewStack(mirror.origin, cacheDir)
      yield* fetchOnce("VER/laptimes.json")
      yield* fetchOnce("NOR/laptimes.json")
      const database = openDatabase(cacheDir)
      const row = database.prepare("SELECT encoding, size, checksum, body FROM payloads WHERE key = ?")
      type Row = { encoding: number; size: number; checksum: string; body: Uint8Array }
      const ver = row.get(`2025/Australian Grand Prix/Race/VER/laptimes.json`) as Row
      const nor = row.get(`2025/Australian Grand Prix/Race/NOR/laptimes.json`) as Row
      const put = database.prepare("UPDATE payloads SET encoding = ?, size = ?, checksum = ?, body = ? WHERE key = ?")
      put.run(nor.encoding, nor.size, nor.checksum, nor.body, `2025/Australian Grand Prix/Race/VER/laptimes.json`)
      put.run(ver.encoding, ver.size, ver.checksum, ver.body, `2025/Australian Grand Prix/Race/NOR/laptimes.json`)
      database.close()
      const hitsBefore = mirror.hits()
      const parsed = (path: string) => JSON.parse(fixtureText(path).replaceAll("NaN", "null"))
      expect(yield* fetchOnce("VER/laptimes.json")).toEqual(parsed("VER/laptimes.json"))
      expect(yield* fetchOnce("NOR/laptimes.json")).toEqual(parsed("NOR/laptimes.json"))
      expect(mirror.hits()).toBe(hitsBefore + 2) // both came from the network again
    }))

  it.live("a value comes back from SQLite exactly: -0, infinities, nested, mixed and empty arrays", () =>
    Effect.gen(function*() {
      const cacheDir = tempDir()
      const key = "2025/Australian Grand Prix/Race/VER/99_tel.json"
      const value = {
        tel: { speed: [0, -0, 1.5, 1e308, Infinity, -Infinity, 2 ** 53], brake: [true, false], gaps: [1, null, 2] },
        nested: [[1, 2], [3], []],
        empty: [],
        label: "VER",
        deep: { column: [0.1, 0.2], strings: ["a", "b"] }
      }
      yield* Cache.Cache.use((cache) => cache.set(key, value)).pipe(Effect.provide(sqliteCache(cacheDir)))
      const found = yield* Cache.Cache.use((cache) => cache.get(key)).pipe(
        Effect.provide(sqliteCache(cacheDir))
      )
      expect(found._tag === "Hit" && found.tier).toBe("sqlite")
      const back = (found as Extract<Cache.CacheLookup, { _tag: "Hit" }>).value as typeof value
      expect(back).toEqual(value)
      expect(Object.is(back.tel.speed[1], -0)).toBe(true)
      expect(Array.isArray(back.tel.speed) && Array.isArray(back.nested[0])).toBe(true)
    }))

  it.live("a failed or invalid fetch writes nothing", () =>
    Effect.gen(function*() {
      const cacheDir = tempDir()
      const failing = yield* MirrorServer.make({
        root: fixturesRoot,
        faults: { rules: [{ match: "drivers", status: 503 }, { match: "corners", truncate: true }] }
      })
      const stats = yield* Effect.gen(function*() {
        const fetcher = yield* Fetcher
        yield* Effect.flip(fetcher.json({ ...race, path: "drivers.json" }))
        yield* Effect.flip(fetcher.json({ ...race, path: "corners.json" }))
        return yield* Cache.Cache.use((c) => c.stats)
      }).pipe(Effect.provide(stack({ cdns: [failing.origin], maxRetries: 0 }, sqliteCache(cacheDir))))
      expect(stats.sqlite.entries).toBe(0)
      expect(stats.memory.entries).toBe(0)
    }))

  it.live("ci_mode neither reads nor writes", () =>
    Effect.gen(function*() {
      const cacheDir = tempDir()
      const mirror = yield* MirrorServer.make({ root: fixturesRoot })
      const ciCache = Cache.layer.pipe(Layer.provide(Tif1Config.layerDefaults({ cacheDir, ciMode: true })))
      yield* Fetcher.use((f) =>
        Effect.zip(f.json({ ...race, path: "drivers.json" }), f.json({ ...race, path: "drivers.json" }))
      ).pipe(
        Effect.provide(stack({ cdns: [mirror.origin] }, ciCache))
      )
      expect(mirror.hits()).toBe(2)
      expect(Fs.existsSync(Path.join(cacheDir, Cache.databaseFileName))).toBe(false)
    }))

  it.live("offline mode serves the cache and turns a miss into NetworkError (offline)", () =>
    Effect.gen(function*() {
      const cacheDir = tempDir()
      const mirror = yield* MirrorServer.make({ root: fixturesRoot })
      yield* Fetcher.use((f) => f.json({ ...race, path: "drivers.json" })).pipe(
        Effect.provide(stack({ cdns: [mirror.origin] }, sqliteCache(cacheDir)))
      )
      const [hit, miss] = yield* Fetcher.use((f) =>
        Effect.zip(f.json({ ...race, path: "drivers.json" }), Effect.flip(f.json({ ...race, path: "corners.json" })))
      ).pipe(
        Effect.provide(stack({ cdns: [mirror.origin], offlineMode: true }, sqliteCache(cacheDir)))
      )
      expect(hit).toEqual(JSON.parse(fixtureText("drivers.json")))
      expect(miss._tag).toBe("NetworkError")
      expect((miss as { kind: string }).kind).toBe("offline")
      expect(mirror.hits()).toBe(1)
    }))

  it.effect("invalidate clears the scope asked for", () =>
    Effect.gen(function*() {
      const cache = yield* Cache.Cache
      yield* cache.set("a/drivers.json", { d: 1 })
      yield* cache.set("a/VER/1_tel.json", { t: 1 })
      yield* cache.invalidate("telemetry")
      expect((yield* cache.get("a/VER/1_tel.json"))._tag).toBe("Miss")
      expect((yield* cache.get("a/drivers.json"))._tag).toBe("Hit")
      yield* cache.invalidate("memory")
      expect((yield* cache.get("a/drivers.json"))._tag).toBe("Hit")
      expect((yield* cache.stats).sqlite.hits).toBe(1)
      yield* cache.invalidate("all")
      expect((yield* cache.get("a/drivers.json"))._tag).toBe("Miss")
    }).pipe(Effect.provide(sqliteCache(tempDir()))))

  const runChild = (dir: string, prefix: string, count: number, readKeys: Array<string> = []) =>
    ChildProcess.spawn(
      process.execPath,
      ["--import", "tsx", "test/support/cacheChild.ts", dir, prefix, String(count)],
      {
        env: { ...process.env, READ_KEYS: readKeys.join(",") },
        stdio: ["ignore", "pipe", "pipe"]
      }
    )

  const outputOf = (child: ChildProcess.ChildProcess) =>
    new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      let out = ""
      let err = ""
      child.stdout!.on("data", (chunk) => (out += chunk))
      child.stderr!.on("data", (chunk) => (err += chunk))
      child.on("close", (code) => resolve({ code, out, err }))
    })

  it.live("two processes writing and reading one file concurrently lose nothing", () =>
    Effect.promise(async () => {
      const dir = tempDir()
      const keysA = Array.from({ length: 150 }, (_, i) => `a-${i}.json`)
      const keysB = Array.from({ length: 150 }, (_, i) => `b-${i}.json`)
      const [a, b] = await Promise.all([
        outputOf(runChild(dir, "a", 150, keysB.slice(0, 20))),
        outputOf(runChild(dir, "b", 150, keysA.slice(0, 20)))
      ])
      expect(a.err).toBe("")
      expect(b.err).toBe("")
      expect([a.code, b.code]).toEqual([0, 0])
      // Neither ran without its SQLite tier (a warning on stdout) while the other opened the file.
      expect([a.out, b.out].filter((out) => out.includes("WARN"))).toEqual([])
      const database = openDatabase(dir, { readOnly: true })
      const rows = database.prepare("SELECT key FROM payloads").all() as Array<{ key: string }>
      database.close()
      expect(rows.map((row) => row.key).sort()).toEqual([...keysA, ...keysB].sort())
      // Each process read back what the other wrote (while both may still be writing: entries are
      // either complete or absent).
      const intactA = Number(/intact (\d+)/.exec(a.out)![1])
      const intactB = Number(/intact (\d+)/.exec(b.out)![1])
      expect(intactA + intactB).toBeGreaterThan(0)
      // Afterwards every row reads back intact in a fresh process.
      const check = await outputOf(runChild(dir, "none", 0, [...keysA, ...keysB]))
      expect(check.out).toContain(`intact ${keysA.length + keysB.length}`)
    }))

  it.live("SIGKILL in the middle of a burst of writes leaves every row correct or absent", () =>
    Effect.promise(async () => {
      const dir = tempDir()
      const child = runChild(dir, "k", 100_000)
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("the child never started writing")), 30_000)
        child.stdout!.on("data", (chunk: Buffer) => {
          if (/wrote 2\d\d/.test(chunk.toString())) {
            clearTimeout(timer)
            child.kill("SIGKILL")
            resolve()
          }
        })
      })
      await new Promise((resolve) => child.on("close", resolve))
      const database = openDatabase(dir, { readOnly: true })
      const keys = (database.prepare("SELECT key FROM payloads").all() as Array<{ key: string }>).map((row) => row.key)
      database.close()
      expect(keys.length).toBeGreaterThanOrEqual(200)
      const check = await outputOf(runChild(dir, "none", 0, keys))
      expect(check.err).toBe("")
      expect(check.out).toContain(`intact ${keys.length}`)
      expect(valueFor("k-0.json").key).toBe("k-0.json")
    }))
})
