/**
 * Cache first: a resolved request is answered by a stored copy, a remembered not-found, or the
 * network, as the caller's options and the session's freshness decide. A stored copy of a live
 * session that is due is revalidated (and served as it is when that fails); a file no tier has is
 * fetched under the fleet lead when the cache is shared; offline mode never goes to the network.
 *
 * This is the hot path of a warm load (a memory hit is a few microseconds): plain combinators,
 * and one Clock read.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type { Tif1ConfigValues } from "../../schema/Config.js"
import type { DataRequest } from "../../schema/DataRequest.js"
import { DataNotFoundError, type FetchError, NetworkError } from "../../schema/Errors.js"
import type { CacheService, JsonObject } from "../Cache.js"
import type { FetcherCounters } from "./counters.js"
import type { FetchAndStore, Revalidating, StoreOptions } from "./fetchAndStore.js"
import type { WithFleetLead } from "./fleetLead.js"
import type { Freshness, FreshnessAnchor, FreshnessPolicy } from "./freshness.js"

/** The options of `Fetcher.json` (the public `FetchOptions`, as this module reads them). */
export interface CacheFirstOptions extends StoreOptions {
  /** Read the cache (default true). */
  readonly useCache?: boolean | undefined
  /** Ask the CDN with the stored validators, or ignore the cache (unset: the freshness policy). */
  readonly refresh?: "revalidate" | "reload" | undefined
}

/**
 * Answer a resolved request: `key` is its cache key, `anchor` what its freshness follows (its
 * session's start if the calendar knows it; else, and for a Stats archive document, its season).
 */
export type CacheFirst = (
  request: DataRequest,
  key: string,
  anchor: FreshnessAnchor,
  options: CacheFirstOptions
) => Effect.Effect<JsonObject, FetchError>

/** Cache first over `cache`, fetching with `fetchAndStore` (under `withFleetLead` for files no tier has). */
export const makeCacheFirst = (
  { cache, config, counters, fetchAndStore, freshnessPolicy, withFleetLead }: {
    readonly config: Pick<Tif1ConfigValues, "offlineMode">
    readonly cache: CacheService
    readonly counters: FetcherCounters
    readonly freshnessPolicy: FreshnessPolicy
    readonly fetchAndStore: FetchAndStore
    readonly withFleetLead: WithFleetLead
  }
): CacheFirst => {
  /** From the network (revalidating `revalidating` when given), counting failures other than not-found. */
  const fetch = (
    request: DataRequest,
    key: string,
    options: CacheFirstOptions,
    freshness: Freshness,
    revalidating?: Revalidating
  ): Effect.Effect<JsonObject, FetchError> => {
    if (config.offlineMode) {
      return revalidating !== undefined
        ? Effect.succeed(revalidating.value)
        : Effect.fail(new NetworkError({ url: key, kind: "offline", reason: "offline mode: not in the cache" }))
    }
    const fetched = Effect.tapError(
      fetchAndStore(request, key, options, freshness, revalidating),
      (error) => error._tag === "DataNotFoundError" ? Effect.void : Effect.sync(() => counters.failures++)
    )
    if (revalidating === undefined) {
      // A file no tier has: fleet-wide single flight when the cache is shared (Redis), unless
      // the caller wants the network's own answer (any `refresh`) or nothing stored.
      const sharesTheFetch = options.useCache !== false && options.refresh === undefined &&
        options.writeCache !== false && freshness !== "upcoming"
      return sharesTheFetch ? withFleetLead(request, key, fetched) : fetched
    }
    // A stored copy that cannot be revalidated now is still the best answer there is.
    return Effect.catch(fetched, (error) =>
      Effect.as(
        Effect.logDebug(`revalidating ${key} failed, serving the stored copy: ${error.message}`),
        revalidating.value
      ))
  }

  return (request, key, anchor, options) =>
    Effect.suspend(() => {
      if (options.useCache === false || options.refresh === "reload") {
        return freshnessPolicy.within(anchor, (freshness) => fetch(request, key, options, freshness))
      }
      return Effect.flatMap(cache.get(key), (found): Effect.Effect<JsonObject, FetchError> => {
        if (found._tag === "Hit") {
          if (options.refresh === "revalidate") {
            return freshnessPolicy.within(anchor, (freshness) => fetch(request, key, options, freshness, found))
          }
          return freshnessPolicy.within(anchor, (freshness, now) => {
            if (freshnessPolicy.isDue(freshness, found.storedAt, now)) {
              return fetch(request, key, options, freshness, found)
            }
            counters.cacheHits++
            return Effect.succeed(found.value)
          })
        }
        if (found._tag === "Missing" && options.refresh !== "revalidate") {
          counters.negativeHits++
          return Effect.fail(new DataNotFoundError(request))
        }
        return freshnessPolicy.within(anchor, (freshness) => fetch(request, key, options, freshness))
      })
    })
}
