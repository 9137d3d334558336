/**
 * `MirrorServer`: serves a folder in CDN layout over HTTP/1.1, HTTP/2 over TLS (a generated
 * self-signed certificate, HTTP/1.1 still accepted), or h2c. URLs:
 * `/{year}@main/{Event}/{Session}/{file}` (jsDelivr shape) and `/{year}/{Event}/{Session}/{file}`
 * (use the template `{origin}/{year}/{gp}/{session}/{path}`); a folder of the Stats archive
 * (`{year}/events.json`, `{year}/{slug}/results.json`) is served the same way (its `stats_cdns`
 * template: `{origin}/{path}`). Like jsDelivr: br or gzip as asked (q-values honoured; each
 * content compressed once and kept), `Vary: Accept-Encoding`, an ETag per encoding and 304 on
 * `If-None-Match`, `application/json`; and never a file outside its root (`..` in any encoding,
 * absolute paths and symlinks that leave the root are 404). A fault mode (off unless asked) injects 404/429/503,
 * resets, truncation, slow bodies, latency and GOAWAY, for tests and benchmarks.
 *
 * Its limits hold for every protocol (SPEC section 6): a connection idle past `headersTimeoutMs`
 * (before its first request) or `idleTimeoutMs` (after) is closed, so a connection cap full of idle
 * clients clears (`IdleConnections`); hit counters and served bodies are `Lru`s bounded in paths
 * and in bytes, so neither a flood of distinct 404s nor a crawl of a large mirror grows its memory.
 *
 * Built on `node:http`/`node:http2` rather than a framework: faults need the raw socket and stream.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
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
import type { TLSSocket } from "node:tls"
import * as Zlib from "node:zlib"
import { generateSelfSignedCertificate, type SelfSignedCertificate } from "./certificate.js"
import { enforce as closeIdleConnections, IdleConnections } from "./IdleConnections.js"
import {
  defaultHeadersTimeoutMs,
  defaultIdleTimeoutMs,
  defaultMaxCachedBytes,
  defaultMaxConnections,
  defaultMaxCountedPaths
} from "./limits.js"
import { Lru } from "./Lru.js"

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
   * Milliseconds a new connection has to finish its TLS handshake, then (again) to send its first
   * request, and an HTTP/1.1 request to send its headers, before the connection is closed: a
   * client that sends nothing, or its headers a byte at a time, cannot hold a connection open.
   * Every protocol (HTTP/1.1, HTTP/2 over TLS, h2c, HTTP/1.1 over TLS). Default 10,000.
   */
  readonly headersTimeoutMs?: number
  /**
   * Milliseconds a connection with no request in flight is kept open after its last response,
   * every protocol (an HTTP/2 session is closed with GOAWAY). Default 30,000.
   */
  readonly idleTimeoutMs?: number
  /**
   * Connections open at once; past it, new ones are closed at once. Idle ones are closed by the
   * two timeouts above, so idle clients hold the cap at most that long. Default 1,024.
   */
  readonly maxConnections?: number
  /**
   * Bytes of served bodies (identity, br, gzip) kept in memory, least recently served dropped
   * first; each body also counts 512 bytes for its headers and bookkeeping. A body larger than
   * this is read (and compressed) for each request. Default 256 MiB.
   */
  readonly maxCachedBytes?: number
  /**
   * Paths `hits(path)` remembers, least recently asked forgotten first (a path longer than 256
   * characters counts once per 256). `hits()` counts every request regardless. Default 10,000.
   */
  readonly maxCountedPaths?: number
}

/** Default limits. */
export {
  defaultHeadersTimeoutMs,
  defaultIdleTimeoutMs,
  defaultMaxCachedBytes,
  defaultMaxConnections,
  defaultMaxCountedPaths
}

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
  /**
   * Requests served: all of them, or those for one decoded file path (including faults and 404s;
   * the `maxCountedPaths` most recently asked paths are remembered, others answer 0).
   */
  readonly hits: (path?: string) => number
  /** Connections accepted so far, and open now. */
  readonly connectionsOpened: () => number
  readonly connectionsOpen: () => number
  /**
   * Compressed representations made so far: each content (by identity ETag) and coding is
   * compressed once, however many paths or concurrent requests ask for it.
   */
  readonly encodingsMade: () => number
  /**
   * What the bodies kept in memory weigh now, in bytes (each body's bytes and 512 for its
   * headers): never more than `maxCachedBytes`.
   */
  readonly cachedBytes: () => number
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
 * CDN layout is a year (`2025` or `2025@main`) and at least one segment under it: the timing
 * data's `{year}/{gp}/{session}/{file}` and the Stats archive's `{year}/{file}` and
 * `{year}/{slug}/{file}` alike.
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
  if (segments.length < 2) return undefined
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

/**
 * URL paths whose file is remembered (about 400 bytes each; least recently asked forgotten
 * first). Only paths that named a file: a 404 is looked up afresh each time.
 */
const maxRememberedFiles = 16_384

/** How long a served file is trusted before the disk is checked again, ms. */
const recheckMs = 1000

/**
 * What a cached body costs beyond its bytes (its headers object, ETag, the entry): 412 bytes
 * measured for a small JSON file on Node 24, rounded up.
 */
const bodyOverheadBytes = 512

/** A counted path weighs one per started 256 characters: a flood of long paths is bounded too. */
const pathWeight = (path: string) => Math.max(1, Math.ceil(path.length / 256))

/**
 * One representation of a file's content (identity, br or gzip): the bytes sent and the response
 * headers that go with them, built once and reused by every request for it.
 */
interface Representation {
  readonly body: Buffer
  readonly etag: string
  readonly headers: Readonly<Record<string, string>>
}

/**
 * The file a URL path named when last checked against the disk, and its content's ETag (the
 * key of its bodies in the body cache). Updated in place when the check finds it changed.
 */
interface ServedFile {
  readonly key: string
  realPath: string
  mtimeMs: number
  size: number
  etag: string
  checkedAt: number
}

/** A path's stats when it is a regular file. */
const statFile = (path: string): Fs.Stats | undefined => {
  try {
    const stat = Fs.statSync(path)
    return stat.isFile() ? stat : undefined
  } catch {
    return undefined
  }
}

/** A file's bytes, or `undefined` when it cannot be read (removed meanwhile). */
const readFile = (path: string): Buffer | undefined => {
  try {
    return Fs.readFileSync(path)
  } catch {
    return undefined
  }
}

/** A content's identity ETag: a hash of its bytes, so equal contents share their cached bodies. */
const etagOf = (body: Buffer) => `"${Crypto.createHash("sha1").update(body).digest("base64url")}"`

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

const notFound = (reply: Reply) => {
  reply.start(404, { "content-type": "text/plain" }, false)
  reply.end("Not Found")
}

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
 * Its idle rule runs on the `Clock` (see `IdleConnections`).
 *
 * @since 0.1.0
 */
export const make = (options: MirrorOptions): Effect.Effect<MirrorServerService, Error, Scope.Scope> =>
  Effect.gen(function*() {
    const limits = yield* checkLimits(options)
    const connections = new IdleConnections(limits, yield* Clock.Clock)
    const service = yield* acquire(options, limits, connections)
    // Started at once, so its first wait is on the clock before anyone can move a test clock.
    yield* Effect.forkScoped(closeIdleConnections(connections), { startImmediately: true })
    return service
  })

/** The limits of a mirror, defaults filled in. */
interface Limits {
  readonly headersTimeoutMs: number
  readonly idleTimeoutMs: number
  readonly maxConnections: number
  readonly maxCachedBytes: number
  readonly maxCountedPaths: number
}

/** The limits, checked before anything listens: a wrong one fails naming the option and its value. */
const checkLimits = (options: MirrorOptions): Effect.Effect<Limits, Error> => {
  const positive = (name: string, value: number | undefined) =>
    value === undefined || (Number.isFinite(value) && value > 0)
      ? undefined
      : `mirror: ${name} must be a positive number, got ${value}`
  const atLeast = (name: string, value: number | undefined, least: number) =>
    value === undefined || (Number.isInteger(value) && value >= least)
      ? undefined
      : `mirror: ${name} must be an integer of at least ${least}, got ${value}`
  const wrong = positive("headersTimeoutMs", options.headersTimeoutMs) ??
    positive("idleTimeoutMs", options.idleTimeoutMs) ??
    atLeast("maxConnections", options.maxConnections, 1) ??
    atLeast("maxCachedBytes", options.maxCachedBytes, 0) ??
    atLeast("maxCountedPaths", options.maxCountedPaths, 1)
  if (wrong !== undefined) return Effect.fail(new Error(wrong))
  return Effect.succeed({
    headersTimeoutMs: options.headersTimeoutMs ?? defaultHeadersTimeoutMs,
    idleTimeoutMs: options.idleTimeoutMs ?? defaultIdleTimeoutMs,
    maxConnections: options.maxConnections ?? defaultMaxConnections,
    maxCachedBytes: options.maxCachedBytes ?? defaultMaxCachedBytes,
    maxCountedPaths: options.maxCountedPaths ?? defaultMaxCountedPaths
  })
}

const acquire = (
  options: MirrorOptions,
  limits: Limits,
  connections: IdleConnections
): Effect.Effect<MirrorServerService, Error, Scope.Scope> =>
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
      /** Requests by decoded path, the most recently asked kept: a flood of distinct 404s is bounded. */
      const hitsByPath = new Lru<string, { hits: number }>(limits.maxCountedPaths, pathWeight)
      let totalHits = 0
      let opened = 0
      let made = 0
      const sockets = new Set<Socket | Http2.Http2Session>()

      /**
       * Served bodies by content: the identity body under its ETag, br and gzip under the ETag and
       * the coding. Files with the same bytes (hard links, a file under two URL shapes) share them,
       * and a content no file has any more ages out like any other. Bounded in bytes, so a crawl of
       * a mirror larger than memory cycles through it.
       */
      const bodies = new Lru<string, Representation>(
        limits.maxCachedBytes,
        (_, kept) => kept.body.length + bodyOverheadBytes
      )

      /** What the URL paths that named files resolved to (a 404 is not remembered). */
      const served = new Lru<string, ServedFile>(maxRememberedFiles, () => 1)

      /**
       * The file a URL path names, checked against the disk (realpath inside the root, then stat)
       * at most once per `recheckMs`: those system calls were most of the time of a request for a
       * small file. A file changed or removed is seen within that time; a missing one is looked for
       * every time. A file is read (and hashed) when first seen and when it changed.
       */
      const resolve = (urlPath: string, key: string, known: ServedFile | undefined): ServedFile | undefined => {
        const now = performance.now()
        if (known !== undefined && now - known.checkedAt < recheckMs) return known
        const realPath = fileInRoot(rootReal, key)
        const stat = realPath === undefined ? undefined : statFile(realPath)
        if (stat === undefined) {
          served.delete(urlPath)
          return undefined
        }
        if (
          known !== undefined && known.realPath === realPath && known.mtimeMs === stat.mtimeMs &&
          known.size === stat.size
        ) {
          known.checkedAt = now
          return known
        }
        const body = readFile(realPath!)
        if (body === undefined) {
          served.delete(urlPath)
          return undefined
        }
        const etag = etagOf(body)
        bodies.set(etag, representation(body, etag, undefined))
        const file: ServedFile = {
          key,
          realPath: realPath!,
          mtimeMs: stat.mtimeMs,
          size: stat.size,
          etag,
          checkedAt: now
        }
        served.set(urlPath, file)
        return file
      }

      /**
       * A file's identity body: from the cache, or read again when it was dropped. Read again, the
       * file may have changed since its check: then what is read now is served, and the next
       * request checks the disk.
       */
      const identityOf = (file: ServedFile): Representation | undefined => {
        const kept = bodies.get(file.etag)
        if (kept !== undefined) return kept
        const body = readFile(file.realPath)
        if (body === undefined) return undefined
        const etag = etagOf(body)
        if (etag !== file.etag) {
          file.etag = etag
          file.checkedAt = -Infinity
        }
        const identity = representation(body, etag, undefined)
        bodies.set(etag, identity)
        return identity
      }

      /**
       * Compress a content once: the requests that arrive while it is being made wait for it
       * rather than making it again.
       */
      const encoding = new Map<string, Array<(made: Representation | Error) => void>>()
      const encode = (
        identity: Representation,
        coding: ContentCoding,
        then: (made: Representation | Error) => void
      ) => {
        const key = identity.etag + coding
        const waiting = encoding.get(key)
        if (waiting !== undefined) return waiting.push(then)
        encoding.set(key, [then])
        made++
        compress(coding, identity.body, (error, body) => {
          const result = error ?? representation(body, `${identity.etag.slice(0, -1)}-${coding}"`, coding)
          if (!(result instanceof Error)) bodies.set(key, result)
          const waiters = encoding.get(key)!
          encoding.delete(key)
          for (const waiter of waiters) waiter(result)
        })
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

      const countHit = (key: string) => {
        totalHits++
        const counter = hitsByPath.get(key)
        if (counter === undefined) hitsByPath.set(key, { hits: 1 })
        else counter.hits++
      }

      /** Answer one request (method, URL path and the two headers that matter) through `reply`. */
      const respond = (
        method: string | undefined,
        url: string | undefined,
        acceptEncoding: string | undefined,
        ifNoneMatch: string | undefined,
        reply: Reply
      ) => {
        const urlPath = url ?? "/"
        const readable = method === "GET" || method === "HEAD"
        const known = readable ? served.get(urlPath) : undefined
        // Decoding and checking segments was 7% of a small request: a known file skips it.
        const fileKey = known !== undefined ? known.key : readable ? mirrorKey(urlPath) : undefined
        const key = fileKey ?? decodeURIComponentSafe(url ?? "")
        countHit(key)
        const fault = pickFault(key)
        if (fault?.status !== undefined) {
          const headers: Record<string, string> = { "content-type": "text/plain" }
          if (fault.retryAfterSeconds !== undefined) headers["retry-after"] = String(fault.retryAfterSeconds)
          reply.start(fault.status, headers, false)
          return reply.end(`fault ${fault.status}`)
        }
        const file = fileKey === undefined ? undefined : resolve(urlPath, fileKey, known)
        if (file === undefined) return notFound(reply)
        const coding = negotiateEncoding(acceptEncoding)
        const kept = bodies.get(coding === undefined ? file.etag : file.etag + coding)
        if (kept !== undefined) return sendRepresentation(reply, kept, method, ifNoneMatch, fault)
        const identity = identityOf(file)
        if (identity === undefined) return notFound(reply)
        if (coding === undefined) return sendRepresentation(reply, identity, method, ifNoneMatch, fault)
        encode(identity, coding, (made) => sendRepresentation(reply, made, method, ifNoneMatch, fault))
      }
      const handle: typeof respond = (method, url, acceptEncoding, ifNoneMatch, reply) => {
        const latency = faults?.latencyMs ?? 0
        if (latency > 0) setTimeout(respond, latency, method, url, acceptEncoding, ifNoneMatch, reply)
        else respond(method, url, acceptEncoding, ifNoneMatch, reply)
      }
      const onRequest = (request: Http.IncomingMessage, response: Http.ServerResponse) => {
        // HTTP/2 streams are answered by `onStream`; only HTTP/1.x requests come here.
        if (request.httpVersionMajor >= 2) return
        const connection = connections.started(request.socket)
        // `on`, not `once`: a response closes once, and `once`'s wrapper cost 1 µs a request.
        response.on("close", () => connections.finished(connection))
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
        const connection = connections.started(stream.session)
        stream.on("close", () => connections.finished(connection))
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
      const { headersTimeoutMs } = limits
      const server = protocol === "h1"
        ? Http.createServer({
          // Our idle rule closes the connection too; Node's keeps the `Keep-Alive: timeout` header
          // it sends true, so clients stop reusing a connection before it is closed under them.
          keepAliveTimeout: limits.idleTimeoutMs,
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
      server.maxConnections = limits.maxConnections
      const track = (socket: Socket | Http2.Http2Session) => {
        opened++
        sockets.add(socket)
        socket.on("close", () => sockets.delete(socket))
      }
      // The idle rule watches what carries requests: the socket of HTTP/1.1 (plain, or over TLS
      // when ALPN did not pick h2; Node's own HTTP/2 listener runs first and has decided), else
      // the HTTP/2 session.
      if (protocol === "h2") {
        server.on("secureConnection", (socket: TLSSocket) => {
          track(socket)
          if (socket.alpnProtocol !== "h2") connections.add(socket)
        })
      } else {
        server.on("connection", (socket: Socket) => {
          track(socket)
          if (protocol === "h1") connections.add(socket)
        })
      }
      if (protocol !== "h1") {
        server.on("session", (session: Http2.ServerHttp2Session) => {
          connections.add(session)
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
          hits: (path) => (path === undefined ? totalHits : hitsByPath.peek(path)?.hits ?? 0),
          connectionsOpened: () => opened,
          connectionsOpen: () => sockets.size,
          encodingsMade: () => made,
          cachedBytes: () => bodies.weight,
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
