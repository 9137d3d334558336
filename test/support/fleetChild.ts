/**
 * One process of a fleet: fetches the files listed in FILES (JSON array of paths of one session)
 * from the CDN `origin`, with its own SQLite folder and the shared Redis at `redisUrl`, starting
 * at the wall-clock time START_AT (ms) so the processes race; prints one JSON line with the
 * values' digest and the cache's stats.
 * Usage: START_AT=<ms> FILES=<json> node --import tsx test/support/fleetChild.ts <origin> <cacheDir> <redisUrl>
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Crypto from "node:crypto"
import { Tif1Config } from "../../src/schema/Config.js"
import * as Cache from "../../src/services/Cache.js"
import { Fetcher } from "../../src/services/Fetcher.js"
import { stack } from "./stack.js"

const [origin, cacheDir, redisUrl] = process.argv.slice(2) as [string, string, string]
const files = JSON.parse(process.env.FILES ?? "[]") as Array<string>
const session = { year: 2025, gp: "Australian Grand Prix", session: "Race" }

const program = Effect.gen(function*() {
  const fetcher = yield* Fetcher
  const values = yield* Effect.forEach(files, (path) => fetcher.json({ ...session, path }), { concurrency: 8 })
  const digest = Crypto.createHash("sha1").update(JSON.stringify(values)).digest("hex")
  const stats = yield* Effect.flatMap(Cache.Cache, (cache) => cache.stats)
  process.stdout.write(`${JSON.stringify({ digest, stats })}\n`)
})

await new Promise((resolve) => setTimeout(resolve, Math.max(0, Number(process.env.START_AT ?? 0) - Date.now())))
await Effect.runPromise(
  program.pipe(
    Effect.provide(stack(
      { cdns: [`${origin}/{year}/{gp}/{session}/{path}`] },
      Cache.layerSqlite.pipe(Layer.provide(Tif1Config.layerDefaults({ cacheDir, redisUrl })))
    ))
  )
).catch((error) => {
  process.stderr.write(String(error))
  process.exit(1)
})
