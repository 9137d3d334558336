/**
 * The fetcher's counters (`Fetcher.stats`): one mutable record per layer, bumped in place where
 * things happen (a request on the wire, a cache hit) and copied out by `stats`.
 *
 * @internal
 */

/** What `Fetcher.stats` reports, as the cells the fetcher's parts count into. */
export interface FetcherCounters {
  /** HTTP requests sent to CDNs. */
  requests: number
  /** Body bytes received, decoded. */
  bytes: number
  /** Body bytes on the wire. */
  wireBytes: number
  /** Retry rounds run (after first rounds). */
  retries: number
  /** Files answered from the cache. */
  cacheHits: number
  /** Files answered by a negative-cache entry. */
  negativeHits: number
  /** `json` calls that ended in an error other than not-found. */
  failures: number
}

/** Every counter at zero. */
export const makeCounters = (): FetcherCounters => ({
  requests: 0,
  bytes: 0,
  wireBytes: 0,
  retries: 0,
  cacheHits: 0,
  negativeHits: 0,
  failures: 0
})
