/**
 * The demo's sample of the Stats archive (`examples/data/stats`: the 2025 events.json, the
 * Australian and Abu Dhabi folders, the season's standings) answers what `tif1 demo` shows of
 * the archive, offline through the whole stack: cold in five requests, warm from the SQLite file
 * in none. `tif1 demo` prints these lines (Cli.test.ts checks them against the files).
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { statsSampleRoot } from "../src/cli/demo.js"
import { Archive } from "../src/services/Archive.js"
import * as Cache from "../src/services/Cache.js"
import { serveArchive, statsFixturesRoot } from "./support/archive.js"
import { stack } from "./support/stack.js"

/** The folder `tif1 demo` serves as the archive. */
const sampleRoot = statsSampleRoot

/** What the demo shows of the archive: both podiums and both championships after the last round. */
const demoQueries = Effect.gen(function*() {
  const archive = yield* Archive
  const podium = (gp: string) =>
    Effect.map(
      archive.results({ year: 2025, gp }),
      (rows) => rows.slice(0, 3).map((row) => [row.driver.code, row.team.name, row.time?.text])
    )
  return {
    australia: yield* podium("Australian Grand Prix"),
    abuDhabi: yield* podium("Abu Dhabi Grand Prix"),
    drivers: (yield* archive.standings({ year: 2025, gp: "Abu Dhabi Grand Prix" }))
      .slice(0, 3).map((row) => [row.round, row.driver.code, row.points]),
    teams: (yield* archive.standings({ year: 2025, gp: "Abu Dhabi Grand Prix", of: "teams" }))
      .slice(0, 3).map((row) => [row.round, row.team.name, row.points])
  }
})

describe("the demo's archive sample", () => {
  it("holds byte-identical copies of the fixtures", () => {
    const files = (root: string, folder = ""): Array<string> =>
      Fs.readdirSync(Path.join(root, folder), { withFileTypes: true }).flatMap((entry) =>
        entry.isDirectory() ? files(root, Path.join(folder, entry.name)) : [Path.join(folder, entry.name)]
      )
    const sample = files(sampleRoot).sort()
    expect(sample).toContain(Path.join("2025", "events.json"))
    expect(sample).toContain(Path.join("2025", "driverPoints.json"))
    expect(sample).toContain(Path.join("2025", "teamPoints.json"))
    expect(sample.filter((file) => file.includes("australian-grand-prix"))).toHaveLength(7)
    expect(sample.filter((file) => file.includes("abu-dhabi-grand-prix"))).toHaveLength(7)
    for (const file of sample) {
      expect(Fs.readFileSync(Path.join(sampleRoot, file)).equals(Fs.readFileSync(Path.join(statsFixturesRoot, file))))
        .toBe(true)
    }
  })

  it.live("answers the demo's archive lines: cold in five requests, warm from SQLite in none", () =>
    Effect.gen(function*() {
      const served = yield* serveArchive({ from: sampleRoot, protocol: "h2" })
      const cacheDir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "tif1-sample-"))
      const layer = () =>
        stack({
          cdns: ["http://127.0.0.1:9/{year}/{gp}/{session}/{path}"],
          statsCdns: [served.template],
          cacheDir,
          enableCache: true,
          ciMode: false
        }, Cache.layer)
      const cold = yield* demoQueries.pipe(Effect.provide(layer()))
      expect(served.hits()).toBe(5)
      const warm = yield* demoQueries.pipe(Effect.provide(layer()))
      expect(served.hits()).toBe(5)
      expect(warm).toEqual(cold)
      expect(cold).toEqual({
        australia: [["NOR", "McLaren", "1:42:06.304"], ["VER", "Red Bull", "+0.895"], ["RUS", "Mercedes", "+8.481"]],
        abuDhabi: [["VER", "Red Bull", "1:26:07.469"], ["PIA", "McLaren", "+12.594"], ["NOR", "McLaren", "+16.572"]],
        drivers: [[24, "NOR", 423], [24, "VER", 421], [24, "PIA", 410]],
        teams: [[24, "McLaren", 833], [24, "Mercedes", 469], [24, "Red Bull", 451]]
      })
    }))
})
