import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as MirrorServer from "../src/mirror/MirrorServer.js"
import { repoRoot, runScript } from "./support/cli.js"
import { fixturesRoot } from "./support/stack.js"

const race = Path.join(fixturesRoot, "2025/Australian Grand Prix/Race")
const drivers = (JSON.parse(Fs.readFileSync(Path.join(race, "drivers.json"), "utf8")) as {
  drivers: Array<{ driver: string }>
}).drivers.map((driver) => driver.driver)

/**
 * The examples import "tif1-effect" as users do; tsx maps that name to `src/index.ts` by the
 * repository's tsconfig `paths` (the child's cwd is a sandbox, so tsx is told where it is).
 */
const exampleEnv = { TSX_TSCONFIG_PATH: Path.join(repoRoot, "tsconfig.json"), TIF1_MAX_RETRIES: "0" }

/** Run an example with `env`. */
const runExampleWith = (name: string, env: Record<string, string>) =>
  Effect.promise(() => runScript(Path.join(repoRoot, "examples", name), [], { env: { ...exampleEnv, ...env } }))

/** Run an example against a fixture mirror named by TIF1_CDNS, the way a user points it at a CDN. */
const runExample = (name: string) =>
  Effect.gen(function*() {
    const mirror = yield* MirrorServer.make({ root: fixturesRoot, protocol: "h1" })
    return yield* runExampleWith(name, { TIF1_CDNS: MirrorServer.templateFor(mirror.origin) })
  })

describe("examples (run as users run them)", () => {
  it.live("effect-program.ts loads a session and prints each driver's best lap", () =>
    Effect.gen(function*() {
      const result = yield* runExample("effect-program.ts")
      expect(result.stderr).toBe("")
      expect(result.code).toBe(0)
      for (const driver of drivers) {
        const table = JSON.parse(
          Fs.readFileSync(Path.join(race, driver, "laptimes.json"), "utf8").replaceAll("NaN", "null")
        ) as { time: Array<number | null>; lap: Array<number> }
        const times = table.time.filter((time): time is number => time !== null)
        const best = times.length === 0 ? "no lap time" : `${Math.min(...times).toFixed(3)} s`
        expect(result.stdout.split("\n")).toContain(`${driver} ${table.lap.length} laps, best ${best}`)
      }
      const corners = JSON.parse(Fs.readFileSync(Path.join(race, "corners.json"), "utf8")).CornerNumber.length
      expect(result.stdout).toContain(`corners.json: ${corners} corners`)
    }))

  it.live("promise-script.ts fetches, fetches many, and handles a missing file", () =>
    Effect.gen(function*() {
      const result = yield* runExample("promise-script.ts")
      expect(result.stderr).toBe("")
      expect(result.code).toBe(0)
      expect(result.stdout).toContain(`${drivers.length} drivers: ${drivers.join(" ")}`)
      const withTelemetry = drivers.filter((driver) => Fs.existsSync(Path.join(race, driver, "1_tel.json")))
      expect(result.stdout).toContain(`lap 1 telemetry for: ${withTelemetry.join(" ")}`)
      expect(result.stdout).toContain("weather.json: not published for this session")
      expect(result.stdout).toMatch(/\d+ requests over \d+ connection\(s\)/)
    }))

  it.live("promise-script.ts reports a failure on stderr and exits non-zero when no CDN answers", () =>
    Effect.gen(function*() {
      // Port 9 (discard) on loopback: nothing listens, every connection is refused.
      const result = yield* runExampleWith("promise-script.ts", {
        TIF1_CDNS: "http://127.0.0.1:9/{year}/{gp}/{session}/{path}"
      })
      expect(result.code).toBe(1)
      expect(result.stdout).toBe("")
      expect(result.stderr).toMatch(/^failed: network error for http:\/\/127\.0\.0\.1:9\/2025\//m)
    }))

  it.live("tracing.ts prints the load's spans through OpenTelemetry, then the counters", () =>
    Effect.gen(function*() {
      const result = yield* runExample("tracing.ts")
      expect(result.code, result.stderr).toBe(0)
      expect(result.stdout).toContain("name: 'SessionLoader.load'")
      expect(result.stdout).toContain("name: 'HttpSession.get'")
      expect(result.stdout).toMatch(/^loaded 21 files$/m)
      expect(Number(/^tif1_requests_total (\d+)$/m.exec(result.stdout)?.[1])).toBe(24)
    }))
})
