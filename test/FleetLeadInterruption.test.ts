/**
 * The fleet lock (`redis_url`) is released however its holder's fetch ends, interruption included,
 * and the wait for another process's lock stays interruptible. Against a real `redis-server`:
 * `CLIENT PAUSE WRITE` holds a fetch's `SET NX` at the server, so the test interrupts the fetch
 * exactly while the lock is being taken (Ctrl-C, an `AbortSignal` or `close()` at that moment).
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { Redis } from "ioredis"
import * as Crypto from "node:crypto"
import * as MirrorServer from "../src/mirror/MirrorServer.js"
import { Tif1Config, type Tif1ConfigOverrides } from "../src/schema/Config.js"
import * as Cache from "../src/services/Cache.js"
import { Fetcher } from "../src/services/Fetcher.js"
import { type RedisServer, type RedisWithMirror, startRedisWithMirror } from "./support/redis.js"
import { startServer } from "./support/servers.js"
import { stack } from "./support/stack.js"

const race = { year: 2025, gp: "Australian Grand Prix", session: "Race" }
const drivers = { ...race, path: "drivers.json" }
const driversKey = "2025/Australian Grand Prix/Race/drivers.json"

let redis: RedisServer
let admin: Redis
let mirror: MirrorServer.MirrorServerService
let started: RedisWithMirror

beforeAll(async () => {
  started = await startRedisWithMirror()
  ;({ redis, admin, mirror } = started)
})
afterAll(() => started.stop())

/** A process: the whole stack with memory + Redis (under its own key prefix) and the mirror. */
const inProcess = (cache: Tif1ConfigOverrides, cdn = mirror.origin) => <A, E>(effect: Effect.Effect<A, E, Fetcher>) =>
  effect.pipe(
    Effect.provide(stack(
      { cdns: [MirrorServer.templateFor(cdn)], maxRetries: 0 },
      Cache.layerMemory.pipe(Layer.provide(Tif1Config.layerDefaults({ redisUrl: redis.url, ...cache })))
    ))
  )

const freshPrefix = () => `t${Crypto.randomBytes(4).toString("hex")}:`

/** Poll until `condition` holds; bounded (10 s, 1,000 turns). */
const until = (what: string, condition: () => Promise<boolean>) =>
  Effect.promise(async () => {
    const deadline = Date.now() + 10_000
    for (let turn = 0; turn < 1_000 && Date.now() < deadline; turn++) {
      if (await condition()) return
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    throw new Error(`timed out waiting for ${what}`)
  })

/** Whether a client's `SET` is held at the server by `CLIENT PAUSE` (flag `b`, blocked). */
const aSetIsHeld = async () =>
  String(await admin.call("CLIENT", "LIST")).split("\n").some((line) =>
    /\bflags=\w*b/.test(line) && /\bcmd=set\b/.test(line)
  )

/** `SET` commands the server has run. */
const setsRun = async () => Number(/cmdstat_set:calls=(\d+)/.exec(await admin.info("commandstats"))?.[1] ?? 0)

describe("the fleet lock and interruption (a real redis-server)", () => {
  it.live("a fetch interrupted while its SET NX is on the way leaves no lock behind", () =>
    Effect.gen(function*() {
      const prefix = freshPrefix()
      const lockKey = `${prefix}l:${driversKey}`
      mirror.resetCounters()
      const exit = yield* inProcess({ redisKeyPrefix: prefix, redisTimeout: 30 })(
        Effect.gen(function*() {
          const fetcher = yield* Fetcher
          // Writes wait at the server from here (reads go on): the lookups pass, the lock's SET NX waits.
          yield* Effect.promise(() => admin.call("CLIENT", "PAUSE", "30000", "WRITE"))
          const fetching = yield* Effect.forkChild(fetcher.json(drivers))
          yield* until("the fetch's SET NX to reach the server", aSetIsHeld)
          const interrupting = yield* Effect.forkChild(Fiber.interrupt(fetching))
          yield* Effect.promise(() => admin.call("CLIENT", "UNPAUSE"))
          yield* Fiber.join(interrupting)
          return yield* Fiber.await(fetching)
        }).pipe(Effect.ensuring(Effect.promise(() => admin.call("CLIENT", "UNPAUSE"))))
      )
      // The SET NX the server was holding has run by now.
      yield* until("the held SET to run", async () => !(await aSetIsHeld()))
      expect(Exit.hasInterrupts(exit)).toBe(true)
      expect(yield* Effect.promise(() => admin.exists(lockKey))).toBe(0)
      expect(mirror.hits(driversKey)).toBe(0)
    }), 30_000)

  it.live(
    "a fetch waiting for another process's lock is interrupted at once, and leaves that lock alone",
    () =>
      Effect.gen(function*() {
        const prefix = freshPrefix()
        const lockKey = `${prefix}l:${driversKey}`
        yield* Effect.promise(() => admin.set(lockKey, "another-process", "PX", 600_000))
        const setsBefore = yield* Effect.promise(setsRun)
        mirror.resetCounters()
        const interrupted = yield* inProcess({ redisKeyPrefix: prefix, redisLockTtl: 600 })(
          Effect.gen(function*() {
            const fetcher = yield* Fetcher
            const fetching = yield* Effect.forkChild(fetcher.json(drivers))
            // Its SET NX was refused: it waits (up to redis_lock_ttl, 600 s) for the other process.
            yield* until("the fetch's SET NX", async () => (await setsRun()) > setsBefore)
            // Not held for the lock's 600 s: the bound is far below it and far above any wake-up.
            return yield* Effect.timeoutOption(Fiber.interrupt(fetching), "20 seconds")
          })
        )
        expect(Option.isSome(interrupted)).toBe(true)
        expect(yield* Effect.promise(() => admin.get(lockKey))).toBe("another-process")
        expect(mirror.hits(driversKey)).toBe(0)
      }),
    60_000
  )

  it.live("a lead interrupted during its fetch releases the lock", () =>
    Effect.gen(function*() {
      const prefix = freshPrefix()
      const lockKey = `${prefix}l:${driversKey}`
      // A CDN that takes the request and never answers.
      const silent = yield* startServer("h1", () => {})
      const lockedWhileFetching = yield* inProcess({ redisKeyPrefix: prefix }, silent.origin)(
        Effect.gen(function*() {
          const fetcher = yield* Fetcher
          const fetching = yield* Effect.forkChild(fetcher.json(drivers))
          yield* until("the request to reach the CDN", () => Promise.resolve(silent.requests() === 1))
          const locked = yield* Effect.promise(() => admin.get(lockKey))
          yield* Fiber.interrupt(fetching)
          return locked
        })
      )
      expect(lockedWhileFetching).toEqual(expect.any(String))
      expect(yield* Effect.promise(() => admin.exists(lockKey))).toBe(0)
    }), 30_000)
})
