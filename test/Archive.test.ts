/**
 * The Stats archive through the whole stack, on real files served by the real mirror: names
 * resolved (the calendar from 2018, the archive's own `events.json` before), slugs from
 * `events.json` by race day, cold and warm loads counted on the server, freshness by season on the
 * TestClock, the archive's own CDN list, health and breaker, and what is never stored.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as TestClock from "effect/testing/TestClock"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as MirrorServer from "../src/mirror/MirrorServer.js"
import type { Tif1ConfigOverrides } from "../src/schema/Config.js"
import { Archive } from "../src/services/Archive.js"
import * as Cache from "../src/services/Cache.js"
import { CdnManager } from "../src/services/CdnManager.js"
import { CircuitBreaker } from "../src/services/CircuitBreaker.js"
import { Fetcher } from "../src/services/Fetcher.js"
import { events2026AfterAugust, serveArchive, type ServedArchive, statsFixture } from "./support/archive.js"
import { capturedLogs } from "./support/logs.js"
import { startServer } from "./support/servers.js"
import { fixturesRoot, stack } from "./support/stack.js"

/** No timing CDN is asked in these tests; one that would be is a closed local port. */
const noTimingCdn = "http://127.0.0.1:9/{year}/{gp}/{session}/{path}"

const archiveStack = (
  served: ServedArchive | ReadonlyArray<ServedArchive>,
  overrides: Tif1ConfigOverrides = {},
  cache: Layer.Layer<Cache.Cache, any, any> = Cache.layerMemory
) =>
  stack({
    cdns: [noTimingCdn],
    statsCdns: (Array.isArray(served) ? served : [served]).map((one: ServedArchive) => one.template),
    maxRetries: 0,
    ...overrides
  }, cache)

const temporaryDir = () => Fs.mkdtempSync(Path.join(Os.tmpdir(), "tif1-archive-cache-"))

/** The mirror sees a changed file within a second (`recheckMs`): wait that long, in real time, after an edit. */
const mirrorSeesEdits = Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 1_100)))

describe("Archive: cold and warm", () => {
  it.live("cold: events.json and the document (two requests); warm: memory, then SQLite, no request", () =>
    Effect.gen(function*() {
      const served = yield* serveArchive({ protocol: "h2" })
      const cacheDir = temporaryDir()
      const layer = () => archiveStack(served, { cacheDir, enableCache: true, ciMode: false }, Cache.layer)
      const results = Effect.flatMap(Archive, (archive) => archive.results({ year: 2025, gp: "Australian Grand Prix" }))

      const [cold, warm] = yield* Effect.all([results, results]).pipe(Effect.provide(layer()))
      expect(served.hits("2025/events.json")).toBe(1)
      expect(served.hits("2025/australian-grand-prix/results.json")).toBe(1)
      expect(served.hits()).toBe(2)
      expect(warm).toBe(cold)
      expect(cold[0]).toMatchObject({ position: 1, points: 25, driver: { code: "NOR" } })

      const fromDisk = yield* results.pipe(Effect.provide(layer()))
      expect(served.hits()).toBe(2)
      expect(fromDisk).toEqual(cold)
    }))

  it.live("concurrent calls share one request per document", () =>
    Effect.gen(function*() {
      const served = yield* serveArchive()
      const all = yield* Effect.flatMap(Archive, (archive) =>
        Effect.all(
          Array.from({ length: 10 }, () => archive.lapPositions({ year: 2025, gp: "Abu Dhabi Grand Prix" })),
          { concurrency: "unbounded" }
        )).pipe(Effect.provide(archiveStack(served)))
      expect(served.hits("2025/events.json")).toBe(1)
      expect(served.hits("2025/abu-dhabi-grand-prix/laptimes.json")).toBe(1)
      expect(all.every((rows) => rows === all[0])).toBe(true)
    }))

  it.live("cache keys start with stats/, where no timing key can be", () =>
    Effect.gen(function*() {
      const served = yield* serveArchive()
      const [stored, timingShaped] = yield* Effect.gen(function*() {
        yield* (yield* Archive).events(2025)
        const cache = yield* Cache.Cache
        return [yield* cache.get("stats/2025/events.json"), yield* cache.get("2025/events.json")] as const
      }).pipe(Effect.provide(archiveStack(served)))
      expect(stored._tag).toBe("Hit")
      expect(timingShaped._tag).toBe("Miss")
    }))
})

describe("Archive: names", () => {
  it.live("from 2018 names resolve through the calendar: any case, country, location, round", () =>
    Effect.gen(function*() {
      const served = yield* serveArchive()
      const spellings = [
        "Abu Dhabi Grand Prix",
        "abu dhabi",
        "ABU DHABI GRAND PRIX",
        "United Arab Emirates",
        "yas island",
        "24",
        24
      ]
      const all = yield* Effect.flatMap(
        Archive,
        (archive) => Effect.forEach(spellings, (gp) => archive.results({ year: 2025, gp }))
      ).pipe(
        Effect.provide(archiveStack(served))
      )
      expect(all.every((rows) => rows === all[0])).toBe(true)
      expect(all[0]![0]).toMatchObject({ position: 1, driver: { code: "VER" }, team: { name: "Red Bull" } })
      expect(served.hits()).toBe(2)
    }))

  it.live("a typo of a known name fails naming the nearest, with at most one request", () =>
    Effect.gen(function*() {
      const served = yield* serveArchive()
      const error = yield* Effect.flip(
        Effect.flatMap(Archive, (archive) => archive.results({ year: 2025, gp: "Abu Dabi Grand Prx" })).pipe(
          Effect.provide(archiveStack(served))
        )
      )
      expect(error._tag).toBe("InvalidDataError")
      expect(error.message).toContain("did you mean 'Abu Dhabi Grand Prix'")
      expect(served.hits()).toBeLessThanOrEqual(1)
    }))

  it.live("1950-2017 resolve against the archive's events.json: name, country, location, round", () =>
    Effect.gen(function*() {
      const served = yield* serveArchive()
      const [all, typo, indy] = yield* Effect.flatMap(Archive, (archive) =>
        Effect.all([
          Effect.forEach(
            ["British Grand Prix", "british", "UK", "silverstone", "1", 1],
            (gp) => archive.results({ year: 1950, gp })
          ),
          Effect.flip(archive.results({ year: 1950, gp: "Britsh Grand Prix" })),
          Effect.flip(archive.results({ year: 1950, gp: "usa" }))
        ])).pipe(Effect.provide(archiveStack(served)))
      expect(all.every((rows) => rows === all[0])).toBe(true)
      expect(all[0]![0]).toMatchObject({ position: 1, points: 9, driver: { id: "farina" } })
      expect(typo._tag).toBe("InvalidDataError")
      expect(typo.message).toContain("did you mean 'British Grand Prix'")
      // The Indianapolis 500 of 1950 (USA) has no folder in the fixtures: a not-found under its slug.
      expect(indy).toMatchObject({
        _tag: "DataNotFoundError",
        year: 1950,
        gp: "indianapolis-500",
        path: "results.json"
      })
      expect(served.hits("1950/indianapolis-500/results.json")).toBe(1)
    }))

  it.live("2026's Bahrain GP: not in July's events.json (never by its round alone), then August's Malaysian slug", () =>
    Effect.gen(function*() {
      const served = yield* serveArchive()
      const [before, after, event, byCountry] = yield* Effect.gen(function*() {
        const archive = yield* Archive
        const before = yield* Effect.flip(archive.results({ year: 2026, gp: "Bahrain Grand Prix" }))
        // The archive publishes the August calendar.
        Fs.writeFileSync(Path.join(served.root, "2026/events.json"), JSON.stringify(events2026AfterAugust()))
        yield* mirrorSeesEdits
        const after = yield* Effect.flip(archive.results({ year: 2026, gp: "Bahrain Grand Prix" }))
        const event = yield* archive.event({ year: 2026, gp: "bahrain grand prix" })
        const byCountry = yield* archive.event({ year: 2026, gp: "Malaysia" })
        return [before, after, event, byCountry] as const
      }).pipe(Effect.provide(archiveStack(served)))

      // Round 16 of the July file is Singapore: a round alone never names the event.
      expect(before).toMatchObject({
        _tag: "DataNotFoundError",
        year: 2026,
        gp: "Bahrain Grand Prix",
        session: "stats"
      })
      expect(served.hits("2026/singapore-grand-prix/results.json")).toBe(0)
      // Its folder holds only event_info.json: no results published.
      expect(after).toMatchObject({
        _tag: "DataNotFoundError",
        year: 2026,
        gp: "bahrain-grand-prix-in-malaysia",
        path: "results.json"
      })
      expect(served.hits("2026/bahrain-grand-prix-in-malaysia/results.json")).toBe(1)
      expect(event).toMatchObject({ round: 16, name: "Bahrain Grand Prix in Malaysia", date: "2026-10-04" })
      expect(byCountry).toEqual(event)
      // events.json: fetched, asked again when the event was missing, and again after the edit.
      expect(served.hits("2026/events.json")).toBe(3)
    }))

  it.live("São Paulo: 2025 são-paulo-grand-prix (accent encoded), 2026 brazilian-grand-prix (by race day)", () =>
    Effect.gen(function*() {
      const served = yield* serveArchive()
      const [in2025, plain, in2026] = yield* Effect.flatMap(Archive, (archive) =>
        Effect.all([
          Effect.flip(archive.results({ year: 2025, gp: "São Paulo Grand Prix" })),
          Effect.flip(archive.results({ year: 2025, gp: "sao paulo" })),
          Effect.flip(archive.results({ year: 2026, gp: "São Paulo Grand Prix" }))
        ])).pipe(Effect.provide(archiveStack(served)))
      expect(in2025).toMatchObject({ _tag: "DataNotFoundError", gp: "são-paulo-grand-prix", path: "results.json" })
      expect(plain).toEqual(in2025)
      // The mirror decodes the URL's %C3%A3 to the folder name with its accent.
      expect(served.hits("2025/são-paulo-grand-prix/results.json")).toBe(1)
      // The calendar's round 20 of 2026 is round 19 of the archive's July file: the race day decides.
      expect(in2026).toMatchObject({ _tag: "DataNotFoundError", gp: "brazilian-grand-prix", path: "results.json" })
      expect(served.hits("2026/brazilian-grand-prix/results.json")).toBe(1)
    }))
})

describe("Archive: documents", () => {
  it.live("qualifying, sprint, pit stops, lap positions and standings, typed", () =>
    Effect.gen(function*() {
      const served = yield* serveArchive()
      const got = yield* Effect.gen(function*() {
        const archive = yield* Archive
        return {
          sprint: yield* archive.sprint({ year: 2025, gp: "China" }),
          noSprint: yield* Effect.flip(archive.sprint({ year: 2025, gp: "Australia" })),
          qualifying: yield* archive.qualifying({ year: 2025, gp: "Australia" }),
          qualifying1950: yield* archive.qualifying({ year: 1950, gp: "British" }),
          pitStops: yield* archive.pitStops({ year: 2025, gp: "Australia" }),
          laps: yield* archive.lapPositions({ year: 2025, gp: "Abu Dhabi" }),
          drivers: yield* archive.standings({ year: 2025, gp: "Abu Dhabi" }),
          teams: yield* archive.standings({ year: 2025, gp: "Abu Dhabi", of: "teams" }),
          seasonDrivers: yield* archive.standings({ year: 2025 }),
          seasonTeams: yield* archive.standings({ year: 2025, of: "teams" })
        }
      }).pipe(Effect.provide(archiveStack(served)))
      expect(got.sprint[0]).toMatchObject({ position: 1, points: 8, driver: { code: "HAM" } })
      expect(got.noSprint).toMatchObject({
        _tag: "DataNotFoundError",
        gp: "australian-grand-prix",
        path: "sprint_results.json"
      })
      expect(got.qualifying[0]).toMatchObject({ position: 1, driver: { code: "NOR" }, q3: { text: "1:15.096" } })
      expect(got.qualifying1950).toEqual([])
      expect(got.pitStops).toHaveLength(
        statsFixture("2025/australian-grand-prix/pitstops.json").MRData.RaceTable.Races[0].PitStops.length
      )
      expect(got.laps).toHaveLength(Number(statsFixture("2025/abu-dhabi-grand-prix/laptimes.json").MRData.total))
      // Norris, champion by two points: 423 to 421.
      expect(got.drivers.slice(0, 2).map((row) => [row.position, row.driver.code, row.points, row.round])).toEqual([
        [1, "NOR", 423, 24],
        [2, "VER", 421, 24]
      ])
      expect(got.teams[0]).toMatchObject({ round: 24, position: 1, points: 833, team: { id: "mclaren" } })
      // The season's files are as the archive last saved them: drivers after round 7, teams not yet computed.
      expect(got.seasonDrivers[0]).toMatchObject({ round: 7, position: 1, driver: { id: "piastri" } })
      expect(got.seasonTeams).toEqual([])
    }))

  it.live("a truncated page is used as it is, with a warning saying how many rows it lacks", () =>
    Effect.gen(function*() {
      const served = yield* serveArchive()
      const logs = capturedLogs()
      const rows = yield* Effect.flatMap(Archive, (archive) => archive.standings({ year: 1950 })).pipe(
        Effect.provide(archiveStack(served)),
        Effect.provide(logs.layer)
      )
      expect(rows).toHaveLength(30)
      expect(logs.lines.filter((line) => line.startsWith("WARN"))).toEqual([
        "WARN: stats/1950/driverPoints.json holds 30 of the 81 rows the archive counts (one page of a longer list)"
      ])
    }))

  it.live("a document in another shape is an InvalidDataError and is never stored", () =>
    Effect.gen(function*() {
      const served = yield* serveArchive()
      const file = Path.join(served.root, "2025/australian-grand-prix/results.json")
      const broken = statsFixture("2025/australian-grand-prix/results.json")
      broken.MRData.RaceTable.Races[0].Results[2].points = "None"
      Fs.writeFileSync(file, JSON.stringify(broken))
      const [first, second, stored] = yield* Effect.gen(function*() {
        const archive = yield* Archive
        const first = yield* Effect.flip(archive.results({ year: 2025, gp: "Australia" }))
        const second = yield* Effect.flip(archive.results({ year: 2025, gp: "Australia" }))
        const stored = yield* (yield* Cache.Cache).get("stats/2025/australian-grand-prix/results.json")
        return [first, second, stored] as const
      }).pipe(Effect.provide(archiveStack(served)))
      expect(first).toMatchObject({ _tag: "InvalidDataError", path: "stats/2025/australian-grand-prix/results.json" })
      expect(first.message).toContain("Results[2].points")
      expect(second).toEqual(first)
      expect(stored._tag).toBe("Miss")
      expect(served.hits("2025/australian-grand-prix/results.json")).toBe(2)
    }))

  it.live("bad queries fail before any I/O, naming the field", () =>
    Effect.gen(function*() {
      const served = yield* serveArchive()
      const errors = yield* Effect.gen(function*() {
        const archive = yield* Archive
        const fetcher = yield* Fetcher
        const flip = <A, E>(effect: Effect.Effect<A, E>) => Effect.flip(effect)
        return [
          yield* flip(archive.events(1949)),
          yield* flip(archive.results({ year: 2025.5, gp: "Australia" })),
          yield* flip(archive.results({ year: 2025, gp: "" })),
          yield* flip(archive.results({ year: 2025, gp: 0 })),
          yield* flip(archive.standings({ year: 2025, of: "constructors" as "teams" })),
          yield* flip(fetcher.sourceJson("stats", "../2025/events.json")),
          yield* flip(fetcher.sourceJson("stats", "2025/../events.json")),
          yield* flip(fetcher.sourceJson("stats", "2025/a/b/results.json")),
          yield* flip(fetcher.sourceJson("stats", "2025/events.txt")),
          yield* flip(fetcher.sourceJson("stats", "2025/a%2Fb/results.json"))
        ]
      }).pipe(Effect.provide(archiveStack(served)))
      expect(errors.map((error) => [error._tag, (error as { path?: string }).path])).toEqual([
        ["InvalidDataError", "year"],
        ["InvalidDataError", "year"],
        ["InvalidDataError", "gp"],
        ["InvalidDataError", "gp"],
        ["InvalidDataError", "of"],
        ["InvalidDataError", "path"],
        ["InvalidDataError", "path"],
        ["InvalidDataError", "path"],
        ["InvalidDataError", "path"],
        ["InvalidDataError", "path"]
      ])
      expect(served.hits()).toBe(0)
    }))
})

describe("Archive: freshness by season (TestClock)", () => {
  it.effect("the current season's documents revalidate after live_revalidate_after; an older season's are final", () =>
    Effect.gen(function*() {
      // The mirror keeps real time (its idle-connection rule would otherwise run for every
      // simulated second the test skips); the stack runs on the TestClock.
      const served = yield* TestClock.withLive(serveArchive())
      yield* TestClock.setTime(Date.parse("2026-06-01T00:00:00Z"))
      yield* Effect.gen(function*() {
        const archive = yield* Archive
        const first = yield* archive.events(2026)
        yield* archive.events(2025)
        yield* TestClock.adjust("599 seconds")
        yield* archive.events(2026)
        expect(served.hits("2026/events.json")).toBe(1)
        yield* TestClock.adjust("1 second")
        const revalidated = yield* archive.events(2026) // a conditional request, answered 304
        expect(served.hits("2026/events.json")).toBe(2)
        expect(revalidated).toEqual(first)
        yield* TestClock.adjust("30 days")
        yield* archive.events(2025)
        expect(served.hits("2025/events.json")).toBe(1)
      }).pipe(Effect.provide(archiveStack(served)))
    }))

  it.effect("a not-found is remembered live_missing_ttl in the current season, missing_payloads_ttl_days before", () =>
    Effect.gen(function*() {
      // The mirror keeps real time (its idle-connection rule would otherwise run for every
      // simulated second the test skips); the stack runs on the TestClock.
      const served = yield* TestClock.withLive(serveArchive())
      yield* TestClock.setTime(Date.parse("2026-06-01T00:00:00Z"))
      yield* Effect.gen(function*() {
        const archive = yield* Archive
        // The 2026 and the 2025 Australian Grand Prix have no folder in the fixtures.
        const current = archive.results({ year: 2026, gp: "Australian Grand Prix" })
        const past = archive.results({ year: 2025, gp: "Japanese Grand Prix" })
        yield* Effect.flip(current)
        yield* Effect.flip(past)
        yield* TestClock.adjust("299 seconds")
        yield* Effect.flip(current)
        expect(served.hits("2026/australian-grand-prix/results.json")).toBe(1)
        yield* TestClock.adjust("1 second")
        yield* Effect.flip(current)
        expect(served.hits("2026/australian-grand-prix/results.json")).toBe(2)
        yield* TestClock.adjust("6 days")
        yield* Effect.flip(past)
        expect(served.hits("2025/japanese-grand-prix/results.json")).toBe(1)
        yield* TestClock.adjust("1 day")
        yield* Effect.flip(past)
        expect(served.hits("2025/japanese-grand-prix/results.json")).toBe(2)
      }).pipe(Effect.provide(archiveStack(served)))
    }))
})

describe("Archive: its own CDNs and breaker", () => {
  it.live("a failing first source falls back to the second, skipped after 3 failures; timing CDNs untouched", () =>
    Effect.gen(function*() {
      const failing = yield* serveArchive({ faults: { rules: [{ match: "*", status: 503 }] } })
      const healthy = yield* serveArchive()
      const [rows, health, timing] = yield* Effect.gen(function*() {
        const archive = yield* Archive
        const rows = [
          yield* archive.events(2025),
          yield* archive.results({ year: 2025, gp: "Australia" }),
          yield* archive.qualifying({ year: 2025, gp: "Australia" }),
          yield* archive.pitStops({ year: 2025, gp: "Australia" })
        ]
        const fetcher = yield* Fetcher
        return [rows, yield* fetcher.sourceHealth("stats"), yield* (yield* CdnManager).sources] as const
      }).pipe(Effect.provide(archiveStack([failing, healthy])))
      expect(rows.every((list) => list.length > 0)).toBe(true)
      expect(failing.hits()).toBe(3)
      expect(healthy.hits()).toBe(4)
      expect(health.cdns.map((cdn) => [cdn.name, cdn.failures, cdn.skippedUntil !== undefined])).toEqual([
        [new URL(failing.origin).host, 3, true],
        [new URL(healthy.origin).host, 0, false]
      ])
      expect(timing.every((cdn) => cdn.failures === 0 && cdn.skippedUntil === undefined)).toBe(true)
    }))

  it.live("the archive's CDNs all failing open the archive's breaker, never the timing data's", () =>
    Effect.gen(function*() {
      const failing = yield* serveArchive({ faults: { rules: [{ match: "*", status: 503 }] } })
      const timingMirror = yield* MirrorServer.make({ root: fixturesRoot, protocol: "h1" })
      const [first, second, health, timingState, drivers] = yield* Effect.gen(function*() {
        const archive = yield* Archive
        const first = yield* Effect.flip(archive.events(2025))
        const second = yield* Effect.flip(archive.events(2025))
        const health = yield* (yield* Fetcher).sourceHealth("stats")
        const timingState = yield* (yield* CircuitBreaker).state
        const drivers = yield* (yield* Fetcher).json({
          year: 2025,
          gp: "Australian Grand Prix",
          session: "Race",
          path: "drivers.json"
        })
        return [first, second, health, timingState, drivers] as const
      }).pipe(Effect.provide(archiveStack(failing, {
        cdns: [MirrorServer.templateFor(timingMirror.origin)],
        circuitBreakerThreshold: 1
      })))
      expect(first).toMatchObject({ _tag: "NetworkError", kind: "http-status", status: 503 })
      expect(second).toMatchObject({ _tag: "NetworkError", kind: "circuit-open" })
      expect(failing.hits()).toBe(1)
      expect(health.circuit.state).toBe("open")
      expect(timingState).toBe("closed")
      expect(Object.keys(drivers)).toContain("drivers")
    }))

  it.live("user:password@ in a stats_cdns URL is sent as Basic auth, and cdn_headers by name apply", () =>
    Effect.gen(function*() {
      const seen: Array<string | undefined> = []
      const events = JSON.stringify(statsFixture("2025/events.json"))
      const server = yield* startServer("h1", (request, response) => {
        seen.push(request.headers.authorization as string | undefined)
        response.writeHead(200, { "content-type": "application/json" }).end(events)
      })
      const host = new URL(server.origin).host
      const withPassword = `http://f1fan:hunter2@${host}/stats/{path}`
      const rows = yield* Effect.flatMap(Archive, (archive) => archive.events(2025)).pipe(
        Effect.provide(stack({ cdns: [noTimingCdn], statsCdns: [withPassword], maxRetries: 0 }))
      )
      yield* Effect.flatMap(Archive, (archive) => archive.events(2025)).pipe(
        Effect.provide(stack({
          cdns: [noTimingCdn],
          statsCdns: [`${server.origin}/stats/{path}`],
          cdnHeaders: { [host]: { Authorization: "Bearer archive-token" } },
          maxRetries: 0
        }))
      )
      expect(rows).toHaveLength(24)
      expect(seen).toEqual([`Basic ${Buffer.from("f1fan:hunter2").toString("base64")}`, "Bearer archive-token"])
    }))

  it.live("the archive's metrics carry source: stats, apart from the timing data's", () =>
    Effect.gen(function*() {
      const served = yield* serveArchive()
      const snapshot = yield* Effect.gen(function*() {
        yield* (yield* Archive).events(2025)
        return yield* Metric.snapshot
      }).pipe(Effect.provide(archiveStack(served)), Effect.provideService(Metric.MetricRegistry, new Map()))
      const requests = snapshot.filter((metric) => metric.id === "tif1_requests_total")
      expect(requests.length).toBeGreaterThan(0)
      expect(requests.every((metric) => metric.attributes?.source === "stats")).toBe(true)
    }))
})
