/**
 * The typed errors of tif1-effect. Every public error channel carries one of these, never a raw
 * undici, platform or `unknown` error. They are `Schema.TaggedError`s: real `Error`s (`instanceof`
 * works), narrowed by `_tag`, and serialisable.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * What kind of network failure a `NetworkError` is: the literal programs, metrics and logs switch
 * on (`reason` is the human detail and is never parsed).
 *
 * - `timeout`: no complete response within `timeout`; `stalled`: a response stopped making progress.
 * - `connect`: the connection was refused or could not be made; `dns`: no resolver answered;
 *   `tls`: the TLS handshake or certificate failed; `reset`: the connection broke mid-request.
 * - `refused-stream`, `goaway`: the HTTP/2 server refused or dropped the stream (resent at once).
 * - `protocol`: a malformed response; `transport`: any other transport failure.
 * - `http-status`: a status that is neither data nor "not published" (5xx, 408, unexpected codes);
 *   `too-many-requests`: 429; `access-denied`: 401/403 and no CDN delivered;
 *   `redirect`: too many redirects, or one from https to http; `encoding`: a body in an encoding not
 *   asked for, or that does not decode; `too-large`: a body over `max_response_bytes`.
 * - `circuit-open`: the breaker is open; `no-cdn`: no CDN was available to ask;
 *   `offline`: offline mode and not in the cache; `invalid-url`: a CDN URL that does not parse.
 * - `cancelled`: the caller aborted (an `AbortSignal`); `closed`: the client or layer was closed.
 *
 * @since 0.2.0
 */
export const NetworkErrorKind = Schema.Literals([
  "timeout",
  "stalled",
  "connect",
  "dns",
  "tls",
  "reset",
  "refused-stream",
  "goaway",
  "protocol",
  "transport",
  "http-status",
  "too-many-requests",
  "access-denied",
  "redirect",
  "encoding",
  "too-large",
  "circuit-open",
  "no-cdn",
  "offline",
  "invalid-url",
  "cancelled",
  "closed"
])

/**
 * A `NetworkError` kind.
 *
 * @since 0.2.0
 */
export type NetworkErrorKind = typeof NetworkErrorKind.Type

/**
 * Every CDN failed, the circuit is open, no CDN was available, the call was cancelled or the
 * client closed, or offline mode missed the cache. `kind` says which (see `NetworkErrorKind`);
 * `reason` is the detail for people; `cause` the underlying error where there was one.
 *
 * @since 0.1.0
 */
export class NetworkError extends Schema.TaggedError<NetworkError>()("NetworkError", {
  url: Schema.String,
  status: Schema.optional(Schema.Number),
  kind: NetworkErrorKind,
  reason: Schema.String,
  cause: Schema.optional(Schema.Unknown)
}) {
  override get message(): string {
    const status = this.status === undefined ? "" : ` (HTTP ${this.status})`
    return `network error for ${this.url}${status}: ${this.reason}`
  }
}

/**
 * Every CDN that was asked answered 404 or 410 and none failed: the file is not published (or
 * not yet mirrored anywhere). The only answer the negative cache remembers.
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
