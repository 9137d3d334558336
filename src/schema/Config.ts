/**
 * `Tif1Config`: every setting of tif1-effect, compatible with tif1's `.tif1rc`.
 *
 * The same snake_case keys and units in the file and in `TIF1_*` environment variables; the same
 * names camelCased in TypeScript overrides. Precedence: overrides > environment > the first config
 * file found > defaults. Files tried in order: `$TIF1_CONFIG_FILE`; `./.tif1rc` only when
 * `TIF1_TRUST_CWD_CONFIG` is true; `~/.tif1rc`. A bad value fails with `Tif1ConfigError` naming
 * the key, its source and the value; nothing silently falls back to a default.
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { Tif1ConfigError } from "./Errors.js"
import { redactSecrets, redactUrl, splitCredentials, withBasicAuthorization } from "./UrlCredentials.js"

/**
 * The package version, used in the default user agent.
 *
 * @since 0.1.0
 */
export const version = "0.2.0"

/**
 * The resolved settings. Durations are in seconds, as in `.tif1rc`.
 *
 * @since 0.1.0
 */
export interface Tif1ConfigValues {
  /** Seconds for one request, headers and body together. */
  readonly timeout: number
  /**
   * Seconds a response may go without a body byte before it is abandoned and sent again (on a
   * new connection for HTTP/1.1), within `timeout`: a stalled transfer costs this, not `timeout`.
   * An HTTP/2 connection whose requests receive nothing for this long is sent a PING; unanswered
   * for `stall_timeout` more (at most 5 s), the connection is closed and its requests are sent
   * again on a new one.
   */
  readonly stallTimeout: number
  /** Retry rounds after the first; 0 = zero-retry mode (each CDN once, no delay). */
  readonly maxRetries: number
  /** Delay before round n is `retryBackoffFactor ** n` seconds (plus jitter, capped). */
  readonly retryBackoffFactor: number
  /** Add uniform random jitter to each retry delay. */
  readonly retryJitter: boolean
  /** Upper bound of the jitter, seconds. */
  readonly retryJitterMax: number
  /** Cap of any retry delay, Retry-After included, seconds. */
  readonly maxRetryDelay: number
  /** Consecutive failed rounds that open the circuit. */
  readonly circuitBreakerThreshold: number
  /** Seconds the circuit stays open before one probe is let through. */
  readonly circuitBreakerTimeout: number
  /** Default concurrency of batch fetches. */
  readonly maxConcurrentRequests: number
  /** Concurrency of telemetry batches in SessionLoader. */
  readonly telemetryPrefetchMaxConcurrentRequests: number
  /** HTTP/1.1 sockets per origin; `undefined` = the largest concurrency setting. */
  readonly poolConnections: number | undefined
  /** Hard cap of HTTP/1.1 sockets per origin; `undefined` = no cap beyond `poolConnections`. */
  readonly poolMaxsize: number | undefined
  /** Idle seconds a connection is kept. */
  readonly keepaliveTimeout: number
  /** Requests (HTTP/1.1) or streams (HTTP/2) per connection before it is recycled. */
  readonly keepaliveMaxRequests: number
  /** Negotiate HTTP/2 with ALPN over TLS, falling back to HTTP/1.1. */
  readonly httpMultiplexed: boolean
  /**
   * Ask for compressed bodies (`br, gzip`): `auto` asks every origin but loopback ones (there
   * bandwidth is free and decoding costs CPU), `on` asks every origin, `off` asks none.
   */
  readonly compression: "auto" | "on" | "off"
  /** Decoded size limit of one file, bytes; larger is `InvalidDataError` (a compression bomb never fills memory). */
  readonly maxResponseBytes: number
  /** Accepted for `.tif1rc` compatibility; Node 20 has no QUIC client, so HTTP/3 is never used. */
  readonly httpDisableHttp3: boolean
  /** DNS chain: `standard`, `doh://cloudflare`, `doh://google`, or `https://host[:port]/path`. */
  readonly httpResolvers: ReadonlyArray<string>
  /** CDN sources in priority order: jsDelivr-shaped base URLs or `{year}` `{gp}` `{session}` `{path}` templates. */
  readonly cdns: ReadonlyArray<string>
  /**
   * CDN sources of the Stats archive (`TracingInsights-Archive/Stats`: results, qualifying,
   * sprints, pit stops, lap positions and standings since 1950) in priority order: URL templates
   * with `{path}`, the file's path in the archive (`2025/events.json`,
   * `2025/australian-grand-prix/results.json`). Default: jsDelivr, then GitHub raw. Checked as
   * `cdns` is (`user:password@` sent as Basic auth, `cdn_headers` by URL or name); a source's
   * health and circuit breaker are its own, apart from the timing data's.
   */
  readonly statsCdns: ReadonlyArray<string>
  /**
   * Extra request headers per CDN, keyed by its configured base URL or its name (host[:port]):
   * `{ "mirror.example:8443": { "Authorization": "Bearer ..." } }`. Never logged or shown.
   * `user:password@` in a CDN URL is sent as Basic auth the same way, read as the WHATWG URL
   * parser reads it: the last `@` before the host ends it, the first `:` splits user from password.
   */
  readonly cdnHeaders: Readonly<Record<string, Readonly<Record<string, string>>>>
  /** Seconds before a skipped CDN is probed again (doubling while probes fail, at most 600). */
  readonly cdnRecoveryTimeout: number
  /**
   * Read HTTP_PROXY, HTTPS_PROXY and NO_PROXY (off by default: a CDN client ignores the
   * environment's proxy unless told).
   */
  readonly trustEnv: boolean
  /**
   * One proxy URL (`http://[user:password@]host:port`) for every CDN; wins over `trust_env`.
   * Through a proxy, the proxy resolves names.
   */
  readonly proxy: string | undefined
  /** Ask jsDelivr for `.min.json`. */
  readonly cdnUseMinification: boolean
  /** User-Agent header of every request: what an HTTP header value may hold (no control characters). */
  readonly userAgent: string
  /** Folder of the SQLite cache file. */
  readonly cacheDir: string
  /** Use the cache at all. */
  readonly enableCache: boolean
  /** Entries of the memory tier for non-telemetry files. */
  readonly memoryCacheMaxItems: number
  /** Entries of the memory tier for telemetry files. */
  readonly memoryTelemetryCacheMaxItems: number
  /** Days a file missing on every CDN is remembered as missing (sessions older than the live window). */
  readonly missingPayloadsTtlDays: number
  /** A session that started less than this many days ago (bundled schedule) is live. */
  readonly liveWindowDays: number
  /** Seconds a not-found answer for a live session is remembered. */
  readonly liveMissingTtl: number
  /** Seconds after which a cached file of a live session is revalidated with the CDN. */
  readonly liveRevalidateAfter: number
  /** A folder of `{year}.json` schedules used instead of the bundled ones; `undefined` = bundled. */
  readonly scheduleDir: string | undefined
  /**
   * A Redis server shared by a fleet of processes (`redis://[user:password@]host:port[/db]`,
   * `rediss://` for TLS): a cache tier below SQLite, and fleet-wide single flight. `undefined` = none.
   */
  readonly redisUrl: string | undefined
  /** Prefix of every Redis key tif1 writes (several datasets or versions can share one server). */
  readonly redisKeyPrefix: string
  /** Stored (compressed) size above which a file is kept in the local tiers only, bytes. */
  readonly redisMaxValueBytes: number
  /** Seconds a Redis command may take; slower is a fault (the tier is skipped for `redis_retry_after`). */
  readonly redisTimeout: number
  /** Seconds a Redis fault skips the tier before it is tried again. */
  readonly redisRetryAfter: number
  /** Seconds a fleet lock (one process fetching a file the others wait for) lives unless released. */
  readonly redisLockTtl: number
  /** No cache reads or writes. */
  readonly ciMode: boolean
  /** Cache only; a miss is a `NetworkError` with reason `offline`. */
  readonly offlineMode: boolean
  /** Validate every payload against its schema. */
  readonly validateData: boolean
  /** Validate lap tables. */
  readonly validateLapTimes: boolean
  /** Validate telemetry. */
  readonly validateTelemetry: boolean
  /** Seconds between connection-stats debug log lines; 0 = off. */
  readonly connectionStatsLogInterval: number
  /**
   * The library's own log lines (written to stderr) at this level and above, for the Promise
   * client and the `tif1` command. Effect programs keep their own `Logger` and minimum level:
   * the Effect layers install no logger.
   */
  readonly logLevel: Tif1LogLevel
  /** Accepted for tif1 compatibility; Node does the I/O on one thread, so it has no effect. */
  readonly maxWorkers: number
  /**
   * Accepted for tif1 compatibility, not used yet: every body is parsed on the main thread
   * (decoding and parsing a 180 KB telemetry file takes about 2 ms; `npm run bench` measures it).
   */
  readonly jsonParseWorkers: number
  /** Accepted for tif1 compatibility; undici queues requests instead of failing when its pool is full. */
  readonly poolExhaustionBackoffBase: number
  /** Accepted for tif1 compatibility (see `poolExhaustionBackoffBase`). */
  readonly poolExhaustionBackoffMax: number
}

/**
 * The values of `log_level`, quietest first.
 *
 * @since 0.2.0
 */
export const logLevels = ["none", "error", "warning", "info", "debug"] as const

/**
 * A `log_level` value.
 *
 * @since 0.2.0
 */
export type Tif1LogLevel = typeof logLevels[number]

/**
 * Settings given in code, camelCased, same units. Any subset.
 *
 * @since 0.1.0
 */
export type Tif1ConfigOverrides = { readonly [K in keyof Tif1ConfigValues]?: Tif1ConfigValues[K] }

/**
 * The resolved settings plus where each came from (`override`, `env TIF1_X`, `file <path>`, `default`).
 *
 * @since 0.1.0
 */
export interface ResolvedTif1Config extends Tif1ConfigValues {
  readonly sources: Readonly<Record<keyof Tif1ConfigValues, string>>
}

type Parsed<A> = { readonly ok: true; readonly value: A } | { readonly ok: false; readonly reason: string }
const ok = <A>(value: A): Parsed<A> => ({ ok: true, value })
const bad = (reason: string): Parsed<never> => ({ ok: false, reason })

interface KeySpec<A> {
  readonly parse: (raw: unknown) => Parsed<A>
  readonly defaultValue: () => A
}

const trueWords = new Set(["1", "true", "yes", "on"])
const falseWords = new Set(["0", "false", "no", "off"])

const boolean = (defaultValue: boolean): KeySpec<boolean> => ({
  defaultValue: () => defaultValue,
  parse: (raw) => {
    if (typeof raw === "boolean") return ok(raw)
    if (typeof raw === "number" && (raw === 0 || raw === 1)) return ok(raw === 1)
    if (typeof raw === "string") {
      const word = raw.trim().toLowerCase()
      if (trueWords.has(word)) return ok(true)
      if (falseWords.has(word)) return ok(false)
    }
    return bad("expected a boolean: 1/true/yes/on or 0/false/no/off")
  }
})

const toNumber = (raw: unknown): number | undefined => {
  if (typeof raw === "number") return raw
  if (typeof raw === "string" && raw.trim() !== "") {
    const value = Number(raw.trim())
    return Number.isNaN(value) ? undefined : value
  }
  return undefined
}

const number = (
  defaultValue: number,
  range: { readonly min: number; readonly max?: number; readonly integer?: boolean; readonly exclusiveMin?: boolean }
): KeySpec<number> => ({
  defaultValue: () => defaultValue,
  parse: (raw) => {
    const value = toNumber(raw)
    const kind = range.integer ? "an integer" : "a number"
    if (value === undefined || !Number.isFinite(value)) return bad(`expected ${kind}`)
    if (range.integer && !Number.isInteger(value)) return bad(`expected ${kind}`)
    if (range.exclusiveMin ? value <= range.min : value < range.min) {
      return bad(`must be ${range.exclusiveMin ? "greater than" : "at least"} ${range.min}`)
    }
    if (range.max !== undefined && value > range.max) return bad(`must be at most ${range.max}`)
    return ok(value)
  }
})

const optionalInteger = (min: number): KeySpec<number | undefined> => {
  const inner = number(0, { min, integer: true })
  return {
    defaultValue: () => undefined,
    parse: (raw) => (raw === null || raw === "" ? ok(undefined) : inner.parse(raw))
  }
}

const string = (defaultValue: () => string): KeySpec<string> => ({
  defaultValue,
  parse: (raw) => (typeof raw === "string" && raw.trim() !== "" ? ok(raw.trim()) : bad("expected a non-empty string"))
})

/**
 * Why `value` cannot be sent as an HTTP header value, or `undefined`. RFC 9110 allows visible
 * ASCII, space, tab and obs-text, and undici sends a string's characters as Latin-1 bytes: so
 * visible ASCII, space, tab and U+00A0..U+00FF. Refused: C0 controls and DEL (undici refuses the
 * request, so every request would fail as a retryable protocol error counted against CDN health),
 * anything above U+00FF (the same), and C1 controls (undici sends them, but no one means them).
 */
const headerValueProblem = (value: string): string | undefined => {
  const found = /[^\t\x20-\x7e\xa0-\xff]/.exec(value)
  if (found === null) return undefined
  const code = value.codePointAt(found.index)!
  const named = `U+${code.toString(16).toUpperCase().padStart(4, "0")}`
  return code > 0xff
    ? `has ${named}, above U+00FF, which an HTTP header value cannot hold`
    : `has a control character (${named}), which an HTTP header value cannot hold`
}

/** A non-empty string sent as a header value (`user_agent`). */
const headerValue = (defaultValue: () => string): KeySpec<string> => ({
  defaultValue,
  parse: (raw) => {
    const parsed = string(defaultValue).parse(raw)
    if (!parsed.ok) return parsed
    const problem = headerValueProblem(parsed.value)
    return problem === undefined ? parsed : bad(problem)
  }
})

const oneOf = <const A extends string>(defaultValue: A, values: ReadonlyArray<A>): KeySpec<A> => ({
  defaultValue: () => defaultValue,
  parse: (raw) => {
    const word = typeof raw === "string" ? raw.trim().toLowerCase() : undefined
    return word !== undefined && (values as ReadonlyArray<string>).includes(word)
      ? ok(word as A)
      : bad(`expected one of ${values.join(", ")}`)
  }
})

const optionalString = (): KeySpec<string | undefined> => ({
  defaultValue: () => undefined,
  parse: (raw) =>
    raw === null || raw === ""
      ? ok(undefined)
      : typeof raw === "string" && raw.trim() !== ""
      ? ok(raw.trim())
      : bad("expected a non-empty string")
})

/** `{ cdn: { header: value } }`: a JSON object in a file, the same JSON text in the environment. */
const headersByCdn = (): KeySpec<Readonly<Record<string, Readonly<Record<string, string>>>>> => ({
  defaultValue: () => ({}),
  parse: (raw) => {
    let value = raw
    if (typeof raw === "string") {
      try {
        value = JSON.parse(raw)
      } catch {
        return bad("expected a JSON object of CDN -> { header: value }")
      }
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      return bad("expected an object of CDN -> { header: value }")
    }
    for (const [cdn, headers] of Object.entries(value)) {
      if (headers === null || typeof headers !== "object" || Array.isArray(headers)) {
        return bad(`the headers of ${describeValue(cdn)} must be an object of header -> value`)
      }
      for (const [name, header] of Object.entries(headers)) {
        if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) return bad(`${describeValue(name)} is not a header name`)
        if (typeof header !== "string") {
          return bad(`the value of header ${name} for ${describeValue(cdn)} must be a string`)
        }
        // The problem names the offending character only, never the value (it may be a secret).
        const problem = headerValueProblem(header)
        if (problem !== undefined) return bad(`the value of header ${name} for ${describeValue(cdn)} ${problem}`)
      }
    }
    return ok(value as Record<string, Record<string, string>>)
  }
})

const optionalUrl = (): KeySpec<string | undefined> => ({
  defaultValue: () => undefined,
  parse: (raw) => {
    if (raw === null || raw === "") return ok(undefined)
    if (typeof raw !== "string") return bad("expected a proxy URL such as http://proxy.example:3128")
    const problem = httpUrlProblem(raw.trim(), { placeholders: false })
    return problem === undefined ? ok(raw.trim()) : bad(`the proxy URL ${problem}`)
  }
})

const optionalRedisUrl = (): KeySpec<string | undefined> => ({
  defaultValue: () => undefined,
  parse: (raw) => {
    if (raw === null || raw === "") return ok(undefined)
    const example = "expected a Redis URL such as redis://127.0.0.1:6379/0"
    if (typeof raw !== "string") return bad(example)
    // ioredis reads the userinfo as the WHATWG parser does and percent-decodes it: the same check.
    const split = splitCredentials(raw.trim())
    if (Result.isFailure(split)) return bad(`the Redis URL ${split.failure}`)
    let url: URL
    try {
      url = new URL(raw.trim())
    } catch {
      return bad(example)
    }
    if (url.protocol !== "redis:" && url.protocol !== "rediss:") return bad(`${example} (redis:// or rediss://)`)
    if (url.hostname === "") return bad(`${example} (no host)`)
    const db = url.pathname.replace(/^\//, "")
    if (db !== "" && !/^\d+$/.test(db)) return bad(`${example} (the path is a database number)`)
    return ok(raw.trim())
  }
})

const list = (
  defaultValue: ReadonlyArray<string>,
  checkItem: (item: string) => string | undefined
): KeySpec<ReadonlyArray<string>> => ({
  defaultValue: () => defaultValue,
  parse: (raw) => {
    const items = typeof raw === "string"
      ? raw.split(",").map((item) => item.trim()).filter((item) => item !== "")
      : Array.isArray(raw)
      ? raw.map((item: unknown) => (typeof item === "string" ? item.trim() : item))
      : undefined
    if (items === undefined) return bad("expected a list (comma-separated, or a JSON array in a file)")
    if (items.length === 0) return bad("must not be empty")
    for (const item of items) {
      if (typeof item !== "string") return bad(`list item ${JSON.stringify(item)} is not a string`)
      const problem = checkItem(item)
      if (problem !== undefined) return bad(`list item ${describeValue(item)} ${problem}`)
    }
    return ok(items as ReadonlyArray<string>)
  }
})

/**
 * Why `value` is no usable http(s) URL (a CDN, a proxy, a DoH endpoint), or `undefined`. Its
 * `user:password@` must be readable as HTTP Basic credentials; with `placeholders`, it may be a
 * template (`{year}` `{gp}` `{session}` `{path}`, checked on the URL without its userinfo).
 */
const httpUrlProblem = (value: string, options: { readonly placeholders: boolean }): string | undefined => {
  const read = withBasicAuthorization(value)
  if (Result.isFailure(read)) return read.failure
  const withoutUserinfo = read.success.url
  let url: URL
  try {
    url = new URL(
      options.placeholders ? withoutUserinfo.replaceAll(/\{(year|gp|session|path)\}/g, "x") : withoutUserinfo
    )
  } catch {
    return "is not a URL"
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return "must be an http:// or https:// URL"
  if (!options.placeholders) return undefined
  const unknownPlaceholder = /\{(?!year\}|gp\}|session\}|path\})[^}]*\}/.exec(withoutUserinfo)
  if (unknownPlaceholder) return `has an unknown placeholder ${unknownPlaceholder[0]}`
  if (withoutUserinfo.includes("{") && !withoutUserinfo.includes("{path}")) return "is a template without {path}"
  return undefined
}

/**
 * Why `value` is no usable Stats archive source, or `undefined`: an http(s) URL as for `cdns`, and
 * a template whose only placeholder is `{path}` (the archive has no sessions, and its folders are
 * not the timing data's event names, so `{year}` `{gp}` `{session}` would build wrong URLs).
 */
const statsUrlProblem = (value: string): string | undefined => {
  const problem = httpUrlProblem(value, { placeholders: true })
  if (problem !== undefined) return problem
  const other = /\{(year|gp|session)\}/.exec(value)
  if (other !== null) return `has ${other[0]}: a Stats archive template takes {path} only`
  if (!value.includes("{path}")) {
    return "is not a template: give the URL with {path} where the file's path in the archive goes " +
      "(such as https://cdn.jsdelivr.net/gh/TracingInsights-Archive/Stats@main/{path})"
  }
  return undefined
}

const resolverProblem = (value: string): string | undefined => {
  if (value === "standard" || value === "doh://cloudflare" || value === "doh://google") return undefined
  if (value.startsWith("https://")) return httpUrlProblem(value, { placeholders: false })
  return "must be standard, doh://cloudflare, doh://google or an https:// DoH endpoint"
}

/**
 * The default CDN sources: jsDelivr (base URL), then StaticDelivr (template).
 *
 * @since 0.1.0
 */
export const defaultCdns: ReadonlyArray<string> = [
  "https://cdn.jsdelivr.net/gh/TracingInsights",
  "https://cdn.staticdelivr.com/gh/TracingInsights/{year}/main/{gp}/{session}/{path}"
]

/**
 * The default Stats archive sources: jsDelivr, then GitHub raw (templates with `{path}`).
 *
 * @since 0.2.0
 */
export const defaultStatsCdns: ReadonlyArray<string> = [
  "https://cdn.jsdelivr.net/gh/TracingInsights-Archive/Stats@main/{path}",
  "https://raw.githubusercontent.com/TracingInsights-Archive/Stats/main/{path}"
]

/**
 * The OS cache folder plus `tif1`: `$XDG_CACHE_HOME` or `~/.cache` on Linux,
 * `~/Library/Caches` on macOS, `%LOCALAPPDATA%` on Windows.
 *
 * @since 0.1.0
 */
export const defaultCacheDir = (): string => {
  const home = Os.homedir()
  if (process.platform === "darwin") return Path.join(home, "Library", "Caches", "tif1")
  if (process.platform === "win32") {
    return Path.join(process.env.LOCALAPPDATA ?? Path.join(home, "AppData", "Local"), "tif1")
  }
  return Path.join(process.env.XDG_CACHE_HOME ?? Path.join(home, ".cache"), "tif1")
}

const keySpecs: { readonly [K in keyof Tif1ConfigValues]: KeySpec<Tif1ConfigValues[K]> } = {
  timeout: number(30, { min: 0, exclusiveMin: true }),
  stallTimeout: number(10, { min: 0, exclusiveMin: true }),
  maxRetries: number(3, { min: 0, max: 100, integer: true }),
  retryBackoffFactor: number(2.0, { min: 0 }),
  retryJitter: boolean(true),
  retryJitterMax: number(1.0, { min: 0 }),
  maxRetryDelay: number(60.0, { min: 0 }),
  circuitBreakerThreshold: number(5, { min: 1, integer: true }),
  circuitBreakerTimeout: number(60, { min: 0 }),
  maxConcurrentRequests: number(20, { min: 1, max: 10_000, integer: true }),
  telemetryPrefetchMaxConcurrentRequests: number(128, { min: 1, max: 10_000, integer: true }),
  poolConnections: optionalInteger(1),
  poolMaxsize: optionalInteger(1),
  keepaliveTimeout: number(120, { min: 0, exclusiveMin: true }),
  keepaliveMaxRequests: number(1000, { min: 1, integer: true }),
  httpMultiplexed: boolean(true),
  httpDisableHttp3: boolean(false),
  compression: oneOf("auto", ["auto", "on", "off"]),
  maxResponseBytes: number(64 * 1024 * 1024, { min: 1, integer: true }),
  httpResolvers: list(["standard", "doh://cloudflare", "doh://google"], resolverProblem),
  cdns: list(defaultCdns, (item) => httpUrlProblem(item, { placeholders: true })),
  statsCdns: list(defaultStatsCdns, statsUrlProblem),
  cdnHeaders: headersByCdn(),
  cdnRecoveryTimeout: number(30, { min: 0 }),
  cdnUseMinification: boolean(false),
  trustEnv: boolean(false),
  proxy: optionalUrl(),
  userAgent: headerValue(() => `tif1-effect/${version}`),
  cacheDir: string(defaultCacheDir),
  enableCache: boolean(true),
  memoryCacheMaxItems: number(1024, { min: 0, integer: true }),
  memoryTelemetryCacheMaxItems: number(2048, { min: 0, integer: true }),
  missingPayloadsTtlDays: number(7, { min: 0 }),
  liveWindowDays: number(7, { min: 0 }),
  liveMissingTtl: number(300, { min: 0 }),
  liveRevalidateAfter: number(600, { min: 0 }),
  scheduleDir: optionalString(),
  redisUrl: optionalRedisUrl(),
  redisKeyPrefix: string(() => "tif1:"),
  redisMaxValueBytes: number(4 * 1024 * 1024, { min: 1, integer: true }),
  redisTimeout: number(1, { min: 0, exclusiveMin: true }),
  redisRetryAfter: number(30, { min: 0 }),
  redisLockTtl: number(15, { min: 0, exclusiveMin: true }),
  ciMode: boolean(false),
  offlineMode: boolean(false),
  validateData: boolean(false),
  validateLapTimes: boolean(false),
  validateTelemetry: boolean(false),
  connectionStatsLogInterval: number(60, { min: 0 }),
  logLevel: oneOf("warning", logLevels),
  maxWorkers: number(20, { min: 1, integer: true }),
  jsonParseWorkers: number(0, { min: 0, max: 64, integer: true }),
  poolExhaustionBackoffBase: number(0.1, { min: 0 }),
  poolExhaustionBackoffMax: number(2.0, { min: 0 })
}

type Key = keyof Tif1ConfigValues

/**
 * Every key, camelCased, in table order.
 *
 * @since 0.1.0
 */
export const configKeys = Object.keys(keySpecs) as ReadonlyArray<Key>

/**
 * The `.tif1rc` / environment spelling of a key: `maxRetries` -> `max_retries`.
 *
 * @since 0.1.0
 */
export const snakeCase = (key: string): string => key.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`)

/**
 * The environment variable of a key: `maxRetries` -> `TIF1_MAX_RETRIES`.
 *
 * @since 0.1.0
 */
export const envName = (key: string): string => `TIF1_${snakeCase(key).toUpperCase()}`

const keyBySnake = new Map(configKeys.map((key) => [snakeCase(key), key] as const))

/**
 * Text as it may be shown (errors, log lines, `tif1 config`): the userinfo of every URL in it
 * masked, `user:***@` or `***@` for a token alone, wherever the last `@` before the host is.
 *
 * @since 0.2.0
 */
export { redactSecrets }

/**
 * Characters `JSON.stringify` leaves as they are that a terminal or a log viewer would act on:
 * DEL, C1 controls, the soft hyphen, bidirectional and zero-width marks, line separators.
 */
const unprintable = /[\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]/g

/** Every URL in a string (one, or a comma-separated list) with its userinfo masked. */
const redactUrls = (raw: unknown): unknown =>
  typeof raw === "string"
    ? raw.split(",").map(redactUrl).join(",")
    : Array.isArray(raw)
    ? raw.map(redactUrls)
    : raw

/**
 * A configured value as an error shows it: JSON, every URL's userinfo masked (one that was refused
 * too), and every control or invisible character escaped, so that printing it is safe.
 */
const describeValue = (raw: unknown): string =>
  redactSecrets(String(JSON.stringify(redactUrls(raw)))).replace(
    unprintable,
    (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, "0")}`
  )

/** A config file found on the search path, with its parsed JSON object. */
interface ConfigFile {
  readonly path: string
  readonly values: Readonly<Record<string, unknown>>
}

/**
 * Where to look for files, for tests and embedders; defaults to the process's cwd and home.
 *
 * @since 0.1.0
 */
export interface ConfigSearchOptions {
  readonly cwd?: string
  readonly homeDir?: string
}

/**
 * Where `TIF1_*` variables are read: the current Effect `ConfigProvider` when one was provided,
 * otherwise the process environment as it is now, `TIF1_X=` counting as set to `""` (so it can
 * clear a value from a file). Effect 4's own default provider would not do: it snapshots the
 * environment once per process and treats empty values as unset.
 */
const envProvider: Effect.Effect<ConfigProvider.ConfigProvider> = Effect.map(
  ConfigProvider.ConfigProvider,
  (current) =>
    current === Context.get(Context.empty(), ConfigProvider.ConfigProvider)
      ? ConfigProvider.fromEnvRecord(process.env, { preserveEmptyStrings: true })
      : current
)

const optionalEnv = (provider: ConfigProvider.ConfigProvider, name: string) =>
  Config.option(Config.String(name)).parse(provider)

const readConfigFile = (path: string): Effect.Effect<ConfigFile | undefined, Tif1ConfigError> =>
  Effect.suspend(() => {
    let text: string
    try {
      text = Fs.readFileSync(path, "utf8")
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return Effect.succeed(undefined)
      return Effect.fail(
        new Tif1ConfigError({
          key: "(file)",
          source: `file ${path}`,
          value: path,
          reason: `cannot read: ${String(error)}`
        })
      )
    }
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch (error) {
      return Effect.fail(
        new Tif1ConfigError({
          key: "(file)",
          source: `file ${path}`,
          value: text.slice(0, 80),
          reason: `not valid JSON: ${(error as Error).message}`
        })
      )
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
      return Effect.fail(
        new Tif1ConfigError({
          key: "(file)",
          source: `file ${path}`,
          value: text.slice(0, 80),
          reason: "must be a JSON object of settings"
        })
      )
    }
    return Effect.succeed({ path, values: parsed as Record<string, unknown> })
  })

/** The first config file that exists, in the documented search order. */
const findConfigFile = (search: ConfigSearchOptions, provider: ConfigProvider.ConfigProvider) =>
  Effect.gen(function*() {
    const explicit = yield* optionalEnv(provider, "TIF1_CONFIG_FILE")
    const trustCwd = yield* optionalEnv(provider, "TIF1_TRUST_CWD_CONFIG")
    const candidates: Array<string> = []
    if (Option.isSome(explicit) && explicit.value.trim() !== "") candidates.push(explicit.value.trim())
    if (Option.isSome(trustCwd)) {
      const trusted = keySpecs.ciMode.parse(trustCwd.value)
      if (!trusted.ok) {
        return yield* new Tif1ConfigError({
          key: "trust_cwd_config",
          source: "env TIF1_TRUST_CWD_CONFIG",
          value: describeValue(trustCwd.value),
          reason: trusted.reason
        })
      }
      if (trusted.value) candidates.push(Path.join(search.cwd ?? process.cwd(), ".tif1rc"))
    }
    candidates.push(Path.join(search.homeDir ?? Os.homedir(), ".tif1rc"))
    for (const candidate of candidates) {
      const file = yield* readConfigFile(candidate)
      if (file !== undefined) return file
      if (Option.isSome(explicit) && candidate === explicit.value.trim()) {
        return yield* new Tif1ConfigError({
          key: "config_file",
          source: "env TIF1_CONFIG_FILE",
          value: candidate,
          reason: "file does not exist"
        })
      }
    }
    return undefined
  })

/** One key's raw value from a source, parsed, or the error naming the key, the source and the value. */
const parseKey = (key: Key, raw: unknown, source: string): unknown => {
  const parsed = (keySpecs[key] as KeySpec<unknown>).parse(raw)
  return parsed.ok
    ? parsed.value
    : new Tif1ConfigError({
      key: snakeCase(key),
      source,
      value: key === "cdnHeaders" ? "(not shown: it may hold secrets)" : describeValue(raw),
      reason: parsed.reason
    })
}

/** `TIF1_*` variables that are not settings but name where settings come from. */
const searchVariables = new Set(["TIF1_CONFIG_FILE", "TIF1_TRUST_CWD_CONFIG"])
const knownVariables = new Set([...configKeys.map(envName), ...searchVariables])

/**
 * Resolve the configuration from overrides, `TIF1_*` variables (read through the current Effect
 * `ConfigProvider`, the process environment by default), the first config file found, and the
 * defaults. Unknown keys in a file or the environment are logged as warnings.
 *
 * @since 0.1.0
 */
export const loadConfig = (
  overrides: Tif1ConfigOverrides = {},
  search: ConfigSearchOptions = {}
): Effect.Effect<ResolvedTif1Config, Tif1ConfigError> =>
  Effect.gen(function*() {
    const provider = yield* envProvider
    const file = yield* findConfigFile(search, provider)
    if (file !== undefined) {
      for (const name of Object.keys(file.values)) {
        if (!keyBySnake.has(name)) yield* Effect.logWarning(`unknown key ${name} in ${file.path} (ignored)`)
      }
    }
    yield* warnUnknownOverrides(overrides)
    for (const name of Object.keys(process.env)) {
      if (name.startsWith("TIF1_") && !knownVariables.has(name)) {
        yield* Effect.logWarning(`unknown variable ${name} in the environment (ignored)`)
      }
    }
    const values: Record<string, unknown> = {}
    const sources: Record<string, string> = {}
    for (const key of configKeys) {
      const spec = keySpecs[key] as KeySpec<unknown>
      const env = yield* optionalEnv(provider, envName(key))
      const overridden = Object.prototype.hasOwnProperty.call(overrides, key) && overrides[key] !== undefined
      const [raw, source]: [unknown, string] | [undefined, undefined] = overridden
        ? [overrides[key], "override"]
        : Option.isSome(env)
        ? [env.value, `env ${envName(key)}`]
        : file !== undefined && Object.prototype.hasOwnProperty.call(file.values, snakeCase(key))
        ? [file.values[snakeCase(key)], `file ${file.path}`]
        : [undefined, undefined]
      if (source === undefined) {
        values[key] = spec.defaultValue()
        sources[key] = "default"
        continue
      }
      const parsed = parseKey(key, raw, source)
      if (parsed instanceof Tif1ConfigError) return yield* parsed
      values[key] = parsed
      sources[key] = source
    }
    return { ...(values as unknown as Tif1ConfigValues), sources: sources as Record<Key, string> }
  }).pipe(
    Effect.catchTag("ConfigError", (error) =>
      Effect.fail(new Tif1ConfigError({ key: "(env)", source: "env", value: "", reason: String(error) })))
  )

const warnUnknownOverrides = (overrides: Tif1ConfigOverrides) =>
  Effect.forEach(
    Object.keys(overrides).filter((name) => !(name in keySpecs)),
    (name) => Effect.logWarning(`unknown config override ${name} (ignored)`),
    { discard: true }
  )

/**
 * The defaults with overrides on top, and no environment or file: handy for tests and
 * embedders. Each override is checked as the live layer checks it: a bad one throws the
 * `Tif1ConfigError` naming it (`layerDefaults` fails with it instead).
 *
 * @since 0.1.0
 */
export const defaultConfig = (overrides: Tif1ConfigOverrides = {}): ResolvedTif1Config => {
  const values: Record<string, unknown> = {}
  const sources: Record<string, string> = {}
  for (const key of configKeys) {
    const given = overrides[key]
    if (given === undefined) {
      values[key] = keySpecs[key].defaultValue()
      sources[key] = "default"
      continue
    }
    const parsed = parseKey(key, given, "override")
    if (parsed instanceof Tif1ConfigError) throw parsed
    values[key] = parsed
    sources[key] = "override"
  }
  return { ...(values as unknown as Tif1ConfigValues), sources: sources as Record<Key, string> }
}

/**
 * HTTP/1.1 sockets per origin: `pool_connections` (default: the largest concurrency setting),
 * capped by `pool_maxsize`.
 *
 * @since 0.1.0
 */
export const socketsPerOrigin = (config: Tif1ConfigValues): number => {
  const wanted = config.poolConnections ??
    Math.max(config.maxConcurrentRequests, config.telemetryPrefetchMaxConcurrentRequests)
  return config.poolMaxsize === undefined ? wanted : Math.min(wanted, config.poolMaxsize)
}

/**
 * The configuration every service reads.
 *
 * @since 0.1.0
 */
export class Tif1Config extends Context.Service<Tif1Config, ResolvedTif1Config>()("tif1-effect/Tif1Config") {
  /** From the environment and config files. */
  static readonly layer: Layer.Layer<Tif1Config, Tif1ConfigError> = Layer.effect(Tif1Config, loadConfig())
  /** From the environment and config files, with overrides on top. */
  static readonly layerConfig = (overrides: Tif1ConfigOverrides): Layer.Layer<Tif1Config, Tif1ConfigError> =>
    Layer.effect(Tif1Config, loadConfig(overrides))
  /** Defaults plus overrides, ignoring environment and files (for tests); overrides checked as the live layer does. */
  static readonly layerDefaults = (overrides: Tif1ConfigOverrides = {}): Layer.Layer<Tif1Config, Tif1ConfigError> =>
    Layer.effect(
      Tif1Config,
      Effect.andThen(
        warnUnknownOverrides(overrides),
        Effect.try({
          try: () => defaultConfig(overrides),
          catch: (error) => error as Tif1ConfigError
        })
      )
    )
}
