import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as MirrorServer from "../src/mirror/MirrorServer.js"
import { Tif1Config } from "../src/schema/Config.js"
import * as Cache from "../src/services/Cache.js"
import { type LoadProgress, SessionLoader } from "../src/services/SessionLoader.js"
import { fixturesRoot, stack } from "./support/stack.js"

const count = (dir: string, pattern: RegExp): number =>
  Fs.readdirSync(dir, { withFileTypes: true }).reduce(
    (total, entry) =>
      total + (entry.isDirectory() ? count(Path.join(dir, entry.name), pattern) : pattern.test(entry.name) ? 1 : 0),
    0
  )

describe("SessionLoader", () => {
  it.live("loads a race with telemetry: every file requested once, missing telemetry counted, progress to 100%", () =>
    Effect.gen(function*() {
      const mirror = yield* MirrorServer.make({ root: fixturesRoot })
      const progress: Array<LoadProgress> = []
      const loaded = yield* SessionLoader.use(
        (loader) =>
          loader.load({ year: 2025, gp: "Australian Grand Prix", session: "R" }, {
            telemetry: true,
            onProgress: (p) => progress.push(p)
          })
      ).pipe(Effect.provide(stack({ cdns: [mirror.origin] })))

      expect(loaded.session).toBe("Race")
      expect(loaded.drivers.drivers).toHaveLength(20)
      expect(loaded.weather).toBeNull()
      expect(loaded.raceControl).toBeNull()
      expect(loaded.laps.size).toBe(20)
      const totalLaps = [...loaded.laps.values()].reduce((sum, table) => sum + table.lap.length, 0)
      const publishedTelemetry = count(Path.join(fixturesRoot, "2025/Australian Grand Prix/Race"), /_tel\.json$/)
      expect(loaded.telemetry.get("VER")?.size).toBe(10)
      expect(loaded.telemetry.get("NOR")?.get(7)?.tel.dataKey).toBe("2025-Australian Grand Prix-Race-NOR-7")
      expect(loaded.summary.missingTelemetry).toBe(totalLaps - publishedTelemetry)
      // drivers + weather + rcm + session_laptimes + 20 lap tables + one telemetry file per lap row
      const expectedRequests = 4 + 20 + totalLaps
      expect(mirror.hits()).toBe(expectedRequests)
      expect(loaded.summary.requests).toBe(expectedRequests)
      expect(loaded.summary.files).toBe(3 + 20 + totalLaps)
      expect(loaded.summary.failures).toBe(0)
      for (const path of ["drivers.json", "VER/laptimes.json", "VER/1_tel.json", "HAM/30_tel.json"]) {
        expect(mirror.hits(`2025/Australian Grand Prix/Race/${path}`)).toBe(1)
      }
      const last = progress[progress.length - 1]!
      expect(last.phase).toBe("done")
      expect(last.completed).toBe(last.total)
      expect(progress.some((p) => p.phase === "telemetry")).toBe(true)
    }))

  it.live("uses session_laptimes.json when published, split by driver", () =>
    Effect.gen(function*() {
      const mirror = yield* MirrorServer.make({ root: fixturesRoot })
      const loaded = yield* SessionLoader.use((loader) =>
        loader.load({ year: 2025, gp: "Abu Dhabi Grand Prix", session: "FP1" })
      ).pipe(
        Effect.provide(stack({ cdns: [mirror.origin] }))
      )
      expect(loaded.laps.size).toBe(20)
      const ver = loaded.laps.get("VER")!
      expect(
        ver.drv?.every((driver) => driver === "VER")
      ).toBe(true)
      const published = JSON.parse(
        Fs.readFileSync(Path.join(fixturesRoot, "2025/Abu Dhabi Grand Prix/Practice 1/VER/laptimes.json"), "utf8")
      )
      expect(ver.lap).toEqual(published.lap)
      expect(loaded.weather?.wT[0]).toBe(53.837)
      expect(loaded.raceControl?.time[0]).toBe("2025-12-05T09:16:40.000000000")
      expect(mirror.hits("2025/Abu Dhabi Grand Prix/Practice 1/VER/laptimes.json")).toBe(0)
      expect(loaded.summary.failures).toBe(0)
    }))

  it.live("a warm load from SQLite (a new stack) delivers what the cold load did, with no request", () =>
    Effect.gen(function*() {
      const mirror = yield* MirrorServer.make({ root: fixturesRoot })
      const cacheDir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "tif1-loader-"))
      const load = SessionLoader.use((loader) =>
        loader.load({ year: 2025, gp: "Australian Grand Prix", session: "R" }, { telemetry: true })
      ).pipe(
        Effect.provide(stack(
          { cdns: [mirror.origin] },
          Cache.layerSqlite.pipe(Layer.provide(Tif1Config.layerDefaults({ cacheDir })))
        ))
      )
      const cold = yield* load
      const requests = mirror.hits()
      const warm = yield* load
      expect(mirror.hits()).toBe(requests)
      expect(warm.summary.cacheHits).toBe(cold.summary.delivered)
      expect(warm.telemetry.get("NOR")?.size).toBe(10)
      // The published file, decoded: what both loads must hold for it.
      const published = JSON.parse(
        Fs.readFileSync(Path.join(fixturesRoot, "2025/Australian Grand Prix/Race/NOR/7_tel.json"), "utf8")
      ).tel
      const warmLap = warm.telemetry.get("NOR")!.get(7)!.tel
      expect(warmLap.speed).toEqual(published.speed)
      expect(warmLap.gear).toEqual(published.gear)
      expect(warmLap.brake).toEqual(published.brake.map((value: number) => value === 1))
      expect(Object.keys(warmLap)).toEqual(Object.keys(cold.telemetry.get("NOR")!.get(7)!.tel))
      expect(warm.telemetry).toEqual(cold.telemetry)
      expect(warm.laps).toEqual(cold.laps)
      expect(warm.drivers).toEqual(cold.drivers)
      Fs.rmSync(cacheDir, { recursive: true, force: true })
    }))

  it.live("a session without drivers.json is DataNotFoundError", () =>
    Effect.gen(function*() {
      const mirror = yield* MirrorServer.make({ root: fixturesRoot })
      const error = yield* Effect.flip(
        SessionLoader.use((loader) => loader.load({ year: 2025, gp: "Monaco Grand Prix", session: "Race" }))
          .pipe(
            Effect.provide(stack({ cdns: [mirror.origin] }))
          )
      )
      expect(error._tag).toBe("DataNotFoundError")
    }))
})
