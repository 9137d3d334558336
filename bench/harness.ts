/**
 * The harness of `npm run bench`: the mirror in a child process of its own (pinned to another core
 * where there is one), a quiet machine before the start, contenders (each workload in
 * `bench/workloads/` exports its own) measured over interleaved repetitions, their samples
 * summarized against a baseline, and the table the run prints.
 */
import { type ChildProcess, fork, spawnSync } from "node:child_process"
import * as Os from "node:os"
import * as Path from "node:path"
import { alignedLines } from "../src/cli/render.js"
import { benchDir, type Machine, tsxLoader } from "./program.js"
import type { ServerCounters, ServerKey, ServerReady } from "./server.js"
import { median } from "./summary.js"
import type { SyntheticSession } from "./synthetic.js"

// ---------------------------------------------------------------------------------------------
// Options and results

/** `telemetry`: Fetcher.many of every telemetry file; `session`: a whole load; `small`: GETs of one 20 KB file. */
export type Workload = "telemetry" | "session" | "small"

/** What one run of `npm run bench` measures. */
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

/** One timed run of one contender. */
export interface Sample {
  readonly wallMs: number
  readonly cpuMicros: number
  readonly files: number
  readonly requests: number
  readonly connections: number
  readonly peakRssMb: number
}

/** One contender at one latency, over every repetition. */
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

/** One figure of the micro measurements (or derived from the results). */
export interface MicroResult {
  readonly name: string
  readonly value: number
  readonly unit: string
  readonly note: string
}

/** What `npm run bench` writes to `bench/results/<date>.json`. */
export interface BenchReport {
  readonly date: string
  readonly machine: Machine & {
    readonly pinned: boolean
    readonly loadAverageAtStart: ReadonlyArray<number>
  }
  readonly options: Omit<BenchOptions, "log" | "out">
  readonly session: { readonly files: number; readonly telemetryFiles: number; readonly telemetryMb: number }
  readonly results: ReadonlyArray<ContenderResult>
  readonly micro: ReadonlyArray<MicroResult>
}

// ---------------------------------------------------------------------------------------------
// Contenders

/** A contender made ready (untimed): `run` is timed and resolves with the files delivered. */
export interface Prepared {
  readonly run: () => Promise<number>
  readonly cleanup: () => Promise<void>
}

/** A contender prepares (untimed), runs (timed) and cleans up (untimed). */
export interface Contender {
  readonly name: string
  readonly workload: Workload
  /** The server whose requests and connections the run is charged with. */
  readonly server: ServerKey
  readonly baseline: string
  /** Files a run must deliver; a run that delivers fewer stops the benchmark. */
  readonly files: number
  /** Runs after the other contenders of its latency in each repetition (it reads what one of them wrote). */
  readonly runsLast?: boolean
  readonly prepare: () => Promise<Prepared>
}

/** What a workload builds its contenders from, at one latency. */
export interface WorkloadContext {
  readonly ready: ServerReady
  readonly synthetic: SyntheticSession
  readonly options: BenchOptions
  readonly latency: 0 | 25
  /** The HTTP/1.1 and HTTP/2 servers with this latency. */
  readonly h1: ServerKey
  readonly h2: ServerKey
  /** A new empty folder, removed with the run's work folder. */
  readonly temporary: () => string
}

/** The contenders `only` selects: those whose name contains it, and the baselines they are compared to. */
export const selectContenders = (list: ReadonlyArray<Contender>, only: string | undefined): Array<Contender> =>
  list.filter((contender, _, all) =>
    only === undefined || contender.name.includes(only) ||
    all.some((other) => other.name.includes(only) && other.baseline === contender.name)
  )

// ---------------------------------------------------------------------------------------------
// The machine and the server

/** Pin a process to one core when `taskset` exists and there are two cores or more. */
export const pin = (pid: number, core: number): boolean =>
  Os.cpus().length >= 2 && spawnSync("taskset", ["-pc", String(core), String(pid)], { stdio: "ignore" }).status === 0

/** Wait (at most `seconds`) until the machine's CPUs are less than 25% busy over half a second. */
export const waitForQuiet = async (seconds: number, log: (line: string) => void): Promise<void> => {
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

/** The bench's mirrors (`bench/server.ts`) in a child process, asked over IPC for their counters. */
export class ServerProcess {
  private pending: Array<(counters: ServerCounters["counters"]) => void> = []
  private constructor(readonly child: ChildProcess, readonly ready: ServerReady) {
    child.on("message", (message: ServerCounters) => {
      if (message.type === "counters") this.pending.shift()?.(message.counters)
    })
  }

  /** Start the mirrors of the CDN folder `root`; resolves once every server listens. */
  static start(root: string): Promise<ServerProcess> {
    return new Promise((resolve, reject) => {
      const child = fork(Path.join(benchDir, "server.ts"), [root], {
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

  /** Each server's requests and connections so far. */
  counters(): Promise<ServerCounters["counters"]> {
    return new Promise((resolve) => {
      this.pending.push(resolve)
      this.child.send({ type: "counters" })
    })
  }

  /** Close the servers and wait for the process to exit. */
  stop(): Promise<void> {
    return new Promise((resolve) => {
      this.child.removeAllListeners("exit")
      this.child.once("exit", () => resolve())
      this.child.disconnect()
    })
  }
}

// ---------------------------------------------------------------------------------------------
// Measuring

/** One timed run: prepare and clean up untimed, the run timed with its CPU, peak RSS and server counts. */
export const measure = async (contender: Contender, server: Pick<ServerProcess, "counters">): Promise<Sample> => {
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

/** The contenders of one latency. */
export interface LatencyRound {
  readonly latency: number
  readonly list: ReadonlyArray<Contender>
}

/**
 * One untimed pass of every contender (the JIT, the server's file cache), then `repetitions`
 * timed ones, interleaved: each repetition runs every latency's contenders in an order rotated by
 * one, so drift on a shared machine spreads over all of them. Throws when a run delivers fewer
 * files than its contender must.
 */
export const measureRounds = async (
  rounds: ReadonlyArray<LatencyRound>,
  server: Pick<ServerProcess, "counters">,
  options: Pick<BenchOptions, "repetitions" | "log">
): Promise<Map<Contender, Array<Sample>>> => {
  const samples = new Map<Contender, Array<Sample>>()
  for (const { list } of rounds) for (const contender of list) await measure(contender, server)
  for (let repetition = 0; repetition < options.repetitions; repetition++) {
    for (const { latency, list } of rounds) {
      const order = list.map((_, index) => list[(index + repetition) % list.length]!)
      order.sort((a, b) => (a.runsLast === true ? 1 : 0) - (b.runsLast === true ? 1 : 0))
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
  return samples
}

/** A contender's samples summarized, short of the ratio to its baseline. */
export const summarize = (
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

/** Every contender's summary, with its median over its baseline's at the same latency. */
export const summarizeRounds = (
  rounds: ReadonlyArray<LatencyRound>,
  samples: ReadonlyMap<Contender, ReadonlyArray<Sample>>
): Array<ContenderResult> => {
  const summaries = rounds.flatMap(({ latency, list }) =>
    list.map((contender) => summarize(contender, latency, samples.get(contender) ?? []))
  )
  return summaries.map((summary) => {
    const baseline = summaries.find((other) =>
      other.contender === summary.baseline && other.latencyMs === summary.latencyMs
    )!
    return { ...summary, ratioToBaseline: summary.wallMs.median / baseline.wallMs.median }
  })
}

/** The table the run prints: one row a contender and latency, then one line a micro figure. */
export const formatTable = (
  results: ReadonlyArray<ContenderResult>,
  microResults: ReadonlyArray<MicroResult>
): string => {
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
  return [
    ...alignedLines(header, rows),
    "",
    ...microResults.map((m) =>
      `${m.name}: ${m.value.toFixed(m.unit === "ratio" || m.unit === "x" ? 2 : 0)} ${m.unit}  ${m.note}`
    )
  ].join("\n")
}
