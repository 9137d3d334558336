/**
 * How far a typed name is from a name an event answers to, for "did you mean": shared by the
 * calendar (timing data, 2018 on) and the Stats archive (1950 on), so both suggest alike.
 *
 * @internal
 */

/** Edit distance, for "did you mean". */
const editDistance = (a: string, b: string): number => {
  const previous = Array.from({ length: b.length + 1 }, (_, index) => index)
  for (let i = 1; i <= a.length; i++) {
    let diagonal = previous[0]!
    previous[0] = i
    for (let j = 1; j <= b.length; j++) {
      const above = previous[j]!
      previous[j] = Math.min(above + 1, previous[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1))
      diagonal = above
    }
  }
  return previous[b.length]!
}

/**
 * How far a typed name is from a name an event answers to: the edit distance to the whole name, or
 * to the run of its words that is nearest plus one (for the words left out), whichever is less. So
 * `vegas` is 1 from `las vegas` (and 4 from `japan`), and `emirats` is 2 from `united arab emirates`.
 */
export const nameDistance = (typed: string, key: string): number => {
  let best = editDistance(typed, key)
  const words = key.split(" ")
  for (let start = 0; start < words.length; start++) {
    for (let end = start + 1; end <= words.length; end++) {
      if (end - start === words.length) continue
      best = Math.min(best, editDistance(typed, words.slice(start, end).join(" ")) + 1)
    }
  }
  return best
}
