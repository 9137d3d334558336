/**
 * `npm run bench`: tif1-effect against raw undici on the same loopback server, in one run.
 *
 * The mirror runs in a child process (pinned to another core with `taskset` when there is one).
 * Workloads, interleaved over the repetitions (contender order rotates each repetition):
 * - telemetry: every telemetry file of a synthetic session (real file sizes) at a fixed
 *   concurrency, 0 ms and 25 ms server latency: raw undici h1 (one socket per concurrent request)
 *   and h2 (one connection, as many streams as the concurrency), tif1 `Fetcher.many` over h1 and
 *   h2 with the cache off, and warm (memory tier; SQLite tier with a fresh memory tier).
 * - session: a whole `SessionLoader.load` with telemetry, cold (empty SQLite cache) and warm (a
 *   new stack on that cache), against raw undici h2 fetching the same files in the same phases.
 * - micro: memory-hit latency, SQLite hit vs `JSON.parse`, telemetry decode vs `JSON.parse`.
 *
 * Timings are printed and written to `bench/results/<date>.json`; nothing is asserted here.
 *
 *   npm run bench               full run (about 1,000 telemetry files, 5 repetitions)
 *   npm run bench -- --smoke    tiny sizes, one repetition (what the test runs)
 */
import * as OtelTracer from "@effect/opentelemetry/OtelTracer"
import * as OtelResource from "@effect/opentelemetry/Resource"
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  type ReadableSpan,
  type SpanExporter
} from "@opentelemetry/sdk-trace-base"
import * as Effect from "effect/Effect"
import { identity } from "effect/Function"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Option from "effect/Option"
import { type ChildProcess, fork, spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { Agent, type Dispatcher, Pool, request } from "undici"
import { layerConfig, type Tif1Services } from "../src/layers/Tif1.js"
import { templateFor } from "../src/mirror/MirrorServer.js"
import type { Tif1ConfigOverrides } from "../src/schema/Config.js"
import { decodeTelemetry } from "../src/schema/payloads/Telemetry.js"
import { Fetcher } from "../src/services/Fetcher.js"
import { HttpSession } from "../src/services/HttpSession.js"
import { parseJsonText } from "../src/services/internal/json.js"
import { SessionLoader } from "../src/services/SessionLoader.js"
import type { ServerCounters, ServerKey, ServerReady } from "./server.js"
import { benchSession, benchUrl, buildSyntheticSession, smallPath, type SyntheticSession } from "./synthetic.js"

const here = Path.dirname(fileURLToPath(import.meta.url))
const repoRoot = Path.resolve(here, "..")
const fixturesRoot = Path.resolve(repoRoot, "../shared/fixtures/cdn")

// ---------------------------------------------------------------------------------------------
// Options and results

/** `telemetry`: Fetcher.many of every telemetry file; `session`: a whole load; `small`: GETs of one 20 KB file. */
export type Workload = "telemetry" | "session" | "small"

export interface BenchOptions {
  readonly drivers: number
  readonly laps: number
  readonly concurrency: number
  /** GETs of the 20 KB file in the `small` workload. */
  readonly smallRequests: number
  readonly repetitions: number
  readonly latencies: ReadonlyArray<0 | 25>
  /** Seconds to wait at most for the machine to be quiet before starting. */
  readonly quietWaitSeconds: number
  /** Where the JSON report goes. */
  readonly out: string
  /** Run only contenders whose name contains this (their baselines are kept for the ratio). */
  readonly only?: string
  readonly log: (line: string) => void
}

export const fullOptions = (): BenchOptions => ({
  drivers: 20,
  laps: 50,
  concurrency: 128,
  smallRequests: 2000,
  repetitions: 5,
  latencies: [0, 25],
  quietWaitSeconds: 30,
  out: Path.join(here, "results", `${new Date().toISOString().slice(0, 10)}.json`),
  log: (line) => console.log(line)
})

export const smokeOptions = (out: string): BenchOptions => ({
  drivers: 2,
  laps: 4,
  concurrency: 8,
  smallRequests: 40,
  repetitions: 1,
  latencies: [0, 25],
  quietWaitSeconds: 0,
  out,
  log: () => {}
})

/** One timed run of one contender. */
interface Sample {
  readonly wallMs: number
  readonly cpuMicros: number
  readonly files: number
  readonly requests: number
  readonly connections: number
  readonly peakRssMb: number
}

export interface ContenderResult {
  readonly workload: Workload
  readonly latencyMs: number
  readonly contender: string
  /** The contender whose median wall time is the ratio's denominator. */
  readonly baseline: string
  readonly files: number
  readonly wallMs: { readonly median: number; readonly min: number; readonly max: number }
  readonly requestsPerSecond: number
  readonly cpuMicrosPerRequest: number
  /** Requests counted by the server per repetition (median). */
  readonly serverRequests: number
  readonly connectionsOpened: number
  /** Percent of server requests that did not open a connection. */
  readonly reusePercent: number
  readonly peakRssMb: number
  /** Median wall time over the baseline's median wall time (below 1 = faster than raw undici). */
  readonly ratioToBaseline: number
  readonly samples: ReadonlyArray<Sample>
}

export interface MicroResult {
  readonly name: string
  readonly value: number
  readonly unit: string
  readonly note: string
}

export interface BenchReport {
  readonly date: string
  readonly machine: {
    readonly node: string
    readonly cpus: number
    readonly cpuModel: string
    readonly pinned: boolean
    readonly loadAverageAtStart: ReadonlyArray<number>
  }
  readonly options: Omit<BenchOptions, "log" | "out">
  readonly session: { readonly files: number; readonly telemetryFiles: number; readonly telemetryMb: number }
  readonly results: ReadonlyArray<ContenderResult>
  readonly micro: ReadonlyArray<MicroResult>
}

// ---------------------------------------------------------------------------------------------
// Helpers

const median = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

const percentile = (values: ReadonlyArray<number>, p: number) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!
}

/** Run `task` over `items` with at most `concurrency` in flight; results in input order. */
export const pool = async <A, B>(items: ReadonlyArray<A>, concurrency: number, task: (item: A) => Promise<B>) => {
  const results: Array<B> = new Array(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const index = next++
      results[index] = await task(items[index]!)
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker))
  return results
}

/** The URL of a session file on a mirror, as tif1 builds it for a template CDN. */
const urlOf = benchUrl

/** GET and parse like a careful user of raw undici would (Python's bare NaN accepted). */
export const rawJson = async (
  dispatcher: Dispatcher,
  url: string,
  headers?: Record<string, string>
): Promise<unknown | undefined> => {
  const response = await request(url, headers === undefined ? { dispatcher } : { dispatcher, headers })
  const text = await response.body.text()
  if (response.statusCode === 404) return undefined
  if (response.statusCode !== 200) throw new Error(`${url}: HTTP ${response.statusCode}`)
  const parsed = parseJsonText(text)
  if (parsed.error !== undefined) throw new Error(`${url}: ${parsed.error}`)
  return parsed.value
}

const tsxLoader = pathToFileURL(Path.join(repoRoot, "node_modules/tsx/dist/loader.mjs")).href

/** Pin a process to one core when `taskset` exists and there are two cores or more. */
const pin = (pid: number, core: number): boolean =>
  Os.cpus().length >= 2 && spawnSync("taskset", ["-pc", String(core), String(pid)], { stdio: "ignore" }).status === 0

/** Wait (at most `seconds`) until the machine's CPUs are less than 25% busy over half a second. */
const waitForQuiet = async (seconds: number, log: (line: string) => void) => {
  const busy = async () => {
    const before = Os.cpus()
    await new Promise((resolve) => setTimeout(resolve, 500))
    const after = Os.cpus()
    let idle = 0
    let total = 0
    after.forEach((cpu, index) => {
      const was = before[index]!.times
      const now = cpu.times
      const spent = (Object.keys(now) as Array<keyof typeof now>).reduce((sum, key) => sum + now[key] - was[key], 0)
      total += spent
      idle += now.idle - was.idle
    })
    return total === 0 ? 0 : 1 - idle / total
  }
  const deadline = Date.now() + seconds * 1000
  while (Date.now() < deadline) {
    const load = await busy()
    if (load < 0.25) return
    log(`waiting for a quiet machine (CPUs ${(load * 100).toFixed(0)}% busy)`)
  }
}

export class ServerProcess {
  private pending: Array<(counters: ServerCounters["counters"]) => void> = []
  private constructor(readonly child: ChildProcess, readonly ready: ServerReady) {
    child.on("message", (message: ServerCounters) => {
      if (message.type === "counters") this.pending.shift()?.(message.counters)
    })
  }

  static start(root: string): Promise<ServerProcess> {
    return new Promise((resolve, reject) => {
      const child = fork(Path.join(here, "server.ts"), [root], {
        execArgv: ["--import", tsxLoader],
        stdio: ["ignore", "inherit", "inherit", "ipc"]
      })
      const timer = setTimeout(() => reject(new Error("bench server did not start in 60 s")), 60_000)
      child.once("error", reject)
      child.once("exit", (code) => reject(new Error(`bench server exited with ${code}`)))
      child.once("message", (message: ServerReady) => {
        clearTimeout(timer)
        resolve(new ServerProcess(child, message))
      })
    })
  }

  counters(): Promise<ServerCounters["counters"]> {
    return new Promise((resolve) => {
      this.pending.push(resolve)
      this.child.send({ type: "counters" })
    })
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      this.child.removeAllListeners("exit")
      this.child.once("exit", () => resolve())
      this.child.disconnect()
    })
  }
}

// ---------------------------------------------------------------------------------------------
// Contenders

/** A contender prepares (untimed), runs (timed) and cleans up (untimed); `run` returns files delivered. */
interface Contender {
  readonly name: string
  readonly workload: Workload
  readonly server: ServerKey
  readonly baseline: string
  /** Files a run must deliver; a run that delivers fewer stops the benchmark. */
  readonly files: number
  readonly prepare: () => Promise<{ readonly run: () => Promise<number>; readonly cleanup: () => Promise<void> }>
}

const runtimeFor = (origin: string, cert: string, overrides: Tif1ConfigOverrides) =>
  ManagedRuntime.make(layerConfig({
    cdns: [templateFor(origin)],
    connectionStatsLogInterval: 0,
    ciMode: false,
    offlineMode: false,
    ...overrides
  }, { http: { ca: cert } }))

type Stack = ManagedRuntime.ManagedRuntime<Tif1Services, unknown>

/**
 * How spans are handled: Effect's built-in tracer (nobody exports it: no per-file spans open),
 * the tracer disabled, or `@effect/opentelemetry`'s tracer on an OpenTelemetry SDK tracer provider
 * with a batching processor into a counting exporter (every span recorded, as a user exporting
 * traces would have it).
 */
type Tracing = "default" | "off" | "otel"

/**
 * An exporter that counts the spans it is sent, by name, and keeps none: what exporting costs the
 * process short of the network (the SDK's in-memory exporter keeps every span, and empties itself
 * on shutdown, when the runtime is disposed).
 */
class CountingSpanExporter implements SpanExporter {
  readonly counts = new Map<string, number>()
  export(spans: Array<ReadableSpan>, done: (result: { code: number }) => void): void {
    for (const span of spans) this.counts.set(span.name, (this.counts.get(span.name) ?? 0) + 1)
    done({ code: 0 }) // ExportResultCode.SUCCESS
  }
  shutdown(): Promise<void> {
    return Promise.resolve()
  }
}

/** Spans the OpenTelemetry contender exported (checked: the contender must really trace). */
export const openTelemetrySpans = new CountingSpanExporter()

/**
 * What `NodeSdk.layer({ resource, spanProcessor })` of `@effect/opentelemetry` builds for tracing:
 * the Effect tracer backed by an OpenTelemetry tracer provider, flushed and shut down with the
 * layer. NodeSdk itself needs `@opentelemetry/sdk-trace-node` (an optional peer of
 * `@effect/opentelemetry` 4, not installed here) for a `NodeTracerProvider`, which is the SDK's
 * `BasicTracerProvider` plus a global registration the layer never makes; so the bench builds the
 * same provider from `@opentelemetry/sdk-trace-base` and gives it to `OtelTracer.layer`.
 */
const openTelemetryTracing = (): Layer.Layer<OtelTracer.OtelTracer> =>
  OtelTracer.layer.pipe(
    Layer.provide(Layer.effect(
      OtelTracer.OtelTracerProvider,
      Effect.gen(function*() {
        const resource = yield* OtelResource.Resource
        return yield* Effect.acquireRelease(
          Effect.sync(() =>
            new BasicTracerProvider({
              resource,
              spanProcessors: [new BatchSpanProcessor(openTelemetrySpans, { maxQueueSize: 1 << 16 })]
            })
          ),
          (provider) => Effect.promise(() => provider.forceFlush().finally(() => provider.shutdown()))
        )
      })
    )),
    Layer.provide(OtelResource.layer({ serviceName: "tif1-bench" }))
  )

const runtimeWithOpenTelemetry = (origin: string, cert: string, overrides: Tif1ConfigOverrides): Stack =>
  ManagedRuntime.make(Layer.merge(
    layerConfig({
      cdns: [templateFor(origin)],
      connectionStatsLogInterval: 0,
      ciMode: false,
      offlineMode: false,
      ...overrides
    }, { http: { ca: cert } }),
    openTelemetryTracing()
  ))

/** Build the stack (untimed); the timed run is `run` on it, and cleanup disposes it. */
const onStack = async (runtime: Stack, run: (runtime: Stack) => Promise<number>) => {
  await runtime.runPromise(Effect.void)
  return { run: () => run(runtime), cleanup: () => runtime.dispose() }
}

/** The raw counterpart of `onStack`: a dispatcher made untimed; the timed run uses it, cleanup closes it. */
const onAgent = async (agent: Dispatcher, run: (agent: Dispatcher) => Promise<number>) => ({
  run: () => run(agent),
  cleanup: () => agent.close()
})

const manyWith = (
  runtime: Stack,
  paths: ReadonlyArray<string>,
  concurrency: number,
  tracing: Tracing = "default"
) =>
  runtime.runPromise(
    Effect.flatMap(
      Fetcher,
      (fetcher) => fetcher.many(paths.map((path) => ({ ...benchSession, path })), { concurrency })
    ).pipe(
      Effect.map((results) => results.filter(Option.isSome).length),
      // "off": the fiber's tracer disabled, so the per-file spans are never opened.
      tracing === "off" ? Effect.withTracerEnabled(false) : identity
    )
  )

const loadWith = (runtime: Stack) =>
  runtime.runPromise(
    Effect.flatMap(SessionLoader, (loader) => loader.load(benchSession, { telemetry: true })).pipe(
      Effect.map((loaded) => loaded.summary.delivered)
    )
  )

const contenders = (
  ready: ServerReady,
  synthetic: SyntheticSession,
  options: BenchOptions,
  latency: 0 | 25,
  temporary: () => string
): Array<Contender> => {
  const h1: ServerKey = latency === 0 ? "h1-0" : "h1-25"
  const h2: ServerKey = latency === 0 ? "h2-0" : "h2-25"
  const paths = synthetic.telemetryPaths
  const { concurrency } = options
  const cacheSettings = (cacheDir: string): Tif1ConfigOverrides => ({
    cacheDir,
    enableCache: true,
    memoryTelemetryCacheMaxItems: paths.length * 2
  })
  // undici 8 offers HTTP/2 over TLS by default: the h1 baseline asks for HTTP/1.1 only (its server is plain HTTP).
  const rawH1 = (): Dispatcher => new Agent({ connections: concurrency, pipelining: 1, allowH2: false })
  const rawH2 = (origin: string): Dispatcher =>
    new Pool(origin, {
      allowH2: true,
      connections: 1,
      pipelining: concurrency,
      h2Options: { maxConcurrentStreams: concurrency },
      connect: { ca: ready.cert }
    })
  const rawTelemetry = (name: string, server: ServerKey, dispatcher: (origin: string) => Dispatcher): Contender => ({
    name,
    workload: "telemetry",
    server,
    baseline: name,
    files: paths.length,
    prepare: () =>
      onAgent(
        dispatcher(ready.origins[server]),
        async (agent) =>
          (await pool(paths, concurrency, (path) => rawJson(agent, urlOf(ready.origins[server], path))))
            .filter((value) => value !== undefined).length
      )
  })
  const tif1Cold = (
    name: string,
    server: ServerKey,
    baseline: string,
    tracing: Tracing = "default"
  ): Contender => ({
    name,
    workload: "telemetry",
    server,
    baseline,
    files: paths.length,
    prepare: async () => {
      const settings = { enableCache: false }
      return onStack(
        tracing === "otel"
          ? runtimeWithOpenTelemetry(ready.origins[server], ready.cert, settings)
          : runtimeFor(ready.origins[server], ready.cert, settings),
        (runtime) => manyWith(runtime, paths, concurrency, tracing)
      )
    }
  })

  const list: Array<Contender> = [
    rawTelemetry("undici h1", h1, () => rawH1()),
    rawTelemetry("undici h2", h2, rawH2),
    tif1Cold("tif1 h1 cache off", h1, "undici h1"),
    tif1Cold("tif1 h2 cache off", h2, "undici h2"),
    // Effect's native tracer is on by default: the same run with the tracer disabled shows what
    // the per-file spans cost.
    tif1Cold("tif1 h2 tracer off", h2, "undici h2", "off"),
    // What a user who installs @effect/opentelemetry pays: every per-file span recorded.
    tif1Cold("tif1 h2 OpenTelemetry", h2, "undici h2", "otel")
  ]

  if (latency === 0) {
    // Warm tiers do not touch the network; measured once, against raw undici h2 at 0 ms.
    const warmDir = temporary()
    let warmed: Promise<void> | undefined
    const warmCache = () =>
      warmed ??= (async () => {
        const filler = runtimeFor(ready.origins[h2], ready.cert, cacheSettings(warmDir))
        await manyWith(filler, paths, concurrency)
        await filler.dispose()
      })()
    list.push(
      {
        name: "tif1 warm memory",
        workload: "telemetry",
        server: h2,
        baseline: "undici h2",
        files: paths.length,
        prepare: async () => {
          await warmCache()
          const stack = await onStack(
            runtimeFor(ready.origins[h2], ready.cert, cacheSettings(warmDir)),
            (runtime) => manyWith(runtime, paths, concurrency)
          )
          await stack.run() // fills the memory tier from SQLite
          return stack
        }
      },
      {
        name: "tif1 warm SQLite",
        workload: "telemetry",
        server: h2,
        baseline: "undici h2",
        files: paths.length,
        prepare: async () => {
          await warmCache()
          return onStack(
            runtimeFor(ready.origins[h2], ready.cert, cacheSettings(warmDir)),
            (runtime) => manyWith(runtime, paths, concurrency)
          )
        }
      }
    )
  }

  if (latency === 0) {
    // A failing primary CDN (503 to everything) before the healthy one: against the healthy time.
    list.push({
      name: "tif1 h2 primary 503",
      workload: "telemetry",
      server: h2,
      baseline: "tif1 h2 cache off",
      files: paths.length,
      prepare: () =>
        onStack(
          runtimeFor(ready.origins[h2], ready.cert, {
            cdns: [templateFor(ready.origins["h2-503"]), templateFor(ready.origins[h2])],
            enableCache: false
          }),
          (runtime) => manyWith(runtime, paths, concurrency)
        )
    })
    // HttpSession.get against undici.request with the same connection options, one small file.
    const smallUrls = (server: ServerKey) =>
      Array.from({ length: options.smallRequests }, () => urlOf(ready.origins[server], smallPath))
    const rawSmall = (name: string, server: ServerKey, dispatcher: (origin: string) => Dispatcher): Contender => ({
      name,
      workload: "small",
      server,
      baseline: name,
      files: options.smallRequests,
      prepare: () =>
        onAgent(
          dispatcher(ready.origins[server]),
          async (agent) =>
            (await pool(smallUrls(server), concurrency, async (url) => {
              const response = await request(url, { dispatcher: agent })
              await response.body.arrayBuffer()
              return response.statusCode
            })).filter((status) => status === 200).length
        )
    })
    const sessionSmall = (name: string, server: ServerKey, baseline: string): Contender => ({
      name,
      workload: "small",
      server,
      baseline,
      files: options.smallRequests,
      prepare: () =>
        onStack(
          runtimeFor(ready.origins[server], ready.cert, { enableCache: false }),
          (runtime) =>
            runtime.runPromise(
              Effect.flatMap(HttpSession, (http) =>
                Effect.forEach(smallUrls(server), (url) => Effect.map(http.get(url), (response) => response.status), {
                  concurrency
                })).pipe(Effect.map((statuses) =>
                  statuses.filter((status) => status === 200).length
                ))
            )
        )
    })
    list.push(
      rawSmall("undici h1 20KB", h1, () => rawH1()),
      sessionSmall("HttpSession h1 20KB", h1, "undici h1 20KB"),
      rawSmall("undici h2 20KB", h2, rawH2),
      sessionSmall("HttpSession h2 20KB", h2, "undici h2 20KB")
    )
  }

  // Session loads: the same files in the same phases as SessionLoader (drivers; weather, rcm,
  // session_laptimes and lap tables; then telemetry).
  const drivers = synthetic.allPaths.filter((path) => path.endsWith("/laptimes.json"))
  list.push({
    name: "undici h2 session",
    workload: "session",
    server: h2,
    baseline: "undici h2 session",
    files: synthetic.allPaths.length,
    prepare: () =>
      onAgent(rawH2(ready.origins[h2]), async (agent) => {
        const get = (path: string) => rawJson(agent, urlOf(ready.origins[h2], path))
        const found = [await get("drivers.json")]
        found.push(
          ...await pool(["weather.json", "rcm.json", "session_laptimes.json", ...drivers], options.concurrency, get)
        )
        found.push(...await pool(paths, concurrency, get))
        return found.filter((value) => value !== undefined).length
      })
  })
  let lastColdDir: string | undefined
  const loaderStack = (cacheDir: string) =>
    runtimeFor(ready.origins[h2], ready.cert, {
      ...cacheSettings(cacheDir),
      telemetryPrefetchMaxConcurrentRequests: concurrency
    })
  list.push({
    name: "tif1 session cold",
    workload: "session",
    server: h2,
    baseline: "undici h2 session",
    files: synthetic.allPaths.length,
    prepare: async () => {
      lastColdDir = temporary()
      return onStack(loaderStack(lastColdDir), loadWith)
    }
  }, {
    name: "tif1 session warm",
    workload: "session",
    server: h2,
    baseline: "undici h2 session",
    files: synthetic.allPaths.length,
    prepare: async () => {
      // The cache of the latest cold load (a cold load runs first in the first repetition).
      const cacheDir = lastColdDir ?? temporary()
      if (lastColdDir === undefined) {
        const filler = runtimeFor(ready.origins[h2], ready.cert, cacheSettings(cacheDir))
        await loadWith(filler)
        await filler.dispose()
      }
      return onStack(loaderStack(cacheDir), loadWith)
    }
  })
  return list
}

// ---------------------------------------------------------------------------------------------
// Measuring

const measure = async (contender: Contender, server: ServerProcess): Promise<Sample> => {
  const prepared = await contender.prepare()
  ;(globalThis as { gc?: () => void }).gc?.()
  const before = (await server.counters())[contender.server]
  let peakRss = process.memoryUsage.rss()
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage.rss())
  }, 5)
  const cpuBefore = process.cpuUsage()
  const started = performance.now()
  let files: number
  try {
    files = await prepared.run()
  } finally {
    clearInterval(sampler)
  }
  const wallMs = performance.now() - started
  const cpu = process.cpuUsage(cpuBefore)
  peakRss = Math.max(peakRss, process.memoryUsage.rss())
  const after = (await server.counters())[contender.server]
  await prepared.cleanup()
  return {
    wallMs,
    cpuMicros: cpu.user + cpu.system,
    files,
    requests: after.requests - before.requests,
    connections: after.connections - before.connections,
    peakRssMb: peakRss / 1_000_000
  }
}

const summarize = (
  contender: Contender,
  latencyMs: number,
  samples: ReadonlyArray<Sample>
): Omit<ContenderResult, "ratioToBaseline"> => {
  const walls = samples.map((sample) => sample.wallMs)
  const files = median(samples.map((sample) => sample.files))
  const requests = median(samples.map((sample) => sample.requests))
  const connections = median(samples.map((sample) => sample.connections))
  const wall = median(walls)
  return {
    workload: contender.workload,
    latencyMs,
    contender: contender.name,
    baseline: contender.baseline,
    files,
    wallMs: { median: wall, min: Math.min(...walls), max: Math.max(...walls) },
    requestsPerSecond: files / (wall / 1000),
    cpuMicrosPerRequest: median(samples.map((sample) => sample.cpuMicros / Math.max(sample.files, 1))),
    serverRequests: requests,
    connectionsOpened: connections,
    reusePercent: requests === 0 ? 0 : (100 * (requests - connections)) / requests,
    peakRssMb: Math.max(...samples.map((sample) => sample.peakRssMb)),
    samples
  }
}

const micro = async (
  ready: ServerReady,
  synthetic: SyntheticSession,
  temporary: () => string
): Promise<Array<MicroResult>> => {
  const origin = ready.origins["h2-0"]
  const paths = synthetic.telemetryPaths
  const folder = Path.join(synthetic.root, String(benchSession.year), benchSession.gp, benchSession.session)
  const texts = paths.map((path) => Fs.readFileSync(Path.join(folder, path), "utf8"))
  const time = (task: () => void) => {
    const started = performance.now()
    task()
    return (performance.now() - started) * 1000
  }
  const parseMicros = texts.map((text) => time(() => JSON.parse(text)))
  const parsed = texts.map((text) => JSON.parse(text) as unknown)
  const decodeMicros = parsed.map((value) =>
    time(() => {
      if ("error" in decodeTelemetry(value)) throw new Error("a bench telemetry file does not decode")
    })
  )

  // The least a warm load must do with the data whatever the storage: turn every numeric column
  // of every telemetry file into an array of numbers, all kept alive (as the load returns them).
  const numericColumns = parsed.map((value) =>
    Object.values((value as { tel: Record<string, unknown> }).tel)
      .filter((column): column is Array<number> => Array.isArray(column) && typeof column.at(0) === "number")
      .map((column) => new Float64Array(column))
  )
  const kept: Array<Array<Array<number>>> = []
  const materializeMs = time(() => {
    for (const columns of numericColumns) {
      kept.push(columns.map((stored) => {
        const column = new Array<number>(stored.length)
        for (let index = 0; index < stored.length; index++) column[index] = stored[index]!
        return column
      }))
    }
  }) / 1000
  kept.length = 0

  const cacheDir = temporary()
  const settings: Tif1ConfigOverrides = { cacheDir, enableCache: true, memoryTelemetryCacheMaxItems: paths.length * 2 }
  const filler = runtimeFor(origin, ready.cert, settings)
  await manyWith(filler, paths, 32)
  const perCall = (runtime: Stack) =>
    runtime.runPromise(Effect.gen(function*() {
      const fetcher = yield* Fetcher
      const micros: Array<number> = []
      for (const path of paths) {
        const started = performance.now()
        yield* fetcher.json({ ...benchSession, path })
        micros.push((performance.now() - started) * 1000)
      }
      return micros
    }))
  const memoryMicros = await perCall(filler) // every key is in the memory tier now
  await filler.dispose()
  const fresh = runtimeFor(origin, ready.cert, settings)
  const sqliteMicros = await perCall(fresh) // memory tier empty: every key from SQLite
  await fresh.dispose()

  const p50 = (values: ReadonlyArray<number>) => percentile(values, 0.5)
  return [
    { name: "memory hit p50", value: p50(memoryMicros), unit: "µs", note: "Fetcher.json on a warm key" },
    { name: "memory hit p99", value: percentile(memoryMicros, 0.99), unit: "µs", note: "" },
    {
      name: "SQLite hit / JSON.parse (p50)",
      value: p50(sqliteMicros) / p50(parseMicros),
      unit: "ratio",
      note: `Fetcher.json from SQLite ${p50(sqliteMicros).toFixed(0)} µs (read, inflate, checksum, V8 deserialize) ` +
        `vs JSON.parse of the text ${p50(parseMicros).toFixed(0)} µs`
    },
    {
      name: "telemetry decode / JSON.parse (p50)",
      value: p50(decodeMicros) / p50(parseMicros),
      unit: "ratio",
      note: `decode ${p50(decodeMicros).toFixed(0)} µs vs JSON.parse ${p50(parseMicros).toFixed(0)} µs per file`
    },
    {
      name: "numeric columns of every telemetry file",
      value: materializeMs,
      unit: "ms",
      note: `${paths.length} files' number arrays built from Float64Arrays and kept alive, no I/O: ` +
        "the least a warm session load spends"
    }
  ]
}

/** How many times faster the warm session load is than the cold one, at each latency. */
const sessionSpeedups = (results: ReadonlyArray<ContenderResult>): Array<MicroResult> =>
  [...new Set(results.map((result) => result.latencyMs))].flatMap((latency) => {
    const median = (name: string) =>
      results.find((result) => result.latencyMs === latency && result.contender === name)?.wallMs.median
    const cold = median("tif1 session cold")
    const warm = median("tif1 session warm")
    return cold === undefined || warm === undefined ? [] : [{
      name: `session cold / warm (${latency} ms)`,
      value: cold / warm,
      unit: "x",
      note: `cold ${cold.toFixed(0)} ms, warm ${warm.toFixed(0)} ms`
    }]
  })

// ---------------------------------------------------------------------------------------------
// The run

const formatTable = (results: ReadonlyArray<ContenderResult>, microResults: ReadonlyArray<MicroResult>) => {
  const header = [
    "workload",
    "ms",
    "contender",
    "files",
    "wall ms (min-max)",
    "req/s",
    "cpu µs/req",
    "conns",
    "reuse",
    "RSS MB",
    "ratio"
  ]
  const rows = results.map((r) => [
    r.workload,
    String(r.latencyMs),
    r.contender,
    String(r.files),
    `${r.wallMs.median.toFixed(0)} (${r.wallMs.min.toFixed(0)}-${r.wallMs.max.toFixed(0)})`,
    r.requestsPerSecond.toFixed(0),
    r.cpuMicrosPerRequest.toFixed(0),
    String(r.connectionsOpened),
    `${r.reusePercent.toFixed(1)}%`,
    r.peakRssMb.toFixed(0),
    `${r.ratioToBaseline.toFixed(2)}x`
  ])
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)))
  const line = (cells: ReadonlyArray<string>) => cells.map((cell, column) => cell.padEnd(widths[column]!)).join("  ")
  return [
    line(header),
    ...rows.map(line),
    "",
    ...microResults.map((m) =>
      `${m.name}: ${m.value.toFixed(m.unit === "ratio" || m.unit === "x" ? 2 : 0)} ${m.unit}  ${m.note}`
    )
  ].join("\n")
}

export const runBench = async (options: BenchOptions): Promise<BenchReport> => {
  const workdir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "tif1-bench-"))
  let counter = 0
  const temporary = () => Fs.mkdtempSync(Path.join(workdir, `cache-${counter++}-`))
  const synthetic = buildSyntheticSession(fixturesRoot, Path.join(workdir, "cdn"), options)
  const server = await ServerProcess.start(synthetic.root)
  try {
    const pinned = pin(server.child.pid!, 1) && pin(process.pid, 0)
    const loadAverageAtStart = Os.loadavg()
    await waitForQuiet(options.quietWaitSeconds, options.log)
    options.log(
      `${synthetic.telemetryPaths.length} telemetry files (${(synthetic.telemetryBytes / 1e6).toFixed(1)} MB), ` +
        `concurrency ${options.concurrency}, ${options.repetitions} repetitions${
          pinned ? ", server pinned to core 1" : ""
        }`
    )

    const byLatency = options.latencies.map((latency) => ({
      latency,
      list: contenders(server.ready, synthetic, options, latency, temporary).filter((contender, _, all) =>
        options.only === undefined || contender.name.includes(options.only) ||
        all.some((other) => other.name.includes(options.only!) && other.baseline === contender.name)
      )
    }))
    const samples = new Map<Contender, Array<Sample>>()
    // One untimed pass warms the JIT and the server's file cache.
    for (const { list } of byLatency) for (const contender of list) await measure(contender, server)
    for (let repetition = 0; repetition < options.repetitions; repetition++) {
      for (const { latency, list } of byLatency) {
        const order = list.map((_, index) => list[(index + repetition) % list.length]!)
        // Cold before warm inside a repetition, so the warm load reads this repetition's cache.
        order.sort((a, b) => (a.name === "tif1 session warm" ? 1 : 0) - (b.name === "tif1 session warm" ? 1 : 0))
        for (const contender of order) {
          const sample = await measure(contender, server)
          const expected = contender.files
          if (sample.files !== expected) {
            throw new Error(`${contender.name} at ${latency} ms delivered ${sample.files} of ${expected} files`)
          }
          samples.set(contender, [...(samples.get(contender) ?? []), sample])
          options.log(`rep ${repetition + 1} ${latency} ms ${contender.name}: ${sample.wallMs.toFixed(0)} ms`)
        }
      }
    }

    const summaries = byLatency.flatMap(({ latency, list }) =>
      list.map((contender) => summarize(contender, latency, samples.get(contender) ?? []))
    )
    const results: Array<ContenderResult> = summaries.map((summary) => {
      const baseline = summaries.find((other) =>
        other.contender === summary.baseline && other.latencyMs === summary.latencyMs
      )!
      return { ...summary, ratioToBaseline: summary.wallMs.median / baseline.wallMs.median }
    })
    const microResults = [...await micro(server.ready, synthetic, temporary), ...sessionSpeedups(results)]
    const report: BenchReport = {
      date: new Date().toISOString(),
      machine: {
        node: process.version,
        cpus: Os.cpus().length,
        cpuModel: Os.cpus()[0]?.model ?? "unknown",
        pinned,
        loadAverageAtStart
      },
      options: {
        drivers: options.drivers,
        laps: options.laps,
        concurrency: options.concurrency,
        smallRequests: options.smallRequests,
        repetitions: options.repetitions,
        latencies: options.latencies,
        quietWaitSeconds: options.quietWaitSeconds
      },
      session: {
        files: synthetic.allPaths.length,
        telemetryFiles: synthetic.telemetryPaths.length,
        telemetryMb: synthetic.telemetryBytes / 1e6
      },
      results,
      micro: microResults
    }
    Fs.mkdirSync(Path.dirname(options.out), { recursive: true })
    Fs.writeFileSync(options.out, JSON.stringify(report, null, 2) + "\n")
    options.log(`\n${formatTable(results, microResults)}\n\nwritten to ${options.out}`)
    return report
  } finally {
    await server.stop()
    Fs.rmSync(workdir, { recursive: true, force: true })
  }
}

if (process.argv[1] !== undefined && Path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const smoke = process.argv.includes("--smoke")
  const onlyIndex = process.argv.indexOf("--only")
  const only = onlyIndex === -1 ? undefined : process.argv[onlyIndex + 1]
  const base = smoke
    ? { ...smokeOptions(Path.join(Os.tmpdir(), "tif1-bench-smoke.json")), log: (line: string) => console.log(line) }
    : fullOptions()
  const options = only === undefined ? base : { ...base, only }
  runBench(options).catch((error) => {
    console.error(error)
    process.exitCode = 1
  })
}
