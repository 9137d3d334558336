/**
 * `tif1 demo`: the bundled sample (real CDN files in `examples/data/cdn`) served by the mirror on
 * 127.0.0.1 over HTTP/2 with a fresh self-signed certificate, loaded through the whole stack with
 * a cache in a temporary folder, then loaded again by a new stack (as a second run of a program
 * would) from that cache. No internet needed.
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
import type { LoadSummary, SessionRef } from "../services/SessionLoader.js"
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
 * What the demo measured.
 *
 * @since 0.1.0
 */
export interface DemoResult {
  readonly cold: ReadonlyArray<LoadSummary>
  readonly warm: ReadonlyArray<LoadSummary>
  /** Requests the mirror served during the cold and the warm run. */
  readonly mirrorRequests: { readonly cold: number; readonly warm: number }
}

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
    const cacheDir = yield* temporaryFolder
    options.report(`mirror: serving ${sampleRoot} at ${mirror.origin} (HTTP/2, self-signed)\n`)
    options.report(`cache:  ${cacheDir}\n\n`)
    const stack = layerConfig(
      {
        cdns: [MirrorServer.templateFor(mirror.origin)],
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
      Effect.forEach(sampleSessions, (ref) =>
        loadWithProgress(ref, { telemetry: ref.telemetry }, {
          label: `${name} ${ref.session}`,
          progress: options.progress,
          report: options.report
        })).pipe(Effect.provide(stack))

    options.report("cold run (empty cache, every file over the network):\n")
    const cold = yield* run("cold")
    const coldRequests = mirror.hits()
    options.report("\nwarm run (new stack, same cache file):\n")
    const warm = yield* run("warm")
    const warmRequests = mirror.hits() - coldRequests

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
    return { cold, warm, mirrorRequests: { cold: coldRequests, warm: warmRequests } } satisfies DemoResult
  }))
