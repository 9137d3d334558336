/**
 * `Cache`: a memory LRU tier (JSON and telemetry sized separately) over a SQLite tier (one WAL
 * database file in `cache_dir`, values V8-serialized, compressed above a few KB, checksummed), plus a negative
 * cache for files missing on every CDN, with a TTL. A row that fails to decompress, verify or
 * parse is a miss and is deleted: never a crash, never wrong data. Layers: memory + SQLite
 * (default), memory only, none (`ci_mode` or `enable_cache: false`).
 *
 * @since 0.1.0
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as V8 from "node:v8"
import * as Zlib from "node:zlib"
import { Tif1Config } from "../schema/Config.js"
import { isTelemetryPath } from "../schema/DataRequest.js"
import { deepFreeze, parseJsonBytes } from "./internal/json.js"
import * as Telemetry from "./internal/telemetry.js"

/**
 * A JSON object as delivered: frozen (numeric columns excepted, see `deepFreeze`), so no caller can change what the next one gets.
 *
 * @since 0.1.0
 */
export type JsonObject = { readonly [key: string]: unknown }

/**
 * What a lookup found.
 *
 * @since 0.1.0
 */
export type CacheLookup =
  | {
    readonly _tag: "Hit"
    readonly value: JsonObject
    readonly tier: "memory" | "sqlite"
    /** Clock time (ms) the value was stored or last confirmed unchanged by a CDN. */
    readonly storedAt: number
    /** What the CDN sent to revalidate it with (none for rows of earlier versions). */
    readonly validators: Validators
  }
  | { readonly _tag: "Missing" }
  | { readonly _tag: "Miss" }

/**
 * The validators a CDN sent with a file (`ETag`, `Last-Modified`), for a conditional request.
 *
 * @since 0.2.0
 */
export interface Validators {
  readonly etag?: string
  readonly lastModified?: string
}

/**
 * A part of the cache by session: a year, an event of it, or a session of that event.
 *
 * @since 0.2.0
 */
export interface SessionScope {
  readonly year: number
  readonly gp?: string
  readonly session?: string
}

/**
 * What `invalidate` clears: everything, the memory tier only, or one kind of file in both tiers
 * (`telemetry` = `*_tel.json`, `json` = every other file). Negative entries go with `all`,
 * `json` and `telemetry`.
 *
 * @since 0.1.0
 */
export type CacheScope = "all" | "memory" | "json" | "telemetry"

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
  readonly negative: { readonly hits: number; readonly entries: number }
}

/**
 * The cache.
 *
 * @since 0.1.0
 */
export interface CacheService {
  /** Look a key up: memory, then SQLite (a SQLite hit is promoted to memory), then negative entries. */
  readonly get: (key: string) => Effect.Effect<CacheLookup>
  /** Store a delivered value (frozen in memory, V8-serialized in SQLite) with its validators; clears a negative entry. */
  readonly set: (key: string, value: JsonObject, validators?: Validators) => Effect.Effect<void>
  /** A CDN confirmed the stored value unchanged (304): its age restarts now. */
  readonly touch: (key: string) => Effect.Effect<void>
  /**
   * Remember that a file is missing on every CDN, for `ttlSeconds` (default
   * `missing_payloads_ttl_days`; live sessions remember it for `live_missing_ttl`).
   */
  readonly setMissing: (key: string, ttlSeconds?: number) => Effect.Effect<void>
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
export class Cache extends Context.Tag("tif1-effect/Cache")<Cache, CacheService>() {}

/** An LRU over a Map's insertion order: a read moves the entry to the back. */
class Lru<V> {
  private readonly map = new Map<string, V>()
  constructor(private readonly capacity: number) {}
  get(key: string): V | undefined {
    const value = this.map.get(key)
    if (value !== undefined) {
      this.map.delete(key)
      this.map.set(key, value)
    }
    return value
  }
  set(key: string, value: V): void {
    if (this.capacity <= 0) return
    this.map.delete(key)
    this.map.set(key, value)
    if (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value!)
  }
  delete(key: string): void {
    this.map.delete(key)
  }
  clear(): void {
    this.map.clear()
  }
  keys(): IterableIterator<string> {
    return this.map.keys()
  }
  get size(): number {
    return this.map.size
  }
}

/** Values at or above this size are stored deflated (zlib format: adler-32 checked on inflate). */
export const compressAboveBytes = 4096

/**
 * How a row's body is stored: bit 0 = deflated, bit 1 = V8 serialization (`node:v8`) of the
 * parsed value instead of the JSON text, bit 2 = with every all-number array (a telemetry
 * column) serialized as a `Float64Array`, bit 3 = CRC-32 checksum instead of SHA-1, bit 4 = the
 * checksum covers the row's key too (two rows' values swapped no longer read as each other's
 * files). New rows set bits 1 to 4 (and 0 when large). V8 writes a plain array element by element and reads every
 * double back boxed; a typed array is one block of bytes, and turning it back into an array of
 * unboxed doubles costs a fraction of that (a telemetry file: 135 µs against 456 µs; `JSON.parse`
 * of its text: 1,600 µs on the same machine). Rows with other encodings, written by earlier
 * versions, are still read.
 */
const encodingDeflated = 1
const encodingV8 = 2
const encodingNumericColumns = 4
/** CRC-32 as 8 hex digits costs a fifth of SHA-1 (base64), which earlier rows carry. */
const encodingCrc32 = 8
const encodingKeyedChecksum = 16

/** What a persistent tier holds. */
interface TierSizes {
  readonly entries: number
  readonly bytes: number
  readonly missing: number
  readonly oldestStoredAt: number | undefined
  readonly newestStoredAt: number | undefined
}

const emptySizes: TierSizes = { entries: 0, bytes: 0, missing: 0, oldestStoredAt: undefined, newestStoredAt: undefined }

/** A stored value with its age and validators. */
interface StoredEntry {
  readonly value: JsonObject
  readonly storedAt: number
  readonly validators: Validators
}

/** The second tier: where bytes are kept across processes. */
interface PersistentTier {
  readonly read: (key: string) => Effect.Effect<StoredEntry | undefined>
  readonly write: (key: string, value: JsonObject, storedAt: number, validators: Validators) => Effect.Effect<void>
  readonly touch: (key: string, storedAt: number) => Effect.Effect<void>
  readonly readMissing: (key: string, now: number) => Effect.Effect<boolean>
  readonly writeMissing: (key: string, expiresAt: number) => Effect.Effect<void>
  readonly clearMissing: (key: string) => Effect.Effect<void>
  readonly invalidate: (scope: Exclude<CacheScope, "memory"> | SessionScope) => Effect.Effect<void>
  /** Stored files and their bytes, and files remembered as missing (not expired). */
  readonly sizes: Effect.Effect<TierSizes>
  readonly corruptRowsDropped: () => number
}

/** Negative entries kept in memory (memory-only layer). */
const memoryMissing = (): Pick<PersistentTier, "readMissing" | "writeMissing" | "clearMissing"> & {
  readonly clear: (predicate: (key: string) => boolean) => void
  readonly size: () => number
} => {
  const expiries = new Map<string, number>()
  return {
    readMissing: (key, now) =>
      Effect.sync(() => {
        const expiresAt = expiries.get(key)
        if (expiresAt === undefined) return false
        if (expiresAt > now) return true
        expiries.delete(key)
        return false
      }),
    writeMissing: (key, expiresAt) => Effect.sync(() => void expiries.set(key, expiresAt)),
    clearMissing: (key) => Effect.sync(() => void expiries.delete(key)),
    clear: (predicate) => {
      for (const key of [...expiries.keys()]) if (predicate(key)) expiries.delete(key)
    },
    size: () => expiries.size
  }
}

/**
 * The key prefix of a session scope: `2025/`, `2025/Australian Grand Prix/` or
 * `2025/Australian Grand Prix/Race/` (a session without its event names nothing narrower than the year).
 *
 * @since 0.2.0
 */
export const scopePrefix = (scope: SessionScope): string =>
  scope.gp === undefined
    ? `${scope.year}/`
    : scope.session === undefined
    ? `${scope.year}/${scope.gp}/`
    : `${scope.year}/${scope.gp}/${scope.session}/`

const scopeMatches = (scope: CacheScope | SessionScope, key: string): boolean =>
  typeof scope === "object"
    ? key.startsWith(scopePrefix(scope))
    : scope === "all" || scope === "memory" || (scope === "telemetry") === isTelemetryPath(key)

/**
 * Build the cache from its tiers.
 *
 * @since 0.1.0
 */
export const make = (options: {
  readonly memoryMaxItems: number
  readonly memoryTelemetryMaxItems: number
  readonly missingTtlDays: number
  readonly persistent: PersistentTier | undefined
}): Effect.Effect<CacheService> =>
  Effect.sync(() => {
    const json = new Lru<StoredEntry>(options.memoryMaxItems)
    const telemetry = new Lru<StoredEntry>(options.memoryTelemetryMaxItems)
    const lruFor = (key: string) => (isTelemetryPath(key) ? telemetry : json)
    const negative = options.persistent ?? memoryMissing()
    const inMemoryNegative = options.persistent === undefined
      ? (negative as ReturnType<typeof memoryMissing>)
      : undefined
    const counters = { memoryHits: 0, memoryMisses: 0, sqliteHits: 0, sqliteMisses: 0, negativeHits: 0 }
    const ttlMs = options.missingTtlDays * 24 * 60 * 60 * 1000

    /** Lookups by tier and result. */
    const counted = Telemetry.taggedBy(Telemetry.cacheLookups, "tier", "result")
    const lookupsMemoryHit = counted("memory", "hit")
    const get = (key: string): Effect.Effect<CacheLookup> =>
      Effect.withFiberRuntime((fiber) => {
        if (!Telemetry.isTracing(fiber)) return lookup(key)
        return Effect.withSpan(
          Effect.tap(lookup(key), (found) =>
            Effect.annotateCurrentSpan({
              "tif1.cache.result": found._tag === "Hit" ? "hit" : found._tag === "Missing" ? "not-found" : "miss",
              ...(found._tag === "Hit" ? { "tif1.cache.tier": found.tier } : {})
            })),
          "Cache.get",
          { attributes: { "tif1.file": key } }
        )
      })

    const lookup = (key: string): Effect.Effect<CacheLookup> => {
      const lru = lruFor(key)
      const entry = lru.get(key)
      if (entry !== undefined) {
        counters.memoryHits++
        lookupsMemoryHit.unsafeUpdate(1, [])
        return Effect.succeed({ _tag: "Hit", tier: "memory", ...entry })
      }
      counters.memoryMisses++
      return Effect.gen(function*() {
        if (options.persistent !== undefined) {
          const stored = yield* options.persistent.read(key)
          if (stored !== undefined) {
            counters.sqliteHits++
            counted("sqlite", "hit").unsafeUpdate(1, [])
            const promoted: StoredEntry = { ...stored, value: deepFreeze(stored.value) }
            lru.set(key, promoted)
            return { _tag: "Hit", tier: "sqlite", ...promoted } as const
          }
          counters.sqliteMisses++
        }
        const now = yield* Clock.currentTimeMillis
        if (yield* negative.readMissing(key, now)) {
          counters.negativeHits++
          counted("negative", "hit").unsafeUpdate(1, [])
          return { _tag: "Missing" } as const
        }
        counted("none", "miss").unsafeUpdate(1, [])
        return { _tag: "Miss" } as const
      })
    }

    const service: CacheService = {
      get,
      set: (key, value, validators = {}) =>
        Telemetry.traced(
          "Cache.set",
          () => ({ "tif1.file": key, "tif1.cache.persistent": options.persistent !== undefined }),
          Effect.gen(function*() {
            const storedAt = yield* Clock.currentTimeMillis
            lruFor(key).set(key, { value: deepFreeze(value), storedAt, validators })
            yield* negative.clearMissing(key)
            if (options.persistent !== undefined) yield* options.persistent.write(key, value, storedAt, validators)
          })
        ),
      touch: (key) =>
        Effect.gen(function*() {
          const storedAt = yield* Clock.currentTimeMillis
          const lru = lruFor(key)
          const entry = lru.get(key)
          if (entry !== undefined) lru.set(key, { ...entry, storedAt })
          if (options.persistent !== undefined) yield* options.persistent.touch(key, storedAt)
        }),
      setMissing: (key, ttlSeconds) =>
        Effect.flatMap(
          Clock.currentTimeMillis,
          (now) => negative.writeMissing(key, now + (ttlSeconds === undefined ? ttlMs : ttlSeconds * 1000))
        ),
      invalidate: (scope) =>
        Effect.gen(function*() {
          for (const lru of [json, telemetry]) {
            for (const key of [...lru.keys()]) if (scopeMatches(scope, key)) lru.delete(key)
          }
          if (scope === "memory") return
          inMemoryNegative?.clear((key) => scopeMatches(scope, key))
          if (options.persistent !== undefined) yield* options.persistent.invalidate(scope)
        }),
      stats: Effect.gen(function*() {
        const sizes = options.persistent === undefined ? emptySizes : yield* options.persistent.sizes
        return {
          memory: { hits: counters.memoryHits, misses: counters.memoryMisses, entries: json.size + telemetry.size },
          sqlite: {
            enabled: options.persistent !== undefined,
            hits: counters.sqliteHits,
            misses: counters.sqliteMisses,
            entries: sizes.entries,
            bytes: sizes.bytes,
            oldestStoredAt: sizes.oldestStoredAt,
            newestStoredAt: sizes.newestStoredAt,
            corruptRowsDropped: options.persistent?.corruptRowsDropped() ?? 0
          },
          negative: { hits: counters.negativeHits, entries: inMemoryNegative?.size() ?? sizes.missing }
        }
      })
    }
    return service
  })

const isObject = (value: unknown): value is JsonObject =>
  value !== null && typeof value === "object" && !Array.isArray(value)

/**
 * zlib on libuv's thread pool: deflating a 180 KB telemetry file takes about 2 ms, which on the
 * event loop would stall every request in flight; there it runs beside them.
 */
const onThreadPool = (
  run: (input: Uint8Array, options: Zlib.ZlibOptions, callback: (error: Error | null, result: Buffer) => void) => void,
  input: Uint8Array,
  options: Zlib.ZlibOptions
): Effect.Effect<Uint8Array, Error> =>
  Effect.async((resume) => {
    run(input, options, (error, result) => resume(error === null ? Effect.succeed(result) : Effect.fail(error)))
  })

/**
 * A copy of `value` with every non-empty all-number array as a `Float64Array` (JSON never has
 * typed arrays). Arrays are iterated, not indexed, so the delivered ones stay unboxed (`columns.ts`).
 */
const packNumericColumns = (value: unknown): unknown => {
  if (value === null || typeof value !== "object") return value
  if (Array.isArray(value)) {
    // A plain loop and the array constructor: `every` and `Float64Array.from` cost twice as much.
    let numeric = value.length > 0
    for (const item of value) {
      if (typeof item !== "number") {
        numeric = false
        break
      }
    }
    return numeric ? new Float64Array(value) : value.map(packNumericColumns)
  }
  const copy: Record<string, unknown> = {}
  for (const key in value) copy[key] = packNumericColumns((value as Record<string, unknown>)[key])
  return copy
}

/** The inverse of `packNumericColumns`, in place on a freshly deserialized value. */
const unpackNumericColumns = (value: unknown): unknown => {
  if (value === null || typeof value !== "object") return value
  if (value instanceof Float64Array) {
    const column = new Array<number>(value.length)
    for (let index = 0; index < value.length; index++) column[index] = value[index]!
    return column
  }
  const container = value as Record<string, unknown>
  for (const key in container) container[key] = unpackNumericColumns(container[key])
  return value
}

/** A value to the bytes of a row with `storedEncoding` (before compression). */
const serialize = (value: JsonObject): Buffer => V8.serialize(packNumericColumns(value))
const storedEncoding = encodingV8 | encodingNumericColumns | encodingCrc32 | encodingKeyedChecksum

/** A stored body back to a value; `undefined` when it does not decode. */
const decodeStored = (encoding: number, body: Uint8Array): unknown => {
  if ((encoding & encodingV8) === 0) return parseJsonBytes(body).value
  try {
    const value = V8.deserialize(body)
    return (encoding & encodingNumericColumns) === 0 ? value : unpackNumericColumns(value)
  } catch {
    // written by a Node whose serialization format this one cannot read
    return undefined
  }
}

/**
 * The checksum a row's encoding names, over its key (bit 4) and its body. It catches damage, not
 * tampering: CRC-32 misses one random corruption in four billion, and deflated rows are also
 * checked by zlib's adler-32.
 */
const checksumOf = (encoding: number, bytes: Uint8Array, key: string): string => {
  if ((encoding & encodingCrc32) === 0) return Crypto.createHash("sha1").update(bytes).digest("base64")
  const seed = (encoding & encodingKeyedChecksum) !== 0 ? Zlib.crc32(key) : 0
  return Zlib.crc32(bytes, seed).toString(16).padStart(8, "0")
}

/**
 * Current schema version of the database file; `migrations[n]` upgrades from n to n + 1.
 * 2 adds the validators a CDN sent (rows of version 1 read as rows without validators).
 */
const schemaVersion = 2
const migrations: ReadonlyArray<ReadonlyArray<string>> = [
  [
    `CREATE TABLE IF NOT EXISTS payloads (
      key TEXT PRIMARY KEY,
      encoding INTEGER NOT NULL,
      size INTEGER NOT NULL,
      checksum TEXT NOT NULL,
      body BLOB NOT NULL,
      stored_at INTEGER NOT NULL
    )`,
    `CREATE TABLE IF NOT EXISTS missing (key TEXT PRIMARY KEY, expires_at INTEGER NOT NULL)`
  ],
  [
    `ALTER TABLE payloads ADD COLUMN etag TEXT`,
    `ALTER TABLE payloads ADD COLUMN last_modified TEXT`
  ]
]

/**
 * The SQLite tier on a `SqlClient`. Each row is written in one statement, so a crash leaves the
 * old row or the new one, never half of one; the checksum and zlib's own adler-32 catch rows
 * damaged any other way.
 *
 * @since 0.1.0
 */
export const makeSqliteTier = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  /** Log a failed statement with what it means for the caller; the cache never fails a fetch. */
  const warn = (what: string, outcome: string) => (error: unknown) =>
    Effect.logWarning(`cache: ${what} failed, ${outcome}: ${describeSqliteError(error)}`)
  yield* sql`PRAGMA busy_timeout = 5000`
  // WAL (the client's default) with NORMAL sync: commits stay atomic through a crash, without an
  // fsync per cached file (which would block the event loop for each write).
  yield* sql`PRAGMA synchronous = NORMAL`
  yield* sql`CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`
  // BEGIN IMMEDIATE: the setup reads, then writes. A deferred BEGIN would take a read lock and
  // then fail at once with SQLITE_BUSY when a second process opening the same fresh folder holds
  // the write lock (an upgrade never waits: it could deadlock); a writer from the start waits for
  // the busy timeout like any other write.
  yield* sql`BEGIN IMMEDIATE`
  yield* Effect.gen(function*() {
    const rows = yield* sql<{ version: number }>`SELECT version FROM schema_version`
    let version = rows[0]?.version ?? 0
    if (rows.length === 0) yield* sql`INSERT INTO schema_version (version) VALUES (0)`
    while (version < schemaVersion) {
      for (const statement of migrations[version]!) yield* sql.unsafe(statement)
      version++
      yield* sql`UPDATE schema_version SET version = ${version}`
    }
    yield* sql`COMMIT`
  }).pipe(Effect.onError(() => Effect.ignore(sql`ROLLBACK`)))
  let corruptRowsDropped = 0

  const dropCorrupt = (key: string, why: string) =>
    Effect.zipRight(
      Effect.logWarning(`cache: dropping corrupt row ${key}: ${why}`),
      sql`DELETE FROM payloads WHERE key = ${key}`.pipe(
        Effect.tap(() => Effect.sync(() => corruptRowsDropped++)),
        Effect.catchAll(warn("delete", "the damaged row stays until it is rewritten"))
      )
    )

  const tier: PersistentTier = {
    read: (key) =>
      Effect.gen(function*() {
        const rows = yield* sql<{
          encoding: number
          size: number
          checksum: string
          body: Uint8Array
          stored_at: number
          etag: string | null
          last_modified: string | null
        }>`SELECT encoding, size, checksum, body, stored_at, etag, last_modified FROM payloads WHERE key = ${key}`
        const row = rows[0]
        if (row === undefined) return undefined
        // Inflated here rather than on the thread pool: 0.2 ms for a telemetry row, and the
        // stream object and hop of the asynchronous API cost more than that (measured on a warm
        // session load: a quarter less time and a third less CPU). One output chunk of the known
        // size; a row whose body inflates to more than its size is damaged, and zlib stops there.
        const body = (row.encoding & encodingDeflated) !== 0
          ? Either.try({
            try: (): Uint8Array =>
              Zlib.inflateSync(row.body, { chunkSize: Math.max(64, row.size), maxOutputLength: Math.max(1, row.size) }),
            catch: (error) => error as Error
          })
          : Either.right(row.body)
        if (Either.isLeft(body)) {
          return yield* Effect.as(dropCorrupt(key, `cannot inflate (${body.left.message})`), undefined)
        }
        if (body.right.byteLength !== row.size || checksumOf(row.encoding, body.right, key) !== row.checksum) {
          return yield* Effect.as(dropCorrupt(key, "size or checksum mismatch"), undefined)
        }
        const value = decodeStored(row.encoding, body.right)
        if (!isObject(value)) {
          return yield* Effect.as(dropCorrupt(key, "the stored value is not a JSON object"), undefined)
        }
        const validators: Validators = {
          ...(row.etag === null ? {} : { etag: row.etag }),
          ...(row.last_modified === null ? {} : { lastModified: row.last_modified })
        }
        return { value, storedAt: row.stored_at, validators }
      }).pipe(Effect.catchAll((error) => Effect.as(warn("read", "treated as a miss")(error), undefined))),
    write: (key, value, storedAt, validators) =>
      Effect.gen(function*() {
        const body = serialize(value)
        const compressed = body.byteLength >= compressAboveBytes
        const stored = compressed
          // Level 1 with the largest hash memory: 15-35% faster than the default memLevel on
          // telemetry rows for 1% more bytes; inflating is the same either way.
          ? yield* onThreadPool(Zlib.deflate, body, { level: 1, memLevel: 9, chunkSize: body.byteLength })
          : body
        const encoding = storedEncoding | (compressed ? encodingDeflated : 0)
        yield* sql`INSERT OR REPLACE INTO payloads (key, encoding, size, checksum, body, stored_at, etag, last_modified)
          VALUES (${key}, ${encoding}, ${body.byteLength}, ${checksumOf(encoding, body, key)}, ${stored}, ${storedAt},
                  ${validators.etag ?? null}, ${validators.lastModified ?? null})`
      }).pipe(Effect.catchAll(warn("write", "the value is not cached"))),
    touch: (key, storedAt) =>
      sql`UPDATE payloads SET stored_at = ${storedAt} WHERE key = ${key}`.pipe(
        Effect.asVoid,
        Effect.catchAll(warn("touch", "the file is revalidated again next time"))
      ),
    readMissing: (key, now) =>
      sql<{ expires_at: number }>`SELECT expires_at FROM missing WHERE key = ${key}`.pipe(
        Effect.map((rows) => rows[0] !== undefined && rows[0].expires_at > now),
        Effect.catchAll((error) => Effect.as(warn("negative read", "treated as not missing")(error), false))
      ),
    writeMissing: (key, expiresAt) =>
      sql`INSERT OR REPLACE INTO missing (key, expires_at) VALUES (${key}, ${expiresAt})`.pipe(
        Effect.asVoid,
        Effect.catchAll(warn("negative write", "the missing file is not remembered"))
      ),
    clearMissing: (key) =>
      sql`DELETE FROM missing WHERE key = ${key}`.pipe(
        Effect.asVoid,
        Effect.catchAll(warn("negative clear", "the entry stays until it expires"))
      ),
    invalidate: (scope) => {
      const prefix = typeof scope === "object" ? scopePrefix(scope) : undefined
      const statements = prefix !== undefined
        ? [
          sql`DELETE FROM payloads WHERE substr(key, 1, ${prefix.length}) = ${prefix}`,
          sql`DELETE FROM missing WHERE substr(key, 1, ${prefix.length}) = ${prefix}`
        ]
        : scope === "all"
        ? [sql`DELETE FROM payloads`, sql`DELETE FROM missing`]
        : scope === "telemetry"
        ? [
          sql`DELETE FROM payloads WHERE key LIKE '%\\_tel.json' ESCAPE '\\'`,
          sql`DELETE FROM missing WHERE key LIKE '%\\_tel.json' ESCAPE '\\'`
        ]
        : [
          sql`DELETE FROM payloads WHERE key NOT LIKE '%\\_tel.json' ESCAPE '\\'`,
          sql`DELETE FROM missing WHERE key NOT LIKE '%\\_tel.json' ESCAPE '\\'`
        ]
      return Effect.all(statements, { discard: true }).pipe(
        Effect.catchAll(warn("invalidate", "the SQLite tier may still hold that scope"))
      )
    },
    sizes: Effect.flatMap(
      Clock.currentTimeMillis,
      (now) =>
        sql<{ entries: number; bytes: number | null; missing: number; oldest: number | null; newest: number | null }>`
        SELECT (SELECT COUNT(*) FROM payloads) AS entries, (SELECT SUM(LENGTH(body)) FROM payloads) AS bytes,
               (SELECT COUNT(*) FROM missing WHERE expires_at > ${now}) AS missing,
               (SELECT MIN(stored_at) FROM payloads) AS oldest, (SELECT MAX(stored_at) FROM payloads) AS newest`.pipe(
          Effect.map((rows): TierSizes => ({
            entries: rows[0]?.entries ?? 0,
            bytes: rows[0]?.bytes ?? 0,
            missing: rows[0]?.missing ?? 0,
            oldestStoredAt: rows[0]?.oldest ?? undefined,
            newestStoredAt: rows[0]?.newest ?? undefined
          })),
          Effect.catchAll((error) => Effect.as(warn("stats", "SQLite sizes reported as 0")(error), emptySizes))
        )
    ),
    corruptRowsDropped: () => corruptRowsDropped
  }
  return tier
})

/**
 * The database file name inside `cache_dir`.
 *
 * @since 0.1.0
 */
export const databaseFileName = "tif1-cache.sqlite"

/** The SQLite result code in an error or its causes (`SQLITE_BUSY`, ...), if any. */
const sqliteCode = (error: unknown): string | undefined => {
  for (let current = error, depth = 0; current !== undefined && current !== null && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code
    if (typeof code === "string" && code.startsWith("SQLITE_")) return code
    current = (current as { cause?: unknown }).cause
  }
  return undefined
}

/** What an error means for the user, by its SQLite code. */
const sqliteMeaning: Record<string, string> = {
  SQLITE_BUSY: "another process held the database locked for longer than the 5 s busy timeout",
  SQLITE_LOCKED: "the database is locked by another connection",
  SQLITE_FULL: "the disk is full",
  SQLITE_READONLY: "the database file or its folder is read-only",
  SQLITE_CANTOPEN: "the database file cannot be opened (permissions, or a missing folder)",
  SQLITE_IOERR: "the disk reported an I/O error",
  SQLITE_CORRUPT: "the database file is damaged",
  SQLITE_NOTADB: "the file is not a SQLite database",
  SQLITE_PERM: "permission denied",
  SQLITE_NOMEM: "out of memory"
}

/**
 * An error as a user reads it: the SQLite code and what it means, then the driver's message
 * (`SqlError: Failed to execute statement` alone says neither).
 *
 * @since 0.2.0
 */
export const describeSqliteError = (error: unknown): string => {
  const code = sqliteCode(error)
  // Extended codes (SQLITE_IOERR_WRITE) mean what their primary code (SQLITE_IOERR) means.
  const meaning = code === undefined ? undefined : sqliteMeaning[code.split("_").slice(0, 2).join("_")]
  const messages: Array<string> = []
  for (let current = error, depth = 0; current !== undefined && current !== null && depth < 5; depth++) {
    // The first line: a binding error goes on to list every path it tried.
    const message = (current instanceof Error ? current.message : String(current)).split("\n")[0]!.trim()
    if (message !== "" && !messages.includes(message)) messages.push(message)
    current = (current as { cause?: unknown }).cause
  }
  return [code, meaning, messages.join(": ")].filter((part) => part !== undefined && part !== "").join(", ")
}

/** The native module failed to load (missing build, or built for another Node). */
const isNativeBindingFailure = (error: unknown): boolean =>
  /better_sqlite3\.node|bindings file|NODE_MODULE_VERSION|was compiled against a different Node|invalid ELF header|ERR_DLOPEN_FAILED/i
    .test(describeSqliteError(error))

const closeQuietly = (scope: Scope.CloseableScope) => Scope.close(scope, Exit.void)

/**
 * Open the SQLite tier in a folder, or explain why there is none. A cache is an optimization:
 * nothing here stops a fetch. A damaged file is moved aside (renamed with a timestamp) and a new
 * one created; an unwritable folder, a full disk or a native module that does not load is one
 * warning, then a run without the persistent tier.
 */
const openSqliteTier = (cacheDir: string): Effect.Effect<PersistentTier | undefined, never, Scope.Scope> =>
  Effect.gen(function*() {
    const filename = Path.join(cacheDir, databaseFileName)
    const withoutTier = (why: string) =>
      Effect.as(Effect.logWarning(`cache: ${why}; running without the persistent cache (memory only)`), undefined)
    const folder = yield* Effect.either(Effect.try(() => {
      Fs.mkdirSync(cacheDir, { recursive: true })
      Fs.accessSync(cacheDir, Fs.constants.W_OK)
    }))
    if (Either.isLeft(folder)) {
      return yield* withoutTier(`the folder ${cacheDir} is not usable (${String(folder.left.error)})`)
    }
    const outer = yield* Effect.scope
    const attempt = Effect.gen(function*() {
      const scope = yield* Scope.fork(outer, ExecutionStrategy.sequential)
      const opened = yield* SqliteClient.make({ filename }).pipe(
        Effect.flatMap((client) => Effect.provideService(makeSqliteTier, SqlClient.SqlClient, client)),
        Effect.provide(Reactivity.layer),
        Scope.extend(scope),
        Effect.catchAllDefect(Effect.fail),
        Effect.either
      )
      if (Either.isLeft(opened)) yield* closeQuietly(scope)
      return opened
    })
    const first = yield* attempt
    if (Either.isRight(first)) return first.right
    const cause = first.left
    if (isNativeBindingFailure(cause)) {
      return yield* Effect.as(
        Effect.logError(
          `cache: the SQLite module better-sqlite3 does not load (${describeSqliteError(cause)}); ` +
            "rebuild it for this Node with `npm rebuild better-sqlite3`; running without the persistent cache"
        ),
        undefined
      )
    }
    const code = sqliteCode(cause)
    if (code !== "SQLITE_NOTADB" && !code?.startsWith("SQLITE_CORRUPT")) {
      return yield* withoutTier(`cannot open ${filename}: ${describeSqliteError(cause)}`)
    }
    const now = yield* Clock.currentTimeMillis
    const aside = `${filename}.corrupt-${new Date(now).toISOString().replaceAll(":", "-")}`
    const moved = yield* Effect.either(Effect.try(() => {
      Fs.renameSync(filename, aside)
      for (const suffix of ["-wal", "-shm"]) Fs.rmSync(`${filename}${suffix}`, { force: true })
    }))
    if (Either.isLeft(moved)) {
      return yield* withoutTier(`${filename} is damaged and cannot be moved aside (${String(moved.left.error)})`)
    }
    yield* Effect.logWarning(
      `cache: ${filename} was damaged (${describeSqliteError(cause)}); moved it to ${aside} and started a new cache`
    )
    const second = yield* attempt
    return Either.isRight(second)
      ? second.right
      : yield* withoutTier(`cannot create a new ${filename}: ${describeSqliteError(second.left)}`)
  })

const memoryOptions = (config: Tif1Config["Type"]) => ({
  memoryMaxItems: config.memoryCacheMaxItems,
  memoryTelemetryMaxItems: config.memoryTelemetryCacheMaxItems,
  missingTtlDays: config.missingPayloadsTtlDays
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
    negative: { hits: 0, entries: 0 }
  })
})

/**
 * Memory tier only (negative entries in memory too).
 *
 * @since 0.1.0
 */
export const layerMemory: Layer.Layer<Cache, never, Tif1Config> = Layer.effect(
  Cache,
  Effect.flatMap(Tif1Config, (config) => make({ ...memoryOptions(config), persistent: undefined }))
)

/**
 * Memory over SQLite in `cache_dir` (the database closes with the layer's scope).
 *
 * @since 0.1.0
 */
export const layerSqlite: Layer.Layer<Cache, never, Tif1Config> = Layer.scoped(
  Cache,
  Effect.gen(function*() {
    const config = yield* Tif1Config
    const persistent = yield* openSqliteTier(config.cacheDir)
    return yield* make({ ...memoryOptions(config), persistent })
  })
)

/**
 * The cache the config asks for: none under `ci_mode` or `enable_cache: false`, else memory +
 * SQLite.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<Cache, never, Tif1Config> = Layer.unwrapEffect(
  Effect.map(Tif1Config, (config) => (config.ciMode || !config.enableCache ? layerNone : layerSqlite))
)
