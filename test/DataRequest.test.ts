import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import {
  cacheKey,
  type DataRequest,
  decodeRequest,
  parseSourceShape,
  resolveSessionName,
  urlFor
} from "../src/schema/DataRequest.js"
import { InvalidDataError } from "../src/schema/Errors.js"

const request = (fields: Partial<DataRequest> = {}): DataRequest => ({
  year: 2025,
  gp: "Abu Dhabi Grand Prix",
  session: "Practice 1",
  path: "drivers.json",
  ...fields
})

const decodeFailure = (input: unknown) =>
  Effect.gen(function*() {
    const exit = yield* Effect.exit(decodeRequest(input))
    if (Exit.isSuccess(exit)) throw new Error(`expected ${JSON.stringify(input)} to be rejected`)
    const error = yield* Effect.flip(decodeRequest(input))
    expect(error).toBeInstanceOf(InvalidDataError)
    return error
  })

describe("DataRequest", () => {
  it("maps every session alias to its published name", () => {
    expect(resolveSessionName("FP1")).toBe("Practice 1")
    expect(resolveSessionName("FP2")).toBe("Practice 2")
    expect(resolveSessionName("fp3")).toBe("Practice 3")
    expect(resolveSessionName("Q")).toBe("Qualifying")
    expect(resolveSessionName("S")).toBe("Sprint")
    expect(resolveSessionName("SS")).toBe("Sprint Shootout")
    expect(resolveSessionName("SQ")).toBe("Sprint Qualifying")
    expect(resolveSessionName("R")).toBe("Race")
    expect(resolveSessionName("Race")).toBe("Race")
  })

  it.effect("decodes a good request, resolving the alias", () =>
    Effect.gen(function*() {
      const decoded = yield* decodeRequest({
        year: 2025,
        gp: "Australian Grand Prix",
        session: "R",
        path: "VER/1_tel.json"
      })
      expect(decoded).toEqual({ year: 2025, gp: "Australian Grand Prix", session: "Race", path: "VER/1_tel.json" })
    }))

  it.effect("rejects a path with ..", () =>
    Effect.gen(function*() {
      const error = yield* decodeFailure(request({ path: "../2024/drivers.json" }))
      expect(error.path).toBe("path")
      expect(error.reason).toContain("\"..\"")
    }))

  it.effect("rejects gp or session . and .. (a URL would fold them into the parent folder)", () =>
    Effect.gen(function*() {
      for (const field of ["gp", "session"] as const) {
        for (const name of [".", ".."]) {
          const error = yield* decodeFailure(request({ [field]: name }))
          expect(error.path).toBe(field)
          expect(error.reason).toContain(`${field} must not be ${JSON.stringify(name)}`)
        }
      }
      // Dots inside a name are names.
      expect((yield* decodeRequest(request({ gp: "Grand Prix..." }))).gp).toBe("Grand Prix...")
    }))

  it.effect("rejects a lone surrogate (not Unicode, not encodable), keeps paired ones", () =>
    Effect.gen(function*() {
      for (const name of ["\uD800", "a\uDC00b", "x\uDBFF"]) {
        const error = yield* decodeFailure(request({ gp: name }))
        expect(error.reason).toContain("gp must be valid Unicode")
      }
      expect((yield* decodeRequest(request({ gp: "Grand Prix \u{1F3CE}" }))).gp).toBe("Grand Prix \u{1F3CE}")
    }))

  it.effect("rejects an absolute path", () =>
    Effect.gen(function*() {
      const error = yield* decodeFailure(request({ path: "/etc/passwd.json" }))
      expect(error.reason).toContain("absolute")
    }))

  it.effect("rejects an empty gp", () =>
    Effect.gen(function*() {
      const error = yield* decodeFailure(request({ gp: "" }))
      expect(error.path).toBe("gp")
      expect(error.reason).toContain("gp must not be empty")
    }))

  it.effect("rejects years outside 2018..2100 and non-integers", () =>
    Effect.gen(function*() {
      for (const year of [2017, 2101, 2025.5]) {
        const error = yield* decodeFailure(request({ year }))
        expect(error.path).toBe("year")
      }
    }))

  it.effect("rejects a path not ending in .json, odd characters and non-objects", () =>
    Effect.gen(function*() {
      expect((yield* decodeFailure(request({ path: "drivers.csv" }))).reason).toContain(".json")
      expect((yield* decodeFailure(request({ path: "VER/1 tel.json" }))).reason).toContain("may only contain")
      expect((yield* decodeFailure(request({ path: "VER//1_tel.json" }))).reason).toContain("empty segment")
      expect((yield* decodeFailure("drivers.json")).path).toBe("request")
    }))

  it("builds jsDelivr URLs with percent-encoded names", () => {
    const jsdelivr = parseSourceShape("https://cdn.jsdelivr.net/gh/TracingInsights/")
    expect(urlFor(jsdelivr, request())).toBe(
      "https://cdn.jsdelivr.net/gh/TracingInsights/2025@main/Abu%20Dhabi%20Grand%20Prix/Practice%201/drivers.json"
    )
    expect(urlFor(jsdelivr, request({ gp: "São Paulo Grand Prix", session: "Sprint Qualifying" }))).toBe(
      "https://cdn.jsdelivr.net/gh/TracingInsights/2025@main/S%C3%A3o%20Paulo%20Grand%20Prix/Sprint%20Qualifying/drivers.json"
    )
  })

  it("builds template URLs", () => {
    const template = parseSourceShape(
      "https://cdn.staticdelivr.com/gh/TracingInsights/{year}/main/{gp}/{session}/{path}"
    )
    expect(urlFor(template, request({ path: "VER/12_tel.json" }))).toBe(
      "https://cdn.staticdelivr.com/gh/TracingInsights/2025/main/Abu%20Dhabi%20Grand%20Prix/Practice%201/VER/12_tel.json"
    )
    expect(urlFor(template, request({ gp: "São Paulo Grand Prix" }), true)).toBe(
      "https://cdn.staticdelivr.com/gh/TracingInsights/2025/main/S%C3%A3o%20Paulo%20Grand%20Prix/Practice%201/drivers.json"
    )
  })

  it("minifies on jsDelivr only", () => {
    const jsdelivr = parseSourceShape("https://cdn.jsdelivr.net/gh/TracingInsights")
    expect(urlFor(jsdelivr, request({ path: "VER/laptimes.json" }), true)).toBe(
      "https://cdn.jsdelivr.net/gh/TracingInsights/2025@main/Abu%20Dhabi%20Grand%20Prix/Practice%201/VER/laptimes.min.json"
    )
    const mirror = parseSourceShape("http://127.0.0.1:8080")
    expect(urlFor(mirror, request(), true)).toBe(
      "http://127.0.0.1:8080/2025@main/Abu%20Dhabi%20Grand%20Prix/Practice%201/drivers.json"
    )
  })

  it("keys the cache by plain names", () => {
    expect(cacheKey(request({ gp: "São Paulo Grand Prix", path: "VER/1_tel.json" }))).toBe(
      "2025/São Paulo Grand Prix/Practice 1/VER/1_tel.json"
    )
  })
})
