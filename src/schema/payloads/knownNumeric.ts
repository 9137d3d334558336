/**
 * Internal (not exported from the package, so users cannot add arrays to it): the columns the
 * persistent tiers' row codec rebuilt from a `Float64Array`.
 *
 * @since 0.2.0
 */

/**
 * Arrays known to hold only numbers: the row codec records every all-number column it reads back
 * from a `Float64Array`, so decoding a cached file does not check again what its typed array
 * already guaranteed (a seventh of a warm session load's time).
 */
export const knownNumericColumns = new WeakSet<ReadonlyArray<number>>()
