/**
 * `CdnManager`: the CDN sources in priority order and their health. A source is skipped after 3
 * consecutive failures and probed again after a cooldown (`cdn_recovery_timeout`, doubling while
 * probes fail, at most 10 minutes): never gone for the life of the process. A success resets it.
 * A 404 is an answer, not a failure, and never counts. `user:password@` in a CDN URL is cut out
 * of it here (read as the WHATWG URL parser reads it, see `UrlCredentials`) and sent as Basic auth.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Result from "effect/Result"
import { Tif1Config } from "../schema/Config.js"
import { type DataRequest, parseSourceShape, type SourceShape, urlFor } from "../schema/DataRequest.js"
import { Tif1ConfigError } from "../schema/Errors.js"
import { redactUrl, withBasicAuthorization } from "../schema/UrlCredentials.js"
import { cdnSkipped } from "./internal/telemetry.js"

/**
 * A source as users see it.
 *
 * @since 0.1.0
 */
export interface CdnSource {
  /** Host name (with port when not the default), unique among sources. */
  readonly name: string
  /** The configured base URL or template, without any `user:password@` (sent as a header instead). */
  readonly baseUrl: string
  /** 0 is tried first. */
  readonly priority: number
  /** False after `disable`, until `reset`. */
  readonly enabled: boolean
  /** Consecutive failures. */
  readonly failures: number
  /** While skipped: the Clock time (ms) when the next probe is allowed. */
  readonly skippedUntil: number | undefined
  /** Current cooldown in seconds (doubles while probes fail). */
  readonly cooldownSeconds: number
  /** Why it was disabled, if it was. */
  readonly disabledReason: string | undefined
  /** How URLs are built for it. */
  readonly shape: SourceShape
}

/**
 * The manager.
 *
 * @since 0.1.0
 */
export interface CdnManagerService {
  /** Every source in priority order, with its health. */
  readonly sources: Effect.Effect<ReadonlyArray<CdnSource>>
  /**
   * The sources to try now, in priority order: enabled and not cooling down (a source whose
   * cooldown has passed is included as a probe). When every enabled source is cooling down, all
   * of them are returned, so requests are never refused on local bookkeeping alone.
   */
  readonly available: Effect.Effect<ReadonlyArray<CdnSource>>
  /** The URL of a request on a source. */
  readonly urlFor: (source: CdnSource, request: DataRequest) => string
  /**
   * The extra request headers of a source (`cdn_headers`, and Basic auth from `user:password@`
   * in its URL), or `undefined`. Kept here, never in `CdnSource`, so that listing the sources
   * shows no secret.
   */
  readonly headersFor: (name: string) => Readonly<Record<string, string>> | undefined
  /** The source delivered: its failures and cooldown reset. */
  readonly recordSuccess: (name: string) => Effect.Effect<void>
  /**
   * The source failed (5xx, 408, 429, timeout, transport): counts toward skipping. `asked` is the
   * source as it was when the request was sent (from `available`): a request sent before the
   * source was skipped is no probe, so its failure does not double the cooldown (at telemetry
   * concurrency, the requests in flight when a blip starts all fail together). Without `asked`
   * every failure of a skipped source counts as a failed probe.
   */
  readonly recordFailure: (name: string, asked?: CdnSource) => Effect.Effect<void>
  /** Take a source out of rotation until `reset`. */
  readonly disable: (name: string, reason: string) => Effect.Effect<void>
  /** Every source enabled and healthy again. */
  readonly reset: Effect.Effect<void>
}

/**
 * The `CdnManager` tag.
 *
 * @since 0.1.0
 */
export class CdnManager extends Context.Service<CdnManager, CdnManagerService>()("tif1-effect/CdnManager") {}

/** Consecutive failures after which a source is skipped. */
export const failuresBeforeSkip = 3
/** Longest cooldown, seconds. */
export const maxCooldownSeconds = 600

/**
 * A configured CDN URL without its `user:password@`, and that as a Basic `authorization` value;
 * or the `Tif1ConfigError` saying why it cannot be read. `Tif1Config` refuses such a URL already;
 * this guards `make` called with strings that never went through it.
 */
const readSource = (
  configured: string
): Result.Result<{ readonly url: string; readonly authorization: string | undefined }, Tif1ConfigError> =>
  Result.mapError(withBasicAuthorization(configured), (reason) =>
    new Tif1ConfigError({
      key: "cdns",
      source: "CdnManager.make",
      value: JSON.stringify(redactUrl(configured)),
      reason
    }))

const nameOf = (value: string): string => {
  try {
    return new URL(value.replaceAll(/\{(year|gp|session|path)\}/g, "x")).host
  } catch {
    return value
  }
}

/**
 * Build the manager from configured CDN strings; one whose `user:password@` cannot be read
 * fails with a `Tif1ConfigError` naming `cdns`.
 *
 * @since 0.1.0
 */
export const make = (options: {
  readonly cdns: ReadonlyArray<string>
  readonly recoveryTimeoutSeconds: number
  readonly minify: boolean
  /** `cdn_headers`: by configured URL or name. */
  readonly headers?: Readonly<Record<string, Readonly<Record<string, string>>>>
}): Effect.Effect<CdnManagerService, Tif1ConfigError> =>
  Effect.suspend(() => {
    const read: Array<{ readonly url: string; readonly authorization: string | undefined }> = []
    for (const configured of options.cdns) {
      const source = readSource(configured)
      if (Result.isFailure(source)) return Effect.fail(source.failure)
      read.push(source.success)
    }
    const headersByName = new Map<string, Readonly<Record<string, string>>>()
    const initial = (): ReadonlyArray<CdnSource> => {
      const seen = new Map<string, number>()
      headersByName.clear()
      return options.cdns.map((configured, priority) => {
        const { authorization, url: baseUrl } = read[priority]!
        const host = nameOf(baseUrl)
        const count = (seen.get(host) ?? 0) + 1
        seen.set(host, count)
        const name = count === 1 ? host : `${host}#${count}`
        const given = options.headers?.[configured] ?? options.headers?.[baseUrl] ?? options.headers?.[name]
        const headers: Record<string, string> = {}
        if (authorization !== undefined) headers.authorization = authorization
        for (const [header, value] of Object.entries(given ?? {})) headers[header.toLowerCase()] = value
        if (Object.keys(headers).length > 0) headersByName.set(name, headers)
        return {
          name,
          baseUrl,
          priority,
          enabled: true,
          failures: 0,
          skippedUntil: undefined,
          cooldownSeconds: options.recoveryTimeoutSeconds,
          disabledReason: undefined,
          shape: parseSourceShape(baseUrl)
        }
      })
    }
    // One mutable cell holding immutable snapshots (`sources` hands them out): updates are
    // synchronous, so this is as atomic as a `Ref`, and the healthy path allocates nothing.
    let state = initial()
    /** `available` while no source is skipped (the common case): computed once per change. */
    let unskipped: ReadonlyArray<CdnSource> | undefined
    const set = (next: ReadonlyArray<CdnSource>) => {
      state = next
      unskipped = undefined
    }
    /** Change one source; the source before and after, for the logs. */
    const update = (name: string, f: (source: CdnSource, now: number) => CdnSource) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        let before: CdnSource | undefined
        let after: CdnSource | undefined
        set(state.map((source) => {
          if (source.name !== name) return source
          before = source
          return after = f(source, now)
        }))
        return { before, after }
      })

    const available = Effect.suspend(() => {
      if (unskipped !== undefined) return Effect.succeed(unskipped)
      const enabled = state.filter((source) => source.enabled)
      if (enabled.every((source) => source.skippedUntil === undefined)) {
        unskipped = enabled
        return Effect.succeed(enabled)
      }
      return Effect.map(Clock.currentTimeMillis, (now) => {
        const ready = enabled.filter((source) => source.skippedUntil === undefined || source.skippedUntil <= now)
        return ready.length > 0 ? ready : enabled
      })
    })

    const isPristine = (source: CdnSource) =>
      source.failures === 0 && source.skippedUntil === undefined &&
      source.cooldownSeconds === options.recoveryTimeoutSeconds

    return Effect.succeed<CdnManagerService>({
      sources: Effect.sync(() => state),
      available,
      urlFor: (source, request) => urlFor(source.shape, request, options.minify),
      headersFor: (name) => headersByName.get(name),
      recordSuccess: (name) =>
        Effect.suspend(() => {
          const before = state.find((source) => source.name === name)
          if (before === undefined || isPristine(before)) return Effect.void
          const recovered = update(name, (source) => ({
            ...source,
            failures: 0,
            skippedUntil: undefined,
            cooldownSeconds: options.recoveryTimeoutSeconds
          }))
          return before.skippedUntil === undefined
            ? recovered
            : Effect.tap(
              recovered,
              Effect.andThen(
                Metric.update(Metric.withAttributes(cdnSkipped, { cdn: name }), 0),
                Effect.logInfo(`cdn ${name} recovered: it delivered again`)
              )
            )
        }),
      recordFailure: (name, asked) =>
        Effect.flatMap(
          update(name, (source, now) => {
            const failures = source.failures + 1
            if (failures < failuresBeforeSkip) return { ...source, failures }
            if (source.skippedUntil === undefined) {
              return { ...source, failures, skippedUntil: now + source.cooldownSeconds * 1000 }
            }
            // Skipped already. A request sent before the skip is a straggler: no new evidence.
            if (asked !== undefined && asked.skippedUntil === undefined) return { ...source, failures }
            // A failed probe: the cooldown doubles.
            const cooldownSeconds = Math.min(source.cooldownSeconds * 2, maxCooldownSeconds)
            return { ...source, failures, cooldownSeconds, skippedUntil: now + cooldownSeconds * 1000 }
          }),
          ({ after, before }) => {
            if (after?.skippedUntil === undefined || after.skippedUntil === before?.skippedUntil) return Effect.void
            return Effect.andThen(
              Metric.update(Metric.withAttributes(cdnSkipped, { cdn: name }), 1),
              Effect.logWarning(
                before?.skippedUntil === undefined
                  ? `cdn ${name} skipped for ${after.cooldownSeconds} s after ${after.failures} consecutive failures`
                  : `cdn ${name} probe failed: skipped for ${after.cooldownSeconds} s more`
              )
            )
          }
        ),
      disable: Effect.fn("CdnManager.disable")((name: string, reason: string) =>
        Effect.andThen(
          update(name, (source) => ({ ...source, enabled: false, disabledReason: reason })),
          Effect.logInfo(`cdn ${name} disabled: ${reason}`)
        )
      ),
      reset: Effect.sync(() => set(initial()))
    })
  })

/**
 * The manager from config (`cdns`, `cdn_recovery_timeout`, `cdn_use_minification`, `cdn_headers`).
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<CdnManager, Tif1ConfigError, Tif1Config> = Layer.effect(
  CdnManager,
  Effect.flatMap(
    Tif1Config,
    (config) =>
      make({
        cdns: config.cdns,
        recoveryTimeoutSeconds: config.cdnRecoveryTimeout,
        minify: config.cdnUseMinification,
        headers: config.cdnHeaders
      })
  )
)
