/**
 * Internal (not exported from the package, so users cannot add arrays to it): the columns the
 * persistent tiers' row codec built from stored typed bytes, which the payload decoders deliver as
 * they are.
 *
 * @since 0.2.0
 */

/**
 * Arrays the row codec built from a column's stored bytes (every numeric column of a cached file
 * it reads back): numbers by construction, so a decoder delivers them without looking at a value.
 *
 * They are not frozen: freezing an array of doubles makes V8 box every element (twice the heap),
 * and any check that they still hold what the codec wrote costs what the codec saved. In 0.1.0
 * the decoders checked each one again (a `for...of` loop, then `every` and `includes`): 24 ms of a
 * 240 ms warm session load once the process was warm, 80 to 150 ms in its first load (those loops
 * run unoptimized for most of it), and a check of types only: a caller who writes a wrong number
 * into a cached array is not found by any check. A cached value is shared by every caller, read
 * only (its types say so, its objects are frozen); a caller's write into one of its arrays is
 * what later callers get, whatever the array holds.
 */
export const knownNumericColumns = new WeakSet<ReadonlyArray<number>>()

/**
 * Whether a column is one the row codec built: a decoder may deliver it as it is. Other arrays get
 * the general check.
 */
export const isKnownNumeric = (values: ReadonlyArray<unknown>): boolean =>
  knownNumericColumns.has(values as ReadonlyArray<number>)

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
