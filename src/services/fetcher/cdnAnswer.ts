/**
 * What one CDN answered for one file: one request (its redirects followed) read as a `CdnAnswer`,
 * by the table at the top of `Fetcher.ts`. The CDN's health is recorded on the way (a retryable
 * failure counts toward skipping it; a delivery or a 304 resets it), and so are the request
 * metrics and counters.
 *
 * The hot path is written with plain combinators rather than `Effect.gen`: at 1,000 files every
 * operation per file shows in the benchmark.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import type * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { DataRequest } from "../../schema/DataRequest.js"
import type { NetworkErrorKind } from "../../schema/Errors.js"
import type { JsonObject, Validators } from "../Cache.js"
import type { CdnManagerService, CdnSource } from "../CdnManager.js"
import type { HttpResponse, HttpSessionService } from "../HttpSession.js"
import { parseJsonBytes } from "../internal/json.js"
import { parseRetryAfter } from "../internal/retryPolicy.js"
import * as Telemetry from "../internal/telemetry.js"
import type { FetcherCounters } from "./counters.js"

/** What one CDN said in one round. */
export type CdnAnswer =
  | {
    readonly _tag: "Delivered"
    readonly value: JsonObject
    readonly body: Uint8Array
    readonly validators: Validators
  }
  /** A 304 to a conditional request: the stored copy is current. */
  | { readonly _tag: "NotModified"; readonly source: string }
  | { readonly _tag: "NotFound"; readonly source: string; readonly status: number }
  | { readonly _tag: "Invalid"; readonly source: string; readonly reason: string }
  | {
    /** A final answer that is neither data nor "not published": refused, unexpected status, bad redirect. */
    readonly _tag: "Rejected"
    readonly source: string
    readonly url: string
    readonly status: number | undefined
    readonly kind: NetworkErrorKind
    readonly reason: string
  }
  | {
    readonly _tag: "Retryable"
    readonly source: string
    readonly url: string
    readonly status: number | undefined
    readonly kind: NetworkErrorKind
    readonly reason: string
    readonly retryAfterSeconds: number | undefined
  }

/** A final answer that is neither data nor "not published". */
export type Rejected = Extract<CdnAnswer, { _tag: "Rejected" }>
/** A failure a later round may not meet. */
export type Retryable = Extract<CdnAnswer, { _tag: "Retryable" }>
/** How a fetch ends well: a delivery, or a stored copy confirmed current. */
export type Answer = Extract<CdnAnswer, { _tag: "Delivered" | "NotModified" }>

/** Ask one CDN for one file, with `conditional` headers (a revalidation) or none. */
export type AskCdn = (
  source: CdnSource,
  request: DataRequest,
  timeout: Duration.Duration,
  conditional: Readonly<Record<string, string>> | undefined
) => Effect.Effect<CdnAnswer>

const isRetryableStatus = (status: number) => status >= 500 || status === 408 || status === 429
const isRedirectStatus = (status: number) =>
  status === 301 || status === 302 || status === 303 || status === 307 || status === 308
/** Redirect hops followed at most (as browsers and curl's `--max-redirs` default bound them). */
const maxRedirects = 5

const parseUrl = (location: string, base: string): URL | undefined => {
  try {
    return new URL(location, base)
  } catch {
    return undefined
  }
}

const headerValue = (value: string | ReadonlyArray<string> | undefined): string | undefined =>
  typeof value === "string" ? value : value?.[0]

/** The validators of a response, to store beside the file. */
const validatorsOf = (headers: HttpResponse["headers"]): Validators => {
  const etag = headerValue(headers.etag)
  const lastModified = headerValue(headers["last-modified"])
  return { ...(etag === undefined ? {} : { etag }), ...(lastModified === undefined ? {} : { lastModified }) }
}

/** The headers of a conditional request from stored validators; `undefined` when there are none. */
export const conditionalHeaders = (stored: Validators): Record<string, string> | undefined =>
  stored.etag === undefined && stored.lastModified === undefined ? undefined : {
    ...(stored.etag === undefined ? {} : { "if-none-match": stored.etag }),
    ...(stored.lastModified === undefined ? {} : { "if-modified-since": stored.lastModified })
  }

/**
 * The asker over the session and a source's CDN manager (`urlFor` builds the source's URLs),
 * counting into `counters`.
 */
export const makeAskCdn = (
  { cdns, counters, session, urlFor }: {
    readonly session: HttpSessionService
    readonly cdns: CdnManagerService
    readonly urlFor: (cdn: CdnSource, request: DataRequest) => string
    readonly counters: FetcherCounters
  }
): AskCdn => {
  const requestCounter = Telemetry.taggedBy(Telemetry.requests, "cdn", "outcome")
  /**
   * A response's metrics, updated in place (synchronously: this runs for every request) in the
   * registry of the fiber's context.
   */
  const recordResponse = (context: Context.Context<never>, cdn: string, response: HttpResponse) => {
    requestCounter(cdn, `${Math.floor(response.status / 100)}xx`).updateUnsafe(1, context)
    if (response.status >= 200 && response.status < 300) {
      Telemetry.fileSize.updateUnsafe(response.body.byteLength, context)
    }
    Telemetry.wireBytes.updateUnsafe(response.wireBytes, context)
    Telemetry.decodedBytes.updateUnsafe(response.body.byteLength, context)
  }

  return (source, request, timeout, conditional) => {
    const retryable = (
      url: string,
      status: number | undefined,
      kind: NetworkErrorKind,
      reason: string,
      retryAfterSeconds?: number
    ): CdnAnswer => ({ _tag: "Retryable", source: source.name, url, status, kind, reason, retryAfterSeconds })
    const rejected = (url: string, status: number | undefined, kind: NetworkErrorKind, reason: string): CdnAnswer => ({
      _tag: "Rejected",
      source: source.name,
      url,
      status,
      kind,
      reason
    })
    const sourceHeaders = cdns.headersFor(source.name)
    const ask = (url: string, hops: number): Effect.Effect<CdnAnswer> =>
      Telemetry.traced(
        "Fetcher.attempt",
        () => ({ "tif1.cdn": source.name, "url.full": url, "tif1.redirects": hops }),
        Effect.matchEffect(
          // Counted when it goes on the wire, not when the attempt is built (a breaker that fails
          // fast sends nothing).
          Effect.withFiber((fiber) => {
            counters.requests++
            // A source's own headers (credentials) never follow a redirect to another origin.
            const own = hops === 0 || url.startsWith(`${firstOrigin}/`) ? sourceHeaders : undefined
            const headers = own === undefined
              ? conditional
              : conditional === undefined
              ? own
              : { ...own, ...conditional }
            const get = session.get(url, headers === undefined ? { timeout } : { timeout, headers })
            return Effect.tap(
              Effect.tapError(
                get,
                (error) => Effect.sync(() => requestCounter(source.name, error.kind).updateUnsafe(1, fiber.context))
              ),
              (response) => Effect.sync(() => recordResponse(fiber.context, source.name, response))
            )
          }),
          {
            onFailure: (error): Effect.Effect<CdnAnswer> =>
              // A body that does not decode, or decodes too large, is that CDN's bad data, not a fault.
              error.kind === "encoding" || error.kind === "too-large"
                ? Effect.succeed({ _tag: "Invalid", source: source.name, reason: error.reason })
                : Effect.as(
                  cdns.recordFailure(source.name, source),
                  retryable(url, undefined, error.kind, error.reason)
                ),
            onSuccess: ({ body, headers, status, wireBytes }): Effect.Effect<CdnAnswer> => {
              counters.bytes += body.byteLength
              counters.wireBytes += wireBytes
              if (status >= 200 && status < 300) {
                const parsed = parseJsonBytes(body)
                if (parsed.error !== undefined) {
                  return Effect.succeed({
                    _tag: "Invalid",
                    source: source.name,
                    reason: `not valid JSON: ${parsed.error}`
                  })
                }
                if (parsed.value === null || typeof parsed.value !== "object" || Array.isArray(parsed.value)) {
                  return Effect.succeed({ _tag: "Invalid", source: source.name, reason: "JSON is not an object" })
                }
                return Effect.as(
                  cdns.recordSuccess(source.name),
                  {
                    _tag: "Delivered",
                    value: parsed.value as JsonObject,
                    body,
                    validators: validatorsOf(headers)
                  } as const
                )
              }
              if (status === 304 && conditional !== undefined) {
                return Effect.as(cdns.recordSuccess(source.name), { _tag: "NotModified", source: source.name } as const)
              }
              if (status === 404 || status === 410) {
                return Effect.succeed({ _tag: "NotFound", source: source.name, status })
              }
              if (status === 401 || status === 403) {
                return Effect.succeed(rejected(url, status, "access-denied", `HTTP ${status}: access refused`))
              }
              if (isRedirectStatus(status)) {
                const location = headerValue(headers.location)
                const next = location === undefined ? undefined : parseUrl(location, url)
                if (next === undefined) {
                  return Effect.succeed(rejected(url, status, "redirect", `HTTP ${status} without a usable Location`))
                }
                if (hops >= maxRedirects) {
                  return Effect.succeed(rejected(url, status, "redirect", `more than ${maxRedirects} redirects`))
                }
                if (url.startsWith("https:") && next.protocol === "http:") {
                  return Effect.succeed(
                    rejected(url, status, "redirect", `refused a redirect from https to http (${next.href})`)
                  )
                }
                return ask(next.href, hops + 1)
              }
              if (!isRetryableStatus(status)) {
                return Effect.succeed(rejected(url, status, "http-status", `unexpected HTTP ${status}`))
              }
              const failed = cdns.recordFailure(source.name, source)
              if (status !== 429 && status !== 503) {
                return Effect.as(failed, retryable(url, status, "http-status", `HTTP ${status}`))
              }
              const kind = status === 429 ? "too-many-requests" : "http-status"
              return Effect.andThen(
                failed,
                Effect.map(
                  Clock.currentTimeMillis,
                  (now) => retryable(url, status, kind, `HTTP ${status}`, parseRetryAfter(headers["retry-after"], now))
                )
              )
            }
          }
        )
      )
    const firstUrl = urlFor(source, request)
    const firstOrigin = sourceHeaders === undefined ? "" : new URL(firstUrl).origin
    return ask(firstUrl, 0)
  }
}
