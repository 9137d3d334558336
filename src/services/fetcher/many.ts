/**
 * Many files at once: `json` for each, at most `concurrency` in flight, results in input order,
 * `None` for a file not found or failed (a failure logged as a warning, a not-found not), and
 * the progress reported after each file. Never fails as a whole; interrupting it interrupts the
 * fetches in flight.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { DataRequestInput } from "../../schema/DataRequest.js"
import type { FetchError } from "../../schema/Errors.js"
import type { JsonObject } from "../Cache.js"
import * as Telemetry from "../internal/telemetry.js"

/** Where a batch stands (the public `FetchProgress`). */
export interface Progress {
  readonly completed: number
  readonly total: number
  readonly delivered: number
  readonly notFound: number
  readonly failed: number
}

/** The options `many` reads; the rest go to `json` as they are. */
export interface BatchOptions {
  readonly concurrency?: number | undefined
  readonly onProgress?: ((progress: Progress) => void) | undefined
}

/** `many` over `json`, with `defaultConcurrency` (`max_concurrent_requests`) when the caller gives none. */
export const makeMany = <Options extends BatchOptions>(
  json: (input: DataRequestInput, options: Options) => Effect.Effect<JsonObject, FetchError>,
  defaultConcurrency: number
) => {
  const batch = (list: ReadonlyArray<DataRequestInput>, options: Options) =>
    Effect.suspend(() => {
      const progress = { completed: 0, total: list.length, delivered: 0, notFound: 0, failed: 0 }
      const report = () => {
        progress.completed++
        options.onProgress?.({ ...progress })
      }
      return Effect.forEach(
        list,
        (request) =>
          Effect.matchEffect(json(request, options), {
            onSuccess: (value) => {
              progress.delivered++
              report()
              return Effect.succeed(Option.some(value))
            },
            onFailure: (error) => {
              if (error._tag === "DataNotFoundError") {
                progress.notFound++
                report()
                return Effect.succeed(Option.none<JsonObject>())
              }
              progress.failed++
              report()
              return Effect.as(Effect.logWarning(`fetch failed: ${error.message}`), Option.none<JsonObject>())
            }
          }),
        { concurrency: options.concurrency ?? defaultConcurrency }
      )
    })
  return (
    requests: Iterable<DataRequestInput>,
    options: Options
  ): Effect.Effect<ReadonlyArray<Option.Option<JsonObject>>> =>
    Effect.suspend(() => {
      const list = Array.from(requests)
      return Telemetry.traced("Fetcher.many", () => ({ "tif1.files": list.length }), batch(list, options))
    })
}
