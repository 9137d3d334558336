/**
 * `Cache`: ordered tiers, each a `CacheStore` (`cache/`): a memory LRU (JSON and telemetry sized
 * separately), a SQLite file in `cache_dir`, and a Redis server shared by a fleet (`redis_url`),
 * then the network. A lookup walks them in order; a hit in a lower tier fills the tiers above it;
 * writes and negative entries (files missing on every CDN, with a TTL) go to every tier. A row
 * that fails to decode is a miss and is deleted: never a crash, never wrong data. What a lower
 * tier hands back is input (Redis is written by other processes): rows are bounded by
 * `max_response_bytes` and hold JSON types only, or they are dropped and never copied up. A 304
 * restarts only the copies holding the validators the request sent. Layers: memory + SQLite
 * (default), memory only, none (`ci_mode` or `enable_cache: false`); the first two over Redis
 * when `redis_url` is set.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import type * as Scope from "effect/Scope"
import { Tif1Config } from "../schema/Config.js"
import { forgetCodecColumns } from "../schema/payloads/knownNumeric.js"
import type { CacheScope, CacheStore, JsonObject, SessionScope, StoredEntry, Validators } from "./cache/CacheStore.js"
import * as MemoryStore from "./cache/MemoryStore.js"
import * as RedisStore from "./cache/RedisStore.js"
import * as RowCodec from "./cache/RowCodec.js"
import * as SqliteStore from "./cache/SqliteStore.js"
import { deepFreeze } from "./internal/json.js"
import * as Telemetry from "./internal/telemetry.js"

export type {
  /** @since 0.2.0 */
  CacheScope,
  /** @since 0.1.0 */
  JsonObject,
  /** @since 0.2.0 */
  SessionScope,
  /** @since 0.2.0 */
  Validators
} from "./cache/CacheStore.js"
export {
  /** @since 0.2.0 */
  scopePrefix
} from "./cache/CacheStore.js"
export {
  /** @since 0.1.0 */
  compressAboveBytes
} from "./cache/RowCodec.js"
export {
  /** @since 0.2.0 */
  describeSqliteError,
  /** @since 0.2.0 */
  SqliteConnection,
  /** @since 0.2.0 */
  SqliteError
} from "./cache/SqliteConnection.js"
export type {
  /** @since 0.2.0 */
  SqliteConnectionOptions,
  /** @since 0.2.0 */
  SqliteConnectionService
} from "./cache/SqliteConnection.js"
export {
  /** @since 0.1.0 */
  databaseFileName,
  /**
   * The SQLite store on a `SqliteConnection`, a `CacheStore` (`cache/SqliteStore.ts`),
   * kept under its old name for code that built a cache from it (it needed `@effect/sql`'s
   * `SqlClient` and failed with its `SqlError` before 0.2).
   *
   * @since 0.1.0
   */
  makeSqliteStore as makeSqliteTier
} from "./cache/SqliteStore.js"

/**
 * What a lookup found.
 *
 * @since 0.1.0
 */
export type CacheLookup =
  | {
    readonly _tag: "Hit"
    readonly value: JsonObject
    readonly tier: "memory" | "sqlite" | "redis"
    /** Clock time (ms) the value was stored or last confirmed unchanged by a CDN. */
    readonly storedAt: number
    /** What the CDN sent to revalidate it with (none for rows of earlier versions). */
    readonly validators: Validators
  }
  | { readonly _tag: "Missing" }
  | { readonly _tag: "Miss" }

/**
 * What `lead` decided for a key no tier has: fetch it (and run `release` once the answer is
 * stored), or use what another process of the fleet fetched meanwhile.
 *
 * @since 0.2.0
 */
export type FleetLead =
  | { readonly _tag: "Lead"; readonly release: Effect.Effect<void> }
  | Extract<CacheLookup, { _tag: "Hit" | "Missing" }>

/**
 * Hits and misses per tier, entries and bytes.
 *
 * @since 0.1.0
 */
export interface CacheStats {
  readonly memory: { readonly hits: number; readonly misses: number; readonly entries: number }
  readonly sqlite: {
    readonly enabled: boolean
    readonly hits: number
    readonly misses: number
    readonly entries: number
    readonly bytes: number
    /** Clock time (ms) of the oldest and newest stored row. */
    readonly oldestStoredAt: number | undefined
    readonly newestStoredAt: number | undefined
    readonly corruptRowsDropped: number
  }
  /** The shared tier (`redis_url`); its entries are not counted (that takes a scan of the server). */
  readonly redis: RedisStore.RedisStats & {
    readonly enabled: boolean
    readonly hits: number
    readonly misses: number
  }
  readonly negative: { readonly hits: number; readonly entries: number }
}

/**
 * The cache.
 *
 * @since 0.1.0
 */
export interface CacheService {
  /** Look a key up: memory, SQLite, Redis (a hit fills the tiers above), then negative entries. */
  readonly get: (key: string) => Effect.Effect<CacheLookup>
  /**
   * Store a delivered value (frozen in memory, encoded once for SQLite and Redis) with its
   * validators; clears a negative entry. Its span (`Cache.set`) names the tiers written
   * (`tif1.cache.tiers`): a tier that is down, or a value too large for it, is not among them.
   */
  readonly set: (key: string, value: JsonObject, validators?: Validators) => Effect.Effect<void>
  /**
   * A CDN answered 304 to a request that sent `validators`: the age of every stored copy holding
   * exactly those validators restarts now, and no other copy's (another process may have stored
   * a different copy in Redis meanwhile, from a mirror that lags). Without `validators`, those of
   * the copy in this process's memory tier are taken (what `get` delivered here); with none
   * there, nothing restarts and the file is simply revalidated again next time.
   */
  readonly touch: (key: string, validators?: Validators) => Effect.Effect<void>
  /**
   * Remember that a file is missing on every CDN, for `ttlSeconds` (default
   * `missing_payloads_ttl_days`; live sessions remember it for `live_missing_ttl`).
   */
  readonly setMissing: (key: string, ttlSeconds?: number) => Effect.Effect<void>
  /**
   * Fleet-wide single flight, for a key `get` missed: with a Redis tier, either this process
   * fetches it (holding a lock the others wait on: run `release` once the answer is stored or has
   * failed) or another process did and its value (or negative entry) is returned. Without one,
   * always `Lead`. Take it as the acquire of `Effect.acquireUseRelease` with `release` as the
   * release: taken uninterruptibly, a lock always has its release registered, whatever
   * interrupts the caller (its waits for another process stay interruptible).
   */
  readonly lead: (key: string) => Effect.Effect<FleetLead>
  /** Clear a scope: a kind of file, or a year, event or session. */
  readonly invalidate: (scope: CacheScope | SessionScope) => Effect.Effect<void>
  /** Counters and sizes. */
  readonly stats: Effect.Effect<CacheStats>
}

/**
 * The `Cache` tag.
 *
 * @since 0.1.0
 */
export class Cache extends Context.Service<Cache, CacheService>()("tif1-effect/Cache") {}

const noRedisStats: CacheStats["redis"] = {
  enabled: false,
  hits: 0,
  misses: 0,
  state: "up",
  errors: 0,
  skipped: 0,
  tooLarge: 0,
  corruptValuesDropped: 0,
  leads: 0,
  waitedHits: 0
}

const alwaysLead: FleetLead = { _tag: "Lead", release: Effect.void }

/** Attributes on the current span, only when a tracer is installed (nothing to build otherwise). */
const annotateWhenTracing = (attributes: Record<string, unknown>): Effect.Effect<void> =>
  Effect.withFiber((fiber) => Telemetry.isTracing(fiber) ? Effect.annotateCurrentSpan(attributes) : Effect.void)

/**
 * Build the cache from its tiers: memory, then `sqlite` and `redis` when given.
 *
 * @since 0.1.0
 */
export const make = (options: {
  readonly memoryMaxItems: number
  readonly memoryTelemetryMaxItems: number
  readonly missingTtlDays: number
  readonly sqlite?: SqliteStore.SqliteStore | undefined
  readonly redis?: RedisStore.RedisStore | undefined
}): Effect.Effect<CacheService> =>
  Effect.sync(() => {
    const memory = MemoryStore.make({
      maxItems: options.memoryMaxItems,
      maxTelemetryItems: options.memoryTelemetryMaxItems
    })
    const { sqlite, redis } = options
    /** Every tier in lookup order, and the ones below memory. */
    const lower: ReadonlyArray<CacheStore> = [sqlite, redis].filter((store) => store !== undefined)
    const tiers: ReadonlyArray<CacheStore> = [memory, ...lower]
    const counters = {
      memory: { hits: 0, misses: 0 },
      sqlite: { hits: 0, misses: 0 },
      redis: { hits: 0, misses: 0 },
      negativeHits: 0
    }
    const ttlMs = options.missingTtlDays * 24 * 60 * 60 * 1000

    /** Lookups by tier and result. */
    const counted = Telemetry.taggedBy(Telemetry.cacheLookups, "tier", "result")
    const lookupsMemoryHit = counted("memory", "hit")
    const get = (key: string): Effect.Effect<CacheLookup> =>
      Effect.withFiber((fiber) => {
        if (!Telemetry.isTracing(fiber)) return lookup(key, fiber)
        return Effect.withSpan(
          Effect.tap(lookup(key, fiber), (found) =>
            Effect.annotateCurrentSpan({
              "tif1.cache.result": found._tag === "Hit" ? "hit" : found._tag === "Missing" ? "not-found" : "miss",
              ...(found._tag === "Hit" ? { "tif1.cache.tier": found.tier } : {})
            })),
          "Cache.get",
          { attributes: { "tif1.file": key } }
        )
      })

    /** A value found in a lower tier, frozen, written to the tiers above it, as a hit. */
    const promote = (key: string, found: CacheStore, entry: StoredEntry) => {
      const promoted: StoredEntry = { ...entry, value: deepFreeze(entry.value) }
      const above = tiers.slice(0, tiers.indexOf(found))
      const row = entry.row === undefined ? RowCodec.encodeRow(key, promoted.value) : Effect.succeed(entry.row)
      return Effect.as(
        Effect.forEach(above, (store) => store.set(key, promoted, row), { discard: true }),
        {
          _tag: "Hit",
          tier: found.tier,
          value: promoted.value,
          storedAt: entry.storedAt,
          validators: entry.validators
        } as const
      )
    }

    /** Metrics are updated synchronously, in the looking fiber's context: no effect per update on the hot path. */
    const lookup = (key: string, fiber: Fiber.Fiber<unknown, unknown>): Effect.Effect<CacheLookup> => {
      const hit = memory.peek(key)
      if (hit !== undefined) {
        counters.memory.hits++
        lookupsMemoryHit.updateUnsafe(1, fiber.context)
        forgetCodecColumns(hit.value)
        return Effect.succeed(hit)
      }
      counters.memory.misses++
      return Effect.gen(function*() {
        for (const store of lower) {
          const tier = store.tier as "sqlite" | "redis"
          const entry = yield* store.get(key)
          if (entry !== undefined) {
            counters[tier].hits++
            counted(tier, "hit").updateUnsafe(1, fiber.context)
            return yield* promote(key, store, entry)
          }
          counters[tier].misses++
        }
        if (yield* isMissing(key)) {
          counters.negativeHits++
          counted("negative", "hit").updateUnsafe(1, fiber.context)
          return { _tag: "Missing" } as const
        }
        counted("none", "miss").updateUnsafe(1, fiber.context)
        return { _tag: "Miss" } as const
      })
    }

    /** Whether a tier remembers the key as missing (asked in order, until one does). */
    const isMissing = (key: string) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        for (const store of tiers) if (yield* store.getMissing(key, now)) return true
        return false
      })

    const everyTier = (use: (store: CacheStore) => Effect.Effect<void>) => Effect.forEach(tiers, use, { discard: true })

    const service: CacheService = {
      get,
      set: (key, value, validators = {}) =>
        Telemetry.traced(
          "Cache.set",
          () => ({ "tif1.file": key, "tif1.cache.persistent": lower.length > 0 }),
          Effect.gen(function*() {
            const storedAt = yield* Clock.currentTimeMillis
            const entry: StoredEntry = { value: deepFreeze(value), storedAt, validators }
            // Encoded once, on first use, for SQLite and Redis both.
            const row = yield* Effect.cached(RowCodec.encodeRow(key, value))
            const written: Array<CacheStore["tier"]> = []
            for (const store of tiers) {
              if (yield* store.set(key, entry, row)) written.push(store.tier)
              yield* store.clearMissing(key)
            }
            yield* annotateWhenTracing({ "tif1.cache.tiers": written })
          })
        ),
      touch: (key, validators) =>
        Effect.flatMap(Clock.currentTimeMillis, (storedAt) => {
          const sent = validators ?? memory.peek(key)?.validators
          return sent === undefined ? Effect.void : everyTier((store) => store.touch(key, storedAt, sent))
        }),
      setMissing: (key, ttlSeconds) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => {
          const expiresAt = now + (ttlSeconds === undefined ? ttlMs : ttlSeconds * 1000)
          return everyTier((store) => store.setMissing(key, now, expiresAt))
        }),
      lead: (key) =>
        redis === undefined ?
          Effect.succeed(alwaysLead) :
          Effect.flatMap(redis.lead(key), (lead): Effect.Effect<FleetLead> => {
            if (lead._tag !== "Found") return Effect.succeed(lead)
            counters.redis.hits++
            return Effect.andThen(Metric.update(counted("redis", "hit"), 1), promote(key, redis, lead.entry))
          }),
      invalidate: (scope) => everyTier((store) => store.invalidate(scope)),
      stats: Effect.gen(function*() {
        const memorySizes = yield* memory.sizes
        const sqliteSizes = sqlite === undefined ? undefined : yield* sqlite.sizes
        return {
          memory: { ...counters.memory, entries: memorySizes.entries },
          sqlite: {
            enabled: sqlite !== undefined,
            ...counters.sqlite,
            entries: sqliteSizes?.entries ?? 0,
            bytes: sqliteSizes?.bytes ?? 0,
            oldestStoredAt: sqliteSizes?.oldestStoredAt,
            newestStoredAt: sqliteSizes?.newestStoredAt,
            corruptRowsDropped: sqlite?.corruptRowsDropped() ?? 0
          },
          redis: redis === undefined ? noRedisStats : { enabled: true, ...counters.redis, ...redis.stats() },
          negative: { hits: counters.negativeHits, entries: (sqliteSizes ?? memorySizes).missing }
        }
      })
    }
    return service
  })

const memoryOptions = (config: Tif1Config["Service"]) => ({
  memoryMaxItems: config.memoryCacheMaxItems,
  memoryTelemetryMaxItems: config.memoryTelemetryCacheMaxItems,
  missingTtlDays: config.missingPayloadsTtlDays
})

/** The shared tier the config names, if any (connected within the layer's scope). */
const openRedis = (
  config: Tif1Config["Service"]
): Effect.Effect<RedisStore.RedisStore | undefined, never, Scope.Scope> =>
  config.redisUrl === undefined ? Effect.succeed(undefined) : RedisStore.open({
    url: config.redisUrl,
    keyPrefix: config.redisKeyPrefix,
    maxValueBytes: config.redisMaxValueBytes,
    timeout: config.redisTimeout,
    retryAfter: config.redisRetryAfter,
    lockTtl: config.redisLockTtl,
    maxResponseBytes: config.maxResponseBytes
  })

/**
 * No caching at all: every lookup misses, writes are dropped.
 *
 * @since 0.1.0
 */
export const layerNone: Layer.Layer<Cache> = Layer.succeed(Cache, {
  get: () => Effect.succeed({ _tag: "Miss" }),
  set: () => Effect.void,
  touch: () => Effect.void,
  setMissing: () => Effect.void,
  lead: () => Effect.succeed(alwaysLead),
  invalidate: () => Effect.void,
  stats: Effect.succeed({
    memory: { hits: 0, misses: 0, entries: 0 },
    sqlite: {
      enabled: false,
      hits: 0,
      misses: 0,
      entries: 0,
      bytes: 0,
      oldestStoredAt: undefined,
      newestStoredAt: undefined,
      corruptRowsDropped: 0
    },
    redis: noRedisStats,
    negative: { hits: 0, entries: 0 }
  })
})

/**
 * Memory tier only (negative entries in memory too), over Redis when `redis_url` is set.
 *
 * @since 0.1.0
 */
export const layerMemory: Layer.Layer<Cache, never, Tif1Config> = Layer.effect(
  Cache,
  Effect.gen(function*() {
    const config = yield* Tif1Config
    return yield* make({ ...memoryOptions(config), redis: yield* openRedis(config) })
  })
)

/**
 * Memory over SQLite in `cache_dir` (the database closes with the layer's scope), over Redis when
 * `redis_url` is set (the connection closes with it too).
 *
 * @since 0.1.0
 */
export const layerSqlite: Layer.Layer<Cache, never, Tif1Config> = Layer.effect(
  Cache,
  Effect.gen(function*() {
    const config = yield* Tif1Config
    const sqlite = yield* SqliteStore.open(config.cacheDir, { maxResponseBytes: config.maxResponseBytes })
    return yield* make({ ...memoryOptions(config), sqlite, redis: yield* openRedis(config) })
  })
)

/**
 * The cache the config asks for: none under `ci_mode` or `enable_cache: false`, else memory +
 * SQLite (+ Redis with `redis_url`).
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<Cache, never, Tif1Config> = Layer.unwrap(
  Effect.map(Tif1Config, (config) => (config.ciMode || !config.enableCache ? layerNone : layerSqlite))
)
