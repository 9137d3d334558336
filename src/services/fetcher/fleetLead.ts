/**
 * The fleet lead: with a shared cache tier (Redis), a file no tier has is fetched by one process
 * of the fleet while the others wait for what it stores (`Cache.lead`). This process either
 * fetches it holding the fleet lock, or takes the value or not-found another process stored.
 *
 * The lock is released however the fetch ends, interruption included (Ctrl-C, an `AbortSignal`,
 * `close()`): taking it and registering its release are one step that an interruption cannot
 * split (`Effect.acquireUseRelease`: `Cache.lead` runs uninterruptibly; its waits for another
 * process are interruptible), so no lock is left for other processes to wait out.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type { DataRequest } from "../../schema/DataRequest.js"
import { DataNotFoundError, type FetchError } from "../../schema/Errors.js"
import type { CacheService, FleetLead, JsonObject } from "../Cache.js"
import type { FetcherCounters } from "./counters.js"

/** Run `fetched` (the fetch of `request`, cache key `key`) as the fleet's lead, or take what another process stored. */
export type WithFleetLead = (
  request: DataRequest,
  key: string,
  fetched: Effect.Effect<JsonObject, FetchError>
) => Effect.Effect<JsonObject, FetchError>

const release = (lead: FleetLead): Effect.Effect<void> => lead._tag === "Lead" ? lead.release : Effect.void

/** The lead over `cache`, counting the answers another process stored as hits. */
export const makeFleetLead = (
  { cache, counters }: { readonly cache: CacheService; readonly counters: FetcherCounters }
): WithFleetLead =>
(request, key, fetched) =>
  Effect.acquireUseRelease(
    cache.lead(key),
    (lead): Effect.Effect<JsonObject, FetchError> => {
      if (lead._tag === "Lead") return fetched
      if (lead._tag === "Hit") {
        counters.cacheHits++
        return Effect.succeed(lead.value)
      }
      counters.negativeHits++
      return Effect.fail(new DataNotFoundError(request))
    },
    release
  )
