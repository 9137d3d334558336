/**
 * `npm run bench`: tif1-effect against raw undici on the same loopback server, in one run.
 *
 * The mirror runs in a child process (pinned to another core with `taskset` when there is one).
 * Workloads (one file each in `bench/workloads/`), interleaved over the repetitions by the harness
 * (`bench/harness.ts`; contender order rotates each repetition):
 * - telemetry: every telemetry file of a synthetic session (real file sizes) at a fixed
 *   concurrency, 0 ms and 25 ms server latency: raw undici h1 (one socket per concurrent request)
 *   and h2 (one connection, as many streams as the concurrency), tif1 `Fetcher.many` over h1 and
 *   h2 with the cache off, and warm (memory tier; SQLite tier with a fresh memory tier).
 * - small: GETs of one 20 KB file, `HttpSession.get` against `undici.request`.
 * - session: a whole `SessionLoader.load` with telemetry, cold (empty SQLite cache) and warm (a
 *   new stack on that cache), against raw undici h2 fetching the same files in the same phases.
 * - micro: memory-hit latency, SQLite hit vs `JSON.parse`, telemetry decode vs `JSON.parse`.
 *
 * Timings are printed and written to `bench/results/<date>.json`; nothing is asserted here.
 *
 *   npm run bench                      full run (about 1,000 telemetry files, 5 repetitions)
 *   npm run bench -- --smoke           tiny sizes, one repetition (what the test runs)
 *   npm run bench -- --only <name>     only the contenders whose name contains <name>, and their baselines
 */
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import {
  type BenchOptions,
  type BenchReport,
  type Contender,
  formatTable,
  type LatencyRound,
  measureRounds,
  pin,
  selectContenders,
  ServerProcess,
  summarizeRounds,
  waitForQuiet,
  type WorkloadContext
} from "./harness.js"
import {
  BenchArgumentError,
  fixturesRoot,
  hasFlag,
  isMain,
  machine,
  resultsFile,
  runMain,
  stringFlag,
  today,
  writeJson
} from "./program.js"
import { buildSyntheticSession } from "./synthetic.js"
import { microBenchmarks } from "./workloads/micro.js"
import { sessionContenders, sessionSpeedups } from "./workloads/session.js"
import { smallContenders } from "./workloads/small.js"
import { telemetryContenders } from "./workloads/telemetry.js"

export type { BenchOptions, BenchReport, ContenderResult, MicroResult, Workload } from "./harness.js"

/** About 1,000 telemetry files at concurrency 128, 5 repetitions; the report to `bench/results/<date>.json`. */
export const fullOptions = (): BenchOptions => ({
  drivers: 20,
  laps: 50,
  concurrency: 128,
  smallRequests: 2000,
  repetitions: 5,
  latencies: [0, 25],
  quietWaitSeconds: 30,
  out: resultsFile(`${today()}.json`),
  log: (line) => console.log(line)
})

/** Tiny sizes, one repetition, silent, the report to `out`: what the test runs so the harness cannot rot. */
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

const onlyExpected = "a part of a contender's name"

/** The options `npm run bench -- <argv>` runs with: `--smoke` (printing, to a temp file), `--only <name>`. */
export const benchOptionsFrom = (argv: ReadonlyArray<string>): BenchOptions => {
  const only = stringFlag(argv, "--only", onlyExpected)
  const base = hasFlag(argv, "--smoke")
    ? { ...smokeOptions(Path.join(Os.tmpdir(), "tif1-bench-smoke.json")), log: (line: string) => console.log(line) }
    : fullOptions()
  return only === undefined ? base : { ...base, only }
}

/** Every workload's contenders at one latency, in the order they run in the first repetition. */
const contendersAt = (context: WorkloadContext): Array<Contender> => [
  ...telemetryContenders(context),
  ...smallContenders(context),
  ...sessionContenders(context)
]

/**
 * Every workload's contenders at each latency, those `options.only` selects (with their
 * baselines); throws, naming every contender, when it selects none.
 */
const roundsFor = (
  options: BenchOptions,
  contextAt: (latency: 0 | 25) => WorkloadContext
): Array<LatencyRound> => {
  const every = options.latencies.map((latency) => ({ latency, list: contendersAt(contextAt(latency)) }))
  const rounds = every.map(({ latency, list }) => ({ latency, list: selectContenders(list, options.only) }))
  if (options.only !== undefined && rounds.every(({ list }) => list.length === 0)) {
    const names = [...new Set(every.flatMap(({ list }) => list.map((contender) => contender.name)))]
    throw new BenchArgumentError(
      "--only",
      options.only,
      onlyExpected,
      `--only ${JSON.stringify(options.only)} is in no contender's name; the contenders: ${names.join(", ")}`
    )
  }
  return rounds
}

/** Run the bench: measure, print the table, write the report to `options.out`. */
export const runBench = async (options: BenchOptions): Promise<BenchReport> => {
  const workdir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "tif1-bench-"))
  let counter = 0
  const temporary = () => Fs.mkdtempSync(Path.join(workdir, `cache-${counter++}-`))
  const synthetic = buildSyntheticSession(fixturesRoot, Path.join(workdir, "cdn"), options)
  const server = await ServerProcess.start(synthetic.root)
  try {
    const rounds = roundsFor(options, (latency) => ({
      ready: server.ready,
      synthetic,
      options,
      latency,
      h1: latency === 0 ? "h1-0" : "h1-25",
      h2: latency === 0 ? "h2-0" : "h2-25",
      temporary
    }))
    const pinned = pin(server.child.pid!, 1) && pin(process.pid, 0)
    const loadAverageAtStart = Os.loadavg()
    await waitForQuiet(options.quietWaitSeconds, options.log)
    options.log(
      `${synthetic.telemetryPaths.length} telemetry files (${(synthetic.telemetryBytes / 1e6).toFixed(1)} MB), ` +
        `concurrency ${options.concurrency}, ${options.repetitions} repetitions${
          pinned ? ", server pinned to core 1" : ""
        }`
    )
    const samples = await measureRounds(rounds, server, options)
    const results = summarizeRounds(rounds, samples)
    const microResults = [...await microBenchmarks(server.ready, synthetic, temporary), ...sessionSpeedups(results)]
    const report: BenchReport = {
      date: new Date().toISOString(),
      machine: { ...machine(), pinned, loadAverageAtStart },
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
    writeJson(options.out, report)
    options.log(`\n${formatTable(results, microResults)}\n\nwritten to ${options.out}`)
    return report
  } finally {
    await server.stop()
    Fs.rmSync(workdir, { recursive: true, force: true })
  }
}

if (isMain(import.meta.url)) runMain(() => runBench(benchOptionsFrom(process.argv.slice(2))))
