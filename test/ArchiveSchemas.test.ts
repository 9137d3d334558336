/**
 * The Stats archive's documents decoded from the real files (`../shared/fixtures/stats`), one
 * test per quirk of the README: every value a string, no `Time` for a retired driver, no
 * `FastestLap` before 2004, no `code` for 1950s drivers, empty documents, and the odd rows.
 * Expected values are read from the raw files independently, or are known facts of those races.
 */
import * as Result from "effect/Result"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { describe, expect, it } from "vitest"
import * as Stats from "../src/schema/stats/index.js"
import { statsFixture, statsFixturesRoot } from "./support/archive.js"

const ok = <A>(result: Result.Result<A, unknown>): A => {
  if (Result.isFailure(result)) throw new Error(`expected a decoded document, got ${String(result.failure)}`)
  return result.success
}
const failure = <A, E>(result: Result.Result<A, E>): E => {
  if (Result.isSuccess(result)) throw new Error("expected an InvalidDataError")
  return result.failure
}
const rawResults = (path: string) => statsFixture(path).MRData.RaceTable.Races[0].Results as Array<any>

describe("every value is a string in the archive; numbers are numbers once decoded", () => {
  it("the 2025 Australian GP: Norris won from pole, 57 laps, 25 points, in 1:42:06.304", () => {
    const { rows, total } = ok(Stats.decodeResults("r", statsFixture("2025/australian-grand-prix/results.json")))
    const winner = rows[0]!
    expect(winner.position).toBe(1)
    expect(winner.points).toBe(25)
    expect(winner.grid).toBe(1)
    expect(winner.laps).toBe(57)
    expect(winner.number).toBe(4)
    expect(winner.driver).toEqual({
      id: "norris",
      code: "NOR",
      number: 4,
      givenName: "Lando",
      familyName: "Norris",
      nationality: "British"
    })
    expect(winner.team).toEqual({ id: "mclaren", name: "McLaren" })
    expect(winner.time).toEqual({ seconds: 1 * 3600 + 42 * 60 + 6.304, text: "1:42:06.304" })
    expect(winner.status).toBe("Finished")
    expect(rows).toHaveLength(total)
    // Each row's numbers are the raw text read as numbers, row by row.
    const raw = rawResults("2025/australian-grand-prix/results.json")
    expect(rows.map((row) => [row.position, row.points, row.grid, row.laps])).toEqual(
      raw.map((row) => [Number(row.position), Number(row.points), Number(row.grid), Number(row.laps)])
    )
  })

  it("no value decodes to the string \"None\" or to a numeric string", () => {
    for (
      const [path, decode] of [
        ["2025/abu-dhabi-grand-prix/results.json", Stats.decodeResults],
        ["2025/abu-dhabi-grand-prix/quali_results.json", Stats.decodeQualifying],
        ["2025/chinese-grand-prix/sprint_results.json", Stats.decodeSprintResults],
        ["2025/abu-dhabi-grand-prix/pitstops.json", Stats.decodePitStops],
        ["2025/abu-dhabi-grand-prix/driverPoints.json", Stats.decodeDriverStandings],
        ["1950/teamPoints.json", Stats.decodeTeamStandings]
      ] as const
    ) {
      const decoded = JSON.stringify(ok<Stats.Rows<unknown>>(decode(path, statsFixture(path))).rows)
      expect(decoded, path).not.toContain("\"None\"")
      expect(decoded, path).not.toMatch(/"(position|points|grid|laps|lap|stop|wins|round|number)":"/)
    }
  })
})

describe("quirks of the archive", () => {
  it("a retired driver has no Time: time is null, the status verbatim", () => {
    const raw = rawResults("2025/australian-grand-prix/results.json")
    const { rows } = ok(Stats.decodeResults("r", statsFixture("2025/australian-grand-prix/results.json")))
    const retired = rows.filter((row) => row.positionText === "R")
    expect(retired.map((row) => row.driver.id)).toEqual(
      raw.filter((row) => row.positionText === "R").map((row) => row.Driver.driverId)
    )
    expect(retired.length).toBeGreaterThan(0)
    for (const row of retired) {
      expect(row.time).toBeNull()
      expect(row.status).toBe("Retired")
    }
    // Timed rows are those with a Time in the file, and a row without one says so as null, not absent.
    expect(rows.map((row) => row.time === null)).toEqual(raw.map((row) => row.Time === undefined))
    expect(rows.every((row) => "time" in row && "fastestLap" in row)).toBe(true)
  })

  it("no FastestLap before 2004: every 1950 row has fastestLap null", () => {
    const raw = rawResults("1950/british-grand-prix/results.json")
    expect(raw.some((row) => "FastestLap" in row)).toBe(false)
    const { rows } = ok(Stats.decodeResults("r", statsFixture("1950/british-grand-prix/results.json")))
    expect(rows).toHaveLength(raw.length)
    expect(rows.every((row) => row.fastestLap === null)).toBe(true)
  })

  it("no code (and no permanent number) for 1950s drivers: the keys are absent", () => {
    const { rows } = ok(Stats.decodeResults("r", statsFixture("1950/british-grand-prix/results.json")))
    const farina = rows[0]!.driver
    expect(farina).toEqual({ id: "farina", givenName: "Nino", familyName: "Farina", nationality: "Italian" })
    expect("code" in farina).toBe(false)
    expect("number" in farina).toBe(false)
    // The 1950 winner's time: 2:13:23.600.
    expect(rows[0]!.time).toEqual({ seconds: 2 * 3600 + 13 * 60 + 23.6, text: "2:13:23.600" })
  })

  it("a document with no race (data not published) decodes to an empty list", () => {
    const quali1950 = statsFixture("1950/british-grand-prix/quali_results.json")
    expect(quali1950.MRData.RaceTable.Races).toEqual([])
    expect(ok(Stats.decodeQualifying("q", quali1950)).rows).toEqual([])
    const teams2025 = statsFixture("2025/teamPoints.json")
    expect(teams2025.MRData.StandingsTable.StandingsLists).toEqual([])
    expect(ok(Stats.decodeTeamStandings("t", teams2025)).rows).toEqual([])
  })

  it("a qualifying time not set is absent or \"\" in the file, null once decoded", () => {
    const raw = statsFixture("2025/australian-grand-prix/quali_results.json").MRData.RaceTable.Races[0]
      .QualifyingResults as Array<any>
    const { rows } = ok(Stats.decodeQualifying("q", statsFixture("2025/australian-grand-prix/quali_results.json")))
    const last = raw.at(-1)
    expect(last.Q1).toBe("")
    expect(rows.at(-1)!.q1).toBeNull()
    expect(raw[10].Q3).toBeUndefined()
    expect(rows[10]!.q3).toBeNull()
    expect(rows[0]!.q3).toEqual({ seconds: 75.096, text: "1:15.096" })
    expect(rows.map((row) => row.q2?.text ?? null)).toEqual(raw.map((row) => (row.Q2 ? row.Q2 : null)))
  })

  it("a race time's seconds come from its milliseconds: gaps, lapped rows and the 2025 Dutch oddity", () => {
    const raw = rawResults("2025/dutch-grand-prix/results.json")
    const { rows } = ok(Stats.decodeResults("r", statsFixture("2025/dutch-grand-prix/results.json")))
    const odd = raw.findIndex((row) => row.Time?.time === "+-1:47:38.638")
    expect(odd).toBeGreaterThan(-1)
    expect(rows[odd]!.time).toEqual({ seconds: Number(raw[odd].Time.millis) / 1000, text: "+-1:47:38.638" })
    expect(rows[odd]!.status).toBe("Retired")
    expect(rows[1]!.time).toEqual({ seconds: Number(raw[1].Time.millis) / 1000, text: "+1.271" })
    const abuDhabi = rawResults("2025/abu-dhabi-grand-prix/results.json")
    const lapped = abuDhabi.findIndex((row) => row.status === "Lapped")
    const decoded = ok(Stats.decodeResults("r", statsFixture("2025/abu-dhabi-grand-prix/results.json"))).rows
    expect(decoded[lapped]!.time).toEqual({
      seconds: Number(abuDhabi[lapped].Time.millis) / 1000,
      text: abuDhabi[lapped].Time.time
    })
  })

  it("disqualified drivers keep their place, D, and no points (2025 Chinese GP)", () => {
    const { rows } = ok(Stats.decodeResults("r", statsFixture("2025/chinese-grand-prix/results.json")))
    const disqualified = rows.filter((row) => row.positionText === "D")
    expect(disqualified.map((row) => row.driver.code)).toEqual(["LEC", "HAM", "GAS"])
    expect(disqualified.map((row) => [row.position, row.points, row.status])).toEqual([
      [18, 0, "Disqualified"],
      [19, 0, "Disqualified"],
      [20, 0, "Disqualified"]
    ])
  })

  it("a sprint decodes as a race: Hamilton won the 2025 Chinese sprint, 8 points, 19 laps", () => {
    const { rows } = ok(Stats.decodeSprintResults("s", statsFixture("2025/chinese-grand-prix/sprint_results.json")))
    expect(rows[0]).toMatchObject({ position: 1, points: 8, laps: 19, driver: { code: "HAM" } })
    expect(rows[0]!.fastestLap).toEqual({ rank: 1, lap: 2, time: { seconds: 95.399, text: "1:35.399" } })
  })

  it("standings without a place (1950 constructors, before their title): position null, positionText \"-\"", () => {
    const { rows } = ok(Stats.decodeTeamStandings("t", statsFixture("1950/teamPoints.json")))
    const raw = statsFixture("1950/teamPoints.json").MRData.StandingsTable.StandingsLists[0].ConstructorStandings
    expect(rows).toHaveLength(raw.length)
    expect(rows.every((row) => row.position === null && row.positionText === "-")).toBe(true)
    expect(rows[0]).toEqual({
      round: 7,
      position: null,
      positionText: "-",
      points: 0,
      wins: 6,
      team: { id: "alfa", name: "Alfa Romeo" }
    })
  })

  it("a season's standings may be one page of a longer list: 1950 drivers hold 30 of 81", () => {
    const { rows, total } = ok(Stats.decodeDriverStandings("d", statsFixture("1950/driverPoints.json")))
    expect(total).toBe(81)
    expect(rows).toHaveLength(30)
    expect(rows[0]).toMatchObject({ round: 7, position: 1, points: 30, wins: 3, driver: { id: "farina" } })
    // A driver of two teams lists both.
    const parnell = rows.find((row) => row.driver.id === "reg_parnell")!
    expect(parnell.teams).toHaveLength(2)
  })

  it("pit stops: local time of day as published, durations in seconds", () => {
    const raw = statsFixture("2025/australian-grand-prix/pitstops.json").MRData.RaceTable.Races[0].PitStops as Array<
      any
    >
    const { rows } = ok(Stats.decodePitStops("p", statsFixture("2025/australian-grand-prix/pitstops.json")))
    expect(rows).toHaveLength(raw.length)
    expect(rows[0]).toEqual({
      driverId: "norris",
      lap: 2,
      stop: 1,
      timeOfDay: "15:22:58",
      duration: { seconds: 13.341, text: "13.341" }
    })
    expect(rows.map((row) => row.duration.text)).toEqual(raw.map((row) => row.duration))
  })

  it("lap positions: one row per driver per lap, as many as the file has timings", () => {
    const raw = statsFixture("2025/abu-dhabi-grand-prix/laptimes.json").MRData.RaceTable.Races[0].Laps as Array<any>
    const { rows, total } = ok(
      Stats.decodeLapPositions("l", statsFixture("2025/abu-dhabi-grand-prix/laptimes.json"))
    )
    expect(rows).toHaveLength(raw.reduce((sum, lap) => sum + lap.Timings.length, 0))
    expect(rows).toHaveLength(total)
    expect(new Set(rows.map((row) => row.lap)).size).toBe(58)
    expect(rows[0]).toEqual({
      lap: 1,
      driverId: "max_verstappen",
      position: 1,
      time: { seconds: 91.677, text: "1:31.677" }
    })
  })
})

describe("events and slugs", () => {
  it("a slug is the archive's race name lower-cased with hyphens, accents kept", () => {
    expect(Stats.slugOf("São Paulo Grand Prix")).toBe("são-paulo-grand-prix")
    expect(Stats.slugOf("Bahrain Grand Prix in Malaysia")).toBe("bahrain-grand-prix-in-malaysia")
    expect(Stats.slugOf("United States Grand Prix West")).toBe("united-states-grand-prix-west")
  })

  it("every event folder of the fixtures is the slug of its event_info.json's race name", () => {
    for (const year of ["1950", "2025", "2026"]) {
      const folders = Fs.readdirSync(Path.join(statsFixturesRoot, year), { withFileTypes: true })
        .filter((entry) => entry.isDirectory())
      expect(folders.length).toBeGreaterThan(0)
      for (const folder of folders) {
        const info = ok(
          Stats.decodeEventInfo("e", statsFixture(`${year}/${folder.name}/event_info.json`))
        )
        expect(info.slug).toBe(folder.name)
      }
    }
  })

  it("events.json: rounds, dates, circuits as numbers and strings, sessions in time order with the race last", () => {
    const { rows } = ok(Stats.decodeEvents("e", statsFixture("2025/events.json")))
    expect(rows).toHaveLength(24)
    expect(rows.map((event) => event.round)).toEqual(Array.from({ length: 24 }, (_, index) => index + 1))
    const saoPaulo = rows[20]!
    expect(saoPaulo.name).toBe("São Paulo Grand Prix")
    expect(saoPaulo.slug).toBe("são-paulo-grand-prix")
    const china = rows[1]!
    expect(china.sessions.map((session) => session.name)).toEqual([
      "Practice 1",
      "Sprint Qualifying",
      "Sprint",
      "Qualifying",
      "Race"
    ])
    expect(china.circuit).toEqual({
      id: "shanghai",
      name: "Shanghai International Circuit",
      locality: "Shanghai",
      country: "China",
      latitude: 31.3389,
      longitude: 121.22
    })
    // 1950: a date and no time.
    const british1950 = ok(Stats.decodeEvents("e", statsFixture("1950/events.json"))).rows[0]!
    expect(british1950).toMatchObject({ round: 1, date: "1950-05-13", time: null })
    expect(british1950.sessions).toEqual([{ name: "Race", date: "1950-05-13", time: null }])
  })
})

describe("a document that is not what the archive publishes", () => {
  it("is an InvalidDataError naming the file, the place and the value", () => {
    const document = statsFixture("2025/australian-grand-prix/results.json")
    document.MRData.RaceTable.Races[0].Results[3].points = "None"
    const error = failure(Stats.decodeResults("stats/2025/australian-grand-prix/results.json", document))
    expect(error._tag).toBe("InvalidDataError")
    expect(error.path).toBe("stats/2025/australian-grand-prix/results.json")
    expect(error.reason).toContain("MRData.RaceTable.Races[0].Results[3].points")
    expect(error.reason).toContain("\"None\"")
  })

  it("an empty string is not a number (JavaScript would read it as 0)", () => {
    const document = statsFixture("2025/australian-grand-prix/results.json")
    document.MRData.RaceTable.Races[0].Results[0].grid = ""
    const error = failure(Stats.decodeResults("r", document))
    expect(error.reason).toContain("Results[0].grid")
  })

  it("another document's shape is refused, naming what is missing", () => {
    const error = failure(Stats.decodeResults("r", statsFixture("2025/australian-grand-prix/pitstops.json")))
    expect(error.reason).toContain("MRData.RaceTable.Races[0].Results")
  })
})
