/**
 * Internal (not exported from the package, so users cannot add arrays to it): the columns the
 * persistent tiers' row codec built from stored typed bytes, which the first payload decoder of
 * their value delivers without looking at each number.
 *
 * @since 0.2.0
 */

/**
 * Arrays the row codec built from a column's stored bytes (every numeric column of a cached file
 * it reads back) that nobody but the cache has held yet: numbers by construction, so a decoder
 * delivers them without looking at a value (`takeKnownNumeric`).
 *
 * They are not frozen: freezing an array of doubles makes V8 box every element (twice the heap).
 * In 0.1.0 the decoders checked each one (a `for...of` loop, then `every` and `includes`): 24 ms
 * of a 240 ms warm session load once the process was warm, 80 to 150 ms in its first load (those
 * loops run unoptimized for most of it). Only the delivery of a value as it is read from its row
 * skips the check: a decoder takes a column's mark, and the memory tier forgets the marks of a
 * value it answers with (`forgetCodecColumns`: whoever had the value before may have written into
 * it). Every later decode checks the columns like any other, so a value that is not a number
 * written into a shared cached array is reported, never delivered as a number. A wrong number
 * written into it is not found by any check: a cached value is shared by every caller and read
 * only (its types say so, its objects are frozen).
 */
export const knownNumericColumns = new WeakSet<ReadonlyArray<number>>()

/** The marked columns of each value the row codec read, until the memory tier answers with it. */
const codecColumnsOf = new WeakMap<object, ReadonlyArray<ReadonlyArray<number>>>()

/** Mark the columns the row codec built for `value` as known numeric. */
export const markCodecColumns = (value: object, columns: ReadonlyArray<ReadonlyArray<number>>): void => {
  if (columns.length === 0) return
  for (const column of columns) knownNumericColumns.add(column)
  codecColumnsOf.set(value, columns)
}

/**
 * Unmark the columns of a value that is delivered again (a memory-tier hit): a caller may have held
 * it since it was read from its row, so its decoders check every value from now on.
 */
export const forgetCodecColumns = (value: object): void => {
  const columns = codecColumnsOf.get(value)
  if (columns === undefined) return
  codecColumnsOf.delete(value)
  for (const column of columns) knownNumericColumns.delete(column)
}

/**
 * Whether a column is one the row codec built that nobody has held: the caller delivers it as it
 * is, and the mark is gone (the next decode of the same array checks its values). Other arrays get
 * the general check.
 */
export const takeKnownNumeric = (values: ReadonlyArray<unknown>): boolean =>
  knownNumericColumns.delete(values as ReadonlyArray<number>)

/**
 * A column the row codec built that holds only 0 and 1 (`brake`, `drs`), as booleans; otherwise
 * `undefined` (the general conversion then reports the value). A loop of its own: `columns.ts`'s
 * general conversion also sees the arrays `JSON.parse` makes (small integers), and a loop that has
 * seen both kinds runs several times slower (35 ms against 5 ms in a warm session load that had
 * decoded its lap tables first). Iterated, not indexed: an optimized indexed read that has seen a
 * generic array converts the arrays of doubles it reads after that to generic ones (`columns.ts`).
 */
export const knownZeroOneAsBooleans = (values: ReadonlyArray<unknown>): Array<boolean> | undefined => {
  if (!knownNumericColumns.has(values as ReadonlyArray<number>)) return undefined
  const booleans = new Array<boolean>(values.length)
  let index = 0
  for (const value of values) {
    if (value === 1) booleans[index++] = true
    else if (value === 0) booleans[index++] = false
    else return undefined
  }
  return booleans
}
