/**
 * The telemetry workload: every telemetry file of the synthetic session at the bench's concurrency.
 * Raw undici over HTTP/1.1 (one socket per concurrent request) and HTTP/2 (one connection, a stream
 * per concurrent request) are the baselines of tif1's `Fetcher.many` with the cache off, over each
 * protocol and with each way of handling spans. At 0 ms only: the warm tiers (memory; SQLite with a
 * fresh memory tier) against raw undici h2, and a primary CDN answering 503 to everything against
 * the healthy tif1 h2 run.
 */
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import type { Dispatcher } from "undici"
import { templateFor } from "../../src/mirror/MirrorServer.js"
import {
  cacheSettings,
  fetchMany,
  onAgent,
  onStack,
  pool,
  rawH1Agent,
  rawH2Pool,
  rawJson,
  type Stack,
  tif1Layer,
  tif1Runtime
} from "../clients.js"
import type { Contender, WorkloadContext } from "../harness.js"
import type { ServerKey } from "../server.js"
import { benchUrl } from "../synthetic.js"
import { openTelemetryTracing, type Tracing } from "../tracing.js"

/** The telemetry contenders at `context.latency`, in the order they run in the first repetition. */
export const telemetryContenders = (context: WorkloadContext): Array<Contender> => {
  const { h1, h2, latency, ready, temporary } = context
  const { concurrency } = context.options
  const paths = context.synthetic.telemetryPaths
  const telemetry = (
    name: string,
    server: ServerKey,
    baseline: string,
    prepare: Contender["prepare"]
  ): Contender => ({ name, workload: "telemetry", server, baseline, files: paths.length, prepare })

  const raw = (name: string, server: ServerKey, dispatcher: (origin: string) => Dispatcher) =>
    telemetry(name, server, name, () =>
      onAgent(
        dispatcher(ready.origins[server]),
        async (agent) =>
          (await pool(paths, concurrency, (path) => rawJson(agent, benchUrl(ready.origins[server], path))))
            .filter((value) => value !== undefined).length
      ))
  const stackFor = (server: ServerKey, tracing: Tracing): Stack => {
    const settings = { enableCache: false }
    const http = { ca: ready.cert }
    return tracing === "otel"
      ? ManagedRuntime.make(Layer.merge(tif1Layer(ready.origins[server], settings, http), openTelemetryTracing()))
      : tif1Runtime(ready.origins[server], settings, http)
  }
  const cacheOff = (name: string, server: ServerKey, baseline: string, tracing: Tracing = "default") =>
    telemetry(
      name,
      server,
      baseline,
      async () => onStack(stackFor(server, tracing), (runtime) => fetchMany(runtime, paths, concurrency, tracing))
    )

  const list: Array<Contender> = [
    raw("undici h1", h1, () => rawH1Agent(concurrency)),
    raw("undici h2", h2, (origin) => rawH2Pool(origin, concurrency, ready.cert)),
    cacheOff("tif1 h1 cache off", h1, "undici h1"),
    cacheOff("tif1 h2 cache off", h2, "undici h2"),
    // Effect's native tracer is on by default: the same run with the tracer disabled shows what
    // the per-file spans cost.
    cacheOff("tif1 h2 tracer off", h2, "undici h2", "off"),
    // What a user who installs @effect/opentelemetry pays: every per-file span recorded.
    cacheOff("tif1 h2 OpenTelemetry", h2, "undici h2", "otel")
  ]
  if (latency !== 0) return list

  // Warm tiers do not touch the network; measured once, against raw undici h2 at 0 ms.
  const warmDir = temporary()
  const warmStack = () => tif1Runtime(ready.origins[h2], cacheSettings(warmDir, paths.length), { ca: ready.cert })
  let warmed: Promise<void> | undefined
  const warmCache = () =>
    warmed ??= (async () => {
      const filler = warmStack()
      await fetchMany(filler, paths, concurrency)
      await filler.dispose()
    })()
  list.push(
    telemetry("tif1 warm memory", h2, "undici h2", async () => {
      await warmCache()
      const stack = await onStack(warmStack(), (runtime) => fetchMany(runtime, paths, concurrency))
      await stack.run() // fills the memory tier from SQLite
      return stack
    }),
    telemetry("tif1 warm SQLite", h2, "undici h2", async () => {
      await warmCache()
      return onStack(warmStack(), (runtime) => fetchMany(runtime, paths, concurrency))
    }),
    // A failing primary CDN (503 to everything) before the healthy one: against the healthy time.
    telemetry("tif1 h2 primary 503", h2, "tif1 h2 cache off", () =>
      onStack(
        tif1Runtime(ready.origins[h2], {
          cdns: [templateFor(ready.origins["h2-503"]), templateFor(ready.origins[h2])],
          enableCache: false
        }, { ca: ready.cert }),
        (runtime) => fetchMany(runtime, paths, concurrency)
      ))
  )
  return list
}
