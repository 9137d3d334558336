/**
 * Summaries of timings as every bench reports them: the median and a percentile of a sample, and
 * the aligned text table they are printed in.
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

/**
 * A header and rows as lines of columns two spaces apart, each column as wide as its widest cell;
 * cells are padded at the end, or at the start in the columns `alignRight` names.
 */
export const columns = (
  header: ReadonlyArray<string>,
  rows: ReadonlyArray<ReadonlyArray<string>>,
  alignRight: (column: number) => boolean = () => false
): Array<string> => {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells.map((cell, column) => alignRight(column) ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!))
      .join("  ")
  return [line(header), ...rows.map(line)]
}
