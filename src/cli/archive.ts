/**
 * The Stats archive on the command line (SPEC section 9): `tif1 results`, `tif1 standings`, and
 * `tif1 events` for the seasons before the timing data (1950-2017), as tables on a terminal or as
 * the typed rows in JSON; and the one-line podiums and leaders `tif1 demo` shows. Imported when one
 * of those commands runs, never for `tif1 --help`.
 *
 * Names resolve in the archive (`Archive`), as every event name of the command line does: any
 * spelling, a round, a country; a typo is a usage mistake with the nearest names (`archiveNames`),
 * a race the archive does not have is not found.
 *
 * @since 0.2.0
 */
import * as Effect from "effect/Effect"
import type { FetchError } from "../schema/Errors.js"
import {
  Archive,
  type ArchiveEvent,
  type ArchiveOptions,
  type Driver,
  type DriverStanding,
  type RaceResult,
  type TeamStanding
} from "../services/Archive.js"
import { archiveNames } from "./names.js"
import { alignedTable, table, type UnknownNameError, type UsageError } from "./render.js"

/** What an archive command prints: a table (`text`), or the typed rows (`json`). */
type Report = Effect.Effect<string, FetchError | UnknownNameError | UsageError, Archive>

/** `Lando Norris`. */
const fullName = (driver: Driver): string => `${driver.givenName} ${driver.familyName}`

/**
 * Drivers as a column: the three-letter code, then the name, the names aligned (a blank code
 * where a driver has none); the name alone when no driver of the table has a code (the 1950s).
 */
const driverCells = (drivers: ReadonlyArray<Driver>): ReadonlyArray<string> =>
  drivers.some((driver) => driver.code !== undefined)
    ? drivers.map((driver) => `${(driver.code ?? "").padEnd(3)}  ${fullName(driver)}`)
    : drivers.map(fullName)

/** `25`, `0.5`: points as the archive counts them. */
const points = (value: number): string => String(value)

/** `+1 Lap`, `+3 Laps`. */
const lapsDown = (laps: number): string => `+${laps} Lap${laps === 1 ? "" : "s"}`

/**
 * The time column of a classification: the winner's race time, the gap of the others on the
 * lead lap, laps down for a lapped finisher, else the status as published (`Retired`, `Engine`).
 * A time is shown only for a classified driver on the lead lap: a lapped finisher's published time
 * is a gap on the leader's lap (`+1.327` a lap down), and one retired row of 2025 has `+-1:47:38.638`.
 */
const timeOrGap = (row: RaceResult, leaderLaps: number): string => {
  const classified = /^\d+$/.test(row.positionText)
  if (classified && row.laps < leaderLaps) return lapsDown(leaderLaps - row.laps)
  if (classified && row.time !== null) return row.time.text
  return row.status
}

/** `2025 Australian Grand Prix (round 1, 2025-03-16, Melbourne, Australia)`. */
const eventTitle = ({ circuit, date, name, round, year }: ArchiveEvent): string =>
  `${year} ${name} (round ${round}, ${date}, ${circuit.locality}, ${circuit.country})`

/**
 * A race's classification as a table: place as published (`R` retired), driver, team, time or
 * gap, points.
 *
 * @since 0.2.0
 */
export const resultsTable = (event: ArchiveEvent, rows: ReadonlyArray<RaceResult>): string => {
  if (rows.length === 0) return `${eventTitle(event)}: no results published yet\n`
  const leaderLaps = (rows.find((row) => row.position === 1) ?? rows[0]!).laps
  const drivers = driverCells(rows.map((row) => row.driver))
  return `${eventTitle(event)}\n${
    alignedTable(
      ["pos", "driver", "team", "time", "points"],
      rows.map((row, index) => [
        row.positionText,
        drivers[index]!,
        row.team.name,
        timeOrGap(row, leaderLaps),
        points(row.points)
      ]),
      [0, 4]
    )
  }`
}

/** `2025 drivers' standings after round 24 (Abu Dhabi Grand Prix)`. */
const standingsTitle = (
  year: number,
  of: "drivers" | "teams",
  round: number | undefined,
  event: ArchiveEvent | undefined
): string =>
  `${year} ${of}' standings${
    round === undefined
      ? ": none published yet"
      : ` after round ${round}${event === undefined ? "" : ` (${event.name})`}`
  }`

/**
 * Drivers' standings as a table: place (`-` for none), driver, the teams driven for, points, wins.
 *
 * @since 0.2.0
 */
const driverStandingsTable = (
  year: number,
  rows: ReadonlyArray<DriverStanding>,
  event?: ArchiveEvent
): string => {
  const title = standingsTitle(year, "drivers", rows[0]?.round, event)
  if (rows.length === 0) return `${title}\n`
  const drivers = driverCells(rows.map((row) => row.driver))
  return `${title}\n${
    alignedTable(
      ["pos", "driver", "team", "points", "wins"],
      rows.map((row, index) => [
        row.positionText,
        drivers[index]!,
        row.teams.map((team) => team.name).join(", "),
        points(row.points),
        String(row.wins)
      ]),
      [0, 3, 4]
    )
  }`
}

/**
 * Teams' standings as a table: place, team, points, wins.
 *
 * @since 0.2.0
 */
const teamStandingsTable = (year: number, rows: ReadonlyArray<TeamStanding>, event?: ArchiveEvent): string => {
  const title = standingsTitle(year, "teams", rows[0]?.round, event)
  if (rows.length === 0) return `${title}\n`
  return `${title}\n${
    alignedTable(
      ["pos", "team", "points", "wins"],
      rows.map((row) => [row.positionText, row.team.name, points(row.points), String(row.wins)]),
      [0, 2, 3]
    )
  }`
}

/** `1950-05-13`, or `2016-03-20 05:00 UTC` where the archive has the time. */
const sessionStart = (date: string, time: string | null): string =>
  time === null ? date : `${date} ${time.slice(0, 5)} UTC`

/**
 * A season's events from the archive, in the shape of `tif1 events` for the timing data's
 * seasons: a line per race, then its sessions with their UTC starts (the archive has no local
 * times: it gives no UTC offset; before 2005 it has race days only).
 *
 * @since 0.2.0
 */
const archiveEventsText = (events: ReadonlyArray<ArchiveEvent>): string =>
  events.map((event) =>
    `R${String(event.round).padStart(2, "0")}  ${event.name}  (${event.circuit.locality}, ${event.circuit.country})\n` +
    table(event.sessions.map((session) => [session.name, sessionStart(session.date, session.time)] as const))
  ).join("")

/** Rows as one line of JSON. */
const asJson = (rows: unknown): string => `${JSON.stringify(rows)}\n`

/**
 * `tif1 results <year> <gp>`: the race's classification.
 *
 * @since 0.2.0
 */
export const resultsReport = (
  query: { readonly year: number; readonly gp: string },
  options: ArchiveOptions & { readonly json: boolean }
): Report =>
  archiveNames(Effect.gen(function*() {
    const { json, ...fetchOptions } = options
    const archive = yield* Archive
    const rows = yield* archive.results(query, fetchOptions)
    // The event for the title: the same name resolved again, from what the results resolved it from.
    const event = yield* archive.event(query, fetchOptions)
    return json ? asJson(rows) : resultsTable(event, rows)
  }))

/**
 * `tif1 standings <year> [--teams] [--after <gp>]`: after an event, or as the archive last saved
 * the season's (each row says after which round).
 *
 * @since 0.2.0
 */
export const standingsReport = (
  query: { readonly year: number; readonly of: "drivers" | "teams"; readonly after: string | undefined },
  options: ArchiveOptions & { readonly json: boolean }
): Report =>
  archiveNames(Effect.gen(function*() {
    const { json, ...fetchOptions } = options
    const archive = yield* Archive
    const gp = query.after === undefined ? {} : { gp: query.after }
    // After the standings, so that a race the archive lacks is named by the standings' document.
    const eventOf = query.after === undefined
      ? Effect.undefined
      : archive.event({ year: query.year, gp: query.after }, fetchOptions)
    if (query.of === "teams") {
      const rows = yield* archive.standings({ year: query.year, of: "teams", ...gp }, fetchOptions)
      return json ? asJson(rows) : teamStandingsTable(query.year, rows, yield* eventOf)
    }
    const rows = yield* archive.standings({ year: query.year, of: "drivers", ...gp }, fetchOptions)
    return json ? asJson(rows) : driverStandingsTable(query.year, rows, yield* eventOf)
  }))

/**
 * `tif1 events <year>` for a season before the timing data: the archive's `events.json`.
 *
 * @since 0.2.0
 */
export const archiveEventsReport = (year: number, options: { readonly json: boolean }): Report =>
  archiveNames(Effect.map(
    Archive.use((archive) => archive.events(year)),
    (events) => (options.json ? asJson(events) : archiveEventsText(events))
  ))

/**
 * The first `count` of a classification on one line, as the demo prints it:
 * `1 NOR McLaren 1:42:06.304, 2 VER Red Bull +0.895` (the family name where a driver has no code).
 *
 * @since 0.2.0
 */
export const podiumLine = (rows: ReadonlyArray<RaceResult>, count: number): string => {
  const leaderLaps = (rows.find((row) => row.position === 1) ?? rows[0])?.laps ?? 0
  return rows.slice(0, count).map((row) =>
    `${row.positionText} ${row.driver.code ?? row.driver.familyName} ${row.team.name} ${timeOrGap(row, leaderLaps)}`
  ).join(", ")
}

/**
 * The first `count` of the standings on one line: `1 NOR 423, 2 VER 421` or `1 McLaren 833`.
 *
 * @since 0.2.0
 */
export const leadersLine = (rows: ReadonlyArray<DriverStanding | TeamStanding>, count: number): string =>
  rows.slice(0, count).map((row) =>
    `${row.positionText} ${"driver" in row ? row.driver.code ?? row.driver.familyName : row.team.name} ${
      points(row.points)
    }`
  ).join(", ")
