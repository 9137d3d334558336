/**
 * A map that keeps what was used last and forgets the rest past a total weight: the mirror's
 * memory is bounded by it (served bodies weigh their bytes, hit counters their paths).
 *
 * A `Map` keeps insertion order, so moving an entry to the end when used and dropping from the
 * front is a least-recently-used order without a linked list of our own. A move is a delete and an
 * insert on the map (a request to the mirror makes three uses, and the moves were 4% of its CPU
 * for a small file), so a use moves an entry only when at least half the entries were moved or
 * added since it last moved: until then fewer than half are newer than it, it is in the newer
 * half already, and nothing is evicted from there before the older half is gone. What goes first
 * is thus an entry not used since half the map moved past it: least recently used, to within
 * half the map, and a hot entry costs a lookup and a comparison.
 *
 * @since 0.2.0
 */

interface Entry<V> {
  value: V
  weight: number
  /** `moves` when this entry last went to the newest end. */
  movedAt: number
}

/**
 * Least recently used entries (to within half the map) go first once the weights of all entries
 * pass `capacity`. An entry heavier than `capacity` on its own is not kept.
 *
 * @since 0.2.0
 */
export class Lru<K, V> {
  private readonly entries = new Map<K, Entry<V>>()
  private weightHeld = 0
  /** Entries moved or added to the newest end so far. */
  private moves = 0

  constructor(
    /** The most the entries may weigh together. */
    readonly capacity: number,
    /** What one entry weighs (bytes, or 1 for a count). */
    private readonly weigh: (key: K, value: V) => number
  ) {}

  /** The value of `key`, now used (see the module notes); `undefined` when not kept. */
  get(key: K): V | undefined {
    const entry = this.entries.get(key)
    if (entry === undefined) return undefined
    if (this.moves - entry.movedAt >= this.entries.size >>> 1) {
      this.entries.delete(key)
      this.entries.set(key, entry)
      entry.movedAt = ++this.moves
    }
    return entry.value
  }

  /** The value of `key`, leaving the order as it is (a look that is not a use). */
  peek(key: K): V | undefined {
    return this.entries.get(key)?.value
  }

  /**
   * Keep `value` for `key` as the most recently used, dropping the least recently used entries
   * until all fit. Returns whether it was kept (not when it alone weighs more than `capacity`).
   */
  set(key: K, value: V): boolean {
    this.delete(key)
    const weight = this.weigh(key, value)
    if (weight > this.capacity) return false
    this.entries.set(key, { value, weight, movedAt: ++this.moves })
    this.weightHeld += weight
    while (this.weightHeld > this.capacity) {
      const oldest = this.entries.keys().next().value as K
      this.delete(oldest)
    }
    return true
  }

  /** Forget `key`. */
  delete(key: K): void {
    const entry = this.entries.get(key)
    if (entry === undefined) return
    this.entries.delete(key)
    this.weightHeld -= entry.weight
  }

  /** Forget everything. */
  clear(): void {
    this.entries.clear()
    this.weightHeld = 0
  }

  /** Entries kept. */
  get size(): number {
    return this.entries.size
  }

  /** What the entries kept weigh together (never more than `capacity`). */
  get weight(): number {
    return this.weightHeld
  }
}
