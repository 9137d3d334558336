/**
 * Internal (not exported from the package, so users cannot add arrays to it): the columns the
 * persistent tiers' row codec built from stored typed bytes, which the payload decoders deliver as
 * they are.
 *
 * @since 0.2.0
 */

/**
 * Arrays the row codec built from a column's stored bytes (every numeric column of a cached file
 * it reads back) that no payload decoder has delivered yet: numbers by construction, so the first
 * decoder delivers them without looking at a value (`takeKnownNumeric`).
 *
 * They are not frozen: freezing an array of doubles makes V8 box every element (twice the heap).
 * In 0.1.0 the decoders checked each one (a `for...of` loop, then `every` and `includes`): 24 ms
 * of a 240 ms warm session load once the process was warm, 80 to 150 ms in its first load (those
 * loops run unoptimized for most of it). Only that first decode, which reads the row, skips the
 * check: a decoder takes the mark, and once a caller holds the array it is checked like any other
 * at every later decode (a memory-tier hit), so a value a caller wrote into a shared cached array
 * is reported, never delivered as a number. A wrong number written into it is not found by any
 * check: a cached value is shared by every caller and read only (its types say so, its objects
 * are frozen).
 */
export const knownNumericColumns = new WeakSet<ReadonlyArray<number>>()

/**
 * Whether a column is one the row codec built that no decoder has delivered: the caller delivers
 * it as it is, and the mark is gone (the next decode of the same array checks its values). Other
 * arrays get the general check.
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
