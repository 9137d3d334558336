/**
 * Tracing and metrics with OpenTelemetry: every span of a session load printed to the console,
 * then the request and byte counters. In your project import from "tif1-effect", and install
 * `@effect/opentelemetry@^0.64` with the OpenTelemetry SDK packages it names.
 *
 *   npx tsx examples/tracing.ts
 */
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import { ConsoleSpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import { SessionLoader, Tif1 } from "../src/index.js"

const tracing = NodeSdk.layer(() => ({
  resource: { serviceName: "my-f1-app" },
  spanProcessor: new SimpleSpanProcessor(new ConsoleSpanExporter())
}))

const program = Effect.gen(function*() {
  const loader = yield* SessionLoader.SessionLoader
  const race = yield* loader.load({ year: 2025, gp: "Australian Grand Prix", session: "Race" })
  console.log(`loaded ${race.summary.delivered} files`)
  // The same counters an OpenTelemetry metric reader exports (Metrics.layer of @effect/opentelemetry).
  for (const name of ["tif1_requests_total", "tif1_wire_bytes_total", "tif1_decoded_bytes_total"]) {
    const total = (yield* Metric.snapshot)
      .filter((pair) => pair.metricKey.name === name)
      .reduce((sum, pair) => sum + Number((pair.metricState as { count?: number }).count ?? 0), 0)
    console.log(`${name} ${total}`)
  }
})

await Effect.runPromise(program.pipe(Effect.provide(Layer.merge(Tif1.layer, tracing))))
