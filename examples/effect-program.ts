/**
 * An Effect program: provide `Tif1.layer` (config from TIF1_* variables and .tif1rc), `yield*`
 * the services, run it.
 *
 *   npx tsx examples/effect-program.ts [year] [gp] [session]
 */
import * as Effect from "effect/Effect"
import { Fetcher, SessionLoader, Tif1 } from "tif1-effect"

const [year = "2025", gp = "Australian Grand Prix", session = "Race"] = process.argv.slice(2)

const program = Effect.gen(function*() {
  const loader = yield* SessionLoader.SessionLoader
  const loaded = yield* loader.load({ year: Number(year), gp, session })
  for (const [driver, laps] of loaded.laps) {
    const times = laps.time.filter((time): time is number => time !== null)
    const best = times.length === 0 ? "no lap time" : `${Math.min(...times).toFixed(3)} s`
    console.log(`${driver} ${laps.lap.length} laps, best ${best}`)
  }
  // A single file, with a per-call timeout (a Duration in the Effect API).
  const fetcher = yield* Fetcher.Fetcher
  const corners = yield* fetcher.json({ year: Number(year), gp, session, path: "corners.json" }, {
    timeout: "10 seconds"
  })
  console.log(`corners.json: ${(corners.CornerNumber as Array<number>).length} corners`)
  console.log(`${loaded.summary.delivered} files in ${loaded.summary.seconds.toFixed(2)} s`)
})

// One layer for the whole program: it owns the HTTP session and the cache database.
Effect.runPromise(program.pipe(Effect.provide(Tif1.layer))).catch((error) => {
  console.error(`failed: ${error.message}`)
  process.exitCode = 1
})
