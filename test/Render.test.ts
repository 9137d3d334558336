import { describe, expect, it } from "@effect/vitest"
import { makeProgress, type Output } from "../src/cli/render.js"

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

  it("gives no ETA from the first file: only after 2 seconds and 20 files", () => {
    const screen = terminal()
    const display = makeProgress(screen.output, "Race", screen.clock)
    screen.advance(100)
    display.update({ phase: "metadata", completed: 1, total: 1000 }, 0)
    expect(screen.frames.at(-1)).toContain("ETA ?")
    screen.advance(1900)
    display.update({ phase: "telemetry", completed: 19, total: 1000 }, 0)
    expect(screen.frames.at(-1)).toContain("ETA ?")
    display.update({ phase: "telemetry", completed: 100, total: 1000 }, 0)
    // 100 files in 2 s: 50 files/s, 900 to go.
    expect(screen.frames.at(-1)).toContain("ETA 18s")
  })
})
