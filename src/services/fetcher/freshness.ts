/**
 * Freshness: where a session stands on the Clock, and what that means for its files. A session
 * that started less than `live_window_days` ago is live (its stored files are revalidated after
 * `live_revalidate_after`, its not-found answers remembered for `live_missing_ttl`); one that has
 * not started is upcoming (answered, nothing remembered: its files will change); an older one is
 * archive (never revalidated; not-found answers remembered for `missing_payloads_ttl_days`).
 *
 * A file of the Stats archive follows its season instead: the documents of the season in progress
 * (the Clock's UTC year) and of later ones change after every race, so they are live by the same
 * rules; those of earlier seasons are final, archive. So does a timing file whose session the
 * schedule gives no start for (a name it does not list, a year it does not have): a race the
 * calendar missed is live for its season, and a not-found for it lasts `live_missing_ttl`, not
 * days.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type { Tif1ConfigValues } from "../../schema/Config.js"

/** Where a session stands now. */
export type Freshness = "live" | "upcoming" | "archive"

const dayMs = 24 * 60 * 60 * 1000

/**
 * What a file's freshness follows: its session's start (epoch ms), or its season (a Stats archive
 * document, or a session the schedule gives no start for).
 */
export type FreshnessAnchor = number | { readonly season: number }

/** Whether answers for a session in this state are stored at all. */
export const remembers = (freshness: Freshness): boolean => freshness !== "upcoming"

/** The freshness rules with the settings of a config. */
export interface FreshnessPolicy {
  /**
   * Run `use` with where the file anchored at `anchor` (its session's start, or its season) stands
   * now, and the Clock time.
   */
  readonly within: <A, E>(
    anchor: FreshnessAnchor,
    use: (freshness: Freshness, now: number) => Effect.Effect<A, E>
  ) => Effect.Effect<A, E>
  /** Whether a stored copy (stored or confirmed at `storedAt`) is to be revalidated before it is served. */
  readonly isDue: (freshness: Freshness, storedAt: number, now: number) => boolean
  /** Seconds a not-found is remembered (`undefined`: the cache's `missing_payloads_ttl_days`). */
  readonly missingTtl: (freshness: Freshness) => number | undefined
}

/** The policy with `config`'s live window and TTLs. */
export const makeFreshnessPolicy = (
  config: Pick<Tif1ConfigValues, "liveWindowDays" | "liveRevalidateAfter" | "liveMissingTtl">
): FreshnessPolicy => {
  const liveWindowMs = config.liveWindowDays * dayMs
  const revalidateAfterMs = config.liveRevalidateAfter * 1000
  const freshnessAt = (anchor: FreshnessAnchor, now: number): Freshness =>
    typeof anchor !== "number"
      ? anchor.season >= new Date(now).getUTCFullYear() ? "live" : "archive"
      : now < anchor
      ? "upcoming"
      : now - anchor < liveWindowMs
      ? "live"
      : "archive"
  return {
    within: (anchor, use) => Effect.flatMap(Clock.currentTimeMillis, (now) => use(freshnessAt(anchor, now), now)),
    isDue: (freshness, storedAt, now) => freshness === "live" && now - storedAt >= revalidateAfterMs,
    missingTtl: (freshness) => freshness === "live" ? config.liveMissingTtl : undefined
  }
}
