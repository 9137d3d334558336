/** The mock layer users test with reports what happened, and the stack counts only what was sent. */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Tif1Test from "../src/layers/Tif1Test.js"
import { CircuitBreaker } from "../src/services/CircuitBreaker.js"
import { Fetcher } from "../src/services/Fetcher.js"
import { HttpSession } from "../src/services/HttpSession.js"

const base = "https://cdn.jsdelivr.net/gh/TracingInsights"
const request = { year: 2025, gp: "Australian Grand Prix", session: "Race" }
const urlOf = (path: string) => `${base}/2025@main/Australian%20Grand%20Prix/Race/${path}`

describe("Tif1Test", () => {
  it.effect("session stats report what the routes answered, and no connections it never made", () =>
    Effect.gen(function*() {
      const routes = Tif1Test.routes({ [urlOf("drivers.json")]: { status: 200, body: { drivers: [] } } })
      const stats = yield* Effect.gen(function*() {
        const fetcher = yield* Fetcher
        yield* fetcher.json({ ...request, path: "drivers.json" })
        yield* Effect.flip(fetcher.json({ ...request, path: "weather.json" }))
        return yield* Effect.flatMap(HttpSession, (session) => session.stats)
      }).pipe(Effect.provide(Tif1Test.layer(routes, { cdns: [base] })))
      expect(stats).toEqual({
        totalRequests: 2,
        connectionsCreated: 0,
        connectionsReused: 0,
        reuseRate: 0,
        byOrigin: {
          "https://cdn.jsdelivr.net": { protocol: "unknown", requests: 2, connectionsCreated: 0, connectionsReused: 0 }
        }
      })
    }))

  it.effect("calls failed fast by an open breaker add no requests to the stats", () =>
    Effect.gen(function*() {
      const routes = Tif1Test.routes({ [urlOf("drivers.json")]: { error: "reset" } })
      const [stats, state, errors] = yield* Effect.gen(function*() {
        const fetcher = yield* Fetcher
        const first = yield* Effect.flip(fetcher.json({ ...request, path: "drivers.json" }))
        const fast = yield* Effect.forEach(
          Array.from({ length: 10 }),
          () => Effect.flip(fetcher.json({ ...request, path: "drivers.json" }))
        )
        return [yield* fetcher.stats, yield* Effect.flatMap(CircuitBreaker, (b) => b.state), [first, ...fast]] as const
      }).pipe(Effect.provide(Tif1Test.layer(routes, { cdns: [base], maxRetries: 0, circuitBreakerThreshold: 1 })))
      expect(errors.map((error) => (error as { kind?: string }).kind)).toEqual([
        "reset",
        ...Array.from({ length: 10 }, () => "circuit-open")
      ])
      expect(state).toBe("open")
      expect(routes.requests).toHaveLength(1)
      expect(stats.requests).toBe(1)
    }))
})
