/**
 * Compressed transfers against real local servers: what is asked for (compression auto / on /
 * off; auto asks every origin but loopback ones), bodies decoded exactly, wire and decoded bytes
 * counted apart, and bodies that decode too large or not at all are InvalidDataError.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Zlib from "node:zlib"
import { layerFrom } from "../src/layers/Tif1.js"
import * as MirrorServer from "../src/mirror/MirrorServer.js"
import { Tif1Config, type Tif1ConfigOverrides } from "../src/schema/Config.js"
import * as Cache from "../src/services/Cache.js"
import * as DnsResolver from "../src/services/DnsResolver.js"
import { Fetcher } from "../src/services/Fetcher.js"
import { compressedEncodings } from "../src/services/internal/compression.js"
import { startServer } from "./support/servers.js"
import { fixturesRoot } from "./support/stack.js"

const race = { year: 2025, gp: "Australian Grand Prix", session: "Race" }
const telemetryPath = "VER/1_tel.json"
const telemetryText = Fs.readFileSync(Path.join(fixturesRoot, "2025/Australian Grand Prix/Race", telemetryPath))

/** `cdn.test` resolves to 127.0.0.1 here: a name that is not loopback by its looks, as a real CDN's is not. */
const testDns = DnsResolver.layerChain(Effect.succeed([{
  name: "test",
  resolve: (hostname: string) =>
    hostname === "cdn.test"
      ? Effect.succeed({ addresses: [{ address: "127.0.0.1", family: 4 as const }], ttlSeconds: 60 })
      : Effect.fail(`test: ${hostname} is not known here`)
}]))

/** The stack with `overrides` and no cache; returns what `body` returns and the fetcher's counters. */
const withStack = <A, E>(overrides: Tif1ConfigOverrides, body: Effect.Effect<A, E, Fetcher>) =>
  Effect.gen(function*() {
    const value = yield* body
    return { value, stats: yield* Effect.flatMap(Fetcher, (fetcher) => fetcher.stats) }
  }).pipe(
    Effect.provide(
      layerFrom(
        Tif1Config.layerDefaults({ connectionStatsLogInterval: 0, maxRetries: 0, ...overrides }),
        { dns: testDns, cache: Cache.layerNone }
      ).pipe(Layer.orDie)
    )
  )

const fetchTelemetry = Effect.flatMap(Fetcher, (fetcher) => fetcher.json({ ...race, path: telemetryPath }))

/** A CDN serving the telemetry file in the encoding each request asks for, logging what it asked. */
const recordingMirror = Effect.gen(function*() {
  const asked: Array<string> = []
  const front = yield* startServer("h1", (request, response) => {
    const accept = request.headers["accept-encoding"] as string | undefined
    asked.push(String(accept))
    const coding = MirrorServer.negotiateEncoding(accept)
    const body = coding === "br"
      ? Zlib.brotliCompressSync(telemetryText)
      : coding === "gzip"
      ? Zlib.gzipSync(telemetryText)
      : telemetryText
    response.writeHead(200, coding === undefined ? {} : { "content-encoding": coding }).end(body)
  })
  return { asked, origin: front.origin, port: new URL(front.origin).port }
})

describe("compressed transfers", () => {
  it.live("auto asks a non-loopback origin for br and gzip, decodes exactly, and counts wire bytes apart", () =>
    Effect.gen(function*() {
      const cdn = yield* recordingMirror
      const { stats, value } = yield* withStack(
        { cdns: [`http://cdn.test:${cdn.port}/{year}/{gp}/{session}/{path}`] },
        fetchTelemetry
      )
      expect(cdn.asked).toEqual([compressedEncodings.join(", ")])
      expect(value).toEqual(JSON.parse(telemetryText.toString()))
      expect(stats.bytes).toBe(telemetryText.length)
      expect(stats.wireBytes).toBeGreaterThan(0)
      expect(stats.wireBytes).toBeLessThan(telemetryText.length / 2)
    }))

  it.live("auto asks loopback origins for identity; on asks them too; off asks no one", () =>
    Effect.gen(function*() {
      const cdn = yield* recordingMirror
      yield* withStack({ cdns: [MirrorServer.templateFor(cdn.origin)] }, fetchTelemetry)
      const on = yield* withStack({ cdns: [MirrorServer.templateFor(cdn.origin)], compression: "on" }, fetchTelemetry)
      yield* withStack(
        { cdns: [`http://cdn.test:${cdn.port}/{year}/{gp}/{session}/{path}`], compression: "off" },
        fetchTelemetry
      )
      expect(cdn.asked).toEqual(["identity", compressedEncodings.join(", "), "identity"])
      expect(on.value).toEqual(JSON.parse(telemetryText.toString()))
    }))

  it.live("a compression bomb stops at max_response_bytes: InvalidDataError, memory never filled", () =>
    Effect.gen(function*() {
      const bomb = Zlib.gzipSync(Buffer.alloc(256 * 1024 * 1024, 0x20)) // 256 MB of spaces, about 250 KB on the wire
      const server = yield* startServer(
        "h1",
        (_request, response) =>
          response.writeHead(200, { "content-encoding": "gzip", "content-type": "application/json" }).end(bomb)
      )
      const error = yield* Effect.flip(
        withStack(
          { cdns: [MirrorServer.templateFor(server.origin)], compression: "on", maxResponseBytes: 1_000_000 },
          fetchTelemetry
        )
      )
      expect(error._tag).toBe("InvalidDataError")
      expect(error.message).toContain("decodes to more than max_response_bytes (1000000 bytes)")
      expect(server.requests()).toBe(1) // bad data is never retried
    }))

  it.live("an identity body over max_response_bytes, and a body that does not decode, are InvalidDataError", () =>
    Effect.gen(function*() {
      const big = yield* startServer(
        "h1",
        (_request, response) => response.writeHead(200).end(Buffer.alloc(2_000_000, 0x20))
      )
      const tooBig = yield* Effect.flip(
        withStack({ cdns: [MirrorServer.templateFor(big.origin)], maxResponseBytes: 1_000_000 }, fetchTelemetry)
      )
      expect(tooBig.message).toContain("larger than max_response_bytes (1000000 bytes)")
      const broken = yield* startServer(
        "h1",
        (_request, response) =>
          response.writeHead(200, { "content-encoding": "gzip" }).end(Buffer.from("not gzip at all"))
      )
      const garbled = yield* Effect.flip(
        withStack({ cdns: [MirrorServer.templateFor(broken.origin)], compression: "on" }, fetchTelemetry)
      )
      expect(garbled._tag).toBe("InvalidDataError")
      expect(garbled.message).toContain("the gzip body does not decode")
    }))
})
