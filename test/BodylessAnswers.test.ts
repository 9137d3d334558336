/**
 * Bodyless answers that carry `Content-Encoding` (issue 26, item 5): a CDN may send a 304 with the
 * encoding of the representation it confirms, or an empty 404 or 503 with the header it puts on
 * everything. There is nothing to decode in them (an empty stream is no valid gzip or brotli):
 * the session hands them back as they are, and the Fetcher reads them by their status: a 304
 * restarts a live session's stored copy's clock, an empty 404 is not found (and remembered), an
 * empty 503 is retried. Against real local HTTP/1.1 and HTTP/2 servers, compression asked for.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/testing/TestClock"
import type * as Http from "node:http"
import * as Zlib from "node:zlib"
import { Tif1Config, type Tif1ConfigOverrides } from "../src/schema/Config.js"
import * as Cache from "../src/services/Cache.js"
import * as DnsResolver from "../src/services/DnsResolver.js"
import { Fetcher } from "../src/services/Fetcher.js"
import * as HttpSession from "../src/services/HttpSession.js"
import { startServer, testCertificate } from "./support/servers.js"
import { stack } from "./support/stack.js"

/** Path -> the bodyless answer sent for it, with a `content-encoding` header and no body. */
const bodyless: ReadonlyArray<readonly [path: string, status: number, coding: string]> = [
  ["/not-modified.json", 304, "br"],
  ["/no-content.json", 204, "gzip"],
  ["/missing.json", 404, "br"],
  ["/gone.json", 410, "gzip"],
  ["/failing.json", 500, "br"],
  ["/unavailable.json", 503, "gzip"]
]

const notHere = "not here"

const cdnLike = (request: Http.IncomingMessage | { url?: string }, response: any) => {
  const answer = bodyless.find(([path]) => path === request.url)
  if (answer !== undefined) {
    const [, status, coding] = answer
    return response.writeHead(status, { "content-encoding": coding, etag: "\"v1\"", vary: "Accept-Encoding" }).end()
  }
  if (request.url === "/missing-with-page.json") {
    // A 404 with content: decoded as ever.
    return response.writeHead(404, { "content-encoding": "gzip" }).end(Zlib.gzipSync(notHere))
  }
  // Content that says gzip and is not: still an encoding failure.
  response.writeHead(503, { "content-encoding": "gzip" }).end("not gzip at all")
}

const withSession = <A, E>(body: (session: HttpSession.HttpSessionService) => Effect.Effect<A, E>) =>
  HttpSession.HttpSession.use(body).pipe(
    Effect.provide(
      HttpSession.layerWith({ ca: testCertificate().cert }).pipe(
        Layer.provide(DnsResolver.layerChain(Effect.succeed([DnsResolver.systemResolver]))),
        Layer.provide(Tif1Config.layerDefaults({ connectionStatsLogInterval: 0, compression: "on" }))
      )
    )
  )

describe("HttpSession: bodyless answers with Content-Encoding", () => {
  for (const protocol of ["h1", "h2"] as const) {
    it.effect(`${protocol}: 304, 204 and empty 404, 410, 5xx come back as sent, not decoded`, () =>
      Effect.gen(function*() {
        const server = yield* startServer(protocol, cdnLike)
        const answers = yield* withSession((session) =>
          Effect.forEach(bodyless, ([path]) => session.get(`${server.origin}${path}`))
        )
        expect(answers.map((answer) => [answer.status, answer.body.byteLength, answer.headers["content-encoding"]]))
          .toEqual(bodyless.map(([, status, coding]) => [status, 0, coding]))
      }))

    it.effect(`${protocol}: an answer with content is still decoded, and fails when it does not decode`, () =>
      Effect.gen(function*() {
        const server = yield* startServer(protocol, cdnLike)
        const [page, broken] = yield* withSession((session) =>
          Effect.all([
            session.get(`${server.origin}/missing-with-page.json`),
            Effect.flip(session.get(`${server.origin}/broken.json`))
          ])
        )
        expect([page.status, Buffer.from(page.body).toString()]).toEqual([404, notHere])
        expect([broken.kind, broken.status]).toEqual(["encoding", 503])
      }))
  }
})

/** 2026 Australian Grand Prix, Practice 1: a live session an hour after its start (bundled schedule). */
const practice = { year: 2026, gp: "Australian Grand Prix", session: "FP1" }
const anHourIn = Date.parse("2026-03-06T01:30:00Z") + 60 * 60 * 1000
const corners = { CornerNumber: [1], X: [0], Y: [0], Angle: [0], Distance: [1] }

/**
 * A CDN as jsDelivr answers when compression is asked for: a brotli 200 with an ETag; a 304 to a
 * matching `If-None-Match`, an empty 404 and an empty 503, each with `content-encoding: br`.
 */
const compressingCdn = Effect.gen(function*() {
  const seen: Array<{ path: string; status: number }> = []
  const server = yield* startServer("h1", (request, response) => {
    const path = decodeURIComponent(new URL((request as Http.IncomingMessage).url!, "http://x").pathname)
      .split("/").slice(4).join("/")
    const headers = { "content-encoding": "br", vary: "Accept-Encoding" }
    const status = path === "corners.json"
      ? request.headers["if-none-match"] === "\"v1\"" ? 304 : 200
      : path === "weather.json"
      ? 503
      : 404
    seen.push({ path, status })
    if (status === 200) {
      const body = Zlib.brotliCompressSync(JSON.stringify(corners))
      return response.writeHead(200, { ...headers, etag: "\"v1\"", "content-type": "application/json" }).end(body)
    }
    response.writeHead(status, status === 304 ? { ...headers, etag: "\"v1\"" } : headers).end()
  })
  return { origin: server.origin, seen }
})

const fetchWith =
  (origin: string, overrides: Tif1ConfigOverrides = {}) =>
  <A, E>(body: (fetch: (path: string) => Effect.Effect<unknown, unknown>) => Effect.Effect<A, E>) =>
    Effect.flatMap(Fetcher, (fetcher) => body((path) => fetcher.json({ ...practice, path }))).pipe(
      Effect.provide(
        stack(
          { cdns: [`${origin}/{year}/{gp}/{session}/{path}`], compression: "on", maxRetries: 0, ...overrides },
          Cache.layerMemory
        )
      )
    )

const outcome = (effect: Effect.Effect<unknown, unknown>) =>
  Effect.map(Effect.result(effect), (result) =>
    result._tag === "Success"
      ? "delivered"
      : `${(result.failure as { _tag: string })._tag}${
        "kind" in (result.failure as object) ? ` ${(result.failure as { kind: string }).kind}` : ""
      }`)

describe("Fetcher: bodyless answers with Content-Encoding, end to end", () => {
  it.effect("a live revalidation answered 304 with Content-Encoding keeps the copy and restarts its clock", () =>
    Effect.gen(function*() {
      const cdn = yield* compressingCdn
      yield* TestClock.setTime(anHourIn)
      const values = yield* fetchWith(cdn.origin)((fetch) =>
        Effect.gen(function*() {
          const first = yield* fetch("corners.json")
          yield* TestClock.adjust("600 seconds")
          const confirmed = yield* fetch("corners.json") // revalidated: 304 with content-encoding br
          yield* TestClock.adjust("599 seconds")
          const kept = yield* fetch("corners.json") // the 304 restarted the clock: no request
          yield* TestClock.adjust("1 second")
          const again = yield* fetch("corners.json") // a revalidation period after the 304: asked again
          return { first, confirmed, kept, again }
        })
      )
      expect(cdn.seen.map((request) => request.status)).toEqual([200, 304, 304])
      expect(values.first).toEqual(corners)
      expect(values.confirmed).toBe(values.first)
      expect(values.kept).toBe(values.first)
      expect(values.again).toBe(values.first)
    }))

  it.effect("an empty 404 with Content-Encoding is not found, remembered for live_missing_ttl", () =>
    Effect.gen(function*() {
      const cdn = yield* compressingCdn
      yield* TestClock.setTime(anHourIn)
      const outcomes = yield* fetchWith(cdn.origin)((fetch) =>
        Effect.gen(function*() {
          const first = yield* outcome(fetch("rcm.json"))
          yield* TestClock.adjust("299 seconds")
          const remembered = yield* outcome(fetch("rcm.json"))
          return [first, remembered]
        })
      )
      expect(outcomes).toEqual(["DataNotFoundError", "DataNotFoundError"])
      expect(cdn.seen).toEqual([{ path: "rcm.json", status: 404 }])
    }))

  it.effect("an empty 503 with Content-Encoding is a server error: retried, then a NetworkError of its status", () =>
    Effect.gen(function*() {
      const cdn = yield* compressingCdn
      yield* TestClock.setTime(anHourIn)
      const failure = yield* fetchWith(cdn.origin, { maxRetries: 1 })((fetch) => outcome(fetch("weather.json")))
      expect(failure).toBe("NetworkError http-status")
      expect(cdn.seen.map((request) => request.status)).toEqual([503, 503])
    }))
})
