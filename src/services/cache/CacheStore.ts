/**
 * The seam between the `Cache` service and where it keeps things: a `CacheStore` per tier
 * (memory LRU, SQLite file, Redis server), composed in order by `Cache`.
 *
 * @since 0.2.0
 */
import type * as Effect from "effect/Effect"
import { isTelemetryPath } from "../../schema/DataRequest.js"

/**
 * A JSON object as delivered: frozen (numeric columns excepted, see `deepFreeze`), so no caller
 * can change what the next one gets.
 *
 * @since 0.1.0
 */
export type JsonObject = { readonly [key: string]: unknown }

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
 * Whether a 304 answering a request that sent `sent` confirms a copy stored with `stored`: both
 * validators equal (a copy with the same ETag and another Last-Modified is another copy), and at
 * least one sent (a request without validators is not conditional, so no 304 answers it).
 *
 * @since 0.2.0
 */
export const confirms = (sent: Validators, stored: Validators): boolean =>
  (sent.etag !== undefined || sent.lastModified !== undefined) &&
  sent.etag === stored.etag && sent.lastModified === stored.lastModified

/**
 * A value as a persistent store keeps it, encoded by `RowCodec`.
 *
 * @since 0.2.0
 */
export interface EncodedRow {
  /** How the body is stored: the bits `RowCodec` defines (columnar or earlier formats, checksum kind). */
  readonly encoding: number
  /** Bytes of the body decoded (its sections decompressed): what `max_response_bytes` bounds. */
  readonly size: number
  readonly checksum: string
  /** The stored bytes. */
  readonly body: Uint8Array
}

/**
 * A stored value with its age and validators.
 *
 * @since 0.2.0
 */
export interface StoredEntry {
  readonly value: JsonObject
  /** Clock time (ms) the value was stored or last confirmed unchanged by a CDN. */
  readonly storedAt: number
  readonly validators: Validators
  /** The encoded row a persistent store read it from: filling the tiers above writes it as it is. */
  readonly row?: EncodedRow
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
 * What `invalidate` clears: everything, the memory tier only, or one kind of file in every tier
 * (`telemetry` = `*_tel.json`, `json` = every other file). Negative entries go with `all`,
 * `json` and `telemetry`.
 *
 * @since 0.1.0
 */
export type CacheScope = "all" | "memory" | "json" | "telemetry"

/**
 * What a store holds (as far as it can tell cheaply).
 *
 * @since 0.2.0
 */
export interface StoreSizes {
  readonly entries: number
  readonly bytes: number
  /** Files remembered as missing (not expired). */
  readonly missing: number
  readonly oldestStoredAt: number | undefined
  readonly newestStoredAt: number | undefined
}

/**
 * Nothing stored.
 *
 * @since 0.2.0
 */
export const emptySizes: StoreSizes = {
  entries: 0,
  bytes: 0,
  missing: 0,
  oldestStoredAt: undefined,
  newestStoredAt: undefined
}

/**
 * One tier. No method fails: a store that cannot answer logs why and answers "not here" (the
 * cache is an optimization, it never fails a fetch). Persistent stores encode values with
 * `RowCodec`; `set` is handed the encoded row lazily, so a value written to SQLite and Redis is
 * encoded once. A persistent store's `get` hands back only values that decoded
 * (bounded size, JSON types): the rows `Cache` copies into the tiers above are those.
 *
 * @since 0.2.0
 */
export interface CacheStore {
  readonly tier: "memory" | "sqlite" | "redis"
  /** The entry under a key, if this store has it (a damaged row is dropped and is not here). */
  readonly get: (key: string) => Effect.Effect<StoredEntry | undefined>
  /** The entries of several keys, in their order (one round trip where the store can). */
  readonly getMany: (keys: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<StoredEntry | undefined>>
  /** Store an entry; whether this store now holds it (false: down, too large, or a failed write, logged). */
  readonly set: (key: string, entry: StoredEntry, row: Effect.Effect<EncodedRow, Error>) => Effect.Effect<boolean>
  /**
   * Restart a stored entry's age: a CDN answered 304 to a request that sent `sent`. Only a copy
   * those validators `confirms` is restarted (another process may have stored another copy
   * under the key); nothing when the key is not stored.
   */
  readonly touch: (key: string, storedAt: number, sent: Validators) => Effect.Effect<void>
  readonly remove: (key: string) => Effect.Effect<void>
  /** Whether the key is remembered as missing at Clock time `now`. */
  readonly getMissing: (key: string, now: number) => Effect.Effect<boolean>
  /** Remember a key as missing until `expiresAt` (Clock ms; `now` is when that was decided). */
  readonly setMissing: (key: string, now: number, expiresAt: number) => Effect.Effect<void>
  readonly clearMissing: (key: string) => Effect.Effect<void>
  /** Clear a scope ("memory" is the memory store's alone). */
  readonly invalidate: (scope: CacheScope | SessionScope) => Effect.Effect<void>
  readonly sizes: Effect.Effect<StoreSizes>
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

/**
 * Whether a key is in a scope.
 *
 * @since 0.2.0
 */
export const scopeMatches = (scope: CacheScope | SessionScope, key: string): boolean =>
  typeof scope === "object"
    ? key.startsWith(scopePrefix(scope))
    : scope === "all" || scope === "memory" || (scope === "telemetry") === isTelemetryPath(key)
