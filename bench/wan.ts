/**
 * The WAN profile: the same mirror as `npm run bench`, reached through a user-space link
 * (`bench/link.ts`: one rate limit shared by every connection, and a delay each way), so that
 * bandwidth and round trips cost what they cost. The peer is what a shell user would pick,
 * `curl --parallel --parallel-max 128 --http2 --compressed`; ratios are to it.
 *
 *   npm run bench:wan                         100 Mbit/s, 30 ms round trip, 3 repetitions
 *   npm run bench:wan -- --rate 1000 --rtt 80 a long fat pipe (if 2 cores can drive it)
 *   npm run bench:wan -- --smoke              tiny sizes, one repetition (what the test runs)
 *
 * Besides telemetry, `tif1 results 2025 australia` as a user runs it (a new process, the package's
 * `bin/tif1.js` on a fresh build), on the Stats archive sample served by the same mirror through
 * the link: cold (an empty cache folder: events.json and results.json) and warm (the same folder).
 */
import * as Effect from "effect/Effect"
import { type ChildProcess, execFile, spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { interceptors } from "undici"
import type { Tif1ConfigOverrides } from "../src/schema/Config.js"
import type { HttpSessionOptions } from "../src/services/HttpSession.js"
import { fetchMany, loadSession, pool, rawH2Pool, rawJson, type Stack, tif1Runtime } from "./clients.js"
import { ServerProcess } from "./harness.js"
import {
  benchDir,
  countFlag,
  fixturesRoot,
  hasFlag,
  isMain,
  numberFlag,
  repoRoot,
  resultsFile,
  runMain,
  stringFlag,
  today,
  tsxLoader,
  writeJson
} from "./program.js"
import type { ServerKey } from "./server.js"
import { build } from "./startup.js"
import { median } from "./summary.js"
import { benchUrl, buildSyntheticSession } from "./synthetic.js"

/** undici's own HTTP/2 windows (8.x: 256 KB a stream, 512 KB a connection), to show what tif1's change. */
const undiciDefaultWindows = { stream: 256 * 1024, connection: 512 * 1024 }

/**
 * What one run of the profile measures.
 */
export interface WanOptions {
  readonly megabitsPerSecond: number
  readonly roundTripMs: number
  readonly drivers: number
  readonly laps: number
  readonly repetitions: number
  readonly concurrency: number
  readonly out: string
  readonly log: (line: string) => void
  /** Run only the contenders whose name contains this (and the peer). */
  readonly only?: string
  /**
   * How `tif1 results` runs: `built`, the checkout compiled into its `dist/` first (what users run);
   * `source`, `src/cli/main.ts` through tsx (smoke mode: no build; its times include compiling).
   */
  readonly cli: "built" | "source"
}

/** The Stats archive sample the demo serves (2025: events, standings, two races). */
const archiveSample = Path.join(repoRoot, "examples/data/stats")

/** One contender's result: wall seconds per repetition and the ratio of the median to curl's. */
export interface WanResult {
  readonly contender: string
  readonly seconds: ReadonlyArray<number>
  readonly median: number
  readonly ratio: number
  readonly files: number
}

/** The link between the benchmark and one server, in a process of its own. */
const startLink = (target: string, options: WanOptions) =>
  new Promise<{ readonly origin: string; readonly child: ChildProcess }>((resolve, reject) => {
    const { host, protocol } = new URL(target)
    const child = spawn(process.execPath, [
      "--import",
      tsxLoader,
      Path.join(benchDir, "link.ts"),
      host,
      String(options.megabitsPerSecond),
      String(options.roundTripMs / 2)
    ], { stdio: ["pipe", "pipe", "inherit"] })
    const timer = setTimeout(() => reject(new Error("the link did not start in 30 s")), 30_000)
    child.stdout!.setEncoding("utf8").once("data", (line: string) => {
      clearTimeout(timer)
      const port = /listening (\d+)/.exec(line)?.[1]
      if (port === undefined) return reject(new Error(`the link said ${line}`))
      resolve({ origin: `${protocol}//127.0.0.1:${port}`, child })
    })
  })

/** `curl --parallel` over every URL; resolves with the number of transfers that returned 200. */
const curl = (urls: ReadonlyArray<string>, caFile: string, compressed: boolean, concurrency: number, dir: string) =>
  new Promise<number>((resolve, reject) => {
    const config = Path.join(dir, `curl-${compressed ? "compressed" : "plain"}.conf`)
    Fs.writeFileSync(config, urls.map((url) => `url = "${url}"\noutput = "/dev/null"\n`).join(""))
    const args = [
      "--parallel",
      "--parallel-max",
      String(concurrency),
      "--http2",
      ...(compressed ? ["--compressed"] : []),
      "--cacert",
      caFile,
      "--silent",
      "--no-progress-meter",
      "--write-out",
      "%{http_code}\\n",
      "--config",
      config
    ]
    const child = spawn("curl", args, { stdio: ["ignore", "pipe", "inherit"] })
    let out = ""
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (out += chunk))
    child.on("error", reject)
    child.on("close", () => resolve(out.split("\n").filter((code) => code === "200").length))
  })

/** Run `npm run bench:wan`. */
export const runWan = async (options: WanOptions) => {
  /** Whether `--only` keeps a contender (the peer is always kept). */
  const isChosen = (name: string) =>
    options.only === undefined || name.includes(options.only) || name.startsWith("curl --http2 --compressed")
  const resultsNames = ["tif1 results cold (CLI)", "tif1 results warm (CLI)"] as const
  // Built before any process starts (a failed build leaves nothing running), and only when timed.
  const cli = !resultsNames.some(isChosen)
    ? []
    : options.cli === "built"
    ? (build(repoRoot), [Path.join(repoRoot, "bin/tif1.js")])
    : ["--import", tsxLoader, Path.join(repoRoot, "src/cli/main.ts")]
  const work = Fs.mkdtempSync(Path.join(Os.tmpdir(), "tif1-wan-"))
  const synthetic = buildSyntheticSession(fixturesRoot, Path.join(work, "cdn"), options)
  const server = await ServerProcess.start(synthetic.root)
  const links: Record<"h1" | "h2", { origin: string; child: ChildProcess }> = {
    h2: await startLink(server.ready.origins["h2-0" satisfies ServerKey], options),
    h1: await startLink(server.ready.origins["h1-0" satisfies ServerKey], options)
  }
  const caFile = Path.join(work, "ca.pem")
  Fs.writeFileSync(caFile, server.ready.cert)
  const paths = synthetic.telemetryPaths
  /** tif1 as the profile runs it: compressed bodies (`auto` would not compress on loopback), no retries. */
  const runtimeFor = (origin: string, overrides: Tif1ConfigOverrides, windows?: HttpSessionOptions["h2Windows"]) =>
    tif1Runtime(
      origin,
      { compression: "on", maxRetries: 0, ...overrides },
      windows === undefined ? { ca: server.ready.cert } : { ca: server.ready.cert, h2Windows: windows }
    )
  /** Build the stack (untimed), time `run` on it, dispose it (untimed). */
  const timedOn = async (runtime: Stack, run: (runtime: Stack) => Promise<number>) => {
    await runtime.runPromise(Effect.void)
    const started = performance.now()
    const files = await run(runtime)
    const seconds = (performance.now() - started) / 1000
    await runtime.dispose()
    return { seconds, files }
  }
  const many = (origin: string, multiplexed: boolean, windows?: HttpSessionOptions["h2Windows"]) =>
    timedOn(
      runtimeFor(origin, { enableCache: false, httpMultiplexed: multiplexed }, windows),
      (runtime) => fetchMany(runtime, paths, options.concurrency)
    )
  const session = (cacheDir: string) =>
    timedOn(runtimeFor(links.h2.origin, { cacheDir, enableCache: true }), loadSession)
  /**
   * What a Node user would write with undici alone: one HTTP/2 connection with undici's default
   * windows, `interceptors.decompress`, every body read and parsed (as tif1 does; curl does not parse).
   */
  const rawUndici = async () => {
    const dispatcher = rawH2Pool(links.h2.origin, options.concurrency, server.ready.cert)
      .compose(interceptors.decompress())
    const started = performance.now()
    const bodies = await pool(
      paths,
      options.concurrency,
      (path) => rawJson(dispatcher, benchUrl(links.h2.origin, path), { "accept-encoding": "br, gzip" })
    )
    const seconds = (performance.now() - started) / 1000
    await dispatcher.close()
    return { seconds, files: bodies.filter((body) => body !== undefined).length }
  }
  const timedCurl = async (compressed: boolean) => {
    const started = performance.now()
    const files = await curl(
      paths.map((path) => benchUrl(links.h2.origin, path)),
      caFile,
      compressed,
      options.concurrency,
      work
    )
    return { seconds: (performance.now() - started) / 1000, files }
  }
  // The archive sample beside the synthetic session (its year folder holds only the bench's event).
  Fs.cpSync(archiveSample, synthetic.root, { recursive: true })
  /**
   * `tif1 results 2025 australia --json` in a new process with its cache in `cacheDir`, timed from
   * spawn to exit; `files` is the classification's rows (20 for the sample).
   */
  const tif1Results = (cacheDir: string) =>
    new Promise<{ seconds: number; files: number }>((resolve, reject) => {
      const started = performance.now()
      execFile(process.execPath, [...cli, "results", "2025", "australia", "--json"], {
        env: {
          ...process.env,
          NODE_OPTIONS: "",
          NODE_EXTRA_CA_CERTS: caFile,
          TIF1_STATS_CDNS: `${links.h2.origin}/{path}`,
          TIF1_CACHE_DIR: cacheDir,
          TIF1_COMPRESSION: "on"
        },
        timeout: 120_000
      }, (error, stdout, stderr) => {
        const seconds = (performance.now() - started) / 1000
        if (error !== null) return reject(new Error(`tif1 results failed: ${error.message}\n${stderr}`))
        try {
          const rows: unknown = JSON.parse(stdout)
          resolve({ seconds, files: Array.isArray(rows) ? rows.length : 0 })
        } catch {
          reject(new Error(`tif1 results printed no JSON: ${stdout.slice(0, 200)}`))
        }
      })
    })
  const contenders: Array<{ name: string; run: (repetition: number) => Promise<{ seconds: number; files: number }> }> =
    [
      { name: "curl --http2 --compressed", run: () => timedCurl(true) },
      { name: "curl --http2", run: () => timedCurl(false) },
      { name: "undici h2 + decompress", run: rawUndici },
      { name: "tif1 h2 fetchMany", run: () => many(links.h2.origin, true) },
      {
        name: "tif1 h2, undici's default windows",
        run: () => many(links.h2.origin, true, undiciDefaultWindows)
      },
      { name: "tif1 h1 fetchMany (128 sockets)", run: () => many(links.h1.origin, false) },
      { name: "tif1 session cold", run: (repetition) => session(Path.join(work, `cache-${repetition}`)) },
      { name: "tif1 session warm", run: (repetition) => session(Path.join(work, `cache-${repetition}`)) },
      ...resultsNames.map((name) => ({
        name,
        // Cold in an empty folder, then warm in the folder the cold run filled.
        run: (repetition: number) => tif1Results(Path.join(work, `results-${repetition}`))
      }))
    ]
  const chosen = contenders.filter(({ name }) => isChosen(name))
  options.log(
    `WAN profile: ${options.megabitsPerSecond} Mbit/s shared, ${options.roundTripMs} ms round trip, ` +
      "both from a user-space link (bench/link.ts; no netem on this kernel), " +
      `${paths.length} telemetry files (${
        (synthetic.telemetryBytes / 1e6).toFixed(0)
      } MB), concurrency ${options.concurrency}`
  )
  // One untimed pass on each server: each compresses each content once and keeps it; JIT warms.
  await timedCurl(true)
  await many(links.h2.origin, true)
  await many(links.h1.origin, false)
  const seconds = new Map<string, Array<number>>(contenders.map(({ name }) => [name, []]))
  const files = new Map<string, number>()
  for (let repetition = 0; repetition < options.repetitions; repetition++) {
    for (const contender of chosen) {
      const result = await contender.run(repetition)
      seconds.get(contender.name)!.push(result.seconds)
      files.set(contender.name, result.files)
      options.log(`  ${contender.name}: ${result.seconds.toFixed(2)} s, ${result.files} files`)
    }
  }
  const peer = median(seconds.get("curl --http2 --compressed")!)
  const results: Array<WanResult> = chosen.map(({ name }) => ({
    contender: name,
    seconds: seconds.get(name)!,
    median: median(seconds.get(name)!),
    ratio: median(seconds.get(name)!) / peer,
    files: files.get(name) ?? 0
  }))
  options.log("contender                          median s   ratio to curl --compressed   files")
  for (const result of results) {
    options.log(
      `${result.contender.padEnd(34)} ${result.median.toFixed(2).padStart(8)}   ${
        result.ratio.toFixed(2).padStart(26)
      }   ${result.files}`
    )
  }
  writeJson(options.out, { options: { ...options, log: undefined }, results })
  for (const link of Object.values(links)) link.child.stdin!.end()
  await server.stop()
  Fs.rmSync(work, { recursive: true, force: true })
  return results
}

/** Tiny sizes, one repetition: what the test runs so the harness cannot rot. */
export const wanSmokeOptions = (out: string): WanOptions => ({
  megabitsPerSecond: 100,
  roundTripMs: 30,
  drivers: 2,
  laps: 3,
  repetitions: 1,
  concurrency: 8,
  out,
  log: () => {},
  cli: "source"
})

/**
 * The options `npm run bench:wan -- <argv>` runs with: `--rate <Mbit/s>`, `--rtt <ms>`,
 * `--repetitions <n>`, `--only <name>`, `--smoke` (tiny sizes, one repetition).
 */
export const wanOptionsFrom = (argv: ReadonlyArray<string>): WanOptions => {
  const smoke = hasFlag(argv, "--smoke")
  const positive = (value: number) => value > 0
  const megabitsPerSecond = numberFlag(argv, "--rate", 100, "megabits per second, more than 0", positive)
  const roundTripMs = numberFlag(argv, "--rtt", 30, "a round trip in ms, 0 or more", (value) => value >= 0)
  const repetitions = countFlag(argv, "--repetitions", 3, "repetitions")
  const only = stringFlag(argv, "--only", "a part of a contender's name")
  const suffix = smoke ? "-smoke" : only === undefined ? "" : `-only-${only}`
  return {
    megabitsPerSecond,
    roundTripMs,
    drivers: smoke ? 2 : 20,
    laps: smoke ? 3 : 50,
    repetitions: smoke ? 1 : repetitions,
    concurrency: smoke ? 8 : 128,
    ...(only === undefined ? {} : { only }),
    out: resultsFile(`wan-${megabitsPerSecond}mbit-${roundTripMs}ms-${today()}${suffix}.json`),
    log: (line) => console.log(line),
    cli: smoke ? "source" : "built"
  }
}

if (isMain(import.meta.url)) runMain(() => runWan(wanOptionsFrom(process.argv.slice(2))))
