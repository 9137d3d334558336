import { describe, expect, it } from "@effect/vitest"
import * as DnsPacket from "dns-packet"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/testing/TestClock"
import * as Http2 from "node:http2"
import * as Https from "node:https"
import type { AddressInfo } from "node:net"
import { Tif1Config } from "../src/schema/Config.js"
import { NetworkError } from "../src/schema/Errors.js"
import * as DnsResolver from "../src/services/DnsResolver.js"
import * as HttpSession from "../src/services/HttpSession.js"
import { type Handler, startServer, testCertificate } from "./support/servers.js"

const failingSystem: DnsResolver.ResolverStep = {
  name: "standard",
  resolve: (hostname) => Effect.fail(`standard: ENOTFOUND ${hostname}`)
}

/**
 * A local RFC 8484 server: answers A queries for *.test with 127.0.0.1 and the given TTL. It speaks
 * HTTP/1.1 only, or (`h2`) HTTP/2 too, chosen by ALPN; `versions` lists the HTTP version each query
 * came over, `connections` how many TLS connections it accepted.
 */
const startDohServer = (ttl: number, protocols: "h1" | "h2" = "h1") =>
  Effect.acquireRelease(
    Effect.callback<{
      url: string
      aQueries: () => number
      versions: ReadonlyArray<string>
      connections: () => number
      server: Https.Server | Http2.Http2SecureServer
    }>((resume) => {
      let aQueries = 0
      let connections = 0
      const versions: Array<string> = []
      const handler: Handler = (request, response) => {
        versions.push(request.httpVersion)
        const chunks: Array<Buffer> = []
        request.on("data", (chunk) => chunks.push(chunk))
        request.on("end", () => {
          const query = DnsPacket.decode(Buffer.concat(chunks))
          const question = query.questions![0]!
          if (question.type === "A") aQueries++
          const answers = question.type === "A" && question.name.endsWith(".test")
            ? [{ type: "A" as const, name: question.name, ttl, data: "127.0.0.1" }]
            : []
          response.writeHead(200, { "content-type": "application/dns-message" })
          response.end(DnsPacket.encode({ type: "response", id: query.id, questions: query.questions, answers }))
        })
      }
      // Node's HTTP/2 server always offers h2 in ALPN, so the HTTP/1.1-only one is an https server.
      const server = protocols === "h2"
        ? Http2.createSecureServer({ ...testCertificate(), allowHTTP1: true }, handler)
        : Https.createServer(testCertificate(), handler)
      server.on("secureConnection", () => connections++)
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo
        resume(Effect.succeed({
          url: `https://127.0.0.1:${port}/dns-query`,
          aQueries: () => aQueries,
          versions,
          connections: () => connections,
          server
        }))
      })
    }),
    ({ server }) =>
      Effect.callback<void>((resume) => {
        server.close(() => resume(Effect.void))
      })
  )

describe("DnsResolver", () => {
  it.effect("falls through a failing system resolver to DoH", () =>
    Effect.gen(function*() {
      const doh = yield* startDohServer(300)
      const step = yield* DnsResolver.dohResolver("local-doh", doh.url, { ca: testCertificate().cert })
      const resolver = yield* DnsResolver.make([failingSystem, step])
      const addresses = yield* resolver.resolve("mirror.test")
      expect(addresses).toEqual([{ address: "127.0.0.1", family: 4 }])
      // An HTTP/1.1-only endpoint: the A and AAAA queries, over HTTP/1.1.
      expect(doh.versions).toEqual(["1.1", "1.1"])
    }))

  it.effect("asks over HTTP/2 when the DoH server offers it: A and AAAA on one connection", () =>
    Effect.gen(function*() {
      const doh = yield* startDohServer(300, "h2")
      const step = yield* DnsResolver.dohResolver("local-doh", doh.url, { ca: testCertificate().cert })
      const resolver = yield* DnsResolver.make([step])
      expect(yield* resolver.resolve("cdn.test")).toEqual([{ address: "127.0.0.1", family: 4 }])
      expect(doh.versions).toEqual(["2.0", "2.0"])
      expect(doh.connections()).toBe(1)
    }))

  it.effect("caches answers for their TTL on the Clock", () =>
    Effect.gen(function*() {
      const doh = yield* startDohServer(30)
      const step = yield* DnsResolver.dohResolver("local-doh", doh.url, { ca: testCertificate().cert })
      const resolver = yield* DnsResolver.make([step])
      yield* resolver.resolve("cdn.test")
      yield* resolver.resolve("cdn.test")
      expect(doh.aQueries()).toBe(1)
      yield* TestClock.adjust("29 seconds")
      yield* resolver.resolve("cdn.test")
      expect(doh.aQueries()).toBe(1)
      yield* TestClock.adjust("2 seconds")
      yield* resolver.resolve("cdn.test")
      expect(doh.aQueries()).toBe(2)
    }))

  it.effect("checks the DoH server's certificate", () =>
    Effect.gen(function*() {
      const doh = yield* startDohServer(30)
      const untrusting = yield* DnsResolver.dohResolver("untrusted-doh", doh.url)
      const error = yield* Effect.flip((yield* DnsResolver.make([untrusting])).resolve("cdn.test"))
      expect(error.reason).toContain("untrusted-doh")
      expect(doh.aQueries()).toBe(0)
    }))

  it.effect("all resolvers failing lists every reason", () =>
    Effect.gen(function*() {
      const closed = yield* DnsResolver.dohResolver("https://127.0.0.1:1/dns-query", "https://127.0.0.1:1/dns-query")
      const resolver = yield* DnsResolver.make([failingSystem, closed])
      const error = yield* Effect.flip(resolver.resolve("nowhere.test"))
      expect(error).toBeInstanceOf(NetworkError)
      expect(error.url).toBe("dns://nowhere.test")
      expect(error.reason).toContain("standard: ENOTFOUND nowhere.test")
      expect(error.reason).toContain("https://127.0.0.1:1/dns-query:")
    }))

  it.effect("IP literals need no resolver", () =>
    Effect.gen(function*() {
      const resolver = yield* DnsResolver.make([failingSystem])
      expect(yield* resolver.resolve("127.0.0.1")).toEqual([{ address: "127.0.0.1", family: 4 }])
    }))

  it.effect("the session connects through the chain (system fails, DoH answers)", () =>
    Effect.gen(function*() {
      const doh = yield* startDohServer(60)
      const server = yield* startServer("h1", (_request, response) => response.end("{\"ok\":true}"))
      const port = new URL(server.origin).port
      const chain = Effect.map(
        DnsResolver.dohResolver("local-doh", doh.url, { ca: testCertificate().cert }),
        (step) => [failingSystem, step]
      )
      const response = yield* HttpSession.HttpSession.use((session) => session.get(`http://mirror.test:${port}/x.json`))
        .pipe(
          Effect.provide(
            HttpSession.layer.pipe(
              Layer.provide(DnsResolver.layerChain(chain)),
              Layer.provide(Tif1Config.layerDefaults({ connectionStatsLogInterval: 0 }))
            )
          )
        )
      expect(Buffer.from(response.body).toString()).toBe("{\"ok\":true}")
      expect(doh.aQueries()).toBe(1)
    }))
})
