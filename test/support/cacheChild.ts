/**
 * A child process for cache tests: writes `count` deterministic entries with keys
 * `{prefix}-{i}` into the SQLite cache in `dir`, printing progress, then reads back the keys
 * listed in READ_KEYS (comma-separated) and prints how many it found intact. With EMIT_WARNINGS=1
 * it emits two ExperimentalWarnings of its own once the cache is open (they must still print).
 * Usage: [OPEN_AT=<epoch ms>] [EMIT_WARNINGS=1] node --import tsx test/support/cacheChild.ts <dir> <prefix> <count>
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Tif1Config } from "../../src/schema/Config.js"
import * as Cache from "../../src/services/Cache.js"

export const valueFor = (key: string) => ({
  key,
  samples: Array.from({ length: 2000 }, (_, i) => (key.length * 7919 + i * 31) % 1000)
})

const [dir, prefix, countText] = process.argv.slice(2)
const count = Number(countText)

const program = Effect.gen(function*() {
  const cache = yield* Cache.Cache
  for (let i = 0; i < count; i++) {
    const key = `${prefix}-${i}.json`
    const value = valueFor(key)
    yield* cache.set(key, value)
    process.stdout.write(`wrote ${i}\n`)
  }
  const readKeys = (process.env.READ_KEYS ?? "").split(",").filter((key) => key !== "")
  let intact = 0
  for (const key of readKeys) {
    yield* cache.invalidate("memory")
    const found = yield* cache.get(key)
    if (found._tag === "Hit" && JSON.stringify(found.value) === JSON.stringify(valueFor(key))) intact++
  }
  process.stdout.write(`intact ${intact}\n`)
  if (process.env.EMIT_WARNINGS === "1") {
    // The process's own warnings, one of them about SQLite too: only Node's load-time one is dropped.
    process.emitWarning("the caller's experimental feature", "ExperimentalWarning")
    process.emitWarning("the caller's own SQLite experiment", { type: "ExperimentalWarning" })
  }
})

/** Processes racing to open one folder all start at the wall-clock time OPEN_AT (ms), if given. */
const openAt = Number(process.env.OPEN_AT ?? 0)

if (dir !== undefined) {
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, openAt - Date.now())))
  Effect.runPromise(
    program.pipe(
      Effect.provide(Cache.layerSqlite.pipe(Layer.provide(Tif1Config.layerDefaults({ cacheDir: dir })), Layer.orDie))
    )
  ).catch((error) => {
    process.stderr.write(String(error))
    process.exit(1)
  })
}
