/**
 * A not-found is remembered (negative cache, `missing_payloads_ttl_days`) only on evidence: a 404
 * or 410 from every configured CDN. A CDN that was skipped (cooling down after failures) or
 * disabled was not asked, so a lagging mirror's 404 is this call's answer at most: a new process
 * on the same cache folder, with every CDN healthy, asks the network again and gets the file.
 * Against real local mirrors and a real SQLite file.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as MirrorServer from "../src/mirror/MirrorServer.js"
import { Tif1Config } from "../src/schema/Config.js"
import * as Cache from "../src/services/Cache.js"
import { CdnManager, failuresBeforeSkip } from "../src/services/CdnManager.js"
import { Fetcher } from "../src/services/Fetcher.js"
import { fixturesRoot, stack } from "./support/stack.js"

const race = { year: 2025, gp: "Australian Grand Prix", session: "Race" }
const drivers = { ...race, path: "drivers.json" }
const driversKey = "2025/Australian Grand Prix/Race/drivers.json"
const fixture = JSON.parse(Fs.readFileSync(Path.join(fixturesRoot, driversKey), "utf8"))
/** Files both mirrors have: fetching them while the first fails makes CdnManager skip it. */
const warmUp = ["corners.json", "VER/laptimes.json", "NOR/laptimes.json"].slice(0, failuresBeforeSkip)

const tempDir = () => Fs.mkdtempSync(Path.join(Os.tmpdir(), "tif1-evidence-"))

/** A process: the whole stack over SQLite in `cacheDir`, the two mirrors in priority order, no retry rounds. */
const processOn = (
  cacheDir: string,
  first: MirrorServer.MirrorServerService,
  second: MirrorServer.MirrorServerService
) =>
  stack(
    { cdns: [MirrorServer.templateFor(first.origin), MirrorServer.templateFor(second.origin)], maxRetries: 0 },
    Cache.layerSqlite.pipe(Layer.provide(Tif1Config.layerDefaults({ cacheDir })))
  )

/** A new process on the same cache folder fetches drivers.json: what it got and what the cache said. */
const nextProcess = (
  cacheDir: string,
  first: MirrorServer.MirrorServerService,
  second: MirrorServer.MirrorServerService
) =>
  Effect.gen(function*() {
    const fetcher = yield* Fetcher
    const result = yield* Effect.result(fetcher.json(drivers))
    return { result, stats: yield* fetcher.stats }
  }).pipe(Effect.provide(processOn(cacheDir, first, second)))

describe("a not-found is remembered only when every configured CDN said so", () => {
  it.live("while the first CDN cools down, the lagging mirror's 404 is not remembered: the next process fetches the file", () =>
    Effect.gen(function*() {
      const first = yield* MirrorServer.make({
        root: fixturesRoot,
        protocol: "h1",
        faults: { rules: [{ match: "*", status: 503 }] }
      })
      const lagging = yield* MirrorServer.make({
        root: fixturesRoot,
        protocol: "h1",
        faults: { rules: [{ match: "drivers.json", status: 404 }] }
      })
      const cacheDir = tempDir()
      const firstProcess = yield* Effect.gen(function*() {
        const fetcher = yield* Fetcher
        const cdns = yield* CdnManager
        // The first CDN fails each of these once (the mirror delivers them): it is skipped after that.
        yield* Effect.forEach(warmUp, (path) => fetcher.json({ ...race, path }))
        const skipped = (yield* cdns.sources)[0]!
        const error = yield* Effect.flip(fetcher.json(drivers))
        // Not remembered in this process either: asked again (the first CDN still cooling down).
        const again = yield* Effect.flip(fetcher.json(drivers))
        return { skipped, error, again, stats: yield* fetcher.stats }
      }).pipe(Effect.provide(processOn(cacheDir, first, lagging)))
      expect(firstProcess.skipped.skippedUntil).toBeDefined()
      expect(firstProcess.error).toMatchObject({ _tag: "DataNotFoundError", path: "drivers.json" })
      expect(firstProcess.again).toMatchObject({ _tag: "DataNotFoundError", path: "drivers.json" })
      expect(firstProcess.stats.negativeHits).toBe(0)
      expect(first.hits(driversKey)).toBe(0)
      expect(lagging.hits(driversKey)).toBe(2)

      // The first CDN is healthy again; a new process on the same cache folder asks it.
      first.setFaults(undefined)
      const next = yield* nextProcess(cacheDir, first, lagging)
      expect(next.result).toMatchObject({ _tag: "Success", success: fixture })
      expect(next.stats.negativeHits).toBe(0)
      expect(first.hits(driversKey)).toBe(1)
    }))

  it.live("a CDN taken out of rotation (disable) leaves the verdict open too", () =>
    Effect.gen(function*() {
      const first = yield* MirrorServer.make({ root: fixturesRoot, protocol: "h1" })
      const lagging = yield* MirrorServer.make({
        root: fixturesRoot,
        protocol: "h1",
        faults: { rules: [{ match: "drivers.json", status: 404 }] }
      })
      const cacheDir = tempDir()
      const error = yield* Effect.gen(function*() {
        const cdns = yield* CdnManager
        yield* cdns.disable((yield* cdns.sources)[0]!.name, "maintenance")
        return yield* Effect.flip(Effect.flatMap(Fetcher, (fetcher) => fetcher.json(drivers)))
      }).pipe(Effect.provide(processOn(cacheDir, first, lagging)))
      expect(error).toMatchObject({ _tag: "DataNotFoundError", path: "drivers.json" })
      expect(first.hits()).toBe(0)

      const next = yield* nextProcess(cacheDir, first, lagging)
      expect(next.result).toMatchObject({ _tag: "Success", success: fixture })
      expect(first.hits(driversKey)).toBe(1)
    }))

  it.live("a 404 from every configured CDN is remembered: the next process asks none of them", () =>
    Effect.gen(function*() {
      const missing = { rules: [{ match: "drivers.json", status: 404 as const }] }
      const first = yield* MirrorServer.make({ root: fixturesRoot, protocol: "h1", faults: missing })
      const second = yield* MirrorServer.make({ root: fixturesRoot, protocol: "h1", faults: missing })
      const cacheDir = tempDir()
      const error = yield* Effect.flip(
        Effect.flatMap(Fetcher, (fetcher) => fetcher.json(drivers)).pipe(
          Effect.provide(processOn(cacheDir, first, second))
        )
      )
      expect(error).toMatchObject({ _tag: "DataNotFoundError", path: "drivers.json" })
      expect([first.hits(driversKey), second.hits(driversKey)]).toEqual([1, 1])

      const next = yield* nextProcess(cacheDir, first, second)
      expect(next.result).toMatchObject({ _tag: "Failure", failure: { _tag: "DataNotFoundError" } })
      expect(next.stats.negativeHits).toBe(1)
      expect([first.hits(driversKey), second.hits(driversKey)]).toEqual([1, 1])
    }))

  it.live("a CDN that failed in the first round and said 404 in the next is evidence like any 404", () =>
    Effect.gen(function*() {
      const first = yield* MirrorServer.make({
        root: fixturesRoot,
        protocol: "h1",
        faults: { rules: [{ match: "drivers.json", status: 503, times: 1 }, { match: "drivers.json", status: 404 }] }
      })
      const second = yield* MirrorServer.make({
        root: fixturesRoot,
        protocol: "h1",
        faults: { rules: [{ match: "drivers.json", status: 404 }] }
      })
      const cacheDir = tempDir()
      const error = yield* Effect.flip(
        Effect.flatMap(Fetcher, (fetcher) => fetcher.json(drivers)).pipe(
          Effect.provide(stack(
            { cdns: [MirrorServer.templateFor(first.origin), MirrorServer.templateFor(second.origin)], maxRetries: 1 },
            Cache.layerSqlite.pipe(Layer.provide(Tif1Config.layerDefaults({ cacheDir })))
          ))
        )
      )
      expect(error).toMatchObject({ _tag: "DataNotFoundError", path: "drivers.json" })
      expect([first.hits(driversKey), second.hits(driversKey)]).toEqual([2, 1])

      const next = yield* nextProcess(cacheDir, first, second)
      expect(next.stats.negativeHits).toBe(1)
      expect([first.hits(driversKey), second.hits(driversKey)]).toEqual([2, 1])
    }))
})
