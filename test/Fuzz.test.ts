/**
 * Random requests (seeded, so a failure replays) through every public entry point: each one is
 * answered, or rejected with `InvalidDataError` before any I/O, and no request the server sees
 * leaves `{year}/{gp}/{session}/`.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Scope from "effect/Scope"
import type * as Http from "node:http"
import { Tif1Client } from "../src/client.js"
import * as Tif1 from "../src/layers/Tif1.js"
import { Fetcher } from "../src/services/Fetcher.js"
import { startServer, type TestServer } from "./support/servers.js"

/** mulberry32: a small seeded generator. */
const seeded = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

const namePieces = [
  "..",
  ".",
  "%2e%2e",
  "%2E%2e%2f",
  "%2F",
  "\u0000",
  "\uD800",
  "\uDC00",
  "\\",
  "?",
  "#",
  "/",
  "&",
  "+",
  "%",
  "Grand Prix",
  "Race",
  "Australian Grand Prix",
  "é",
  "\u00e9\u0301",
  "\u{1F3CE}",
  " ",
  "\t",
  "\u007f",
  "R",
  "FP1",
  "a".repeat(250),
  "..\\..",
  "./",
  "~",
  "@main",
  "{year}",
  "{path}"
]
const pathPieces = [
  "drivers.json",
  "../drivers.json",
  "VER/1_tel.json",
  "a/../b.json",
  "%2e%2e/x.json",
  "x.json?y=1",
  "x#.json",
  "",
  "/abs.json",
  "VER\\1.json",
  "./x.json",
  "VER//1.json",
  "x.JSON",
  `${"b".repeat(400)}.json`,
  "\u00e9.json",
  ".."
]
const years: ReadonlyArray<unknown> = [2025, 2017, 2101, 2025.5, Number.NaN, "2025", -1, 1e9, 2018, 2100]

const pick = <A>(random: () => number, list: ReadonlyArray<A>): A => list[Math.floor(random() * list.length)]!
const name = (random: () => number) =>
  Array.from({ length: 1 + Math.floor(random() * 3) }, () => pick(random, namePieces)).join("")

/** Every path a request may have on either CDN shape: `/{year}[@main]/{gp}/{session}/{path}`. */
const insideSession = (raw: string): boolean => {
  const path = raw.split("?")[0]!
  if (new URL(path, "http://x").pathname !== path) return false // a dot segment the URL would fold
  const segments = path.split("/").slice(1)
  if (segments[0] === "gh") segments.splice(0, 2) // the jsDelivr shape's `/gh/TracingInsights`
  const [year, gp, session, ...file] = segments
  if (!/^(20\d\d|2100)(@main)?$/.test(year ?? "") || file.length === 0) return false
  return [gp, session].every((segment) => {
    const decoded = decodeURIComponent(segment ?? "")
    return decoded !== "" && decoded !== "." && decoded !== ".." && !decoded.includes("/")
  })
}

const seen: Array<string> = []
const scope = Effect.runSync(Scope.make())
let server: TestServer
let client: Tif1Client
let runtime: ManagedRuntime.ManagedRuntime<Tif1.Tif1Services, unknown>

beforeAll(async () => {
  server = await Effect.runPromise(Scope.provide(
    startServer("h1", (request, response) => {
      seen.push((request as Http.IncomingMessage).url!)
      response.writeHead(404).end()
    }),
    scope
  ))
  const settings = {
    cdns: [`${server.origin}/gh/TracingInsights`, `${server.origin}/{year}/{gp}/{session}/{path}`],
    ciMode: true,
    maxRetries: 0,
    connectionStatsLogInterval: 0,
    logLevel: "none" as const
  }
  client = await Tif1Client.make(settings)
  runtime = ManagedRuntime.make(Tif1.layerConfig(settings))
})
afterAll(async () => {
  await client.close()
  await runtime.dispose()
  await Effect.runPromise(Scope.close(scope, Exit.void))
})

const allowed = (error: unknown) =>
  (error as { _tag?: string })._tag === "InvalidDataError" || (error as { _tag?: string })._tag === "DataNotFoundError"

describe("random requests through every entry point", () => {
  it("are answered or rejected with InvalidDataError, and never reach outside their session folder", async () => {
    const random = seeded(20261202)
    let invalid = 0
    for (let round = 0; round < 300; round++) {
      const request = {
        year: pick(random, years),
        gp: name(random),
        session: name(random),
        path: pick(random, pathPieces)
      }
      const context = JSON.stringify(request)
      const one = await client.fetchJson(request.year as number, request.gp, request.session, request.path).then(
        () => "ok",
        (error: unknown) => error
      )
      if (one !== "ok") expect(allowed(one), `${context}: ${String(one)}`).toBe(true)
      if ((one as { _tag?: string })._tag === "InvalidDataError") invalid++
      // One bad element of a batch is a null, never a rejection of the whole batch.
      const many = await client.fetchMany([request as never, {
        year: 2025,
        gp: "Bahrain Grand Prix",
        session: "Race",
        path: "drivers.json"
      }])
      expect(many, context).toEqual([null, null])
      const loaded = await client.loadSession(request.year as number, request.gp, request.session).then(
        () => "ok",
        (error: unknown) => error
      )
      if (loaded !== "ok") expect(allowed(loaded), `${context}: ${String(loaded)}`).toBe(true)
      const raw = await runtime.runPromiseExit(Effect.flatMap(Fetcher, (fetcher) => fetcher.raw(request as never)))
      if (Exit.isFailure(raw)) {
        expect(raw.cause.reasons.map((reason) => reason._tag), context).toEqual(["Fail"])
        const [reason] = raw.cause.reasons
        expect(allowed(reason?._tag === "Fail" ? reason.error : undefined), context).toBe(true)
      }
    }
    expect(invalid).toBeGreaterThan(100) // the generator does produce bad input
    expect(seen.length).toBeGreaterThan(50) // and good input that reaches the server
    const outside = seen.filter((path) => !insideSession(path))
    expect(outside).toEqual([])
  })
})
