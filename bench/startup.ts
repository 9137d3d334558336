/**
 * `npm run bench:startup`: how long a fresh Node process takes to start with tif1-effect, from the
 * BUILT package (what users run), against a bare `node -e 0`:
 * - `import tif1-effect`: `node --input-type=module -e 'await import("tif1-effect")'` in the package
 *   folder (Node resolves the name to the package itself, through its `exports`: `dist/index.js`);
 * - `tif1 --help`: `node bin/tif1.js --help`, the CLI's cheapest full start.
 *
 * The package is built first (`tsc -p tsconfig.build.json`, untimed) unless `--no-build` is given.
 * Every run is a new child process, timed from spawn to exit; after one untimed run of each (the
 * file cache), the cases are interleaved over the runs, in an order rotated each run. Printed and
 * written to `bench/results/startup-<date>.json`; a measurement, nothing is asserted.
 *
 *   npm run bench:startup                 7 runs of each
 *   npm run bench:startup -- --runs 15    more runs
 *   npm run bench:startup -- --no-build   measure dist/ as it is
 */
import { spawn, spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { alignedLines } from "../src/cli/render.js"
import {
  countFlag,
  hasFlag,
  isMain,
  type Machine,
  machine,
  repoRoot,
  resultsFile,
  runMain,
  today,
  writeJson
} from "./program.js"
import { median } from "./summary.js"

export interface StartupOptions {
  /** Timed runs of each case. */
  readonly runs: number
  /**
   * `checkout`: build into this checkout's `dist/` (unless `build` is false) and measure it there.
   * A folder path: stage the package there (its `package.json` and `bin/`, `dist/` built fresh,
   * `node_modules` linked to the checkout's), leaving the checkout's `dist/` alone (what the test does).
   */
  readonly packageRoot: "checkout" | string
  /** Build before measuring; always true for a staged package. */
  readonly build: boolean
  readonly out: string
  readonly log: (line: string) => void
}

/** One case: every run's wall time, spawn to exit. */
export interface StartupResult {
  readonly name: string
  /** The child's arguments after `node`. */
  readonly argv: ReadonlyArray<string>
  readonly runsMs: ReadonlyArray<number>
  readonly medianMs: number
  readonly minMs: number
  /** Median over the `node -e 0` baseline's median. */
  readonly overBaselineMs: number
}

export interface StartupReport {
  readonly date: string
  readonly machine: Machine & {
    readonly loadAverageAtStart: ReadonlyArray<number>
  }
  readonly versions: { readonly tif1Effect: string; readonly effect: string }
  readonly options: { readonly runs: number; readonly staged: boolean }
  /** The untimed build before the runs (`ms` 0 when there was none). */
  readonly build: { readonly built: boolean; readonly ms: number }
  readonly results: ReadonlyArray<StartupResult>
}

export const defaultOptions = (): StartupOptions => ({
  runs: 7,
  packageRoot: "checkout",
  build: true,
  out: resultsFile(`startup-${today()}.json`),
  log: (line) => console.log(line)
})

/** Two runs of each case on a staged package in `dir`, report to `out`: what the test runs. */
export const startupSmokeOptions = (dir: string, out: string): StartupOptions => ({
  runs: 2,
  packageRoot: dir,
  build: true,
  out,
  log: () => {}
})

const versionOf = (packageJson: string) =>
  (JSON.parse(Fs.readFileSync(packageJson, "utf8")) as { readonly version: string }).version

/** Compile `src/` into `<root>/dist`; throws with tsc's output when it fails. */
export const build = (root: string) => {
  const tsc = Path.join(repoRoot, "node_modules/typescript/bin/tsc")
  const result = spawnSync(
    process.execPath,
    [tsc, "-p", Path.join(repoRoot, "tsconfig.build.json"), "--outDir", Path.join(root, "dist")],
    { cwd: repoRoot, encoding: "utf8" }
  )
  if (result.status !== 0) throw new Error(`the build failed:\n${result.stdout}${result.stderr}`)
}

/** A copy of the package in `dir` with what a run loads: `package.json`, `bin/`, the checkout's `node_modules`. */
const stage = (dir: string) => {
  Fs.mkdirSync(dir, { recursive: true })
  Fs.copyFileSync(Path.join(repoRoot, "package.json"), Path.join(dir, "package.json"))
  Fs.cpSync(Path.join(repoRoot, "bin"), Path.join(dir, "bin"), { recursive: true })
  const modules = Path.join(dir, "node_modules")
  if (!Fs.existsSync(modules)) Fs.symlinkSync(Path.join(repoRoot, "node_modules"), modules, "dir")
}

/** The child's environment: the caller's, without NODE_OPTIONS (a loader there would be timed too). */
const childEnv = () => {
  const { NODE_OPTIONS: _ignored, ...rest } = process.env
  return { ...rest, NO_COLOR: "1" }
}

/** One child process, spawn to exit, in ms; throws unless it exits with 0. */
const timeRun = (argv: ReadonlyArray<string>, cwd: string) =>
  new Promise<number>((resolve, reject) => {
    const started = performance.now()
    const child = spawn(process.execPath, argv, { cwd, env: childEnv(), stdio: ["ignore", "ignore", "pipe"] })
    let stderr = ""
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
    child.on("error", reject)
    child.on("exit", (code, signal) => {
      const ms = performance.now() - started
      if (code === 0) resolve(ms)
      else reject(new Error(`node ${argv.join(" ")} exited with ${code ?? signal}:\n${stderr}`))
    })
  })

const cases: ReadonlyArray<{ readonly name: string; readonly argv: ReadonlyArray<string> }> = [
  { name: "node -e 0", argv: ["-e", "0"] },
  { name: "import tif1-effect", argv: ["--input-type=module", "-e", "await import(\"tif1-effect\")"] },
  { name: "tif1 --help", argv: ["bin/tif1.js", "--help"] }
]

const formatTable = (results: ReadonlyArray<StartupResult>) => {
  const header = ["case", "median ms", "min ms", "over node -e 0"]
  const rows = results.map((result) => [
    result.name,
    result.medianMs.toFixed(1),
    result.minMs.toFixed(1),
    result.name === cases[0]!.name ? "" : `+${result.overBaselineMs.toFixed(1)} ms`
  ])
  return alignedLines(header, rows, [1, 2, 3]).join("\n")
}

export const runStartup = async (options: StartupOptions): Promise<StartupReport> => {
  const staged = options.packageRoot !== "checkout"
  const root = staged ? options.packageRoot : repoRoot
  if (staged) stage(root)
  const buildStarted = performance.now()
  const built = staged || options.build
  if (built) {
    options.log(`building ${Path.join(root, "dist")} ...`)
    build(root)
  }
  const buildMs = built ? performance.now() - buildStarted : 0
  if (!Fs.existsSync(Path.join(root, "dist/index.js"))) {
    throw new Error(`${Path.join(root, "dist/index.js")} is missing: build the package (or drop --no-build)`)
  }

  const loadAverageAtStart = Os.loadavg()
  // Untimed: the file cache, and a failing case fails before any timing.
  for (const { argv } of cases) await timeRun(argv, root)
  const runsMs = new Map<string, Array<number>>(cases.map(({ name }) => [name, []]))
  for (let run = 0; run < options.runs; run++) {
    for (let index = 0; index < cases.length; index++) {
      const { argv, name } = cases[(index + run) % cases.length]!
      runsMs.get(name)!.push(await timeRun(argv, root))
    }
    options.log(`run ${run + 1} of ${options.runs}`)
  }
  const baseline = median(runsMs.get(cases[0]!.name)!)
  const results: Array<StartupResult> = cases.map(({ argv, name }) => {
    const runs = runsMs.get(name)!
    return {
      name,
      argv,
      runsMs: runs,
      medianMs: median(runs),
      minMs: Math.min(...runs),
      overBaselineMs: median(runs) - baseline
    }
  })
  const report: StartupReport = {
    date: new Date().toISOString(),
    machine: { ...machine(), loadAverageAtStart },
    versions: {
      tif1Effect: versionOf(Path.join(repoRoot, "package.json")),
      effect: versionOf(Path.join(repoRoot, "node_modules/effect/package.json"))
    },
    options: { runs: options.runs, staged },
    build: { built, ms: buildMs },
    results
  }
  writeJson(options.out, report)
  options.log(
    `\ncold start, ${options.runs} runs each (${process.version}, ${report.machine.cpus} CPUs)\n` +
      `${formatTable(results)}\n\nwritten to ${options.out}`
  )
  return report
}

/** The options `npm run bench:startup -- <argv>` runs with: `--runs <n>`, `--no-build`. */
export const startupOptionsFrom = (argv: ReadonlyArray<string>): StartupOptions => ({
  ...defaultOptions(),
  runs: countFlag(argv, "--runs", defaultOptions().runs, "runs"),
  build: !hasFlag(argv, "--no-build")
})

if (isMain(import.meta.url)) runMain(() => runStartup(startupOptionsFrom(process.argv.slice(2))))
