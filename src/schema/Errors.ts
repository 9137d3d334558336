/**
 * The typed errors of tif1-effect. Every public error channel carries one of these, never a raw
 * undici, platform or `unknown` error. They are `Schema.TaggedError`s: real `Error`s (`instanceof`
 * works), narrowed by `_tag`, and serialisable.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * Every CDN failed, the circuit is open, or offline mode missed the cache.
 *
 * `reason` is a short machine-readable cause (`timeout`, `reset`, `dns`, `tls`, `http-503`,
 * `circuit-open`, `offline`, ...) optionally followed by detail.
 *
 * @since 0.1.0
 */
export class NetworkError extends Schema.TaggedError<NetworkError>()("NetworkError", {
  url: Schema.String,
  status: Schema.optional(Schema.Number),
  reason: Schema.String
}) {
  override get message(): string {
    const status = this.status === undefined ? "" : ` (HTTP ${this.status})`
    return `network error for ${this.url}${status}: ${this.reason}`
  }
}

/**
 * Every CDN that answered said 4xx: the file is not published (or not yet mirrored anywhere).
 *
 * @since 0.1.0
 */
export class DataNotFoundError extends Schema.TaggedError<DataNotFoundError>()("DataNotFoundError", {
  year: Schema.Number,
  gp: Schema.String,
  session: Schema.String,
  path: Schema.String
}) {
  override get message(): string {
    return `not found on any CDN: ${this.year}/${this.gp}/${this.session}/${this.path}`
  }
}

/**
 * A request that is not valid, or data that is not: no CDN delivered decodable JSON, the JSON
 * is not an object, or it failed validation. `path` says which file (or which request field),
 * `reason` says what was wrong and where.
 *
 * @since 0.1.0
 */
export class InvalidDataError extends Schema.TaggedError<InvalidDataError>()("InvalidDataError", {
  path: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `invalid data at ${this.path}: ${this.reason}`
  }
}

/**
 * A configuration value that cannot be used. Names the key, where the value came from
 * (`override`, `env TIF1_X`, `file /path/.tif1rc`, `default`) and the value itself.
 *
 * @since 0.1.0
 */
export class Tif1ConfigError extends Schema.TaggedError<Tif1ConfigError>()("Tif1ConfigError", {
  key: Schema.String,
  source: Schema.String,
  value: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `bad config value for ${this.key} from ${this.source}: ${this.value} (${this.reason})`
  }
}

/**
 * The errors `Fetcher.json` and its faces can fail with.
 *
 * @since 0.1.0
 */
export type FetchError = NetworkError | DataNotFoundError | InvalidDataError

/**
 * A `Tif1Client` method was called after `close()`.
 *
 * @since 0.1.0
 */
export class Tif1ClientClosedError extends Schema.TaggedError<Tif1ClientClosedError>()("Tif1ClientClosedError", {
  method: Schema.String
}) {
  override get message(): string {
    return `Tif1Client.${this.method} called after close(); make a new client with Tif1Client.make()`
  }
}
