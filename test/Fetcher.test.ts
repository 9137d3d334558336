import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as MirrorServer from "../src/mirror/MirrorServer.js"
import * as Cache from "../src/services/Cache.js"
import { CircuitBreaker } from "../src/services/CircuitBreaker.js"
import { Fetcher } from "../src/services/Fetcher.js"
import { eventually, testCertificate } from "./support/servers.js"
import { fixturesRoot, stack } from "./support/stack.js"

const race = { year: 2025, gp: "Australian Grand Prix", session: "Race" }
const key = (path: string) => `2025/Australian Grand Prix/Race/${path}`
const fixture = (path: string) => JSON.parse(Fs.readFileSync(Path.join(fixturesRoot, key(path)), "utf8"))

const mirror = (faults?: MirrorServer.FaultMode, root = fixturesRoot) =>
  MirrorServer.make({ root, protocol: "h1", ...(faults === undefined ? {} : { faults }) })

describe("Fetcher against real local CDNs", () => {
  it.live("primary 503 always: data from the secondary, primary skipped after 3 failures", () =>
    Effect.gen(function*() {
      const primary = yield* mirror({ rules: [{ match: "*", status: 503 }] })
      const secondary = yield* mirror()
      const paths = ["drivers.json", "corners.json", "VER/laptimes.json", "NOR/laptimes.json", "VER/1_tel.json"]
      const values = yield* Effect.flatMap(
        Fetcher,
        (fetcher) => Effect.forEach(paths, (path) => fetcher.json({ ...race, path }))
      ).pipe(
        Effect.provide(stack({ cdns: [primary.origin, secondary.origin] }))
      )
      expect(values[0]).toEqual(fixture("drivers.json"))
      expect(values[4]).toEqual(fixture("VER/1_tel.json"))
      expect(primary.hits()).toBe(3)
      expect(secondary.hits()).toBe(5)
    }))

  it.live("primary 404 + secondary 200: data, each asked once", () =>
    Effect.gen(function*() {
      const primary = yield* mirror({ rules: [{ match: "*", status: 404 }] })
      const secondary = yield* mirror()
      const value = yield* Effect.flatMap(Fetcher, (f) => f.json({ ...race, path: "drivers.json" })).pipe(
        Effect.provide(stack({ cdns: [primary.origin, secondary.origin] }))
      )
      expect(value).toEqual(fixture("drivers.json"))
      expect(primary.hits()).toBe(1)
      expect(secondary.hits()).toBe(1)
    }))

  it.live("all 404: DataNotFoundError with each server hit once", () =>
    Effect.gen(function*() {
      const primary = yield* mirror()
      const secondary = yield* mirror()
      const error = yield* Effect.flip(
        Effect.flatMap(Fetcher, (f) => f.json({ ...race, path: "weather.json" })).pipe(
          Effect.provide(stack({ cdns: [primary.origin, secondary.origin], maxRetries: 3 }))
        )
      )
      expect(error._tag).toBe("DataNotFoundError")
      expect(error).toMatchObject({ year: 2025, gp: "Australian Grand Prix", session: "Race", path: "weather.json" })
      expect(primary.hits(key("weather.json"))).toBe(1)
      expect(secondary.hits(key("weather.json"))).toBe(1)
    }))

  it.live("truncated JSON everywhere: InvalidDataError, never retried", () =>
    Effect.gen(function*() {
      const primary = yield* mirror({ rules: [{ match: "*", truncate: true }] })
      const secondary = yield* mirror({ rules: [{ match: "*", truncate: true }] })
      const error = yield* Effect.flip(
        Effect.flatMap(Fetcher, (f) => f.json({ ...race, path: "drivers.json" })).pipe(
          Effect.provide(stack({ cdns: [primary.origin, secondary.origin], maxRetries: 3 }))
        )
      )
      expect(error._tag).toBe("InvalidDataError")
      expect(error.message).toContain("drivers.json")
      expect(primary.hits()).toBe(1)
      expect(secondary.hits()).toBe(1)
    }))

  it.live("a bad body at the primary falls through to a good copy on the secondary", () =>
    Effect.gen(function*() {
      const primary = yield* mirror({ rules: [{ match: "*", truncate: true }] })
      const secondary = yield* mirror()
      const value = yield* Effect.flatMap(Fetcher, (f) => f.json({ ...race, path: "corners.json" })).pipe(
        Effect.provide(stack({ cdns: [primary.origin, secondary.origin] }))
      )
      expect(value).toEqual(fixture("corners.json"))
    }))

  it.live("a reset mid-body, then success on the retry", () =>
    Effect.gen(function*() {
      const only = yield* mirror({ rules: [{ match: "*", resetMidBody: true, times: 1 }] })
      const value = yield* Effect.flatMap(Fetcher, (f) => f.json({ ...race, path: "VER/2_tel.json" })).pipe(
        Effect.provide(stack({ cdns: [only.origin] }))
      )
      expect(value).toEqual(fixture("VER/2_tel.json"))
      expect(only.hits()).toBe(2)
    }))

  it.live("100 concurrent identical requests make 1 server hit", () =>
    Effect.gen(function*() {
      const only = yield* mirror({ latencyMs: 50 })
      const values = yield* Effect.flatMap(Fetcher, (f) =>
        Effect.all(
          Array.from({ length: 100 }, () => f.json({ ...race, path: "VER/3_tel.json" })),
          {
            concurrency: "unbounded"
          }
        )).pipe(Effect.provide(stack({ cdns: [only.origin] })))
      expect(only.hits()).toBe(1)
      expect(values.every((value) => value === values[0])).toBe(true)
    }))

  it.live("a shared fetch whose owner is interrupted is taken over by a joiner; an interrupted joiner leaves", () =>
    Effect.gen(function*() {
      // The server counts a request when it starts answering; the body then takes 400 ms.
      const only = yield* mirror({ rules: [{ match: "*", slowBodyMs: 400 }] })
      const request = { ...race, path: "VER/4_tel.json" }
      const [value, hitsWhenOwnerStopped] = yield* Effect.flatMap(Fetcher, (f) =>
        Effect.gen(function*() {
          const owner = yield* Effect.forkChild(f.json(request))
          yield* eventually(() => only.hits() === 1, "the owner's request")
          // Started immediately, a fiber runs until its first asynchronous step before the fork
          // returns. With no cache, a joiner's only asynchronous step is waiting on the shared
          // fetch, so both still running means both have joined it.
          const leaving = yield* Effect.forkChild(f.json(request), { startImmediately: true })
          const joiner = yield* Effect.forkChild(f.json(request), { startImmediately: true })
          if (leaving.pollUnsafe() !== undefined || joiner.pollUnsafe() !== undefined) {
            throw new Error("the joiners never waited on the shared fetch")
          }
          yield* Fiber.interrupt(leaving)
          yield* Fiber.interrupt(owner)
          const hits = only.hits()
          return [yield* Fiber.join(joiner), hits] as const
        })).pipe(Effect.provide(stack({ cdns: [only.origin] })))
      expect(hitsWhenOwnerStopped).toBe(1)
      expect(only.hits()).toBe(2)
      expect(value).toEqual(fixture("VER/4_tel.json"))
    }))
  it.live("callers sharing one fetch each get their own options: validation and cache writes", () =>
    Effect.gen(function*() {
      // A lap table with a string in a number column: fine unvalidated, an error validated.
      const root = Fs.mkdtempSync(Path.join(Os.tmpdir(), "tif1-shared-"))
      const folder = Path.join(root, "2025/Australian Grand Prix/Race/VER")
      Fs.mkdirSync(folder, { recursive: true })
      Fs.writeFileSync(
        Path.join(folder, "laptimes.json"),
        JSON.stringify({ time: ["fast"], lap: [1], compound: ["SOFT"] })
      )
      const only = yield* mirror({ latencyMs: 100 }, root)
      const request = { ...race, path: "VER/laptimes.json" }
      const [plain, validated, unstored] = yield* Effect.flatMap(Fetcher, (f) =>
        Effect.all([
          Effect.result(f.json(request, { writeCache: false })),
          Effect.result(f.json(request, { validate: true })),
          Effect.result(f.json(request, { writeCache: false }))
        ], { concurrency: "unbounded" })).pipe(
          Effect.provide(stack({ cdns: [only.origin] }, Cache.layerMemory))
        )
      expect(only.hits()).toBe(1)
      expect(plain._tag).toBe("Success")
      expect(unstored._tag).toBe("Success")
      expect(validated._tag).toBe("Failure")
      expect(Result.isFailure(validated) && validated.failure._tag).toBe("InvalidDataError")
    }))

  it.live("a caller that writes the cache stores a shared answer its owner did not", () =>
    Effect.gen(function*() {
      const only = yield* mirror({ latencyMs: 100 })
      const request = { ...race, path: "VER/5_tel.json" }
      const entries = yield* Effect.gen(function*() {
        const fetcher = yield* Fetcher
        yield* Effect.all([fetcher.json(request, { writeCache: false }), fetcher.json(request)], {
          concurrency: "unbounded"
        })
        return (yield* Effect.flatMap(Cache.Cache, (cache) => cache.stats)).memory.entries
      }).pipe(Effect.provide(stack({ cdns: [only.origin] }, Cache.layerMemory)))
      expect(only.hits()).toBe(1)
      expect(entries).toBe(1)
    }))

  it.live("bare NaN in a real lap table parses, as null", () =>
    Effect.gen(function*() {
      const only = yield* mirror()
      const value = yield* Effect.flatMap(Fetcher, (f) => f.json({ ...race, path: "VER/laptimes.json" })).pipe(
        Effect.provide(stack({ cdns: [only.origin] }))
      )
      const times = value.time as ReadonlyArray<number | null>
      expect(times[0]).toBe(119.392)
      expect(times[1]).toBeNull()
      expect(Object.isFrozen(value)).toBe(true)
    }))

  it.live("many keeps input order with a mix of 200, 404 and 503", () =>
    Effect.gen(function*() {
      const only = yield* mirror({ rules: [{ match: "NOR/laptimes.json", status: 503 }] })
      const progress: Array<number> = []
      const results = yield* Effect.flatMap(Fetcher, (f) =>
        f.many(
          ["VER/laptimes.json", "weather.json", "NOR/laptimes.json", "drivers.json"].map((path) => ({ ...race, path })),
          { concurrency: 4, onProgress: (p) => progress.push(p.completed) }
        )).pipe(Effect.provide(stack({ cdns: [only.origin], maxRetries: 1 })))
      expect(results.map(Option.isSome)).toEqual([true, false, false, true])
      expect(Option.getOrThrow(results[3]!)).toEqual(fixture("drivers.json"))
      expect(progress.sort()).toEqual([1, 2, 3, 4])
      expect(only.hits(key("NOR/laptimes.json"))).toBe(2)
    }))

  it.live("interrupting many aborts the requests in flight (the server sees them close)", () =>
    Effect.gen(function*() {
      const only = yield* mirror({ rules: [{ match: "*", slowBodyMs: 30_000 }] })
      const paths = Array.from({ length: 10 }, (_, i) => `VER/${i + 1}_tel.json`)
      yield* Effect.gen(function*() {
        const fetcher = yield* Fetcher
        const fiber = yield* Effect.forkChild(
          fetcher.many(paths.map((path) => ({ ...race, path })), { concurrency: 5 })
        )
        yield* eventually(() => only.hits() === 5, "5 requests in flight")
        expect(only.connectionsOpen()).toBe(5)
        yield* Fiber.interrupt(fiber)
        yield* eventually(() => only.connectionsOpen() === 0, "the server to see every connection close")
      }).pipe(Effect.provide(stack({ cdns: [only.origin] })))
      expect(only.hits()).toBe(5)
    }))

  it.live("the breaker opens after consecutive failed rounds and then fails fast without I/O", () =>
    Effect.gen(function*() {
      const primary = yield* mirror({ rules: [{ match: "*", status: 503 }] })
      const secondary = yield* mirror({ rules: [{ match: "*", status: 500 }] })
      yield* Effect.gen(function*() {
        const fetcher = yield* Fetcher
        const breaker = yield* CircuitBreaker
        yield* Effect.flip(fetcher.json({ ...race, path: "drivers.json" }))
        yield* Effect.flip(fetcher.json({ ...race, path: "corners.json" }))
        expect(yield* breaker.state).toBe("open")
        const hitsBefore = primary.hits() + secondary.hits()
        const error = yield* Effect.flip(fetcher.json({ ...race, path: "VER/laptimes.json" }))
        expect(error._tag).toBe("NetworkError")
        expect((error as { kind: string }).kind).toBe("circuit-open")
        expect(primary.hits() + secondary.hits()).toBe(hitsBefore)
      }).pipe(
        Effect.provide(stack({ cdns: [primary.origin, secondary.origin], maxRetries: 0, circuitBreakerThreshold: 2 }))
      )
    }))

  it.live("a dead primary with a healthy secondary never opens the breaker", () =>
    Effect.gen(function*() {
      const primary = yield* mirror({ rules: [{ match: "*", status: 503 }] })
      const secondary = yield* mirror()
      const state = yield* Effect.gen(function*() {
        const fetcher = yield* Fetcher
        for (
          const path of ["drivers.json", "corners.json", "VER/laptimes.json", "HAM/laptimes.json", "LEC/laptimes.json"]
        ) {
          yield* fetcher.json({ ...race, path })
        }
        return yield* Effect.flatMap(CircuitBreaker, (b) => b.state)
      }).pipe(Effect.provide(stack({ cdns: [primary.origin, secondary.origin], circuitBreakerThreshold: 2 })))
      expect(state).toBe("closed")
    }))

  it.live("works the same over HTTP/2 with TLS", () =>
    Effect.gen(function*() {
      const h2 = yield* MirrorServer.make({ root: fixturesRoot, protocol: "h2", certificate: testCertificate() })
      const values = yield* Effect.flatMap(Fetcher, (f) =>
        f.many(Array.from({ length: 10 }, (_, i) => ({ ...race, path: `NOR/${i + 1}_tel.json` })), { concurrency: 10 }))
        .pipe(
          Effect.provide(stack({ cdns: [h2.origin] }))
        )
      expect(values.every(Option.isSome)).toBe(true)
      expect(Option.getOrThrow(values[0]!)).toEqual(fixture("NOR/1_tel.json"))
      expect(h2.connectionsOpened()).toBe(1)
    }))

  it.live("with validation on, a file that fails its schema is InvalidDataError and is not cached", () =>
    Effect.gen(function*() {
      const root = Fs.mkdtempSync(Path.join(Os.tmpdir(), "tif1-broken-"))
      const folder = Path.join(root, "2025", "Australian Grand Prix", "Race", "VER")
      Fs.mkdirSync(folder, { recursive: true })
      const broken = fixture("VER/1_tel.json")
      broken.tel.speed.pop()
      Fs.writeFileSync(Path.join(folder, "1_tel.json"), JSON.stringify(broken))
      const only = yield* mirror(undefined, root)
      const { CacheModule } = yield* Effect.promise(async () => ({
        CacheModule: await import("../src/services/Cache.js")
      }))
      yield* Effect.gen(function*() {
        const fetcher = yield* Fetcher
        const error = yield* Effect.flip(fetcher.json({ ...race, path: "VER/1_tel.json" }, { validate: true }))
        expect(error._tag).toBe("InvalidDataError")
        expect(error.message).toContain("VER/1_tel.json")
        expect(error.message).toContain("\"speed\" has 878")
        yield* Effect.flip(fetcher.json({ ...race, path: "VER/1_tel.json" }, { validate: true }))
        expect(only.hits()).toBe(2)
      }).pipe(Effect.provide(stack({ cdns: [only.origin] }, CacheModule.layerMemory)))
    }))
})
