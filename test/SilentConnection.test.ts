/**
 * A silent HTTP/2 connection (issue 26, item 3): one that stops answering, without closing, is
 * PINGed once its requests have heard nothing for `stall_timeout`, closed when the PING goes
 * unanswered for `stall_timeout` (at most 5 s), and its requests are answered on a new connection.
 * The rule's timers run on the layer's Clock: `it.effect` tests drive them with TestClock, against
 * a real HTTP/2 server behind a TLS relay that can swallow a connection's bytes.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/testing/TestClock"
import { Tif1Config, type Tif1ConfigOverrides } from "../src/schema/Config.js"
import { NetworkError } from "../src/schema/Errors.js"
import * as DnsResolver from "../src/services/DnsResolver.js"
import * as HttpSession from "../src/services/HttpSession.js"
import { RoutingDispatcher } from "../src/services/internal/routingDispatcher.js"
import { eventually, type Handler, startSilenceableServer, testCertificate } from "./support/servers.js"

const payload = Buffer.from(JSON.stringify({ tel: { speed: [1, 2, 3] } }))

const serveJson: Handler = (_request, response) => {
  response.writeHead(200, { "content-type": "application/json" })
  response.end(payload)
}

const withSession = <A, E>(
  overrides: Tif1ConfigOverrides,
  body: (session: HttpSession.HttpSessionService) => Effect.Effect<A, E>
) =>
  HttpSession.HttpSession.use(body).pipe(
    Effect.provide(
      HttpSession.layerWith({ ca: testCertificate().cert }).pipe(
        Layer.provide(DnsResolver.layerChain(Effect.succeed([DnsResolver.systemResolver]))),
        Layer.provide(Tif1Config.layerDefaults({ connectionStatsLogInterval: 0, ...overrides }))
      )
    )
  )

const statusOf = (fiber: Fiber.Fiber<HttpSession.HttpResponse, unknown>) =>
  Effect.map(Fiber.join(fiber), (response) => response.status)

describe("a silent HTTP/2 connection (TestClock: the PING rule)", () => {
  // Defaults: stall_timeout 10 s, so a PING after 10 s of quiet and 5 s (min(10 s, 5 s)) for its answer.
  it.effect("quiet for stall_timeout: one PING; unanswered for 5 s: closed, its requests answered on a new one", () =>
    Effect.gen(function*() {
      const server = yield* startSilenceableServer(serveJson)
      const url = (name: string) => `${server.origin}/${name}.json`
      const statuses = yield* withSession({}, (session) =>
        Effect.gen(function*() {
          expect((yield* session.get(url("a"))).status).toBe(200)
          server.silenceOpenConnections()
          const b = yield* Effect.forkChild(session.get(url("b")))
          yield* eventually(() => server.requestsSent() === 2, "b to be sent on the silent connection")

          // 1 ms short of stall_timeout: no PING. (c's HEADERS, sent now, would come after one.)
          yield* TestClock.adjust("9999 millis")
          const c = yield* Effect.forkChild(session.get(url("c")))
          yield* eventually(() => server.requestsSent() === 3, "c to be sent on the silent connection")
          expect(server.pingsSent()).toBe(0)

          yield* TestClock.adjust("1 millis")
          yield* eventually(() => server.pingsSent() === 1, "the PING")

          // 1 ms short of the PING's 5 s: the connection is still open and still takes requests.
          yield* TestClock.adjust("4999 millis")
          const d = yield* Effect.forkChild(session.get(url("d")))
          yield* eventually(() => server.requestsSent() === 4, "d to be sent on the silent connection")
          expect(server.connectionsOpened()).toBe(1)

          yield* TestClock.adjust("1 millis")
          return yield* Effect.forEach([b, c, d], statusOf)
        }))
      expect(statuses).toEqual([200, 200, 200])
      // The silent connection was closed; b, c and d were sent again on a new one, which answered.
      expect(server.connectionsOpened()).toBe(2)
      expect(server.requests()).toBe(4)
      expect(server.requestsSent()).toBe(7)
      expect(server.pingsSent()).toBe(1)
    }))

  it.effect("a PING answered keeps the connection and its slow request, which is not sent again", () =>
    Effect.gen(function*() {
      const held: Array<() => void> = []
      const server = yield* startSilenceableServer((request, response) => {
        if (request.url === "/slow.json") held.push(() => serveJson(request, response))
        else serveJson(request, response)
      })
      const url = (name: string) => `${server.origin}/${name}.json`
      const [slowStatus, markerStatus] = yield* withSession({}, (session) =>
        Effect.gen(function*() {
          yield* session.get(url("a"))
          const slow = yield* Effect.forkChild(session.get(url("slow")))
          yield* eventually(() => server.requests() === 2, "the slow request to reach the server")
          yield* TestClock.adjust("10 seconds")
          yield* eventually(() => server.pingAcksRead() === 1, "the client to read the PING's acknowledgement")
          // The PING's 5 s pass: answered, so nothing is closed (a request now takes the same connection).
          yield* TestClock.adjust("5 seconds")
          const marker = yield* session.get(url("marker"))
          held.forEach((release) => release())
          return [yield* statusOf(slow), marker.status] as const
        }))
      expect([slowStatus, markerStatus]).toEqual([200, 200])
      expect(server.connectionsOpened()).toBe(1)
      expect(server.requestsSent()).toBe(3)
      expect([server.pingsSent(), server.pingAcksDelivered()]).toEqual([1, 1])
    }))

  it.effect("an idle connection, or one that answers, is never PINGed by the watch", () =>
    Effect.gen(function*() {
      const server = yield* startSilenceableServer(serveJson)
      yield* withSession({}, (session) =>
        Effect.gen(function*() {
          for (let round = 0; round < 6; round++) {
            yield* session.get(`${server.origin}/${round}.json`)
            yield* TestClock.adjust("1 hour")
          }
          // Sent after any PING the idle hours could have caused: the count below is final.
          yield* session.get(`${server.origin}/last.json`)
        }))
      expect(server.requests()).toBe(7)
      expect(server.pingsSent()).toBe(0)
      expect(server.connectionsOpened()).toBe(1)
    }))
})

describe("a silent HTTP/2 connection (real time, small timeouts)", () => {
  it.live("the request after the silence is answered on a new connection within its timeout; later ones too", () =>
    Effect.gen(function*() {
      const server = yield* startSilenceableServer(serveJson)
      const statuses = yield* withSession({ stallTimeout: 0.2, timeout: 5 }, (session) =>
        Effect.gen(function*() {
          const first = yield* session.get(`${server.origin}/a.json`)
          server.silenceOpenConnections()
          const afterSilence = yield* session.get(`${server.origin}/b.json`)
          const later = yield* Effect.forEach(
            ["c", "d", "e"],
            (name) => session.get(`${server.origin}/${name}.json`),
            { concurrency: 3 }
          )
          return [first, afterSilence, ...later].map((response) => response.status)
        }))
      expect(statuses).toEqual([200, 200, 200, 200, 200])
      expect(server.connectionsOpened()).toBe(2)
      expect(server.pingsSent()).toBe(1)
    }))

  it.live("a connection silent from first contact (while the protocol is learned) is replaced too", () =>
    Effect.gen(function*() {
      const server = yield* startSilenceableServer(serveJson)
      server.silenceNextConnection()
      const statuses = yield* withSession({ stallTimeout: 0.2, timeout: 5 }, (session) =>
        Effect.forEach(
          ["a", "b", "c"],
          (name) => Effect.map(session.get(`${server.origin}/${name}.json`), (response) => response.status),
          { concurrency: 3 }
        ))
      expect(statuses).toEqual([200, 200, 200])
      expect(server.connectionsOpened()).toBe(2)
      expect(server.requests()).toBe(3)
    }))

  it.live("when every connection is silent, the resends run out: a NetworkError of kind stalled that says so", () =>
    Effect.gen(function*() {
      const server = yield* startSilenceableServer(serveJson)
      server.silenceEveryNewConnection()
      const error = yield* withSession(
        { stallTimeout: 0.1, timeout: 20 },
        (session) => Effect.flip(session.get(`${server.origin}/a.json`))
      )
      expect(error).toBeInstanceOf(NetworkError)
      expect([error.kind, error.url]).toEqual(["stalled", `${server.origin}/a.json`])
      expect(error.reason).toBe(
        "the HTTP/2 connection went silent: nothing received for 0.1 s, then no answer to a PING within 0.1 s"
      )
      // The first attempt and 3 resends, each on a connection of its own.
      expect([server.requestsSent(), server.connectionsOpened(), server.pingsSent()]).toEqual([4, 4, 4])
    }))

  it.live("undici's keep-alive PING, unanswered, closes a silent connection too: its request is sent again", () =>
    Effect.gen(function*() {
      const server = yield* startSilenceableServer(serveJson)
      // No watch here, and a stall_timeout past the deadline: only undici's PING (every 100 ms) acts.
      const dispatcher = yield* Effect.acquireRelease(
        Effect.sync(() =>
          new RoutingDispatcher({
            socketsPerOrigin: 2,
            keepAliveTimeoutMs: 10_000,
            maxRequestsPerConnection: 1000,
            multiplexed: true,
            maxStreamsPerConnection: 100,
            maxH2ConnectionsPerOrigin: 2,
            h2Windows: HttpSession.defaultH2Windows,
            connectTimeoutMs: 2_000,
            lookup: undefined,
            ca: testCertificate().cert,
            h2PingIntervalMs: 100
          })
        ),
        (dispatcher) => Effect.promise(() => dispatcher.close())
      )
      const session = HttpSession.makeWithDispatcher(dispatcher, {
        userAgent: "tif1-test",
        defaultTimeout: Duration.seconds(5),
        stallTimeoutMs: 60_000
      })
      yield* session.get(`${server.origin}/a.json`)
      server.silenceOpenConnections()
      const response = yield* session.get(`${server.origin}/b.json`)
      expect(response.status).toBe(200)
      expect(server.connectionsOpened()).toBe(2)
      expect(server.requestsSent()).toBe(3)
    }))
})
