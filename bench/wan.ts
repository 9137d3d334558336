/**
 * The WAN profile: the same mirror as `npm run bench`, reached through a user-space link
 * (`bench/link.ts`: one rate limit shared by every connection, and a delay each way), so that
 * bandwidth and round trips cost what they cost. The peer is what a shell user would pick,
 * `curl --parallel --parallel-max 128 --http2 --compressed`; ratios are to it.
 *
 *   npm run bench:wan                         100 Mbit/s, 30 ms round trip, 3 repetitions
 *   npm run bench:wan -- --rate 1000 --rtt 80 a long fat pipe (if 2 cores can drive it)
 *   npm run bench:wan -- --smoke              tiny sizes, one repetition (what the test runs)
 */
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Option from "effect/Option"
import { type ChildProcess, spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { interceptors, Pool } from "undici"
import { layerConfig } from "../src/layers/Tif1.js"
import { templateFor } from "../src/mirror/MirrorServer.js"
import type { Tif1ConfigOverrides } from "../src/schema/Config.js"
import { Fetcher } from "../src/services/Fetcher.js"
import type { HttpSessionOptions } from "../src/services/HttpSession.js"
import { SessionLoader } from "../src/services/SessionLoader.js"
import { pool, rawJson, ServerProcess } from "./run.js"
import type { ServerKey } from "./server.js"
import { benchSession, benchUrl, buildSyntheticSession } from "./synthetic.js"

const here = Path.dirname(fileURLToPath(import.meta.url))
const fixturesRoot = Path.resolve(here, "../../shared/fixtures/cdn")
const tsxLoader = new URL("../node_modules/tsx/dist/loader.mjs", import.meta.url).href

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
}

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
      Path.join(here, "link.ts"),
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

const median = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

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
  const urlOf = benchUrl
  const runtimeFor = (origin: string, overrides: Tif1ConfigOverrides, windows?: HttpSessionOptions["h2Windows"]) =>
    ManagedRuntime.make(layerConfig({
      cdns: [templateFor(origin)],
      connectionStatsLogInterval: 0,
      compression: "on",
      ciMode: false,
      offlineMode: false,
      maxRetries: 0,
      ...overrides
    }, { http: windows === undefined ? { ca: server.ready.cert } : { ca: server.ready.cert, h2Windows: windows } }))
  const many = async (origin: string, multiplexed: boolean, windows?: HttpSessionOptions["h2Windows"]) => {
    const runtime = runtimeFor(origin, { enableCache: false, httpMultiplexed: multiplexed }, windows)
    await runtime.runPromise(Effect.void)
    const started = performance.now()
    const results = await runtime.runPromise(
      Effect.flatMap(
        Fetcher,
        (fetcher) =>
          fetcher.many(paths.map((path) => ({ ...benchSession, path })), { concurrency: options.concurrency })
      )
    )
    const seconds = (performance.now() - started) / 1000
    await runtime.dispose()
    return { seconds, files: results.filter(Option.isSome).length }
  }
  const session = async (cacheDir: string) => {
    const runtime = runtimeFor(links.h2.origin, { cacheDir, enableCache: true })
    await runtime.runPromise(Effect.void)
    const started = performance.now()
    const loaded = await runtime.runPromise(
      Effect.flatMap(SessionLoader, (loader) => loader.load(benchSession, { telemetry: true }))
    )
    const seconds = (performance.now() - started) / 1000
    await runtime.dispose()
    return { seconds, files: loaded.summary.delivered }
  }
  /**
   * What a Node user would write with undici alone: one HTTP/2 connection with undici's default
   * windows, `interceptors.decompress`, every body read and parsed (as tif1 does; curl does not parse).
   */
  const rawUndici = async () => {
    const dispatcher = new Pool(links.h2.origin, {
      allowH2: true,
      connections: 1,
      pipelining: options.concurrency,
      h2Options: { maxConcurrentStreams: options.concurrency },
      connect: { ca: server.ready.cert }
    }).compose(interceptors.decompress())
    const started = performance.now()
    const bodies = await pool(
      paths,
      options.concurrency,
      (path) => rawJson(dispatcher, urlOf(links.h2.origin, path), { "accept-encoding": "br, gzip" })
    )
    const seconds = (performance.now() - started) / 1000
    await dispatcher.close()
    return { seconds, files: bodies.filter((body) => body !== undefined).length }
  }
  const timedCurl = async (compressed: boolean) => {
    const started = performance.now()
    const files = await curl(
      paths.map((path) => urlOf(links.h2.origin, path)),
      caFile,
      compressed,
      options.concurrency,
      work
    )
    return { seconds: (performance.now() - started) / 1000, files }
  }
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
      { name: "tif1 session warm", run: (repetition) => session(Path.join(work, `cache-${repetition}`)) }
    ]
  const chosen = options.only === undefined
    ? contenders
    : contenders.filter(({ name }) => name.includes(options.only!) || name.startsWith("curl --http2 --compressed"))
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
  Fs.mkdirSync(Path.dirname(options.out), { recursive: true })
  Fs.writeFileSync(options.out, JSON.stringify({ options: { ...options, log: undefined }, results }, null, 2))
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
  log: () => {}
})

if (process.argv[1] !== undefined && Path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const flag = (name: string, fallback: number) => {
    const index = process.argv.indexOf(name)
    return index === -1 ? fallback : Number(process.argv[index + 1])
  }
  const smoke = process.argv.includes("--smoke")
  const megabitsPerSecond = flag("--rate", 100)
  const roundTripMs = flag("--rtt", 30)
  const only = process.argv.includes("--only") ? process.argv[process.argv.indexOf("--only") + 1] : undefined
  const suffix = smoke ? "-smoke" : only === undefined ? "" : `-only-${only}`
  runWan({
    megabitsPerSecond,
    roundTripMs,
    drivers: smoke ? 2 : 20,
    laps: smoke ? 3 : 50,
    repetitions: smoke ? 1 : flag("--repetitions", 3),
    concurrency: smoke ? 8 : 128,
    ...(only === undefined ? {} : { only }),
    out: Path.join(
      here,
      "results",
      `wan-${megabitsPerSecond}mbit-${roundTripMs}ms-${new Date().toISOString().slice(0, 10)}${suffix}.json`
    ),
    log: (line) => console.log(line)
  }).catch((error) => {
    console.error(error)
    process.exit(1)
  })
}
