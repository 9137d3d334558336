/**
 * Calls in flight settle promptly when the caller aborts or the client closes: the requests are
 * cancelled (the server sees its sockets close), no retry round runs on, and each call says why.
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Tif1Client } from "../src/client.js"
import * as MirrorServer from "../src/mirror/MirrorServer.js"
import { NetworkError } from "../src/schema/Errors.js"
import { startServer, type TestServer } from "./support/servers.js"

const race = { year: 2025, gp: "Australian Grand Prix", session: "Race" } as const

let scope: Scope.Closeable
/** Takes every request and never answers it. */
let silent: TestServer

beforeAll(async () => {
  scope = Effect.runSync(Scope.make())
  silent = await Effect.runPromise(Scope.provide(startServer("h1", () => {}), scope))
})
afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)))

/** A client whose only CDN never answers; a request would wait 60 s, with retries after. */
const makeClient = () =>
  Tif1Client.make({
    cdns: [MirrorServer.templateFor(silent.origin)],
    enableCache: false,
    timeout: 60,
    maxRetries: 3,
    connectionStatsLogInterval: 0,
    logLevel: "none"
  })

/** Poll until `condition` holds (bounded). */
const waitFor = async (condition: () => boolean, what: string) => {
  const deadline = Date.now() + 10_000
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

const telemetry = (count: number) =>
  Array.from({ length: count }, (_, index) => ({ ...race, path: `VER/${index + 1}_tel.json` }))

describe("cancellation", () => {
  it("aborting fetchJson rejects with AbortError and cancels the request", async () => {
    const client = await makeClient()
    try {
      const controller = new AbortController()
      const before = silent.requests()
      const call = client.fetchJson(race.year, race.gp, race.session, "drivers.json", { signal: controller.signal })
        .catch((error: unknown) => error)
      await waitFor(() => silent.requests() === before + 1, "the request to arrive")
      controller.abort()
      const error = await call
      expect(error).toBeInstanceOf(DOMException)
      expect((error as DOMException).name).toBe("AbortError")
      await waitFor(() => silent.connectionsOpen() === 0, "the request's socket to close")
    } finally {
      await client.close()
    }
  })

  it("an already aborted signal rejects at once with its reason, sending nothing", async () => {
    const client = await makeClient()
    try {
      const before = silent.requests()
      const reason = new Error("changed my mind")
      const error = await client.fetchMany(telemetry(3), { signal: AbortSignal.abort(reason) }).catch((e: unknown) => e)
      expect(error).toBe(reason)
      const loading = await client.loadSession(race.year, race.gp, race.session, { signal: AbortSignal.abort() })
        .catch((e: unknown) => e)
      expect((loading as DOMException).name).toBe("AbortError")
      expect(silent.requests()).toBe(before)
    } finally {
      await client.close()
    }
  })

  it("aborting fetchMany cancels every request in flight", async () => {
    const client = await makeClient()
    try {
      const controller = new AbortController()
      const before = silent.requests()
      const many = client.fetchMany(telemetry(200), { concurrency: 50, signal: controller.signal }).catch((e) => e)
      await waitFor(() => silent.requests() >= before + 50, "50 requests in flight")
      controller.abort()
      expect(((await many) as DOMException).name).toBe("AbortError")
      await waitFor(() => silent.connectionsOpen() === 0, "every socket to close")
      expect(silent.requests()).toBe(before + 50) // nothing was sent after the abort
    } finally {
      await client.close()
    }
  })

  it("close() in the middle of a 2,000-file fetchMany settles it with NetworkError closed", async () => {
    const client = await makeClient()
    const before = silent.requests()
    const many = client.fetchMany(telemetry(2000), { concurrency: 128 }).catch((error: unknown) => error)
    const one = client.fetchJson(race.year, race.gp, race.session, "drivers.json").catch((error: unknown) => error)
    await waitFor(() => silent.requests() >= before + 100, "requests in flight")
    await client.close()
    const [manyError, oneError] = await Promise.all([many, one])
    for (const error of [manyError, oneError]) {
      expect(error).toBeInstanceOf(NetworkError)
      expect(error).toMatchObject({ kind: "closed" })
    }
    await waitFor(() => silent.connectionsOpen() === 0, "every socket to close")
  })
})
