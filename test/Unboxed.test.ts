/**
 * Numeric columns must stay arrays of unboxed doubles (8 bytes a value). An optimized loop that
 * reads elements of both double arrays and generic arrays may convert the double ones to generic
 * arrays, boxing every value (24 bytes a value): a warm session load then kept 254 MB alive instead
 * of 119 MB and took twice the page faults. The code that looks at every column
 * (decoding, freezing, packing for SQLite) reads elements only through iteration or builtins,
 * which never convert. V8's own check tells; these tests fail when a column loop reads by index.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as V8 from "node:v8"
import { Tif1Config } from "../src/schema/Config.js"
import { decodeTable } from "../src/schema/payloads/columns.js"
import { knownNumericColumns } from "../src/schema/payloads/knownNumeric.js"
import * as Cache from "../src/services/Cache.js"
import { deepFreeze } from "../src/services/internal/json.js"

V8.setFlagsFromString("--allow-natives-syntax")
const hasDoubleElements = new Function("array", "return %HasDoubleElements(array)") as (array: unknown) => boolean
const hasSmiElements = new Function("array", "return %HasSmiElements(array)") as (array: unknown) => boolean

/** Enough rounds for V8 to optimize the loops under test. */
const rounds = 3000
const length = 64

/** Arrays as V8 deserialization and the SQLite tier make them: holey, doubles or generic. */
const doubles = (): Array<number> => {
  const values = new Array<number>(length)
  for (let index = 0; index < length; index++) values[index] = index + 0.5
  return values
}
const strings = (): Array<string> => {
  const values = new Array<string>(length)
  for (let index = 0; index < length; index++) values[index] = `s${index % 3}`
  return values
}

/** Runs `use` on fresh double and string columns; counts the double columns left boxed. */
const boxedAfter = (use: (columns: { readonly numbers: Array<number>; readonly names: Array<string> }) => void) => {
  let boxed = 0
  for (let round = 0; round < rounds; round++) {
    const columns = { numbers: doubles(), names: strings() }
    use(columns)
    if (!hasDoubleElements(columns.numbers)) boxed++
  }
  return boxed
}

describe("numeric columns stay unboxed", () => {
  it("the check sees unboxed doubles before anything runs", () => {
    expect(hasDoubleElements(doubles())).toBe(true)
    expect(hasDoubleElements(strings())).toBe(false)
  })

  it("through column decoding", () => {
    // The number check also sees generic arrays: columns with missing values.
    const spec = { name: "table", columns: { numbers: "number?", names: "string" } } as const
    const withMissing = () => {
      const values: Array<number | null> = doubles()
      values[0] = null
      return values
    }
    expect(boxedAfter((columns) => {
      const decoded = [decodeTable({ ...columns, numbers: withMissing() }, spec), decodeTable(columns, spec)]
      if (decoded.some((table) => "error" in table)) throw new Error("did not decode")
    })).toBe(0)
  })

  it("through freezing", () => {
    expect(boxedAfter((columns) => void deepFreeze(columns))).toBe(0)
  })

  it.effect("through a SQLite write", () =>
    Effect.gen(function*() {
      const cacheDir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "tif1-unboxed-"))
      const writes = rounds / 3
      const [boxed, stats] = yield* Effect.gen(function*() {
        const cache = yield* Cache.Cache
        let boxed = 0
        for (let round = 0; round < writes; round++) {
          const value = { numbers: doubles(), names: strings() }
          yield* cache.set(`2025/x/Race/VER/${round}_tel.json`, value)
          if (!hasDoubleElements(value.numbers)) boxed++
        }
        return [boxed, yield* cache.stats] as const
      }).pipe(Effect.provide(Cache.layerSqlite.pipe(Layer.provide(Tif1Config.layerDefaults({ cacheDir })))))
      expect(stats.sqlite.entries).toBe(writes)
      expect(boxed).toBe(0)
      Fs.rmSync(cacheDir, { recursive: true, force: true })
    }))

  it.effect("a column read back from SQLite is known numeric: decoding delivers that array, unboxed (integer columns too)", () =>
    Effect.gen(function*() {
      const cacheDir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "tif1-known-"))
      const layer = Cache.layerSqlite.pipe(Layer.provide(Tif1Config.layerDefaults({ cacheDir })))
      const key = "2025/x/Race/VER/1_tel.json"
      const integersKey = "2025/x/Race/VER/2_tel.json"
      const integers = (limit: number) => Array.from({ length }, (_, index) => index % limit)
      yield* Effect.flatMap(Cache.Cache, (cache) =>
        Effect.andThen(
          cache.set(key, { numbers: doubles(), names: strings() }),
          cache.set(integersKey, { gear: integers(8), brake: integers(2), speed: [...integers(300), 0.5] })
        )).pipe(Effect.provide(layer))
      // A new stack: the value comes from the SQLite row, not the memory tier.
      const read = yield* Effect.flatMap(Cache.Cache, (cache) => cache.get(key)).pipe(Effect.provide(layer))
      if (read._tag !== "Hit") throw new Error(`expected a hit, got ${read._tag}`)
      expect(read.tier).toBe("sqlite")
      const numbers = read.value.numbers as Array<number>
      expect(numbers).toEqual(doubles())
      expect(knownNumericColumns.has(numbers)).toBe(true)
      expect(hasDoubleElements(numbers)).toBe(true)
      const spec = { name: "table", columns: { numbers: "number", names: "string" } } as const
      const decoded = decodeTable({ numbers, names: strings() }, spec) as { value: { numbers: ReadonlyArray<number> } }
      expect(decoded.value.numbers).toBe(numbers)
      // Integer columns (stored as bytes) come back unboxed too: arrays of small integers, as
      // `JSON.parse` makes them; a float column that starts with integers, an array of doubles.
      const integersRead = yield* Effect.flatMap(Cache.Cache, (cache) => cache.get(integersKey)).pipe(
        Effect.provide(layer)
      )
      if (integersRead._tag !== "Hit") throw new Error(`expected a hit, got ${integersRead._tag}`)
      for (const name of ["gear", "brake"]) expect(hasSmiElements(integersRead.value[name]), name).toBe(true)
      expect(hasDoubleElements(integersRead.value.speed)).toBe(true)
      expect(integersRead.value.speed).toEqual([...integers(300), 0.5])
      // Arrays from anywhere else are still checked, value by value.
      const mixed: Array<unknown> = doubles()
      mixed[3] = "x"
      expect(decodeTable({ numbers: mixed, names: strings() }, spec)).toHaveProperty("error")
      Fs.rmSync(cacheDir, { recursive: true, force: true })
    }))
})
