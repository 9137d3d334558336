/**
 * Terminal output of the `tif1` command: the live progress line, the summary table, and
 * one-line errors with a hint.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as CliError from "effect/cli/CliError"
import * as Data from "effect/Data"
import * as Option from "effect/Option"
import { envName } from "../schema/Config.js"
import type { ConnectionStats } from "../services/HttpSession.js"
import type { LoadProgress, LoadSummary } from "../services/SessionLoader.js"

/**
 * Where output goes: a stream and whether it is a terminal (the progress line redraws in place
 * on a terminal; elsewhere it prints plain lines).
 *
 * @since 0.1.0
 */
export interface Output {
  readonly write: (text: string) => void
  readonly isTTY: boolean
  readonly columns: number
}

/**
 * Standard error as an `Output`.
 *
 * @since 0.1.0
 */
export const stderr: Output = {
  write: (text) => process.stderr.write(text),
  isTTY: process.stderr.isTTY === true,
  columns: process.stderr.columns || 80
}

/**
 * Megabytes with one decimal.
 *
 * @since 0.1.0
 */
export const megabytes = (bytes: number): string => (bytes / 1_000_000).toFixed(1)

const barWidth = 16
/** No ETA before this many seconds and files. */
const etaAfterSeconds = 2
const etaAfterFiles = 20
/** Plain (non-TTY) lines at most this often, plus one per phase change. */
const plainLineEveryMs = 1000

/**
 * A progress display for one load. `update` is called with each progress report and the bytes
 * received so far; `clear` wipes the live line before someone else writes (a log line);
 * `finish` leaves the final state on screen.
 *
 * @since 0.1.0
 */
export const makeProgress = (output: Output, label: string, now: () => number = Date.now) => {
  const started = now()
  let lastPlainAt = -Infinity
  let lastPhase: LoadProgress["phase"] | undefined
  let lineOnScreen = false
  let latest: { progress: LoadProgress; bytes: number } | undefined
  // The total grows as lap tables reveal telemetry files; the bar keeps its furthest point.
  let furthestFill = 0

  const describe = ({ bytes, progress }: { progress: LoadProgress; bytes: number }) => {
    const seconds = Math.max((now() - started) / 1000, 0.001)
    const rate = progress.completed / seconds
    const remaining = progress.total - progress.completed
    // An estimate from the first few files is a guess: wait for some seconds and some files.
    const settled = seconds >= etaAfterSeconds && progress.completed >= etaAfterFiles
    const eta = progress.phase === "done" ? "" : settled && rate > 0 ? `ETA ${Math.ceil(remaining / rate)}s` : "ETA ?"
    return `${progress.phase} ${progress.completed}/${progress.total} files  ${megabytes(bytes)} MB  ${
      (bytes / 1_000_000 / seconds).toFixed(1)
    } MB/s  ${eta}`.trimEnd()
  }

  const draw = () => {
    if (latest === undefined) return
    const { progress } = latest
    if (output.isTTY) {
      const fill = progress.total === 0 ? 0 : Math.round(barWidth * progress.completed / progress.total)
      const filled = furthestFill = Math.max(furthestFill, fill)
      const line = `${label} [${"#".repeat(filled)}${"-".repeat(barWidth - filled)}] ${describe(latest)}`
      output.write(`\r${line.slice(0, Math.max(output.columns - 1, 20))}\x1b[K`)
      lineOnScreen = true
      return
    }
    const at = now()
    if (progress.phase !== lastPhase || at - lastPlainAt >= plainLineEveryMs) {
      output.write(`${label} ${describe(latest)}\n`)
      lastPlainAt = at
      lastPhase = progress.phase
    }
  }

  return {
    update: (progress: LoadProgress, bytes: number) => {
      latest = { progress, bytes }
      draw()
    },
    clear: () => {
      if (lineOnScreen) output.write("\r\x1b[K")
      lineOnScreen = false
    },
    finish: () => {
      if (output.isTTY && lineOnScreen) output.write("\n")
      lineOnScreen = false
    }
  }
}

/**
 * Rows of two columns, the first padded.
 *
 * @since 0.1.0
 */
export const table = (rows: ReadonlyArray<readonly [string, string]>): string => {
  const width = Math.max(...rows.map(([name]) => name.length))
  return rows.map(([name, value]) => `  ${name.padEnd(width)}  ${value}`).join("\n") + "\n"
}

/**
 * The summary table printed after a load.
 *
 * @since 0.1.0
 */
export const summaryTable = (summary: LoadSummary, connections: ConnectionStats): string =>
  table([
    ["files", `${summary.delivered} delivered of ${summary.files}`],
    ["MB", `${megabytes(summary.bytes)} (${megabytes(summary.wireBytes)} on the wire)`],
    ["seconds", summary.seconds.toFixed(2)],
    ["requests", String(summary.requests)],
    ["connections", String(connections.connectionsCreated)],
    ["reuse", `${connections.reuseRate.toFixed(1)}%`],
    ["retries", String(summary.retries)],
    ["not found", String(summary.notFound)],
    ["failures", String(summary.failures)],
    ["cache hits", String(summary.cacheHits)]
  ])

/**
 * What an interrupted load had done: files completed of those known when it stopped.
 *
 * @since 0.2.0
 */
export interface PartialLoad {
  readonly interrupted: true
  readonly completed: number
  readonly known: number
  readonly requests: number
  readonly bytes: number
  readonly seconds: number
  readonly retries: number
  readonly cacheHits: number
}

/**
 * The summary table of an interrupted load.
 *
 * @since 0.2.0
 */
export const partialTable = (partial: PartialLoad): string =>
  table([
    ["files", `${partial.completed} completed of ${partial.known} known`],
    ["MB", megabytes(partial.bytes)],
    ["seconds", partial.seconds.toFixed(2)],
    ["requests", String(partial.requests)],
    ["retries", String(partial.retries)],
    ["cache hits", String(partial.cacheHits)]
  ])

/**
 * A command line that names no command to run (`tif1`, `tif1 mirror`).
 *
 * @since 0.1.0
 */
export class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}

/**
 * What a failure of the command means: its exit code, one line, and a hint to fix it.
 *
 * @since 0.1.0
 */
export interface Diagnosis {
  readonly exitCode: number
  readonly line: string
  readonly hint: string | undefined
}

/**
 * Exit codes: 0 ok, 1 unexpected, 2 usage or configuration, 3 not found, 4 network, 5 invalid data.
 *
 * @since 0.1.0
 */
export const exitCodes = { ok: 0, unexpected: 1, usage: 2, notFound: 3, network: 4, invalidData: 5 } as const

const tagOf = (error: unknown): string | undefined =>
  typeof error === "object" && error !== null && "_tag" in error && typeof error._tag === "string"
    ? error._tag
    : undefined

/**
 * Map a failed command to its exit code and message.
 *
 * @since 0.1.0
 */
export const diagnose = (cause: Cause.Cause<unknown>): Diagnosis => {
  const failure = Cause.findErrorOption(cause)
  if (Option.isNone(failure)) {
    if (Cause.hasInterruptsOnly(cause)) return { exitCode: 130, line: "interrupted", hint: undefined }
    const defect = Cause.squash(cause)
    return {
      exitCode: exitCodes.unexpected,
      line: `unexpected error: ${defect instanceof Error ? defect.message : String(defect)}`,
      hint: "run again with --verbose for the stack trace, and report it"
    }
  }
  const error = failure.value
  // effect/cli has already printed what was wrong with the command line.
  if (CliError.isCliError(error)) return { exitCode: exitCodes.usage, line: "", hint: "see --help" }
  const message = error instanceof Error ? error.message : String(error)
  switch (tagOf(error)) {
    case "DataNotFoundError":
      return {
        exitCode: exitCodes.notFound,
        line: message,
        hint: "check the year, event and session names (\"Australian Grand Prix\", \"Race\", FP1...); " +
          "the file may not be published yet"
      }
    case "NetworkError": {
      const kind = (error as { kind?: string }).kind
      return {
        exitCode: exitCodes.network,
        line: message,
        hint: kind === "offline"
          ? "offline mode reads only the cache: turn TIF1_OFFLINE_MODE off or load the session once online"
          : kind === "access-denied"
          ? "a CDN refused the request (401/403): check its credentials (cdn_headers, user:password in the URL)"
          : kind === "no-cdn"
          ? "every CDN is disabled or cooling down; `tif1 stats` lists them"
          : "check the connection and the CDN list (tif1 config); TIF1_TIMEOUT and TIF1_MAX_RETRIES set patience"
      }
    }
    case "InvalidDataError":
      return {
        exitCode: exitCodes.invalidData,
        line: message,
        hint: "the request or the file is malformed (see above); check the path and event names"
      }
    case "UsageError":
      return { exitCode: exitCodes.usage, line: message, hint: "see tif1 --help" }
    case "Tif1ConfigError": {
      const key = (error as { key: string }).key
      return {
        exitCode: exitCodes.usage,
        line: message,
        hint: `fix ${envName(key)} or the .tif1rc entry; \`tif1 config\` shows where each value comes from`
      }
    }
    default:
      return { exitCode: exitCodes.unexpected, line: message, hint: "run again with --verbose for details" }
  }
}
