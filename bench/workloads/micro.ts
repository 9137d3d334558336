/**
 * Micro measurements, once after the contenders: `Fetcher.json` on a key in the memory tier and
 * on one only in SQLite (a fresh memory tier) against `JSON.parse` of the same file, telemetry
 * decoding against `JSON.parse`, and the least a warm load must do with the data whatever the
 * storage (build every numeric column as an array of numbers and keep it alive).
 */
import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { decodeTelemetry } from "../../src/schema/payloads/Telemetry.js"
import { Fetcher } from "../../src/services/Fetcher.js"
import { cacheSettings, fetchMany, type Stack, tif1Runtime } from "../clients.js"
import type { MicroResult } from "../harness.js"
import type { ServerReady } from "../server.js"
import { percentile } from "../summary.js"
import { benchSession, type SyntheticSession } from "../synthetic.js"

/** Microseconds `task` takes, once. */
const time = (task: () => void) => {
  const started = performance.now()
  task()
  return (performance.now() - started) * 1000
}

/** Every micro figure, in the order the report lists them; `temporary` gives the cache its folder. */
export const microBenchmarks = async (
  ready: ServerReady,
  synthetic: SyntheticSession,
  temporary: () => string
): Promise<Array<MicroResult>> => {
  const origin = ready.origins["h2-0"]
  const paths = synthetic.telemetryPaths
  const folder = Path.join(synthetic.root, String(benchSession.year), benchSession.gp, benchSession.session)
  const texts = paths.map((path) => Fs.readFileSync(Path.join(folder, path), "utf8"))
  const parseMicros = texts.map((text) => time(() => JSON.parse(text)))
  const parsed = texts.map((text) => JSON.parse(text) as unknown)
  const decodeMicros = parsed.map((value) =>
    time(() => {
      if ("error" in decodeTelemetry(value)) throw new Error("a bench telemetry file does not decode")
    })
  )

  // The least a warm load must do with the data whatever the storage: turn every numeric column
  // of every telemetry file into an array of numbers, all kept alive (as the load returns them).
  const numericColumns = parsed.map((value) =>
    Object.values((value as { tel: Record<string, unknown> }).tel)
      .filter((column): column is Array<number> => Array.isArray(column) && typeof column.at(0) === "number")
      .map((column) => new Float64Array(column))
  )
  const kept: Array<Array<Array<number>>> = []
  const materializeMs = time(() => {
    for (const columns of numericColumns) {
      kept.push(columns.map((stored) => {
        const column = new Array<number>(stored.length)
        for (let index = 0; index < stored.length; index++) column[index] = stored[index]!
        return column
      }))
    }
  }) / 1000
  kept.length = 0

  const settings = cacheSettings(temporary(), paths.length)
  const filler = tif1Runtime(origin, settings, { ca: ready.cert })
  await fetchMany(filler, paths, 32)
  const perCall = (runtime: Stack) =>
    runtime.runPromise(Effect.gen(function*() {
      const fetcher = yield* Fetcher
      const micros: Array<number> = []
      for (const path of paths) {
        const started = performance.now()
        yield* fetcher.json({ ...benchSession, path })
        micros.push((performance.now() - started) * 1000)
      }
      return micros
    }))
  const memoryMicros = await perCall(filler) // every key is in the memory tier now
  await filler.dispose()
  const fresh = tif1Runtime(origin, settings, { ca: ready.cert })
  const sqliteMicros = await perCall(fresh) // memory tier empty: every key from SQLite
  await fresh.dispose()

  const p50 = (values: ReadonlyArray<number>) => percentile(values, 0.5)
  return [
    { name: "memory hit p50", value: p50(memoryMicros), unit: "µs", note: "Fetcher.json on a warm key" },
    { name: "memory hit p99", value: percentile(memoryMicros, 0.99), unit: "µs", note: "" },
    {
      name: "SQLite hit / JSON.parse (p50)",
      value: p50(sqliteMicros) / p50(parseMicros),
      unit: "ratio",
      note: `Fetcher.json from SQLite ${p50(sqliteMicros).toFixed(0)} µs (read, checksum, columns from their bytes) ` +
        `vs JSON.parse of the text ${p50(parseMicros).toFixed(0)} µs`
    },
    {
      name: "telemetry decode / JSON.parse (p50)",
      value: p50(decodeMicros) / p50(parseMicros),
      unit: "ratio",
      note: `decode ${p50(decodeMicros).toFixed(0)} µs vs JSON.parse ${p50(parseMicros).toFixed(0)} µs per file`
    },
    {
      name: "numeric columns of every telemetry file",
      value: materializeMs,
      unit: "ms",
      note: `${paths.length} files' number arrays built from Float64Arrays and kept alive, no I/O: ` +
        "the least a warm session load spends"
    }
  ]
}
