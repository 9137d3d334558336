/** The Stats archive fixtures served by the real mirror, for the archive's end-to-end tests. */
import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import * as MirrorServer from "../../src/mirror/MirrorServer.js"
import { testCertificate } from "./servers.js"

/** `../shared/fixtures/stats`: real files of `TracingInsights-Archive/Stats`. */
export const statsFixturesRoot = Path.resolve(
  Path.dirname(fileURLToPath(import.meta.url)),
  "../../../shared/fixtures/stats"
)

/** A parsed fixture file of the archive (`2025/events.json`). */
export const statsFixture = (path: string): any =>
  JSON.parse(Fs.readFileSync(Path.join(statsFixturesRoot, path), "utf8"))

/** A served copy of the archive's fixtures. */
export interface ServedArchive {
  /** The copy's folder: tests may edit files in it (the mirror sees a change within a second). */
  readonly root: string
  readonly origin: string
  /** The `stats_cdns` template of this mirror. */
  readonly template: string
  /** Requests the mirror served for one path in the archive (`2025/events.json`), or in all. */
  readonly hits: (path?: string) => number
  readonly mirror: MirrorServer.MirrorServerService
}

/**
 * A fresh copy of the fixtures (or of the folder `from`) served over `protocol` (h2 with the
 * tests' certificate), removed with the scope.
 */
export const serveArchive = (
  options: {
    readonly protocol?: "h1" | "h2"
    readonly faults?: MirrorServer.FaultMode
    readonly from?: string
  } = {}
) =>
  Effect.gen(function*() {
    const root = yield* Effect.acquireRelease(
      Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "tif1-archive-"))),
      (folder) => Effect.sync(() => Fs.rmSync(folder, { recursive: true, force: true }))
    )
    Fs.cpSync(options.from ?? statsFixturesRoot, root, { recursive: true })
    const protocol = options.protocol ?? "h1"
    // The archive's layout is CDN layout (`{year}/{file}`, `{year}/{slug}/{file}`): served as it is.
    const mirror = yield* MirrorServer.make({
      root,
      protocol,
      host: "127.0.0.1",
      ...(protocol === "h2" ? { certificate: testCertificate() } : {}),
      ...(options.faults === undefined ? {} : { faults: options.faults })
    })
    return {
      root,
      origin: mirror.origin,
      template: `${mirror.origin}/{path}`,
      hits: (path?: string) => mirror.hits(path),
      mirror
    } satisfies ServedArchive
  })

/**
 * The archive's 2026 `events.json` as it stood after August: the 22-round file of late July with
 * the round added then (`bahrain-grand-prix-in-malaysia/event_info.json`, round 16 on 4 October)
 * and every later round moved up by one, as the calendar moved them.
 */
export const events2026AfterAugust = () => {
  const july = statsFixture("2026/events.json")
  const added = statsFixture("2026/bahrain-grand-prix-in-malaysia/event_info.json")
  const races = july.MRData.RaceTable.Races.map((race: any) =>
    Number(race.round) >= Number(added.round) ? { ...race, round: String(Number(race.round) + 1) } : race
  )
  races.splice(Number(added.round) - 1, 0, added)
  return {
    ...july,
    MRData: { ...july.MRData, total: String(races.length), RaceTable: { ...july.MRData.RaceTable, Races: races } }
  }
}
