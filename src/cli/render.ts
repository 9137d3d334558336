/**
 * Terminal output of the `tif1` command: the live progress line, the summary table, tables with
 * a header, and one-line errors with a hint.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as CliError from "effect/cli/CliError"
import * as Data from "effect/Data"
import * as Option from "effect/Option"
import { envName } from "../schema/Config.js"
import { statsSession } from "../services/fetcher/source.js"
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
/** Plain (non-TTY) lines at most this often, plus one per phase change. */
const plainLineEveryMs = 1000
/**
 * The ETA is the files still to do (of those known) over the files done per second in the last
 * `etaWindowMs` (the pace of the phase under way: lap tables come one round trip at a time,
 * telemetry as fast as the link allows). It needs a basis: `etaBasisFiles` done in at least
 * `etaBasisMs`.
 */
const etaWindowMs = 5000
const etaBasisMs = 1000
const etaBasisFiles = 5
/** One pace sample per this many milliseconds at most (the window holds at most 51). */
const etaSampleEveryMs = 100

/** Seconds as `42s` or `3m05s`. */
const duration = (seconds: number): string => {
  const whole = Math.ceil(seconds)
  return whole < 60 ? `${whole}s` : `${Math.floor(whole / 60)}m${String(whole % 60).padStart(2, "0")}s`
}

/** Files per second, one decimal below 10. */
const pace = (filesPerSecond: number): string => filesPerSecond.toFixed(filesPerSecond < 10 ? 1 : 0)

/**
 * A progress display for one load. `update` is called with each progress report and the bytes
 * received so far; `clear` wipes the live line before someone else writes (a log line);
 * `finish` leaves the final state on screen. The line ends with `ETA 18s at 50 files/s`: the
 * time left at the pace of the last seconds (`ETA ?` until there is a basis for one).
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
  // Files completed over time, oldest first: the last one older than the window, then the window.
  const samples: Array<{ readonly at: number; readonly completed: number }> = [{ at: started, completed: 0 }]

  const recordPace = (at: number, completed: number) => {
    if (at - samples.at(-1)!.at >= etaSampleEveryMs) samples.push({ at, completed })
    while (samples.length > 1 && at - samples[1]!.at >= etaWindowMs) samples.shift()
  }

  const eta = (at: number, progress: LoadProgress): string => {
    const reference = samples[0]!
    const files = progress.completed - reference.completed
    const seconds = (at - reference.at) / 1000
    if (at - started < etaBasisMs || progress.completed < etaBasisFiles || files <= 0 || seconds <= 0) return "ETA ?"
    const rate = files / seconds
    return `ETA ${duration((progress.total - progress.completed) / rate)} at ${pace(rate)} files/s`
  }

  const describe = ({ bytes, progress }: { progress: LoadProgress; bytes: number }) => {
    const at = now()
    const seconds = Math.max((at - started) / 1000, 0.001)
    return `${progress.phase} ${progress.completed}/${progress.total} files  ${megabytes(bytes)} MB  ${
      (bytes / 1_000_000 / seconds).toFixed(1)
    } MB/s  ${progress.phase === "done" ? "" : eta(at, progress)}`.trimEnd()
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
      recordPace(now(), progress.completed)
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
 * A header and rows as lines of columns two spaces apart: each column as wide as its widest cell,
 * the columns whose indexes `alignRight` holds (numbers) aligned right, no trailing spaces. The
 * benchmarks print their tables with it too.
 *
 * @since 0.2.0
 */
export const alignedLines = (
  header: ReadonlyArray<string>,
  rows: ReadonlyArray<ReadonlyArray<string>>,
  alignRight: ReadonlyArray<number> = []
): Array<string> => {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? "").length)))
  return [header, ...rows].map((cells) =>
    widths.map((width, column) => {
      const cell = cells[column] ?? ""
      return alignRight.includes(column) ? cell.padStart(width) : cell.padEnd(width)
    }).join("  ").trimEnd()
  )
}

/**
 * A table with a header row (`alignedLines`), indented by two spaces as `table`.
 *
 * @since 0.2.0
 */
export const alignedTable = (
  header: ReadonlyArray<string>,
  rows: ReadonlyArray<ReadonlyArray<string>>,
  alignRight: ReadonlyArray<number> = []
): string => alignedLines(header, rows, alignRight).map((line) => `  ${line}\n`).join("")

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
 * An event or session name on the command line that the schedule resolves to nothing (or to more
 * than one event): a usage mistake, with the calendar's reason (its nearest names) as the message.
 *
 * @since 0.2.0
 */
export class UnknownNameError extends Data.TaggedError("UnknownNameError")<{
  readonly message: string
  /** Which argument: the event or the session. */
  readonly argument: "gp" | "session"
}> {}

/**
 * A season no schedule covers (`tif1 events 2030`): the folder looked in and the years it has.
 *
 * @since 0.2.0
 */
export class NoScheduleError extends Data.TaggedError("NoScheduleError")<{
  readonly year: number
  readonly scheduleDir: string
  /** The bundled schedules, or a `schedule_dir` of the user's. */
  readonly bundled: boolean
  readonly years: ReadonlyArray<number>
}> {
  override get message(): string {
    const where = this.bundled ? "the bundled schedules" : `the schedules in ${this.scheduleDir}`
    return `no schedule for ${this.year}: ${where} ${coverage(this.years)}`
  }
}

/** `cover 2018-2026`, `cover 2018-2020, 2024`, `are none`. */
const coverage = (years: ReadonlyArray<number>): string => {
  if (years.length === 0) return "are none"
  const sorted = [...years].sort((a, b) => a - b)
  const runs: Array<[number, number]> = []
  for (const year of sorted) {
    const last = runs.at(-1)
    if (last !== undefined && year === last[1] + 1) last[1] = year
    else runs.push([year, year])
  }
  return `cover ${runs.map(([from, to]) => (from === to ? String(from) : `${from}-${to}`)).join(", ")}`
}

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
 * Exit codes: 0 ok, 1 unexpected, 2 usage or configuration (names the schedule does not resolve
 * too), 3 not found (a season without a schedule too), 4 network, 5 invalid data.
 *
 * @since 0.1.0
 */
export const exitCodes = { ok: 0, unexpected: 1, usage: 2, notFound: 3, network: 4, invalidData: 5 } as const

/** What to fix when a request field is malformed, by the field `InvalidDataError.path` names. */
const invalidDataHints = new Map([
  ["year", "the timing data covers 2018 on"],
  ["gp", "an event name holds no `/` or control characters and is not `.` or `..`"],
  ["session", "a session name holds no `/` or control characters and is not `.` or `..`"],
  ["path", "a file is named from the session folder: drivers.json, VER/laptimes.json, VER/1_tel.json"]
])

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
    case "DataNotFoundError": {
      const { gp, path, session, year } = error as { year: number; gp: string; session: string; path: string }
      if (session === statsSession) {
        return {
          exitCode: exitCodes.notFound,
          line: `not in the Stats archive: ${[String(year), gp, path].filter((part) => part !== "").join("/")}`,
          hint: "the archive has a season's championship races once they have run (none for a race " +
            "called off or not run yet); check the year and the event"
        }
      }
      return {
        exitCode: exitCodes.notFound,
        line: message,
        hint: "check the year, event and session names (\"Australian Grand Prix\", \"Race\", FP1...); " +
          "the file may not be published yet"
      }
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
        hint: invalidDataHints.get((error as { path: string }).path) ??
          "a CDN delivered a file that is not what it should be; --verbose shows the cause"
      }
    case "UsageError":
      return { exitCode: exitCodes.usage, line: message, hint: "see tif1 --help" }
    case "UnknownNameError":
      return {
        exitCode: exitCodes.usage,
        line: message,
        hint: (error as UnknownNameError).argument === "gp"
          ? "an event is its name, round number, country or location, in any case, accents optional"
          : "a session is its name or an alias: FP1, FP2, FP3, SQ, SS, S, Q, R"
      }
    case "NoScheduleError":
      return {
        exitCode: exitCodes.notFound,
        line: message,
        hint: "schedule_dir (TIF1_SCHEDULE_DIR) names a folder of {year}.json schedules in the bundled format, " +
          "read instead of the bundled ones"
      }
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
