/**
 * The freshness policy on the TestClock against a real server that sends ETags and answers
 * conditional requests with 304: a live session (started less than live_window_days ago) is
 * revalidated after live_revalidate_after and its not-found answers last live_missing_ttl; an
 * older one is never revalidated and keeps missing_payloads_ttl_days; one that has not started
 * is answered without remembering anything.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/testing/TestClock"
import type * as Http from "node:http"
import * as MirrorServer from "../src/mirror/MirrorServer.js"
import type { Tif1ConfigOverrides } from "../src/schema/Config.js"
import * as Cache from "../src/services/Cache.js"
import { Fetcher, type FetchOptions } from "../src/services/Fetcher.js"
import { startServer } from "./support/servers.js"
import { stack } from "./support/stack.js"

/** 2026 Australian Grand Prix, Practice 1 (the bundled schedule). */
const practiceStart = Date.parse("2026-03-06T01:30:00Z")
const practice = { year: 2026, gp: "Australian Grand Prix", session: "Practice 1" }
const day = 24 * 60 * 60 * 1000

/** A CDN whose files the test edits; it honours If-None-Match and logs what it was sent. */
const editableCdn = () =>
  Effect.gen(function*() {
    const files = new Map<string, { body: string; etag: string }>()
    const seen: Array<{ path: string; ifNoneMatch: string | undefined; status: number }> = []
    const server = yield* startServer("h1", (request, response) => {
      const path = decodeURIComponent(new URL((request as Http.IncomingMessage).url!, "http://x").pathname)
        .split("/").slice(4).join("/")
      const file = files.get(path)
      const ifNoneMatch = request.headers["if-none-match"] as string | undefined
      const status = file === undefined ? 404 : ifNoneMatch === file.etag ? 304 : 200
      seen.push({ path, ifNoneMatch, status })
      if (status === 200) {
        response.writeHead(200, { etag: file!.etag, "content-type": "application/json" }).end(file!.body)
      } else response.writeHead(status, file === undefined ? {} : { etag: file.etag }).end()
    })
    const publish = (path: string, value: object, etag: string) =>
      files.set(path, { body: JSON.stringify(value), etag })
    return { server, seen, publish }
  })

const run = (
  origin: string,
  overrides: Tif1ConfigOverrides = {}
) =>
<A, E>(
  body: (
    fetch: (path: string, options?: FetchOptions) => Effect.Effect<unknown, unknown>
  ) => Effect.Effect<A, E, Fetcher>
) =>
  Effect.flatMap(
    Fetcher,
    (fetcher) => body((path, options) => fetcher.json({ ...practice, session: "FP1", path }, options))
  ).pipe(
    Effect.provide(stack({ cdns: [MirrorServer.templateFor(origin)], maxRetries: 0, ...overrides }, Cache.layerMemory))
  )

describe("freshness on the Clock", () => {
  it.effect("a live session's file is revalidated after live_revalidate_after: 304 keeps it and restarts its clock, 200 replaces it", () =>
    Effect.gen(function*() {
      const cdn = yield* editableCdn()
      cdn.publish("corners.json", { CornerNumber: [1], X: [0], Y: [0], Angle: [0], Distance: [1] }, "\"v1\"")
      yield* TestClock.setTime(practiceStart + 60 * 60 * 1000) // an hour into the session
      const values = yield* run(cdn.server.origin)((fetch) =>
        Effect.gen(function*() {
          const first = yield* fetch("corners.json")
          yield* TestClock.adjust("599 seconds")
          const cached = yield* fetch("corners.json") // younger than 600 s: no request
          yield* TestClock.adjust("1 second")
          const confirmed = yield* fetch("corners.json") // 600 s: revalidated, 304
          yield* TestClock.adjust("599 seconds")
          yield* fetch("corners.json") // the 304 restarted its clock: no request
          cdn.publish(
            "corners.json",
            { CornerNumber: [1, 2], X: [0, 1], Y: [0, 1], Angle: [0, 1], Distance: [1, 2] },
            "\"v2\""
          )
          yield* TestClock.adjust("1 second")
          const corrected = yield* fetch("corners.json") // revalidated, 200: the corrected file
          const after = yield* fetch("corners.json")
          return { first, cached, confirmed, corrected, after }
        })
      )
      expect(cdn.seen).toEqual([
        { path: "corners.json", ifNoneMatch: undefined, status: 200 },
        { path: "corners.json", ifNoneMatch: "\"v1\"", status: 304 },
        { path: "corners.json", ifNoneMatch: "\"v1\"", status: 200 }
      ])
      expect(values.cached).toBe(values.first)
      expect(values.confirmed).toBe(values.first)
      expect((values.corrected as { CornerNumber: Array<number> }).CornerNumber).toEqual([1, 2])
      expect(values.after).toBe(values.corrected)
    }))

  it.effect("a live session's not-found lasts live_missing_ttl, then the file is asked for again", () =>
    Effect.gen(function*() {
      const cdn = yield* editableCdn()
      yield* TestClock.setTime(practiceStart + 10 * 60 * 1000)
      const outcomes = yield* run(cdn.server.origin)((fetch) =>
        Effect.gen(function*() {
          const tags: Array<string> = []
          const attempt = Effect.map(Effect.result(fetch("weather.json")), (result) =>
            tags.push(result._tag === "Success" ? "delivered" : (result.failure as { _tag: string })._tag))
          yield* attempt // 404: remembered for 300 s
          yield* TestClock.adjust("299 seconds")
          yield* attempt // from the negative cache
          cdn.publish("weather.json", {
            wT: [1],
            wAT: [20],
            wH: [50],
            wP: [1000],
            wR: [false],
            wTT: [30],
            wWD: [90],
            wWS: [1]
          }, "\"w1\"")
          yield* TestClock.adjust("1 second")
          yield* attempt // published a few minutes after the session: seen
          return tags
        })
      )
      expect(outcomes).toEqual(["DataNotFoundError", "DataNotFoundError", "delivered"])
      expect(cdn.seen.map((request) => request.status)).toEqual([404, 200])
    }))

  it.effect("the live window's edges: live until live_window_days after the start, then never revalidated", () =>
    Effect.gen(function*() {
      const cdn = yield* editableCdn()
      cdn.publish("corners.json", { CornerNumber: [1], X: [0], Y: [0], Angle: [0], Distance: [1] }, "\"v1\"")
      yield* TestClock.setTime(practiceStart + 7 * day - 600_001) // stored 10 minutes before the window closes
      yield* run(cdn.server.origin)((fetch) =>
        Effect.gen(function*() {
          yield* fetch("corners.json")
          yield* TestClock.adjust("600 seconds") // 1 ms before the edge: still live, revalidated
          yield* fetch("corners.json")
          yield* TestClock.adjust("601 seconds") // past the edge: an old session, kept as it is
          yield* fetch("corners.json")
          yield* TestClock.adjust("30 days")
          yield* fetch("corners.json")
        })
      )
      expect(cdn.seen.map((request) => request.status)).toEqual([200, 304])
    }))

  it.effect("an old session keeps missing_payloads_ttl_days for a not-found, however short the live TTL", () =>
    Effect.gen(function*() {
      const cdn = yield* editableCdn()
      yield* TestClock.setTime(practiceStart + 30 * day)
      yield* run(cdn.server.origin, { missingPayloadsTtlDays: 2 })((fetch) =>
        Effect.gen(function*() {
          yield* Effect.result(fetch("weather.json"))
          yield* TestClock.adjust("1 day")
          yield* Effect.result(fetch("weather.json"))
          yield* TestClock.adjust("1 day")
          yield* Effect.result(fetch("weather.json"))
        })
      )
      expect(cdn.seen.map((request) => request.status)).toEqual([404, 404])
    }))

  it.effect("a session the schedule does not list follows its season: this one's not-found lasts live_missing_ttl", () =>
    Effect.gen(function*() {
      const cdn = yield* editableCdn()
      yield* TestClock.setTime(Date.parse("2026-12-06T12:00:00Z"))
      // Neither 2025's nor 2026's Australian Grand Prix lists a Sprint: no start time to go by.
      const statuses = (year: number) =>
        run(cdn.server.origin)(() =>
          Effect.gen(function*() {
            const fetcher = yield* Fetcher
            const fetch = Effect.result(
              fetcher.json({ year, gp: "Australian Grand Prix", session: "Sprint", path: "weather.json" })
            )
            cdn.seen.length = 0
            yield* fetch
            yield* TestClock.adjust("299 seconds")
            yield* fetch // remembered, whatever its season
            yield* TestClock.adjust("1 second")
            yield* fetch
            return cdn.seen.map((request) => request.status)
          })
        )
      expect(yield* statuses(2026)).toEqual([404, 404]) // the season in progress: live
      expect(yield* statuses(2025)).toEqual([404]) // an earlier season: missing_payloads_ttl_days
    }))

  it.effect("a session that has not started is answered without remembering anything", () =>
    Effect.gen(function*() {
      const cdn = yield* editableCdn()
      cdn.publish("drivers.json", { drivers: [{ driver: "VER", team: "Red Bull Racing" }] }, "\"d1\"")
      yield* TestClock.setTime(practiceStart - day)
      yield* run(cdn.server.origin)((fetch) =>
        Effect.gen(function*() {
          yield* fetch("drivers.json")
          yield* fetch("drivers.json")
          yield* Effect.result(fetch("weather.json"))
          yield* Effect.result(fetch("weather.json"))
        })
      )
      expect(cdn.seen.map((request) => `${request.path} ${request.status}`)).toEqual([
        "drivers.json 200",
        "drivers.json 200",
        "weather.json 404",
        "weather.json 404"
      ])
    }))

  it.effect("refresh: revalidate asks with the stored validators whatever the age; reload ignores the cache", () =>
    Effect.gen(function*() {
      const cdn = yield* editableCdn()
      cdn.publish("drivers.json", { drivers: [] }, "\"d1\"")
      yield* TestClock.setTime(practiceStart + 30 * day) // an old session: never revalidated on its own
      yield* run(cdn.server.origin)((fetch) =>
        Effect.gen(function*() {
          yield* fetch("drivers.json")
          yield* fetch("drivers.json")
          yield* fetch("drivers.json", { refresh: "revalidate" })
          yield* fetch("drivers.json", { refresh: "reload" })
          yield* Effect.result(fetch("rcm.json"))
          yield* Effect.result(fetch("rcm.json", { refresh: "revalidate" })) // a remembered not-found is asked again
        })
      )
      expect(cdn.seen.map((request) => `${request.path} ${request.ifNoneMatch ?? "-"} ${request.status}`)).toEqual([
        "drivers.json - 200",
        "drivers.json \"d1\" 304",
        "drivers.json - 200",
        "rcm.json - 404",
        "rcm.json - 404"
      ])
    }))
})
