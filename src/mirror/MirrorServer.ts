/**
 * `MirrorServer`: serves a folder in CDN layout over HTTP/1.1, HTTP/2 over TLS (a generated
 * self-signed certificate, HTTP/1.1 still accepted), or h2c. URLs:
 * `/{year}@main/{Event}/{Session}/{file}` (jsDelivr shape) and `/{year}/{Event}/{Session}/{file}`
 * (use the template `{origin}/{year}/{gp}/{session}/{path}`). ETag and 304, gzip when asked,
 * `application/json`, and never a file outside its root (`..` in any encoding, absolute paths and
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

/** Default `headersTimeoutMs`. */
export const defaultHeadersTimeoutMs = 10_000
/** Default `maxConnections`. */
export const defaultMaxConnections = 1024

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
export class MirrorServer extends Context.Tag("tif1-effect/MirrorServer")<MirrorServer, MirrorServerService>() {}

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

/** How long a served file is trusted before the disk is checked again, ms. */
const recheckMs = 1000

interface CachedFile {
  readonly body: Buffer
  readonly etag: string
  readonly mtimeMs: number
  /** Each encoding computed once, when first asked for, and kept. */
  readonly encoded: Map<ContentCoding, Buffer>
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

/** The ETag of one encoding of a file: each representation has its own (as jsDelivr's do). */
const etagOf = (entry: CachedFile, coding: ContentCoding | undefined) =>
  coding === undefined ? entry.etag : `${entry.etag.slice(0, -1)}-${coding}"`

const compress = (coding: ContentCoding, body: Buffer): Buffer =>
  coding === "br"
    ? Zlib.brotliCompressSync(body, {
      params: {
        // Quality 9: within a few percent of 11 on these files, several times faster to make.
        [Zlib.constants.BROTLI_PARAM_QUALITY]: 9,
        [Zlib.constants.BROTLI_PARAM_MODE]: Zlib.constants.BROTLI_MODE_TEXT,
        [Zlib.constants.BROTLI_PARAM_SIZE_HINT]: body.length
      }
    })
    : Zlib.gzipSync(body, { level: 6 })

/**
 * Start a mirror as a scoped resource (closed, with every connection, when the scope closes).
 *
 * @since 0.1.0
 */
export const make = (options: MirrorOptions): Effect.Effect<MirrorServerService, Error, Scope.Scope> =>
  Effect.zipRight(checkLimits(options), acquire(options))

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
    Effect.async<{ service: MirrorServerService; close: () => Promise<void> }, Error>((resume) => {
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
      const sockets = new Set<Socket | Http2.Http2Session>()
      const files = new Map<string, CachedFile>()

      const readFile = (file: string): CachedFile | undefined => {
        const stat = Fs.statSync(file)
        if (!stat.isFile()) return undefined
        const cached = files.get(file)
        if (cached !== undefined && cached.mtimeMs === stat.mtimeMs && cached.body.length === stat.size) return cached
        const body = Fs.readFileSync(file)
        const etag = `"${Crypto.createHash("sha1").update(body).digest("base64url")}"`
        const entry: CachedFile = { body, etag, mtimeMs: stat.mtimeMs, encoded: new Map() }
        files.set(file, entry)
        return entry
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

      const handle = (request: Http.IncomingMessage | Http2.Http2ServerRequest, response: any) => {
        const respond = () => {
          const mirrored = request.method === "GET" || request.method === "HEAD"
            ? mirrorKey(request.url ?? "/")
            : undefined
          const key = mirrored ?? decodeURIComponentSafe(request.url ?? "")
          totalHits++
          hitsByPath.set(key, (hitsByPath.get(key) ?? 0) + 1)
          const fault = pickFault(key)
          if (fault?.status !== undefined) {
            const headers: Record<string, string> = { "content-type": "text/plain" }
            if (fault.retryAfterSeconds !== undefined) headers["retry-after"] = String(fault.retryAfterSeconds)
            response.writeHead(fault.status, headers)
            return response.end(`fault ${fault.status}`)
          }
          const entry = mirrored === undefined ? undefined : lookup(mirrored)
          if (entry === undefined) {
            response.writeHead(404, { "content-type": "text/plain" })
            return response.end("Not Found")
          }
          const coding = negotiateEncoding(request.headers["accept-encoding"] as string | undefined)
          const etag = etagOf(entry, coding)
          if (noneMatch(request.headers["if-none-match"] as string | undefined, etag)) {
            response.writeHead(304, { etag, vary: "Accept-Encoding" })
            return response.end()
          }
          let whole = entry.body
          if (coding !== undefined) {
            let kept = entry.encoded.get(coding)
            if (kept === undefined) entry.encoded.set(coding, kept = compress(coding, entry.body))
            whole = kept
          }
          // A truncated body is a complete HTTP response whose content is cut short.
          const body = fault?.truncate ? whole.subarray(0, Math.floor(whole.length / 2)) : whole
          const headers: Record<string, string> = {
            "content-type": "application/json; charset=utf-8",
            "content-length": String(body.length),
            etag,
            vary: "Accept-Encoding",
            "cache-control": "public, max-age=604800"
          }
          if (coding !== undefined) headers["content-encoding"] = coding
          response.writeHead(200, headers)
          if (request.method === "HEAD") return response.end()
          if (fault?.resetMidBody) {
            return response.write(body.subarray(0, Math.floor(body.length / 2)), () => {
              const stream = (response as Http2.Http2ServerResponse).stream
              if (stream !== undefined) stream.close(Http2.constants.NGHTTP2_INTERNAL_ERROR)
              else (response as Http.ServerResponse).socket?.destroy()
            })
          }
          if (fault?.slowBodyMs !== undefined) {
            response.write(body.subarray(0, Math.floor(body.length / 2)))
            return setTimeout(() => response.end(body.subarray(Math.floor(body.length / 2))), fault.slowBodyMs)
          }
          response.end(body)
        }
        const latency = faults?.latencyMs ?? 0
        if (latency > 0) setTimeout(respond, latency)
        else respond()
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
        }, handle)
        : protocol === "h2c"
        ? Http2.createServer(h2Options, handle)
        : Http2.createSecureServer(
          { ...certificate!, allowHTTP1: true, handshakeTimeout: headersTimeoutMs, ...h2Options },
          handle
        )
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
  Layer.scoped(MirrorServer, make(options))

/**
 * The CDN template that reaches a mirror's plain shape (`/{year}/{gp}/{session}/{path}`).
 *
 * @since 0.1.0
 */
export const templateFor = (origin: string): string => `${origin}/{year}/{gp}/{session}/{path}`
