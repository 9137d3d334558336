/**
 * Every answer means what it says (the table at the top of `Fetcher.ts`): redirects are
 * followed, refusals and odd statuses are never "not found", no CDN available is never "not
 * found", and the same answers give the same error whatever `max_retries` is. Only an answer
 * that was evidence of a missing file reaches the negative cache: each case checks that a new
 * stack on the same cache folder asks the network again.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Fs from "node:fs"
import type * as Http from "node:http"
import * as Os from "node:os"
import * as Path from "node:path"
import * as MirrorServer from "../src/mirror/MirrorServer.js"
import type { Tif1ConfigOverrides } from "../src/schema/Config.js"
import { Tif1Config } from "../src/schema/Config.js"
import * as Cache from "../src/services/Cache.js"
import { CdnManager } from "../src/services/CdnManager.js"
import { Fetcher } from "../src/services/Fetcher.js"
import { startServer } from "./support/servers.js"
import { fixturesRoot, stack } from "./support/stack.js"

const race = { year: 2025, gp: "Australian Grand Prix", session: "Race" }
const driversPath = "/2025/Australian%20Grand%20Prix/Race/drivers.json"
const drivers = JSON.parse(
  Fs.readFileSync(Path.join(fixturesRoot, "2025/Australian Grand Prix/Race/drivers.json"), "utf8")
)

/** A server whose every answer the test writes; it counts what it was asked. */
const scripted = (answer: (request: Http.IncomingMessage, response: Http.ServerResponse) => void) =>
  startServer("h1", (request, response) => answer(request as Http.IncomingMessage, response))

const templateOf = (origin: string) => MirrorServer.templateFor(origin)

/** `json` of drivers.json on a new stack (a new process) with a SQLite cache in `cacheDir`. */
const fetchDrivers = (cacheDir: string, overrides: Tif1ConfigOverrides) =>
  Effect.flatMap(Fetcher, (fetcher) => fetcher.json({ ...race, path: "drivers.json" })).pipe(
    Effect.provide(stack(overrides, Cache.layerSqlite.pipe(Layer.provide(Tif1Config.layerDefaults({ cacheDir })))))
  )
const tempDir = () => Fs.mkdtempSync(Path.join(Os.tmpdir(), "tif1-outcomes-"))

describe("what each answer means", () => {
  it.live("a redirect is followed and the final answer is the CDN's answer", () =>
    Effect.gen(function*() {
      const mirror = yield* MirrorServer.make({ root: fixturesRoot, protocol: "h1" })
      const redirecting = yield* scripted((request, response) => {
        const hop = Number(new URL(request.url!, "http://x").searchParams.get("hop") ?? 0)
        const location = hop < 2 ? `${request.url!.split("?")[0]}?hop=${hop + 1}` : `${mirror.origin}${driversPath}`
        response.writeHead(hop === 0 ? 301 : 307, { location }).end()
      })
      const value = yield* fetchDrivers(tempDir(), { cdns: [templateOf(redirecting.origin)], maxRetries: 0 })
      expect(value).toEqual(drivers)
      expect(redirecting.requests()).toBe(3)
      expect(mirror.hits()).toBe(1)
    }))

  it.live("a redirect loop fails that CDN (redirect), is not cached as missing, and the next run succeeds", () =>
    Effect.gen(function*() {
      let redirect = true
      const server = yield* scripted((request, response) => {
        if (redirect) return response.writeHead(302, { location: request.url! }).end()
        response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(drivers))
      })
      const cacheDir = tempDir()
      const overrides = { cdns: [templateOf(server.origin)], maxRetries: 2 }
      const error = yield* Effect.flip(fetchDrivers(cacheDir, overrides))
      expect(error).toMatchObject({ _tag: "NetworkError", kind: "redirect", status: 302 })
      expect(error.message).toContain("more than 5 redirects")
      expect(server.requests()).toBe(6) // the first request and 5 hops; never retried
      redirect = false
      expect(yield* fetchDrivers(cacheDir, overrides)).toEqual(drivers)
    }))

  it.live("401 from a private mirror is access-denied, never not-found, and is not remembered", () =>
    Effect.gen(function*() {
      let refuse = true
      const server = yield* scripted((_request, response) => {
        if (refuse) return response.writeHead(401, { "www-authenticate": "Basic" }).end()
        response.writeHead(200).end(JSON.stringify(drivers))
      })
      const cacheDir = tempDir()
      const overrides = { cdns: [templateOf(server.origin)], maxRetries: 3 }
      const error = yield* Effect.flip(fetchDrivers(cacheDir, overrides))
      expect(error).toMatchObject({ _tag: "NetworkError", kind: "access-denied", status: 401 })
      expect(server.requests()).toBe(1)
      refuse = false
      expect(yield* fetchDrivers(cacheDir, overrides)).toEqual(drivers)
      expect(server.requests()).toBe(2)
    }))

  it.live("403 then 404 is access-denied without retry rounds: one CDN did not say missing", () =>
    Effect.gen(function*() {
      const refusing = yield* scripted((_request, response) => response.writeHead(403).end())
      const missing = yield* scripted((_request, response) => response.writeHead(404).end())
      const error = yield* Effect.flip(
        fetchDrivers(tempDir(), { cdns: [templateOf(refusing.origin), templateOf(missing.origin)], maxRetries: 3 })
      )
      expect(error).toMatchObject({ _tag: "NetworkError", kind: "access-denied", status: 403 })
      expect([refusing.requests(), missing.requests()]).toEqual([1, 1])
    }))

  it.live("a 304 to an unconditional request, or a 418, fails that CDN (http-status), never not-found", () =>
    Effect.gen(function*() {
      for (const status of [304, 418]) {
        const server = yield* scripted((_request, response) => response.writeHead(status).end())
        const error = yield* Effect.flip(fetchDrivers(tempDir(), { cdns: [templateOf(server.origin)], maxRetries: 2 }))
        expect(error).toMatchObject({ _tag: "NetworkError", kind: "http-status", status })
        expect(server.requests()).toBe(1)
      }
    }))

  it.live("no CDN available is no-cdn, not cached: after disable then reset the file is fetched", () =>
    Effect.gen(function*() {
      const mirror = yield* MirrorServer.make({ root: fixturesRoot, protocol: "h1" })
      const cacheDir = tempDir()
      const program = Effect.gen(function*() {
        const cdns = yield* CdnManager
        const fetcher = yield* Fetcher
        for (const source of yield* cdns.sources) yield* cdns.disable(source.name, "test")
        const error = yield* Effect.flip(fetcher.json({ ...race, path: "drivers.json" }))
        yield* cdns.reset
        return { error, value: yield* fetcher.json({ ...race, path: "drivers.json" }) }
      })
      const { error, value } = yield* program.pipe(
        Effect.provide(stack(
          { cdns: [templateOf(mirror.origin)] },
          Cache.layerSqlite.pipe(Layer.provide(Tif1Config.layerDefaults({ cacheDir })))
        ))
      )
      expect(error).toMatchObject({ _tag: "NetworkError", kind: "no-cdn" })
      expect(value).toEqual(drivers)
      expect(mirror.hits()).toBe(1)
    }))

  it.live("404 on one CDN and a refused connection on the other: the same NetworkError for max_retries 0 and 3", () =>
    Effect.gen(function*() {
      const missing = yield* scripted((_request, response) => response.writeHead(404).end())
      const closed = yield* scripted((_request, response) => response.end())
      const closedOrigin = closed.origin
      yield* Effect.promise(() => new Promise((resolve) => closed.server.close(resolve)))
      for (const maxRetries of [0, 3]) {
        const error = yield* Effect.flip(
          fetchDrivers(tempDir(), { cdns: [templateOf(missing.origin), templateOf(closedOrigin)], maxRetries })
        )
        expect(error, `max_retries ${maxRetries}`).toMatchObject({ _tag: "NetworkError", kind: "connect" })
      }
      // The 404 CDN settled its answer in the first round of each fetch: never asked again in later rounds.
      expect(missing.requests()).toBe(2)
    }))

  it.live("a body in an encoding that was not asked for is InvalidDataError naming it", () =>
    Effect.gen(function*() {
      const server = yield* scripted((_request, response) =>
        response.writeHead(200, { "content-encoding": "br" }).end(Buffer.from([0x1b, 0x03, 0x00, 0xf8]))
      )
      const error = yield* Effect.flip(fetchDrivers(tempDir(), { cdns: [templateOf(server.origin)], maxRetries: 0 }))
      expect(error._tag).toBe("InvalidDataError")
      expect(error.message).toContain("content-encoding \"br\", which was not asked for")
    }))
})
