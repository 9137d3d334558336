/**
 * Private mirrors: `cdn_headers` per CDN and `user:password@` in a CDN URL sent as Basic auth;
 * secrets never in errors, logs, `cdnSources()` or `tif1 config`, and never sent to another origin.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as References from "effect/References"
import type * as Http from "node:http"
import * as MirrorServer from "../src/mirror/MirrorServer.js"
import type { Tif1ConfigOverrides } from "../src/schema/Config.js"
import { CdnManager } from "../src/services/CdnManager.js"
import { Fetcher } from "../src/services/Fetcher.js"
import { runCli } from "./support/cli.js"
import { startServer } from "./support/servers.js"
import { stack } from "./support/stack.js"

const race = { year: 2025, gp: "Australian Grand Prix", session: "Race" }
const drivers = { drivers: [{ driver: "VER", team: "Red Bull Racing" }] }

/** A mirror that serves only requests carrying `authorization` (and logs what it saw). */
const privateMirror = (authorization: string) =>
  Effect.gen(function*() {
    const seen: Array<{ url: string; authorization: string | undefined }> = []
    const server = yield* startServer("h1", (request, response) => {
      const given = request.headers.authorization
      seen.push({ url: (request as Http.IncomingMessage).url!, authorization: given })
      if (given !== authorization) return response.writeHead(401, { "www-authenticate": "Bearer" }).end()
      if (request.url!.endsWith("/rcm.json")) return response.writeHead(503).end() // a failure, to see its error
      response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(drivers))
    })
    return { server, seen, port: new URL(server.origin).port }
  })

const fetchDrivers = (overrides: Tif1ConfigOverrides) =>
  Effect.flatMap(Fetcher, (fetcher) => fetcher.json({ ...race, path: "drivers.json" })).pipe(
    Effect.provide(stack({ maxRetries: 0, ...overrides }))
  )

describe("private mirrors", () => {
  it.live("cdn_headers by CDN name reach that CDN only; without them it refuses (access-denied)", () =>
    Effect.gen(function*() {
      const mirror = yield* privateMirror("Bearer s3cret")
      const open = yield* startServer("h1", (request, response) => {
        expect(request.headers.authorization).toBeUndefined()
        response.writeHead(404).end()
      })
      const cdns = [MirrorServer.templateFor(open.origin), MirrorServer.templateFor(mirror.server.origin)]
      const value = yield* fetchDrivers({
        cdns,
        cdnHeaders: { [`127.0.0.1:${mirror.port}`]: { Authorization: "Bearer s3cret" } }
      })
      expect(value).toEqual(drivers)
      const refused = yield* Effect.flip(fetchDrivers({ cdns }))
      expect(refused).toMatchObject({ _tag: "NetworkError", kind: "access-denied", status: 401 })
      expect(open.requests()).toBe(2)
    }))

  it.live("user:password in a CDN URL is Basic auth, and appears in no URL, error, log or source list", () =>
    Effect.gen(function*() {
      const mirror = yield* privateMirror(`Basic ${Buffer.from("f1fan:p@ss word").toString("base64")}`)
      const cdn = `http://f1fan:p%40ss%20word@127.0.0.1:${mirror.port}/{year}/{gp}/{session}/{path}`
      const lines: Array<string> = []
      const logger = Logger.layer([Logger.make(({ message }) => lines.push(String(message)))])
      const [value, sources, missing] = yield* Effect.gen(function*() {
        const fetcher = yield* Fetcher
        const value = yield* fetcher.json({ ...race, path: "drivers.json" })
        const sources = yield* Effect.flatMap(CdnManager, (cdns) => cdns.sources)
        return [
          value,
          sources,
          yield* Effect.flip(fetcher.json({ ...race, path: "rcm.json" }, { maxRetries: 0 }))
        ] as const
      }).pipe(
        Effect.provide(stack({ cdns: [cdn], maxRetries: 0 })),
        Effect.provide(logger),
        Effect.provideService(References.MinimumLogLevel, "Debug")
      )
      expect(value).toEqual(drivers)
      expect(mirror.seen[0]!.url).toBe("/2025/Australian%20Grand%20Prix/Race/drivers.json")
      expect(sources[0]!.baseUrl).toBe(`http://127.0.0.1:${mirror.port}/{year}/{gp}/{session}/{path}`)
      expect(missing).toMatchObject({ _tag: "NetworkError", status: 503 })
      const everything = JSON.stringify([sources, missing, String(missing), lines])
      expect(everything).not.toContain("p%40ss")
      expect(everything).not.toContain("p@ss")
    }))

  it.live("credentials never follow a redirect to another origin", () =>
    Effect.gen(function*() {
      const elsewhere = yield* privateMirror("never sent")
      const redirecting = yield* startServer("h1", (request, response) =>
        response.writeHead(302, { location: `${elsewhere.server.origin}${(request as Http.IncomingMessage).url}` })
          .end())
      const port = new URL(redirecting.origin).port
      const error = yield* Effect.flip(fetchDrivers({
        cdns: [`http://user:secret@127.0.0.1:${port}/{year}/{gp}/{session}/{path}`],
        cdnHeaders: { [`127.0.0.1:${port}`]: { "X-Token": "t0ken" } }
      }))
      expect(error).toMatchObject({ kind: "access-denied" })
      expect(elsewhere.seen).toHaveLength(1)
      expect(elsewhere.seen[0]!.authorization).toBeUndefined()
    }))

  it.live("tif1 config shows no password and no header value", () =>
    Effect.gen(function*() {
      const result = yield* Effect.promise(() =>
        runCli(["config"], {
          env: {
            TIF1_CDNS: "https://f1fan:hunter2@mirror.example/{year}/{gp}/{session}/{path}",
            TIF1_CDN_HEADERS: JSON.stringify({ "mirror.example": { Authorization: "Bearer t0psecret" } })
          }
        })
      )
      expect(result.code).toBe(0)
      expect(result.stdout).toContain("https://f1fan:***@mirror.example")
      expect(result.stdout).toContain("{\"mirror.example\":{\"Authorization\":\"***\"}}")
      expect(result.stdout + result.stderr).not.toMatch(/hunter2|t0psecret/)
    }))
})
