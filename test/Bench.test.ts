import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { describe, expect, it } from "vitest"
import { fleetSmokeOptions, runFleet } from "../bench/fleet.js"
import { runNginx } from "../bench/nginx.js"
import { openTelemetrySpans, runBench, smokeOptions } from "../bench/run.js"
import { runStartup, startupSmokeOptions } from "../bench/startup.js"
import { runWan, wanSmokeOptions } from "../bench/wan.js"

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
      "tif1 session warm"
    ])
    for (const result of results.slice(0, 6)) expect(result.files, result.contender).toBe(2 * 3)
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
