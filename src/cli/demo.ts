/**
 * `tif1 demo`: the bundled sample (real CDN files in `examples/data/cdn`) served by the mirror on
 * 127.0.0.1 over HTTP/2 with a fresh self-signed certificate, loaded through the whole stack with
 * a cache in a temporary folder, then loaded again by a new stack (as a second run of a program
 * would) from that cache. The Stats archive's sample (`examples/data/stats`) is served by a second
 * mirror with the same certificate, the archive's source (`stats_cdns`) of the same stack: each run
 * also asks it for two podiums and both championships after the last round. No internet needed.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { layerConfig } from "../layers/Tif1.js"
import * as MirrorServer from "../mirror/MirrorServer.js"
import { Archive } from "../services/Archive.js"
import type { LoadSummary, SessionRef } from "../services/SessionLoader.js"
import { leadersLine, podiumLine } from "./archive.js"
import { loadWithProgress } from "./load.js"
import type { Output } from "./render.js"

/**
 * The sample folder, `examples/data/cdn` of the package (the same from `src/cli` and `dist/cli`).
 *
 * @since 0.1.0
 */
export const sampleRoot = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "../../examples/data/cdn")

/**
 * The sessions in the sample. The Race has every driver's lap table and telemetry for VER and
 * NOR laps 1-10, so most telemetry requests are honest 404s (remembered by the negative cache).
 *
 * @since 0.1.0
 */
export const sampleSessions: ReadonlyArray<SessionRef & { readonly telemetry: boolean }> = [
  { year: 2025, gp: "Australian Grand Prix", session: "Race", telemetry: true },
  { year: 2025, gp: "Abu Dhabi Grand Prix", session: "Practice 1", telemetry: false }
]

/**
 * The Stats archive's sample, `examples/data/stats` of the package: the 2025 `events.json`, the
 * Australian and Abu Dhabi folders, the season's standings files.
 *
 * @since 0.2.0
 */
export const statsSampleRoot = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "../../examples/data/stats")

/**
 * What the demo asks the archive: the races whose podiums it shows, and the event after which it
 * shows both championships (the season's last).
 *
 * @since 0.2.0
 */
const sampleArchive = {
  year: 2025,
  races: ["Australian Grand Prix", "Abu Dhabi Grand Prix"],
  standingsAfter: "Abu Dhabi Grand Prix"
} as const

/**
 * What the demo measured.
 *
 * @since 0.1.0
 */
export interface DemoResult {
  readonly cold: ReadonlyArray<LoadSummary>
  readonly warm: ReadonlyArray<LoadSummary>
  /** Requests the mirror served during the cold and the warm run. */
  readonly mirrorRequests: { readonly cold: number; readonly warm: number }
  /** The archive's lines of the cold and the warm run (the same), and the requests its mirror served. */
  readonly archive: {
    readonly cold: ReadonlyArray<string>
    readonly warm: ReadonlyArray<string>
    readonly requests: { readonly cold: number; readonly warm: number }
  }
}

/**
 * The demo's lines of the archive: `2025 Australian Grand Prix: 1 NOR McLaren 1:42:06.304, ...`
 * for each race, then `2025 drivers after round 24: 1 NOR 423, ...` and the same of the teams.
 */
const archiveLines = Effect.gen(function*() {
  const archive = yield* Archive
  const { races, standingsAfter, year } = sampleArchive
  const podiums = yield* Effect.forEach(races, (gp) =>
    Effect.gen(function*() {
      const rows = yield* archive.results({ year, gp })
      const event = yield* archive.event({ year, gp })
      return `${year} ${event.name}: ${podiumLine(rows, 3)}`
    }))
  const drivers = yield* archive.standings({ year, gp: standingsAfter })
  const teams = yield* archive.standings({ year, gp: standingsAfter, of: "teams" })
  return [
    ...podiums,
    `${year} drivers after round ${drivers[0]?.round}: ${leadersLine(drivers, 3)}`,
    `${year} teams after round ${teams[0]?.round}: ${leadersLine(teams, 3)}`
  ]
})

const temporaryFolder = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "tif1-demo-"))),
  (folder) => Effect.sync(() => Fs.rmSync(folder, { recursive: true, force: true }))
)

/**
 * Run the demo, writing progress to `progress` and results to `report`.
 *
 * @since 0.1.0
 */
export const runDemo = (options: { readonly progress: Output; readonly report: (text: string) => void }) =>
  Effect.scoped(Effect.gen(function*() {
    const mirror = yield* MirrorServer.make({ root: sampleRoot, protocol: "h2", host: "127.0.0.1", port: 0 })
    const archiveMirror = yield* MirrorServer.make({
      root: statsSampleRoot,
      protocol: "h2",
      host: "127.0.0.1",
      port: 0,
      ...(mirror.certificate === undefined ? {} : { certificate: mirror.certificate })
    })
    const cacheDir = yield* temporaryFolder
    options.report(`mirror:  serving ${sampleRoot} at ${mirror.origin} (HTTP/2, self-signed)\n`)
    options.report(`archive: serving ${statsSampleRoot} at ${archiveMirror.origin} (same certificate)\n`)
    options.report(`cache:   ${cacheDir}\n\n`)
    const stack = layerConfig(
      {
        cdns: [MirrorServer.templateFor(mirror.origin)],
        statsCdns: [`${archiveMirror.origin}/{path}`],
        cacheDir,
        enableCache: true,
        ciMode: false,
        offlineMode: false,
        connectionStatsLogInterval: 0
      },
      { http: { ca: mirror.certificate?.cert ?? "" } }
    )
    // Each run builds its own stack, as two runs of a program would: the warm run starts with
    // an empty memory tier and reads the SQLite file the cold run wrote.
    const run = (name: string) =>
      Effect.all({
        loads: Effect.forEach(sampleSessions, (ref) =>
          loadWithProgress(ref, { telemetry: ref.telemetry }, {
            label: `${name} ${ref.session}`,
            progress: options.progress,
            report: options.report
          })),
        archive: archiveLines
      }).pipe(Effect.provide(stack))

    options.report("cold run (empty cache, every file over the network):\n")
    const { archive: archiveCold, loads: cold } = yield* run("cold")
    const coldRequests = mirror.hits()
    const archiveColdRequests = archiveMirror.hits()
    options.report("\nwarm run (new stack, same cache file):\n")
    const { archive: archiveWarm, loads: warm } = yield* run("warm")
    const warmRequests = mirror.hits() - coldRequests
    const archiveWarmRequests = archiveMirror.hits() - archiveColdRequests

    const seconds = (summaries: ReadonlyArray<LoadSummary>) => summaries.reduce((sum, s) => sum + s.seconds, 0)
    const coldSeconds = seconds(cold)
    const warmSeconds = seconds(warm)
    options.report(
      `\ncold: ${coldSeconds.toFixed(2)} s, ${coldRequests} requests to the mirror\n` +
        `warm: ${warmSeconds.toFixed(2)} s, ${warmRequests} requests to the mirror` +
        (warmSeconds > 0 ? ` (${(coldSeconds / warmSeconds).toFixed(1)}x faster)\n` : "\n") +
        "(the sample has telemetry for VER and NOR laps 1-10 only: the other laps are 404s, " +
        "remembered by the negative cache)\n"
    )
    options.report(
      `\narchive (Stats sample, same stack):\n${archiveCold.map((line) => `  ${line}\n`).join("")}` +
        (archiveWarm.join("\n") === archiveCold.join("\n")
          ? ""
          : `  warm run answered:\n${archiveWarm.map((line) => `  ${line}\n`).join("")}`) +
        `  archive: cold ${archiveColdRequests} requests to the mirror, warm ${archiveWarmRequests}\n`
    )
    return {
      cold,
      warm,
      mirrorRequests: { cold: coldRequests, warm: warmRequests },
      archive: {
        cold: archiveCold,
        warm: archiveWarm,
        requests: { cold: archiveColdRequests, warm: archiveWarmRequests }
      }
    } satisfies DemoResult
  }))
