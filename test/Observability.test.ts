/**
 * What an Effect user sees through `@effect/opentelemetry` with the OpenTelemetry SDK's in-memory
 * span exporter and a metric reader: the span tree of a session load against a local mirror
 * (load, phase, fetch, round, attempt, HTTP get: parent links and attributes), and metric
 * values that agree with the stats.
 */
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import { describe, expect, it } from "@effect/vitest"
import { AggregationTemporality, MetricReader } from "@opentelemetry/sdk-metrics"
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as MirrorServer from "../src/mirror/MirrorServer.js"
import * as Cache from "../src/services/Cache.js"
import { Fetcher } from "../src/services/Fetcher.js"
import { HttpSession } from "../src/services/HttpSession.js"
import { SessionLoader } from "../src/services/SessionLoader.js"
import { testCertificate } from "./support/servers.js"
import { fixturesRoot, stack } from "./support/stack.js"

/** A reader the test pulls from (`collect()`), cumulative, as a Prometheus scrape would. */
class TestReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE })
  }
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve()
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve()
  }
}

/** The sum of a counter's data points, optionally only those with `attributes`. */
const sumOf = async (reader: TestReader, name: string, attributes: Record<string, string> = {}) => {
  const { resourceMetrics } = await reader.collect()
  let total = 0
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) {
      if (metric.descriptor.name !== name) continue
      for (const point of metric.dataPoints as Array<{ value: number; attributes: Record<string, unknown> }>) {
        if (Object.entries(attributes).every(([key, value]) => point.attributes[key] === value)) total += point.value
      }
    }
  }
  return total
}

describe("observability through @effect/opentelemetry", () => {
  it.live("a session load is one span tree, and the metrics agree with the stats", () =>
    Effect.gen(function*() {
      const exporter = new InMemorySpanExporter()
      const reader = new TestReader()
      const otel = NodeSdk.layer(() => ({
        resource: { serviceName: "tif1-test" },
        spanProcessor: new SimpleSpanProcessor(exporter),
        metricReader: reader
      }))
      const mirror = yield* MirrorServer.make({ root: fixturesRoot, protocol: "h2", certificate: testCertificate() })
      // Read inside the layer's scope: closing it shuts the exporter down, which empties it.
      const { metrics, spans, stats } = yield* Effect.gen(function*() {
        yield* Effect.flatMap(SessionLoader, (loader) =>
          loader.load({ year: 2025, gp: "Australian Grand Prix", session: "Race" }))
        const metrics = {
          requests: yield* Effect.promise(() =>
            sumOf(reader, "tif1_requests_total")
          ),
          notFound: yield* Effect.promise(() => sumOf(reader, "tif1_requests_total", { outcome: "4xx" })),
          decoded: yield* Effect.promise(() => sumOf(reader, "tif1_decoded_bytes_total")),
          wire: yield* Effect.promise(() => sumOf(reader, "tif1_wire_bytes_total")),
          memoryMisses: yield* Effect.promise(() => sumOf(reader, "tif1_cache_lookups_total", { result: "miss" })),
          open: yield* Effect.promise(() => sumOf(reader, "tif1_open_connections")),
          connections: (yield* Effect.flatMap(HttpSession, (session) => session.stats)).connectionsCreated
        }
        return {
          stats: yield* Effect.flatMap(Fetcher, (fetcher) => fetcher.stats),
          spans: exporter.getFinishedSpans(),
          metrics
        }
      }).pipe(
        Effect.provide(
          Layer.merge(
            stack({ cdns: [MirrorServer.templateFor(mirror.origin)], maxRetries: 0 }, Cache.layerMemory),
            otel
          )
        )
      )

      const byId = new Map(spans.map((span) => [span.spanContext().spanId, span]))
      const parentOf = (span: (typeof spans)[number]) => byId.get(span.parentSpanContext?.spanId ?? "")
      const named = (name: string) => spans.filter((span) => span.name === name)
      const [load] = named("SessionLoader.load")
      expect(load).toBeDefined()
      expect(load!.attributes).toMatchObject({
        "tif1.year": 2025,
        "tif1.gp": "Australian Grand Prix",
        "tif1.session": "Race"
      })
      // load > laps > Fetcher.many > Fetcher.json > Fetcher.round > Fetcher.attempt > HttpSession.get
      const get = named("HttpSession.get").find((span) =>
        String(span.attributes["url.full"]).endsWith("/VER/laptimes.json")
      )!
      expect(get.attributes).toMatchObject({
        "http.request.method": "GET",
        "http.response.status_code": 200,
        "server.address": "127.0.0.1",
        "network.protocol.version": "2"
      })
      expect(get.attributes["http.response.body.size"]).toBeGreaterThan(0)
      const chain: Array<string> = []
      for (let span = parentOf(get); span !== undefined; span = parentOf(span)) chain.push(span.name)
      expect(chain).toEqual([
        "Fetcher.attempt",
        "Fetcher.round",
        "Fetcher.json",
        "Fetcher.many",
        "SessionLoader.laps",
        "SessionLoader.load"
      ])
      expect(named("HttpSession.get")).toHaveLength(stats.requests)
      expect(named("Cache.get").length).toBeGreaterThan(0)

      expect(metrics.requests).toBe(stats.requests)
      expect(metrics.notFound).toBe(3) // weather, rcm, session_laptimes: not published for this session
      expect(metrics.decoded).toBe(stats.bytes)
      expect(metrics.wire).toBe(stats.wireBytes)
      expect(metrics.memoryMisses).toBe(stats.requests) // a cold load: every lookup missed, every miss was fetched
      // Nothing closed them yet: every connection the session created is open.
      expect(metrics.open).toBe(metrics.connections)
      expect(metrics.connections).toBeGreaterThan(0)
    }))
})
