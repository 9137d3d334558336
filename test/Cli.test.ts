import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { H2CClient } from "undici"
import { sampleRoot, statsSampleRoot } from "../src/cli/demo.js"
import * as MirrorServer from "../src/mirror/MirrorServer.js"
import { runCli, sandbox, startCli } from "./support/cli.js"
import { eventually } from "./support/servers.js"
import { fixturesRoot } from "./support/stack.js"

const australia = Path.join(fixturesRoot, "2025/Australian Grand Prix/Race")

/** A plain HTTP/1.1 mirror over the fixtures, and the env pointing the CLI at it. */
const fixtureMirror = Effect.map(
  MirrorServer.make({ root: fixturesRoot, protocol: "h1" }),
  (mirror) => ({
    mirror,
    env: { TIF1_CDNS: MirrorServer.templateFor(mirror.origin), TIF1_MAX_RETRIES: "0" }
  })
)

const run = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  Effect.promise(() => runCli(args, { env }))

/** One readable error line and a hint, no stack trace. */
const expectOneLineError = (stderr: string, pattern: RegExp) => {
  const lines = stderr.trim().split("\n")
  expect(lines.find((line) => line.startsWith("error: "))).toMatch(pattern)
  expect(lines.some((line) => line.startsWith("hint: "))).toBe(true)
  expect(stderr).not.toMatch(/\n\s+at /)
}

describe("tif1 CLI (child process)", () => {
  it.live("--help lists every command and exits 0", () =>
    Effect.gen(function*() {
      const result = yield* run(["--help"])
      expect(result.code).toBe(0)
      for (const command of ["fetch", "load", "events", "results", "standings", "mirror", "stats", "config", "demo"]) {
        expect(result.stdout).toContain(command)
      }
      const sub = yield* run(["mirror", "serve", "--help"])
      expect(sub.code).toBe(0)
      expect(sub.stdout).toContain("--tls")
    }))

  it.live("a usage mistake exits 2", () =>
    Effect.gen(function*() {
      expect((yield* run(["fetch", "2025"])).code).toBe(2)
      expect((yield* run(["fetch", "soon", "Australian Grand Prix", "Race", "drivers.json"])).code).toBe(2)
      expect((yield* run(["frobnicate"])).code).toBe(2)
      const bare = yield* run([])
      expect(bare.code).toBe(2)
      expectOneLineError(bare.stderr, /tif1 needs a command/)
      expect((yield* run(["mirror"])).code).toBe(2)
    }))

  it.live("a bad setting exits 2 and names the variable", () =>
    Effect.gen(function*() {
      const result = yield* run(["fetch", "2025", "Australian Grand Prix", "Race", "drivers.json"], {
        TIF1_MAX_RETRIES: "-1"
      })
      expect(result.code).toBe(2)
      expectOneLineError(result.stderr, /max_?retries|maxRetries/i)
      expect(result.stderr).toContain("TIF1_MAX_RETRIES")
    }))

  it.live("fetch prints the file as JSON and exits 0", () =>
    Effect.gen(function*() {
      const { env } = yield* fixtureMirror
      const result = yield* run(["fetch", "2025", "Australian Grand Prix", "Race", "drivers.json"], env)
      expect(result.code).toBe(0)
      expect(JSON.parse(result.stdout)).toEqual(
        JSON.parse(Fs.readFileSync(Path.join(australia, "drivers.json"), "utf8"))
      )
    }))

  it.live("stats shows what fetch cached; mirror pull copies a session byte for byte", () =>
    Effect.gen(function*() {
      const { env } = yield* fixtureMirror
      const home = sandbox()
      const inHome = (args: ReadonlyArray<string>) => Effect.promise(() => runCli(args, { home, env }))
      expect((yield* inHome(["fetch", "2025", "Australian Grand Prix", "Race", "VER/1_tel.json"])).code).toBe(0)
      expect((yield* inHome(["fetch", "2025", "Australian Grand Prix", "Race", "rcm.json"])).code).toBe(3)
      const stats = yield* inHome(["stats"])
      expect(stats.code).toBe(0)
      expect(stats.stdout).toMatch(/^ {2}cached files\s+1$/m)
      expect(stats.stdout).toMatch(/^ {2}known missing\s+1$/m)
      expect(stats.stdout).toContain(Path.join(home, "cache", "tif1-cache.sqlite"))

      const out = Path.join(home, "pulled")
      const pull = yield* inHome([
        "mirror",
        "pull",
        "2025",
        "Australian Grand Prix",
        "Race",
        "--out",
        out,
        "--telemetry"
      ])
      expect(pull.code).toBe(0)
      const pulled = Path.join(out, "2025/Australian Grand Prix/Race")
      for (const file of ["drivers.json", "VER/laptimes.json", "VER/3_tel.json", "NOR/10_tel.json"]) {
        expect(Fs.readFileSync(Path.join(pulled, file)).equals(Fs.readFileSync(Path.join(australia, file)))).toBe(true)
      }
      expect(pull.stdout).toMatch(/^ {2}failed\s+0$/m)
    }))

  it.live("a file on no CDN exits 3", () =>
    Effect.gen(function*() {
      const { env } = yield* fixtureMirror
      const result = yield* run(["fetch", "2025", "Australian Grand Prix", "Race", "weather.json"], env)
      expect(result.code).toBe(3)
      expectOneLineError(result.stderr, /not found on any CDN: 2025\/Australian Grand Prix\/Race\/weather.json/)
    }))

  it.live("an unreachable CDN exits 4, with the cause under --verbose", () =>
    Effect.gen(function*() {
      const env = { TIF1_CDNS: "http://127.0.0.1:9/{year}/{gp}/{session}/{path}", TIF1_MAX_RETRIES: "0" }
      const args = ["fetch", "2025", "Australian Grand Prix", "Race", "drivers.json"]
      const result = yield* run(args, env)
      expect(result.code).toBe(4)
      expectOneLineError(result.stderr, /network error for http:\/\/127\.0\.0\.1:9\//)
      const verbose = yield* run([...args, "--verbose"], env)
      expect(verbose.code).toBe(4)
      expect(verbose.stderr).toContain("NetworkError")
    }))

  it.live("an invalid request exits 5 before any I/O", () =>
    Effect.gen(function*() {
      const result = yield* run(["fetch", "2025", "Australian Grand Prix", "Race", "../secrets.json"], {
        TIF1_CDNS: "http://127.0.0.1:9/{year}/{gp}/{session}/{path}"
      })
      expect(result.code).toBe(5)
      expectOneLineError(result.stderr, /invalid data at path: .*"\.\.\/secrets\.json".*segment "\.\." is not allowed/)
    }))

  it.live("load without a TTY prints plain progress lines and a summary table", () =>
    Effect.gen(function*() {
      const { env, mirror } = yield* fixtureMirror
      const result = yield* run(["load", "2025", "Australian Grand Prix", "Race"], env)
      expect(result.code).toBe(0)
      expect(result.stderr).not.toContain("\r")
      expect(result.stderr).toMatch(/^Race done (\d+)\/\1 files {2}[\d.]+ MB {2}[\d.]+ MB\/s$/m)
      // drivers + 20 lap tables delivered; weather, rcm and session_laptimes are not published
      const row = (name: string) => new RegExp(`^  ${name}\\s+(.+)$`, "m").exec(result.stdout)?.[1]
      expect(row("files")).toBe("21 delivered of 23")
      expect(row("not found")).toBe("2")
      expect(Number(row("requests"))).toBe(mirror.hits())
      expect(Number(row("connections"))).toBeGreaterThanOrEqual(1)
      expect(row("reuse")).toMatch(/%$/)
    }))

  it.live("load --json prints the summary as one JSON object; stats and config --json too", () =>
    Effect.gen(function*() {
      const { env, mirror } = yield* fixtureMirror
      const home = sandbox()
      const loaded = yield* Effect.promise(() =>
        runCli(["load", "2025", "Australian Grand Prix", "Race", "--json"], { home, env })
      )
      expect(loaded.code).toBe(0)
      const summary = JSON.parse(loaded.stdout)
      expect(summary).toMatchObject({
        year: 2025,
        session: "Race",
        interrupted: false,
        delivered: 21,
        files: 23,
        notFound: 2
      })
      expect(summary.requests).toBe(mirror.hits())
      const stats = JSON.parse((yield* Effect.promise(() => runCli(["stats", "--json"], { home, env }))).stdout)
      expect(stats.cache.sqlite.entries).toBe(21)
      expect(stats.cdns[0].baseUrl).toBe(MirrorServer.templateFor(mirror.origin))
      const config = JSON.parse((yield* Effect.promise(() => runCli(["config", "--json"], { home, env }))).stdout)
      expect(config.max_retries).toEqual({ value: 0, source: "env TIF1_MAX_RETRIES", env: "TIF1_MAX_RETRIES" })
      expect(config.log_level).toEqual({ value: "warning", source: "default", env: "TIF1_LOG_LEVEL" })
    }))

  it.live("Ctrl-C during load cancels it, prints interrupted and what was loaded (published names), exits 130", () =>
    Effect.gen(function*() {
      const mirror = yield* MirrorServer.make({ root: fixturesRoot, protocol: "h1", faults: { latencyMs: 400 } })
      const run = startCli(["load", "2025", "australia", "race", "--telemetry"], {
        home: sandbox(),
        env: { TIF1_CDNS: MirrorServer.templateFor(mirror.origin), TIF1_MAX_RETRIES: "0" }
      })
      yield* eventually(() => mirror.hits() >= 1, "the load's first request", 30_000)
      run.child.kill("SIGINT")
      const result = yield* Effect.promise(() => run.done)
      expect(result.code).toBe(130)
      expect(result.stderr.trim().split("\n").at(-1)).toBe("interrupted")
      expect(result.stdout.split("\n")[0]).toBe("2025 Australian Grand Prix Race (interrupted)")
      expect(result.stdout).toMatch(/^ {2}files\s+\d+ completed of \d+ known$/m)
    }))

  it.live("a typo in load exits 2 (usage) before any I/O, with the nearest names, and nothing is remembered", () =>
    Effect.gen(function*() {
      const { env, mirror } = yield* fixtureMirror
      const home = sandbox()
      const typo = yield* Effect.promise(() => runCli(["load", "2025", "Austrlian Grand Prix", "race"], { home, env }))
      expect(typo.code).toBe(2)
      expect(typo.stderr).toContain("did you mean 'Australian Grand Prix'")
      expect(mirror.hits()).toBe(0)
      const info = JSON.parse((yield* Effect.promise(() => runCli(["cache", "info", "--json"], { home, env }))).stdout)
      expect(info).toMatchObject({ rows: 0, notFoundEntries: 0 })
      // Lower case and a country name are fine.
      const loaded = yield* Effect.promise(() => runCli(["load", "2025", "australia", "race", "--json"], { home, env }))
      expect(loaded.code, loaded.stderr).toBe(0)
      expect(JSON.parse(loaded.stdout)).toMatchObject({ gp: "Australian Grand Prix", session: "Race", delivered: 21 })
    }))

  it.live("cache info shows what is stored; cache clear drops a session; --refresh revalidates", () =>
    Effect.gen(function*() {
      const { env, mirror } = yield* fixtureMirror
      const home = sandbox()
      const cli = (args: ReadonlyArray<string>) => Effect.promise(() => runCli(args, { home, env }))
      expect((yield* cli(["load", "2025", "Australian Grand Prix", "Race"])).code).toBe(0)
      const info = JSON.parse((yield* cli(["cache", "info", "--json"])).stdout)
      // weather.json, rcm.json and session_laptimes.json are not published for this session
      expect(info).toMatchObject({ rows: 21, notFoundEntries: 3 })
      expect(info.fileBytes).toBeGreaterThan(0)
      expect(Date.parse(info.oldest)).toBeLessThanOrEqual(Date.parse(info.newest))
      const hits = mirror.hits()
      // --refresh revalidate asks for all 24 files again (stored ones conditionally, the 3 missing ones too)
      expect((yield* cli(["load", "2025", "Australian Grand Prix", "Race", "--refresh", "revalidate"])).code).toBe(0)
      expect(mirror.hits()).toBe(hits + 24)
      const cleared = yield* cli(["cache", "clear", "2025", "australia", "R"])
      expect(cleared.stdout).toBe("cleared 2025 Australian Grand Prix Race\n")
      expect(JSON.parse((yield* cli(["cache", "info", "--json"])).stdout)).toMatchObject({
        rows: 0,
        notFoundEntries: 0
      })
      expect((yield* cli(["cache", "clear", "twenty"])).code).toBe(2)
    }))

  it.live("events lists a season's rounds and sessions with UTC and local times; --json", () =>
    Effect.gen(function*() {
      const result = yield* run(["events", "2025"])
      expect(result.code).toBe(0)
      expect(result.stdout).toMatch(/^R01 {2}Australian Grand Prix {2}\(Melbourne, Australia\)$/m)
      expect(result.stdout).toMatch(/^ {2}Race\s+2025-03-16 04:00 UTC {2}2025-03-16 15:00 \+11:00 local {2}started$/m)
      const events = JSON.parse((yield* run(["events", "2025", "--json"])).stdout)
      expect(events).toHaveLength(25)
      expect(events[1].sessions.at(-1)).toMatchObject({ name: "Race", start: "2025-03-16T04:00:00Z", started: true })
      const unknown = yield* run(["events", "2031"])
      expect(unknown.code).toBe(3)
      expect(unknown.stderr).toMatch(/^error: no schedule for 2031: /)
    }))

  it.live("load --verbose shows retries, fallbacks, skips and the breaker, and ends with the slowest CDN attempts", () =>
    Effect.gen(function*() {
      const failing = yield* MirrorServer.make({
        root: fixturesRoot,
        protocol: "h1",
        faults: { rules: [{ match: "*", status: 503 }] }
      })
      const { mirror } = yield* fixtureMirror
      const result = yield* run(["load", "2025", "Australian Grand Prix", "Race", "--verbose"], {
        TIF1_CDNS: [MirrorServer.templateFor(failing.origin), MirrorServer.templateFor(mirror.origin)].join(","),
        TIF1_MAX_RETRIES: "0"
      })
      expect(result.code, result.stderr).toBe(0)
      const name = new URL(failing.origin).host
      expect(result.stderr).toContain(`warn: cdn ${name} skipped for 30 s after 3 consecutive failures`)
      expect(result.stderr).toMatch(
        new RegExp(
          `debug: fetch 2025/Australian Grand Prix/Race/drivers\\.json: ${
            name.replaceAll(".", "\\.")
          }: http-status \\(HTTP 503\\); trying 127\\.0\\.0\\.1:\\d+`
        )
      )
      const slowest = result.stderr.slice(result.stderr.indexOf("slowest CDN attempts:\n"))
      const lines = slowest.trim().split("\n").slice(1)
      expect(lines).toHaveLength(5)
      for (const line of lines) {
        expect(line).toMatch(/^ {2}\d+\.\d{3} s {2}127\.0\.0\.1:\d+ {2}http:\/\/127\.0\.0\.1:\d+\/2025\//)
      }
    }))

  it.live("config shows each value with its source and variable", () =>
    Effect.gen(function*() {
      const home = sandbox()
      Fs.writeFileSync(Path.join(home, ".tif1rc"), JSON.stringify({ timeout: 7 }))
      const result = yield* Effect.promise(() => runCli(["config"], { home, env: { TIF1_MAX_RETRIES: "1" } }))
      expect(result.code).toBe(0)
      expect(result.stdout).toMatch(/^ {2}max_retries\s+1 {2}from env TIF1_MAX_RETRIES {2}\[TIF1_MAX_RETRIES\]$/m)
      expect(result.stdout).toMatch(/^ {2}timeout\s+7 {2}from file .*\.tif1rc/m)
      expect(result.stdout).toMatch(/^ {2}retry_jitter\s+true {2}from default/m)
    }))

  it.live("mirror serve serves a folder until SIGINT, then exits 0", () =>
    Effect.gen(function*() {
      const cli = startCli(["mirror", "serve", "--port", "0", "--h2", fixturesRoot], { home: sandbox() })
      yield* eventually(
        () => /serving .* at http:\/\/127\.0\.0\.1:\d+ \(h2c\)/.test(cli.output()),
        "mirror started",
        30_000
      )
      const origin = /at (http:\/\/127\.0\.0\.1:\d+)/.exec(cli.output())![1]!
      const client = new H2CClient(origin)
      const response = yield* Effect.promise(() =>
        client.request({ method: "GET", path: "/2025@main/Australian%20Grand%20Prix/Race/drivers.json" })
      )
      expect(response.statusCode).toBe(200)
      expect(yield* Effect.promise(() => response.body.text())).toBe(
        Fs.readFileSync(Path.join(australia, "drivers.json"), "utf8")
      )
      yield* Effect.promise(() => client.close())
      cli.child.kill("SIGINT")
      const result = yield* Effect.promise(() => cli.done)
      expect(result.code).toBe(0)
    }))

  it.live("demo serves the bundled sample and loads it cold, then warm with no requests", () =>
    Effect.gen(function*() {
      const result = yield* run(["demo"])
      expect(result.code).toBe(0)
      const cold = /cold: [\d.]+ s, (\d+) requests to the mirror/.exec(result.stdout)
      const warm = /warm: [\d.]+ s, (\d+) requests to the mirror/.exec(result.stdout)
      expect(Number(cold?.[1])).toBeGreaterThan(900)
      expect(warm?.[1]).toBe("0")
      // drivers, weather, rcm, 20 lap tables, one telemetry file per lap row; delivered: drivers,
      // the lap tables and VER/NOR laps 1-10
      const race = Path.join(sampleRoot, "2025/Australian Grand Prix/Race")
      const drivers = Fs.readdirSync(race).filter((name) => !name.endsWith(".json"))
      const laps = drivers.map((driver) =>
        (JSON.parse(Fs.readFileSync(Path.join(race, driver, "laptimes.json"), "utf8").replaceAll("NaN", "null")) as {
          lap: Array<number>
        }).lap.filter((lap) => Number.isInteger(lap) && lap > 0).length
      )
      const files = 3 + drivers.length + laps.reduce((sum, count) => sum + count, 0)
      expect(result.stdout).toContain(
        `2025 Australian Grand Prix Race\n  files        ${1 + drivers.length + 20} delivered of ${files}`
      )
      expect(result.stdout).toMatch(/2025 Abu Dhabi Grand Prix Practice 1\n {2}files\s+4 delivered of 4/)

      // The archive's lines, from the Stats sample's files: both podiums, both championships after
      // the last race; cold, the season's events.json, two results and two standings files; warm, none.
      const stats = (path: string) => JSON.parse(Fs.readFileSync(Path.join(statsSampleRoot, "2025", path), "utf8"))
      const podium = (slug: string) => {
        const race = stats(`${slug}/results.json`).MRData.RaceTable.Races[0]
        return `2025 ${race.raceName}: ${
          race.Results.slice(0, 3).map((row: any) =>
            `${row.position} ${row.Driver.code} ${row.Constructor.name} ${row.Time.time}`
          ).join(", ")
        }`
      }
      const leaders = (file: string, name: (row: any) => string) => {
        const list = stats(`abu-dhabi-grand-prix/${file}`).MRData.StandingsTable.StandingsLists[0]
        const rows = list.DriverStandings ?? list.ConstructorStandings
        return `after round ${list.round}: ${
          rows.slice(0, 3).map((row: any) => `${row.position} ${name(row)} ${row.points}`).join(", ")
        }`
      }
      expect(result.stdout).toContain(
        "\narchive (Stats sample, same stack):\n" +
          `  ${podium("australian-grand-prix")}\n` +
          `  ${podium("abu-dhabi-grand-prix")}\n` +
          `  2025 drivers ${leaders("driverPoints.json", (row) => row.Driver.code)}\n` +
          `  2025 teams ${leaders("teamPoints.json", (row) => row.Constructor.name)}\n` +
          "  archive: cold 5 requests to the mirror, warm 0\n"
      )
    }))
})
