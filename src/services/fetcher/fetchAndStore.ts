/**
 * A caller's share of a network fetch: the shared answer, validated as the source and this
 * caller's options say (`FileSource.validate`), and stored in the cache once per fetch by the
 * first caller that writes the cache (so a file that fails validation is never stored). A not-found
 * is stored (as a negative entry) only when it is evidence: every configured CDN said 404 or 410.
 * A revalidation answered 304 restarts the stored copy's clock and returns it.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type { Tif1ConfigValues } from "../../schema/Config.js"
import type { DataRequest } from "../../schema/DataRequest.js"
import type { FetchError, InvalidDataError } from "../../schema/Errors.js"
import { shouldValidate } from "../../schema/payloads/index.js"
import type { CacheLookup, CacheService, JsonObject } from "../Cache.js"
import { type Freshness, type FreshnessPolicy, remembers } from "./freshness.js"
import type { NetworkOptions } from "./networkFetch.js"
import type { Flight, SharedFetch } from "./sharedFlight.js"

/**
 * A source's check of a delivered file for one caller: `undefined` when nothing is to be checked
 * (the common case costs no effect), else the check.
 */
export type ValidateFile = (
  request: DataRequest,
  value: JsonObject,
  options: StoreOptions
) => Effect.Effect<void, InvalidDataError> | undefined

/** What a caller decides about the answer it gets. */
export interface StoreOptions extends NetworkOptions {
  /** Write the cache (default true). */
  readonly writeCache?: boolean | undefined
  /** Validate against the payload schema (default from the `validate_*` keys). */
  readonly validate?: boolean | undefined
}

/** A stored copy being revalidated. */
export type Revalidating = Extract<CacheLookup, { _tag: "Hit" }>

/** Whether a caller's file is validated: its own option, else the `validate_*` keys. */
export const wantsValidation = (
  config: Pick<Tif1ConfigValues, "validateData" | "validateLapTimes" | "validateTelemetry">,
  request: DataRequest,
  options: StoreOptions
): boolean => options.validate ?? shouldValidate(config, request.path)

/** Fetch `request` (cache key `key`), sharing the network fetch, and apply this caller's options. */
export type FetchAndStore = (
  request: DataRequest,
  key: string,
  options: StoreOptions,
  freshness: Freshness,
  revalidating?: Revalidating
) => Effect.Effect<JsonObject, FetchError>

/** The caller's share over shared flights, checking with `validate`, storing into `cache`. */
export const makeFetchAndStore = (
  { cache, freshnessPolicy, shared, validate }: {
    readonly cache: CacheService
    readonly shared: SharedFetch
    readonly freshnessPolicy: FreshnessPolicy
    readonly validate: ValidateFile
  }
): FetchAndStore =>
(request, key, options, freshness, revalidating) => {
  const writeCache = options.writeCache !== false && remembers(freshness)
  /** The first caller that wants the answer stored stores it; the others find it done. */
  const storeOnce = (flight: Flight, store: Effect.Effect<void>) =>
    Effect.suspend(() => {
      if (!writeCache || flight.stored) return Effect.void
      flight.stored = true
      return store
    })
  return Effect.flatMap(
    shared(request, key, options, revalidating?.validators),
    ({ answer, flight }): Effect.Effect<JsonObject, FetchError> => {
      switch (answer._tag) {
        case "NotPublished":
          // A CDN that was not asked (skipped, disabled) or did not answer may have it: this call's answer only.
          return answer.onEveryCdn
            ? Effect.andThen(
              storeOnce(flight, cache.setMissing(key, freshnessPolicy.missingTtl(freshness))),
              Effect.fail(answer.error)
            )
            : Effect.fail(answer.error)
        case "NotModified":
          return Effect.as(storeOnce(flight, cache.touch(key, revalidating!.validators)), revalidating!.value)
        case "Delivered": {
          const check = validate(request, answer.value, options)
          const validated = check === undefined ? Effect.succeed(answer.value) : Effect.as(check, answer.value)
          return Effect.tap(validated, () => storeOnce(flight, cache.set(key, answer.value, answer.validators)))
        }
      }
    }
  )
}
