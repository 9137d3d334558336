/**
 * A session load with the live progress display and the summary table, shared by `tif1 load`
 * and `tif1 demo`.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Schedule from "effect/Schedule"
import * as Tracer from "effect/Tracer"
import type { FetchError } from "../schema/Errors.js"
import type { Calendar } from "../services/Calendar.js"
import { Fetcher } from "../services/Fetcher.js"
import { type ConnectionStats, HttpSession } from "../services/HttpSession.js"
import {
  type LoadOptions,
  type LoadProgress,
  type LoadSummary,
  SessionLoader,
  type SessionRef
} from "../services/SessionLoader.js"
import { resolveSession } from "./names.js"
import {
  makeProgress,
  type Output,
  type PartialLoad,
  partialTable,
  summaryTable,
  type UnknownNameError
} from "./render.js"

/**
 * One CDN attempt as `--verbose` reports it.
 *
 * @since 0.2.0
 */
export interface AttemptTiming {
  readonly cdn: string
  readonly url: string
  readonly seconds: number
  readonly failed: boolean
}

/**
 * A tracer that hands every finished `Fetcher.attempt` span to `record` and otherwise does what
 * `base` does: `tif1 load --verbose` ranks the slowest attempts from the spans the stack makes anyway.
 *
 * @since 0.2.0
 */
export const attemptRecorder = (base: Tracer.Tracer, record: (attempt: AttemptTiming) => void): Tracer.Tracer =>
  Tracer.make({
    span(options) {
      const span = base.span(options)
      if (options.name !== "Fetcher.attempt") return span
      const end = span.end.bind(span)
      span.end = (endTime, exit) => {
        end(endTime, exit)
        record({
          cdn: String(span.attributes.get("tif1.cdn")),
          url: String(span.attributes.get("url.full")),
          seconds: Number(endTime - options.startTime) / 1e9,
          failed: exit._tag === "Failure"
        })
      }
      return span
    },
    context: base.context === undefined ? undefined : (primitive, fiber) => base.context!(primitive, fiber)
  })

/**
 * The slowest attempts, slowest first, as lines for stderr.
 *
 * @since 0.2.0
 */
export const slowestAttempts = (attempts: ReadonlyArray<AttemptTiming>, count: number): string =>
  [...attempts].sort((a, b) => b.seconds - a.seconds).slice(0, count).map((attempt) =>
    `  ${attempt.seconds.toFixed(3)} s  ${attempt.cdn}  ${attempt.url}${attempt.failed ? "  (failed)" : ""}\n`
  ).join("")

/** How often the progress line is redrawn. */
const redrawEvery = "100 millis"

/**
 * Connection counts between two snapshots (the reuse rate over those requests only).
 *
 * @since 0.1.0
 */
export const connectionsSince = (before: ConnectionStats, after: ConnectionStats): ConnectionStats => {
  const totalRequests = after.totalRequests - before.totalRequests
  const connectionsReused = after.connectionsReused - before.connectionsReused
  return {
    totalRequests,
    connectionsCreated: after.connectionsCreated - before.connectionsCreated,
    connectionsReused,
    reuseRate: totalRequests === 0 ? 0 : (100 * connectionsReused) / totalRequests,
    byOrigin: after.byOrigin
  }
}

/**
 * Where a load's output goes: the live progress (labelled with `label`, else the session's
 * published name), and the summary (a table, or one JSON object with `json`).
 *
 * @since 0.2.0
 */
export interface LoadOutput {
  readonly label?: string
  readonly progress: Output
  readonly report: (text: string) => void
  readonly json?: boolean
}

/**
 * Load one session, drawing progress on `progress` and writing the summary to `report`, both
 * under the published names (`2025 australia race` loads and reports `2025 Australian Grand Prix
 * Race`). When interrupted (Ctrl-C), the requests in flight are cancelled and what was loaded
 * until then is reported, marked `interrupted`.
 *
 * @since 0.1.0
 */
export const loadWithProgress = (
  typed: SessionRef,
  options: Omit<LoadOptions, "onProgress">,
  output: LoadOutput
): Effect.Effect<LoadSummary, FetchError | UnknownNameError, SessionLoader | Fetcher | HttpSession | Calendar> =>
  Effect.gen(function*() {
    const loader = yield* SessionLoader
    const fetcher = yield* Fetcher
    const http = yield* HttpSession
    // Names first: a typo fails before any progress is drawn, and so does a malformed request.
    const names = yield* resolveSession(typed)
    const ref: SessionRef = { year: typed.year, gp: names.gp, session: names.session }
    yield* fetcher.resolve({ ...ref, path: "drivers.json" })
    const connectionsBefore = yield* http.stats
    const fetcherBefore = yield* fetcher.stats
    const bytesBefore = fetcherBefore.bytes
    const startedAt = Date.now()
    const display = makeProgress(output.progress, output.label ?? ref.session)
    let latest: LoadProgress = { phase: "metadata", completed: 0, total: 0 }
    const redraw = Effect.flatMap(
      fetcher.stats,
      (stats) => Effect.sync(() => display.update(latest, stats.bytes - bytesBefore))
    )
    const ticker = yield* Effect.forkChild(Effect.repeat(redraw, Schedule.spaced(redrawEvery)))
    const loaded = yield* loader.load(ref, {
      ...options,
      onProgress: (progress) => {
        latest = progress
      }
    }).pipe(
      Effect.ensuring(
        Fiber.interrupt(ticker).pipe(Effect.andThen(redraw), Effect.andThen(Effect.sync(display.finish)))
      ),
      Effect.onInterrupt(() =>
        Effect.gen(function*() {
          const now = yield* fetcher.stats
          const partial: PartialLoad = {
            interrupted: true,
            completed: latest.completed,
            known: latest.total,
            requests: now.requests - fetcherBefore.requests,
            bytes: now.bytes - fetcherBefore.bytes,
            seconds: (Date.now() - startedAt) / 1000,
            retries: now.retries - fetcherBefore.retries,
            cacheHits: now.cacheHits - fetcherBefore.cacheHits
          }
          output.report(
            output.json === true
              ? `${JSON.stringify({ year: ref.year, gp: ref.gp, session: ref.session, ...partial })}\n`
              : `${ref.year} ${ref.gp} ${ref.session} (interrupted)\n${partialTable(partial)}`
          )
        })
      )
    )
    const connections = connectionsSince(connectionsBefore, yield* http.stats)
    output.report(
      output.json === true
        ? `${
          JSON.stringify({
            year: loaded.year,
            gp: loaded.gp,
            session: loaded.session,
            interrupted: false,
            ...loaded.summary,
            connections: connections.connectionsCreated,
            reuseRate: connections.reuseRate
          })
        }\n`
        : `${loaded.year} ${loaded.gp} ${loaded.session}\n${summaryTable(loaded.summary, connections)}`
    )
    return loaded.summary
  })
