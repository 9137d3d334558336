/**
 * A real `redis-server` (Debian's package, which `.ci/run` installs) on a free port of
 * 127.0.0.1, with its own folder and no persistence; started and stopped by the test.
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { Redis } from "ioredis"
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import * as MirrorServer from "../../src/mirror/MirrorServer.js"
import { fixturesRoot } from "./stack.js"

export const freePort = () =>
  new Promise<number>((resolve) => {
    const server = Net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as Net.AddressInfo
      server.close(() => resolve(port))
    })
  })

const accepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = Net.connect(port, "127.0.0.1", () => (socket.end(), resolve(true)))
    socket.on("error", () => resolve(false))
  })

export interface RedisServer {
  readonly port: number
  readonly url: string
  /** Run a `redis-cli` command against it; its output. */
  readonly cli: (...args: Array<string>) => string
  /** SIGKILL, and wait for the port to close. */
  readonly kill: () => Promise<void>
  /** Start again on the same port (after `kill`). */
  readonly start: () => Promise<void>
}

/** Start one (on `port`, or a free one); wait, bounded, until it accepts connections. */
export const startRedis = async (port?: number): Promise<RedisServer> => {
  const chosen = port ?? (await freePort())
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "tif1-redis-"))
  let child: ChildProcess | undefined
  const start = async () => {
    child = spawn(
      "redis-server",
      ["--port", String(chosen), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no"],
      { stdio: "ignore" }
    )
    const deadline = Date.now() + 10_000
    while (!(await accepts(chosen))) {
      if (Date.now() > deadline) throw new Error(`redis-server did not start on port ${chosen}`)
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
  }
  const kill = async () => {
    const running = child
    if (running === undefined || running.exitCode !== null) return
    const exited = new Promise((resolve) => running.once("exit", resolve))
    running.kill("SIGKILL")
    await exited
  }
  await start()
  return {
    port: chosen,
    url: `redis://127.0.0.1:${chosen}/0`,
    cli: (...args) => execFileSync("redis-cli", ["-p", String(chosen), ...args], { encoding: "utf8" }).trim(),
    kill,
    start
  }
}

/** What a Redis-tier test starts once: the server, an admin client on it, and a mirror of the fixtures. */
export interface RedisWithMirror {
  readonly redis: RedisServer
  /** A client of the test's own, for planting and reading keys; it reconnects after a kill. */
  readonly admin: Redis
  readonly mirror: MirrorServer.MirrorServerService
  /** Disconnect the client, kill the server, close the mirror. */
  readonly stop: () => Promise<void>
}

/** Start a `redis-server`, an admin client and a mirror serving `shared/fixtures/cdn` (HTTP/1.1). */
export const startRedisWithMirror = async (
  mirrorOptions: Partial<MirrorServer.MirrorOptions> = {}
): Promise<RedisWithMirror> => {
  const redis = await startRedis()
  const admin = new Redis(redis.url, { lazyConnect: true })
  admin.on("error", () => {}) // reconnects after a kill test; failures reach the commands
  await admin.connect()
  const scope = Effect.runSync(Scope.make())
  const mirror = await Effect.runPromise(
    Scope.provide(MirrorServer.make({ root: fixturesRoot, protocol: "h1", ...mirrorOptions }), scope)
  )
  return {
    redis,
    admin,
    mirror,
    stop: async () => {
      admin.disconnect()
      await redis.kill()
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
  }
}
