import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { layerConfig } from "../src/layers/Tif1.js"
import { Cache } from "../src/services/Cache.js"
import { Fetcher } from "../src/services/Fetcher.js"
const rt = ManagedRuntime.make(
  layerConfig({
    cdns: ["http://127.0.0.1:9/{year}/{gp}/{session}/{path}"],
    enableCache: true,
    cacheDir: "/tmp/hotcache",
    ciMode: false,
    offlineMode: false,
    connectionStatsLogInterval: 0
  })
)
const req = { year: 2025, gp: "Bahrain Grand Prix", session: "Race", path: "VER/1_tel.json" }
await rt.runPromise(
  Effect.flatMap(Cache, (c) => c.set("2025/Bahrain Grand Prix/Race/VER/1_tel.json", { tel: { a: [1] } }))
)
const f = await rt.runPromise(Fetcher)
for (let round = 0; round < 5; round++) {
  const n = 20000
  const t = performance.now()
  for (let i = 0; i < n; i++) await rt.runPromise(f.json(req))
  const per = (performance.now() - t) * 1000 / n
  const t2 = performance.now()
  const c = await rt.runPromise(Cache)
  for (let i = 0; i < n; i++) await rt.runPromise(c.get("2025/Bahrain Grand Prix/Race/VER/1_tel.json"))
  const per2 = (performance.now() - t2) * 1000 / n
  const t3 = performance.now()
  for (let i = 0; i < n; i++) await rt.runPromise(Effect.void)
  const per3 = (performance.now() - t3) * 1000 / n
  console.log(
    `fetcher.json ${per.toFixed(1)} µs, cache.get ${per2.toFixed(1)} µs, runPromise(void) ${per3.toFixed(1)} µs`
  )
}
await rt.dispose()
