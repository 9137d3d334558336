/**
 * A synthetic session in CDN layout built from the real fixtures: the real `drivers.json`, and for
 * each driver a lap table of `laps` rows (cut from a real one) and one telemetry file per lap, a
 * hard link to (or copy of) one of the real telemetry files, so sizes and shapes are real.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { templateFor } from "../src/mirror/MirrorServer.js"
import { parseSourceShape, urlFor } from "../src/schema/DataRequest.js"

export const benchSession = { year: 2025, gp: "Bahrain Grand Prix", session: "Race" } as const

/** A 20 KB JSON file in the session folder: a real telemetry file cut to its first samples. */
export const smallPath = "small.json"
const smallBytes = 20_000

export interface SyntheticSession {
  readonly root: string
  /** Paths inside the session folder, e.g. `VER/1_tel.json`. */
  readonly telemetryPaths: ReadonlyArray<string>
  /** Every file of the session, session-relative. */
  readonly allPaths: ReadonlyArray<string>
  readonly telemetryBytes: number
}

const realTelemetryFiles = (fixturesRoot: string): Array<string> => {
  const found: Array<string> = []
  const walk = (dir: string) => {
    for (const entry of Fs.readdirSync(dir, { withFileTypes: true })) {
      const full = Path.join(dir, entry.name)
      if (entry.isDirectory()) walk(full)
      else if (entry.name.endsWith("_tel.json")) found.push(full)
    }
  }
  walk(fixturesRoot)
  return found.sort()
}

const linkOrCopy = (from: string, to: string) => {
  try {
    Fs.linkSync(from, to)
  } catch {
    Fs.copyFileSync(from, to)
  }
}

/** Build the session under `root` (which must be empty or missing). */
export const buildSyntheticSession = (
  fixturesRoot: string,
  root: string,
  options: { readonly drivers: number; readonly laps: number }
): SyntheticSession => {
  const race = Path.join(fixturesRoot, "2025/Australian Grand Prix/Race")
  const folder = Path.join(root, String(benchSession.year), benchSession.gp, benchSession.session)
  Fs.mkdirSync(folder, { recursive: true })
  const realDrivers = JSON.parse(Fs.readFileSync(Path.join(race, "drivers.json"), "utf8")) as {
    drivers: Array<{ driver: string }>
  }
  const drivers = realDrivers.drivers.slice(0, options.drivers)
  if (drivers.length < options.drivers) throw new Error(`the fixtures have only ${drivers.length} drivers`)
  Fs.writeFileSync(Path.join(folder, "drivers.json"), JSON.stringify({ drivers }))
  // Weather and race control as a real session has them (the Australian GP folder has none).
  const abuDhabi = Path.join(fixturesRoot, "2025/Abu Dhabi Grand Prix/Practice 1")
  for (const file of ["weather.json", "rcm.json"]) linkOrCopy(Path.join(abuDhabi, file), Path.join(folder, file))
  // A real lap table (with its bare NaN) cut to `laps` rows.
  const lapTable = JSON.parse(
    Fs.readFileSync(Path.join(race, "VER/laptimes.json"), "utf8").replaceAll("NaN", "null")
  ) as Record<string, Array<unknown>>
  const cut = Object.fromEntries(
    Object.entries(lapTable).map(([column, values]) => [
      column,
      Array.from({ length: options.laps }, (_, row) => column === "lap" ? row + 1 : values[row % values.length])
    ])
  )
  const sources = realTelemetryFiles(fixturesRoot)
  const telemetry = JSON.parse(Fs.readFileSync(sources[0]!, "utf8")) as { tel: Record<string, unknown> }
  const cutTo = (samples: number) =>
    JSON.stringify({
      tel: Object.fromEntries(
        Object.entries(telemetry.tel).map(([channel, values]) => [
          channel,
          Array.isArray(values) ? values.slice(0, samples) : values
        ])
      )
    })
  let samples = 1
  while (cutTo(samples + 1).length <= smallBytes) samples++
  Fs.writeFileSync(Path.join(folder, smallPath), cutTo(samples))
  const telemetryPaths: Array<string> = []
  let telemetryBytes = 0
  drivers.forEach(({ driver }, driverIndex) => {
    Fs.mkdirSync(Path.join(folder, driver), { recursive: true })
    Fs.writeFileSync(Path.join(folder, driver, "laptimes.json"), JSON.stringify(cut))
    for (let lap = 1; lap <= options.laps; lap++) {
      const source = sources[(driverIndex * options.laps + lap) % sources.length]!
      const path = `${driver}/${lap}_tel.json`
      linkOrCopy(source, Path.join(folder, path))
      telemetryBytes += Fs.statSync(source).size
      telemetryPaths.push(path)
    }
  })
  const allPaths = [
    "drivers.json",
    "weather.json",
    "rcm.json",
    ...drivers.map(({ driver }) => `${driver}/laptimes.json`),
    ...telemetryPaths
  ]
  return { root, telemetryPaths, allPaths, telemetryBytes }
}

/**
 * The URL of a file of the synthetic session on a mirror origin (what curl, h2load and raw
 * undici ask for; tif1 builds the same one from its CDN template).
 */
export const benchUrl = (origin: string, path: string): string =>
  urlFor(parseSourceShape(templateFor(origin)), { ...benchSession, path })
