/**
 * Every timing rule of the fetching stack on the TestClock with a fixed Random: backoff, jitter,
 * caps, Retry-After, zero-retry mode, breaker timeout, the single half-open probe, CDN cooldown.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Random from "effect/Random"
import * as TestClock from "effect/testing/TestClock"
import * as Tif1Test from "../src/layers/Tif1Test.js"
import type { Tif1ConfigOverrides } from "../src/schema/Config.js"
import { CdnManager } from "../src/services/CdnManager.js"
import * as CdnManagerModule from "../src/services/CdnManager.js"
import { CircuitBreaker } from "../src/services/CircuitBreaker.js"
import * as CircuitBreakerModule from "../src/services/CircuitBreaker.js"
import { Fetcher } from "../src/services/Fetcher.js"
import { delayBeforeRound } from "../src/services/internal/retryPolicy.js"

const primary = "https://primary.test/gh"
const secondary = "https://secondary.test/gh"
const request = { year: 2025, gp: "Abu Dhabi Grand Prix", session: "Practice 1", path: "drivers.json" }
const urlOn = (base: string) => `${base}/2025@main/Abu%20Dhabi%20Grand%20Prix/Practice%201/drivers.json`

/** Randomness that always draws 0.5 (jitter is half its maximum). */
const half: Random.Random = { nextDoubleUnsafe: () => 0.5, nextIntUnsafe: () => 0 }

const run = <A, E>(
  routes: Tif1Test.TestRoutes,
  overrides: Tif1ConfigOverrides,
  body: Effect.Effect<A, E, Fetcher | CircuitBreaker | CdnManager>
) =>
  body.pipe(
    Effect.provide(Tif1Test.layer(routes, { cdns: [primary], ...overrides })),
    Effect.provideService(Random.Random, half)
  )

/** Seconds between consecutive requests in the log. */
const gaps = (routes: Tif1Test.TestRoutes) =>
  routes.requests.slice(1).map((request, index) => (request.at - routes.requests[index]!.at) / 1000)

describe("retry timing (TestClock, Random fixed at 0.5)", () => {
  it("computes min(factor^n, cap) + jitter", () => {
    const policy = { maxRetries: 5, backoffFactor: 2, jitter: true, jitterMaxSeconds: 1, maxDelaySeconds: 5 }
    expect([1, 2, 3, 4].map((n) => delayBeforeRound(policy, n, undefined, 0.5))).toEqual([2.5, 4.5, 5.5, 5.5])
    expect(delayBeforeRound({ ...policy, jitter: false }, 2, undefined, 0.5)).toBe(4)
    expect(delayBeforeRound(policy, 1, 30, 0.5)).toBe(5)
  })

  it.effect("waits 2.5 s, 4.5 s, 8.5 s before rounds 1, 2, 3 and then fails", () =>
    Effect.gen(function*() {
      const routes = Tif1Test.routes({ [urlOn(primary)]: { status: 503 } })
      const fiber = yield* Effect.forkChild(
        run(routes, { maxRetries: 3, maxRetryDelay: 60 }, Effect.flatMap(Fetcher, (f) => f.json(request)))
      )
      yield* TestClock.adjust("2499 millis")
      expect(routes.requests.length).toBe(1)
      yield* TestClock.adjust("1 millis")
      expect(routes.requests.length).toBe(2)
      yield* TestClock.adjust("4.5 seconds")
      expect(routes.requests.length).toBe(3)
      yield* TestClock.adjust("8.5 seconds")
      expect(routes.requests.length).toBe(4)
      const error = yield* Effect.flip(Fiber.join(fiber))
      expect(error._tag).toBe("NetworkError")
      expect(gaps(routes)).toEqual([2.5, 4.5, 8.5])
    }))

  it.effect("caps the backoff at max_retry_delay before adding jitter", () =>
    Effect.gen(function*() {
      const routes = Tif1Test.routes({ [urlOn(primary)]: { status: 500 } })
      const fiber = yield* Effect.forkChild(
        run(routes, { maxRetries: 3, maxRetryDelay: 3 }, Effect.flatMap(Fetcher, (f) => f.json(request)))
      )
      yield* TestClock.adjust("60 seconds")
      yield* Effect.flip(Fiber.join(fiber))
      expect(gaps(routes)).toEqual([2.5, 3.5, 3.5])
    }))

  it.effect("honours Retry-After on 429 and 503, capped at max_retry_delay", () =>
    Effect.gen(function*() {
      const routes = Tif1Test.routes({
        [urlOn(primary)]: [
          { status: 429, headers: { "retry-after": "7" } },
          { status: 503, headers: { "retry-after": "120" } },
          { status: 200, body: { drivers: [] } }
        ]
      })
      const fiber = yield* Effect.forkChild(
        run(routes, { maxRetries: 3, maxRetryDelay: 10 }, Effect.flatMap(Fetcher, (f) => f.json(request)))
      )
      yield* TestClock.adjust("60 seconds")
      const value = yield* Fiber.join(fiber)
      expect(value).toEqual({ drivers: [] })
      expect(gaps(routes)).toEqual([7, 10])
    }))

  it.effect("zero-retry mode asks each CDN once with no delay", () =>
    Effect.gen(function*() {
      const routes = Tif1Test.routes({ [urlOn(primary)]: { status: 503 }, [urlOn(secondary)]: { status: 503 } })
      const error = yield* Effect.flip(
        run(routes, { maxRetries: 0, cdns: [primary, secondary] }, Effect.flatMap(Fetcher, (f) => f.json(request)))
      )
      expect(error._tag).toBe("NetworkError")
      expect(routes.requests.map((r) => r.url)).toEqual([urlOn(primary), urlOn(secondary)])
      expect(routes.requests.every((r) => r.at === 0)).toBe(true)
    }))
})

describe("CircuitBreaker timing", () => {
  it.effect("opens after the threshold, fails fast, lets exactly one probe through after the timeout", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreakerModule.make({ threshold: 2, timeoutSeconds: 60 })
      const failRound = breaker.protect("u", Effect.fail("down"), () => "failed")
      yield* Effect.flip(failRound)
      expect(yield* breaker.state).toBe("closed")
      yield* Effect.flip(failRound)
      expect(yield* breaker.state).toBe("open")
      let ran = 0
      const countedRound = breaker.protect("u", Effect.sync(() => ran++), () => "delivered")
      const fast = yield* Effect.flip(countedRound)
      expect(fast._tag).toBe("NetworkError")
      expect((fast as { kind: string }).kind).toBe("circuit-open")
      expect(ran).toBe(0)

      yield* TestClock.adjust("59999 millis")
      yield* Effect.flip(countedRound)
      expect(ran).toBe(0)
      yield* TestClock.adjust("1 millis")

      // Half-open: one slow probe; concurrent callers fail fast meanwhile.
      const probe = yield* Effect.forkChild(breaker.protect("u", Effect.sleep("5 seconds"), () => "delivered"))
      yield* TestClock.adjust("1 millis")
      expect(yield* breaker.state).toBe("half-open")
      const others = yield* Effect.all(Array.from({ length: 10 }, () => Effect.result(countedRound)), {
        concurrency: "unbounded"
      })
      expect(others.every((result) => result._tag === "Failure")).toBe(true)
      expect(ran).toBe(0)
      yield* TestClock.adjust("5 seconds")
      yield* Fiber.join(probe)
      expect(yield* breaker.state).toBe("closed")
      yield* countedRound
      expect(ran).toBe(1)
    }))

  it.effect("a failed probe reopens for another full timeout", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreakerModule.make({ threshold: 1, timeoutSeconds: 30 })
      yield* Effect.flip(breaker.protect("u", Effect.fail("down"), () => "failed"))
      yield* TestClock.adjust("30 seconds")
      yield* Effect.flip(breaker.protect("u", Effect.fail("still down"), () => "failed"))
      expect(yield* breaker.state).toBe("open")
      const snapshot = yield* breaker.snapshot
      expect(snapshot.retryAt).toBe(60_000)
      yield* TestClock.adjust("29 seconds")
      expect((yield* Effect.flip(breaker.protect("u", Effect.void, () => "delivered")))._tag).toBe("NetworkError")
    }))

  it.effect("neutral rounds (404, invalid data) neither open nor reset it", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreakerModule.make({ threshold: 2, timeoutSeconds: 30 })
      yield* Effect.flip(breaker.protect("u", Effect.fail("down"), () => "failed"))
      for (let i = 0; i < 5; i++) yield* Effect.flip(breaker.protect("u", Effect.fail("404"), () => "neutral"))
      expect((yield* breaker.snapshot).consecutiveFailures).toBe(1)
      yield* breaker.protect("u", Effect.void, () => "delivered")
      expect((yield* breaker.snapshot).consecutiveFailures).toBe(0)
    }))

  it.effect("failed rounds that started before the last delivery (stragglers of a healthy burst) do not open it", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreakerModule.make({ threshold: 3, timeoutSeconds: 60 })
      const release = yield* Deferred.make<void>()
      // Six rounds start together; after the others deliver, these stalled ones time out together.
      const stalled = yield* Effect.forEach(
        Array.from({ length: 6 }),
        () =>
          Effect.forkChild(
            breaker.protect("u", Effect.andThen(Deferred.await(release), Effect.fail("timeout")), () => "failed")
          ),
        { concurrency: "unbounded" }
      )
      yield* TestClock.adjust("1 millis")
      yield* breaker.protect("u", Effect.void, () => "delivered")
      yield* Deferred.succeed(release, undefined)
      for (const fiber of stalled) yield* Fiber.await(fiber)
      expect(yield* breaker.snapshot).toMatchObject({ state: "closed", consecutiveFailures: 0 })
      // Rounds that start after the delivery are evidence again.
      for (let i = 0; i < 3; i++) yield* Effect.flip(breaker.protect("u", Effect.fail("down"), () => "failed"))
      expect(yield* breaker.state).toBe("open")
    }))

  it.effect("an interrupted probe frees the probe slot", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreakerModule.make({ threshold: 1, timeoutSeconds: 10 })
      yield* Effect.flip(breaker.protect("u", Effect.fail("down"), () => "failed"))
      yield* TestClock.adjust("10 seconds")
      const probe = yield* Effect.forkChild(breaker.protect("u", Effect.never, () => "delivered"))
      yield* TestClock.adjust("1 millis")
      yield* Fiber.interrupt(probe)
      yield* breaker.protect("u", Effect.void, () => "delivered")
      expect(yield* breaker.state).toBe("closed")
    }))
})

describe("CdnManager cooldown", () => {
  it.effect("skips after 3 failures, probes after 30 s, doubles while probes fail, resets on success", () =>
    Effect.gen(function*() {
      const cdns = yield* CdnManagerModule.make({
        cdns: [primary, secondary],
        recoveryTimeoutSeconds: 30,
        minify: false
      })
      const names = Effect.map(cdns.available, (sources) => sources.map((source) => source.name))
      yield* cdns.recordFailure("primary.test")
      yield* cdns.recordFailure("primary.test")
      expect(yield* names).toEqual(["primary.test", "secondary.test"])
      yield* cdns.recordFailure("primary.test")
      expect(yield* names).toEqual(["secondary.test"])
      yield* TestClock.adjust("29 seconds")
      expect(yield* names).toEqual(["secondary.test"])
      yield* TestClock.adjust("1 second")
      expect(yield* names).toEqual(["primary.test", "secondary.test"])
      yield* cdns.recordFailure("primary.test") // the probe fails: 60 s now
      yield* TestClock.adjust("59 seconds")
      expect(yield* names).toEqual(["secondary.test"])
      yield* TestClock.adjust("1 second")
      expect(yield* names).toEqual(["primary.test", "secondary.test"])
      for (let i = 0; i < 6; i++) {
        yield* cdns.recordFailure("primary.test")
        yield* TestClock.adjust("10 minutes")
      }
      expect((yield* cdns.sources)[0]!.cooldownSeconds).toBe(600)
      yield* cdns.recordSuccess("primary.test")
      const [source] = yield* cdns.sources
      expect(source!.failures).toBe(0)
      expect(source!.cooldownSeconds).toBe(30)
    }))

  it.effect("requests in flight when a source is skipped do not double its cooldown; only real probes do", () =>
    Effect.gen(function*() {
      const cdns = yield* CdnManagerModule.make({
        cdns: [primary, secondary],
        recoveryTimeoutSeconds: 30,
        minify: false
      })
      // Ten requests sent at once to a healthy source, all failing together (a short blip).
      const [asked] = yield* cdns.available
      for (let i = 0; i < 10; i++) yield* cdns.recordFailure("primary.test", asked)
      const skipped = (yield* cdns.sources)[0]!
      expect(skipped).toMatchObject({ failures: 10, cooldownSeconds: 30, skippedUntil: 30_000 })
      // After the cooldown, a probe (sent while the source is skipped) that fails doubles it.
      yield* TestClock.adjust("30 seconds")
      const [probe] = yield* cdns.available
      expect(probe!.name).toBe("primary.test")
      yield* cdns.recordFailure("primary.test", probe)
      expect((yield* cdns.sources)[0]).toMatchObject({ cooldownSeconds: 60, skippedUntil: 90_000 })
    }))

  it.effect("disable takes a source out until reset", () =>
    Effect.gen(function*() {
      const cdns = yield* CdnManagerModule.make({
        cdns: [primary, secondary],
        recoveryTimeoutSeconds: 30,
        minify: false
      })
      yield* cdns.disable("primary.test", "maintenance")
      expect((yield* cdns.available).map((s) => s.name)).toEqual(["secondary.test"])
      expect((yield* cdns.sources)[0]!.disabledReason).toBe("maintenance")
      yield* cdns.reset
      expect((yield* cdns.available).map((s) => s.name)).toEqual(["primary.test", "secondary.test"])
    }))
})
