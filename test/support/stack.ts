/** The full tif1 stack against local mirrors, for end-to-end tests. */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { layerFrom } from "../../src/layers/Tif1.js"
import { Tif1Config, type Tif1ConfigOverrides } from "../../src/schema/Config.js"
import * as Cache from "../../src/services/Cache.js"
import * as DnsResolver from "../../src/services/DnsResolver.js"
import { testCertificate } from "./servers.js"

/** `../shared/fixtures/cdn`: real files in CDN layout. */
export const fixturesRoot = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "../../../shared/fixtures/cdn")

/** Every service, hermetic config (defaults + overrides; no env, no files), fast retries. */
export const stack = (
  overrides: Tif1ConfigOverrides,
  cache: Layer.Layer<Cache.Cache, any, Tif1Config> = Cache.layerNone
) =>
  layerFrom(
    Tif1Config.layerDefaults({
      connectionStatsLogInterval: 0,
      retryBackoffFactor: 0,
      retryJitter: false,
      maxRetries: 2,
      ...overrides
    }),
    {
      http: { ca: testCertificate().cert },
      dns: DnsResolver.layerChain(Effect.succeed([DnsResolver.systemResolver])),
      cache
    }
  ).pipe(Layer.orDie)
