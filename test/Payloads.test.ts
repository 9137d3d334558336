import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { decodeColumn, decodeTable } from "../src/schema/payloads/columns.js"
import {
  type CircuitMap,
  type Corners,
  decodePayload,
  type Drivers,
  type LapTimes,
  payloadKind,
  type RaceControl,
  shouldValidate,
  Telemetry,
  type Weather
} from "../src/schema/payloads/index.js"
import { knownNumericColumns } from "../src/schema/payloads/knownNumeric.js"
import { parseJsonText } from "../src/services/internal/json.js"
import { fixturesRoot } from "./support/stack.js"

const read = (relative: string): any => {
  const parsed = parseJsonText(Fs.readFileSync(Path.join(fixturesRoot, relative), "utf8"))
  if (parsed.error !== undefined) throw new Error(parsed.error)
  return parsed.value
}
const decoded = <A>(path: string, input: unknown) => Effect.runSync(decodePayload(path, input)) as A
const failure = (path: string, input: unknown) => Effect.runSync(Effect.flip(decodePayload(path, input)))

const allFixtures = (dir: string): Array<string> =>
  Fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? allFixtures(Path.join(dir, entry.name)) : [Path.join(dir, entry.name)]
  )

describe("payload schemas", () => {
  it("decodes every fixture file, old and new shapes", () => {
    const files = allFixtures(fixturesRoot)
    expect(files.length).toBeGreaterThanOrEqual(50)
    for (const file of files) {
      const sessionPath = Path.relative(fixturesRoot, file).split(Path.sep).slice(3).join("/")
      expect(payloadKind(sessionPath)).not.toBe("other")
      const result = Effect.runSync(Effect.result(decodePayload(sessionPath, read(Path.relative(fixturesRoot, file)))))
      if (Result.isFailure(result)) throw new Error(`${file}: ${result.failure.message}`)
    }
    const oldDrivers = decoded<Drivers>(
      "drivers.json",
      JSON.parse(Fs.readFileSync(Path.join(fixturesRoot, "../shapes/drivers-old-shape.json"), "utf8"))
    )
    expect(oldDrivers.drivers[0]).toEqual({ driver: "VER", team: "Red Bull Racing" })
  })

  it("reads drivers: new shape, \"None\" url as null", () => {
    const drivers = decoded<Drivers>("drivers.json", read("2025/Abu Dhabi Grand Prix/Practice 1/drivers.json"))
    expect(drivers.drivers).toHaveLength(20)
    expect(drivers.drivers[0]).toMatchObject({
      driver: "VER",
      team: "Red Bull Racing",
      dn: "1",
      fn: "Max",
      tc: "4781D7"
    })
    expect(drivers.drivers.find((driver) => driver.driver === "SHI")?.url).toBeNull()
  })

  it("reads the long lap table: \"None\" as null, booleans, strings", () => {
    const laps = decoded<LapTimes>(
      "session_laptimes.json",
      read("2025/Abu Dhabi Grand Prix/Practice 1/session_laptimes.json")
    )
    expect(laps.time[0]).toBeNull()
    expect(laps.time[1]).toBe(88.356)
    expect(laps.lap[0]).toBe(1)
    expect(laps.compound[0]).toBe("HARD")
    expect(laps.s2?.[0]).toBe(42.318)
    expect(laps.pb?.slice(0, 2)).toEqual([false, true])
    expect(laps.drv?.[0]).toBe("ANT")
    expect(laps.pout?.[1]).toBeNull()
    expect(laps.lSD?.[0]).toBe("2025-12-05T09:30:27.174000000")
    expect(laps.wWD?.[0]).toBe(222)
  })

  it("reads the minimal shape with bare NaN, and the 11-column 2024 shape with float laps", () => {
    const minimal = decoded<LapTimes>("VER/laptimes.json", read("2025/Australian Grand Prix/Race/VER/laptimes.json"))
    expect(minimal.time.slice(0, 3)).toEqual([119.392, null, null])
    expect(minimal.compound[0]).toBe("INTERMEDIATE")
    const short = decoded<LapTimes>("VER/laptimes.json", read("2024/Bahrain Grand Prix/Race/VER/laptimes.json"))
    expect(short.time[0]).toBe(97.284)
    expect(short.lap[1]).toBe(2)
    expect(short.status?.[0]).toBe("12")
    expect(short.pos?.[0]).toBe(1)
  })

  it("reads telemetry: 0/1 channels as booleans, dataKey as a scalar", () => {
    const tel = decoded<Telemetry>("VER/1_tel.json", read("2025/Australian Grand Prix/Race/VER/1_tel.json")).tel
    expect(tel.time.slice(0, 2)).toEqual([0, 0.119])
    expect(tel.rpm[0]).toBe(10114.3998848)
    expect(tel.gear[0]).toBe(2)
    expect(tel.brake[0]).toBe(true)
    expect(tel.drs[0]).toBe(false)
    expect(tel.dataKey).toBe("2025-Australian Grand Prix-Race-VER-1")
    expect(tel.speed).toHaveLength(879)
  })

  it("boolean columns: 0/1 numbers, booleans, mixed and missing values, and what is refused", () => {
    expect(decodeColumn("brake", [0, 1, 1, 0], "boolean")).toEqual({ values: [false, true, true, false] })
    expect(decodeColumn("brake", [true, 0, 1], "boolean")).toEqual({ values: [true, false, true] })
    expect(decodeColumn("drs", [0, null, 1, "None"], "boolean?")).toEqual({ values: [false, null, true, null] })
    expect(decodeColumn("brake", [0, 1, 2], "boolean")).toEqual({
      error: "column \"brake\" index 2: expected a boolean or 0/1, got 2"
    })
    expect(decodeColumn("brake", [0, null], "boolean")).toEqual({
      error: "column \"brake\" index 1: expected a boolean or 0/1, got null"
    })
    const already = [true, false]
    expect((decodeColumn("brake", already, "boolean") as { values: unknown }).values).toBe(already)
  })

  it("reads race control with ISO times and weather", () => {
    const rcm = decoded<RaceControl>("rcm.json", read("2025/Abu Dhabi Grand Prix/Practice 1/rcm.json"))
    expect(rcm.time[0]).toBe("2025-12-05T09:16:40.000000000")
    expect(rcm.msg[0]).toBe("RISK OF RAIN FOR F1 FIRST PRACTICE SESSION IS 10%")
    expect(rcm.flag[0]).toBeNull()
    expect(rcm.flag[1]).toBe("CLEAR")
    expect(rcm.sector[1]).toBe(4)
    const weather = decoded<Weather>("weather.json", read("2025/Abu Dhabi Grand Prix/Practice 1/weather.json"))
    expect(weather.wT[0]).toBe(53.837)
    expect(weather.wR[0]).toBe(false)
    expect(weather.wWD[1]).toBe(261)
    const corners = decoded<Corners>("corners.json", read("2025/Abu Dhabi Grand Prix/Practice 1/corners.json"))
    expect(corners.CornerNumber[0]).toBe(1)
    expect(corners.Rotation).toBe(280)
    expect(
      failure("corners.json", { ...read("2025/Abu Dhabi Grand Prix/Practice 1/corners.json"), Rotation: "north" })
        .reason
    ).toContain("\"Rotation\" must be a number")
  })

  it("reads the 2026 circuit map (cor.json): markers as objects, lower-case rotation", () => {
    const file = "2026/Australian Grand Prix/Practice 1/cor.json"
    expect(payloadKind("cor.json")).toBe("circuit-map")
    const map = decoded<CircuitMap>("cor.json", read(file))
    expect([map.corners.length, map.marshal_lights.length, map.marshal_sectors.length]).toEqual([14, 20, 20])
    expect(map.rotation).toBe(44)
    expect(map.corners[0]).toEqual({
      X: -3650.594482421875,
      Y: 1193.7841796875,
      Number: 1,
      Letter: "",
      Angle: -176.6327301808908,
      Distance: 350.2510474109085
    })
    const columns = decoded<Corners>("corners.json", read("2026/Australian Grand Prix/Practice 1/corners.json"))
    expect(map.corners.map((corner) => corner.X)).toEqual(columns.X)
    const broken = read(file)
    broken.marshal_lights[3].Number = "4"
    expect(failure("cor.json", broken).reason).toBe(
      "circuit map: marshal_lights[3].Number: expected a number, got \"4\""
    )
    expect(failure("cor.json", { ...read(file), rotation: undefined }).reason).toContain(
      "\"rotation\" must be a number"
    )
    expect(failure("cor.json", { ...read(file), marshal_sectors: {} }).reason).toContain(
      "\"marshal_sectors\" is not an array"
    )
  })

  it("keeps unknown extra columns (2026 channels, new ones)", () => {
    const input = read("2025/Australian Grand Prix/Race/NOR/1_tel.json")
    const length = input.tel.time.length
    const tel = decoded<Telemetry>("NOR/1_tel.json", {
      tel: {
        ...input.tel,
        DriverAhead: Array.from({ length }, (_, i) => (i === 0 ? "None" : "VER")),
        DistanceToDriverAhead: Array.from({ length }, () => 12.5),
        brandNewChannel: Array.from({ length }, () => 1)
      }
    }).tel
    expect(tel.DriverAhead?.slice(0, 2)).toEqual([null, "VER"])
    expect(tel.DistanceToDriverAhead?.[0]).toBe(12.5)
    expect((tel as any).brandNewChannel).toHaveLength(length)
  })

  it("keeps extra columns named like Object.prototype's members, and a \"__proto__\" column as data", () => {
    const spec = { name: "table", columns: { time: "number" } } as const
    const input = JSON.parse(`{"time":[1,2],"constructor":[3,4],"toString":["a","b"],"__proto__":[5,6]}`)
    const table = decodeTable(input, spec)
    if ("error" in table) throw new Error(table.error)
    expect(Object.keys(table.value)).toEqual(["time", "constructor", "toString", "__proto__"])
    expect(table.value.constructor).toEqual([3, 4])
    expect(Object.getPrototypeOf(table.value)).toBe(Object.prototype)
    expect(Object.getOwnPropertyDescriptor(table.value, "__proto__")?.value).toEqual([5, 6])
  })

  it("0/1 columns the row codec built: booleans, or the general check's error for anything else", () => {
    const codecColumn = (values: Array<unknown>) => {
      knownNumericColumns.add(values as Array<number>)
      return values
    }
    expect(decodeColumn("brake", codecColumn([0, 1, 1, 0, 1, 0, 0, 1]), "boolean")).toEqual({
      values: [false, true, true, false, true, false, false, true]
    })
    expect(decodeColumn("brake", codecColumn([0, 1, 2, 0, 1, 0, 0, 1]), "boolean")).toEqual({
      error: "column \"brake\" index 2: expected a boolean or 0/1, got 2"
    })
    const holed = codecColumn([0, 1, 1, 0, 1, 0, 0, 1])
    delete holed[4]
    expect(decodeColumn("drs", holed, "boolean")).toEqual({
      error: "column \"drs\" index 4: expected a boolean or 0/1, got undefined"
    })
  })

  it("rejects a column one element short, naming both columns", () => {
    const input = read("2025/Australian Grand Prix/Race/VER/2_tel.json")
    input.tel.throttle.pop()
    const error = failure("VER/2_tel.json", input)
    expect(error._tag).toBe("InvalidDataError")
    expect(error.path).toBe("VER/2_tel.json")
    expect(error.reason).toMatch(/"time" has \d+, "throttle" has \d+/)
  })

  it("rejects a string in a number column, naming the column and index", () => {
    const input = read("2025/Abu Dhabi Grand Prix/Practice 1/weather.json")
    input.wAT[3] = "warm"
    expect(failure("weather.json", input).reason).toBe(
      "weather: column \"wAT\" index 3: expected a number or a missing value, got \"warm\""
    )
  })

  it("rejects a missing required column and a missing tel", () => {
    const laps = read("2025/Australian Grand Prix/Race/HAM/laptimes.json")
    delete laps.lap
    expect(failure("HAM/laptimes.json", laps).reason).toBe("lap table: missing column \"lap\"")
    expect(failure("HAM/1_tel.json", { telemetry: {} }).reason).toBe("telemetry: missing \"tel\"")
    const rcm = read("2025/Abu Dhabi Grand Prix/Practice 1/rcm.json")
    rcm.time[2] = "yesterday"
    expect(failure("rcm.json", rcm).reason).toContain("column \"time\" index 2")
    expect(failure("drivers.json", { drivers: [{ driver: "VER" }] }).reason).toContain("\"team\"")
  })

  it("is an Effect Schema too", () => {
    const input = read("2025/Australian Grand Prix/Qualifying/VER/1_tel.json")
    const result = Schema.decodeUnknownResult(Telemetry)(input)
    expect(Result.isSuccess(result) && result.success.tel.dataKey).toBe("2025-Australian Grand Prix-Qualifying-VER-1")
    expect(Result.isFailure(Schema.decodeUnknownResult(Telemetry)({ tel: { time: [1] } }))).toBe(true)
  })

  it("chooses validation by the config switches", () => {
    const off = { validateData: false, validateLapTimes: false, validateTelemetry: false }
    expect(shouldValidate(off, "VER/1_tel.json")).toBe(false)
    expect(shouldValidate({ ...off, validateTelemetry: true }, "VER/1_tel.json")).toBe(true)
    expect(shouldValidate({ ...off, validateTelemetry: true }, "VER/laptimes.json")).toBe(false)
    expect(shouldValidate({ ...off, validateLapTimes: true }, "session_laptimes.json")).toBe(true)
    expect(shouldValidate({ ...off, validateData: true }, "rcm.json")).toBe(true)
  })
})

describe("Python JSON tokens", () => {
  it("reads NaN as null and ±Infinity as numbers, leaving strings alone", () => {
    const parsed = parseJsonText("{\"a\": [NaN, 1.5, Infinity, -Infinity], \"s\": \"NaN Infinity\"}")
    expect(parsed.value).toEqual({ a: [null, 1.5, Infinity, -Infinity], s: "NaN Infinity" })
    expect(parseJsonText("{\"a\": [1,").error).toBeDefined()
    expect(parseJsonText("{\"a\": NaNa}").error).toBeDefined()
  })
})
