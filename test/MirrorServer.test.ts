import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Zlib from "node:zlib"
import { Client, H2CClient } from "undici"
import * as MirrorServer from "../src/mirror/MirrorServer.js"
import { pullSession } from "../src/mirror/pull.js"
import { runCli, sandbox, startCli } from "./support/cli.js"
import { eventually, testCertificate } from "./support/servers.js"
import { fixturesRoot, stack } from "./support/stack.js"

const allFiles = (dir: string): Array<string> =>
  Fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? allFiles(Path.join(dir, entry.name)) : [Path.join(dir, entry.name)]
  )

/** The jsDelivr-shaped URL path of a file under a root. */
const urlPathOf = (root: string, file: string) => {
  const [year, ...rest] = Path.relative(root, file).split(Path.sep)
  return `/${year}@main/${rest.map(encodeURIComponent).join("/")}`
}

const clientFor = (mirror: MirrorServer.MirrorServerService, protocol: "h1" | "h2" | "h2c") =>
  Effect.acquireRelease(
    Effect.sync(() =>
      protocol === "h2c"
        ? new H2CClient(mirror.origin)
        : new Client(mirror.origin, protocol === "h2" ? { allowH2: true, connect: { ca: testCertificate().cert } } : {})
    ),
    (client) => Effect.promise(() => client.close())
  )

const get = (client: Client | H2CClient, path: string, headers: Record<string, string> = {}) =>
  Effect.promise(async () => {
    const response = await client.request({ method: "GET", path, headers })
    const body = Buffer.from(await response.body.arrayBuffer())
    return { status: response.statusCode, headers: response.headers, body }
  })

describe("MirrorServer", () => {
  for (const protocol of ["h1", "h2", "h2c"] as const) {
    it.live(`serves every fixture byte-identically over ${protocol}`, () =>
      Effect.gen(function*() {
        const mirror = yield* MirrorServer.make({
          root: fixturesRoot,
          protocol,
          ...(protocol === "h2" ? { certificate: testCertificate() } : {})
        })
        const client = yield* clientFor(mirror, protocol)
        const files = allFiles(fixturesRoot)
        for (const file of files) {
          const response = yield* get(client, urlPathOf(fixturesRoot, file))
          expect(response.status).toBe(200)
          expect(response.headers["content-type"]).toBe("application/json; charset=utf-8")
          expect(response.body.equals(Fs.readFileSync(file))).toBe(true)
        }
        expect(mirror.hits()).toBe(files.length)
        expect(mirror.connectionsOpened()).toBe(1)
      }))
  }

  it.live("serves the plain template shape, answers 304 on a matching ETag, gzips when asked", () =>
    Effect.gen(function*() {
      const mirror = yield* MirrorServer.make({ root: fixturesRoot })
      const client = yield* clientFor(mirror, "h1")
      const path = "/2025/Abu%20Dhabi%20Grand%20Prix/Practice%201/rcm.json"
      const original = Fs.readFileSync(Path.join(fixturesRoot, "2025/Abu Dhabi Grand Prix/Practice 1/rcm.json"))
      const first = yield* get(client, path)
      expect(first.body.equals(original)).toBe(true)
      const etag = first.headers.etag as string
      expect(etag).toMatch(/^".+"$/)
      const again = yield* get(client, path, { "if-none-match": etag })
      expect(again.status).toBe(304)
      expect(again.body.length).toBe(0)
      const zipped = yield* get(client, path, { "accept-encoding": "gzip" })
      expect(zipped.headers["content-encoding"]).toBe("gzip")
      expect(zipped.body.length).toBeLessThan(original.length)
      expect(Zlib.gunzipSync(zipped.body).equals(original)).toBe(true)
    }))

  it.live("br and gzip as asked (q-values honoured), Vary, an ETag per encoding, If-None-Match lists, * and weak tags", () =>
    Effect.gen(function*() {
      const mirror = yield* MirrorServer.make({ root: fixturesRoot })
      const client = yield* clientFor(mirror, "h1")
      const path = "/2025/Abu%20Dhabi%20Grand%20Prix/Practice%201/rcm.json"
      const original = Fs.readFileSync(Path.join(fixturesRoot, "2025/Abu Dhabi Grand Prix/Practice 1/rcm.json"))
      const codingFor = (acceptEncoding: string) =>
        Effect.map(
          get(client, path, { "accept-encoding": acceptEncoding }),
          (r) => r.headers["content-encoding"] ?? "identity"
        )
      expect(yield* codingFor("br, gzip")).toBe("br")
      expect(yield* codingFor("gzip, br")).toBe("br")
      expect(yield* codingFor("gzip;q=1, br;q=0.5")).toBe("gzip")
      expect(yield* codingFor("gzip;q=0")).toBe("identity")
      expect(yield* codingFor("br;q=0, *")).toBe("gzip")
      expect(yield* codingFor("identity")).toBe("identity")
      const br = yield* get(client, path, { "accept-encoding": "br" })
      expect(Zlib.brotliDecompressSync(br.body).equals(original)).toBe(true)
      expect(br.headers.vary).toBe("Accept-Encoding")
      const plain = yield* get(client, path)
      const gz = yield* get(client, path, { "accept-encoding": "gzip" })
      const tags = [plain.headers.etag, br.headers.etag, gz.headers.etag]
      expect(new Set(tags).size).toBe(3)
      const status = (headers: Record<string, string>) => Effect.map(get(client, path, headers), (r) => r.status)
      expect(yield* status({ "accept-encoding": "br", "if-none-match": `"x", ${br.headers.etag}` })).toBe(304)
      expect(yield* status({ "accept-encoding": "br", "if-none-match": `W/${br.headers.etag}` })).toBe(304)
      expect(yield* status({ "if-none-match": "*" })).toBe(304)
      expect(yield* status({ "accept-encoding": "gzip", "if-none-match": String(br.headers.etag) })).toBe(200)
      // Each encoding is made once and kept: the same bytes every time.
      const again = yield* get(client, path, { "accept-encoding": "br" })
      expect(again.body.equals(br.body)).toBe(true)
    }))

  it.live("each content is compressed once: hard links and concurrent requests share one br and one gzip copy", () =>
    Effect.gen(function*() {
      const root = Fs.mkdtempSync(Path.join(Os.tmpdir(), "tif1-mirror-links-"))
      const source = Path.join(fixturesRoot, "2025/Australian Grand Prix/Race/VER/1_tel.json")
      const dir = Path.join(root, "2025/Australian Grand Prix/Race/VER")
      Fs.mkdirSync(dir, { recursive: true })
      Fs.copyFileSync(source, Path.join(dir, "1_tel.json"))
      Fs.linkSync(Path.join(dir, "1_tel.json"), Path.join(dir, "2_tel.json"))
      const mirror = yield* MirrorServer.make({ root })
      const client = yield* clientFor(mirror, "h1")
      const paths = [1, 2].map((lap) => `/2025/Australian%20Grand%20Prix/Race/VER/${lap}_tel.json`)
      const bodies = yield* Effect.forEach(
        Array.from({ length: 10 }, (_, i) => paths[i % 2]!),
        (path) => get(client, path, { "accept-encoding": "br" }),
        { concurrency: "unbounded" }
      )
      const original = Fs.readFileSync(source)
      for (const response of bodies) {
        expect(response.headers["content-encoding"]).toBe("br")
        expect(Zlib.brotliDecompressSync(response.body).equals(original)).toBe(true)
      }
      expect(new Set(bodies.map((response) => response.headers.etag)).size).toBe(1)
      expect(mirror.encodingsMade()).toBe(1)
      const gzipped = yield* get(client, paths[1]!, { "accept-encoding": "gzip" })
      expect(Zlib.gunzipSync(gzipped.body).equals(original)).toBe(true)
      expect(mirror.encodingsMade()).toBe(2)
      yield* get(client, paths[0]!, { "accept-encoding": "gzip" })
      expect(mirror.encodingsMade()).toBe(2)
      Fs.rmSync(root, { recursive: true, force: true })
    }))

  it.live("the h2 mirror answers HTTP/1.1 over TLS as well as HTTP/2, HEAD and 304 on both", () =>
    Effect.gen(function*() {
      const mirror = yield* MirrorServer.make({ root: fixturesRoot, protocol: "h2", certificate: testCertificate() })
      const path = "/2025@main/Australian%20Grand%20Prix/Race/drivers.json"
      const original = Fs.readFileSync(Path.join(fixturesRoot, "2025/Australian Grand Prix/Race/drivers.json"))
      const h1 = yield* Effect.acquireRelease(
        Effect.sync(() => new Client(mirror.origin, { connect: { ca: testCertificate().cert } })),
        (client) => Effect.promise(() => client.close())
      )
      const h2 = yield* clientFor(mirror, "h2")
      for (const client of [h1, h2]) {
        const response = yield* get(client, path)
        expect(response.status).toBe(200)
        expect(response.body.equals(original)).toBe(true)
        const head = yield* Effect.promise(() => client.request({ method: "HEAD", path }))
        yield* Effect.promise(() => head.body.dump())
        expect(head.statusCode).toBe(200)
        expect(head.headers["content-length"]).toBe(String(original.length))
        const again = yield* get(client, path, { "if-none-match": String(response.headers.etag) })
        expect(again.status).toBe(304)
      }
      expect(mirror.hits()).toBe(6)
    }))

  it.live("never serves a file outside its root", () =>
    Effect.gen(function*() {
      const root = Fs.mkdtempSync(Path.join(Os.tmpdir(), "tif1-root-"))
      const session = Path.join(root, "2025", "Test Grand Prix", "Race")
      Fs.mkdirSync(session, { recursive: true })
      Fs.writeFileSync(Path.join(session, "drivers.json"), "{\"drivers\":[]}")
      const outside = Fs.mkdtempSync(Path.join(Os.tmpdir(), "tif1-outside-"))
      Fs.writeFileSync(Path.join(outside, "secret.json"), "{\"secret\":true}")
      Fs.symlinkSync(Path.join(outside, "secret.json"), Path.join(session, "link.json"))
      Fs.symlinkSync(outside, Path.join(session, "dir"))
      const mirror = yield* MirrorServer.make({ root })
      const client = yield* clientFor(mirror, "h1")
      expect((yield* get(client, "/2025@main/Test%20Grand%20Prix/Race/drivers.json")).status).toBe(200)
      const attempts = [
        "/2025@main/Test%20Grand%20Prix/Race/../../../../etc/passwd",
        "/2025@main/Test%20Grand%20Prix/Race/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/2025@main/Test%20Grand%20Prix/Race/%252e%252e/%252e%252e/etc/passwd",
        "/2025@main/Test%20Grand%20Prix/Race/..%2f..%2f..%2fsecret.json",
        "/2025@main/Test%20Grand%20Prix/Race/link.json",
        "/2025@main/Test%20Grand%20Prix/Race/dir/secret.json",
        `/2025@main/${encodeURIComponent(outside)}/x/secret.json`,
        "//etc/passwd",
        "/etc/passwd"
      ]
      for (const attempt of attempts) {
        const response = yield* get(client, attempt)
        expect(response.status, attempt).toBe(404)
        expect(response.body.toString()).not.toContain("secret")
      }
    }))

  it.live("serves the Stats archive's {year}/{file} and {year}/{slug}/{file}, both URL shapes, never outside", () =>
    Effect.gen(function*() {
      const root = Fs.mkdtempSync(Path.join(Os.tmpdir(), "tif1-stats-root-"))
      const event = Path.join(root, "2025", "são-paulo-grand-prix")
      Fs.mkdirSync(event, { recursive: true })
      Fs.writeFileSync(Path.join(root, "2025", "events.json"), "{\"events\":[]}")
      Fs.writeFileSync(Path.join(event, "results.json"), "{\"results\":[]}")
      Fs.writeFileSync(Path.join(root, "top.json"), "{\"top\":true}")
      const outside = Fs.mkdtempSync(Path.join(Os.tmpdir(), "tif1-outside-"))
      Fs.writeFileSync(Path.join(outside, "secret.json"), "{\"secret\":true}")
      // Symlinks out at the year level, where a path now has two segments.
      Fs.symlinkSync(Path.join(outside, "secret.json"), Path.join(root, "2025", "link.json"))
      Fs.symlinkSync(outside, Path.join(root, "2025", "dir"))
      const mirror = yield* MirrorServer.make({ root })
      const client = yield* clientFor(mirror, "h1")
      for (const shape of ["2025", "2025@main"]) {
        const events = yield* get(client, `/${shape}/events.json`)
        expect(events.status, shape).toBe(200)
        expect(events.body.toString()).toBe("{\"events\":[]}")
        const results = yield* get(client, `/${shape}/${encodeURIComponent("são-paulo-grand-prix")}/results.json`)
        expect(results.status, shape).toBe(200)
        expect(results.body.toString()).toBe("{\"results\":[]}")
      }
      // Counted under the decoded key, whichever shape asked.
      expect(mirror.hits("2025/events.json")).toBe(2)
      expect(mirror.hits("2025/são-paulo-grand-prix/results.json")).toBe(2)
      const attempts = [
        "/2025",
        "/2025@main",
        "/2025/",
        "/top.json",
        "/2025/../top.json",
        "/2025/..",
        "/2025/%2e%2e",
        "/2025/%2e%2e/top.json",
        "/2025@main/%252e%252e/top.json",
        "/2025/..%2ftop.json",
        "/2025/..%5ctop.json",
        "/2025/.",
        "/2025/link.json",
        "/2025@main/link.json",
        "/2025/dir/secret.json",
        `/2025/${encodeURIComponent(Path.join(outside, "secret.json"))}`,
        `/2025/${encodeURIComponent("são-paulo-grand-prix")}`,
        "/0000/events.json",
        "/25/events.json"
      ]
      for (const attempt of attempts) {
        const response = yield* get(client, attempt)
        expect(response.status, attempt).toBe(404)
        expect(response.body.toString(), attempt).not.toMatch(/secret|top/)
      }
      Fs.rmSync(root, { recursive: true, force: true })
      Fs.rmSync(outside, { recursive: true, force: true })
    }))

  it("mirrorKey: a year and at least one segment under it; nothing that could step out", () => {
    expect(MirrorServer.mirrorKey("/2025/events.json")).toBe("2025/events.json")
    expect(MirrorServer.mirrorKey("/2025@main/events.json?x=1")).toBe("2025/events.json")
    expect(MirrorServer.mirrorKey("/2025/s%C3%A3o-paulo-grand-prix/results.json")).toBe(
      "2025/são-paulo-grand-prix/results.json"
    )
    expect(MirrorServer.mirrorKey("/2025/Australian%20Grand%20Prix/Race/drivers.json")).toBe(
      "2025/Australian Grand Prix/Race/drivers.json"
    )
    for (
      const refused of ["/", "/2025", "/2025@main/", "/events.json/2025", "/2025/..", "/2025/%2E%2E", "/2025/a%2fb"]
    ) {
      expect(MirrorServer.mirrorKey(refused), refused).toBeUndefined()
    }
  })

  it.live("fault modes do what they say", () =>
    Effect.gen(function*() {
      const mirror = yield* MirrorServer.make({
        root: fixturesRoot,
        faults: {
          rules: [
            { match: "drivers.json", status: 429, retryAfterSeconds: 3, times: 1 },
            { match: "corners.json", status: 503, every: 2 },
            { match: "VER/1_tel.json", truncate: true }
          ]
        }
      })
      const client = yield* clientFor(mirror, "h1")
      const race = "/2025@main/Australian%20Grand%20Prix/Race"
      const limited = yield* get(client, `${race}/drivers.json`)
      expect(limited.status).toBe(429)
      expect(limited.headers["retry-after"]).toBe("3")
      expect((yield* get(client, `${race}/drivers.json`)).status).toBe(200)
      const cornerStatuses = []
      for (let i = 0; i < 4; i++) cornerStatuses.push((yield* get(client, `${race}/corners.json`)).status)
      expect(cornerStatuses).toEqual([503, 200, 503, 200])
      const truncated = yield* get(client, `${race}/VER/1_tel.json`)
      const whole = Fs.readFileSync(Path.join(fixturesRoot, "2025/Australian Grand Prix/Race/VER/1_tel.json"))
      expect(truncated.body.length).toBe(Math.floor(whole.length / 2))
      expect(() => JSON.parse(truncated.body.toString())).toThrow()
      mirror.setFaults(undefined)
      expect((yield* get(client, `${race}/VER/1_tel.json`)).body.equals(whole)).toBe(true)
    }))

  it.live("GOAWAY after N streams makes the client open a new connection", () =>
    Effect.gen(function*() {
      const mirror = yield* MirrorServer.make({
        root: fixturesRoot,
        protocol: "h2",
        certificate: testCertificate(),
        faults: { goawayAfterStreams: 5 }
      })
      const client = yield* clientFor(mirror, "h2")
      for (let i = 1; i <= 5; i++) {
        const response = yield* get(client, `/2025@main/Australian%20Grand%20Prix/Race/VER/${i}_tel.json`)
        expect(response.status).toBe(200)
      }
      yield* eventually(() => mirror.connectionsOpen() === 0, "the server to close the connection after GOAWAY")
      expect((yield* get(client, "/2025@main/Australian%20Grand%20Prix/Race/VER/6_tel.json")).status).toBe(200)
      expect(mirror.connectionsOpened()).toBe(2)
    }))

  it.live("mirror pull from one mirror, then serve of that folder gives the same bytes; a second pull resumes", () =>
    Effect.gen(function*() {
      const source = yield* MirrorServer.make({ root: fixturesRoot })
      const out = Fs.mkdtempSync(Path.join(Os.tmpdir(), "tif1-pull-"))
      const race = { year: 2025, gp: "Australian Grand Prix", session: "Race" }
      const summary = yield* pullSession(race, { out, telemetry: true }).pipe(
        Effect.provide(stack({ cdns: [source.origin] }))
      )
      const sessionDir = "2025/Australian Grand Prix/Race"
      const published = allFiles(Path.join(fixturesRoot, sessionDir)).map((file) => Path.relative(fixturesRoot, file))
        .sort()
      const pulled = allFiles(out).map((file) => Path.relative(out, file)).sort()
      expect(pulled).toEqual(published)
      expect(summary.written).toBe(published.length)
      for (const file of published) {
        expect(Fs.readFileSync(Path.join(out, file)).equals(Fs.readFileSync(Path.join(fixturesRoot, file)))).toBe(true)
      }
      const served = yield* MirrorServer.make({ root: out, protocol: "h2c" })
      const client = yield* clientFor(served, "h2c")
      const response = yield* get(client, "/2025@main/Australian%20Grand%20Prix/Race/NOR/5_tel.json")
      expect(response.body.equals(Fs.readFileSync(Path.join(fixturesRoot, sessionDir, "NOR/5_tel.json")))).toBe(true)

      Fs.rmSync(Path.join(out, sessionDir, "VER/3_tel.json"))
      const before = source.hits(`${sessionDir}/VER/3_tel.json`)
      const again = yield* pullSession(race, { out, telemetry: true }).pipe(
        Effect.provide(stack({ cdns: [source.origin] }))
      )
      expect(again.written).toBe(1)
      expect(again.kept).toBe(published.length - 1)
      expect(source.hits(`${sessionDir}/VER/3_tel.json`)).toBe(before + 1)
    }))

  it.live("a pull killed in the middle and resumed leaves only whole files, byte-identical, and no partial files", () =>
    Effect.gen(function*() {
      const source = yield* MirrorServer.make({ root: fixturesRoot, protocol: "h1", faults: { latencyMs: 150 } })
      const home = sandbox()
      const out = Path.join(home, "out")
      const sessionDir = "2025/Australian Grand Prix/Race"
      const args = ["mirror", "pull", "2025", "Australian Grand Prix", "Race", "--telemetry", "--out", out]
      const env = { TIF1_CDNS: MirrorServer.templateFor(source.origin), TIF1_MAX_RETRIES: "0" }
      const first = startCli(args, { home, env })
      yield* eventually(() => source.hits() >= 25, "the pull to be under way", 30_000)
      first.child.kill("SIGKILL")
      yield* Effect.promise(() => first.done)
      // What a pull killed while writing a large file leaves: its temporary file (a dead pid's).
      const partial = Path.join(out, sessionDir, "VER", `1_tel.json.${deadPid()}.partial`)
      Fs.mkdirSync(Path.dirname(partial), { recursive: true })
      Fs.writeFileSync(
        partial,
        Fs.readFileSync(Path.join(fixturesRoot, sessionDir, "VER/1_tel.json")).subarray(0, 50_000)
      )
      const resumed = yield* Effect.promise(() => runCli(args, { home, env }))
      expect(resumed.code, resumed.stderr).toBe(0)
      // The planted one, and any the kill left (it may land in the middle of a write).
      expect(Number(/stale partial files removed\s+(\d+)$/m.exec(resumed.stdout)?.[1])).toBeGreaterThanOrEqual(1)
      const published = allFiles(Path.join(fixturesRoot, sessionDir)).map((file) => Path.relative(fixturesRoot, file))
        .sort()
      const pulled = allFiles(out).map((file) => Path.relative(out, file)).sort()
      expect(pulled).toEqual(published)
      for (const file of published) {
        expect(Fs.readFileSync(Path.join(out, file)).equals(Fs.readFileSync(Path.join(fixturesRoot, file))), file).toBe(
          true
        )
      }
    }))
})

/** A process id that no running process has: a child that already exited. */
const deadPid = (): number => {
  const child = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" })
  return Number(child.stdout)
}

describe("MirrorServer limits", () => {
  /** A raw TCP connection to the mirror; resolves `closed` when the server closes it. */
  const connect = (origin: string) => {
    const { hostname, port } = new URL(origin)
    const socket = Net.connect(Number(port), hostname)
    const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()))
    socket.on("error", () => {})
    return { socket, closed }
  }

  it.live("a client that never finishes its headers (slowloris) is closed after the header timeout", () =>
    Effect.gen(function*() {
      const mirror = yield* MirrorServer.make({ root: fixturesRoot, protocol: "h1", headersTimeoutMs: 300 })
      const slow = Array.from({ length: 20 }, () => connect(mirror.origin))
      const trickle = setInterval(() => {
        for (const { socket } of slow) if (!socket.destroyed) socket.write("X")
      }, 50)
      for (const { socket } of slow) {
        socket.write("GET /2025/Australian%20Grand%20Prix/Race/drivers.json HTTP/1.1\r\nX-Slow: ")
      }
      yield* Effect.promise(() => Promise.all(slow.map(({ closed }) => closed))).pipe(
        Effect.timeoutOrElse({
          duration: "10 seconds",
          orElse: () => Effect.fail(new Error("slow clients still connected"))
        }),
        Effect.ensuring(Effect.sync(() => clearInterval(trickle)))
      )
      yield* eventually(() => mirror.connectionsOpen() === 0, "the server to drop them")
      // A client that sends its request in time is served.
      const client = new Client(mirror.origin)
      const response = yield* Effect.promise(() =>
        client.request({ path: "/2025/Australian%20Grand%20Prix/Race/drivers.json", method: "GET" })
      )
      expect(response.statusCode).toBe(200)
      yield* Effect.promise(() => response.body.text())
      yield* Effect.promise(() => client.close())
    }))

  it.live("connections past the cap are closed at once; those within it are served", () =>
    Effect.gen(function*() {
      const mirror = yield* MirrorServer.make({ root: fixturesRoot, protocol: "h1", maxConnections: 3 })
      const held = Array.from({ length: 3 }, () => connect(mirror.origin))
      yield* eventually(() => mirror.connectionsOpen() === 3, "three connections")
      const extra = Array.from({ length: 4 }, () => connect(mirror.origin))
      yield* Effect.promise(() => Promise.all(extra.map(({ closed }) => closed))).pipe(
        Effect.timeoutOrElse({
          duration: "10 seconds",
          orElse: () => Effect.fail(new Error("connections past the cap stayed open"))
        })
      )
      expect(mirror.connectionsOpen()).toBe(3)
      const answer = new Promise<string>((resolve) => held[0]!.socket.once("data", (chunk) => resolve(String(chunk))))
      held[0]!.socket.write("GET /2025/Australian%20Grand%20Prix/Race/drivers.json HTTP/1.1\r\nHost: x\r\n\r\n")
      expect(yield* Effect.promise(() => answer)).toMatch(/^HTTP\/1\.1 200/)
      for (const { socket } of held) socket.destroy()
      expect(yield* Effect.flip(MirrorServer.make({ root: fixturesRoot, maxConnections: 0 }))).toMatchObject({
        message: "mirror: maxConnections must be an integer of at least 1, got 0"
      })
    }))
})
