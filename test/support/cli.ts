/** Run the `tif1` command (or an example script) as a child process, hermetically (temp HOME, cwd, cache; no TIF1_* from outside). */
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

export const repoRoot = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "../..")
export const cliEntry = Path.join(repoRoot, "src/cli/main.ts")
/** tsx's loader by absolute URL: the child's cwd is a sandbox without node_modules. */
const tsxLoader = pathToFileURL(Path.join(repoRoot, "node_modules/tsx/dist/loader.mjs")).href

export interface CliRun {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/** A fresh folder used as HOME, cwd and cache dir of one run. */
export const sandbox = (): string => Fs.mkdtempSync(Path.join(Os.tmpdir(), "tif1-cli-"))

/** Environment without the caller's TIF1_* settings, plus `env`. */
export const cliEnv = (home: string, env: Record<string, string> = {}): NodeJS.ProcessEnv => {
  const base = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("TIF1_")))
  return { ...base, HOME: home, USERPROFILE: home, TIF1_CACHE_DIR: Path.join(home, "cache"), ...env }
}

/** Start a TypeScript script; the caller reads output and waits via the returned promise. */
export const startScript = (
  script: string,
  args: ReadonlyArray<string>,
  options: { home: string; env?: Record<string, string> }
) => {
  const child = spawn(process.execPath, ["--import", tsxLoader, script, ...args], {
    cwd: options.home,
    env: cliEnv(options.home, options.env),
    stdio: ["ignore", "pipe", "pipe"]
  })
  let stdout = ""
  let stderr = ""
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
  const done = new Promise<CliRun>((resolve, reject) => {
    const killer = setTimeout(() => child.kill("SIGKILL"), 60_000)
    child.on("error", reject)
    child.on("close", (code, signal) => {
      clearTimeout(killer)
      resolve({ code, signal, stdout, stderr })
    })
  })
  return { child, done, output: () => stdout }
}

/** Start `tif1 ...args`. */
export const startCli = (args: ReadonlyArray<string>, options: { home: string; env?: Record<string, string> }) =>
  startScript(cliEntry, args, options)

/** Run a TypeScript script to the end. */
export const runScript = (
  script: string,
  args: ReadonlyArray<string>,
  options: { home?: string; env?: Record<string, string> } = {}
) => startScript(script, args, { home: options.home ?? sandbox(), ...(options.env ? { env: options.env } : {}) }).done

/** Run `tif1 ...args` to the end. */
export const runCli = (args: ReadonlyArray<string>, options: { home?: string; env?: Record<string, string> } = {}) =>
  runScript(cliEntry, args, options)
