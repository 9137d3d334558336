/**
 * The memory tier: two LRUs (telemetry files are large and many, so they are counted apart from
 * the other files) and negative entries with their expiry.
 *
 * @since 0.2.0
 */
import * as Effect from "effect/Effect"
import { isTelemetryPath } from "../../schema/DataRequest.js"
import { type CacheStore, confirms, scopeMatches, type StoredEntry } from "./CacheStore.js"

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
  /** Whether it was stored (an LRU of capacity 0 keeps nothing). */
  set(key: string, value: V): boolean {
    if (this.capacity <= 0) return false
    this.map.delete(key)
    this.map.set(key, value)
    if (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value!)
    return true
  }
  delete(key: string): void {
    this.map.delete(key)
  }
  keys(): IterableIterator<string> {
    return this.map.keys()
  }
  get size(): number {
    return this.map.size
  }
}

/**
 * An entry as the memory tier keeps it: already the lookup result a hit returns, so a hit
 * allocates nothing.
 *
 * @since 0.2.0
 */
export interface MemoryHit extends StoredEntry {
  readonly _tag: "Hit"
  readonly tier: "memory"
}

/**
 * The memory store, with `peek`: its synchronous lookup (the hot path of a warm load).
 *
 * @since 0.2.0
 */
export interface MemoryStore extends CacheStore {
  readonly peek: (key: string) => MemoryHit | undefined
}

/**
 * A memory store of at most `maxItems` files and `maxTelemetryItems` telemetry files. Values are
 * kept as given: the caller freezes them.
 *
 * @since 0.2.0
 */
export const make = (options: { readonly maxItems: number; readonly maxTelemetryItems: number }): MemoryStore => {
  const json = new Lru<MemoryHit>(options.maxItems)
  const telemetry = new Lru<MemoryHit>(options.maxTelemetryItems)
  const lruFor = (key: string) => (isTelemetryPath(key) ? telemetry : json)
  const missing = new Map<string, number>()
  const peek = (key: string) => lruFor(key).get(key)
  const store = (key: string, entry: StoredEntry) =>
    lruFor(key).set(key, {
      _tag: "Hit",
      tier: "memory",
      value: entry.value,
      storedAt: entry.storedAt,
      validators: entry.validators
    })
  return {
    tier: "memory",
    peek,
    get: (key) => Effect.sync(() => peek(key)),
    getMany: (keys) => Effect.sync(() => keys.map(peek)),
    set: (key, entry) => Effect.sync(() => store(key, entry)),
    touch: (key, storedAt, sent) =>
      Effect.sync(() => {
        const entry = peek(key)
        if (entry !== undefined && confirms(sent, entry.validators)) store(key, { ...entry, storedAt })
      }),
    remove: (key) => Effect.sync(() => lruFor(key).delete(key)),
    getMissing: (key, now) =>
      Effect.sync(() => {
        const expiresAt = missing.get(key)
        if (expiresAt === undefined) return false
        if (expiresAt > now) return true
        missing.delete(key)
        return false
      }),
    setMissing: (key, _now, expiresAt) => Effect.sync(() => void missing.set(key, expiresAt)),
    clearMissing: (key) => Effect.sync(() => void missing.delete(key)),
    invalidate: (scope) =>
      Effect.sync(() => {
        for (const lru of [json, telemetry]) {
          for (const key of [...lru.keys()]) if (scopeMatches(scope, key)) lru.delete(key)
        }
        if (scope === "memory") return
        for (const key of [...missing.keys()]) if (scopeMatches(scope, key)) missing.delete(key)
      }),
    sizes: Effect.sync(() => ({
      entries: json.size + telemetry.size,
      bytes: 0,
      missing: missing.size,
      oldestStoredAt: undefined,
      newestStoredAt: undefined
    }))
  }
}
