/**
 * Spans and metrics of the stack, as `effect/Tracer` and `effect/Metric` see them, so that a
 * user who plugs in `@effect/opentelemetry` (or any Effect tracer or metric reader) gets them
 * with no code of ours. Hot-path spans are opened only when a tracer is installed and enabled
 * (`isTracing`; Effect's own `HttpClient` checks `References.TracerEnabled` and `HttpRouter`
 * the native tracer the same way), and hot-path metrics are updated synchronously
 * (`updateUnsafe` with the fiber's context), so that a memory-cache hit stays a few microseconds.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as References from "effect/References"
import * as Tracer from "effect/Tracer"

/**
 * Whether a fiber's spans go anywhere: its tracer is enabled and is not Effect's built-in one
 * (a user installed a tracer, `@effect/opentelemetry` or another). Per-file spans are opened only
 * then, so that with no tracer installed they cost two reference reads.
 */
export const isTracing = (fiber: Fiber.Fiber<unknown, unknown>): boolean =>
  fiber.getRef(Tracer.Tracer) !== Tracer.nativeTracer && fiber.getRef(References.TracerEnabled)

/** Run `self` in a span named `name` when a tracer is installed; `attributes` is called only then. */
export const traced = <A, E, R>(
  name: string,
  attributes: () => Record<string, unknown>,
  self: Effect.Effect<A, E, R>,
  kind: Tracer.SpanKind = "internal"
): Effect.Effect<A, E, R> =>
  Effect.withFiber((fiber) => isTracing(fiber) ? Effect.withSpan(self, name, { attributes: attributes(), kind }) : self)

/**
 * The context of updates made outside any fiber (a socket event): Effect's default metric
 * registry and no contextual attributes, which is what a fiber sees unless the user provides
 * `Metric.MetricRegistry` or `Metric.CurrentMetricAttributes`.
 */
export const detachedContext: Context.Context<never> = Context.empty()

/**
 * A counter tagged by two names, one metric per pair of values, made once (tagging allocates a
 * metric, and its attribute key is computed on first use: too much for every request).
 */
export const taggedBy = (counter: Metric.Counter<number>, first: string, second: string) => {
  const made = new Map<string, Metric.Counter<number>>()
  return (firstValue: string, secondValue: string): Metric.Counter<number> => {
    const key = `${firstValue}\u0000${secondValue}`
    let tagged = made.get(key)
    if (tagged === undefined) {
      made.set(key, tagged = Metric.withAttributes(counter, { [first]: firstValue, [second]: secondValue }))
    }
    return tagged
  }
}

/** HTTP requests sent to CDNs, by `cdn` and `outcome` (a status class such as `2xx`, or a `NetworkError` kind). */
export const requests = Metric.counter("tif1_requests_total", {
  description: "HTTP requests sent to CDNs",
  incremental: true
})

/** Retry rounds run (rounds after the first of a fetch). */
export const retries = Metric.counter("tif1_retries_total", { description: "retry rounds", incremental: true })

/** Rounds run (every round: the first and the retries). */
export const rounds = Metric.counter("tif1_rounds_total", { description: "rounds over the CDNs", incremental: true })

/** Cache lookups, by `tier` (memory, sqlite, negative, none) and `result` (hit, miss). */
export const cacheLookups = Metric.counter("tif1_cache_lookups_total", {
  description: "cache lookups by tier and result",
  incremental: true
})

/** Body bytes on the wire. */
export const wireBytes = Metric.counter("tif1_wire_bytes_total", {
  description: "body bytes received on the wire",
  incremental: true
})

/** Body bytes after decoding. */
export const decodedBytes = Metric.counter("tif1_decoded_bytes_total", {
  description: "body bytes received, decoded",
  incremental: true
})

/** Seconds from sending a request to its complete, decoded body. */
export const requestDuration = Metric.histogram("tif1_request_duration_seconds", {
  description: "request duration, seconds",
  boundaries: Metric.exponentialBoundaries({ start: 0.005, factor: 2, count: 14 })
})

/** Decoded size of delivered files, bytes. */
export const fileSize = Metric.histogram("tif1_file_size_bytes", {
  description: "decoded size of delivered files",
  boundaries: Metric.exponentialBoundaries({ start: 256, factor: 2, count: 16 })
})

/** 1 while the circuit breaker is open or half-open, else 0. */
export const circuitOpen = Metric.gauge("tif1_circuit_open", {
  description: "1 while the circuit breaker is not closed"
})

/** 1 while a CDN is skipped (cooling down), by `cdn`. */
export const cdnSkipped = Metric.gauge("tif1_cdn_skipped", { description: "1 while a CDN is skipped" })

/** Connections open now (HTTP/1.1 sockets and HTTP/2 connections), counted from socket events. */
export const openConnections = Metric.gauge("tif1_open_connections", { description: "connections open now" })
