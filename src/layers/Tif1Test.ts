/**
 * `Tif1Test`: layers for users' tests. An `HttpSession` that answers from an in-memory map of
 * URL -> response (an unmatched URL is a 404), with the rest of the stack real, so a test of a
 * user's own program exercises retries, CDN fallback, the breaker and the cache without a network.
 *
 * @example
 * ```ts
 * const routes = Tif1Test.routes({
 *   "https://cdn.jsdelivr.net/gh/TracingInsights/2025@main/Australian%20Grand%20Prix/Race/drivers.json":
 *     [{ status: 503 }, { status: 200, body: { drivers: [] } }]
 * })
 * const layer = Tif1Test.layer(routes, { maxRetries: 1, retryBackoffFactor: 0, retryJitter: false })
 * ```
 *
 * The Stats archive (`Archive`) answers from the same routes, at its default URLs:
 *
 * @example
 * ```ts
 * const routes = Tif1Test.routes({
 *   [Tif1Test.statsUrl("2025/events.json")]: { status: 200, body: eventsJson },
 *   [Tif1Test.statsUrl("2025/australian-grand-prix/results.json")]: { status: 200, body: resultsJson }
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { defaultStatsCdns, Tif1Config, type Tif1ConfigOverrides } from "../schema/Config.js"
import { NetworkError, NetworkErrorKind } from "../schema/Errors.js"
import * as Cache from "../services/Cache.js"
import { DnsResolver } from "../services/DnsResolver.js"
import {
  type ConnectionStats,
  defaultH2Windows,
  type HttpResponse,
  HttpSession,
  makeWithDispatcher,
  type OriginStats
} from "../services/HttpSession.js"
import { RoutingDispatcher } from "../services/internal/routingDispatcher.js"
import { layerFrom, type Tif1Services } from "./Tif1.js"

/**
 * One canned answer. `body` may be a string, bytes, or any JSON value (serialised).
 * `error` makes the request fail with a `NetworkError` instead (a transport failure): of that kind
 * when it names one (`"reset"`, `"timeout"`, `"connect"`, ...), else of kind `transport` with it as the reason.
 *
 * @since 0.1.0
 */
export interface CannedResponse {
  readonly status?: number
  readonly body?: unknown
  readonly headers?: Readonly<Record<string, string>>
  readonly error?: string
}

/**
 * A URL's answers: one answer for every request, or a list answered in turn (the last repeats).
 *
 * @since 0.1.0
 */
export type Route = CannedResponse | ReadonlyArray<CannedResponse>

/**
 * The mock's routes plus the log of requests it saw (URL and Clock time), for assertions.
 *
 * @since 0.1.0
 */
export interface TestRoutes {
  readonly routes: Map<string, Route>
  readonly requests: Array<{ readonly url: string; readonly at: number }>
  /** Requests seen for one URL. */
  readonly hits: (url: string) => number
}

/**
 * Routes from a plain object.
 *
 * @since 0.1.0
 */
export const routes = (table: Readonly<Record<string, Route>> = {}): TestRoutes => {
  const requests: Array<{ url: string; at: number }> = []
  return {
    routes: new Map(Object.entries(table)),
    requests,
    hits: (url) => requests.filter((request) => request.url === url).length
  }
}

/**
 * The URL the Stats archive asks first for a path in the archive (`2025/events.json`), with the
 * default `stats_cdns`: jsDelivr, each segment percent-encoded (`são-paulo-grand-prix` as
 * `s%C3%A3o-paulo-grand-prix`). A key for `routes`.
 *
 * @since 0.2.0
 */
export const statsUrl = (path: string): string =>
  defaultStatsCdns[0]!.replace("{path}", path.split("/").map(encodeURIComponent).join("/"))

const encoder = new TextEncoder()
const bodyBytes = (body: unknown): Uint8Array =>
  body === undefined
    ? new Uint8Array()
    : body instanceof Uint8Array
    ? body
    : encoder.encode(typeof body === "string" ? body : JSON.stringify(body))

/**
 * An `HttpSession` answering from `routes`. Its stats report what the routes answered: requests
 * per origin, and no connections (there are none to create or reuse, so the reuse rate is 0).
 *
 * @since 0.1.0
 */
export const sessionLayer = (table: TestRoutes): Layer.Layer<HttpSession> =>
  Layer.effect(
    HttpSession,
    Effect.gen(function*() {
      // A real (idle) dispatcher backs `dispatcher`/`HttpClient` interop; it never opens a socket here.
      const dispatcher = yield* Effect.acquireRelease(
        Effect.sync(() =>
          new RoutingDispatcher({
            socketsPerOrigin: 1,
            keepAliveTimeoutMs: 1000,
            maxRequestsPerConnection: 1,
            multiplexed: false,
            maxStreamsPerConnection: 1,
            maxH2ConnectionsPerOrigin: 1,
            h2Windows: defaultH2Windows,
            connectTimeoutMs: 1000,
            lookup: undefined,
            ca: undefined
          })
        ),
        (dispatcher) => Effect.promise(() => dispatcher.close())
      )
      const real = makeWithDispatcher(dispatcher, { userAgent: "tif1-test", defaultTimeout: Duration.seconds(1) })
      const served = new Map<string, number>()
      const answeredByOrigin = new Map<string, number>()
      const get = (url: string) =>
        Effect.gen(function*() {
          table.requests.push({ url, at: yield* Clock.currentTimeMillis })
          const origin = URL.canParse(url) ? new URL(url).origin : url
          answeredByOrigin.set(origin, (answeredByOrigin.get(origin) ?? 0) + 1)
          const route = table.routes.get(url)
          const index = served.get(url) ?? 0
          served.set(url, index + 1)
          const answer: CannedResponse = route === undefined
            ? { status: 404, body: "Not Found" }
            : Array.isArray(route)
            ? route[Math.min(index, route.length - 1)] ?? { status: 404 }
            : route as CannedResponse
          if (answer.error !== undefined) {
            const kind = Schema.is(NetworkErrorKind)(answer.error) ? answer.error : "transport"
            return yield* new NetworkError({ url, kind, reason: answer.error })
          }
          const body = bodyBytes(answer.body)
          return {
            status: answer.status ?? 200,
            headers: answer.headers ?? {},
            body,
            wireBytes: body.byteLength
          } satisfies HttpResponse
        })
      return {
        ...real,
        get,
        stats: Effect.sync((): ConnectionStats => {
          const byOrigin: Record<string, OriginStats> = {}
          let totalRequests = 0
          for (const [origin, requests] of answeredByOrigin) {
            byOrigin[origin] = { protocol: "unknown", requests, connectionsCreated: 0, connectionsReused: 0 }
            totalRequests += requests
          }
          return { totalRequests, connectionsCreated: 0, connectionsReused: 0, reuseRate: 0, byOrigin }
        }),
        resetStats: Effect.sync(() => answeredByOrigin.clear())
      }
    })
  )

const noDns = Layer.succeed(DnsResolver, {
  resolve: (hostname) =>
    Effect.fail(new NetworkError({ url: `dns://${hostname}`, kind: "dns", reason: "disabled in Tif1Test" })),
  lookup: (_hostname, _options, callback) => callback(new Error("dns disabled in Tif1Test"), "", 4)
})

/**
 * Every tif1 service, with the mock session, defaults plus `overrides` for config (environment
 * and files are ignored so tests are hermetic), and a memory-only cache unless `cache` says
 * otherwise.
 *
 * @since 0.1.0
 */
export const layer = (
  table: TestRoutes,
  overrides: Tif1ConfigOverrides = {},
  cache: Layer.Layer<Cache.Cache, never, Tif1Config> = Cache.layerMemory
): Layer.Layer<Tif1Services> =>
  layerFrom(Tif1Config.layerDefaults({ connectionStatsLogInterval: 0, ...overrides }), {
    dns: noDns,
    session: sessionLayer(table),
    cache
  }).pipe(Layer.orDie)
