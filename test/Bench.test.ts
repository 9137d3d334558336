import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { describe, expect, it } from "vitest"
import { fleetOptionsFrom, fleetSmokeOptions, runFleet } from "../bench/fleet.js"
import { type Contender, measureRounds, type Sample } from "../bench/harness.js"
import { nginxOptionsFrom, runNginx } from "../bench/nginx.js"
import { BenchArgumentError, benchDir } from "../bench/program.js"
import { benchOptionsFrom, runBench, smokeOptions } from "../bench/run.js"
import { runStartup, startupOptionsFrom, startupSmokeOptions } from "../bench/startup.js"
import { openTelemetrySpans } from "../bench/tracing.js"
import { runWan, wanOptionsFrom, wanSmokeOptions } from "../bench/wan.js"
import { runScript } from "./support/cli.js"

/** What `call` threw, for a test to look into (fails when it did not throw). */
const thrown = (call: () => unknown): unknown => {
  try {
    call()
  } catch (error) {
    return error
  }
  throw new Error("expected a throw")
}

/** The error `call` threw, checked to be a BenchArgumentError about `flag` and `value`. */
const badFlag = (call: () => unknown, flag: string, value: string | undefined) => {
  const error = thrown(call)
  expect(error).toBeInstanceOf(BenchArgumentError)
  expect(error).toMatchObject({ flag, value })
  return error as BenchArgumentError
}

describe("bench (smoke mode: tiny sizes, so the harness cannot rot)", () => {
  it("measures every contender against its baseline and writes the report", async () => {
    const out = Path.join(Fs.mkdtempSync(Path.join(Os.tmpdir(), "tif1-bench-test-")), "smoke.json")
    const report = await runBench(smokeOptions(out))
    expect(JSON.parse(Fs.readFileSync(out, "utf8"))).toEqual(JSON.parse(JSON.stringify(report)))

    const contenders = new Set(
      report.results.map((result) => `${result.workload} ${result.latencyMs} ${result.contender}`)
    )
    for (const latency of [0, 25]) {
      for (
        const name of ["undici h1", "undici h2", "tif1 h1 cache off", "tif1 h2 cache off", "tif1 h2 OpenTelemetry"]
      ) {
        expect(contenders).toContain(`telemetry ${latency} ${name}`)
      }
      for (const name of ["undici h2 session", "tif1 session cold", "tif1 session warm"]) {
        expect(contenders).toContain(`session ${latency} ${name}`)
      }
    }
    for (const name of ["tif1 warm memory", "tif1 warm SQLite", "tif1 h2 primary 503"]) {
      expect(contenders).toContain(`telemetry 0 ${name}`)
    }
    for (const name of ["undici h1 20KB", "HttpSession h1 20KB", "undici h2 20KB", "HttpSession h2 20KB"]) {
      expect(contenders).toContain(`small 0 ${name}`)
    }

    // The OpenTelemetry contender really traced: a span per file reached the exporter.
    expect(openTelemetrySpans.counts.get("Fetcher.json")).toBeGreaterThanOrEqual(2 * 4)

    const telemetryFiles = report.session.telemetryFiles
    expect(telemetryFiles).toBe(2 * 4)
    for (const result of report.results) {
      // runBench throws if any run delivered fewer files; each ratio is over a real baseline run.
      expect(result.files).toBe(
        result.workload === "telemetry"
          ? telemetryFiles
          : result.workload === "session"
          ? report.session.files
          : report.options.smallRequests
      )
      expect(result.ratioToBaseline).toBeGreaterThan(0)
      expect(Number.isFinite(result.ratioToBaseline)).toBe(true)
      if (result.contender === result.baseline) expect(result.ratioToBaseline).toBe(1)
    }
    const find = (latency: number, name: string) =>
      report.results.find((result) => result.latencyMs === latency && result.contender === name)!
    // Connections are counted by the server process: h1 opens one per concurrent request, h2 one in all.
    expect(find(0, "undici h1").connectionsOpened).toBe(8)
    expect(find(0, "undici h2").connectionsOpened).toBe(1)
    expect(find(0, "tif1 h2 cache off").connectionsOpened).toBe(1)
    expect(find(0, "tif1 h2 cache off").serverRequests).toBe(telemetryFiles)
    // With the primary answering 503, the healthy secondary still serves every file.
    expect(find(0, "tif1 h2 primary 503").serverRequests).toBe(telemetryFiles)
    expect(find(0, "HttpSession h2 20KB").connectionsOpened).toBeLessThanOrEqual(2)
    // Warm tiers and the warm session load do not touch the network.
    expect(find(0, "tif1 warm memory").serverRequests).toBe(0)
    expect(find(0, "tif1 warm SQLite").serverRequests).toBe(0)
    expect(find(25, "tif1 session warm").serverRequests).toBe(0)
    expect(report.micro.map((entry) => entry.name)).toEqual([
      "memory hit p50",
      "memory hit p99",
      "SQLite hit / JSON.parse (p50)",
      "telemetry decode / JSON.parse (p50)",
      "numeric columns of every telemetry file",
      "session cold / warm (0 ms)",
      "session cold / warm (25 ms)"
    ])
  })

  it("--only runs the contenders whose name has it and their baselines, at every latency", async () => {
    const out = Path.join(Fs.mkdtempSync(Path.join(Os.tmpdir(), "tif1-bench-test-")), "only.json")
    const report = await runBench({ ...smokeOptions(out), only: "warm SQLite" })
    // At 25 ms no contender has the name (the warm tiers run at 0 ms only), so nothing runs there.
    expect(report.results.map((result) => [result.latencyMs, result.contender, result.baseline])).toEqual([
      [0, "undici h2", "undici h2"],
      [0, "tif1 warm SQLite", "undici h2"]
    ])
    expect(report.results[1]!.serverRequests).toBe(0)
    expect(report.results[1]!.ratioToBaseline).toBeCloseTo(
      report.results[1]!.wallMs.median / report.results[0]!.wallMs.median,
      9
    )
    expect(JSON.parse(Fs.readFileSync(out, "utf8"))).toEqual(JSON.parse(JSON.stringify(report)))
  })

  it("--only that is in no contender's name fails before measuring, naming the contenders, and writes nothing", async () => {
    const out = Path.join(Fs.mkdtempSync(Path.join(Os.tmpdir(), "tif1-bench-test-")), "none.json")
    const failure = await runBench({ ...smokeOptions(out), only: "warm sqlite" }).then(() => undefined, (e) => e)
    expect(failure).toBeInstanceOf(BenchArgumentError)
    expect(failure).toMatchObject({ flag: "--only", value: "warm sqlite" })
    expect((failure as Error).message).toContain("tif1 warm SQLite")
    expect(Fs.existsSync(out)).toBe(false)
  })

  it("the command lines of every bench read their flags, and refuse a missing or bad value by name", () => {
    const smoke = benchOptionsFrom(["--smoke"])
    expect(smoke).toMatchObject({
      drivers: 2,
      laps: 4,
      repetitions: 1,
      out: Path.join(Os.tmpdir(), "tif1-bench-smoke.json")
    })
    expect(smoke.only).toBeUndefined()
    const full = benchOptionsFrom(["--only", "warm SQLite"])
    expect(full).toMatchObject({ drivers: 20, laps: 50, concurrency: 128, repetitions: 5, only: "warm SQLite" })
    expect(Path.dirname(full.out)).toBe(Path.join(benchDir, "results"))
    expect(benchOptionsFrom(["--smoke", "--only", "session"])).toMatchObject({ repetitions: 1, only: "session" })
    expect(badFlag(() => benchOptionsFrom(["--only"]), "--only", undefined).message).toBe(
      "--only takes a part of a contender's name; none was given"
    )
    badFlag(() => benchOptionsFrom(["--only", "--smoke"]), "--only", undefined)

    const wan = wanOptionsFrom(["--rate", "1000", "--rtt", "80", "--repetitions", "1", "--only", "session"])
    expect(wan).toMatchObject({ megabitsPerSecond: 1000, roundTripMs: 80, repetitions: 1, only: "session" })
    expect(Path.basename(wan.out)).toMatch(/^wan-1000mbit-80ms-\d{4}-\d\d-\d\d-only-session\.json$/)
    expect(wanOptionsFrom([])).toMatchObject({ megabitsPerSecond: 100, roundTripMs: 30, repetitions: 3 })
    expect(wanOptionsFrom(["--smoke", "--repetitions", "4"])).toMatchObject({ drivers: 2, laps: 3, repetitions: 1 })
    badFlag(() => wanOptionsFrom(["--rate", "fast"]), "--rate", "fast")
    badFlag(() => wanOptionsFrom(["--rate", "0"]), "--rate", "0")
    badFlag(() => wanOptionsFrom(["--rtt", "-1"]), "--rtt", "-1")
    badFlag(() => wanOptionsFrom(["--repetitions", "1.5"]), "--repetitions", "1.5")
    badFlag(() => wanOptionsFrom(["--rtt"]), "--rtt", undefined)

    expect(fleetOptionsFrom(["--repetitions", "5"])).toMatchObject({ workers: 4, repetitions: 5, latencyMs: 25 })
    expect(fleetOptionsFrom(["--smoke"])).toMatchObject({ workers: 2, drivers: 2, laps: 2, repetitions: 1 })
    badFlag(() => fleetOptionsFrom(["--repetitions", "0"]), "--repetitions", "0")

    expect(nginxOptionsFrom([])).toMatchObject({ repetitions: 3, requests: 20_000 })
    expect(nginxOptionsFrom(["--smoke"])).toMatchObject({ repetitions: 1, requests: 400 })

    expect(startupOptionsFrom([])).toMatchObject({ runs: 7, build: true, packageRoot: "checkout" })
    expect(startupOptionsFrom(["--runs", "15", "--no-build"])).toMatchObject({ runs: 15, build: false })
    expect(badFlag(() => startupOptionsFrom(["--runs", "0"]), "--runs", "0").message).toBe(
      "--runs takes a whole number of runs, 1 or more, not \"0\""
    )
  })

  it("a bench started with a bad flag says which and exits with 2 before starting anything", async () => {
    const run = await runScript(Path.join(benchDir, "run.ts"), ["--smoke", "--only"])
    expect(run.code).toBe(2)
    expect(run.stderr.trim()).toBe("--only takes a part of a contender's name; none was given")
    expect(run.stdout).toBe("")
  })

  it("the harness rotates the order each repetition, keeps a runsLast contender last, and stops on a short run", async () => {
    const ran: Array<string> = []
    const contender = (name: string, delivers = 1, runsLast = false): Contender => ({
      name,
      workload: "telemetry",
      server: "h2-0",
      baseline: "a",
      files: 1,
      ...(runsLast ? { runsLast } : {}),
      prepare: async () => ({
        run: async () => {
          ran.push(name)
          return delivers
        },
        cleanup: async () => {}
      })
    })
    const counters = async () => {
      const zero = { requests: 0, connections: 0 }
      return { "h1-0": zero, "h1-25": zero, "h2-0": zero, "h2-25": zero, "h2-503": zero }
    }
    const lines: Array<string> = []
    const list = [contender("a"), contender("b"), contender("c", 1, true), contender("d")]
    const samples: Map<Contender, Array<Sample>> = await measureRounds(
      [{ latency: 0, list }],
      { counters },
      { repetitions: 3, log: (line) => lines.push(line) }
    )
    // One untimed pass in list order, then rotations by 0, 1 and 2 with "c" moved to the end.
    expect(ran).toEqual(["a", "b", "c", "d", "a", "b", "d", "c", "b", "d", "a", "c", "d", "a", "b", "c"])
    expect(lines[0]).toMatch(/^rep 1 0 ms a: \d+ ms$/)
    expect(lines).toHaveLength(12)
    for (const entry of list) expect(samples.get(entry)).toHaveLength(3)

    const short = measureRounds([{ latency: 25, list: [contender("short", 0)] }], { counters }, {
      repetitions: 1,
      log: () => {}
    })
    await expect(short).rejects.toThrow("short at 25 ms delivered 0 of 1 files")
  })

  it("the WAN profile runs every contender through the shaped link and writes the report", async () => {
    const out = Path.join(Fs.mkdtempSync(Path.join(Os.tmpdir(), "tif1-wan-test-")), "wan.json")
    const results = await runWan(wanSmokeOptions(out))
    expect(results.map((result) => result.contender)).toEqual([
      "curl --http2 --compressed",
      "curl --http2",
      "undici h2 + decompress",
      "tif1 h2 fetchMany",
      "tif1 h2, undici's default windows",
      "tif1 h1 fetchMany (128 sockets)",
      "tif1 session cold",
      "tif1 session warm",
      "tif1 results cold (CLI)",
      "tif1 results warm (CLI)"
    ])
    for (const result of results.slice(0, 6)) expect(result.files, result.contender).toBe(2 * 3)
    // The classification of the archive sample's 2025 Australian Grand Prix: 20 rows, cold and warm.
    expect(results.slice(8).map((result) => result.files)).toEqual([20, 20])
    expect(results[0]!.ratio).toBe(1)
    expect(JSON.parse(Fs.readFileSync(out, "utf8")).results).toEqual(JSON.parse(JSON.stringify(results)))
  })

  it("the fleet profile runs workers against one redis-server and counts the CDN requests", async () => {
    const out = Path.join(Fs.mkdtempSync(Path.join(Os.tmpdir(), "tif1-fleet-test-")), "fleet.json")
    const report = await runFleet(fleetSmokeOptions(out))
    // Two workers: without Redis each fetches every file; with it, the fleet fetches them once.
    expect(report.ratios["fleet CDN requests without Redis / one worker's"]).toBe(2)
    expect(report.ratios["fleet CDN requests with Redis / one worker's"]).toBe(1)
    expect(JSON.parse(Fs.readFileSync(out, "utf8")).ratios).toEqual(report.ratios)
  }, 120_000)

  it("the nginx comparison runs h2load against both servers for every case", async () => {
    const out = Path.join(Fs.mkdtempSync(Path.join(Os.tmpdir(), "tif1-nginx-test-")), "nginx.json")
    const results = await runNginx({ repetitions: 1, requests: 400, out, log: () => {} })
    expect(results.map((result) => result.case)).toEqual([
      "small (20 KB) h1",
      "small (20 KB) h2",
      "telemetry h1",
      "telemetry h2"
    ])
    // h2load throws unless every request succeeded; each rate is a real measurement.
    for (const result of results) {
      expect(result.mirrorRequestsPerSecond * result.nginxRequestsPerSecond).toBeGreaterThan(0)
    }
    expect(JSON.parse(Fs.readFileSync(out, "utf8")).results).toEqual(results)
  }, 120_000)

  it("the startup measurement times each case in fresh processes on a staged build and writes the report", async () => {
    const work = Fs.mkdtempSync(Path.join(Os.tmpdir(), "tif1-startup-test-"))
    const out = Path.join(work, "startup.json")
    try {
      const report = await runStartup(startupSmokeOptions(Path.join(work, "package"), out))
      expect(JSON.parse(Fs.readFileSync(out, "utf8"))).toEqual(JSON.parse(JSON.stringify(report)))
      expect(report.options).toEqual({ runs: 2, staged: true })
      expect(report.build.built).toBe(true)
      expect(report.build.ms).toBeGreaterThan(0)
      expect(report.versions.effect).toMatch(/^4\./)
      expect(report.results.map((result) => [result.name, result.argv])).toEqual([
        ["node -e 0", ["-e", "0"]],
        ["import tif1-effect", ["--input-type=module", "-e", "await import(\"tif1-effect\")"]],
        ["tif1 --help", ["bin/tif1.js", "--help"]]
      ])
      // The shape of each result, not its timing: every run was a process that exited with 0.
      const baseline = report.results[0]!.medianMs
      for (const result of report.results) {
        expect(result.runsMs, result.name).toHaveLength(2)
        for (const ms of result.runsMs) expect(ms, result.name).toBeGreaterThan(0)
        expect(result.minMs).toBe(Math.min(...result.runsMs))
        expect(result.medianMs).toBeCloseTo((result.runsMs[0]! + result.runsMs[1]!) / 2, 6)
        expect(result.overBaselineMs).toBeCloseTo(result.medianMs - baseline, 6)
      }
      // What was measured is the staged package, built fresh (the checkout's dist/ is not touched).
      expect(Fs.existsSync(Path.join(work, "package/dist/index.js"))).toBe(true)
    } finally {
      Fs.rmSync(work, { recursive: true, force: true })
    }
  }, 180_000)
})
