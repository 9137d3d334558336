import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as References from "effect/References"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Tif1Test from "../src/layers/Tif1Test.js"
import * as Calendar from "../src/services/Calendar.js"
import { Fetcher } from "../src/services/Fetcher.js"
import { repoRoot } from "./support/cli.js"

const bundled = Calendar.make(Calendar.bundledScheduleDir)
const resolve = (year: number, gp: string, session: string) =>
  Effect.flatMap(bundled, (calendar) => calendar.resolve(year, gp, session))
const failure = (year: number, gp: string, session: string) => Effect.flip(resolve(year, gp, session))

describe("Calendar", () => {
  it("bundles the schedules of shared/fixtures/schedules, byte for byte", () => {
    const source = Path.resolve(repoRoot, "../shared/fixtures/schedules")
    const years = Fs.readdirSync(source).filter((name) => name.endsWith(".json"))
    expect(years.length).toBeGreaterThanOrEqual(9)
    for (const file of years) {
      expect(
        Fs.readFileSync(Path.join(Calendar.bundledScheduleDir, file)).equals(Fs.readFileSync(Path.join(source, file))),
        file
      )
        .toBe(true)
    }
  })

  it.effect("resolves an event by name in any case or accents, round, country, place; a session by name or alias", () =>
    Effect.gen(function*() {
      for (
        const gp of ["Australian Grand Prix", "australian grand prix", "AUSTRALIAN", "1", "Australia", "melbourne"]
      ) {
        expect((yield* resolve(2025, gp, "Race")).gp, gp).toBe("Australian Grand Prix")
      }
      expect((yield* resolve(2025, "Sao Paulo Grand Prix", "Race")).gp).toBe("São Paulo Grand Prix")
      expect((yield* resolve(2024, "sao paulo", "Race")).gp).toBe("São Paulo Grand Prix")
      for (
        const [typed, published] of [["race", "Race"], ["R", "Race"], ["fp1", "Practice 1"], [
          "practice 2",
          "Practice 2"
        ], ["q", "Qualifying"]]
      ) {
        expect((yield* resolve(2025, "Australian Grand Prix", typed!)).session, typed).toBe(published)
      }
      const race = yield* resolve(2025, "Abu Dhabi Grand Prix", "Race")
      expect(race.startsAt).toBe(Date.parse("2025-12-07T13:00:00Z"))
      expect(race.event?.location).toBe("Yas Island")
      expect((yield* resolve(2025, "Miami", "SQ")).session).toBe("Sprint Qualifying")
    }))

  it.effect("a typo is an InvalidDataError with the nearest names", () =>
    Effect.gen(function*() {
      const error = yield* failure(2025, "Austrlian Grand Prix", "Race")
      expect(error._tag).toBe("InvalidDataError")
      expect(error.path).toBe("gp")
      expect(error.reason).toMatch(
        /^no 2025 event is called "Austrlian Grand Prix"; did you mean 'Australian Grand Prix'/
      )
    }))

  it.effect("a location or a country near a known one suggests its event first (bundled schedules)", () =>
    Effect.gen(function*() {
      const suggestions = (reason: string) => /did you mean '(.*)'\?/.exec(reason)?.[1]?.split("', '") ?? []
      expect((yield* failure(2025, "Vegas", "Race")).reason).toBe(
        "no 2025 event is called \"Vegas\"; did you mean 'Las Vegas Grand Prix'? (`tif1 events 2025` lists them)"
      )
      expect(suggestions((yield* failure(2024, "vegas", "Race")).reason)[0]).toBe("Las Vegas Grand Prix")
      for (
        const [typed, event] of [
          ["Netherland", "Dutch Grand Prix"],
          ["Untied Kingdom", "British Grand Prix"],
          ["Emirats", "Abu Dhabi Grand Prix"],
          ["Brazl", "São Paulo Grand Prix"],
          ["Azerbajan", "Azerbaijan Grand Prix"],
          ["Spa", "Belgian Grand Prix"],
          ["Bahrein", "Bahrain Grand Prix"]
        ] as const
      ) {
        expect(suggestions((yield* failure(2025, typed, "Race")).reason)[0], typed).toBe(event)
      }
      // A misspelt country with three events names the three, its own-named event first.
      expect(suggestions((yield* failure(2025, "Unted States", "Race")).reason)).toEqual([
        "United States Grand Prix",
        "Miami Grand Prix",
        "Las Vegas Grand Prix"
      ])
    }))

  it.effect("a name near nothing the schedule lists is no typo: it passes as written, unlisted (the CDN decides)", () =>
    Effect.gen(function*() {
      const passed = yield* resolve(2025, "Interlagos", "race")
      expect(passed).toMatchObject({ year: 2025, gp: "Interlagos", session: "Race", event: undefined })
      expect(passed.unlisted?.kind).toBe("event")
      // Its nearest names are for a not-found answer, none of them near: the three nearest, listed events.
      const listed = new Set((yield* Effect.flatMap(bundled, (calendar) => calendar.events(2025))).map((e) => e.name))
      expect(passed.unlisted?.nearest.length).toBe(3)
      for (const name of passed.unlisted!.nearest) expect(listed.has(name), name).toBe(true)
    }))

  it.effect("a session near one the event has fails naming the sessions it has; a published name it lacks passes", () =>
    Effect.gen(function*() {
      const error = yield* failure(2025, "Australian Grand Prix", "Raec")
      expect(error.path).toBe("session")
      expect(error.reason).toBe(
        "the 2025 Australian Grand Prix has no session \"Raec\" (did you mean 'Race'?); " +
          "it has 'Practice 1', 'Practice 2', 'Practice 3', 'Qualifying', 'Race'"
      )
      // A weekend may change format after the schedule was written: the CDN says whether it has a Sprint.
      const sprint = yield* resolve(2025, "Australian Grand Prix", "Sprint")
      expect(sprint).toMatchObject({ gp: "Australian Grand Prix", session: "Sprint", startsAt: undefined })
      expect(sprint.unlisted?.kind).toBe("session")
    }))

  it.effect("a name shared by several events names them all", () =>
    Effect.gen(function*() {
      const error = yield* failure(2025, "United States", "Race")
      expect(error.reason).toBe(
        "\"United States\" names more than one 2025 event: " +
          "'Miami Grand Prix', 'United States Grand Prix', 'Las Vegas Grand Prix'"
      )
    }))

  it.effect("a year the schedule does not know passes through unchanged, logged at debug", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const logger = Logger.layer([Logger.make(({ message }) => lines.push(String(message)))])
      const passed = yield* resolve(2031, "Lunar Grand Prix", "FP1").pipe(
        Effect.provide(logger),
        Effect.provideService(References.MinimumLogLevel, "Debug")
      )
      expect(passed).toMatchObject({ year: 2031, gp: "Lunar Grand Prix", session: "Practice 1", event: undefined })
      expect(lines.some((line) => line.startsWith("calendar: no schedule for 2031"))).toBe(true)
    }))

  it.effect("schedule_dir holds newer files of the same format; a broken one is an error naming it", () =>
    Effect.gen(function*() {
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "tif1-schedules-"))
      const season = JSON.parse(Fs.readFileSync(Path.join(Calendar.bundledScheduleDir, "2026.json"), "utf8"))
      Fs.writeFileSync(Path.join(dir, "2027.json"), JSON.stringify({ ...season, year: 2027 }))
      Fs.writeFileSync(Path.join(dir, "2028.json"), "{ not json")
      const calendar = yield* Calendar.make(dir)
      expect((yield* calendar.resolve(2027, "monaco", "race")).gp).toBe("Monaco Grand Prix")
      expect((yield* calendar.events(2027)).length).toBe(season.events.length)
      const broken = yield* Effect.flip(calendar.resolve(2028, "Monaco Grand Prix", "Race"))
      expect(broken.path).toBe(Path.join(dir, "2028.json"))
      expect(broken.reason).toContain("not a schedule file")
    }))

  it.effect("names resolve before any I/O: a typo sends nothing and is not remembered", () =>
    Effect.gen(function*() {
      const routes = Tif1Test.routes()
      const [typo, again] = yield* Effect.gen(function*() {
        const fetcher = yield* Fetcher
        const typo = yield* Effect.flip(
          fetcher.json({ year: 2025, gp: "Austrlian Grand Prix", session: "race", path: "drivers.json" })
        )
        const again = yield* Effect.flip(
          fetcher.json({ year: 2025, gp: "australia", session: "race", path: "drivers.json" })
        )
        return [typo, again] as const
      }).pipe(Effect.provide(Tif1Test.layer(routes)))
      expect(typo._tag).toBe("InvalidDataError")
      // The resolved names go on the wire.
      expect(again._tag).toBe("DataNotFoundError")
      expect(again).toMatchObject({ gp: "Australian Grand Prix", session: "Race" })
      expect(routes.requests.map((request) => request.url)).toEqual([
        "https://cdn.jsdelivr.net/gh/TracingInsights/2025@main/Australian%20Grand%20Prix/Race/drivers.json",
        "https://cdn.staticdelivr.com/gh/TracingInsights/2025/main/Australian%20Grand%20Prix/Race/drivers.json"
      ])
    }))
})
