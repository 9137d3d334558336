/**
 * How a bench stack handles spans: Effect's built-in tracer (nobody exports it: no per-file spans
 * open), the tracer disabled, or `@effect/opentelemetry`'s tracer on an OpenTelemetry SDK tracer
 * provider with a batching processor into a counting exporter (every span recorded, as a user
 * exporting traces would have it).
 */
import * as OtelTracer from "@effect/opentelemetry/OtelTracer"
import * as OtelResource from "@effect/opentelemetry/Resource"
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  type ReadableSpan,
  type SpanExporter
} from "@opentelemetry/sdk-trace-base"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

/** `default`: Effect's built-in tracer; `off`: the tracer disabled; `otel`: every span exported. */
export type Tracing = "default" | "off" | "otel"

/**
 * An exporter that counts the spans it is sent, by name, and keeps none: what exporting costs the
 * process short of the network (the SDK's in-memory exporter keeps every span, and empties itself
 * on shutdown, when the runtime is disposed).
 */
class CountingSpanExporter implements SpanExporter {
  readonly counts = new Map<string, number>()
  export(spans: Array<ReadableSpan>, done: (result: { code: number }) => void): void {
    for (const span of spans) this.counts.set(span.name, (this.counts.get(span.name) ?? 0) + 1)
    done({ code: 0 }) // ExportResultCode.SUCCESS
  }
  shutdown(): Promise<void> {
    return Promise.resolve()
  }
}

/** Spans the OpenTelemetry contender exported (checked: the contender must really trace). */
export const openTelemetrySpans = new CountingSpanExporter()

/**
 * What `NodeSdk.layer({ resource, spanProcessor })` of `@effect/opentelemetry` builds for tracing:
 * the Effect tracer backed by an OpenTelemetry tracer provider, flushed and shut down with the
 * layer. NodeSdk makes a `NodeTracerProvider` (`@opentelemetry/sdk-trace-node`), which is the
 * SDK's `BasicTracerProvider` plus a global registration the layer never makes; the bench builds
 * the `BasicTracerProvider` from `@opentelemetry/sdk-trace-base` and gives it to
 * `OtelTracer.layer`, as it did before sdk-trace-node was a dev dependency, so runs compare.
 */
export const openTelemetryTracing = (): Layer.Layer<OtelTracer.OtelTracer> =>
  OtelTracer.layer.pipe(
    Layer.provide(Layer.effect(
      OtelTracer.OtelTracerProvider,
      Effect.gen(function*() {
        const resource = yield* OtelResource.Resource
        return yield* Effect.acquireRelease(
          Effect.sync(() =>
            new BasicTracerProvider({
              resource,
              spanProcessors: [new BatchSpanProcessor(openTelemetrySpans, { maxQueueSize: 1 << 16 })]
            })
          ),
          (provider) => Effect.promise(() => provider.forceFlush().finally(() => provider.shutdown()))
        )
      })
    )),
    Layer.provide(OtelResource.layer({ serviceName: "tif1-bench" }))
  )
