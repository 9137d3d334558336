/**
 * The fleet profile: 4 worker processes load the same session (with telemetry) at once against
 * one mirror and one `redis-server`, each with its own empty SQLite folder. Measured: CDN
 * requests in total (the mirror counts them), the fleet's wall time against one worker alone,
 * and a warm load per file from Redis (new SQLite folder) against one from SQLite.
 *
 *   npm run bench:fleet              20 drivers x 50 laps, 3 repetitions
 *   npm run bench:fleet -- --smoke   tiny sizes, one repetition (what the test runs)
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { execFile } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import * as MirrorServer from "../src/mirror/MirrorServer.js"
import { Cache } from "../src/services/Cache.js"
import { startRedis } from "../test/support/redis.js"
import { loadSession, tif1Runtime } from "./clients.js"
import {
  countFlag,
  fixturesRoot,
  hasFlag,
  isMain,
  resultsFile,
  runMain,
  today,
  tsxLoader,
  writeJson
} from "./program.js"
import { median } from "./summary.js"
import { buildSyntheticSession } from "./synthetic.js"

/** What one run of the profile measures. */
export interface FleetOptions {
  readonly workers: number
  readonly drivers: number
  readonly laps: number
  readonly repetitions: number
  /** Added to every mirror response, ms (a CDN is not on loopback). */
  readonly latencyMs: number
  readonly out: string
  readonly log: (line: string) => void
}

/** What a worker reports. */
interface WorkerReport {
  readonly seconds: number
  readonly delivered: number
  readonly redisHits: number
  readonly sqliteHits: number
  /** Redis commands that failed or timed out (each one skips the tier for redis_retry_after). */
  readonly redisErrors: number
}

/** One worker process: load the session, print its report. */
const runWorker = async (origin: string, cacheDir: string, redisUrl: string, startAt: number) => {
  const runtime = tif1Runtime(origin, {
    cacheDir,
    enableCache: true,
    maxRetries: 0,
    ...(redisUrl === "" ? {} : { redisUrl })
  })
  await runtime.runPromise(Effect.void)
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, startAt - Date.now())))
  const started = performance.now()
  const delivered = await loadSession(runtime)
  const seconds = (performance.now() - started) / 1000
  const stats = await runtime.runPromise(Effect.flatMap(Cache, (cache) => cache.stats))
  await runtime.dispose()
  const report: WorkerReport = {
    seconds,
    delivered,
    redisHits: stats.redis.hits,
    sqliteHits: stats.sqlite.hits,
    redisErrors: stats.redis.errors
  }
  process.stdout.write(`${JSON.stringify(report)}\n`)
}

const spawnWorker = (origin: string, cacheDir: string, redisUrl: string, startAt: number) =>
  new Promise<WorkerReport>((resolve, reject) => {
    execFile(
      process.execPath,
      ["--import", tsxLoader, fileURLToPath(import.meta.url), "worker", origin, cacheDir, redisUrl, String(startAt)],
      { timeout: 300_000, maxBuffer: 1 << 20 },
      (error, stdout, stderr) => {
        if (error) return reject(new Error(`${error.message}\n${stderr}`))
        const line = stdout.trim().split("\n").at(-1) ?? ""
        resolve(JSON.parse(line) as WorkerReport)
      }
    )
  })

/** Run `npm run bench:fleet`. */
export const runFleet = async (options: FleetOptions) => {
  const work = Fs.mkdtempSync(Path.join(Os.tmpdir(), "tif1-fleet-"))
  const synthetic = buildSyntheticSession(fixturesRoot, Path.join(work, "cdn"), options)
  const scope = Effect.runSync(Scope.make())
  const mirror = await Effect.runPromise(Scope.provide(
    MirrorServer.make({ root: synthetic.root, protocol: "h1", faults: { latencyMs: options.latencyMs } }),
    scope
  ))
  const redis = await startRedis()
  let folders = 0
  const folder = () => Path.join(work, `cache-${folders++}`)
  const files = synthetic.allPaths.length
  options.log(
    `fleet profile: ${options.workers} worker processes, ${files} files per session load, mirror on loopback ` +
      `(HTTP/1.1, ${options.latencyMs} ms per response), one redis-server`
  )
  const rows: Record<string, Array<number>> = {
    "one worker alone, s": [],
    "one worker alone, CDN requests": [],
    "fleet without Redis, s": [],
    "fleet without Redis, CDN requests": [],
    "fleet with Redis, s": [],
    "fleet with Redis, CDN requests": [],
    "warm from SQLite, ms per file": [],
    "warm from Redis, ms per file": []
  }
  const fleet = async (redisUrl: string) => {
    mirror.resetCounters()
    const startAt = Date.now() + 2000 // every worker's runtime is built before the race starts
    const reports = await Promise.all(
      Array.from({ length: options.workers }, () => spawnWorker(mirror.origin, folder(), redisUrl, startAt))
    )
    for (const report of reports) {
      if (report.delivered !== files) throw new Error(`a worker delivered ${report.delivered} of ${files} files`)
    }
    const redisErrors = reports.reduce((sum, report) => sum + report.redisErrors, 0)
    if (redisErrors > 0) options.log(`  (Redis errors in the fleet's workers: ${redisErrors})`)
    return { seconds: Math.max(...reports.map((report) => report.seconds)), requests: mirror.hits() }
  }
  for (let repetition = 0; repetition < options.repetitions; repetition++) {
    redis.cli("FLUSHALL")
    const aloneDir = folder()
    mirror.resetCounters()
    const alone = await spawnWorker(mirror.origin, aloneDir, "", 0)
    rows["one worker alone, s"]!.push(alone.seconds)
    rows["one worker alone, CDN requests"]!.push(mirror.hits())
    const warmSqlite = await spawnWorker(mirror.origin, aloneDir, "", 0)
    rows["warm from SQLite, ms per file"]!.push((warmSqlite.seconds * 1000) / files)
    const without = await fleet("")
    rows["fleet without Redis, s"]!.push(without.seconds)
    rows["fleet without Redis, CDN requests"]!.push(without.requests)
    const shared = await fleet(redis.url)
    rows["fleet with Redis, s"]!.push(shared.seconds)
    rows["fleet with Redis, CDN requests"]!.push(shared.requests)
    const warmRedis = await spawnWorker(mirror.origin, folder(), redis.url, 0)
    if (warmRedis.redisHits !== files) throw new Error(`warm from Redis hit ${warmRedis.redisHits} of ${files}`)
    rows["warm from Redis, ms per file"]!.push((warmRedis.seconds * 1000) / files)
    options.log(`  repetition ${repetition + 1}: ${
      JSON.stringify(Object.fromEntries(
        Object.entries(rows).map(([name, values]) => [name, Number(values.at(-1)!.toFixed(3))])
      ))
    }`)
  }
  const medians = Object.fromEntries(Object.entries(rows).map(([name, values]) => [name, median(values)]))
  const ratios = {
    "fleet CDN requests with Redis / one worker's": medians["fleet with Redis, CDN requests"]! /
      medians["one worker alone, CDN requests"]!,
    "fleet CDN requests without Redis / one worker's": medians["fleet without Redis, CDN requests"]! /
      medians["one worker alone, CDN requests"]!,
    "fleet with Redis / one worker alone": medians["fleet with Redis, s"]! / medians["one worker alone, s"]!,
    "fleet without Redis / one worker alone": medians["fleet without Redis, s"]! / medians["one worker alone, s"]!,
    "warm from Redis / warm from SQLite, per file": medians["warm from Redis, ms per file"]! /
      medians["warm from SQLite, ms per file"]!
  }
  for (const [name, value] of Object.entries(medians)) options.log(`${name.padEnd(48)} ${value.toFixed(3)}`)
  for (const [name, value] of Object.entries(ratios)) options.log(`${name.padEnd(48)} ${value.toFixed(2)}x`)
  writeJson(options.out, { options: { ...options, log: undefined }, files, rows, medians, ratios })
  await redis.kill()
  await Effect.runPromise(Scope.close(scope, Exit.void))
  Fs.rmSync(work, { recursive: true, force: true })
  return { files, medians, ratios }
}

/** Tiny sizes, one repetition: what the test runs so the harness cannot rot. */
export const fleetSmokeOptions = (out: string): FleetOptions => ({
  workers: 2,
  drivers: 2,
  laps: 2,
  repetitions: 1,
  latencyMs: 5,
  out,
  log: () => {}
})

/** The options `npm run bench:fleet -- <argv>` runs with: `--repetitions <n>`, `--smoke` (tiny sizes, one repetition). */
export const fleetOptionsFrom = (argv: ReadonlyArray<string>): FleetOptions => {
  const smoke = hasFlag(argv, "--smoke")
  const repetitions = countFlag(argv, "--repetitions", 3, "repetitions")
  return {
    workers: smoke ? 2 : 4,
    drivers: smoke ? 2 : 20,
    laps: smoke ? 2 : 50,
    repetitions: smoke ? 1 : repetitions,
    latencyMs: smoke ? 5 : 25,
    out: resultsFile(`fleet-${today()}${smoke ? "-smoke" : ""}.json`),
    log: (line) => console.log(line)
  }
}

if (isMain(import.meta.url)) {
  const [mode, ...rest] = process.argv.slice(2)
  if (mode === "worker") {
    const [origin, cacheDir, redisUrl, startAt] = rest as [string, string, string, string]
    runMain(() => runWorker(origin, cacheDir, redisUrl, Number(startAt)))
  } else {
    runMain(() => runFleet(fleetOptionsFrom(process.argv.slice(2))))
  }
}
