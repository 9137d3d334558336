import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Tif1Client } from "../src/client.js"
import * as MirrorServer from "../src/mirror/MirrorServer.js"
import type { Tif1ConfigOverrides } from "../src/schema/Config.js"
import {
  DataNotFoundError,
  InvalidDataError,
  NetworkError,
  Tif1ClientClosedError,
  Tif1ConfigError
} from "../src/schema/Errors.js"
import { databaseFileName } from "../src/services/Cache.js"
import { serveArchive, type ServedArchive } from "./support/archive.js"
import { testCertificate } from "./support/servers.js"
import { fixturesRoot } from "./support/stack.js"

const race = { year: 2025, gp: "Australian Grand Prix", session: "Race" } as const
const fixture = (path: string) =>
  JSON.parse(Fs.readFileSync(Path.join(fixturesRoot, "2025/Australian Grand Prix/Race", path), "utf8"))

let scope: Scope.Closeable
let mirror: MirrorServer.MirrorServerService

beforeAll(async () => {
  scope = await Effect.runPromise(Scope.make())
  mirror = await Effect.runPromise(
    Scope.provide(MirrorServer.make({ root: fixturesRoot, protocol: "h2", certificate: testCertificate() }), scope)
  )
})
afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)))

const temporaryDir = () => Fs.mkdtempSync(Path.join(Os.tmpdir(), "tif1-client-"))

/**
 * A client on the fixture mirror (HTTP/2), hermetic settings, SQLite cache in a temp dir, with
 * `overrides` on top.
 */
const makeClient = (cacheDir = temporaryDir(), overrides: Tif1ConfigOverrides = {}) =>
  Tif1Client.make(
    {
      cdns: [MirrorServer.templateFor(mirror.origin)],
      cacheDir,
      enableCache: true,
      ciMode: false,
      offlineMode: false,
      maxRetries: 0,
      connectionStatsLogInterval: 0,
      ...overrides
    },
    { http: { ca: testCertificate().cert } }
  )

/** Poll until `condition` holds (bounded). */
const waitFor = async (condition: () => boolean, what: string) => {
  const deadline = Date.now() + 5_000
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

describe("Tif1Client", () => {
  it("fetchJson returns the parsed file; fetchMany keeps input order with null for failures", async () => {
    const client = await makeClient()
    try {
      expect(await client.fetchJson(race.year, race.gp, race.session, "drivers.json")).toEqual(fixture("drivers.json"))
      const many = await client.fetchMany([
        { ...race, path: "VER/1_tel.json" },
        { ...race, path: "weather.json" },
        { ...race, path: "corners.json" }
      ])
      expect(many).toEqual([fixture("VER/1_tel.json"), null, fixture("corners.json")])
    } finally {
      await client.close()
    }
  })

  it("loadSession, connectionStats, circuitState, cdnSources report what happened", async () => {
    mirror.resetCounters()
    const client = await makeClient()
    try {
      const loaded = await client.loadSession(race.year, race.gp, "R")
      expect(loaded.session).toBe("Race")
      expect([...loaded.laps.keys()].sort()).toEqual(fixture("drivers.json").drivers.map((d: any) => d.driver).sort())
      expect(loaded.summary.requests).toBe(mirror.hits())
      const stats = await client.connectionStats()
      expect(stats.totalRequests).toBe(mirror.hits())
      expect(stats.connectionsCreated).toBe(mirror.connectionsOpened())
      expect((await client.circuitState()).state).toBe("closed")
      const sources = await client.cdnSources()
      expect(sources.map((source) => source.baseUrl)).toEqual([MirrorServer.templateFor(mirror.origin)])
      expect(sources[0]!.failures).toBe(0)
    } finally {
      await client.close()
    }
  })

  it("clearCache sends the next read to the network again", async () => {
    const client = await makeClient()
    try {
      const path = "VER/2_tel.json"
      await client.fetchJson(race.year, race.gp, race.session, path)
      const hitsAfterFirst = mirror.hits(`2025/Australian Grand Prix/Race/${path}`)
      await client.fetchJson(race.year, race.gp, race.session, path)
      expect(mirror.hits(`2025/Australian Grand Prix/Race/${path}`)).toBe(hitsAfterFirst)
      await client.clearCache()
      await client.fetchJson(race.year, race.gp, race.session, path)
      expect(mirror.hits(`2025/Australian Grand Prix/Race/${path}`)).toBe(hitsAfterFirst + 1)
    } finally {
      await client.close()
    }
  })

  it("rejects with the typed error instances", async () => {
    const client = await makeClient()
    try {
      const notFound = await client.fetchJson(race.year, race.gp, race.session, "rcm.json").catch((e) => e)
      expect(notFound).toBeInstanceOf(DataNotFoundError)
      expect(notFound).toMatchObject({ year: 2025, gp: "Australian Grand Prix", session: "Race", path: "rcm.json" })
      const invalid = await client.fetchJson(1950, race.gp, race.session, "drivers.json").catch((e) => e)
      expect(invalid).toBeInstanceOf(InvalidDataError)
      expect(invalid.message).toContain("year")
    } finally {
      await client.close()
    }
    const offline = await Tif1Client.make({
      cdns: ["http://127.0.0.1:9/{year}/{gp}/{session}/{path}"],
      enableCache: false,
      maxRetries: 0,
      connectionStatsLogInterval: 0
    })
    try {
      const network = await offline.fetchJson(race.year, race.gp, race.session, "drivers.json").catch((e) => e)
      expect(network).toBeInstanceOf(NetworkError)
      expect(network.url).toMatch(/^http:\/\/127\.0\.0\.1:9\//)
    } finally {
      await offline.close()
    }
    const badConfig = await Tif1Client.make({ maxRetries: -1 }).catch((e) => e)
    expect(badConfig).toBeInstanceOf(Tif1ConfigError)
    expect(badConfig).toMatchObject({ key: "max_retries", source: "override" })
  })

  it("events lists a season; clearCache takes a session by the names users type", async () => {
    const client = await makeClient()
    try {
      const season = await client.events(2025)
      expect(season.map((event) => event.name)).toContain("São Paulo Grand Prix")
      expect(await client.events(2031)).toEqual([])
      await client.fetchJson(race.year, race.gp, race.session, "drivers.json")
      await client.fetchJson(race.year, race.gp, "Qualifying", "drivers.json")
      expect((await client.cacheStats()).sqlite.entries).toBe(2)
      await client.clearCache({ year: 2025, gp: "australia", session: "race" })
      expect((await client.cacheStats()).sqlite.entries).toBe(1)
      await client.clearCache({ year: 2025, gp: "melbourne" })
      expect((await client.cacheStats()).sqlite.entries).toBe(0)
      const typo = await client.clearCache({ year: 2025, gp: "Austrlian" }).catch((error) => error)
      expect(typo).toBeInstanceOf(InvalidDataError)
    } finally {
      await client.close()
    }
  })

  it("close releases the sockets and the database; later calls reject clearly", async () => {
    const cacheDir = temporaryDir()
    const client = await makeClient(cacheDir)
    await client.fetchJson(race.year, race.gp, race.session, "VER/3_tel.json")
    expect(mirror.connectionsOpen()).toBeGreaterThan(0)
    expect(Fs.existsSync(Path.join(cacheDir, `${databaseFileName}-wal`))).toBe(true)
    await client.close()
    await waitFor(() => mirror.connectionsOpen() === 0, "the mirror to see the sockets close")
    // SQLite removes the WAL file when the last connection to the database closes.
    expect(Fs.existsSync(Path.join(cacheDir, `${databaseFileName}-wal`))).toBe(false)
    const closed = await client.fetchJson(race.year, race.gp, race.session, "drivers.json").catch((e) => e)
    expect(closed).toBeInstanceOf(Tif1ClientClosedError)
    expect(closed.message).toContain("fetchJson called after close()")
    await client.close()
  })
})

describe("Tif1Client: the Stats archive", () => {
  let archiveScope: Scope.Closeable
  let archive: ServedArchive

  beforeAll(async () => {
    archiveScope = await Effect.runPromise(Scope.make())
    archive = await Effect.runPromise(Scope.provide(serveArchive({ protocol: "h2" }), archiveScope))
  })
  afterAll(() => Effect.runPromise(Scope.close(archiveScope, Exit.void)))

  /** A client whose archive source is the archive mirror (and whose timing CDN is the fixture mirror). */
  const makeArchiveClient = (cacheDir = temporaryDir()) => makeClient(cacheDir, { statsCdns: [archive.template] })

  it("results, qualifying, sprint, pitStops, lapPositions and standings answer typed rows", async () => {
    const client = await makeArchiveClient()
    try {
      const results = await client.results(2025, "Australian Grand Prix")
      expect(results[0]).toMatchObject({ position: 1, points: 25, grid: 1, laps: 57, driver: { code: "NOR" } })
      expect(results.find((row) => row.positionText === "R")!.time).toBeNull()
      expect((await client.qualifying(2025, "australia"))[0]!.q3).toEqual({ seconds: 75.096, text: "1:15.096" })
      expect((await client.sprint(2025, "China"))[0]!.driver.code).toBe("HAM")
      expect((await client.pitStops(2025, 1))[0]).toMatchObject({ driverId: "norris", lap: 2, stop: 1 })
      expect((await client.lapPositions(2025, "Abu Dhabi"))[0]).toMatchObject({ lap: 1, driverId: "max_verstappen" })
      const drivers = await client.standings(2025, { gp: "Abu Dhabi" })
      expect(drivers[0]).toMatchObject({ position: 1, points: 423, driver: { code: "NOR" } })
      const teams = await client.standings(2025, { gp: "Abu Dhabi", of: "teams" })
      expect(teams[0]).toMatchObject({ position: 1, points: 833, team: { name: "McLaren" } })
    } finally {
      await client.close()
    }
  })

  it("rejects with the typed error instances: not published, a typo, a bad year", async () => {
    const client = await makeArchiveClient()
    try {
      const notFound = await client.sprint(2025, "Australia").catch((error) => error)
      expect(notFound).toBeInstanceOf(DataNotFoundError)
      expect(notFound).toMatchObject({
        year: 2025,
        gp: "australian-grand-prix",
        session: "stats",
        path: "sprint_results.json"
      })
      const typo = await client.results(1950, "Britsh").catch((error) => error)
      expect(typo).toBeInstanceOf(InvalidDataError)
      expect(typo.message).toContain("did you mean 'British Grand Prix'")
      const early = await client.standings(1949).catch((error) => error)
      expect(early).toBeInstanceOf(InvalidDataError)
      expect(early.path).toBe("year")
    } finally {
      await client.close()
    }
  })

  it("events answers 1950-2017 from the archive in the calendar's shape, and 2018 on from the calendar", async () => {
    const client = await makeArchiveClient()
    try {
      const before = archive.hits()
      const events1950 = await client.events(1950)
      expect(archive.hits()).toBe(before + 1)
      expect(events1950.map((event) => event.name)).toEqual([
        "British Grand Prix",
        "Monaco Grand Prix",
        "Indianapolis 500",
        "Swiss Grand Prix",
        "Belgian Grand Prix",
        "French Grand Prix",
        "Italian Grand Prix"
      ])
      expect(events1950[0]).toEqual({
        round: 1,
        name: "British Grand Prix",
        officialName: "British Grand Prix",
        country: "UK",
        location: "Silverstone",
        format: "conventional",
        utcOffset: "",
        sessions: [{ name: "Race", start: "1950-05-13" }]
      })
      const events2025 = await client.events(2025)
      expect(archive.hits()).toBe(before + 1)
      expect(events2025[0]!.name).toBe("Pre-Season Testing")
      expect(events2025.filter((event) => event.round > 0)).toHaveLength(24)
    } finally {
      await client.close()
    }
  })

  it("a warm client answers from the SQLite file without a request", async () => {
    const cacheDir = temporaryDir()
    const cold = await makeArchiveClient(cacheDir)
    const before = archive.hits()
    const rows = await cold.standings(1950, { gp: "British Grand Prix", of: "teams" })
    await cold.close()
    expect(archive.hits()).toBe(before + 2)
    const warm = await makeArchiveClient(cacheDir)
    try {
      expect(await warm.standings(1950, { gp: "british", of: "teams" })).toEqual(rows)
      expect(archive.hits()).toBe(before + 2)
    } finally {
      await warm.close()
    }
  })
})
