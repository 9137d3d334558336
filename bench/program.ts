/**
 * What every bench script shares as a program: where things are, reading its flags, describing
 * the machine, writing its JSON report, and running when it is the module Node was started with.
 */
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

/** This folder (`bench/`). */
export const benchDir = Path.dirname(fileURLToPath(import.meta.url))

/** The checkout's root. */
export const repoRoot = Path.resolve(benchDir, "..")

/** The real CDN fixtures the synthetic sessions are cut from. */
export const fixturesRoot = Path.resolve(repoRoot, "../shared/fixtures/cdn")

/** tsx's loader, for the child processes the benches start on TypeScript files. */
export const tsxLoader = pathToFileURL(Path.join(repoRoot, "node_modules/tsx/dist/loader.mjs")).href

/** Today's date as the reports' file names carry it (`2026-12-02`). */
export const today = (): string => new Date().toISOString().slice(0, 10)

/** `bench/results/<name>`: where a full run keeps its report. */
export const resultsFile = (name: string): string => Path.join(benchDir, "results", name)

/** Write `report` to `out` as indented JSON (its folder made if missing). */
export const writeJson = (out: string, report: unknown): void => {
  Fs.mkdirSync(Path.dirname(out), { recursive: true })
  Fs.writeFileSync(out, JSON.stringify(report, null, 2) + "\n")
}

/** The machine a report was measured on. */
export interface Machine {
  readonly node: string
  readonly cpus: number
  readonly cpuModel: string
}

/** The machine this process runs on, as the reports record it. */
export const machine = (): Machine => ({
  node: process.version,
  cpus: Os.cpus().length,
  cpuModel: Os.cpus()[0]?.model ?? "unknown"
})

/** A flag on a bench's command line that is missing its value or has one it cannot take. */
export class BenchArgumentError extends Error {
  override readonly name = "BenchArgumentError"
  constructor(
    /** The flag, e.g. `--runs`. */
    readonly flag: string,
    /** What followed it (undefined: nothing did). */
    readonly value: string | undefined,
    /** What it takes, e.g. `a whole number of runs, 1 or more`. */
    readonly expected: string,
    message = `${flag} takes ${expected}${value === undefined ? "; none was given" : `, not ${JSON.stringify(value)}`}`
  ) {
    super(message)
  }
}

/** Whether `name` is among the arguments. */
export const hasFlag = (argv: ReadonlyArray<string>, name: string): boolean => argv.includes(name)

/** The argument after `name`, undefined when `name` is absent; throws when `name` ends the line. */
export const stringFlag = (argv: ReadonlyArray<string>, name: string, expected: string): string | undefined => {
  const index = argv.indexOf(name)
  if (index === -1) return undefined
  const value = argv[index + 1]
  if (value === undefined || value.startsWith("--")) throw new BenchArgumentError(name, undefined, expected)
  return value
}

/**
 * The number after `name`, `fallback` when `name` is absent; throws unless it is a number
 * `accepts` takes (`expected` says which, in the error).
 */
export const numberFlag = (
  argv: ReadonlyArray<string>,
  name: string,
  fallback: number,
  expected: string,
  accepts: (value: number) => boolean
): number => {
  const text = stringFlag(argv, name, expected)
  if (text === undefined) return fallback
  const value = Number(text)
  if (text.trim() === "" || !Number.isFinite(value) || !accepts(value)) {
    throw new BenchArgumentError(name, text, expected)
  }
  return value
}

/** The whole number (1 or more) of `noun` after `name`, `fallback` when `name` is absent. */
export const countFlag = (argv: ReadonlyArray<string>, name: string, fallback: number, noun: string): number =>
  numberFlag(
    argv,
    name,
    fallback,
    `a whole number of ${noun}, 1 or more`,
    (value) => Number.isInteger(value) && value >= 1
  )

/** Whether the module at `moduleUrl` (its `import.meta.url`) is the script Node was started with. */
export const isMain = (moduleUrl: string): boolean =>
  process.argv[1] !== undefined && Path.resolve(process.argv[1]) === fileURLToPath(moduleUrl)

/**
 * Run a bench script's body: a bad flag prints what was wrong and exits with 2, any other failure
 * prints the error and exits with 1 (child processes and servers left by a failed run do not keep
 * the process alive).
 */
export const runMain = (body: () => Promise<unknown>): void => {
  const fail = (error: unknown) => {
    console.error(error instanceof BenchArgumentError ? error.message : error)
    process.exit(error instanceof BenchArgumentError ? 2 : 1)
  }
  try {
    body().catch(fail)
  } catch (error) {
    fail(error)
  }
}
