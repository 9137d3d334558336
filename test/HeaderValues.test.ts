/**
 * `user_agent` and `cdn_headers` values (issue 26, item 9): what the config accepts reaches a real
 * server as written (Latin-1 letters, a tab inside); what no HTTP header can hold (a control
 * character, a character above U+00FF) is a `Tif1ConfigError` when the client is made, before any
 * request, instead of every request failing as a retryable protocol error against CDN health.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { Tif1Client } from "../src/client.js"
import * as MirrorServer from "../src/mirror/MirrorServer.js"
import type { Tif1ConfigOverrides } from "../src/schema/Config.js"
import { Tif1ConfigError } from "../src/schema/Errors.js"
import { startServer } from "./support/servers.js"

const drivers = { drivers: [{ driver: "VER", team: "Red Bull Racing" }] }

/** A mirror that records the headers of every request and serves `drivers`. */
const recordingMirror = Effect.gen(function*() {
  const seen: Array<{ userAgent: string | undefined; token: string | undefined }> = []
  const server = yield* startServer("h1", (request, response) => {
    seen.push({
      userAgent: request.headers["user-agent"] as string | undefined,
      token: request.headers["x-token"] as string | undefined
    })
    response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(drivers))
  })
  return { seen, origin: server.origin, hostPort: new URL(server.origin).host }
})

const settings = (origin: string, overrides: Tif1ConfigOverrides): Tif1ConfigOverrides => ({
  cdns: [MirrorServer.templateFor(origin)],
  enableCache: false,
  maxRetries: 0,
  connectionStatsLogInterval: 0,
  ...overrides
})

describe("header values from the config", () => {
  it.live("accepted values reach the server as written", () =>
    Effect.gen(function*() {
      const mirror = yield* recordingMirror
      const client = yield* Effect.acquireRelease(
        Effect.promise(() =>
          Tif1Client.make(settings(mirror.origin, {
            userAgent: "tif1 (café)\tbot",
            cdnHeaders: { [mirror.hostPort]: { "X-Token": "tøken\tv2" } }
          }))
        ),
        (made) => Effect.promise(() => made.close())
      )
      const value = yield* Effect.promise(() => client.fetchJson(2025, "Australian Grand Prix", "Race", "drivers.json"))
      expect(value).toEqual(drivers)
      expect(mirror.seen).toEqual([{ userAgent: "tif1 (café)\tbot", token: "tøken\tv2" }])
    }))

  it.live("a value no header can hold rejects Tif1Client.make naming the key; nothing is sent", () =>
    Effect.gen(function*() {
      const mirror = yield* recordingMirror
      const refused: ReadonlyArray<[Tif1ConfigOverrides, string]> = [
        [{ userAgent: "tif1\u0001" }, "user_agent"],
        [{ userAgent: "tif1 \u2713" }, "user_agent"],
        [{ cdnHeaders: { [mirror.hostPort]: { "X-Token": "t0ken\u007f" } } }, "cdn_headers"]
      ]
      for (const [overrides, key] of refused) {
        const error = yield* Effect.promise(() =>
          Tif1Client.make(settings(mirror.origin, overrides)).then(
            (client) => client.close().then(() => "made"),
            (error: unknown) => error
          )
        )
        expect(error).toBeInstanceOf(Tif1ConfigError)
        expect(error).toMatchObject({ key, source: "override" })
      }
      expect(mirror.seen).toEqual([])
    }))
})
