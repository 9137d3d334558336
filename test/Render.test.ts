import { describe, expect, it } from "@effect/vitest"
import { podiumLine, resultsTable } from "../src/cli/archive.js"
import { alignedTable, makeProgress, type Output } from "../src/cli/render.js"
import type { RaceResult } from "../src/services/Archive.js"

/** A terminal that keeps what was drawn, and a clock the test moves. */
const terminal = () => {
  const frames: Array<string> = []
  const output: Output = { write: (text) => frames.push(text), isTTY: true, columns: 200 }
  let now = 0
  return { frames, output, clock: () => now, advance: (ms: number) => (now += ms) }
}
const filledOf = (frame: string) => /\[(#*)-*\]/.exec(frame)![1]!.length

describe("the progress line", () => {
  it("never runs backwards when the total grows (lap tables reveal telemetry files)", () => {
    const screen = terminal()
    const display = makeProgress(screen.output, "Race", screen.clock)
    screen.advance(500)
    display.update({ phase: "laps", completed: 13, total: 16 }, 0)
    const beforeTelemetry = filledOf(screen.frames.at(-1)!)
    expect(beforeTelemetry).toBe(13)
    display.update({ phase: "telemetry", completed: 13, total: 1016 }, 0)
    expect(filledOf(screen.frames.at(-1)!)).toBe(beforeTelemetry)
    display.update({ phase: "telemetry", completed: 1016, total: 1016 }, 0)
    expect(filledOf(screen.frames.at(-1)!)).toBe(16)
  })

  it("gives no ETA without a basis: 5 files and a second", () => {
    const screen = terminal()
    const display = makeProgress(screen.output, "Race", screen.clock)
    screen.advance(100)
    display.update({ phase: "metadata", completed: 1, total: 24 }, 0)
    expect(screen.frames.at(-1)).toMatch(/ ETA \?\x1b\[K$/)
    screen.advance(500)
    display.update({ phase: "laps", completed: 10, total: 24 }, 0)
    expect(screen.frames.at(-1)).toMatch(/ ETA \?\x1b\[K$/)
    screen.advance(900)
    display.update({ phase: "laps", completed: 4, total: 24 }, 0)
    expect(screen.frames.at(-1)).toMatch(/ ETA \?\x1b\[K$/)
  })

  it("estimates a short load (24 files, no telemetry) from its first second on, and says from what", () => {
    const screen = terminal()
    const display = makeProgress(screen.output, "Race", screen.clock)
    screen.advance(300)
    display.update({ phase: "metadata", completed: 1, total: 4 }, 0)
    screen.advance(400)
    display.update({ phase: "laps", completed: 4, total: 24 }, 0)
    screen.advance(500)
    display.update({ phase: "laps", completed: 6, total: 24 }, 0)
    // 6 files in 1.2 s: 5 files/s, 18 to go.
    expect(screen.frames.at(-1)).toMatch(/ ETA 4s at 5\.0 files\/s\x1b\[K$/)
  })

  it("estimates from the pace of the last 5 seconds: telemetry is faster than the lap tables before it", () => {
    const screen = terminal()
    const display = makeProgress(screen.output, "Race", screen.clock)
    // Lap tables: 8 files a second for 3 s; then telemetry, 100 files a second for 5 s.
    for (let tick = 1; tick <= 30; tick++) {
      screen.advance(100)
      display.update({ phase: "laps", completed: Math.round(tick * 0.8), total: 24 }, 0)
    }
    for (let tick = 1; tick <= 50; tick++) {
      screen.advance(100)
      display.update({ phase: "telemetry", completed: 24 + tick * 10, total: 1024 }, 0)
    }
    // 500 files in the last 5 s: 100 files/s, 500 to go (the whole load's 65 files/s would say 8s).
    expect(screen.frames.at(-1)).toMatch(/ telemetry 524\/1024 files .* ETA 5s at 100 files\/s\x1b\[K$/)
    // No file in the last 5 s: no pace to go by.
    screen.advance(5000)
    display.update({ phase: "telemetry", completed: 524, total: 1024 }, 0)
    screen.advance(100)
    display.update({ phase: "telemetry", completed: 524, total: 1024 }, 0)
    expect(screen.frames.at(-1)).toMatch(/ ETA \?\x1b\[K$/)
  })

  it("writes a long ETA in minutes, and none when done", () => {
    const screen = terminal()
    const display = makeProgress(screen.output, "Race", screen.clock)
    for (let tick = 1; tick <= 20; tick++) {
      screen.advance(100)
      display.update({ phase: "telemetry", completed: tick, total: 1000 }, 0)
    }
    // 10 files a second, 980 to go: 98 s.
    expect(screen.frames.at(-1)).toMatch(/ ETA 1m38s at 10 files\/s\x1b\[K$/)
    display.update({ phase: "done", completed: 1000, total: 1000 }, 0)
    expect(screen.frames.at(-1)).not.toContain("ETA")
  })
})

describe("tables with a header", () => {
  it("pads each column to its widest cell, aligns the columns named right, leaves no trailing spaces", () => {
    expect(alignedTable(["pos", "name", "points"], [["1", "Norris", "25"], ["12", "Tsunoda", "0.5"]], [0, 2])).toBe(
      "  pos  name     points\n" +
        "    1  Norris       25\n" +
        "   12  Tsunoda     0.5\n"
    )
    expect(alignedTable(["pos", "team"], [["1", "McLaren"], ["2", ""]], [0])).toBe(
      "  pos  team\n    1  McLaren\n    2\n"
    )
  })
})

/** A classification row with what the time column reads; the rest as any finisher's. */
const resultRow = (
  row: Pick<RaceResult, "position" | "positionText" | "laps" | "status" | "time"> & { readonly code?: string }
): RaceResult => ({
  position: row.position,
  positionText: row.positionText,
  number: null,
  points: 0,
  driver: {
    id: `driver${row.position}`,
    ...(row.code === undefined ? {} : { code: row.code }),
    givenName: "Given",
    familyName: `Family${row.position}`,
    nationality: "British"
  },
  team: { id: "team", name: "Team" },
  grid: row.position,
  laps: row.laps,
  status: row.status,
  time: row.time,
  fastestLap: null
})

describe("the time column of a classification", () => {
  const rows = [
    resultRow({
      position: 1,
      positionText: "1",
      laps: 58,
      status: "Finished",
      time: { seconds: 5167.469, text: "1:26:07.469" }
    }),
    resultRow({
      position: 2,
      positionText: "2",
      laps: 58,
      status: "Finished",
      time: { seconds: 5180, text: "+12.594" }
    }),
    // A lapped finisher's published time is a gap on the leader's lap.
    resultRow({ position: 3, positionText: "3", laps: 57, status: "Lapped", time: { seconds: 5168, text: "+1.327" } }),
    resultRow({ position: 4, positionText: "4", laps: 55, status: "+3 Laps", time: null }),
    // As one retired row of 2025 has it.
    resultRow({
      position: 5,
      positionText: "R",
      laps: 58,
      status: "Retired",
      time: { seconds: -1, text: "+-1:47:38.638" }
    }),
    resultRow({ position: 6, positionText: "D", laps: 58, status: "Disqualified", time: null })
  ]

  it("reads the winner's time, gaps on the lead lap, laps down, else the status as published", () => {
    const event = {
      year: 2025,
      round: 24,
      name: "Abu Dhabi Grand Prix",
      slug: "abu-dhabi-grand-prix",
      date: "2025-12-07",
      time: "13:00:00Z",
      circuit: {
        id: "yas_marina",
        name: "Yas Marina Circuit",
        locality: "Abu Dhabi",
        country: "UAE",
        latitude: 0,
        longitude: 0
      },
      sessions: []
    }
    const times = resultsTable(event, rows).split("\n").slice(2, -1).map((line) => line.trim().split(/ {2,}/)[3])
    expect(times).toEqual(["1:26:07.469", "+12.594", "+1 Lap", "+3 Laps", "Retired", "Disqualified"])
    expect(resultsTable(event, [])).toBe(
      "2025 Abu Dhabi Grand Prix (round 24, 2025-12-07, Abu Dhabi, UAE): no results published yet\n"
    )
  })

  it("the demo's one-line podium: code (or family name), team, time or gap", () => {
    expect(podiumLine([{ ...rows[0]!, driver: { ...rows[0]!.driver, code: "VER" } }, rows[1]!, rows[2]!], 3)).toBe(
      "1 VER Team 1:26:07.469, 2 Family2 Team +12.594, 3 Family3 Team +1 Lap"
    )
  })
})
