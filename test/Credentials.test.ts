/**
 * Credentials in configured URLs (`cdns`, `proxy`, `redis_url`), read as the WHATWG URL parser reads
 * them: the last `@` before the host ends `user:password`, the first `:` splits it, both are
 * percent-decoded (a `%` that is no escape is a `Tif1ConfigError`). A real local server checks the
 * Basic credentials it receives; request URLs, errors, spans, `cdnSources()` and `tif1 config` show
 * no secret, whatever the form (`user:password`, a token alone, `@` or `:` inside).
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Tracer from "effect/Tracer"
import type * as Http from "node:http"
import { Tif1Client } from "../src/client.js"
import * as Tif1 from "../src/layers/Tif1.js"
import { defaultConfig, redactSecrets, type Tif1ConfigOverrides } from "../src/schema/Config.js"
import { Tif1ConfigError } from "../src/schema/Errors.js"
import * as CdnManager from "../src/services/CdnManager.js"
import { Fetcher } from "../src/services/Fetcher.js"
import { runCli } from "./support/cli.js"
import { startServer } from "./support/servers.js"

const race = { year: 2025, gp: "Australian Grand Prix", session: "Race" }
const drivers = { drivers: [{ driver: "VER", team: "Red Bull Racing" }] }
const driversPath = "/2025/Australian%20Grand%20Prix/Race/drivers.json"
const basic = (userColonPassword: string) => `Basic ${Buffer.from(userColonPassword, "utf8").toString("base64")}`

/** Hermetic enough for a client: no cache, one attempt per CDN, no stats lines. */
const quiet: Tif1ConfigOverrides = { enableCache: false, maxRetries: 0, connectionStatsLogInterval: 0 }

/**
 * A mirror that serves `drivers.json` only with the `authorization` it expects (401 otherwise),
 * answers 503 for `rcm.json` (to see a failure's URL), and records what it was sent.
 */
const privateMirror = (authorization: string) =>
  Effect.gen(function*() {
    const seen: Array<{ url: string; authorization: string | undefined }> = []
    const server = yield* startServer("h1", (request, response) => {
      const url = (request as Http.IncomingMessage).url!
      seen.push({ url, authorization: request.headers.authorization })
      if (request.headers.authorization !== authorization) return response.writeHead(401).end()
      if (url.endsWith("/rcm.json")) return response.writeHead(503).end()
      response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(drivers))
    })
    return { seen, hostPort: `127.0.0.1:${new URL(server.origin).port}` }
  })

/** The error `defaultConfig` throws for `overrides` (it checks them as the live layer does). */
const configError = (overrides: Tif1ConfigOverrides): Tif1ConfigError => {
  try {
    defaultConfig(overrides)
  } catch (error) {
    if (error instanceof Tif1ConfigError) return error
    throw error
  }
  throw new Error(`expected a config error for ${JSON.stringify(overrides)}`)
}

/** One file of the race through the Promise client; its rejection in the error channel. */
const fetchFile = (tif1: Tif1Client, path: string) =>
  Effect.tryPromise({
    try: () => tif1.fetchJson(race.year, race.gp, race.session, path),
    catch: (rejection) => rejection
  })

/** A client for `cdns`, closed with the test's scope. */
const client = (cdns: ReadonlyArray<string>) =>
  Effect.acquireRelease(
    Effect.promise(() => Tif1Client.make({ ...quiet, cdns })),
    (made) => Effect.promise(() => made.close())
  )

describe("credentials in CDN URLs", () => {
  it.live("an unencoded @ in the password: the whole password is sent, and no URL shows any of it", () =>
    Effect.gen(function*() {
      const mirror = yield* privateMirror(basic("f1fan:p@ss@word"))
      const template = `/{year}/{gp}/{session}/{path}`
      const tif1 = yield* client([`http://f1fan:p@ss@word@${mirror.hostPort}${template}`])
      expect(yield* fetchFile(tif1, "drivers.json")).toEqual(drivers)
      expect(mirror.seen).toEqual([{ url: driversPath, authorization: basic("f1fan:p@ss@word") }])
      const sources = yield* Effect.promise(() => tif1.cdnSources())
      expect(sources.map(({ baseUrl, name }) => ({ baseUrl, name }))).toEqual([
        { name: mirror.hostPort, baseUrl: `http://${mirror.hostPort}${template}` }
      ])
      const failed = yield* Effect.flip(fetchFile(tif1, "rcm.json"))
      expect(failed).toMatchObject({
        _tag: "NetworkError",
        status: 503,
        url: `http://${mirror.hostPort}/2025/Australian%20Grand%20Prix/Race/rcm.json`
      })
      expect(String(failed)).not.toMatch(/word|p@ss|p%40ss/)
    }))

  it.live("a : in the password is part of it; a token alone is user `token`, empty password (jsDelivr shape)", () =>
    Effect.gen(function*() {
      const withColon = yield* privateMirror(basic("f1fan:pa:ss"))
      const token = yield* privateMirror(basic("T0KEN:"))
      const tif1 = yield* client([`http://f1fan:pa:ss@${withColon.hostPort}/{year}/{gp}/{session}/{path}`])
      expect(yield* fetchFile(tif1, "drivers.json")).toEqual(drivers)
      expect(withColon.seen).toEqual([{ url: driversPath, authorization: basic("f1fan:pa:ss") }])
      const alone = yield* client([`http://T0KEN@${token.hostPort}/gh/TracingInsights`])
      expect(yield* fetchFile(alone, "drivers.json")).toEqual(drivers)
      expect(token.seen).toEqual([{
        url: "/gh/TracingInsights/2025@main/Australian%20Grand%20Prix/Race/drivers.json",
        authorization: basic("T0KEN:")
      }])
      const sources = yield* Effect.promise(() => alone.cdnSources())
      expect(sources[0]!.baseUrl).toBe(`http://${token.hostPort}/gh/TracingInsights`)
    }))

  it.live("the url.full span attribute and the error's URL carry no credentials", () =>
    Effect.gen(function*() {
      const mirror = yield* privateMirror(basic("f1fan:p@ss@word"))
      const spans: Array<Tracer.NativeSpan> = []
      const recording = Tracer.make({
        span(options) {
          const span = new Tracer.NativeSpan(options)
          spans.push(span)
          return span
        }
      })
      const failed = yield* Effect.flatMap(Fetcher, (fetcher) => fetcher.json({ ...race, path: "rcm.json" })).pipe(
        Effect.flip,
        Effect.provide(Tif1.layerConfig({
          ...quiet,
          cdns: [`http://f1fan:p@ss@word@${mirror.hostPort}/{year}/{gp}/{session}/{path}`]
        })),
        Effect.withTracer(recording)
      )
      const url = `http://${mirror.hostPort}/2025/Australian%20Grand%20Prix/Race/rcm.json`
      expect(failed).toMatchObject({ _tag: "NetworkError", status: 503, url })
      const urls = spans.flatMap((span) => span.attributes.has("url.full") ? [span.attributes.get("url.full")] : [])
      expect(urls.length).toBeGreaterThan(0)
      expect(new Set(urls)).toEqual(new Set([url]))
      expect(mirror.seen.map((request) => request.authorization)).toEqual([basic("f1fan:p@ss@word")])
    }))

  it.effect("a % that is no escape is a Tif1ConfigError naming cdns, proxy or redis_url; no secret shown", () =>
    Effect.gen(function*() {
      const cdn = "http://f1fan:100%pure@127.0.0.1:9/{year}/{gp}/{session}/{path}"
      const fromClient = yield* Effect.promise(() => Tif1Client.make({ ...quiet, cdns: [cdn] }).catch((error) => error))
      expect(fromClient).toBeInstanceOf(Tif1ConfigError)
      expect(fromClient).toMatchObject({ key: "cdns", source: "override" })
      expect(fromClient.message).toContain("%")
      const cases: ReadonlyArray<[Tif1ConfigOverrides, string]> = [
        [{ cdns: [cdn] }, "cdns"],
        [{ cdns: ["http://100%pure@127.0.0.1:9/gh/TracingInsights"] }, "cdns"],
        [{ cdns: ["http://f1fan:%E2%82@127.0.0.1:9/gh/TracingInsights"] }, "cdns"], // not UTF-8
        [{ proxy: "http://f1fan:100%pure@127.0.0.1:3128" }, "proxy"],
        [{ redisUrl: "redis://f1fan:100%pure@127.0.0.1:6379/0" }, "redis_url"]
      ]
      for (const [overrides, key] of cases) {
        const error = configError(overrides)
        expect(error).toMatchObject({ _tag: "Tif1ConfigError", key, source: "override" })
        expect(error.message).not.toMatch(/pure|%E2%82/)
      }
    }))

  it("a user name with a : (from %3A) cannot be Basic auth: a config error", () => {
    const error = configError({ cdns: ["http://f1%3Afan:s3cret@127.0.0.1:9/gh/TracingInsights"] })
    expect(error).toMatchObject({ _tag: "Tif1ConfigError", key: "cdns" })
    expect(error.message).not.toContain("s3cret")
  })

  it.effect("the credentials sent and the URL left are the WHATWG URL parser's reading of the configured URL", () =>
    Effect.gen(function*() {
      const forms = [
        "https://f1fan:hunter2@mirror.example/gh/TracingInsights",
        "https://f1fan:p@ss@word@mirror.example/gh/TracingInsights",
        "https://f1fan:pa:ss:wd@mirror.example:8443/gh/TracingInsights",
        "https://me@home:pw@mirror.example/gh/TracingInsights",
        "https://T0KEN@mirror.example/gh/TracingInsights",
        "https://:only-a-password@mirror.example/gh/TracingInsights",
        "https://f1fan:p%40ss%20w%C3%B6rd@mirror.example/gh/TracingInsights",
        "https://f%C3%BCn:p%3Ass@[::1]:8443/gh/TracingInsights",
        "HTTPS://f1fan:x@mirror.example?who=me@home",
        "https://mirror.example/gh/TracingInsights?who=me@home",
        "https://mirror.example/gh/TracingInsights#me@home"
      ]
      const manager = yield* CdnManager.make({ cdns: forms, recoveryTimeoutSeconds: 30, minify: false })
      const sources = yield* manager.sources
      forms.forEach((configured, index) => {
        const whatwg = new URL(configured)
        const username = decodeURIComponent(whatwg.username)
        const password = decodeURIComponent(whatwg.password)
        const sent = username === "" && password === "" ? undefined : basic(`${username}:${password}`)
        expect(manager.headersFor(sources[index]!.name)?.authorization).toBe(sent)
        whatwg.username = ""
        whatwg.password = ""
        expect(new URL(sources[index]!.baseUrl).href).toBe(whatwg.href)
      })
    }))

  it("a URL refused for another reason shows no secret either", () => {
    const cases: ReadonlyArray<Tif1ConfigOverrides> = [
      { cdns: ["https://f1fan:hunt@r2@mirror.example/{year}/{bogus}/{path}"] },
      { cdns: ["https://T0KEN@mirror.example/{year}/{gp}/{session}"] },
      { cdns: ["https://f1fan:hunt r2@mirror.example/gh/TracingInsights"] },
      { cdns: ["ftp://f1fan:hunt@r2@mirror.example/gh"] },
      { cdns: ["https:///f1fan:hunt@r2@mirror.example/gh"] },
      { cdns: ["https:\\f1fan:hunt@r2@mirror.example/gh"] },
      { proxy: "socks5://f1fan:hunt@r2@127.0.0.1:1080" },
      { redisUrl: "redis://f1fan:hunt@r2@127.0.0.1:6379/zero" }
    ]
    for (const overrides of cases) {
      const error = configError(overrides)
      expect(error.message).not.toMatch(/hunt|r2@|T0KEN/)
      expect(error.message).toContain("***")
    }
  })

  it.effect("CdnManager.make given an unreadable URL directly fails with a Tif1ConfigError, not a defect", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(CdnManager.make({
        cdns: ["http://f1fan:100%pure@127.0.0.1:9/gh/TracingInsights"],
        recoveryTimeoutSeconds: 30,
        minify: false
      }))
      expect(error).toMatchObject({ _tag: "Tif1ConfigError", key: "cdns" })
      expect(error.message).not.toContain("pure")
    }))
})

describe("redactSecrets", () => {
  it("hides every form of userinfo, in one URL and in JSON lists, and leaves paths alone", () => {
    const cases: ReadonlyArray<[string, string]> = [
      ["https://f1fan:hunter2@mirror.example/x", "https://f1fan:***@mirror.example/x"],
      ["https://T0KEN@mirror.example/x", "https://***@mirror.example/x"],
      ["https://f1fan:p@ss@word@mirror.example/x", "https://f1fan:***@mirror.example/x"],
      ["https://f1fan:pa:ss@mirror.example", "https://f1fan:***@mirror.example"],
      ["https://me@home:pw@mirror.example:8443/x", "https://me@home:***@mirror.example:8443/x"],
      ["https://:pw@[::1]:8443/x", "https://:***@[::1]:8443/x"],
      ["redis://default:r3d@s@127.0.0.1:6379/0", "redis://default:***@127.0.0.1:6379/0"],
      [
        "https://cdn.jsdelivr.net/gh/TracingInsights/2025@main/x.json",
        "https://cdn.jsdelivr.net/gh/TracingInsights/2025@main/x.json"
      ],
      ["https://mirror.example?who=me@home", "https://mirror.example?who=me@home"],
      [
        JSON.stringify(["https://T0KEN@a.example/{year}/{gp}/{session}/{path}", "https://u:p@ss@b.example"]),
        JSON.stringify(["https://***@a.example/{year}/{gp}/{session}/{path}", "https://u:***@b.example"])
      ],
      ["connecting to redis://u:pw@ss@127.0.0.1:6379 failed", "connecting to redis://u:***@127.0.0.1:6379 failed"]
    ]
    for (const [text, shown] of cases) expect(redactSecrets(text)).toBe(shown)
  })

  it.live("tif1 config shows no token, no password with @ or : inside, for cdns, proxy and redis_url", () =>
    Effect.gen(function*() {
      const result = yield* Effect.promise(() =>
        runCli(["config"], {
          env: {
            TIF1_CDNS: [
              "https://T0KEN@a.example/{year}/{gp}/{session}/{path}",
              "https://me@home:pa@ss:wd@b.example/gh/TracingInsights"
            ].join(","),
            TIF1_PROXY: "http://pr0xy:se@cret@127.0.0.1:3128",
            TIF1_REDIS_URL: "redis://:r3dis@pw@127.0.0.1:6379/0"
          }
        })
      )
      expect(result.code).toBe(0)
      expect(result.stdout).toContain("https://***@a.example/{year}/{gp}/{session}/{path}")
      expect(result.stdout).toContain("https://me@home:***@b.example/gh/TracingInsights")
      expect(result.stdout).toContain("http://pr0xy:***@127.0.0.1:3128")
      expect(result.stdout).toContain("redis://:***@127.0.0.1:6379/0")
      expect(result.stdout + result.stderr).not.toMatch(/T0KEN|pa@ss|ss:wd|se@cret|cret@|r3dis|pw@/)
    }))
})
