/**
 * `HttpSession`: the one pooled HTTP session of a layer. One protocol-aware undici dispatcher for
 * the layer's life (closed with its scope): HTTP/1.1 keep-alive sockets per origin, HTTP/2
 * multiplexed over one or two connections per origin (learned from ALPN on first contact),
 * connections recycled after `keepalive_max_requests`, connection stats counted from real socket
 * and request events. Also provides an `effect/http` `HttpClient` on the same dispatcher.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as FetchHttpClient from "effect/http/FetchHttpClient"
import type * as HttpClient from "effect/http/HttpClient"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import { type Dispatcher, fetch as undiciFetch } from "undici"
import { socketsPerOrigin, Tif1Config } from "../schema/Config.js"
import { NetworkError, type NetworkErrorKind } from "../schema/Errors.js"
import { DnsResolver } from "./DnsResolver.js"
import { acceptEncodingFor, type CompressionMode, decodeBody } from "./internal/compression.js"
import { proxyResolver } from "./internal/proxy.js"
import { type OriginProtocol, RoutingDispatcher } from "./internal/routingDispatcher.js"
import { isTracing, requestDuration } from "./internal/telemetry.js"

/**
 * A response with its whole body.
 *
 * @since 0.1.0
 */
export interface HttpResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>
  /**
   * The body bytes, decoded when the server compressed them (`headers["content-encoding"]`
   * still says how they travelled); may be a view into a larger buffer (read it through its
   * offset and length).
   */
  readonly body: Uint8Array
  /** Bytes received on the wire for the body (its compressed size when it was compressed). */
  readonly wireBytes: number
}

/**
 * Per-request options. `timeout` covers headers and body together.
 *
 * @since 0.1.0
 */
export interface GetOptions {
  readonly timeout?: Duration.Input
  /** Extra request headers (`if-none-match`, ...), lower-case names; they cannot replace `user-agent`. */
  readonly headers?: Readonly<Record<string, string>>
}

/**
 * Counters of one origin.
 *
 * @since 0.1.0
 */
export interface OriginStats {
  readonly protocol: OriginProtocol | "unknown"
  readonly requests: number
  readonly connectionsCreated: number
  readonly connectionsReused: number
}

/**
 * Connection statistics, counted from real socket and request events. `reuseRate` is the percent
 * (0-100) of requests sent on a connection that had already carried one.
 *
 * @since 0.1.0
 */
export interface ConnectionStats {
  readonly totalRequests: number
  readonly connectionsCreated: number
  readonly connectionsReused: number
  readonly reuseRate: number
  readonly byOrigin: Readonly<Record<string, OriginStats>>
}

/**
 * The session.
 *
 * @since 0.1.0
 */
export interface HttpSessionService {
  /** GET a URL; any status is a success, transport failures and timeouts are `NetworkError`. */
  readonly get: (url: string, options?: GetOptions) => Effect.Effect<HttpResponse, NetworkError>
  /** Connection statistics since start or the last `resetStats`. */
  readonly stats: Effect.Effect<ConnectionStats>
  /** Zero the counters (the protocol learned per origin is kept). */
  readonly resetStats: Effect.Effect<void>
  /** The undici dispatcher, for `HttpClient` interop and advanced users. */
  readonly dispatcher: RoutingDispatcher
}

/**
 * The `HttpSession` tag.
 *
 * @since 0.1.0
 */
export class HttpSession extends Context.Service<HttpSession, HttpSessionService>()("tif1-effect/HttpSession") {}

/**
 * Options that are not configuration: extra trusted certificates (a local mirror with a
 * self-signed certificate), and HTTP/2 limits.
 *
 * @since 0.1.0
 */
export interface HttpSessionOptions {
  readonly ca?: string | Buffer | ReadonlyArray<string | Buffer>
  /** Streams per HTTP/2 connection at most (the server's MAX_CONCURRENT_STREAMS lowers it). Default 100. */
  readonly maxStreamsPerConnection?: number
  /** HTTP/2 connections per origin at most. Default 2. */
  readonly maxH2ConnectionsPerOrigin?: number
  /**
   * HTTP/2 flow-control windows in bytes: `stream` per stream, `connection` per connection.
   * Default 4 MiB and 16 MiB (sized for a long fat pipe; see `routingDispatcher.ts`). For
   * measurements and constrained clients; a larger window only allows more in flight.
   */
  readonly h2Windows?: { readonly stream: number; readonly connection: number }
}

/** A flow-control window HTTP/2 allows (RFC 9113 6.9.1), no smaller than the protocol's default. */
const validWindow = (bytes: number) => Number.isInteger(bytes) && bytes >= 65_535 && bytes <= 2 ** 31 - 1

/**
 * Default `h2Windows`.
 *
 * @since 0.2.0
 */
export const defaultH2Windows = { stream: 4 * 1024 * 1024, connection: 16 * 1024 * 1024 } as const

/** An undici or socket error as a `NetworkError` kind and a reason for people. */
const classify = (error: unknown): { readonly kind: NetworkErrorKind; readonly reason: string } => {
  const { code: rawCode, message = String(error) } = error as { code?: unknown; message?: string }
  const code = typeof rawCode === "string" ? rawCode : rawCode === undefined ? undefined : String(rawCode)
  if (message.includes("GOAWAY")) return { kind: "goaway", reason: message }
  switch (code) {
    case "UND_ERR_BODY_TIMEOUT":
      return { kind: "stalled", reason: `the body stopped arriving (${message})` }
    case "UND_ERR_CONNECT_TIMEOUT":
    case "UND_ERR_HEADERS_TIMEOUT":
    case "ETIMEDOUT":
      return { kind: "timeout", reason: message }
    case "UND_ERR_SOCKET":
    case "ECONNRESET":
    case "EPIPE":
    case "UND_ERR_CLOSED":
      return { kind: "reset", reason: message }
    case "ECONNREFUSED":
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return { kind: "connect", reason: message }
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return { kind: "dns", reason: message }
    case "UND_ERR_ABORTED":
      return { kind: "cancelled", reason: "aborted" }
    case "TIF1_TOO_LARGE":
      return { kind: "too-large", reason: message }
    case "UND_ERR_INVALID_ARG":
    case "HPE_INVALID_CONSTANT":
    case "HPE_INVALID_HEADER_TOKEN":
      return { kind: "protocol", reason: message }
  }
  // RST_STREAM with REFUSED_STREAM (7): Node's own h2 error, or undici's informational error.
  if (
    (code === "ERR_HTTP2_STREAM_ERROR" && message.includes("REFUSED_STREAM")) ||
    (code === "UND_ERR_INFO" && /"stream error" received - code 7\b/.test(message))
  ) return { kind: "refused-stream", reason: message }
  if (code !== undefined && (code.startsWith("ERR_TLS") || code.includes("CERT") || code.startsWith("ERR_SSL"))) {
    return { kind: "tls", reason: `${code} ${message}` }
  }
  return { kind: "transport", reason: `${code ?? ""} ${message}`.trim() }
}

/**
 * Collects one response for `get`, straight from undici's dispatch handler interface: no body
 * stream and no abort signal per request (through `request()` with an abort signal, 20 KB GETs
 * took 1.6x the time of plain `undici.request`; this way, about the same). `done` is called once,
 * with the response or the error; `abort` cancels the request (sent or still queued) and reports
 * whether `done` was still pending.
 */
class ResponseCollector implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined
  private settled = false
  private status = 0
  private headers: HttpResponse["headers"] = {}
  private readonly chunks: Array<Buffer> = []
  private length = 0

  constructor(
    private readonly done: (outcome: HttpResponse | Error) => void,
    private readonly maxBytes: number
  ) {}

  private settle(outcome: HttpResponse | Error): void {
    if (this.settled) return
    this.settled = true
    this.done(outcome)
  }

  abort(): boolean {
    if (this.settled) return false
    this.settled = true
    // Not yet on a connection: aborted as soon as undici starts it (onRequestStart).
    this.controller?.abort(new Error("aborted"))
    return true
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller
    if (this.settled) controller.abort(new Error("aborted"))
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: HttpResponse["headers"]) {
    this.status = statusCode
    this.headers = headers
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.chunks.push(chunk)
    this.length += chunk.length
    if (this.length > this.maxBytes) {
      const error = Object.assign(new Error(`the body is larger than max_response_bytes (${this.maxBytes} bytes)`), {
        code: "TIF1_TOO_LARGE"
      })
      this.settle(error)
      controller.abort(error)
    }
  }

  onResponseEnd(): void {
    const body = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.length)
    this.settle({ status: this.status, headers: this.headers, body, wireBytes: this.length })
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, error: Error): void {
    this.settle(error)
  }
}

/**
 * Build a session on an existing dispatcher (the layer owns its lifetime).
 *
 * @since 0.1.0
 */
export const makeWithDispatcher = (
  dispatcher: RoutingDispatcher,
  settings: {
    readonly userAgent: string
    readonly defaultTimeout: Duration.Duration
    readonly compression?: CompressionMode
    readonly maxResponseBytes?: number
    /** Milliseconds without a body byte after which a response is abandoned and sent again. */
    readonly stallTimeoutMs?: number
  }
): HttpSessionService => {
  const stallTimeoutMs = settings.stallTimeoutMs ?? 10_000
  const compression = settings.compression ?? "off"
  const maxResponseBytes = settings.maxResponseBytes ?? 64 * 1024 * 1024
  /** Request headers by `accept-encoding` (one object each, reused by every request). */
  const headersFor = new Map<string, Readonly<Record<string, string>>>()
  const baseHeaders = (hostname: string) => {
    const accept = acceptEncodingFor(compression, hostname)
    let headers = headersFor.get(accept)
    if (headers === undefined) {
      headersFor.set(accept, headers = { "user-agent": settings.userAgent, "accept-encoding": accept })
    }
    return headers
  }
  const send = (url: string, options?: GetOptions): Effect.Effect<HttpResponse, NetworkError> => {
    const timeout = options?.timeout === undefined ? settings.defaultTimeout : Duration.fromInputUnsafe(options.timeout)
    const timeoutMs = Math.max(1, Math.round(Duration.toMillis(timeout)))
    const timedOut = () =>
      new NetworkError({ url, kind: "timeout", reason: `no complete response in ${Duration.format(timeout)}` })
    return Effect.suspend(() => {
      // One deadline for headers and body together (a server that sends headers then stalls
      // fails here), shared by the resends below. A plain timer that aborts the request: an
      // Effect-level timeout forks a fiber per request, which costs more than a 20 KB GET.
      const deadline = Date.now() + timeoutMs
      const attempt = Effect.callback<HttpResponse, NetworkError>((resume) => {
        let parsed: URL
        try {
          parsed = new URL(url)
        } catch {
          return resume(Effect.fail(new NetworkError({ url, kind: "invalid-url", reason: "the URL does not parse" })))
        }
        const remainingMs = deadline - Date.now()
        if (remainingMs <= 0) return resume(Effect.fail(timedOut()))
        const headers = baseHeaders(parsed.hostname)
        const collector = new ResponseCollector((outcome) => {
          if (outcome instanceof Error) {
            clearTimeout(timer)
            return resume(Effect.fail(new NetworkError({ url, ...classify(outcome), cause: outcome })))
          }
          const encoding = outcome.headers["content-encoding"]
          const coding = typeof encoding === "string" ? encoding : encoding?.[0]
          if (coding === undefined || coding === "" || coding.toLowerCase() === "identity") {
            clearTimeout(timer)
            return resume(Effect.succeed(outcome))
          }
          // Decoded within the same deadline, on libuv's thread pool.
          decodeBody(coding, headers["accept-encoding"]!, outcome.body, maxResponseBytes, (decoded) => {
            clearTimeout(timer)
            resume(
              decoded instanceof Uint8Array
                ? Effect.succeed({ ...outcome, body: decoded })
                : Effect.fail(
                  new NetworkError({ url, status: outcome.status, kind: decoded.kind, reason: decoded.reason })
                )
            )
          })
        }, maxResponseBytes)
        const timer = setTimeout(() => {
          if (collector.abort()) resume(Effect.fail(timedOut()))
        }, remainingMs)
        try {
          dispatcher.dispatch({
            origin: parsed.origin,
            path: parsed.pathname + parsed.search,
            method: "GET",
            headers: options?.headers === undefined ? headers : { ...options.headers, ...headers },
            headersTimeout: timeoutMs,
            // The idle limit: a body that stops making progress for stall_timeout is abandoned
            // (and sent again below) well before the whole-response deadline. When the deadline
            // comes first, its own timer answers (the idle limit is pushed past it).
            bodyTimeout: stallTimeoutMs < remainingMs ? stallTimeoutMs : remainingMs + 1000
          }, collector)
        } catch (error) {
          collector.onResponseError(undefined, error as Error)
        }
        return Effect.sync(() => {
          clearTimeout(timer)
          collector.abort()
        })
      })
      // RFC 9113 8.7: a refused stream was not processed, so it is safe to send again at once (it
      // happens when a stream is sent just as another frees its slot on the server). undici fails
      // the request at the head of a connection that receives GOAWAY even when the server names it
      // as processed; a GET is idempotent, so it is sent again on a fresh connection.
      // A stalled response is sent again too, on a fresh socket for HTTP/1.1 (undici destroys the
      // stalled one), within what is left of the deadline.
      const resendable = (error: NetworkError) =>
        error.kind === "refused-stream" || error.kind === "goaway" ||
        (error.kind === "stalled" && Date.now() < deadline)
      // A plain catch rather than `Effect.retry`: no schedule to drive on the common path.
      const withResends = (left: number): Effect.Effect<HttpResponse, NetworkError> =>
        left === 0 ? attempt : Effect.catchIf(attempt, resendable, () => withResends(left - 1))
      return withResends(3)
    })
  }

  const stats = Effect.sync((): ConnectionStats => {
    let totalRequests = 0
    let connectionsCreated = 0
    let connectionsReused = 0
    const byOrigin: Record<string, OriginStats> = {}
    for (const [origin, counters] of dispatcher.counters) {
      totalRequests += counters.requests
      connectionsCreated += counters.connectionsCreated
      connectionsReused += counters.connectionsReused
      byOrigin[origin] = { ...counters }
    }
    const reuseRate = totalRequests === 0 ? 0 : (connectionsReused / totalRequests) * 100
    return { totalRequests, connectionsCreated, connectionsReused, reuseRate, byOrigin }
  })

  const resetStats = Effect.sync(() => {
    for (const counters of dispatcher.counters.values()) {
      counters.requests = 0
      counters.connectionsCreated = 0
      counters.connectionsReused = 0
    }
  })

  /** `send` in an OpenTelemetry-style HTTP client span (when tracing is enabled), timed into the histogram. */
  const get = (url: string, options?: GetOptions): Effect.Effect<HttpResponse, NetworkError> =>
    Effect.withFiber((fiber) => {
      const started = performance.now()
      const timed = Effect.tap(
        send(url, options),
        () => Effect.sync(() => requestDuration.updateUnsafe((performance.now() - started) / 1000, fiber.context))
      )
      if (!isTracing(fiber)) return timed
      const parsed = URL.canParse(url) ? new URL(url) : undefined
      const protocol = parsed === undefined ? "unknown" : dispatcher.counters.get(parsed.origin)?.protocol ?? "unknown"
      return Effect.withSpan(
        timed.pipe(
          Effect.tapError((error) => Effect.annotateCurrentSpan({ "error.type": error.kind })),
          Effect.tap((response) =>
            Effect.annotateCurrentSpan({
              "http.response.status_code": response.status,
              "http.response.body.size": response.wireBytes,
              "tif1.response.decoded_size": response.body.byteLength,
              ...(protocol === "unknown" ? {} : { "network.protocol.version": protocol === "h2" ? "2" : "1.1" })
            })
          )
        ),
        "HttpSession.get",
        {
          kind: "client",
          attributes: {
            "http.request.method": "GET",
            "url.full": url,
            ...(parsed === undefined ? {} : {
              "server.address": parsed.hostname,
              "server.port": Number(parsed.port || (parsed.protocol === "https:" ? 443 : 80))
            })
          }
        }
      )
    })

  return { get, stats, resetStats, dispatcher }
}

/**
 * Build the session from config: acquires the dispatcher (closed with the scope) and starts the
 * periodic stats log (`connection_stats_log_interval`, debug level).
 *
 * @since 0.1.0
 */
export const make = (options: HttpSessionOptions = {}) =>
  Effect.gen(function*() {
    const windows = options.h2Windows
    if (windows !== undefined && !([windows.stream, windows.connection].every(validWindow))) {
      return yield* Effect.die(
        new Error(
          `HttpSession: h2Windows must be integers from 65,535 to 2,147,483,647 bytes, got ${JSON.stringify(windows)}`
        )
      )
    }
    const config = yield* Tif1Config
    const resolver = yield* DnsResolver
    const dispatcher = yield* Effect.acquireRelease(
      Effect.sync(() =>
        new RoutingDispatcher({
          socketsPerOrigin: socketsPerOrigin(config),
          keepAliveTimeoutMs: config.keepaliveTimeout * 1000,
          maxRequestsPerConnection: config.keepaliveMaxRequests,
          multiplexed: config.httpMultiplexed,
          maxStreamsPerConnection: options.maxStreamsPerConnection ?? 100,
          maxH2ConnectionsPerOrigin: options.maxH2ConnectionsPerOrigin ?? 2,
          h2Windows: options.h2Windows ?? defaultH2Windows,
          connectTimeoutMs: Math.min(config.timeout * 1000, 10_000),
          lookup: resolver.lookup,
          ca: options.ca,
          proxyFor: proxyResolver({ proxy: config.proxy, trustEnv: config.trustEnv })
        })
      ),
      (dispatcher) => Effect.promise(() => dispatcher.close())
    )
    const session = makeWithDispatcher(dispatcher, {
      userAgent: config.userAgent,
      defaultTimeout: Duration.seconds(config.timeout),
      compression: config.compression,
      maxResponseBytes: config.maxResponseBytes,
      stallTimeoutMs: config.stallTimeout * 1000
    })
    if (config.connectionStatsLogInterval > 0) {
      yield* session.stats.pipe(
        Effect.flatMap((stats) =>
          Effect.logDebug(
            `connections: ${stats.totalRequests} requests, ${stats.connectionsCreated} created, ` +
              `reuse ${stats.reuseRate.toFixed(1)}%`
          )
        ),
        Effect.repeat(Schedule.spaced(Duration.seconds(config.connectionStatsLogInterval))),
        Effect.forkScoped
      )
    }
    return session
  })

/**
 * The session from config (needs a `DnsResolver`).
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<HttpSession, never, Tif1Config | DnsResolver> = Layer.effect(HttpSession, make())

/**
 * The session with extra options (trusted CA of a local mirror, HTTP/2 limits).
 *
 * @since 0.1.0
 */
export const layerWith = (options: HttpSessionOptions): Layer.Layer<HttpSession, never, Tif1Config | DnsResolver> =>
  Layer.effect(HttpSession, make(options))

/**
 * undici's `fetch` sending every request through `dispatcher`. undici's Request and Response are
 * the classes Node's global `fetch` is built from, but TypeScript declares them apart from the DOM
 * ones `FetchHttpClient` names: the cast bridges the declarations, not the values.
 */
const fetchThrough = (dispatcher: Dispatcher): typeof globalThis.fetch =>
  ((input: Parameters<typeof undiciFetch>[0], init?: Parameters<typeof undiciFetch>[1]) =>
    undiciFetch(input, { ...init, dispatcher })) as unknown as typeof globalThis.fetch

/**
 * An `effect/http` `HttpClient` on the session's dispatcher, for users' other requests (same
 * sockets, same DNS chain, same proxy). It is Effect's `FetchHttpClient` with undici's own
 * `fetch` bound to the dispatcher, so it needs no `@effect/platform-node`. A `Fetch` a program
 * provides itself takes precedence, as with any `FetchHttpClient`; `FetchHttpClient.RequestInit`
 * options apply as usual (their `dispatcher`, if any, is replaced by the session's).
 *
 * @since 0.1.0
 */
export const httpClientLayer: Layer.Layer<HttpClient.HttpClient, never, HttpSession> = Layer.unwrap(
  Effect.gen(function*() {
    const session = yield* HttpSession
    // Loaded when the layer is built: some 60 modules that `import("tif1-effect")` does not need.
    const Fetch: typeof FetchHttpClient = yield* Effect.promise(() => import("effect/http/FetchHttpClient"))
    return Fetch.layer.pipe(Layer.provide(Layer.succeed(Fetch.Fetch, fetchThrough(session.dispatcher))))
  })
)
