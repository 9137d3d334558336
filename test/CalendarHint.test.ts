/**
 * Issue 27, "A race that ran cannot be loaded": the schedule is a hint, the CDN is the evidence
 * (SPEC section 4). The 2026 calendar lost its April rounds in Bahrain and Saudi Arabia in March
 * and gained a "Bahrain Grand Prix" at Sepang in August. With the March calendar (the season as it
 * ran without that round, checked against the Stats archive's events.json of 29 March) given as
 * `schedule_dir`, the race loads from a real local mirror that publishes it, with one warning that
 * the schedule is behind; a typo of a listed name fails as before, sending nothing; a name the CDN
 * does not publish either fails as not found, with the schedule's nearest names logged.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as MirrorServer from "../src/mirror/MirrorServer.js"
import * as Calendar from "../src/services/Calendar.js"
import { Fetcher } from "../src/services/Fetcher.js"
import { SessionLoader } from "../src/services/SessionLoader.js"
import { repoRoot } from "./support/cli.js"
import { fixturesRoot, stack } from "./support/stack.js"

const shared = Path.resolve(repoRoot, "../shared/fixtures")
const asRan = JSON.parse(Fs.readFileSync(Path.join(shared, "schedules/2026.json"), "utf8")) as {
  readonly year: number
  readonly events: ReadonlyArray<Calendar.CalendarEvent>
}
const sepang = asRan.events.find((event) => event.location === "Sepang")!

/**
 * The calendar of 30 March: the season as it ran without the round added in August, the rounds
 * after it one lower again.
 */
const marchEvents = asRan.events
  .filter((event) => event !== sepang)
  .map((event) => (event.round > sepang.round ? { ...event, round: event.round - 1 } : event))

/** A folder holding `events` as the 2026 schedule, for `schedule_dir`. */
const scheduleDir = (events: ReadonlyArray<Calendar.CalendarEvent>) => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "tif1-schedule-"))
  Fs.writeFileSync(Path.join(dir, "2026.json"), JSON.stringify({ year: 2026, events }))
  return dir
}

/**
 * A folder in CDN layout publishing the Sepang race as TracingInsights does
 * (`2026/Bahrain Grand Prix/Race/...`; real files, from the 2024 Bahrain race), and a Sprint
 * of the Australian Grand Prix, a session the schedule does not list for that weekend.
 */
const publishedRoot = () => {
  const root = Fs.mkdtempSync(Path.join(Os.tmpdir(), "tif1-cdn-"))
  const copy = (from: string, to: string) => {
    Fs.mkdirSync(Path.dirname(Path.join(root, to)), { recursive: true })
    Fs.copyFileSync(Path.join(fixturesRoot, from), Path.join(root, to))
  }
  copy("2024/Bahrain Grand Prix/Race/drivers.json", "2026/Bahrain Grand Prix/Race/drivers.json")
  copy("2024/Bahrain Grand Prix/Race/VER/laptimes.json", "2026/Bahrain Grand Prix/Race/VER/laptimes.json")
  copy("2024/Bahrain Grand Prix/Race/drivers.json", "2026/Australian Grand Prix/Sprint/drivers.json")
  return root
}

/** The mirror, the stack on it with `schedule_dir`, and the warnings the library logs. */
const setUp = (events: ReadonlyArray<Calendar.CalendarEvent>) =>
  Effect.gen(function*() {
    const root = publishedRoot()
    const mirror = yield* MirrorServer.make({ root, protocol: "h1" })
    const dir = scheduleDir(events)
    const warnings: Array<string> = []
    const logger = Logger.layer([
      Logger.make(({ logLevel, message }) => {
        if (logLevel === "Warn") warnings.push(Array.isArray(message) ? message.map(String).join(" ") : String(message))
      })
    ])
    const provide = <A, E>(effect: Effect.Effect<A, E, Fetcher | SessionLoader>) =>
      effect.pipe(
        Effect.provide(stack({ cdns: [MirrorServer.templateFor(mirror.origin)], maxRetries: 0, scheduleDir: dir })),
        Effect.provide(logger)
      )
    return { root, mirror, dir, warnings, provide }
  })

const readJson = (file: string) => JSON.parse(Fs.readFileSync(file, "utf8").replace(/\bNaN\b/g, "null"))

describe("the bundled 2026 schedule is the season as it ran", () => {
  it("its added round is the Stats archive's race in Malaysia, and without it the calendar is that of 29 March", () => {
    const info = readJson(Path.join(shared, "stats/2026/bahrain-grand-prix-in-malaysia/event_info.json"))
    expect(sepang).toMatchObject({
      round: Number(info.round),
      name: "Bahrain Grand Prix",
      officialName: info.raceName,
      country: info.Circuit.Location.country
    })
    const starts = [info.FirstPractice, info.SecondPractice, info.ThirdPractice, info.Qualifying, info]
      .map(({ date, time }) => `${date}T${time}`)
    expect(sepang.sessions.map((session) => session.start)).toEqual(starts)
    // The Stats archive's calendar of 29 March: 22 rounds, each on the day of the same round here.
    const march = readJson(Path.join(shared, "stats/history/2026-events-2026-03-29.json")).MRData.RaceTable.Races
    const rounds = marchEvents.filter((event) => event.round > 0)
    expect(rounds.length).toBe(march.length)
    for (const race of march) {
      const event = rounds.find((candidate) => candidate.round === Number(race.round))
      expect(event?.sessions.at(-1)?.start.slice(0, 10), race.raceName).toBe(race.date)
    }
  })

  it("data/schedules/README.md says where the added row comes from, as the shared README does", () => {
    const readme = Fs.readFileSync(Path.join(Calendar.bundledScheduleDir, "README.md"), "utf8")
    const section = readme.slice(readme.indexOf("## 2026: the season as it ran"))
    expect(section).toContain("bahrain-grand-prix-in-malaysia/event_info.json")
    expect(section).toContain("`2026/Bahrain Grand Prix/...`")
  })
})

describe("Calendar: a name the schedule does not list and that is no near miss goes to the CDN as written", () => {
  it.effect("on the March calendar, the Bahrain Grand Prix is unlisted; on the season as it ran, round 16", () =>
    Effect.gen(function*() {
      const march = yield* Calendar.make(scheduleDir(marchEvents))
      const unlisted = yield* march.resolve(2026, "Bahrain Grand Prix", "race")
      expect(unlisted).toMatchObject({ gp: "Bahrain Grand Prix", session: "Race", event: undefined })
      expect(unlisted.startsAt).toBeUndefined()
      expect(unlisted.unlisted?.kind).toBe("event")
      // Testing is held in Bahrain: the nearest name the schedule has, though no near miss.
      expect(unlisted.unlisted?.nearest[0]).toBe("Pre-Season Testing")
      expect(yield* march.event(2026, "Bahrain Grand Prix")).toBeUndefined()
      const ran = yield* Calendar.make(Calendar.bundledScheduleDir)
      const listed = yield* ran.resolve(2026, "Bahrain Grand Prix", "race")
      expect(listed.event?.location).toBe("Sepang")
      expect(listed.unlisted).toBeUndefined()
      expect((yield* ran.resolve(2026, "16", "Race")).gp).toBe("Bahrain Grand Prix")
    }))

  it.effect("a typo of a listed name still fails before any I/O, naming the event meant", () =>
    Effect.gen(function*() {
      const march = yield* Calendar.make(scheduleDir(marchEvents))
      for (
        const [typed, meant] of [["Singapur Grand Prix", "Singapore Grand Prix"], ["Vegas", "Las Vegas Grand Prix"]]
      ) {
        const error = yield* Effect.flip(march.resolve(2026, typed!, "Race"))
        expect(error.reason, typed).toContain(`did you mean '${meant}'`)
      }
    }))

  it.effect("every round of every bundled season, left out of its schedule, goes to the CDN as written", () =>
    Effect.gen(function*() {
      // Australian and Austrian are two letters apart: each is a typo of the other, so with one of
      // them listed the other is a near miss (and fails naming it) wherever both are rounds.
      const nearEachOther = new Set(["Australian Grand Prix", "Austrian Grand Prix"])
      let rounds = 0
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "tif1-schedule-"))
      for (const file of Fs.readdirSync(Calendar.bundledScheduleDir).filter((name) => name.endsWith(".json"))) {
        const season = JSON.parse(Fs.readFileSync(Path.join(Calendar.bundledScheduleDir, file), "utf8"))
        const events: ReadonlyArray<Calendar.CalendarEvent> = season.events
        const names = new Set(events.map((event) => event.name))
        for (const left of events.filter((event) => event.round > 0)) {
          const others = events.filter((event) => event.name !== left.name)
          Fs.writeFileSync(Path.join(dir, file), JSON.stringify({ year: season.year, events: others }))
          const leftOut = yield* Calendar.make(dir)
          const resolved = yield* Effect.result(leftOut.resolve(season.year, left.name, "Race"))
          rounds++
          if (nearEachOther.has(left.name) && [...nearEachOther].every((name) => names.has(name))) {
            expect(resolved._tag, `${season.year} ${left.name}`).toBe("Failure")
          } else {
            expect(resolved._tag === "Success" ? resolved.success : resolved.failure, `${season.year} ${left.name}`)
              .toMatchObject({ gp: left.name, unlisted: { kind: "event" } })
          }
        }
      }
      expect(rounds).toBeGreaterThan(180)
    }))

  it.effect("one letter wrong in any event name of any bundled season is a near miss naming that event", () =>
    Effect.gen(function*() {
      const calendar = yield* Calendar.make(Calendar.bundledScheduleDir)
      let typos = 0
      for (const file of Fs.readdirSync(Calendar.bundledScheduleDir).filter((name) => name.endsWith(".json"))) {
        const season = JSON.parse(Fs.readFileSync(Path.join(Calendar.bundledScheduleDir, file), "utf8"))
        for (const name of new Set<string>(season.events.map((event: Calendar.CalendarEvent) => event.name))) {
          const at = Math.max(1, Math.floor(name.split(" ")[0]!.length / 2))
          const variants = [
            name.slice(0, at) + name[at + 1] + name[at] + name.slice(at + 2), // two letters swapped
            name.slice(0, at) + name.slice(at + 1), // one left out
            name.slice(0, at) + name[at] + name.slice(at) // one doubled
          ]
          for (const typo of variants.filter((variant) => variant !== name)) {
            const error = yield* Effect.flip(calendar.resolve(season.year, typo, "Race"))
            expect(error.reason, `${season.year} ${typo}`).toContain(`'${name}'`)
            typos++
          }
        }
      }
      expect(typos).toBeGreaterThan(400)
    }))

  it.effect("a published session name the event does not list passes; a near miss of one it lists fails", () =>
    Effect.gen(function*() {
      const march = yield* Calendar.make(scheduleDir(marchEvents))
      const sprint = yield* march.resolve(2026, "australia", "sprint")
      expect(sprint).toMatchObject({ gp: "Australian Grand Prix", session: "Sprint", unlisted: { kind: "session" } })
      expect(sprint.unlisted?.nearest).toEqual(
        marchEvents.find((event) => event.name === "Australian Grand Prix")!.sessions.map((session) => session.name)
      )
      expect((yield* Effect.flip(march.resolve(2026, "australia", "Raec"))).reason).toContain("(did you mean 'Race'?)")
    }))
})

describe("Fetcher: the CDN is the evidence", () => {
  it.live("the March calendar does not stop a load of the Sepang race that a mirror publishes; one warning", () =>
    Effect.gen(function*() {
      const { dir, mirror, provide, root, warnings } = yield* setUp(marchEvents)
      const race = { year: 2026, gp: "Bahrain Grand Prix", session: "Race" }
      const [drivers, several, loaded, raw] = yield* provide(Effect.gen(function*() {
        const fetcher = yield* Fetcher
        const drivers = yield* fetcher.json({ ...race, path: "drivers.json" })
        const several = yield* fetcher.many(["drivers.json", "VER/laptimes.json", "weather.json"].map((path) => ({
          ...race,
          path
        })))
        const loaded = yield* (yield* SessionLoader).load(race)
        const raw = yield* fetcher.raw({ ...race, path: "drivers.json" })
        return [drivers, several, loaded, raw] as const
      }))
      const published = Path.join(root, "2026/Bahrain Grand Prix/Race")
      expect(drivers).toEqual(readJson(Path.join(published, "drivers.json")))
      expect(Buffer.from(raw.body).equals(Fs.readFileSync(Path.join(published, "drivers.json")))).toBe(true)
      expect(several.map((file) => file._tag)).toEqual(["Some", "Some", "None"])
      expect(loaded.gp).toBe("Bahrain Grand Prix")
      expect(loaded.laps.has("VER")).toBe(true)
      expect(mirror.hits("2026/Bahrain Grand Prix/Race/drivers.json")).toBeGreaterThan(0)
      // One warning for the event, however many files of it were served or missing.
      expect(warnings).toEqual([
        `calendar: the CDN publishes the 2026 event "Bahrain Grand Prix", which the schedule ` +
        `${Path.join(dir, "2026.json")} does not list: that schedule is behind (its round numbers may name other ` +
        "events too); replace it with a current 2026.json (the bundled format: data/schedules/README.md), " +
        "or unset schedule_dir (TIF1_SCHEDULE_DIR) to use the bundled schedules"
      ])
    }))

  it.live("a session the schedule does not list for a listed event is served likewise, one warning naming it", () =>
    Effect.gen(function*() {
      const { provide, root, warnings } = yield* setUp(marchEvents)
      const drivers = yield* provide(Effect.flatMap(Fetcher, (fetcher) =>
        Effect.all([
          fetcher.json({ year: 2026, gp: "Australia", session: "S", path: "drivers.json" }),
          fetcher.json({ year: 2026, gp: "Australian Grand Prix", session: "Sprint", path: "drivers.json" })
        ])))
      expect(drivers[0]).toEqual(readJson(Path.join(root, "2026/Australian Grand Prix/Sprint/drivers.json")))
      expect(warnings.length).toBe(1)
      expect(warnings[0]).toMatch(/^calendar: the CDN publishes "Sprint" of the 2026 Australian Grand Prix, a session/)
    }))

  it.live("a typo of a listed name names the event meant and sends nothing", () =>
    Effect.gen(function*() {
      const { mirror, provide, warnings } = yield* setUp(marchEvents)
      const error = yield* provide(Effect.flatMap(Fetcher, (fetcher) =>
        Effect.flip(fetcher.json({ year: 2026, gp: "Singapur Grand Prix", session: "Race", path: "drivers.json" }))))
      expect(error._tag).toBe("InvalidDataError")
      expect(error.message).toContain("did you mean 'Singapore Grand Prix'")
      expect(mirror.hits()).toBe(0)
      expect(warnings).toEqual([])
    }))

  it.live("an unlisted name no CDN publishes either: DataNotFoundError, one request, the nearest names logged", () =>
    Effect.gen(function*() {
      const { mirror, provide, warnings } = yield* setUp(marchEvents)
      // The round dropped in March: never run, never published.
      const request = { year: 2026, gp: "Saudi Arabian Grand Prix", session: "Race", path: "drivers.json" }
      const errors = yield* provide(Effect.flatMap(Fetcher, (fetcher) =>
        Effect.all([
          Effect.flip(fetcher.json(request)),
          Effect.flip(fetcher.json({ ...request, path: "weather.json" }))
        ])))
      expect(errors.map((error) => error._tag)).toEqual(["DataNotFoundError", "DataNotFoundError"])
      expect(errors[0]).toMatchObject(request)
      expect(mirror.hits("2026/Saudi Arabian Grand Prix/Race/drivers.json")).toBe(1)
      expect(warnings.length).toBe(1)
      const prefix = "not found on any CDN: 2026/Saudi Arabian Grand Prix/Race/drivers.json; " +
        "the 2026 schedule has no event \"Saudi Arabian Grand Prix\" either; the nearest it has: "
      const suffix = " (`tif1 events 2026` lists them)"
      expect(warnings[0]!.startsWith(prefix) && warnings[0]!.endsWith(suffix), warnings[0]).toBe(true)
      const nearest = warnings[0]!.slice(prefix.length, -suffix.length).split(", ")
      expect(nearest.length).toBe(3)
      const listed = new Set(marchEvents.map((event) => `'${event.name}'`))
      for (const name of nearest) expect(listed.has(name), name).toBe(true)
    }))

  it.live("names the schedule lists warn about nothing", () =>
    Effect.gen(function*() {
      const { provide, warnings } = yield* setUp(asRan.events)
      const drivers = yield* provide(Effect.flatMap(Fetcher, (fetcher) =>
        fetcher.json({ year: 2026, gp: "Bahrain Grand Prix", session: "Race", path: "drivers.json" })))
      expect(Object.keys(drivers)).toContain("drivers")
      expect(warnings).toEqual([])
    }))
})
