/**
 * Every document of the archive by its file name, and the check the `Fetcher` makes of one before
 * it is stored (the checks its decoder makes).
 *
 * @since 0.2.0
 */
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import type { InvalidDataError } from "../Errors.js"
import { decodeEventInfo, decodeEvents } from "./Events.js"
import { decodeLapPositions, decodePitStops } from "./Laps.js"
import { decodeQualifying, decodeResults, decodeSprintResults } from "./Results.js"
import { decodeDriverStandings, decodeTeamStandings } from "./Standings.js"

/**
 * The decoder of each file of the archive, by file name.
 *
 * @since 0.2.0
 */
export const decoders: Readonly<
  Record<string, (file: string, input: unknown) => Result.Result<unknown, InvalidDataError>>
> = {
  "events.json": decodeEvents,
  "event_info.json": decodeEventInfo,
  "results.json": decodeResults,
  "sprint_results.json": decodeSprintResults,
  "quali_results.json": decodeQualifying,
  "pitstops.json": decodePitStops,
  "laptimes.json": decodeLapPositions,
  "driverPoints.json": decodeDriverStandings,
  "teamPoints.json": decodeTeamStandings
}

/**
 * Check a parsed document of the archive by its file name (`name`, such as `results.json`;
 * `file` names it in the error): the checks its decoder makes. A file of no known kind passes.
 *
 * @since 0.2.0
 */
export const validateDocument = (file: string, name: string, input: unknown): Effect.Effect<void, InvalidDataError> => {
  const decode = decoders[name]
  if (decode === undefined) return Effect.void
  const decoded = decode(file, input)
  return Result.isSuccess(decoded) ? Effect.void : Effect.fail(decoded.failure)
}
