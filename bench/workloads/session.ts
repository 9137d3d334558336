/**
 * The session workload: a whole `SessionLoader.load` with telemetry, cold (an empty SQLite cache)
 * and warm (a new stack on the cache the latest cold load wrote), against raw undici h2 fetching
 * the same files in the same phases as the loader (drivers; weather, rcm, session_laptimes and the
 * lap tables; then telemetry). Also the cold over warm speed-up, from the results.
 */
import { cacheSettings, loadSession, onAgent, onStack, pool, rawH2Pool, rawJson, tif1Runtime } from "../clients.js"
import type { Contender, ContenderResult, MicroResult, WorkloadContext } from "../harness.js"
import { benchUrl } from "../synthetic.js"

const rawSession = "undici h2 session"
const coldSession = "tif1 session cold"
const warmSession = "tif1 session warm"

/** The session contenders at `context.latency`. */
export const sessionContenders = (context: WorkloadContext): Array<Contender> => {
  const { h2, ready, synthetic, temporary } = context
  const { concurrency } = context.options
  const origin = ready.origins[h2]
  const paths = synthetic.telemetryPaths
  const drivers = synthetic.allPaths.filter((path) => path.endsWith("/laptimes.json"))
  const session = (name: string, prepare: Contender["prepare"]): Contender => ({
    name,
    workload: "session",
    server: h2,
    baseline: rawSession,
    files: synthetic.allPaths.length,
    prepare
  })
  const loaderStack = (cacheDir: string) =>
    tif1Runtime(origin, {
      ...cacheSettings(cacheDir, paths.length),
      telemetryPrefetchMaxConcurrentRequests: concurrency
    }, { ca: ready.cert })
  let lastColdDir: string | undefined
  return [
    session(rawSession, () =>
      onAgent(rawH2Pool(origin, concurrency, ready.cert), async (agent) => {
        const get = (path: string) => rawJson(agent, benchUrl(origin, path))
        const found = [await get("drivers.json")]
        found.push(...await pool(["weather.json", "rcm.json", "session_laptimes.json", ...drivers], concurrency, get))
        found.push(...await pool(paths, concurrency, get))
        return found.filter((value) => value !== undefined).length
      })),
    session(coldSession, async () => {
      lastColdDir = temporary()
      return onStack(loaderStack(lastColdDir), loadSession)
    }),
    {
      ...session(warmSession, async () => {
        // The cache of the latest cold load (a cold load runs first in the first repetition).
        const cacheDir = lastColdDir ?? temporary()
        if (lastColdDir === undefined) {
          const filler = tif1Runtime(origin, cacheSettings(cacheDir, paths.length), { ca: ready.cert })
          await loadSession(filler)
          await filler.dispose()
        }
        return onStack(loaderStack(cacheDir), loadSession)
      }),
      // Cold before warm inside a repetition, so the warm load reads this repetition's cache.
      runsLast: true
    }
  ]
}

/** How many times faster the warm session load is than the cold one, at each latency. */
export const sessionSpeedups = (results: ReadonlyArray<ContenderResult>): Array<MicroResult> =>
  [...new Set(results.map((result) => result.latencyMs))].flatMap((latency) => {
    const median = (name: string) =>
      results.find((result) => result.latencyMs === latency && result.contender === name)?.wallMs.median
    const cold = median(coldSession)
    const warm = median(warmSession)
    return cold === undefined || warm === undefined ? [] : [{
      name: `session cold / warm (${latency} ms)`,
      value: cold / warm,
      unit: "x",
      note: `cold ${cold.toFixed(0)} ms, warm ${warm.toFixed(0)} ms`
    }]
  })
