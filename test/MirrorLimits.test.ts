/**
 * The mirror's limits (issue 26, item 8; SPEC section 6), against the real server: idle
 * connections are closed on every protocol (the rule runs on the Clock: `it.effect` drives it
 * with TestClock), so a full connection cap of idle clients clears; hit counters and served
 * bodies are bounded LRUs.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/testing/TestClock"
import * as Fs from "node:fs"
import * as Http2 from "node:http2"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Tls from "node:tls"
import * as Zlib from "node:zlib"
import { Client, H2CClient } from "undici"
import { checkIntervalMs } from "../src/mirror/IdleConnections.js"
import { Lru } from "../src/mirror/Lru.js"
import * as MirrorServer from "../src/mirror/MirrorServer.js"
import { eventually, testCertificate } from "./support/servers.js"
import { fixturesRoot } from "./support/stack.js"

/** How a client reaches the mirror: `h1-tls` is HTTP/1.1 chosen by ALPN on the h2 (TLS) mirror. */
type Kind = "h1" | "h1-tls" | "h2" | "h2c"
const kinds: ReadonlyArray<Kind> = ["h1", "h1-tls", "h2", "h2c"]

const drivers = "/2025@main/Australian%20Grand%20Prix/Race/drivers.json"

const serve = (kind: Kind, options: Partial<MirrorServer.MirrorOptions> = {}) =>
  MirrorServer.make({
    root: fixturesRoot,
    protocol: kind === "h1-tls" ? "h2" : kind,
    ...(kind === "h1-tls" || kind === "h2" ? { certificate: testCertificate() } : {}),
    ...options
  })

/** A promise awaited for at most `ms` of real time (the test clock does not move on its own). */
const within = <A>(promise: Promise<A>, what: string, ms = 5_000) =>
  Effect.promise(() =>
    new Promise<A>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms)
      promise.then(
        (value) => {
          clearTimeout(timer)
          resolve(value)
        },
        (error) => {
          clearTimeout(timer)
          reject(error)
        }
      )
    })
  )

interface Answer {
  readonly status: number
  readonly body: Buffer
}

/** One client connection, spoken to directly so nothing but the test decides when it closes. */
interface Probe {
  readonly get: (path: string) => Promise<Answer>
  readonly closed: Promise<void>
  readonly isClosed: () => boolean
  readonly destroy: () => void
}

const closeWatch = (emitter: Net.Socket | Http2.ClientHttp2Session) => {
  let closed = false
  const promise = new Promise<void>((resolve) =>
    emitter.on("close", () => {
      closed = true
      resolve()
    })
  )
  return { closed: promise, isClosed: () => closed }
}

/** HTTP/1.1 over a socket (plain or TLS), one request at a time; bodies framed by content-length. */
const h1Probe = (socket: Net.Socket): Probe => {
  const watch = closeWatch(socket)
  socket.on("error", () => {})
  let buffered = Buffer.alloc(0)
  let waiting: { resolve: (answer: Answer) => void; reject: (error: Error) => void } | undefined
  const parse = () => {
    const end = buffered.indexOf("\r\n\r\n")
    if (waiting === undefined || end < 0) return
    const head = buffered.subarray(0, end).toString("latin1")
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1])
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1])
    if (buffered.length < end + 4 + length) return
    const body = buffered.subarray(end + 4, end + 4 + length)
    buffered = buffered.subarray(end + 4 + length)
    const { resolve } = waiting
    waiting = undefined
    resolve({ status, body })
  }
  socket.on("data", (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk])
    parse()
  })
  watch.closed.then(() => waiting?.reject(new Error("connection closed before the response")))
  return {
    ...watch,
    get: (path) =>
      new Promise<Answer>((resolve, reject) => {
        waiting = { resolve, reject }
        socket.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`)
      }),
    destroy: () => socket.destroy()
  }
}

const h2Probe = (session: Http2.ClientHttp2Session): Probe => {
  session.on("error", () => {})
  return {
    ...closeWatch(session),
    get: (path) =>
      new Promise<Answer>((resolve, reject) => {
        const stream = session.request({ ":path": path })
        const chunks: Array<Buffer> = []
        let status = 0
        stream.on("response", (headers) => (status = Number(headers[":status"])))
        stream.on("data", (chunk: Buffer) => chunks.push(chunk))
        stream.on("end", () => resolve({ status, body: Buffer.concat(chunks) }))
        stream.on("error", reject)
      }),
    destroy: () => session.destroy()
  }
}

/** A connection of `kind` to the mirror, open (handshake done) when it succeeds; destroyed with the scope. */
const open = (mirror: MirrorServer.MirrorServerService, kind: Kind) => {
  const { hostname, port } = new URL(mirror.origin)
  const connecting = new Promise<Probe>((resolve, reject) => {
    if (kind === "h1") {
      const socket = Net.connect(Number(port), hostname, () => resolve(h1Probe(socket)))
      socket.once("error", reject)
    } else if (kind === "h1-tls") {
      const options = { host: hostname, port: Number(port), servername: "localhost", ca: testCertificate().cert }
      const socket = Tls.connect({ ...options, ALPNProtocols: ["http/1.1"] }, () => {
        if (socket.alpnProtocol === "http/1.1") resolve(h1Probe(socket))
        else reject(new Error(`ALPN chose ${socket.alpnProtocol}, not http/1.1`))
      })
      socket.once("error", reject)
    } else {
      const session = Http2.connect(mirror.origin, kind === "h2" ? { ca: testCertificate().cert } : {})
      session.once("connect", () => resolve(h2Probe(session)))
      session.once("error", reject)
    }
  })
  return Effect.acquireRelease(
    within(connecting, `a ${kind} connection`),
    (probe) => Effect.sync(() => probe.destroy())
  )
}

/** The mirror's answer to `path` on `probe`, bounded in time. */
const get = (probe: Probe, path: string) => within(probe.get(path), `GET ${path}`)

describe("MirrorServer idle connections (TestClock)", () => {
  const headersTimeoutMs = MirrorServer.defaultHeadersTimeoutMs
  const idleTimeoutMs = MirrorServer.defaultIdleTimeoutMs
  const interval = checkIntervalMs({ headersTimeoutMs, idleTimeoutMs })

  for (const kind of kinds) {
    it.effect(`${kind}: closed after the header timeout without a first request, the idle timeout after one`, () =>
      Effect.gen(function*() {
        const mirror = yield* serve(kind)
        const answered = yield* open(mirror, kind)
        expect((yield* get(answered, drivers)).status).toBe(200)
        const silent = yield* open(mirror, kind)
        yield* eventually(() => mirror.connectionsOpen() === 2, "the mirror to see both connections")

        yield* TestClock.adjust(headersTimeoutMs - 1)
        // A round trip on the other connection: a close of the silent one would have arrived by now.
        expect((yield* get(answered, drivers)).status).toBe(200)
        expect(silent.isClosed()).toBe(false)

        yield* TestClock.adjust(1 + interval)
        yield* within(silent.closed, "the silent connection to be closed")
        // The answered connection waits the idle timeout, not the header timeout.
        expect(answered.isClosed()).toBe(false)
        expect((yield* get(answered, drivers)).status).toBe(200)

        yield* TestClock.adjust(idleTimeoutMs + interval)
        yield* within(answered.closed, "the idle connection to be closed")
        yield* eventually(() => mirror.connectionsOpen() === 0, "the mirror to drop both")
      }))

    it.effect(`${kind}: a full maxConnections of idle clients does not lock out a new client once they idle out`, () =>
      Effect.gen(function*() {
        const mirror = yield* serve(kind, { maxConnections: 3 })
        const idle = [yield* open(mirror, kind), yield* open(mirror, kind), yield* open(mirror, kind)]
        yield* eventually(() => mirror.connectionsOpen() === 3, "three connections")
        // Past the cap a connection is closed at once (before any TLS), as before.
        const { hostname, port } = new URL(mirror.origin)
        const refused = Net.connect(Number(port), hostname).on("error", () => {}).resume()
        yield* within(closeWatch(refused).closed, "the connection past the cap to be closed")
        expect(mirror.connectionsOpen()).toBe(3)

        yield* TestClock.adjust(headersTimeoutMs + interval)
        yield* within(Promise.all(idle.map((probe) => probe.closed)), "the idle clients to be closed")
        yield* eventually(() => mirror.connectionsOpen() === 0, "the mirror to drop them")
        const newcomer = yield* open(mirror, kind)
        const answer = yield* get(newcomer, drivers)
        expect(answer.status).toBe(200)
        expect(
          answer.body.equals(Fs.readFileSync(Path.join(fixturesRoot, "2025/Australian Grand Prix/Race/drivers.json")))
        )
          .toBe(true)
      }))
  }

  it.effect("a request in flight keeps its connection open past the idle timeout (a slow body is not cut)", () =>
    Effect.gen(function*() {
      const mirror = yield* serve("h2c", { faults: { rules: [{ match: "drivers.json", slowBodyMs: 300 }] } })
      const probe = yield* open(mirror, "h2c")
      const answer = probe.get(drivers)
      yield* eventually(() => mirror.hits() === 1, "the request to arrive")
      // The first half is out, the second 300 ms (real time) later: far past both limits on the clock.
      yield* TestClock.adjust(idleTimeoutMs + headersTimeoutMs + interval)
      const { status, body } = yield* within(answer, "the slow body")
      expect(status).toBe(200)
      expect(body.equals(Fs.readFileSync(Path.join(fixturesRoot, "2025/Australian Grand Prix/Race/drivers.json"))))
        .toBe(true)
      expect(probe.isClosed()).toBe(false)
    }))
})

describe("MirrorServer memory bounds", () => {
  const race = "2025/Australian Grand Prix/Race/"
  const urlOf = (key: string) => `/${key.split("/").map(encodeURIComponent).join("/")}`

  it.live("hit counters keep the most recently asked paths: distinct 404s do not grow them past their bound", () =>
    Effect.gen(function*() {
      const maxCountedPaths = 50
      const mirror = yield* MirrorServer.make({ root: fixturesRoot, maxCountedPaths })
      const client = yield* Effect.acquireRelease(
        Effect.sync(() => new Client(mirror.origin)),
        (client) => Effect.promise(() => client.close())
      )
      const ask = (key: string) =>
        Effect.promise(async () => {
          const response = await client.request({ method: "GET", path: urlOf(key) })
          await response.body.dump()
          return response.statusCode
        })
      const file = `${race}drivers.json`
      const missing = (i: number) => `${race}VER/missing-${i}.json`
      for (let i = 0; i < 120; i++) {
        expect(yield* ask(missing(i))).toBe(404)
        if (i % 10 === 9) expect(yield* ask(file)).toBe(200)
      }
      expect(mirror.hits()).toBe(132)
      // The file, asked all along, is kept; of the 404s the 49 most recent (71..119) fill the rest.
      expect(mirror.hits(file)).toBe(12)
      for (let i = 0; i < 120; i++) expect(mirror.hits(missing(i)), missing(i)).toBe(i >= 71 ? 1 : 0)

      // A path of 1,024 characters counts as four: twelve of them fill 48 of 50, a thirteenth
      // pushes the first out (and the short paths before them).
      const long = (i: number) => `${race}long-${i}-`.padEnd(1024, "x")
      for (let i = 0; i < 13; i++) expect(yield* ask(long(i))).toBe(404)
      expect(mirror.hits(long(0))).toBe(0)
      for (let i = 1; i < 13; i++) expect(mirror.hits(long(i))).toBe(1)
      expect(mirror.hits(file)).toBe(0)
    }))

  it.live("served bodies stay within maxCachedBytes while serving more than that, bytes exact (identity and br)", () =>
    Effect.gen(function*() {
      const root = Fs.mkdtempSync(Path.join(Os.tmpdir(), "tif1-mirror-lru-"))
      const dir = Path.join(root, race, "VER")
      Fs.mkdirSync(dir, { recursive: true })
      // Twelve distinct telemetry-like files of about 40 KB, and one larger than the whole cache.
      const contents = new Map<string, Buffer>()
      const write = (name: string, samples: number, seed: number) => {
        const speed = Array.from({ length: samples }, (_, i) => (i * 7919 + seed * 104729) % 350)
        const body = Buffer.from(JSON.stringify({ tel: { speed, lap: seed } }))
        Fs.writeFileSync(Path.join(dir, name), body)
        contents.set(`${race}VER/${name}`, body)
      }
      for (let lap = 1; lap <= 12; lap++) write(`${lap}_tel.json`, 10_000, lap)
      write("99_tel.json", 40_000, 99)
      const maxCachedBytes = 100_000
      const mirror = yield* MirrorServer.make({ root, protocol: "h2c", maxCachedBytes })
      const client = yield* Effect.acquireRelease(
        Effect.sync(() => new H2CClient(mirror.origin)),
        (client) => Effect.promise(() => client.close())
      )
      const fetch = (key: string, coding: "identity" | "br") =>
        Effect.promise(async () => {
          const response = await client.request({
            method: "GET",
            path: urlOf(key),
            headers: { "accept-encoding": coding }
          })
          return {
            encoding: response.headers["content-encoding"],
            body: Buffer.from(await response.body.arrayBuffer())
          }
        })
      let served = 0
      for (let pass = 0; pass < 2; pass++) {
        for (const [key, original] of contents) {
          const plain = yield* fetch(key, "identity")
          expect(plain.encoding).toBeUndefined()
          expect(plain.body.equals(original), key).toBe(true)
          const br = yield* fetch(key, "br")
          expect(br.encoding).toBe("br")
          expect(Zlib.brotliDecompressSync(br.body).equals(original), key).toBe(true)
          served += plain.body.length + br.body.length
          expect(mirror.cachedBytes()).toBeLessThanOrEqual(maxCachedBytes)
        }
      }
      expect(served).toBeGreaterThan(10 * maxCachedBytes)
      expect(mirror.cachedBytes()).toBeGreaterThan(0)
      Fs.rmSync(root, { recursive: true, force: true })
    }))

  it.effect("limits out of range fail naming the option and the value", () =>
    Effect.gen(function*() {
      const failure = (options: Partial<MirrorServer.MirrorOptions>) =>
        Effect.map(Effect.flip(MirrorServer.make({ root: fixturesRoot, ...options })), (error) => error.message)
      expect(yield* failure({ idleTimeoutMs: 0 })).toBe("mirror: idleTimeoutMs must be a positive number, got 0")
      expect(yield* failure({ maxCachedBytes: -1 })).toBe(
        "mirror: maxCachedBytes must be an integer of at least 0, got -1"
      )
      expect(yield* failure({ maxCountedPaths: 2.5 })).toBe(
        "mirror: maxCountedPaths must be an integer of at least 1, got 2.5"
      )
    }))
})

describe("Lru", () => {
  it("drops the least recently used entries once the weights pass the capacity; a look is not a use", () => {
    const lru = new Lru<string, number>(10, (_, value) => value)
    lru.set("a", 4)
    lru.set("b", 4)
    expect(lru.get("a")).toBe(4) // a is now the most recent
    expect(lru.peek("b")).toBe(4) // b stays the least recent
    lru.set("c", 2)
    expect(lru.weight).toBe(10)
    lru.set("d", 1)
    expect(lru.peek("b")).toBeUndefined()
    expect([lru.peek("a"), lru.peek("c"), lru.peek("d")]).toEqual([4, 2, 1])
    expect(lru.weight).toBe(7)
    expect(lru.set("huge", 11)).toBe(false)
    expect(lru.peek("huge")).toBeUndefined()
    expect(lru.weight).toBe(7)
    lru.set("a", 1) // replacing an entry replaces its weight
    expect(lru.weight).toBe(4)
    expect(lru.size).toBe(3)
  })

  it("an entry used more often than half the map moves past it is never dropped; one unused is", () => {
    const lru = new Lru<string, number>(100, () => 1)
    lru.set("hot", 0)
    lru.set("cold", 0)
    for (let i = 0; i < 1_000; i++) {
      lru.set(`k${i}`, i)
      if (i % 40 === 0) expect(lru.get("hot")).toBe(0)
    }
    expect(lru.peek("hot")).toBe(0)
    expect(lru.peek("cold")).toBeUndefined()
    expect(lru.size).toBe(100)
    // Besides it, the 99 added last.
    expect(lru.peek("k900")).toBeUndefined()
    expect(lru.peek("k901")).toBe(901)
  })
})
