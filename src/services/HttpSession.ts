/**
 * `HttpSession`: the one pooled HTTP session of a layer. One protocol-aware undici dispatcher for
 * the layer's life (closed with its scope): HTTP/1.1 keep-alive sockets per origin, HTTP/2
 * multiplexed over one or two connections per origin (learned from ALPN on first contact),
 * connections recycled after `keepalive_max_requests`, an HTTP/2 connection that goes silent
 * closed and its requests sent again (`internal/connectionLiveness.ts`), connection stats counted
 * from real socket and request events. Also provides an `effect/http` `HttpClient` on the same
 * dispatcher.
 *
 * The hot path. `get` is paid on every file fetched, so it is written in plain calls where
 * idiomatic Effect would allocate on every request (each Effect step is a primitive, a closure or
 * two and, under tsx, a `__name` call). A `get` with no tracer is two Effect steps: `withFiber`
 * (the tracer check, and the fiber's context for the duration metric) and one `Effect.callback`
 * whose `Exchange` does the rest through undici's dispatch handler interface
 * (`ResponseCollector`: no body stream, no abort signal, no promise). What stays on the path:
 * - One `setTimeout` a request (not one an attempt): the whole-response deadline, shared by the
 *   resends. undici's `headersTimeout` does not count the time a request waits for a socket, and
 *   `bodyTimeout` is an idle limit, so neither bounds a trickling body; an Effect timeout would
 *   fork a fiber per request. A `setTimeout` and its `clearTimeout` measured about 0.25 µs.
 * - `URL.parse` per request, for the origin, path and host (no cache of URLs: each file's differs).
 * - The resends (refused stream, GOAWAY, stall) as a counter in the exchange, not `Effect.retry` or
 *   nested `catchIf`s: a retry costs nothing until an attempt fails.
 * - The duration histogram's synchronous update with the fiber's context (`updateUnsafe`, tens
 *   of nanoseconds): the metric is always on (SPEC 8), an effect per request to update it is not.
 * - The span only when a tracer is installed and enabled (`isTracing`): two context reads.
 * - The request headers: one object per host, built on first use (`compression: auto` decides per
 *   host), so undici receives the same object every time.
 * - One interruption finalizer (`Effect.sync`) per request: `Effect.callback`'s only way to
 *   cancel the request when the fiber is interrupted (its `AbortSignal` form costs an
 *   `AbortController` per request).
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import type * as FetchHttpClient from "effect/http/FetchHttpClient"
import type * as HttpClient from "effect/http/HttpClient"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import { type Dispatcher, fetch as undiciFetch } from "undici"
import { socketsPerOrigin, Tif1Config } from "../schema/Config.js"
import { NetworkError, type NetworkErrorKind } from "../schema/Errors.js"
import { DnsResolver } from "./DnsResolver.js"
import { acceptEncodingFor, type CompressionMode, decodeBody, hasContent } from "./internal/compression.js"
import { type LivenessTimers, pingAckTimeoutMs, SilentConnectionError } from "./internal/connectionLiveness.js"
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
   * offset and length). Answers without content (1xx, 204, 304, an empty body) are never
   * decoded, whatever `content-encoding` they carry.
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
  // A silent HTTP/2 connection, closed by our watch or by undici's PING going unanswered (undici
  // gives that one no code of its own: a `SocketError` named by its message).
  if (error instanceof SilentConnectionError || message.includes("connection unresponsive")) {
    return { kind: "stalled", reason: message }
  }
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

/** GETs sent again after a refused stream, a GOAWAY or a stall (so four attempts at most). */
const resendLimit = 3

/** What every `get` of one session shares: set once in `makeWithDispatcher`, read by each `Exchange`. */
interface Sender {
  readonly dispatcher: Dispatcher
  readonly stallTimeoutMs: number
  readonly maxResponseBytes: number
  /** The request headers for a host (one object per `accept-encoding`, shared by every request). */
  readonly headersFor: (hostname: string) => Readonly<Record<string, string>>
}

/**
 * Collects one attempt's response straight from undici's dispatch handler interface: no body
 * stream and no abort signal per request (through `request()` with an abort signal, 20 KB GETs
 * took 1.6x the time of plain `undici.request`; this way, about the same). It tells its
 * `Exchange` once, with the response or the error; `abort` cancels the request (sent or still
 * queued) and reports whether the exchange was still waiting for it.
 */
class ResponseCollector implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined
  private settled = false
  private status = 0
  private headers: HttpResponse["headers"] = {}
  private readonly chunks: Array<Buffer> = []
  private length = 0

  constructor(private readonly exchange: Exchange, private readonly maxBytes: number) {}

  private settle(outcome: HttpResponse | Error): void {
    if (this.settled) return
    this.settled = true
    this.exchange.attemptEnded(outcome)
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

/** The deadline timer's callback: a module function given the exchange, so no closure per request. */
const expire = (exchange: Exchange) => exchange.expire()

/**
 * One `get` from start to answer, inside one `Effect.callback`: its deadline (one timer for
 * headers, body, decoding and every resend), the attempt on the wire, the resends, the duration
 * metric, and the resumption of the fiber. What the Effect version of this would be (a timeout,
 * a retry, a tap) is done here with plain calls, because each Effect step costs a primitive and a
 * closure or two on every request, and a fiber for the timeout (see the module notes).
 */
class Exchange {
  private attempt: ResponseCollector | undefined
  private resendsLeft = resendLimit
  private readonly timer: ReturnType<typeof setTimeout>
  private readonly deadline: number
  private finished = false

  constructor(
    private readonly sender: Sender,
    private readonly url: string,
    private readonly target: URL,
    /** The caller's extra headers, merged under the session's. */
    private readonly extraHeaders: Readonly<Record<string, string>> | undefined,
    private readonly timeoutMs: number,
    /** The `timeout` the deadline came from, for the error's reason. */
    private readonly timeout: Duration.Duration,
    private readonly resume: (effect: Effect.Effect<HttpResponse, NetworkError>) => void,
    /** The fiber's context, for the duration metric (its registry and attributes). */
    private readonly context: Context.Context<never>,
    private readonly startedAt: number
  ) {
    this.deadline = Date.now() + timeoutMs
    this.timer = setTimeout(expire, timeoutMs, this)
  }

  /** Sends an attempt within what is left of the deadline. */
  send(): void {
    const remainingMs = this.deadline - Date.now()
    if (remainingMs <= 0) return this.fail(this.timedOut())
    const sessionHeaders = this.sender.headersFor(this.target.hostname)
    const attempt = this.attempt = new ResponseCollector(this, this.sender.maxResponseBytes)
    try {
      this.sender.dispatcher.dispatch({
        origin: this.target.origin,
        path: this.target.pathname + this.target.search,
        method: "GET",
        headers: this.extraHeaders === undefined ? sessionHeaders : { ...this.extraHeaders, ...sessionHeaders },
        headersTimeout: this.timeoutMs,
        // The idle limit: a body that stops making progress for stall_timeout is abandoned
        // (and sent again) well before the whole-response deadline. When the deadline comes
        // first, its own timer answers (the idle limit is pushed past it).
        bodyTimeout: this.sender.stallTimeoutMs < remainingMs ? this.sender.stallTimeoutMs : remainingMs + 1000
      }, attempt)
    } catch (error) {
      attempt.onResponseError(undefined, error as Error)
    }
  }

  /** The attempt on the wire answered or failed. */
  attemptEnded(outcome: HttpResponse | Error): void {
    if (outcome instanceof Error) {
      const error = new NetworkError({ url: this.url, ...classify(outcome), cause: outcome })
      if (this.resendsLeft > 0 && this.resendable(error)) {
        this.resendsLeft--
        return this.send()
      }
      return this.fail(error)
    }
    const encoding = outcome.headers["content-encoding"]
    const coding = typeof encoding === "string" ? encoding : encoding?.[0]
    if (
      coding === undefined || coding === "" || coding.toLowerCase() === "identity" ||
      !hasContent(outcome.status, outcome.body)
    ) return this.succeed(outcome)
    // Decoded on libuv's thread pool, the deadline's timer still set (it cannot interrupt zlib:
    // the attempt is settled, so it lets the decoding finish).
    const accepted = this.sender.headersFor(this.target.hostname)["accept-encoding"]!
    decodeBody(coding, accepted, outcome.body, this.sender.maxResponseBytes, (decoded) =>
      decoded instanceof Uint8Array
        ? this.succeed({ ...outcome, body: decoded })
        : this.fail(
          new NetworkError({ url: this.url, status: outcome.status, kind: decoded.kind, reason: decoded.reason })
        ))
  }

  /**
   * RFC 9113 8.7: a refused stream was not processed, so it is safe to send again at once (it
   * happens when a stream is sent just as another frees its slot on the server). undici fails the
   * request at the head of a connection that receives GOAWAY even when the server names it as
   * processed; a GET is idempotent, so it is sent again on a fresh connection. A stalled response
   * is sent again too, on a fresh socket for HTTP/1.1 (undici destroys the stalled one), within
   * what is left of the deadline.
   */
  private resendable(error: NetworkError): boolean {
    return error.kind === "refused-stream" || error.kind === "goaway" ||
      (error.kind === "stalled" && Date.now() < this.deadline)
  }

  /** The deadline passed: the attempt is abandoned, unless it has already answered (and is decoding). */
  expire(): void {
    if (this.attempt === undefined || this.attempt.abort()) this.fail(this.timedOut())
  }

  /** The fiber was interrupted: the attempt is cancelled, sent or queued, and nothing resumes. */
  readonly cancel = Effect.sync(() => {
    this.finished = true
    clearTimeout(this.timer)
    this.attempt?.abort()
  })

  private timedOut(): NetworkError {
    const reason = `no complete response in ${Duration.format(this.timeout)}`
    return new NetworkError({ url: this.url, kind: "timeout", reason })
  }

  private succeed(response: HttpResponse): void {
    if (this.finished) return
    this.finished = true
    clearTimeout(this.timer)
    // The metric's synchronous update with the fiber's context: no effect to run per request.
    requestDuration.updateUnsafe((performance.now() - this.startedAt) / 1000, this.context)
    this.resume(Effect.succeed(response))
  }

  private fail(error: NetworkError): void {
    if (this.finished) return
    this.finished = true
    clearTimeout(this.timer)
    this.resume(Effect.fail(error))
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
  const compression = settings.compression ?? "off"
  /** Request headers by `accept-encoding` (one object each, reused by every request). */
  const headersByEncoding = new Map<string, Readonly<Record<string, string>>>()
  /**
   * And by host, so `compression: auto` tests a host for loopback once, not on every request.
   * Hosts are few (the CDNs, a mirror); a caller that asks many is bounded by a reset.
   */
  const headersByHost = new Map<string, Readonly<Record<string, string>>>()
  const sender: Sender = {
    dispatcher,
    stallTimeoutMs: settings.stallTimeoutMs ?? 10_000,
    maxResponseBytes: settings.maxResponseBytes ?? 64 * 1024 * 1024,
    headersFor: (hostname) => {
      let headers = headersByHost.get(hostname)
      if (headers !== undefined) return headers
      const accept = acceptEncodingFor(compression, hostname)
      headers = headersByEncoding.get(accept)
      if (headers === undefined) {
        headersByEncoding.set(accept, headers = { "user-agent": settings.userAgent, "accept-encoding": accept })
      }
      if (headersByHost.size >= 256) headersByHost.clear()
      headersByHost.set(hostname, headers)
      return headers
    }
  }
  const defaultTimeoutMs = Math.max(1, Math.round(Duration.toMillis(settings.defaultTimeout)))

  /** One exchange in one `Effect.callback`: the whole request, resends and deadline included. */
  const exchange = (
    url: string,
    options: GetOptions | undefined,
    context: Context.Context<never>,
    startedAt: number
  ): Effect.Effect<HttpResponse, NetworkError> =>
    Effect.callback((resume) => {
      const target = URL.parse(url)
      if (target === null) {
        return resume(Effect.fail(new NetworkError({ url, kind: "invalid-url", reason: "the URL does not parse" })))
      }
      const timeout = options?.timeout === undefined ? undefined : Duration.fromInputUnsafe(options.timeout)
      const timeoutMs = timeout === undefined
        ? defaultTimeoutMs
        : Math.max(1, Math.round(Duration.toMillis(timeout)))
      const request = new Exchange(
        sender,
        url,
        target,
        options?.headers,
        timeoutMs,
        timeout ?? settings.defaultTimeout,
        resume,
        context,
        startedAt
      )
      request.send()
      return request.cancel
    })

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

  /** The exchange in an OpenTelemetry-style HTTP client span: only when a tracer is installed and enabled. */
  const traced = (url: string, self: Effect.Effect<HttpResponse, NetworkError>) => {
    const parsed = URL.parse(url)
    const protocol = parsed === null ? "unknown" : dispatcher.counters.get(parsed.origin)?.protocol ?? "unknown"
    return Effect.withSpan(
      self.pipe(
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
          ...(parsed === null ? {} : {
            "server.address": parsed.hostname,
            "server.port": Number(parsed.port || (parsed.protocol === "https:" ? 443 : 80))
          })
        }
      }
    )
  }

  // Two Effect steps a request: `withFiber` (the tracer check and the metric's context) and the
  // exchange's callback. The span, when there is one, wraps them.
  const get = (url: string, options?: GetOptions): Effect.Effect<HttpResponse, NetworkError> =>
    Effect.withFiber((fiber) => {
      const self = exchange(url, options, fiber.context, performance.now())
      return isTracing(fiber) ? traced(url, self) : self
    })

  return { get, stats, resetStats, dispatcher }
}

/**
 * The silent-connection watch's timers on the layer's `Clock` (so `TestClock` drives them in
 * tests), each a fiber of the layer's scope: closing the session stops every one. A fiber per
 * busy connection and quiet period, never per request.
 */
const clockTimers = Effect.gen(function*() {
  const clock = yield* Clock.Clock
  const runFork = yield* FiberSet.makeRuntime<never, void, never>()
  const timers: LivenessTimers = {
    now: () => clock.currentTimeMillisUnsafe(),
    after: (ms, task) => {
      const fiber = runFork(Effect.andThen(clock.sleep(Duration.millis(ms)), Effect.sync(task)))
      return () => fiber.interruptUnsafe()
    }
  }
  return timers
})

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
    const stallTimeoutMs = config.stallTimeout * 1000
    // Made before the dispatcher, so released after it: the dispatcher's close stops its watches,
    // then the scope interrupts any timer left (a recycled connection's, still draining).
    const timers = yield* clockTimers
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
          proxyFor: proxyResolver({ proxy: config.proxy, trustEnv: config.trustEnv }),
          liveness: { quietMs: stallTimeoutMs, pingAckMs: pingAckTimeoutMs(stallTimeoutMs), timers }
        })
      ),
      (dispatcher) => Effect.promise(() => dispatcher.close())
    )
    const session = makeWithDispatcher(dispatcher, {
      userAgent: config.userAgent,
      defaultTimeout: Duration.seconds(config.timeout),
      compression: config.compression,
      maxResponseBytes: config.maxResponseBytes,
      stallTimeoutMs
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
