/**
 * JSON as TracingInsights writes it: Python's `json` module emits bare `NaN`, `Infinity` and
 * `-Infinity`, which `JSON.parse` rejects. The common case is plain `JSON.parse`; only a body
 * that fails and contains one of those tokens takes the slow path, which rewrites them outside
 * strings: `NaN` becomes `null` (pandas' missing value), `Infinity` becomes `1e999`, which
 * `JSON.parse` reads as `Infinity` (so `-Infinity` stays a number too).
 *
 * @internal
 */

/** Strings are matched first so tokens inside them are left alone. */
const pythonTokens = /"(?:[^"\\]|\\.)*"|NaN|Infinity/g

const rewritePythonTokens = (text: string): string =>
  text.replace(pythonTokens, (match) => (match === "NaN" ? "null" : match === "Infinity" ? "1e999" : match))

/** Parse a body; `undefined` error means success. */
export const parseJsonText = (text: string): { readonly value?: unknown; readonly error?: string } => {
  try {
    return { value: JSON.parse(text) }
  } catch (error) {
    if (text.includes("NaN") || text.includes("Infinity")) {
      try {
        return { value: JSON.parse(rewritePythonTokens(text)) }
      } catch {
        // fall through to the original error, which points at the real problem
      }
    }
    return { error: (error as Error).message }
  }
}

/** Decode UTF-8 bytes and parse them. */
export const parseJsonBytes = (bytes: Uint8Array) => {
  // Buffer's UTF-8 decoding is faster than TextDecoder's here; a BOM is skipped as TextDecoder would.
  const start = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0
  return parseJsonText(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8", start))
}

/**
 * Freeze a parsed JSON value and everything in it, so a caller cannot change what the next one
 * gets, except numeric columns. An array whose first element is a number is left as it is:
 * V8 keeps such arrays as packed doubles, and freezing one boxes every element (measured on a
 * telemetry file: twice the parse time and twice the heap). Their types are `ReadonlyArray`, so
 * TypeScript callers cannot write to them either. The first element is read with `at`, not `[0]`,
 * for the same reason `decodeColumn` iterates (see `columns.ts`): an optimized indexed read would
 * box them anyway.
 */
export const deepFreeze = <A>(value: A): A => {
  if (value === null || typeof value !== "object" || Object.isFrozen(value)) return value
  if (Array.isArray(value)) {
    if (typeof value.at(0) === "number") return value
    Object.freeze(value)
    for (const item of value) if (item !== null && typeof item === "object") deepFreeze(item)
    return value
  }
  Object.freeze(value)
  for (const key in value) deepFreeze((value as Record<string, unknown>)[key])
  return value
}
