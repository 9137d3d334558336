/**
 * Sources: where a file comes from. The timing data (`cdns`) is one source; the Stats archive
 * (`stats_cdns`) is another, with CDNs of its own (their own health: a jsDelivr outage of one
 * repository says nothing about the other's fallback) and a circuit breaker of its own. Everything
 * else is one for both: the HTTP session, the retry rules, the cache, the shared flights, the
 * counters. A source says how one of its files becomes a URL on one of its CDNs.
 *
 * A file of the Stats archive is named by its path in the archive: `{year}/{file}` (the season's
 * `events.json`, `driverPoints.json`, `teamPoints.json`) or `{year}/{slug}/{file}` (one race).
 * Inside the fetcher it travels as a `DataRequest`-shaped value, so that every part of the fetch
 * (evidence, the negative cache, `DataNotFoundError`) treats it as it treats a timing file:
 * `{ year, gp: slug ("" for a season file), session: "stats", path: file }`. Its cache key is
 * `stats/{path in the archive}`, which no timing key (`{year}/...`) can equal.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type { DataRequest } from "../../schema/DataRequest.js"
import { InvalidDataError } from "../../schema/Errors.js"
import type { CdnManagerService, CdnSource } from "../CdnManager.js"
import type { CircuitBreakerService } from "../CircuitBreaker.js"
import type { ValidateFile } from "./fetchAndStore.js"

/**
 * A source of files: its CDNs, its breaker, the URL of one of its files on one of its CDNs, and
 * the check a delivered file passes before it is stored and handed out.
 */
export interface FileSource {
  readonly cdns: CdnManagerService
  readonly breaker: CircuitBreakerService
  readonly urlFor: (cdn: CdnSource, request: DataRequest) => string
  readonly validate: ValidateFile
}

/** The `session` of a Stats archive file inside the fetcher (and in its `DataNotFoundError`). */
export const statsSession = "stats"

/** A Stats archive file as the fetcher handles it. */
export interface StatsFile {
  readonly request: DataRequest
  /** `stats/{path}`. */
  readonly key: string
  readonly season: number
}

/** The file's path in the archive: `{year}/{file}` or `{year}/{slug}/{file}`. */
export const archivePath = (request: DataRequest): string =>
  request.gp === "" ? `${request.year}/${request.path}` : `${request.year}/${request.gp}/${request.path}`

/** The URL of a Stats archive file on one of the archive's CDNs (templates with `{path}`, encoded per segment). */
export const statsUrlFor = (cdns: CdnManagerService) => (cdn: CdnSource, request: DataRequest): string =>
  cdns.urlFor(cdn, { year: request.year, gp: "", session: "", path: archivePath(request) })

const maxPathLength = 300
/** A lone surrogate is not Unicode, so not encodable in a URL. */
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/**
 * Why `slug` is no event folder of the archive, or `undefined`. Slugs are Jolpica race names
 * lower-cased with hyphens, accents kept (`são-paulo-grand-prix`): any character but separators,
 * controls and `%` (which would read as an escape once in a URL).
 */
const slugProblem = (slug: string): string | undefined => {
  if (slug === "." || slug === "..") return `the folder ${JSON.stringify(slug)} is not allowed`
  if (/[\u0000-\u001f\u007f/\\%?#]/.test(slug)) {
    return `the folder ${JSON.stringify(slug)} has a character a slug never has`
  }
  if (loneSurrogate.test(slug)) return "the folder is not valid Unicode (it holds a lone surrogate)"
  return undefined
}

/**
 * Read a path in the Stats archive, or fail with `InvalidDataError` (field `path`) before any I/O.
 */
export const readStatsPath = (path: string): Effect.Effect<StatsFile, InvalidDataError> => {
  const refuse = (reason: string) =>
    Effect.fail(
      new InvalidDataError({ path: "path", reason: `bad Stats archive path ${JSON.stringify(path)}: ${reason}` })
    )
  if (typeof path !== "string") return refuse("expected a string such as \"2025/events.json\"")
  if (path.length > maxPathLength) return refuse(`must be at most ${maxPathLength} characters`)
  const segments = path.split("/")
  if (segments.length < 2 || segments.length > 3) {
    return refuse("expected {year}/{file} or {year}/{slug}/{file}, such as 2025/australian-grand-prix/results.json")
  }
  const [yearText, ...rest] = segments as [string, ...Array<string>]
  if (!/^\d{4}$/.test(yearText)) return refuse(`${JSON.stringify(yearText)} is not a season (four digits)`)
  const file = rest.at(-1)!
  if (!/^[A-Za-z0-9_.-]+\.json$/.test(file) || file.startsWith(".")) {
    return refuse(`${JSON.stringify(file)} is not a file of the archive (A-Z a-z 0-9 _ . -, ending in .json)`)
  }
  const slug = rest.length === 2 ? rest[0]! : ""
  if (rest.length === 2) {
    if (slug === "") return refuse("has an empty segment")
    const problem = slugProblem(slug)
    if (problem !== undefined) return refuse(problem)
  }
  const season = Number(yearText)
  const normalized = slug.normalize("NFC")
  return Effect.succeed({
    request: { year: season, gp: normalized, session: statsSession, path: file },
    key: `stats/${season}/${normalized === "" ? "" : `${normalized}/`}${file}`,
    season
  })
}
