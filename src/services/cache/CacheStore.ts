/**
 * The seam between the `Cache` service and where it keeps things: a `CacheStore` per tier
 * (memory LRU, SQLite file, Redis server), composed in order by `Cache`.
 *
 * @since 0.2.0
 */
import type * as Effect from "effect/Effect"
import { isTelemetryPath } from "../../schema/DataRequest.js"

/**
 * A JSON object as delivered: frozen (numeric columns excepted, see `deepFreeze`), so no caller can change what the next one gets.
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
 * A value as a persistent store keeps it, encoded by `RowCodec`.
 *
 * @since 0.2.0
 */
export interface EncodedRow {
  /** How the body is stored: the bits `RowCodec` defines (deflated, V8, numeric columns, checksum kind). */
  readonly encoding: number
  /** Bytes of the body before compression. */
  readonly size: number
  readonly checksum: string
  /** The stored bytes (deflated when `encoding` has bit 0). */
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
 * serialized and deflated once.
 *
 * @since 0.2.0
 */
export interface CacheStore {
  readonly tier: "memory" | "sqlite" | "redis"
  /** The entry under a key, if this store has it (a damaged row is dropped and is not here). */
  readonly get: (key: string) => Effect.Effect<StoredEntry | undefined>
  /** The entries of several keys, in their order (one round trip where the store can). */
  readonly getMany: (keys: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<StoredEntry | undefined>>
  readonly set: (key: string, entry: StoredEntry, row: Effect.Effect<EncodedRow, Error>) => Effect.Effect<void>
  /** Restart a stored entry's age (a CDN answered 304); nothing when the key is not stored. */
  readonly touch: (key: string, storedAt: number) => Effect.Effect<void>
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
