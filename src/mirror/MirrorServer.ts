/**
 * `MirrorServer`: serves a folder in CDN layout over HTTP/1.1, HTTP/2 over TLS (a generated
 * self-signed certificate, HTTP/1.1 still accepted), or h2c. URLs:
 * `/{year}@main/{Event}/{Session}/{file}` (jsDelivr shape) and `/{year}/{Event}/{Session}/{file}`
 * (use the template `{origin}/{year}/{gp}/{session}/{path}`). Like jsDelivr: br or gzip as asked
 * (q-values honoured; each content compressed once and kept), `Vary: Accept-Encoding`, an ETag per
 * encoding and 304 on `If-None-Match`, `application/json`; and never a file outside its root (`..` in any encoding, absolute paths and
 * symlinks that leave the root are 404). A fault mode (off unless asked) injects 404/429/503,
 * resets, truncation, slow bodies, latency and GOAWAY, for tests and benchmarks.
 *
 * Built on `node:http`/`node:http2` rather than a framework: faults need the raw socket and stream.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Http2 from "node:http2"
import type { AddressInfo, Socket } from "node:net"
import * as Path from "node:path"
import * as Zlib from "node:zlib"
import { generateSelfSignedCertificate, type SelfSignedCertificate } from "./certificate.js"
import { defaultHeadersTimeoutMs, defaultMaxConnections } from "./limits.js"

/**
 * One fault rule. `match` is a substring of the decoded file path (`2025/Australian Grand
 * Prix/Race/VER/1_tel.json`) or `*`. `every` n applies it to every nth matching request
 * (1 = all), `times` at most that many times.
 *
 * @since 0.1.0
 */
export interface FaultRule {
  readonly match: string
  readonly status?: 404 | 429 | 500 | 503 | 403
  readonly retryAfterSeconds?: number
  /** Send headers and part of the body, then destroy the connection. */
  readonly resetMidBody?: boolean
  /** Send half of the body with a correct-looking length, then end the response. */
  readonly truncate?: boolean
  /** Send the body in two halves this many ms apart. */
  readonly slowBodyMs?: number
  readonly every?: number
  readonly times?: number
}

/**
 * Faults of a server: rules, extra latency per response, GOAWAY after N streams on an h2 session.
 *
 * @since 0.1.0
 */
export interface FaultMode {
  readonly rules?: ReadonlyArray<FaultRule>
  readonly latencyMs?: number
  readonly goawayAfterStreams?: number
}

/**
 * How to serve.
 *
 * @since 0.1.0
 */
export interface MirrorOptions {
  readonly root: string
  readonly port?: number
  readonly host?: string
  /** `h1` (plain HTTP/1.1), `h2` (HTTP/2 over TLS, HTTP/1.1 accepted), `h2c` (HTTP/2 cleartext). */
  readonly protocol?: "h1" | "h2" | "h2c"
  readonly faults?: FaultMode
  /** A certificate to use instead of a generated one (h2 only). */
  readonly certificate?: SelfSignedCertificate
  /**
   * Milliseconds a client has to send a request's headers (HTTP/1.1) or to finish the TLS
   * handshake (h2), before its connection is closed: a slowloris client cannot hold connections
   * open. Default 10,000.
   */
  readonly headersTimeoutMs?: number
  /** Connections open at once; past it, new ones are closed at once. Default 1,024. */
  readonly maxConnections?: number
}

/** Default `headersTimeoutMs` and `maxConnections`. */
export { defaultHeadersTimeoutMs, defaultMaxConnections }

/**
 * A running mirror.
 *
 * @since 0.1.0
 */
export interface MirrorServerService {
  /** `http(s)://host:port`: use it as a CDN base URL. */
  readonly origin: string
  /** The certificate clients must trust (h2 only). */
  readonly certificate: SelfSignedCertificate | undefined
  /** Requests served, by decoded file path (including faults and 404s). */
  readonly hits: (path?: string) => number
  /** Connections accepted so far, and open now. */
  readonly connectionsOpened: () => number
  readonly connectionsOpen: () => number
  /**
   * Compressed representations made so far: each content (by identity ETag) and coding is
   * compressed once, however many paths or concurrent requests ask for it.
   */
  readonly encodingsMade: () => number
  /** Replace the fault mode at run time. */
  readonly setFaults: (faults: FaultMode | undefined) => void
  /** Zero the counters. */
  readonly resetCounters: () => void
}

/**
 * The `MirrorServer` tag.
 *
 * @since 0.1.0
 */
export class MirrorServer extends Context.Service<MirrorServer, MirrorServerService>()("tif1-effect/MirrorServer") {}

/**
 * The file key of a URL path (`2025/Australian Grand Prix/Race/drivers.json`), or `undefined`
 * when the path is not in CDN layout or tries to leave it (`..`, `.`, slashes or `%` once decoded).
 *
 * @since 0.1.0
 */
export const mirrorKey = (urlPath: string): string | undefined => {
  const rawSegments = urlPath.split("?")[0]!.split("/").filter((segment) => segment !== "")
  const segments: Array<string> = []
  for (const raw of rawSegments) {
    let segment: string
    try {
      segment = decodeURIComponent(raw)
    } catch {
      return undefined
    }
    // Anything that could step out or be read as a path on its own is refused, decoded once or more.
    if (segment === "." || segment === ".." || /[\\/\0]/.test(segment) || segment.includes("%")) return undefined
    segments.push(segment)
  }
  if (segments.length < 4) return undefined
  const yearMatch = /^(\d{4})(@main)?$/.exec(segments[0]!)
  if (yearMatch === null) return undefined
  return [yearMatch[1]!, ...segments.slice(1)].join("/")
}

/**
 * The file a key names inside `rootReal`, or `undefined` when missing or outside the root
 * (symlinks are followed, then checked).
 *
 * @since 0.1.0
 */
export const fileInRoot = (rootReal: string, key: string): string | undefined => {
  let real: string
  try {
    real = Fs.realpathSync(Path.join(rootReal, ...key.split("/")))
  } catch {
    return undefined
  }
  return real.startsWith(rootReal + Path.sep) ? real : undefined
}

/** URL paths whose file key is remembered; past it, the memo starts again. */
const maxRememberedKeys = 65_536

/** How long a served file is trusted before the disk is checked again, ms. */
const recheckMs = 1000

/**
 * One representation of a file's content (identity, br or gzip): the bytes sent and the response
 * headers that go with them, built once and reused by every request for it.
 */
interface Representation {
  readonly body: Buffer
  readonly etag: string
  readonly headers: Readonly<Record<string, string>>
}

interface CachedFile {
  readonly mtimeMs: number
  readonly size: number
  readonly identity: Representation
}

/** The encodings the mirror serves besides identity, in order of preference. */
type ContentCoding = "br" | "gzip"

/**
 * The coding to send for an `accept-encoding`, honouring q-values (RFC 9110 12.5.3): the
 * preferred of br and gzip with the highest q above 0 (`*` stands for codings not named), else
 * identity.
 *
 * @since 0.2.0
 */
export const negotiateEncoding = (acceptEncoding: string | undefined): ContentCoding | undefined => {
  if (acceptEncoding === undefined || acceptEncoding.trim() === "") return undefined
  const weights = new Map<string, number>()
  for (const part of acceptEncoding.split(",")) {
    const [name, ...parameters] = part.trim().toLowerCase().split(";")
    if (name === undefined || name === "") continue
    const q = parameters.map((p) => /^\s*q\s*=\s*([\d.]+)\s*$/.exec(p)).find((m) => m !== null)
    weights.set(name.trim(), q === undefined ? 1 : Number(q![1]))
  }
  const weightOf = (coding: ContentCoding) => weights.get(coding) ?? weights.get("*") ?? 0
  let best: ContentCoding | undefined
  for (const coding of ["br", "gzip"] as const) {
    if (weightOf(coding) > 0 && (best === undefined || weightOf(coding) > weightOf(best))) best = coding
  }
  return best
}

/** Whether an `If-None-Match` list names a tag (`*`, or a weak or strong match). */
const noneMatch = (header: string | undefined, etag: string): boolean => {
  if (header === undefined) return false
  const opaque = (tag: string) => tag.trim().replace(/^W\//, "")
  return header.split(",").some((tag) => tag.trim() === "*" || opaque(tag) === opaque(etag))
}

/** A representation of `body`, with the headers every 200 for it carries. */
const representation = (body: Buffer, etag: string, coding: ContentCoding | undefined): Representation => {
  const headers: Record<string, string> = {
    "content-type": "application/json; charset=utf-8",
    "content-length": String(body.length),
    etag,
    vary: "Accept-Encoding",
    "cache-control": "public, max-age=604800"
  }
  if (coding !== undefined) headers["content-encoding"] = coding
  return { body, etag, headers }
}

/**
 * Compress on libuv's thread pool: a brotli pass over a telemetry file takes ~25 ms, which on the
 * event loop would hold up every other request (a first pass over 1,000 files, 25 s).
 */
const compress = (coding: ContentCoding, body: Buffer, done: (error: Error | null, result: Buffer) => void) =>
  coding === "br"
    ? Zlib.brotliCompress(body, {
      params: {
        // Quality 9: within a few percent of 11 on these files, several times faster to make.
        [Zlib.constants.BROTLI_PARAM_QUALITY]: 9,
        [Zlib.constants.BROTLI_PARAM_MODE]: Zlib.constants.BROTLI_MODE_TEXT,
        [Zlib.constants.BROTLI_PARAM_SIZE_HINT]: body.length
      }
    }, done)
    : Zlib.gzip(body, { level: 6 }, done)

/**
 * How one request is answered, whichever protocol carries it: the HTTP/1.1 `ServerResponse` or an
 * HTTP/2 stream through the core API (the compatibility API's request and response objects cost
 * more than serving a small file). Classes, not closures made per request.
 */
interface Reply {
  /** Status and headers; `last` when no body follows. */
  start(status: number, headers: Readonly<Record<string, string>>, last: boolean): void
  write(chunk: Buffer, then?: () => void): void
  end(chunk?: Buffer | string): void
  /** Break the transfer: the HTTP/2 stream is reset, the HTTP/1.1 connection destroyed. */
  reset(): void
}

class H1Reply implements Reply {
  constructor(private readonly response: Http.ServerResponse) {}
  start(status: number, headers: Readonly<Record<string, string>>, last: boolean) {
    this.response.writeHead(status, headers)
    if (last) this.response.end()
  }
  write(chunk: Buffer, then?: () => void) {
    this.response.write(chunk, then)
  }
  end(chunk?: Buffer | string) {
    if (chunk === undefined) this.response.end()
    else this.response.end(chunk)
  }
  reset() {
    this.response.socket?.destroy()
  }
}

class H2Reply implements Reply {
  constructor(private readonly stream: Http2.ServerHttp2Stream) {}
  start(status: number, headers: Readonly<Record<string, string>>, last: boolean) {
    // `respond` copies the headers it is given, so the kept objects are passed as they are.
    if (this.stream.destroyed) return
    this.stream.respond(status === 200 ? headers : { ...headers, ":status": status }, { endStream: last })
  }
  write(chunk: Buffer, then?: () => void) {
    if (!this.stream.destroyed) this.stream.write(chunk, then)
  }
  end(chunk?: Buffer | string) {
    if (this.stream.destroyed) return
    if (chunk === undefined) this.stream.end()
    else this.stream.end(chunk)
  }
  reset() {
    this.stream.close(Http2.constants.NGHTTP2_INTERNAL_ERROR)
  }
}

const ignoreError = () => {}

/** Send a file's chosen representation (or the 304, HEAD, or fault variant of it). */
const sendRepresentation = (
  reply: Reply,
  chosen: Representation | Error,
  method: string | undefined,
  ifNoneMatch: string | undefined,
  fault: FaultRule | undefined
) => {
  if (chosen instanceof Error) {
    reply.start(500, { "content-type": "text/plain" }, false)
    return reply.end(`could not encode: ${chosen.message}`)
  }
  if (noneMatch(ifNoneMatch, chosen.etag)) return reply.start(304, { etag: chosen.etag, vary: "Accept-Encoding" }, true)
  if (method === "HEAD") return reply.start(200, chosen.headers, true)
  if (fault === undefined) {
    reply.start(200, chosen.headers, false)
    return reply.end(chosen.body)
  }
  const half = chosen.body.subarray(0, Math.floor(chosen.body.length / 2))
  if (fault.truncate) {
    // A complete HTTP response whose content is cut short.
    reply.start(200, { ...chosen.headers, "content-length": String(half.length) }, false)
    return reply.end(half)
  }
  reply.start(200, chosen.headers, false)
  if (fault.resetMidBody) return reply.write(half, () => reply.reset())
  if (fault.slowBodyMs !== undefined) {
    reply.write(half)
    return setTimeout(() => reply.end(chosen.body.subarray(half.length)), fault.slowBodyMs)
  }
  reply.end(chosen.body)
}

/**
 * Start a mirror as a scoped resource (closed, with every connection, when the scope closes).
 *
 * @since 0.1.0
 */
export const make = (options: MirrorOptions): Effect.Effect<MirrorServerService, Error, Scope.Scope> =>
  Effect.andThen(checkLimits(options), acquire(options))

/** `headersTimeoutMs` and `maxConnections`, checked before anything listens. */
const checkLimits = (options: MirrorOptions): Effect.Effect<void, Error> => {
  const { headersTimeoutMs, maxConnections } = options
  if (headersTimeoutMs !== undefined && !(Number.isFinite(headersTimeoutMs) && headersTimeoutMs > 0)) {
    return Effect.fail(new Error(`mirror: headersTimeoutMs must be a positive number, got ${headersTimeoutMs}`))
  }
  if (maxConnections !== undefined && !(Number.isInteger(maxConnections) && maxConnections >= 1)) {
    return Effect.fail(new Error(`mirror: maxConnections must be an integer of at least 1, got ${maxConnections}`))
  }
  return Effect.void
}

const acquire = (options: MirrorOptions): Effect.Effect<MirrorServerService, Error, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.callback<{ service: MirrorServerService; close: () => Promise<void> }, Error>((resume) => {
      let rootReal: string
      try {
        rootReal = Fs.realpathSync(options.root)
      } catch (error) {
        return resume(Effect.fail(new Error(`mirror root ${options.root} is not readable: ${String(error)}`)))
      }
      const protocol = options.protocol ?? "h1"
      const certificate = protocol === "h2" ? options.certificate ?? generateSelfSignedCertificate() : undefined
      let faults = options.faults
      const ruleCounters = new Map<FaultRule, { seen: number; applied: number }>()
      const hitsByPath = new Map<string, number>()
      let totalHits = 0
      let opened = 0
      let made = 0
      const sockets = new Set<Socket | Http2.Http2Session>()
      const files = new Map<string, CachedFile>()

      const readFile = (file: string): CachedFile | undefined => {
        const stat = Fs.statSync(file)
        if (!stat.isFile()) return undefined
        const cached = files.get(file)
        if (cached !== undefined && cached.mtimeMs === stat.mtimeMs && cached.size === stat.size) return cached
        const body = Fs.readFileSync(file)
        const etag = `"${Crypto.createHash("sha1").update(body).digest("base64url")}"`
        const entry: CachedFile = {
          mtimeMs: stat.mtimeMs,
          size: stat.size,
          identity: representation(body, etag, undefined)
        }
        files.set(file, entry)
        if (cached !== undefined) release(cached.identity.etag)
        hold(etag)
        return entry
      }

      /**
       * Compressed representations by content (identity ETag and coding), so files with the same
       * bytes (hard links, a file served under two paths) are compressed once; and the requests
       * that arrive while one is being made wait for it rather than making it again.
       */
      const encoded = new Map<string, Representation>()
      /** Files whose current content has an ETag: when none has it any more, its copies go. */
      const holders = new Map<string, number>()
      const hold = (etag: string) => holders.set(etag, (holders.get(etag) ?? 0) + 1)
      const release = (etag: string) => {
        const left = (holders.get(etag) ?? 1) - 1
        if (left > 0) return holders.set(etag, left)
        holders.delete(etag)
        for (const coding of ["br", "gzip"] as const) encoded.delete(etag + coding)
      }
      const encoding = new Map<string, Array<(made: Representation | Error) => void>>()
      const withEncoded = (
        identity: Representation,
        coding: ContentCoding,
        then: (made: Representation | Error) => void
      ) => {
        const key = identity.etag + coding
        const kept = encoded.get(key)
        if (kept !== undefined) return then(kept)
        const waiting = encoding.get(key)
        if (waiting !== undefined) return waiting.push(then)
        encoding.set(key, [then])
        made++
        compress(coding, identity.body, (error, body) => {
          const result = error ?? representation(body, `${identity.etag.slice(0, -1)}-${coding}"`, coding)
          // Kept only while some file still has this content (it may have changed meanwhile).
          if (!(result instanceof Error) && holders.has(identity.etag)) encoded.set(key, result)
          const waiters = encoding.get(key)!
          encoding.delete(key)
          for (const waiter of waiters) waiter(result)
        })
      }

      /**
       * A key's file, checked against the disk (realpath inside the root, then stat) at most once
       * per `recheckMs`: those three system calls were most of the time of a request for a small
       * file. A file changed or removed is seen within that time; a missing one is looked for every time.
       */
      const checked = new Map<string, { readonly entry: CachedFile; readonly at: number }>()
      const lookup = (key: string): CachedFile | undefined => {
        const now = performance.now()
        const known = checked.get(key)
        if (known !== undefined && now - known.at < recheckMs) return known.entry
        const file = fileInRoot(rootReal, key)
        let entry: CachedFile | undefined
        try {
          entry = file === undefined ? undefined : readFile(file)
        } catch {
          entry = undefined
        }
        if (entry === undefined) checked.delete(key)
        else checked.set(key, { entry, at: now })
        return entry
      }

      /** `mirrorKey` by URL path, remembered (decoding and checking segments was 7% of a small request). */
      const keys = new Map<string, string | undefined>()
      const keyOf = (urlPath: string) => {
        if (keys.has(urlPath)) return keys.get(urlPath)
        const key = mirrorKey(urlPath)
        if (keys.size >= maxRememberedKeys) keys.clear()
        keys.set(urlPath, key)
        return key
      }

      const pickFault = (key: string): FaultRule | undefined => {
        for (const rule of faults?.rules ?? []) {
          if (rule.match !== "*" && !key.includes(rule.match)) continue
          const counter = ruleCounters.get(rule) ?? { seen: 0, applied: 0 }
          ruleCounters.set(rule, counter)
          counter.seen++
          if (rule.times !== undefined && counter.applied >= rule.times) continue
          if ((counter.seen - 1) % (rule.every ?? 1) !== 0) continue
          counter.applied++
          return rule
        }
        return undefined
      }

      /** Answer one request (method, URL path and the two headers that matter) through `reply`. */
      const respond = (
        method: string | undefined,
        url: string | undefined,
        acceptEncoding: string | undefined,
        ifNoneMatch: string | undefined,
        reply: Reply
      ) => {
        const mirrored = method === "GET" || method === "HEAD" ? keyOf(url ?? "/") : undefined
        const key = mirrored ?? decodeURIComponentSafe(url ?? "")
        totalHits++
        hitsByPath.set(key, (hitsByPath.get(key) ?? 0) + 1)
        const fault = pickFault(key)
        if (fault?.status !== undefined) {
          const headers: Record<string, string> = { "content-type": "text/plain" }
          if (fault.retryAfterSeconds !== undefined) headers["retry-after"] = String(fault.retryAfterSeconds)
          reply.start(fault.status, headers, false)
          return reply.end(`fault ${fault.status}`)
        }
        const entry = mirrored === undefined ? undefined : lookup(mirrored)
        if (entry === undefined) {
          reply.start(404, { "content-type": "text/plain" }, false)
          return reply.end("Not Found")
        }
        const coding = negotiateEncoding(acceptEncoding)
        if (coding === undefined) return sendRepresentation(reply, entry.identity, method, ifNoneMatch, fault)
        withEncoded(entry.identity, coding, (made) => sendRepresentation(reply, made, method, ifNoneMatch, fault))
      }
      const handle: typeof respond = (method, url, acceptEncoding, ifNoneMatch, reply) => {
        const latency = faults?.latencyMs ?? 0
        if (latency > 0) setTimeout(respond, latency, method, url, acceptEncoding, ifNoneMatch, reply)
        else respond(method, url, acceptEncoding, ifNoneMatch, reply)
      }
      const onRequest = (request: Http.IncomingMessage, response: Http.ServerResponse) => {
        // HTTP/2 streams are answered by `onStream`; only HTTP/1.x requests come here.
        if (request.httpVersionMajor >= 2) return
        handle(
          request.method,
          request.url,
          request.headers["accept-encoding"],
          request.headers["if-none-match"],
          new H1Reply(response)
        )
      }
      const onStream = (stream: Http2.ServerHttp2Stream, headers: Http2.IncomingHttpHeaders) => {
        // A stream the client resets must not become an unhandled error event.
        stream.on("error", ignoreError)
        handle(
          headers[":method"],
          headers[":path"],
          headers["accept-encoding"],
          headers["if-none-match"],
          new H2Reply(stream)
        )
      }

      // Like a CDN edge: many concurrent streams with large bodies in flight on one session
      // (Node's default 10 MB session budget answers 128 telemetry streams with ENHANCE_YOUR_CALM).
      const h2Options = {
        maxSessionMemory: 512,
        settings: { maxConcurrentStreams: 256, initialWindowSize: 4 * 1024 * 1024 }
      }
      const headersTimeoutMs = options.headersTimeoutMs ?? defaultHeadersTimeoutMs
      const server = protocol === "h1"
        ? Http.createServer({
          keepAliveTimeout: 120_000,
          headersTimeout: headersTimeoutMs,
          requestTimeout: headersTimeoutMs, // a GET has no body: its request is its headers
          // Node checks those timeouts on this interval (30 s by default): a tenth keeps them honest.
          connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(headersTimeoutMs / 10)))
        }, onRequest)
        : protocol === "h2c"
        ? Http2.createServer(h2Options)
        : Http2.createSecureServer({
          ...certificate!,
          allowHTTP1: true,
          handshakeTimeout: headersTimeoutMs,
          ...h2Options
        })
      if (!(server instanceof Http.Server)) {
        // Node wraps every HTTP/2 stream in compatibility objects as soon as a `request` listener
        // is added (a `newListener` hook); the listener is only for HTTP/1.1 over TLS here, so the
        // hook goes first and streams are answered by the core API.
        server.removeAllListeners("newListener")
        server.on("request", onRequest)
        server.on("stream", onStream)
      }
      server.maxConnections = options.maxConnections ?? defaultMaxConnections
      const track = (socket: Socket | Http2.Http2Session) => {
        opened++
        sockets.add(socket)
        socket.on("close", () => sockets.delete(socket))
      }
      if (protocol === "h2") server.on("secureConnection", track)
      else server.on("connection", track)
      if (protocol !== "h1") {
        server.on("session", (session: Http2.ServerHttp2Session) => {
          let streams = 0
          session.on("stream", (stream: Http2.ServerHttp2Stream) => {
            streams++
            const limit = faults?.goawayAfterStreams
            if (limit !== undefined && streams === limit) {
              // Graceful: once this stream is served, GOAWAY names it as the last one processed;
              // later streams must go to a new connection.
              stream.on("close", () => {
                if (!session.closed && !session.destroyed) {
                  session.goaway(Http2.constants.NGHTTP2_NO_ERROR, stream.id)
                  session.close()
                }
              })
            }
          })
        })
      }
      server.on("error", (error) => resume(Effect.fail(error)))
      server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => {
        const { address, port } = server.address() as AddressInfo
        const host = address.includes(":") ? `[${address}]` : address
        const origin = `${protocol === "h2" ? "https" : "http"}://${host}:${port}`
        const service: MirrorServerService = {
          origin,
          certificate,
          hits: (path) => (path === undefined ? totalHits : hitsByPath.get(path) ?? 0),
          connectionsOpened: () => opened,
          connectionsOpen: () => sockets.size,
          encodingsMade: () => made,
          setFaults: (next) => {
            faults = next
            ruleCounters.clear()
          },
          resetCounters: () => {
            hitsByPath.clear()
            totalHits = 0
            opened = 0
          }
        }
        const close = () =>
          new Promise<void>((done) => {
            server.close(() => done())
            for (const socket of sockets) {
              if ("destroy" in socket) socket.destroy()
            }
          })
        resume(Effect.succeed({ service, close }))
      })
    }),
    ({ close }) => Effect.promise(close)
  ).pipe(Effect.map(({ service }) => service))

const decodeURIComponentSafe = (value: string): string => {
  try {
    return decodeURIComponent(value)
  } catch {
    return value
  }
}

/**
 * A mirror for the life of a layer.
 *
 * @since 0.1.0
 */
export const layer = (options: MirrorOptions): Layer.Layer<MirrorServer, Error> =>
  Layer.effect(MirrorServer, make(options))

/**
 * The CDN template that reaches a mirror's plain shape (`/{year}/{gp}/{session}/{path}`).
 *
 * @since 0.1.0
 */
export const templateFor = (origin: string): string => `${origin}/{year}/{gp}/{session}/{path}`
