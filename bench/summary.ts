/**
 * Summaries of timings as every bench reports them: the median and a percentile of a sample (the
 * tables they are printed in are the CLI's, `alignedLines` in `src/cli/render.ts`).
 */

/** The median: the middle value, or the mean of the two middle ones when the count is even. */
export const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

/** The value below which the share `p` (0 to 1) of the sample lies (nearest rank, no interpolation). */
export const percentile = (values: ReadonlyArray<number>, p: number): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!
}
