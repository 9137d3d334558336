/**
 * The two clients the benches compare on a mirror: a tif1 stack with the mirror as its only CDN,
 * and raw undici as a careful user would drive it (a dispatcher, a pool of concurrent requests,
 * every body read and parsed). Building either is untimed; what a contender times is the work on it.
 */
import * as Effect from "effect/Effect"
import { identity } from "effect/Function"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Option from "effect/Option"
import { Agent, type Dispatcher, Pool, request } from "undici"
import { layerConfig, type Tif1Services } from "../src/layers/Tif1.js"
import { templateFor } from "../src/mirror/MirrorServer.js"
import type { Tif1ConfigOverrides } from "../src/schema/Config.js"
import type { Tif1ConfigError } from "../src/schema/Errors.js"
import { Fetcher } from "../src/services/Fetcher.js"
import type { HttpSessionOptions } from "../src/services/HttpSession.js"
import { parseJsonText } from "../src/services/internal/json.js"
import { SessionLoader } from "../src/services/SessionLoader.js"
import type { Prepared } from "./harness.js"
import { benchSession } from "./synthetic.js"
import type { Tracing } from "./tracing.js"

// ---------------------------------------------------------------------------------------------
// tif1

/** A tif1 stack held in a runtime, as the benches run their programs on it. */
export type Stack = ManagedRuntime.ManagedRuntime<Tif1Services, unknown>

/**
 * Every tif1 service on a mirror at `origin` (its only CDN unless `overrides` names others), as
 * each bench builds them: no periodic connection stats in the log, not CI, online; `overrides` on
 * top, and `http` for the HTTP session (the mirror's CA, HTTP/2 windows).
 */
export const tif1Layer = (
  origin: string,
  overrides: Tif1ConfigOverrides,
  http: HttpSessionOptions = {}
): Layer.Layer<Tif1Services, Tif1ConfigError> =>
  layerConfig({
    cdns: [templateFor(origin)],
    connectionStatsLogInterval: 0,
    ciMode: false,
    offlineMode: false,
    ...overrides
  }, { http })

/** `tif1Layer` in a runtime of its own (built on first use, released by `dispose`). */
export const tif1Runtime = (origin: string, overrides: Tif1ConfigOverrides, http: HttpSessionOptions = {}): Stack =>
  ManagedRuntime.make(tif1Layer(origin, overrides, http))

/** The cache on in `cacheDir`, its memory tier large enough for every one of `files` files. */
export const cacheSettings = (cacheDir: string, files: number): Tif1ConfigOverrides => ({
  cacheDir,
  enableCache: true,
  memoryTelemetryCacheMaxItems: files * 2
})

/** `Fetcher.many` of the bench session's `paths` at `concurrency`; resolves with the files delivered. */
export const fetchMany = (
  runtime: Stack,
  paths: ReadonlyArray<string>,
  concurrency: number,
  tracing: Tracing = "default"
): Promise<number> =>
  runtime.runPromise(
    Effect.flatMap(
      Fetcher,
      (fetcher) => fetcher.many(paths.map((path) => ({ ...benchSession, path })), { concurrency })
    ).pipe(
      Effect.map((results) => results.filter(Option.isSome).length),
      // "off": the fiber's tracer disabled, so the per-file spans are never opened.
      tracing === "off" ? Effect.withTracerEnabled(false) : identity
    )
  )

/** `SessionLoader.load` of the bench session with telemetry; resolves with the files delivered. */
export const loadSession = (runtime: Stack): Promise<number> =>
  runtime.runPromise(
    Effect.flatMap(SessionLoader, (loader) => loader.load(benchSession, { telemetry: true })).pipe(
      Effect.map((loaded) => loaded.summary.delivered)
    )
  )

/** Build the stack (untimed); the timed run is `run` on it, and cleanup disposes it. */
export const onStack = async (runtime: Stack, run: (runtime: Stack) => Promise<number>): Promise<Prepared> => {
  await runtime.runPromise(Effect.void)
  return { run: () => run(runtime), cleanup: () => runtime.dispose() }
}

// ---------------------------------------------------------------------------------------------
// raw undici

/** Raw undici over HTTP/1.1: one socket per concurrent request (undici 8 offers HTTP/2 over TLS by default). */
export const rawH1Agent = (concurrency: number): Dispatcher =>
  new Agent({ connections: concurrency, pipelining: 1, allowH2: false })

/** Raw undici over HTTP/2: one connection to `origin`, as many streams as the concurrency, trusting `ca`. */
export const rawH2Pool = (origin: string, concurrency: number, ca: string): Pool =>
  new Pool(origin, {
    allowH2: true,
    connections: 1,
    pipelining: concurrency,
    h2Options: { maxConcurrentStreams: concurrency },
    connect: { ca }
  })

/** The raw counterpart of `onStack`: a dispatcher made untimed; the timed run uses it, cleanup closes it. */
export const onAgent = async (agent: Dispatcher, run: (agent: Dispatcher) => Promise<number>): Promise<Prepared> => ({
  run: () => run(agent),
  cleanup: () => agent.close()
})

/** Run `task` over `items` with at most `concurrency` in flight; results in input order. */
export const pool = async <A, B>(
  items: ReadonlyArray<A>,
  concurrency: number,
  task: (item: A) => Promise<B>
): Promise<Array<B>> => {
  const results: Array<B> = new Array(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const index = next++
      results[index] = await task(items[index]!)
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker))
  return results
}

/** GET and parse like a careful user of raw undici would (Python's bare NaN accepted); undefined for a 404. */
export const rawJson = async (
  dispatcher: Dispatcher,
  url: string,
  headers?: Record<string, string>
): Promise<unknown | undefined> => {
  const response = await request(url, headers === undefined ? { dispatcher } : { dispatcher, headers })
  const text = await response.body.text()
  if (response.statusCode === 404) return undefined
  if (response.statusCode !== 200) throw new Error(`${url}: HTTP ${response.statusCode}`)
  const parsed = parseJsonText(text)
  if (parsed.error !== undefined) throw new Error(`${url}: ${parsed.error}`)
  return parsed.value
}
