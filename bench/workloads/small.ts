/**
 * The small-file workload (at 0 ms only): GETs of one 20 KB file, `HttpSession.get` against
 * `undici.request` with the same connection options, over HTTP/1.1 and HTTP/2. Bodies are read,
 * not parsed: this is the HTTP layer alone.
 */
import * as Effect from "effect/Effect"
import type { Dispatcher } from "undici"
import { request } from "undici"
import { HttpSession } from "../../src/services/HttpSession.js"
import { onAgent, onStack, pool, rawH1Agent, rawH2Pool, tif1Runtime } from "../clients.js"
import type { Contender, WorkloadContext } from "../harness.js"
import type { ServerKey } from "../server.js"
import { benchUrl, smallPath } from "../synthetic.js"

/** The small-file contenders at `context.latency` (none but at 0 ms). */
export const smallContenders = (context: WorkloadContext): Array<Contender> => {
  const { h1, h2, latency, ready } = context
  const { concurrency, smallRequests } = context.options
  if (latency !== 0) return []
  const smallUrls = (server: ServerKey) =>
    Array.from({ length: smallRequests }, () => benchUrl(ready.origins[server], smallPath))
  const small = (name: string, server: ServerKey, baseline: string, prepare: Contender["prepare"]): Contender => ({
    name,
    workload: "small",
    server,
    baseline,
    files: smallRequests,
    prepare
  })
  const raw = (name: string, server: ServerKey, dispatcher: (origin: string) => Dispatcher) =>
    small(name, server, name, () =>
      onAgent(
        dispatcher(ready.origins[server]),
        async (agent) =>
          (await pool(smallUrls(server), concurrency, async (url) => {
            const response = await request(url, { dispatcher: agent })
            await response.body.arrayBuffer()
            return response.statusCode
          })).filter((status) => status === 200).length
      ))
  const session = (name: string, server: ServerKey, baseline: string) =>
    small(name, server, baseline, () =>
      onStack(
        tif1Runtime(ready.origins[server], { enableCache: false }, { ca: ready.cert }),
        (runtime) =>
          runtime.runPromise(
            Effect.flatMap(HttpSession, (http) =>
              Effect.forEach(smallUrls(server), (url) => Effect.map(http.get(url), (response) => response.status), {
                concurrency
              })).pipe(Effect.map((statuses) => statuses.filter((status) => status === 200).length))
          )
      ))
  return [
    raw("undici h1 20KB", h1, () => rawH1Agent(concurrency)),
    session("HttpSession h1 20KB", h1, "undici h1 20KB"),
    raw("undici h2 20KB", h2, (origin) => rawH2Pool(origin, concurrency, ready.cert)),
    session("HttpSession h2 20KB", h2, "undici h2 20KB")
  ]
}
