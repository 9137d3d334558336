/**
 * `tif1 mirror pull`: fill a folder in CDN layout with one session's files, through the full
 * client (CDN fallback, retries, breaker), byte for byte as published. Resumable: a file already
 * in the folder that parses as JSON is kept (files are written to a temporary name and renamed,
 * so an interrupted pull never leaves a partial file under the real name).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { type FetchError, InvalidDataError } from "../schema/Errors.js"
import { decodeDrivers, decodeLapTimes, type LapTimes } from "../schema/payloads/index.js"
import { Fetcher } from "../services/Fetcher.js"
import { parseJsonBytes } from "../services/internal/json.js"
import { type SessionRef, splitByDriver } from "../services/SessionLoader.js"

/**
 * What a pull did.
 *
 * @since 0.1.0
 */
export interface PullSummary {
  readonly folder: string
  /** Files written now. */
  readonly written: number
  /** Files already there (resumed). */
  readonly kept: number
  /** Files not published. */
  readonly missing: number
  /** Files that failed (network or invalid data). */
  readonly failed: number
  readonly bytes: number
  /** Temporary files of pulls that died before renaming them, removed now. */
  readonly staleRemoved: number
}

/**
 * Options of a pull.
 *
 * @since 0.1.0
 */
export interface PullOptions {
  readonly out: string
  readonly telemetry?: boolean
  readonly concurrency?: number
  readonly onFile?: (path: string, outcome: "written" | "kept" | "missing" | "failed") => void
}

/** `{file}.{pid}.partial`: a file being written by the pull with that process id. */
const partialName = /\.(\d+)\.partial$/

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM" // alive, someone else's
  }
}

/**
 * Remove the temporary files that pulls which are no longer running left behind (killed before
 * the rename); a running pull's own files are left alone. How many were removed.
 */
const removeStalePartials = (folder: string): number => {
  let removed = 0
  let entries: Array<Fs.Dirent>
  try {
    entries = Fs.readdirSync(folder, { withFileTypes: true, recursive: true })
  } catch {
    return 0 // a first pull: no folder yet
  }
  for (const entry of entries) {
    const match = partialName.exec(entry.name)
    if (!entry.isFile() || match === null) continue
    const pid = Number(match[1])
    if (pid !== process.pid && isAlive(pid)) continue
    Fs.rmSync(Path.join(entry.parentPath, entry.name), { force: true })
    removed++
  }
  return removed
}

/**
 * Pull one session into `out/{year}/{Event}/{Session}/`.
 *
 * @since 0.1.0
 */
export const pullSession = (ref: SessionRef, options: PullOptions): Effect.Effect<PullSummary, FetchError, Fetcher> =>
  Effect.gen(function*() {
    const fetcher = yield* Fetcher
    const base = yield* fetcher.resolve({ ...ref, path: "drivers.json" })
    const folder = Path.join(options.out, String(base.year), base.gp, base.session)
    const counts = { written: 0, kept: 0, missing: 0, failed: 0, bytes: 0, staleRemoved: 0 }
    counts.staleRemoved = removeStalePartials(folder)

    const existing = (path: string): Uint8Array | undefined => {
      try {
        const bytes = Fs.readFileSync(Path.join(folder, path))
        return parseJsonBytes(bytes).error === undefined ? bytes : undefined
      } catch {
        return undefined
      }
    }

    /** One file: kept if already complete, else fetched and written atomically. `None` when unavailable. */
    const pullFile = (path: string, required: boolean): Effect.Effect<Option.Option<Uint8Array>, FetchError> => {
      const already = existing(path)
      if (already !== undefined) {
        counts.kept++
        options.onFile?.(path, "kept")
        return Effect.succeed(Option.some(already))
      }
      return fetcher.raw({ ...base, path }).pipe(
        Effect.map(({ body }) => {
          const target = Path.join(folder, path)
          Fs.mkdirSync(Path.dirname(target), { recursive: true })
          const temporary = `${target}.${process.pid}.partial`
          Fs.writeFileSync(temporary, body)
          Fs.renameSync(temporary, target)
          counts.written++
          counts.bytes += body.byteLength
          options.onFile?.(path, "written")
          return Option.some(body)
        }),
        Effect.catch((error) => {
          if (required) return Effect.fail(error)
          const outcome = error._tag === "DataNotFoundError" ? "missing" : "failed"
          counts[outcome]++
          options.onFile?.(path, outcome)
          return outcome === "failed"
            ? Effect.as(Effect.logWarning(`pull: ${path}: ${error.message}`), Option.none())
            : Effect.succeed(Option.none())
        })
      )
    }

    const concurrency = options.concurrency ?? 32
    const driversBytes = yield* pullFile("drivers.json", true)
    const drivers = decodeDrivers(parseJsonBytes(Option.getOrThrow(driversBytes)).value)
    if ("error" in drivers) return yield* new InvalidDataError({ path: "drivers.json", reason: drivers.error })
    const codes = drivers.value.drivers.map((driver) => driver.driver)
    const [, sessionLaps] = yield* Effect.all([
      Effect.forEach(["weather.json", "rcm.json", "corners.json"], (path) => pullFile(path, false), { concurrency }),
      pullFile("session_laptimes.json", false)
    ], { concurrency: 2 })
    const tables = yield* Effect.forEach(codes, (code) => pullFile(`${code}/laptimes.json`, false), { concurrency })

    if (options.telemetry === true) {
      const laps = new Map<string, LapTimes>()
      codes.forEach((code, index) => {
        const decoded = Option.map(tables[index]!, (bytes) => decodeLapTimes(parseJsonBytes(bytes).value))
        if (Option.isSome(decoded) && "value" in decoded.value) laps.set(code, decoded.value.value)
      })
      if (laps.size === 0 && Option.isSome(sessionLaps)) {
        const joined = decodeLapTimes(parseJsonBytes(sessionLaps.value).value)
        if ("value" in joined) { for (const [code, table] of splitByDriver(joined.value)) laps.set(code, table) }
      }
      const paths = [...laps].flatMap(([code, table]) =>
        table.lap.filter((lap) => Number.isInteger(lap) && lap > 0).map((lap) => `${code}/${lap}_tel.json`)
      )
      yield* Effect.forEach(paths, (path) => pullFile(path, false), { concurrency, discard: true })
    }
    return { folder, ...counts }
  })
