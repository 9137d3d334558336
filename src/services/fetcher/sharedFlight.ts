/**
 * Shared flights: one network fetch per key at a time, shared by concurrent callers. The owner's
 * exit is handed to every joiner; if the owner is interrupted, a joiner starts its own fetch. The
 * network options (timeout, retries) are the owner's; what each caller does with the answer
 * (validation, cache writes) is its own (`fetchAndStore.ts`). A conditional fetch (revalidation)
 * is shared only with other conditional fetches of the key.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type { DataRequest } from "../../schema/DataRequest.js"
import type { FetchError } from "../../schema/Errors.js"
import type { JsonObject, Validators } from "../Cache.js"
import { deepFreeze } from "../internal/json.js"
import type { NetworkFetch, NetworkOptions, NotPublished } from "./networkFetch.js"

/** What a shared network fetch hands its callers. */
export type SharedAnswer =
  | { readonly _tag: "Delivered"; readonly value: JsonObject; readonly validators: Validators }
  | { readonly _tag: "NotModified"; readonly source: string }
  | NotPublished

/** A fetch in progress: joiners are resumed with its exit. */
export interface Flight {
  readonly joiners: Set<(exit: Effect.Effect<Exit.Exit<SharedAnswer, FetchError>>) => void>
  /** Whether a caller has stored the answer (the value, its 304 or its not-found) in the cache. */
  stored: boolean
}

/** Wait for a flight's exit (leaving the joiner list if interrupted). */
const joinFlight = (flight: Flight) =>
  Effect.callback<Exit.Exit<SharedAnswer, FetchError>>((resume) => {
    flight.joiners.add(resume)
    return Effect.sync(() => {
      flight.joiners.delete(resume)
    })
  })

/** Fetch `request` (cache key `key`) in a flight of its own, or join the one in progress. */
export type SharedFetch = (
  request: DataRequest,
  key: string,
  options: NetworkOptions,
  stored: Validators | undefined
) => Effect.Effect<{ readonly answer: SharedAnswer; readonly flight: Flight }, FetchError>

/** Shared flights over a network fetch: the flights in progress live as long as the returned function. */
export const makeSharedFetch = (fetchFromNetwork: NetworkFetch): SharedFetch => {
  // In-flight fetches by key: one network fetch per key at a time.
  const inFlight = new Map<string, Flight>()
  const shared: SharedFetch = (request, key, options, stored) =>
    Effect.suspend(() => {
      const flightKey = stored === undefined ? key : `${key}\u0000revalidate`
      const existing = inFlight.get(flightKey)
      if (existing !== undefined) {
        return Effect.flatMap(
          joinFlight(existing),
          (exit) =>
            Exit.hasInterrupts(exit)
              ? shared(request, key, options, stored)
              : Exit.map(exit, (answer) => ({ answer, flight: existing }))
        )
      }
      const flight: Flight = { joiners: new Set(), stored: false }
      inFlight.set(flightKey, flight)
      const fetched = Effect.map(
        fetchFromNetwork(request, key, options, stored),
        (answer): SharedAnswer =>
          answer._tag === "Delivered"
            ? { _tag: "Delivered", value: deepFreeze(answer.value), validators: answer.validators }
            : answer
      )
      return Effect.map(
        Effect.onExit(fetched, (exit) =>
          Effect.sync(() => {
            inFlight.delete(flightKey)
            for (const joiner of flight.joiners) joiner(Effect.succeed(exit))
          })),
        (answer) => ({ answer, flight })
      )
    })
  return shared
}
