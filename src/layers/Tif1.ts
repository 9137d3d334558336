/**
 * `Tif1`: the composed live layer, every service from one configuration. Build it once per
 * program (or hold it in a `ManagedRuntime` for a long-lived app): it owns one HTTP session and
 * one cache database.
 *
 * @since 0.1.0
 */
import * as Layer from "effect/Layer"
import { Tif1Config, type Tif1ConfigOverrides } from "../schema/Config.js"
import type { Tif1ConfigError } from "../schema/Errors.js"
import * as Archive from "../services/Archive.js"
import * as Cache from "../services/Cache.js"
import * as Calendar from "../services/Calendar.js"
import * as CdnManager from "../services/CdnManager.js"
import * as CircuitBreaker from "../services/CircuitBreaker.js"
import * as DnsResolver from "../services/DnsResolver.js"
import * as Fetcher from "../services/Fetcher.js"
import * as HttpSession from "../services/HttpSession.js"
import * as SessionLoader from "../services/SessionLoader.js"

/**
 * Every service the layer provides.
 *
 * @since 0.1.0
 */
export type Tif1Services =
  | Tif1Config
  | DnsResolver.DnsResolver
  | HttpSession.HttpSession
  | CdnManager.CdnManager
  | CircuitBreaker.CircuitBreaker
  | Cache.Cache
  | Calendar.Calendar
  | Fetcher.Fetcher
  | SessionLoader.SessionLoader
  | Archive.Archive

/**
 * Parts that can be swapped when composing: HTTP options (a trusted CA for a local mirror),
 * the DNS resolver, the HTTP session itself (`Tif1Test` does), the cache and the calendar.
 *
 * @since 0.1.0
 */
export interface Tif1LayerParts {
  readonly http?: HttpSession.HttpSessionOptions
  readonly dns?: Layer.Layer<DnsResolver.DnsResolver, never, Tif1Config>
  readonly session?: Layer.Layer<HttpSession.HttpSession, never, Tif1Config | DnsResolver.DnsResolver>
  readonly cache?: Layer.Layer<Cache.Cache, Tif1ConfigError, Tif1Config>
  /** The calendar (`Calendar.layerEmpty` lets every name pass through). */
  readonly calendar?: Layer.Layer<Calendar.Calendar, never, Tif1Config>
}

/**
 * Compose every service on a configuration layer.
 *
 * @since 0.1.0
 */
export const layerFrom = <E>(
  config: Layer.Layer<Tif1Config, E>,
  parts: Tif1LayerParts = {}
): Layer.Layer<Tif1Services, E | Tif1ConfigError> => {
  const dns = parts.dns ?? DnsResolver.layer
  const session = parts.session ?? HttpSession.layerWith(parts.http ?? {})
  const base = Layer.mergeAll(
    session.pipe(Layer.provideMerge(dns)),
    CdnManager.layer,
    CircuitBreaker.layer,
    parts.cache ?? Cache.layer,
    parts.calendar ?? Calendar.layer
  )
  const fetcher = Fetcher.layer.pipe(Layer.provideMerge(base))
  return Layer.mergeAll(SessionLoader.layer, Archive.layer).pipe(
    Layer.provideMerge(fetcher),
    Layer.provideMerge(config)
  )
}

/**
 * Every service, configured from `TIF1_*` variables and the `.tif1rc` search path.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<Tif1Services, Tif1ConfigError> = layerFrom(Tif1Config.layer)

/**
 * Every service, with overrides on top of the environment and files.
 *
 * @since 0.1.0
 */
export const layerConfig = (
  overrides: Tif1ConfigOverrides,
  parts: Tif1LayerParts = {}
): Layer.Layer<Tif1Services, Tif1ConfigError> => layerFrom(Tif1Config.layerConfig(overrides), parts)
