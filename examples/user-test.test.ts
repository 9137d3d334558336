/**
 * How you test your own code with `Tif1Test`: an in-memory map of URL -> responses stands in for
 * the CDNs; retries, CDN fallback, the breaker and the cache are the real ones. Time is the
 * TestClock, so a 2-second backoff takes no time.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/testing/TestClock"
import { Fetcher, Tif1Test } from "tif1-effect"

// --- your code -----------------------------------------------------------------------------
/** The best lap time of a driver in a session. */
const bestLap = (year: number, gp: string, session: string, driver: string) =>
  Effect.gen(function*() {
    const fetcher = yield* Fetcher.Fetcher
    const table = yield* fetcher.json({ year, gp, session, path: `${driver}/laptimes.json` })
    const times = (table.time as Array<number | null>).filter((time): time is number => time !== null)
    return Math.min(...times)
  })

// --- your tests ----------------------------------------------------------------------------
const jsDelivr =
  "https://cdn.jsdelivr.net/gh/TracingInsights/2025@main/Australian%20Grand%20Prix/Race/VER/laptimes.json"
const staticDelivr =
  "https://cdn.staticdelivr.com/gh/TracingInsights/2025/main/Australian%20Grand%20Prix/Race/VER/laptimes.json"
const lapTable = { time: [98.5, null, 82.167], lap: [1, 2, 3], compound: ["SOFT", "SOFT", "SOFT"] }

describe("bestLap (a user's code, tested with Tif1Test)", () => {
  it.effect("retries a flaky CDN after the backoff", () =>
    Effect.gen(function*() {
      const routes = Tif1Test.routes({ [jsDelivr]: [{ status: 503 }, { status: 200, body: lapTable }] })
      const fiber = yield* Effect.forkChild(
        bestLap(2025, "Australian Grand Prix", "Race", "VER").pipe(
          Effect.provide(Tif1Test.layer(routes, {
            cdns: ["https://cdn.jsdelivr.net/gh/TracingInsights"],
            maxRetries: 2,
            retryBackoffFactor: 2, // round 1 waits 2 ** 1 = 2 seconds
            retryJitter: false
          }))
        )
      )
      yield* TestClock.adjust("2 seconds")
      expect(yield* Fiber.join(fiber)).toBe(82.167)
      expect(routes.requests.map((request) => request.at)).toEqual([0, 2000])
    }))

  it.effect("falls back to the second CDN when the first one fails", () =>
    Effect.gen(function*() {
      const routes = Tif1Test.routes({
        [jsDelivr]: { status: 500 },
        [staticDelivr]: { status: 200, body: lapTable }
      })
      const best = yield* bestLap(2025, "Australian Grand Prix", "Race", "VER").pipe(
        Effect.provide(Tif1Test.layer(routes, { maxRetries: 0 }))
      )
      expect(best).toBe(82.167)
      expect(routes.hits(jsDelivr)).toBe(1)
      expect(routes.hits(staticDelivr)).toBe(1)
    }))

  it.effect("reports a missing file as DataNotFoundError", () =>
    Effect.gen(function*() {
      const error = yield* bestLap(2025, "Australian Grand Prix", "Race", "XYZ").pipe(
        Effect.flip,
        Effect.provide(Tif1Test.layer(Tif1Test.routes()))
      )
      expect(error._tag).toBe("DataNotFoundError")
    }))
})
