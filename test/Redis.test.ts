/**
 * The Redis tier against a real `redis-server` started by the test: what one process stores
 * another reads without the CDN, a fleet fetches each file once, and every fault (unreachable,
 * killed, slow, corrupt values, a lock holder that died) leaves loads going with the right data.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/testing/TestClock"
import { Redis } from "ioredis"
import { execFile } from "node:child_process"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as MirrorServer from "../src/mirror/MirrorServer.js"
import { Tif1Config, type Tif1ConfigOverrides } from "../src/schema/Config.js"
import * as Cache from "../src/services/Cache.js"
import * as RedisStore from "../src/services/cache/RedisStore.js"
import * as RowCodec from "../src/services/cache/RowCodec.js"
import * as SqliteStore from "../src/services/cache/SqliteStore.js"
import { Fetcher } from "../src/services/Fetcher.js"
import { parseJsonBytes } from "../src/services/internal/json.js"
import { capturedLogs } from "./support/logs.js"
import { freePort, type RedisServer, type RedisWithMirror, startRedis, startRedisWithMirror } from "./support/redis.js"
import { fixturesRoot, stack } from "./support/stack.js"

const race = { year: 2025, gp: "Australian Grand Prix", session: "Race" }
const sessionDir = Path.join(fixturesRoot, "2025/Australian Grand Prix/Race")
/** Every file of the session, as paths inside it. */
const files = Fs.readdirSync(sessionDir, { recursive: true, encoding: "utf8" })
  .filter((name) => name.endsWith(".json"))
  .sort()
/** A fixture as the library parses it (the CDN's files have NaN). */
const fixture = (path: string) => parseJsonBytes(Fs.readFileSync(Path.join(sessionDir, path))).value
const keyOf = (path: string) => `${race.year}/${race.gp}/${race.session}/${path}`
const tempDir = () => Fs.mkdtempSync(Path.join(Os.tmpdir(), "tif1-redis-cache-"))

let redis: RedisServer
let admin: Redis
let mirror: MirrorServer.MirrorServerService
let started: RedisWithMirror

beforeAll(async () => {
  started = await startRedisWithMirror({ faults: { latencyMs: 20 } })
  ;({ redis, admin, mirror } = started)
})
afterAll(() => started.stop())

/** The whole stack with memory + SQLite (in a new folder) + Redis. */
const withCache =
  (cacheConfig: Tif1ConfigOverrides, logs: Layer.Layer<never> = Layer.empty) =>
  <A, E>(effect: Effect.Effect<A, E, Fetcher | Cache.Cache>) =>
    effect.pipe(
      Effect.provide(stack(
        { cdns: [MirrorServer.templateFor(mirror.origin)], maxRetries: 0 },
        Cache.layerSqlite.pipe(Layer.provide(Tif1Config.layerDefaults({ cacheDir: tempDir(), ...cacheConfig })))
      )),
      Effect.provide(logs)
    )

const fetchAll = (paths: ReadonlyArray<string>) =>
  Fetcher.use((fetcher) => Effect.forEach(paths, (path) => fetcher.json({ ...race, path }), { concurrency: 8 }))
const stats = Cache.Cache.use((cache) => cache.stats)

/** A prefix per test, so tests share the server but not their keys. */
const freshPrefix = () => `t${Crypto.randomBytes(4).toString("hex")}:`

const runChild = (cacheDir: string, prefixUrl: string, startAt: number) =>
  new Promise<{ digest: string; stats: Cache.CacheStats }>((resolve, reject) => {
    execFile(
      process.execPath,
      ["--import", "tsx", "test/support/fleetChild.ts", mirror.origin, cacheDir, prefixUrl],
      { env: { ...process.env, FILES: JSON.stringify(files), START_AT: String(startAt) }, timeout: 60_000 },
      (
        error,
        stdout,
        stderr
      ) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(JSON.parse(stdout)))
    )
  })

const expectedDigest = Crypto.createHash("sha1").update(JSON.stringify(files.map(fixture))).digest("hex")

describe("Redis tier (a real redis-server)", () => {
  it.live(
    "a second process reads what the first stored, without the CDN; a fleet fetches each file once",
    () =>
      Effect.gen(function*() {
        // The children use the default key prefix: empty the server first.
        redis.cli("FLUSHALL")
        mirror.resetCounters()
        const first = yield* Effect.promise(() => runChild(tempDir(), redis.url, 0))
        expect(first.digest).toBe(expectedDigest)
        expect(files.reduce((sum, path) => sum + mirror.hits(keyOf(path)), 0)).toBe(files.length)
        const second = yield* Effect.promise(() => runChild(tempDir(), redis.url, 0))
        expect(second.digest).toBe(expectedDigest)
        expect(second.stats.redis.hits).toBe(files.length)
        expect(files.reduce((sum, path) => sum + mirror.hits(keyOf(path)), 0)).toBe(files.length)

        // Three processes at once on an empty server: every file from the CDN once in total.
        redis.cli("FLUSHALL")
        mirror.resetCounters()
        const startAt = Date.now() + 3000
        const fleet = yield* Effect.promise(() =>
          Promise.all([0, 1, 2].map(() => runChild(tempDir(), redis.url, startAt)))
        )
        for (const member of fleet) expect(member.digest).toBe(expectedDigest)
        for (const path of files) expect(mirror.hits(keyOf(path)), path).toBe(1)
        expect(fleet.reduce((sum, member) => sum + member.stats.redis.leads, 0)).toBe(files.length)
      }),
    120_000
  )

  it.live(
    "killed in the middle of a load: one warning, every file delivered from the CDN; back after restart",
    () =>
      Effect.gen(function*() {
        const logs = capturedLogs()
        const half = Math.floor(files.length / 2)
        const result = yield* withCache({ redisUrl: redis.url, redisKeyPrefix: freshPrefix() }, logs.layer)(
          Effect.gen(function*() {
            const before = yield* fetchAll(files.slice(0, half))
            yield* Effect.promise(() => redis.kill())
            const after = yield* fetchAll(files.slice(half))
            return { values: [...before, ...after], stats: yield* stats }
          })
        ).pipe(Effect.ensuring(Effect.promise(() => redis.start())))
        expect(result.values).toEqual(files.map(fixture))
        expect(result.stats.redis.state).toBe("down")
        expect(result.stats.redis.errors).toBeGreaterThan(0)
        const warnings = logs.lines.filter((line) => line.startsWith("WARN") && line.includes("Redis"))
        expect(warnings).toHaveLength(1)
        expect(warnings[0]).toContain("skipping the shared tier")
        yield* Effect.promise(() => admin.ping()) // the admin connection is back too
      }),
    60_000
  )

  it.effect(
    "unreachable at start: one warning, loads go on; tried again after redis_retry_after on the Clock",
    () =>
      Effect.gen(function*() {
        const port = yield* Effect.promise(() => freePort())
        const logs = capturedLogs()
        const prefix = freshPrefix()
        let late: RedisServer | undefined
        const outcome = yield* withCache(
          { redisUrl: `redis://127.0.0.1:${port}/0`, redisKeyPrefix: prefix, redisRetryAfter: 30 },
          logs.layer
        )(
          Effect.gen(function*() {
            const first = yield* fetchAll(["drivers.json"])
            const down = yield* stats
            late = yield* Effect.promise(() => startRedis(port))
            // ioredis reconnects on its own timer (real time); the tier is used again once the
            // Clock passes redis_retry_after and a command succeeds. Bounded: 40 turns.
            let state = down.redis.state
            for (let turn = 0; turn < 40 && state === "down"; turn++) {
              yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 100)))
              yield* TestClock.adjust("31 seconds")
              yield* fetchAll(["corners.json"])
              state = (yield* stats).redis.state
            }
            yield* fetchAll(["ALB/laptimes.json"])
            return { first, down, up: yield* stats }
          })
        ).pipe(Effect.ensuring(Effect.promise(async () => late?.kill())))
        expect(outcome.first).toEqual([fixture("drivers.json")])
        expect(outcome.down.redis.state).toBe("down")
        expect(logs.lines.filter((line) => line.startsWith("WARN") && line.includes("Redis"))).toHaveLength(1)
        expect(logs.lines.some((line) => line.includes("cannot reach Redis"))).toBe(true)
        expect(outcome.up.redis.state).toBe("up")
        expect(logs.lines.some((line) => line.includes("answers again"))).toBe(true)
      }),
    60_000
  )

  it.live(
    "a slow server (paused past redis_timeout) is skipped; the files come from the CDN",
    () =>
      Effect.gen(function*() {
        const logs = capturedLogs()
        const values = yield* withCache(
          { redisUrl: redis.url, redisKeyPrefix: freshPrefix(), redisTimeout: 0.2 },
          logs.layer
        )(
          Effect.gen(function*() {
            yield* fetchAll(["drivers.json"])
            redis.cli("CLIENT", "PAUSE", "1500", "ALL")
            const values = yield* fetchAll(["corners.json", "ALB/laptimes.json"])
            return { values, stats: yield* stats }
          })
        )
        expect(values.values).toEqual([fixture("corners.json"), fixture("ALB/laptimes.json")])
        expect(values.stats.redis.state).toBe("down")
        expect(logs.lines.some((line) => line.startsWith("WARN") && line.includes("timed out"))).toBe(true)
        yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 1600)))
      }),
    30_000
  )

  it.live("a corrupt value is a miss, deleted, and fetched again: never wrong data", () =>
    Effect.gen(function*() {
      const prefix = freshPrefix()
      const config = { redisUrl: redis.url, redisKeyPrefix: prefix }
      yield* withCache(config)(fetchAll(["drivers.json", "corners.json"]))
      const driversKey = `${prefix}v:${keyOf("drivers.json")}`
      const stored = yield* Effect.promise(() => admin.getBuffer(driversKey))
      expect(stored).not.toBeNull()
      const damaged = Buffer.from(stored!)
      // A flipped bit in the body.
      damaged.writeUInt8(damaged.readUInt8(damaged.length - 10) ^ 0x40, damaged.length - 10)
      yield* Effect.promise(() => admin.set(driversKey, damaged))
      yield* Effect.promise(() => admin.set(`${prefix}v:${keyOf("corners.json")}`, "not a tif1 row at all"))
      mirror.resetCounters()
      const logs = capturedLogs()
      const again = yield* withCache(config, logs.layer)(
        Effect.all({ values: fetchAll(["drivers.json", "corners.json"]), stats })
      )
      expect(again.values).toEqual([fixture("drivers.json"), fixture("corners.json")])
      expect(again.stats.redis.corruptValuesDropped).toBe(2)
      expect(mirror.hits(keyOf("drivers.json"))).toBe(1)
      expect(logs.lines.filter((line) => line.includes("dropping corrupt Redis value"))).toHaveLength(2)
      // Rewritten whole by the fetch that replaced it (all but its storage time, bytes 9 to 16).
      const rewritten = yield* Effect.promise(() => admin.getBuffer(driversKey))
      expect(rewritten?.subarray(17).equals(stored!.subarray(17))).toBe(true)
    }), 30_000)

  it.live(
    "a lock whose holder died frees the file when it expires: the waiter fetches it",
    () =>
      Effect.gen(function*() {
        const prefix = freshPrefix()
        yield* Effect.promise(() => admin.set(`${prefix}l:${keyOf("drivers.json")}`, "dead-holder", "PX", 300))
        mirror.resetCounters()
        const result = yield* withCache({ redisUrl: redis.url, redisKeyPrefix: prefix, redisLockTtl: 10 })(
          Effect.all({ values: fetchAll(["drivers.json"]), stats })
        )
        expect(result.values).toEqual([fixture("drivers.json")])
        expect(mirror.hits(keyOf("drivers.json"))).toBe(1)
        expect(result.stats.redis.leads).toBe(1)
      }),
    30_000
  )

  it.effect(
    "a lock held past redis_lock_ttl: the waiter stops waiting on the Clock and fetches it itself",
    () =>
      Effect.gen(function*() {
        const prefix = freshPrefix()
        yield* Effect.promise(() => admin.set(`${prefix}l:${keyOf("corners.json")}`, "stuck-holder", "PX", 600_000))
        const result = yield* withCache({ redisUrl: redis.url, redisKeyPrefix: prefix, redisLockTtl: 5 })(
          Effect.gen(function*() {
            const fiber = yield* Effect.forkChild(fetchAll(["corners.json"]))
            // Bounded: the poll interval doubles to 200 ms, so 5 s of Clock is at most ~30 wakes.
            for (let turn = 0; turn < 200 && fiber.pollUnsafe() === undefined; turn++) {
              yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 2)))
              yield* TestClock.adjust("100 millis")
            }
            return { values: yield* Fiber.join(fiber), stats: yield* stats }
          })
        )
        expect(result.values).toEqual([fixture("corners.json")])
        expect(result.stats.redis.leads).toBe(0)
        expect(result.stats.redis.waitedHits).toBe(0)
      }),
    30_000
  )

  it.live("invalidate clears a session, a kind of file or everything under the prefix, and nothing else", () =>
    Effect.gen(function*() {
      const prefix = freshPrefix()
      const other = freshPrefix()
      const open = (keyPrefix: string) =>
        RedisStore.open({
          url: redis.url,
          keyPrefix,
          maxValueBytes: 1 << 20,
          maxResponseBytes: 1 << 20,
          timeout: 1,
          retryAfter: 30,
          lockTtl: 15
        })
      const store = (yield* open(prefix))!
      const neighbour = (yield* open(other))!
      const keys = [
        "2025/Australian Grand Prix/Race/drivers.json",
        "2025/Australian Grand Prix/Race/VER/1_tel.json",
        "2025/Australian Grand Prix/Qualifying/drivers.json",
        // Glob characters in a name match only themselves.
        "2025/Grand Prix [test]*/Race/drivers.json"
      ]
      for (const target of [store, neighbour]) {
        for (const key of keys) {
          yield* target.set(key, { value: { key }, storedAt: 1, validators: {} }, RowCodec.encodeRow(key, { key }))
        }
        yield* target.setMissing("2025/Australian Grand Prix/Race/ZZZ/laptimes.json", 0, 60_000)
      }
      const present = (target: RedisStore.RedisStore) =>
        Effect.map(target.getMany(keys), (found) => found.map((entry) => entry !== undefined))
      yield* store.invalidate("telemetry")
      expect(yield* present(store)).toEqual([true, false, true, true])
      expect(yield* store.getMissing("2025/Australian Grand Prix/Race/ZZZ/laptimes.json", 0)).toBe(true)
      yield* store.invalidate({ year: 2025, gp: "Australian Grand Prix", session: "Race" })
      expect(yield* present(store)).toEqual([false, false, true, true])
      expect(yield* store.getMissing("2025/Australian Grand Prix/Race/ZZZ/laptimes.json", 0)).toBe(false)
      yield* store.invalidate({ year: 2025, gp: "Grand Prix [test]*" })
      expect(yield* present(store)).toEqual([false, false, true, false])
      yield* store.invalidate("all")
      expect(yield* present(store)).toEqual([false, false, false, false])
      // Another prefix on the same server is untouched.
      expect(yield* present(neighbour)).toEqual([true, true, true, true])
      expect(yield* neighbour.getMissing("2025/Australian Grand Prix/Race/ZZZ/laptimes.json", 0)).toBe(true)
    }))

  it.live("the stores' getMany answers in key order, as get does (Redis: one MGET; SQLite)", () =>
    Effect.gen(function*() {
      const options = {
        url: redis.url,
        keyPrefix: freshPrefix(),
        maxValueBytes: 1 << 20,
        maxResponseBytes: 1 << 20,
        timeout: 1,
        retryAfter: 30,
        lockTtl: 15
      }
      const stores = [yield* RedisStore.open(options), yield* SqliteStore.open(tempDir())]
      const keys = ["a.json", "b.json", "c.json"]
      for (const store of stores) {
        expect(store).toBeDefined()
        for (const [index, key] of [keys[0]!, keys[2]!].entries()) {
          const entry = { value: { index }, storedAt: 1000 + index, validators: { etag: `"${index}"` } }
          yield* store!.set(key, entry, RowCodec.encodeRow(key, entry.value))
        }
        const found = yield* store!.getMany(keys)
        expect(found.map((entry) => entry?.value)).toEqual([{ index: 0 }, undefined, { index: 1 }])
        expect(found.map((entry) => entry?.storedAt)).toEqual([1000, undefined, 1001])
        expect(found[2]?.validators).toEqual({ etag: `"1"` })
      }
    }))

  it.live(
    "negative entries expire on the server's TTL; values over redis_max_value_bytes stay local",
    () =>
      Effect.gen(function*() {
        const prefix = freshPrefix()
        const result = yield* withCache({
          redisUrl: redis.url,
          redisKeyPrefix: prefix,
          redisMaxValueBytes: 10_000,
          missingPayloadsTtlDays: 1
        })(
          Effect.gen(function*() {
            const missing = yield* Effect.flip(
              Fetcher.use((fetcher) => fetcher.json({ ...race, path: "ZZZ/laptimes.json" }))
            )
            yield* fetchAll(["drivers.json", "VER/1_tel.json"])
            return { missing, stats: yield* stats }
          })
        )
        expect(result.missing._tag).toBe("DataNotFoundError")
        const ttl = yield* Effect.promise(() => admin.pttl(`${prefix}m:${keyOf("ZZZ/laptimes.json")}`))
        expect(ttl).toBeGreaterThan(23 * 3600 * 1000)
        expect(ttl).toBeLessThanOrEqual(24 * 3600 * 1000)
        const small = yield* Effect.promise(() => admin.strlen(`${prefix}v:${keyOf("drivers.json")}`))
        const large = yield* Effect.promise(() => admin.exists(`${prefix}v:${keyOf("VER/1_tel.json")}`))
        expect(small).toBeGreaterThan(0)
        expect(small).toBeLessThanOrEqual(10_000)
        expect(large).toBe(0)
        expect(result.stats.redis.tooLarge).toBe(1)
        expect(result.stats.sqlite.entries).toBe(2)
      }),
    30_000
  )
})
