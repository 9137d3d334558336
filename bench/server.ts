/**
 * The benchmark's server process: mirrors of one folder over HTTP/1.1 and HTTP/2 (TLS), each
 * with 0 ms and 25 ms added latency, and an HTTP/2 one answering 503 to everything (a failing
 * primary CDN). Started by `ServerProcess` (`bench/harness.ts`) with an IPC channel; it answers
 * `{ type: "counters" }` with each server's requests and connections so far.
 *
 *   node --import tsx bench/server.ts <root>
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as MirrorServer from "../src/mirror/MirrorServer.js"

export type ServerKey = "h1-0" | "h1-25" | "h2-0" | "h2-25" | "h2-503"

export interface ServerReady {
  readonly type: "ready"
  readonly origins: Record<ServerKey, string>
  readonly cert: string
}

export interface ServerCounters {
  readonly type: "counters"
  readonly counters: Record<ServerKey, { readonly requests: number; readonly connections: number }>
}

const root = process.argv[2]
if (root === undefined || process.send === undefined) {
  console.error("usage: node --import tsx bench/server.ts <root>   (started by bench/harness.ts over IPC)")
  process.exit(2)
}
const send = process.send.bind(process)

const scope = Effect.runSync(Scope.make())
const start = (
  protocol: "h1" | "h2",
  faults: MirrorServer.FaultMode | undefined,
  certificate?: MirrorServer.MirrorServerService["certificate"]
) =>
  Effect.runPromise(
    Scope.provide(
      MirrorServer.make({
        root,
        protocol,
        host: "127.0.0.1",
        port: 0,
        ...(faults ? { faults } : {}),
        ...(certificate ? { certificate } : {})
      }),
      scope
    )
  )

const h2 = await start("h2", undefined)
const servers: Record<ServerKey, MirrorServer.MirrorServerService> = {
  "h1-0": await start("h1", undefined),
  "h1-25": await start("h1", { latencyMs: 25 }),
  "h2-0": h2,
  "h2-25": await start("h2", { latencyMs: 25 }, h2.certificate),
  "h2-503": await start("h2", { rules: [{ match: "*", status: 503 }] }, h2.certificate)
}
const keys = Object.keys(servers) as Array<ServerKey>

process.on("message", (message: { type: string }) => {
  if (message.type === "counters") {
    send({
      type: "counters",
      counters: Object.fromEntries(
        keys.map((key) => [key, { requests: servers[key].hits(), connections: servers[key].connectionsOpened() }])
      )
    } as ServerCounters)
  }
})
process.on("disconnect", () => {
  void Effect.runPromise(Scope.close(scope, Exit.void)).finally(() => process.exit(0))
})
send({
  type: "ready",
  origins: Object.fromEntries(keys.map((key) => [key, servers[key].origin])),
  cert: h2.certificate?.cert ?? ""
} as ServerReady)
