/**
 * tif1-effect: the public surface.
 *
 * Services are exported as modules, the way Effect's own packages do it: `Fetcher.Fetcher` is the
 * tag, `Fetcher.layer` its layer, `Fetcher.FetchOptions` its options. Schemas, errors and the
 * Promise client are exported by name.
 *
 * @since 0.1.0
 */
export * from "./schema/Config.js"
export * from "./schema/DataRequest.js"
export * from "./schema/Errors.js"
export * as Payloads from "./schema/payloads/index.js"
export * as Stats from "./schema/stats/index.js"

export * as Archive from "./services/Archive.js"
export * as Cache from "./services/Cache.js"
export * as Calendar from "./services/Calendar.js"
export * as CdnManager from "./services/CdnManager.js"
export * as CircuitBreaker from "./services/CircuitBreaker.js"
export * as DnsResolver from "./services/DnsResolver.js"
export * as Fetcher from "./services/Fetcher.js"
export * as HttpSession from "./services/HttpSession.js"
export * as SessionLoader from "./services/SessionLoader.js"

export * as Tif1 from "./layers/Tif1.js"
export * as Tif1Test from "./layers/Tif1Test.js"

export * as MirrorServer from "./mirror/MirrorServer.js"
export * as MirrorPull from "./mirror/pull.js"

export * from "./client.js"
