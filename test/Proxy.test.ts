/**
 * Proxies are opt-in: through a real `tinyproxy` started by the test (Debian's package, which
 * `.ci/run` installs), with `proxy` or with `trust_env` and HTTPS_PROXY / NO_PROXY; without them
 * the environment's proxy is ignored. Inside the CONNECT tunnel the session speaks HTTP/2 to an
 * origin that offers it and HTTP/1.1 to one that does not, as on a direct connection.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import { type ChildProcess, spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import * as MirrorServer from "../src/mirror/MirrorServer.js"
import { Tif1Config, type Tif1ConfigOverrides } from "../src/schema/Config.js"
import * as DnsResolver from "../src/services/DnsResolver.js"
import { Fetcher } from "../src/services/Fetcher.js"
import * as HttpSession from "../src/services/HttpSession.js"
import { proxyAgentTarget } from "../src/services/internal/proxy.js"
import { startServer, testCertificate } from "./support/servers.js"
import { fixturesRoot, stack } from "./support/stack.js"

const race = { year: 2025, gp: "Australian Grand Prix", session: "Race" }
const drivers = JSON.parse(
  Fs.readFileSync(Path.join(fixturesRoot, "2025/Australian Grand Prix/Race/drivers.json"), "utf8")
)

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = Net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as Net.AddressInfo
      server.close(() => resolve(port))
    })
  })

let proxy: ChildProcess
let proxyUrl = ""
let logFile = ""
let mirror: MirrorServer.MirrorServerService
const scope = Effect.runSync(Scope.make())

beforeAll(async () => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "tif1-tinyproxy-"))
  const port = await freePort()
  logFile = Path.join(dir, "tinyproxy.log")
  // No ConnectPort line: CONNECT to any port (the mirror's is random).
  Fs.writeFileSync(
    Path.join(dir, "tinyproxy.conf"),
    [`Port ${port}`, "Listen 127.0.0.1", "Allow 127.0.0.1", `LogFile "${logFile}"`, "LogLevel Connect", "Timeout 30"]
      .join("\n")
  )
  proxy = spawn("tinyproxy", ["-d", "-c", Path.join(dir, "tinyproxy.conf")], { stdio: "ignore" })
  proxyUrl = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 10_000
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = Net.connect(port, "127.0.0.1", () => (socket.end(), resolve(true)))
      socket.on("error", () => resolve(false))
    })
    if (up) break
    if (Date.now() > deadline) throw new Error("tinyproxy did not start")
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  mirror = await Effect.runPromise(
    Scope.provide(MirrorServer.make({ root: fixturesRoot, protocol: "h2", certificate: testCertificate() }), scope)
  )
})
afterAll(async () => {
  proxy.kill("SIGTERM")
  await Effect.runPromise(Scope.close(scope, Exit.void))
})

/** CONNECT lines the proxy logged for an origin's port (the mirror's by default). */
const tunnels = (origin = mirror.origin) =>
  (Fs.existsSync(logFile) ? Fs.readFileSync(logFile, "utf8") : "").split("\n")
    .filter((line) => line.includes("CONNECT") && line.includes(`127.0.0.1:${new URL(origin).port}`)).length

const fetchDrivers = (overrides: Tif1ConfigOverrides) =>
  Effect.flatMap(Fetcher, (fetcher) => fetcher.json({ ...race, path: "drivers.json" })).pipe(
    Effect.provide(stack({ cdns: [MirrorServer.templateFor(mirror.origin)], maxRetries: 0, ...overrides }))
  )

/**
 * A CONNECT proxy of our own (tinyproxy's BasicAuth cannot have an empty user name) that records
 * the `Proxy-Authorization` of each CONNECT, answers 407 unless it is `expected`, and tunnels the
 * rest to the target.
 */
const authenticatingProxy = (expected: string) =>
  Effect.acquireRelease(
    Effect.callback<{ readonly url: string; readonly seen: Array<string | undefined>; readonly close: () => void }>(
      (resume) => {
        const seen: Array<string | undefined> = []
        // A CONNECT socket leaves the server's connection list: the proxy keeps and ends its own.
        const sockets = new Set<Net.Socket>()
        const server = Http.createServer((_request, response) => response.writeHead(405).end())
        server.on("connect", (request: Http.IncomingMessage, client: Net.Socket, head: Buffer) => {
          sockets.add(client)
          client.on("close", () => sockets.delete(client))
          seen.push(request.headers["proxy-authorization"])
          if (request.headers["proxy-authorization"] !== expected) {
            client.end("HTTP/1.1 407 Proxy Authentication Required\r\ncontent-length: 0\r\n\r\n")
            return
          }
          const [host, port] = request.url!.split(":")
          const upstream = Net.connect(Number(port), host!, () => {
            client.write("HTTP/1.1 200 Connection Established\r\n\r\n")
            upstream.write(head)
            upstream.pipe(client).pipe(upstream)
          })
          upstream.on("error", () => client.destroy())
          upstream.on("close", () => client.destroy())
          client.on("close", () => upstream.destroy())
        })
        server.listen(0, "127.0.0.1", () =>
          resume(Effect.succeed({
            url: `127.0.0.1:${(server.address() as Net.AddressInfo).port}`,
            seen,
            close: () => {
              for (const socket of sockets) socket.destroy()
              server.close()
            }
          })))
      }
    ),
    ({ close }) => Effect.sync(close)
  )

/** Run with these environment variables set, then restore them. */
const withEnv = <A, E>(env: Record<string, string>, effect: Effect.Effect<A, E>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const before = Object.fromEntries(Object.keys(env).map((name) => [name, process.env[name]]))
      Object.assign(process.env, env)
      return before
    }),
    () => effect,
    (before) =>
      Effect.sync(() => {
        for (const [name, value] of Object.entries(before)) {
          if (value === undefined) delete process.env[name]
          else process.env[name] = value
        }
      })
  )

describe("proxies (a real tinyproxy)", () => {
  it.live("proxy sends every request through the proxy, tunnelled with CONNECT", () =>
    Effect.gen(function*() {
      const before = tunnels()
      expect(yield* fetchDrivers({ proxy: proxyUrl })).toEqual(drivers)
      expect(tunnels()).toBeGreaterThan(before)
    }))

  it.live("HTTPS_PROXY is ignored unless trust_env; with it, used; NO_PROXY bypasses it", () =>
    Effect.gen(function*() {
      const env = { HTTPS_PROXY: proxyUrl, NO_PROXY: "" }
      const start = tunnels()
      expect(yield* withEnv(env, fetchDrivers({}))).toEqual(drivers)
      expect(tunnels()).toBe(start)
      expect(yield* withEnv(env, fetchDrivers({ trustEnv: true }))).toEqual(drivers)
      const through = tunnels()
      expect(through).toBeGreaterThan(start)
      expect(yield* withEnv({ ...env, NO_PROXY: "localhost,127.0.0.1" }, fetchDrivers({ trustEnv: true }))).toEqual(
        drivers
      )
      expect(tunnels()).toBe(through)
    }))

  it.live("proxy credentials are read as cdns credentials are: an empty user name with a password is sent too", () =>
    Effect.gen(function*() {
      const basic = (userColonPassword: string) => `Basic ${Buffer.from(userColonPassword).toString("base64")}`
      for (
        const [userinfo, sent] of [
          [":s3cret", ":s3cret"],
          ["f1fan:hunt@r2", "f1fan:hunt@r2"],
          ["TOKEN", "TOKEN:"]
        ] as const
      ) {
        const proxy = yield* authenticatingProxy(basic(sent))
        expect(yield* fetchDrivers({ proxy: `http://${userinfo}@${proxy.url}` }), userinfo).toEqual(drivers)
        expect(proxy.seen.length, userinfo).toBeGreaterThan(0)
        expect(proxy.seen.every((header) => header === basic(sent)), userinfo).toBe(true)
      }
    }).pipe(Effect.scoped))

  it("what undici's ProxyAgent is given: http(s) credentials as a header; a socks5:// URL from the environment as it is", () => {
    expect(proxyAgentTarget("http://:s3cret@127.0.0.1:3128")).toEqual({
      uri: "http://127.0.0.1:3128",
      token: `Basic ${Buffer.from(":s3cret").toString("base64")}`
    })
    expect(proxyAgentTarget("HTTPS://127.0.0.1:3128")).toEqual({ uri: "HTTPS://127.0.0.1:3128" })
    // undici's SOCKS agent reads the user and password from the URL: they are no HTTP header.
    expect(proxyAgentTarget("socks5://f1fan:hunt@127.0.0.1:1080")).toEqual({
      uri: "socks5://f1fan:hunt@127.0.0.1:1080"
    })
  })

  it.live("an HTTPS_PROXY whose credentials cannot be read fails the request naming it, with no secret shown", () =>
    Effect.gen(function*() {
      const proxy = yield* authenticatingProxy("never")
      const error = yield* Effect.flip(
        withEnv({ HTTPS_PROXY: `http://f1fan:100%pure@${proxy.url}`, NO_PROXY: "" }, fetchDrivers({ trustEnv: true }))
      )
      expect(error._tag).toBe("NetworkError")
      expect(String(error.message)).toContain(`the proxy URL http://f1fan:***@${proxy.url} has a % in its`)
      expect(JSON.stringify(error)).not.toContain("pure")
      expect(proxy.seen).toEqual([])
    }).pipe(Effect.scoped))

  it.live("inside the tunnel: HTTP/2 where the origin offers it, on one tunnel; else HTTP/1.1", () =>
    Effect.gen(function*() {
      const seen = { h2: [] as Array<string>, h1: [] as Array<string> }
      const serveVersion = (into: Array<string>) => (request: { httpVersion: string }, response: any) => {
        into.push(request.httpVersion)
        response.end("{}")
      }
      let streamWindow: number | undefined
      const h2 = yield* startServer("h2", (request: any, response) => {
        streamWindow = request.stream?.session.remoteSettings.initialWindowSize
        serveVersion(seen.h2)(request, response)
      })
      const h1 = yield* startServer("h1-tls", serveVersion(seen.h1))
      // No resolver may be asked: through a proxy, names are the proxy's business.
      const noDns = DnsResolver.layerChain(Effect.succeed([{
        name: "none",
        resolve: (hostname: string) => Effect.fail(`none: ${hostname} asked of the resolver`)
      }]))
      yield* HttpSession.HttpSession.use((session) =>
        Effect.forEach(
          [...Array.from({ length: 6 }, (_, i) => `${h2.origin}/${i}.json`), `${h1.origin}/a.json`],
          (url) => session.get(url),
          { concurrency: 6 }
        )
      ).pipe(
        Effect.provide(
          HttpSession.layerWith({ ca: testCertificate().cert }).pipe(
            Layer.provide(noDns),
            Layer.provide(Tif1Config.layerDefaults({ connectionStatsLogInterval: 0, proxy: proxyUrl }))
          )
        )
      )
      expect(seen.h2).toEqual(Array.from({ length: 6 }, () => "2.0"))
      expect(h2.connectionsOpened()).toBe(1)
      // The session's HTTP/2 flow-control window comes along into the tunnel.
      expect(streamWindow).toBe(HttpSession.defaultH2Windows.stream)
      expect(tunnels(h2.origin)).toBe(1)
      expect(seen.h1).toEqual(["1.1"])
      expect(tunnels(h1.origin)).toBe(1)
    }))
})
