/**
 * `tif1 results`, `tif1 standings` and `tif1 events` before 2018 (issue 27, SPEC section 9), each
 * in a real child process against a real mirror serving `../shared/fixtures/stats`, checked by its
 * exact text and exit code. The tables' values are those of the fixture files (read by hand from
 * them: `2025/australian-grand-prix/results.json`, `2025/abu-dhabi-grand-prix/teamPoints.json`, ...);
 * the JSON rows are compared with values computed here from the files.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { serveArchive, statsFixture } from "./support/archive.js"
import { runCli, sandbox } from "./support/cli.js"

/** The fixtures on a real mirror, and the env that points the CLI's archive at it (the timing CDN is unreachable). */
const archiveMirror = Effect.map(serveArchive(), (served) => ({
  served,
  env: {
    TIF1_STATS_CDNS: served.template,
    TIF1_CDNS: "http://127.0.0.1:9/{year}/{gp}/{session}/{path}",
    TIF1_MAX_RETRIES: "0"
  }
}))

const run = (args: ReadonlyArray<string>, env: Record<string, string>, home = sandbox()) =>
  Effect.promise(() => runCli(args, { home, env }))

const eventHint = "hint: an event is its name, round number, country or location, in any case, accents optional\n"

const australia2025 = `2025 Australian Grand Prix (round 1, 2025-03-16, Melbourne, Australia)
  pos  driver                      team            time         points
    1  NOR  Lando Norris           McLaren         1:42:06.304      25
    2  VER  Max Verstappen         Red Bull        +0.895           18
    3  RUS  George Russell         Mercedes        +8.481           15
    4  ANT  Andrea Kimi Antonelli  Mercedes        +10.135          12
    5  ALB  Alexander Albon        Williams        +12.773          10
    6  STR  Lance Stroll           Aston Martin    +17.413           8
    7  HUL  Nico Hülkenberg        Sauber          +18.423           6
    8  LEC  Charles Leclerc        Ferrari         +19.826           4
    9  PIA  Oscar Piastri          McLaren         +20.448           2
   10  HAM  Lewis Hamilton         Ferrari         +22.473           1
   11  GAS  Pierre Gasly           Alpine F1 Team  +26.502           0
   12  TSU  Yuki Tsunoda           RB F1 Team      +29.884           0
   13  OCO  Esteban Ocon           Haas F1 Team    +33.161           0
   14  BEA  Oliver Bearman         Haas F1 Team    +40.351           0
    R  LAW  Liam Lawson            Red Bull        Retired           0
    R  BOR  Gabriel Bortoleto      Sauber          Retired           0
    R  ALO  Fernando Alonso        Aston Martin    Retired           0
    R  SAI  Carlos Sainz           Williams        Retired           0
    R  DOO  Jack Doohan            Alpine F1 Team  Retired           0
    R  HAD  Isack Hadjar           RB F1 Team      Retired           0
`

describe("tif1 results", () => {
  it.live("the 2025 Australian GP as a table, by name, country or round; exit 0", () =>
    Effect.gen(function*() {
      const { env, served } = yield* archiveMirror
      const home = sandbox()
      for (const gp of ["Australian Grand Prix", "australia", "1", "Melbourne"]) {
        const result = yield* run(["results", "2025", gp], env, home)
        expect(result.code, result.stderr).toBe(0)
        expect(result.stdout, gp).toBe(australia2025)
        expect(result.stderr).toBe("")
      }
      // One events.json and one results.json, then the cache of the same home.
      expect(served.hits()).toBe(2)
    }))

  it.live("--json prints the typed rows: numbers as numbers, times with seconds and text, null where not timed", () =>
    Effect.gen(function*() {
      const { env } = yield* archiveMirror
      const result = yield* run(["results", "2025", "Abu Dhabi Grand Prix", "--json"], env)
      expect(result.code, result.stderr).toBe(0)
      expect(result.stdout.endsWith("\n")).toBe(true)
      const rows = JSON.parse(result.stdout)
      const published = statsFixture("2025/abu-dhabi-grand-prix/results.json").MRData.RaceTable.Races[0].Results
      expect(rows.map((row: any) => [row.position, row.driver.code, row.team.name, row.points, row.laps, row.time]))
        .toEqual(published.map((row: any) => [
          Number(row.position),
          row.Driver.code,
          row.Constructor.name,
          Number(row.points),
          Number(row.laps),
          row.Time === undefined ? null : { seconds: Number(row.Time.millis) / 1000, text: row.Time.time }
        ]))
    }))

  it.live("a lapped finisher shows laps down, not the gap the archive publishes on the leader's lap", () =>
    Effect.gen(function*() {
      const { env } = yield* archiveMirror
      const result = yield* run(["results", "2025", "abu dhabi"], env)
      expect(result.code, result.stderr).toBe(0)
      const lines = result.stdout.split("\n")
      expect(lines[0]).toBe("2025 Abu Dhabi Grand Prix (round 24, 2025-12-07, Abu Dhabi, UAE)")
      // Hadjar finished 57 of Verstappen's 58 laps; the archive's time for him is "+1.327".
      expect(lines[18]).toBe("   17  HAD  Isack Hadjar           RB F1 Team      +1 Lap            0")
      expect(result.stdout).not.toContain("+1.327")
    }))

  it.live("1950: drivers without codes, laps down and retirements as published", () =>
    Effect.gen(function*() {
      const { env } = yield* archiveMirror
      const result = yield* run(["results", "1950", "silverstone"], env)
      expect(result.code, result.stderr).toBe(0)
      expect(result.stdout.split("\n").slice(0, 6).join("\n")).toBe(
        `1950 British Grand Prix (round 1, 1950-05-13, Silverstone, UK)
  pos  driver                team         time            points
    1  Nino Farina           Alfa Romeo   2:13:23.600          9
    2  Luigi Fagioli         Alfa Romeo   +2.600               6
    3  Reg Parnell           Alfa Romeo   +52.000              4
    4  Yves Cabantous        Talbot-Lago  +2 Laps              3`
      )
      expect(result.stdout).toContain("\n    R  Juan Fangio           Alfa Romeo   Oil leak             0\n")
    }))

  it.live("a typo is a usage mistake (exit 2) with the nearest names, in the timing data's years and before", () =>
    Effect.gen(function*() {
      const { env } = yield* archiveMirror
      const typo = yield* run(["results", "2025", "Austrlian Grand Prix"], env)
      expect(typo.code).toBe(2)
      expect(typo.stdout).toBe("")
      expect(typo.stderr).toBe(
        "error: no 2025 event is called \"Austrlian Grand Prix\"; did you mean 'Australian Grand Prix', " +
          "'Austrian Grand Prix'? (`tif1 events 2025` lists them)\n" + eventHint
      )
      const old = yield* run(["results", "1950", "Britsh Grand Prix"], env)
      expect(old.code).toBe(2)
      // The nearest first; which others are near enough is the archive's rule (Archive.test.ts).
      const [line, hint, end] = old.stderr.split("\n")
      expect(line).toMatch(
        new RegExp(
          "^error: no 1950 event of the Stats archive is called \"Britsh Grand Prix\"; " +
            "did you mean 'British Grand Prix'(, '[^']+')*\\? \\(`tif1 events 1950` lists them\\)$"
        )
      )
      expect(`${hint}\n`).toBe(eventHint)
      expect(end).toBe("")
      const early = yield* run(["results", "1949", "British Grand Prix"], env)
      expect(early.code).toBe(2)
      expect(early.stderr).toBe(
        "error: year must be an integer from 1950 (the first season of the Stats archive) to 2100, got 1949\n" +
          "hint: see tif1 --help\n"
      )
    }))

  it.live("a race the archive does not have is not found (exit 3): dropped from its calendar, or no folder", () =>
    Effect.gen(function*() {
      const { env, served } = yield* archiveMirror
      const notFoundHint = "hint: the archive has a season's championship races once they have run (none for a " +
        "race called off or not run yet); check the year and the event\n"
      // The timing data's 2026 calendar has a Bahrain Grand Prix on 4 October; the archive's
      // July events.json has no race that day (it was called off, and came back in August as Malaysia's).
      const dropped = yield* run(["results", "2026", "Bahrain Grand Prix"], env)
      expect(dropped.code).toBe(3)
      expect(dropped.stdout).toBe("")
      expect(dropped.stderr).toBe(
        "error: not in the Stats archive: 2026/Bahrain Grand Prix/results.json\n" + notFoundHint
      )
      expect(served.hits("2026/bahrain-grand-prix/results.json")).toBe(0)
      // Listed in 1950's events.json, no folder in the fixtures.
      const indy = yield* run(["results", "1950", "Indianapolis 500"], env)
      expect(indy.code).toBe(3)
      expect(indy.stderr).toBe("error: not in the Stats archive: 1950/indianapolis-500/results.json\n" + notFoundHint)
      expect(served.hits("1950/indianapolis-500/results.json")).toBe(1)
    }))
})

describe("tif1 standings", () => {
  it.live("--teams --after the last round: place, team, points, wins", () =>
    Effect.gen(function*() {
      const { env } = yield* archiveMirror
      const result = yield* run(["standings", "2025", "--teams", "--after", "Abu Dhabi"], env)
      expect(result.code, result.stderr).toBe(0)
      expect(result.stdout).toBe(`2025 teams' standings after round 24 (Abu Dhabi Grand Prix)
  pos  team            points  wins
    1  McLaren            833    14
    2  Mercedes           469     2
    3  Red Bull           451     8
    4  Ferrari            398     0
    5  Williams           137     0
    6  RB F1 Team          92     0
    7  Aston Martin        89     0
    8  Haas F1 Team        79     0
    9  Sauber              70     0
   10  Alpine F1 Team      22     0
`)
    }))

  it.live("drivers after round 1: the drivers without a championship place as -", () =>
    Effect.gen(function*() {
      const { env } = yield* archiveMirror
      const result = yield* run(["standings", "2025", "--after", "1"], env)
      expect(result.code, result.stderr).toBe(0)
      const lines = result.stdout.split("\n")
      expect(lines.slice(0, 4)).toEqual([
        "2025 drivers' standings after round 1 (Australian Grand Prix)",
        "  pos  driver                      team            points  wins",
        "    1  NOR  Lando Norris           McLaren             25     1",
        "    2  VER  Max Verstappen         Red Bull            18     0"
      ])
      expect(lines.at(-2)).toBe("    -  HAD  Isack Hadjar           RB F1 Team           0     0")
      expect(lines).toHaveLength(2 + 20 + 1)
    }))

  it.live("the season's files as the archive last saved them say after which round; none yet is no error", () =>
    Effect.gen(function*() {
      const { env } = yield* archiveMirror
      const drivers = yield* run(["standings", "2025"], env)
      expect(drivers.code, drivers.stderr).toBe(0)
      expect(drivers.stdout.split("\n").slice(0, 3)).toEqual([
        "2025 drivers' standings after round 7",
        "  pos  driver                      team                  points  wins",
        "    1  PIA  Oscar Piastri          McLaren                  146     4"
      ])
      // A driver of two teams lists both, as published.
      expect(drivers.stdout).toContain("\n   12  TSU  Yuki Tsunoda           RB F1 Team, Red Bull      10     0\n")
      const teams = yield* run(["standings", "2025", "--teams"], env)
      expect(teams.code, teams.stderr).toBe(0)
      expect(teams.stdout).toBe("2025 teams' standings: none published yet\n")
      const json = yield* run(["standings", "2025", "--teams", "--json"], env)
      expect(json.stdout).toBe("[]\n")
    }))

  it.live("--json prints the typed rows after the event named", () =>
    Effect.gen(function*() {
      const { env } = yield* archiveMirror
      const result = yield* run(["standings", "2025", "--after", "abu dhabi", "--json"], env)
      expect(result.code, result.stderr).toBe(0)
      const list = statsFixture("2025/abu-dhabi-grand-prix/driverPoints.json").MRData.StandingsTable.StandingsLists[0]
      expect(
        JSON.parse(result.stdout).map((row: any) => [row.round, row.position, row.driver.id, row.points, row.wins])
      )
        .toEqual(list.DriverStandings.map((row: any) => [
          Number(list.round),
          Number(row.position),
          row.Driver.driverId,
          Number(row.points),
          Number(row.wins)
        ]))
    }))

  it.live("a typo after --after is exit 2; a dropped race is exit 3", () =>
    Effect.gen(function*() {
      const { env } = yield* archiveMirror
      const typo = yield* run(["standings", "2025", "--after", "Abu Dabi Grand Prix"], env)
      expect(typo.code).toBe(2)
      expect(typo.stderr).toContain("did you mean 'Abu Dhabi Grand Prix'")
      const dropped = yield* run(["standings", "2026", "--teams", "--after", "Bahrain Grand Prix"], env)
      expect(dropped.code).toBe(3)
      expect(dropped.stderr.split("\n")[0]).toBe(
        "error: not in the Stats archive: 2026/Bahrain Grand Prix/teamPoints.json"
      )
    }))
})

describe("tif1 events before the timing data", () => {
  it.live("1950 from the archive's events.json: rounds, places, race days", () =>
    Effect.gen(function*() {
      const { env, served } = yield* archiveMirror
      const result = yield* run(["events", "1950"], env)
      expect(result.code, result.stderr).toBe(0)
      expect(result.stdout).toBe(`R01  British Grand Prix  (Silverstone, UK)
  Race  1950-05-13
R02  Monaco Grand Prix  (Monte-Carlo, Monaco)
  Race  1950-05-21
R03  Indianapolis 500  (Indianapolis, USA)
  Race  1950-05-30
R04  Swiss Grand Prix  (Bern, Switzerland)
  Race  1950-06-04
R05  Belgian Grand Prix  (Spa, Belgium)
  Race  1950-06-18
R06  French Grand Prix  (Reims, France)
  Race  1950-07-02
R07  Italian Grand Prix  (Monza, Italy)
  Race  1950-09-03
`)
      expect(served.hits("1950/events.json")).toBe(1)
      const json = JSON.parse((yield* run(["events", "1950", "--json"], env)).stdout)
      const races = statsFixture("1950/events.json").MRData.RaceTable.Races
      expect(json.map((event: any) => [event.round, event.name, event.slug, event.date])).toEqual(
        races.map((race: any) => [
          Number(race.round),
          race.raceName,
          race.raceName.toLowerCase().replaceAll(" ", "-"),
          race.date
        ])
      )
    }))

  it.live("a season the archive does not have is not found (exit 3); one past every schedule still says so", () =>
    Effect.gen(function*() {
      const { env } = yield* archiveMirror
      const missing = yield* run(["events", "1960"], env)
      expect(missing.code).toBe(3)
      expect(missing.stderr.split("\n")[0]).toBe("error: not in the Stats archive: 1960/events.json")
      const future = yield* run(["events", "2031"], env)
      expect(future.code).toBe(3)
      expect(future.stderr).toMatch(/^error: no schedule for 2031: /)
    }))
})
