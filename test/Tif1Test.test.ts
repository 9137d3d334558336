/** The mock layer users test with reports what happened, and the stack counts only what was sent. */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as References from "effect/References"
import * as TestClock from "effect/testing/TestClock"
import * as Tif1Test from "../src/layers/Tif1Test.js"
import { Archive } from "../src/services/Archive.js"
import { CircuitBreaker } from "../src/services/CircuitBreaker.js"
import { Fetcher } from "../src/services/Fetcher.js"
import { HttpSession } from "../src/services/HttpSession.js"
import { statsFixture } from "./support/archive.js"

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
        return yield* HttpSession.use((session) => session.stats)
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
        return [yield* fetcher.stats, yield* CircuitBreaker.use((b) => b.state), [first, ...fast]] as const
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

describe("what the stack tells an operator", () => {
  it.effect("failed rounds and waits at debug; a CDN skipped, recovered, and the breaker at info or warning", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const capture = Logger.layer([
        Logger.make(({ logLevel, message }) => lines.push(`${logLevel.toUpperCase()} ${String(message)}`))
      ])
      const url = urlOf("drivers.json")
      const routes = Tif1Test.routes({
        [url]: [{ status: 503 }, { status: 503 }, { status: 503 }, { status: 200, body: { drivers: [] } }]
      })
      const layer = Tif1Test.layer(routes, {
        cdns: [base],
        maxRetries: 2,
        retryBackoffFactor: 2,
        retryJitter: false,
        circuitBreakerThreshold: 3,
        circuitBreakerTimeout: 10,
        cdnRecoveryTimeout: 5
      })
      yield* Effect.gen(function*() {
        const fetcher = yield* Fetcher
        const failing = yield* Effect.forkChild(Effect.flip(fetcher.json({ ...request, path: "drivers.json" })))
        yield* TestClock.adjust("2 seconds")
        yield* TestClock.adjust("4 seconds")
        yield* Fiber.join(failing)
        yield* TestClock.adjust("10 seconds")
        yield* fetcher.json({ ...request, path: "drivers.json" })
      }).pipe(
        Effect.provide(layer),
        Effect.provide(capture),
        Effect.provideService(References.MinimumLogLevel, "Debug")
      )
      const cdn = "cdn.jsdelivr.net"
      expect(lines).toEqual([
        `DEBUG fetch 2025/Australian Grand Prix/Race/drivers.json: round 1 failed (${cdn}: http-status (HTTP 503))`,
        "DEBUG fetch 2025/Australian Grand Prix/Race/drivers.json: round 2 after 2s",
        `DEBUG fetch 2025/Australian Grand Prix/Race/drivers.json: round 2 failed (${cdn}: http-status (HTTP 503))`,
        "DEBUG fetch 2025/Australian Grand Prix/Race/drivers.json: round 3 after 4s",
        `WARN cdn ${cdn} skipped for 5 s after 3 consecutive failures`,
        "WARN circuit breaker open after 3 consecutive failed rounds; failing fast for 10 s " +
        `(last: ${cdn}: http-status (HTTP 503))`,
        `DEBUG fetch 2025/Australian Grand Prix/Race/drivers.json: round 3 failed (${cdn}: http-status (HTTP 503))`,
        `INFO cdn ${cdn} recovered: it delivered again`,
        "INFO circuit breaker closed: the probe went through"
      ])
    }))
})

describe("Tif1Test and the Stats archive", () => {
  it.effect("a user's program reading results runs on routes at the archive's URLs, falling back to GitHub raw", () =>
    Effect.gen(function*() {
      const raw = (path: string) => `https://raw.githubusercontent.com/TracingInsights-Archive/Stats/main/${path}`
      const routes = Tif1Test.routes({
        [Tif1Test.statsUrl("2025/events.json")]: { status: 503 },
        [raw("2025/events.json")]: { status: 200, body: statsFixture("2025/events.json") },
        [Tif1Test.statsUrl("2025/australian-grand-prix/results.json")]: {
          status: 200,
          body: statsFixture("2025/australian-grand-prix/results.json")
        }
      })
      const podium = yield* Effect.gen(function*() {
        const rows = yield* (yield* Archive).results({ year: 2025, gp: "Australia" })
        return rows.slice(0, 3).map((row) => row.driver.code)
      }).pipe(Effect.provide(Tif1Test.layer(routes, { maxRetries: 0 })))
      expect(podium).toEqual(["NOR", "VER", "RUS"])
      expect(routes.requests.map((request) => request.url)).toEqual([
        "https://cdn.jsdelivr.net/gh/TracingInsights-Archive/Stats@main/2025/events.json",
        "https://raw.githubusercontent.com/TracingInsights-Archive/Stats/main/2025/events.json",
        "https://cdn.jsdelivr.net/gh/TracingInsights-Archive/Stats@main/2025/australian-grand-prix/results.json"
      ])
    }))

  it.effect("the archive asks for an accented slug percent-encoded: 2025/s%C3%A3o-paulo-grand-prix", () =>
    Effect.gen(function*() {
      const routes = Tif1Test.routes({
        "https://archive.example/2025/events.json": { status: 200, body: statsFixture("2025/events.json") }
      })
      const error = yield* Effect.flip(
        Effect.flatMap(Archive, (archive) => archive.results({ year: 2025, gp: "Sao Paulo" })).pipe(
          Effect.provide(Tif1Test.layer(routes, { maxRetries: 0, statsCdns: ["https://archive.example/{path}"] }))
        )
      )
      expect(error).toMatchObject({ _tag: "DataNotFoundError", gp: "são-paulo-grand-prix" })
      expect(routes.requests.map((request) => request.url)).toEqual([
        "https://archive.example/2025/events.json",
        "https://archive.example/2025/s%C3%A3o-paulo-grand-prix/results.json"
      ])
    }))

  it("statsUrl percent-encodes each segment, accents included", () => {
    expect(Tif1Test.statsUrl("2025/são-paulo-grand-prix/results.json")).toBe(
      "https://cdn.jsdelivr.net/gh/TracingInsights-Archive/Stats@main/2025/s%C3%A3o-paulo-grand-prix/results.json"
    )
  })
})
