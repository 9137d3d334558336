/**
 * Tracing and metrics with OpenTelemetry: every span of a session load printed to the console,
 * then the request and byte counters. Install `@effect/opentelemetry@^4` (an optional peer of
 * tif1-effect) with the OpenTelemetry SDK packages it names.
 *
 *   npx tsx examples/tracing.ts
 */
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import { ConsoleSpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import { SessionLoader, Tif1 } from "tif1-effect"

const tracing = NodeSdk.layer(() => ({
  resource: { serviceName: "my-f1-app" },
  spanProcessor: new SimpleSpanProcessor(new ConsoleSpanExporter())
}))

const program = Effect.gen(function*() {
  const loader = yield* SessionLoader.SessionLoader
  const race = yield* loader.load({ year: 2025, gp: "Australian Grand Prix", session: "Race" })
  console.log(`loaded ${race.summary.delivered} files`)
  // The same counters an OpenTelemetry metric reader exports (Metrics.layer of @effect/opentelemetry).
  const metrics = yield* Metric.snapshot
  for (const name of ["tif1_requests_total", "tif1_wire_bytes_total", "tif1_decoded_bytes_total"]) {
    // One counter per attribute set (CDN, status, ...): their sum is the total.
    const total = metrics.reduce(
      (sum, metric) => metric.id === name && metric.type === "Counter" ? sum + Number(metric.state.count) : sum,
      0
    )
    console.log(`${name} ${total}`)
  }
})

await Effect.runPromise(program.pipe(Effect.provide(Layer.merge(Tif1.layer, tracing))))
