/**
 * Opening the cache as a user's machine offers it: a damaged file, a folder that cannot be used,
 * several processes opening one fresh folder at once, a Node that calls SQLite experimental. None
 * of them stops a fetch, and opening prints nothing.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/testing/TestClock"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as MirrorServer from "../src/mirror/MirrorServer.js"
import { Tif1Config } from "../src/schema/Config.js"
import * as Cache from "../src/services/Cache.js"
import { loadNodeSqlite } from "../src/services/cache/SqliteConnection.js"
import * as SqliteStore from "../src/services/cache/SqliteStore.js"
import { Fetcher } from "../src/services/Fetcher.js"
import { repoRoot } from "./support/cli.js"
import { capturedLogs } from "./support/logs.js"
import { fixturesRoot, stack } from "./support/stack.js"

const race = { year: 2025, gp: "Australian Grand Prix", session: "Race" }
const tempDir = () => Fs.mkdtempSync(Path.join(Os.tmpdir(), "tif1-cache-open-"))
/** A database file opened directly (`node:sqlite`, loaded as the cache loads it). */
const openDatabase = (file: string, options: { readonly readOnly?: boolean } = {}) =>
  new (loadNodeSqlite().DatabaseSync)(file, options)

/** Fetch drivers.json through the whole stack with the SQLite cache in `cacheDir`; the cache's stats after. */
const fetchWithCacheIn = (origin: string, cacheDir: string, logs: Layer.Layer<never>) =>
  Effect.gen(function*() {
    const value = yield* Fetcher.use((fetcher) => fetcher.json({ ...race, path: "drivers.json" }))
    const stats = yield* Cache.Cache.use((cache) => cache.stats)
    return { value, stats }
  }).pipe(
    Effect.provide(stack(
      { cdns: [origin] },
      Cache.layerSqlite.pipe(Layer.provide(Tif1Config.layerDefaults({ cacheDir })))
    )),
    Effect.provide(logs)
  )

/** A file system mounted on `dir` for the scope (the tests run as root, as CI does). */
const mounted = (dir: string, args: ReadonlyArray<string>) =>
  Effect.acquireRelease(
    Effect.sync(() => ChildProcess.execFileSync("mount", [...args, dir])),
    () => Effect.sync(() => ChildProcess.execFileSync("umount", ["-l", dir]))
  )

describe("Cache: opening the database", () => {
  it.live("a file that is not a database is moved aside with a warning and a new cache is created", () =>
    Effect.gen(function*() {
      const mirror = yield* MirrorServer.make({ root: fixturesRoot, protocol: "h1" })
      const cacheDir = tempDir()
      const damaged = Buffer.concat([Buffer.from("this was a cache once"), Buffer.alloc(8192, 7)])
      Fs.writeFileSync(Path.join(cacheDir, Cache.databaseFileName), damaged)
      const logs = capturedLogs()
      const { stats, value } = yield* fetchWithCacheIn(mirror.origin, cacheDir, logs.layer)
      expect((value.drivers as Array<unknown>).length).toBe(20)
      expect(stats.sqlite.enabled).toBe(true)
      expect(stats.sqlite.entries).toBe(1)
      const aside = Fs.readdirSync(cacheDir).filter((name) => name.startsWith(`${Cache.databaseFileName}.corrupt-`))
      expect(aside).toHaveLength(1)
      expect(Fs.readFileSync(Path.join(cacheDir, aside[0]!))).toEqual(damaged)
      const warning = logs.lines.find((line) => line.includes("moved it to"))
      expect(warning).toMatch(/^WARN: .*SQLITE_NOTADB, the file is not a SQLite database/)
      // The new file is a working cache: a new stack on the folder answers from it with no request.
      const hitsBefore = mirror.hits()
      const again = yield* fetchWithCacheIn(mirror.origin, cacheDir, capturedLogs().layer)
      expect(again.stats.sqlite.hits).toBe(1)
      expect(mirror.hits()).toBe(hitsBefore)
    }))

  it.live("a folder that cannot be created is one warning, then a run without the persistent tier", () =>
    Effect.gen(function*() {
      const mirror = yield* MirrorServer.make({ root: fixturesRoot, protocol: "h1" })
      const blocker = Path.join(tempDir(), "a-file")
      Fs.writeFileSync(blocker, "not a folder")
      const logs = capturedLogs()
      const { stats, value } = yield* fetchWithCacheIn(mirror.origin, Path.join(blocker, "cache"), logs.layer)
      expect((value.drivers as Array<unknown>).length).toBe(20)
      expect(stats.sqlite.enabled).toBe(false)
      const warnings = logs.lines.filter((line) => line.startsWith("WARN: cache:"))
      expect(warnings).toHaveLength(1)
      expect(warnings[0]).toMatch(/is not usable \(.*ENOTDIR.*\); running without the persistent cache/)
    }))

  it.live("opening the cache prints nothing (Node 22's SQLite warning too); the process's own warnings still print", () =>
    Effect.promise(async () => {
      const child = Path.join(repoRoot, "test/support/cacheChild.ts")
      const tsx = Path.join(repoRoot, "node_modules/tsx/dist/loader.mjs")
      /** A process on this Node that opens a new cache, writes and reads it: its exit code and stderr. */
      const run = (env: Record<string, string>) =>
        new Promise<{ code: number | null; err: string }>((resolve) => {
          const spawned = ChildProcess.spawn(
            process.execPath,
            ["--import", tsx, child, Path.join(tempDir(), "cache"), "w", "2"],
            {
              stdio: ["ignore", "ignore", "pipe"],
              timeout: 60_000,
              env: { ...process.env, READ_KEYS: "w-0.json", ...env }
            }
          )
          let err = ""
          spawned.stderr!.on("data", (chunk) => (err += chunk))
          spawned.on("close", (code) => resolve({ code, err }))
        })
      const quiet = await run({})
      expect(quiet.err).toBe("")
      expect(quiet.code).toBe(0)
      // Warnings the process emits itself (one of them naming SQLite) print as Node prints them.
      const loud = await run({ EMIT_WARNINGS: "1" })
      expect(loud.code).toBe(0)
      const warnings = loud.err.split("\n").filter((line) => line.includes("Warning"))
      expect(warnings).toEqual([
        expect.stringMatching(/^\(node:\d+\) ExperimentalWarning: the caller's experimental feature$/),
        expect.stringMatching(/^\(node:\d+\) ExperimentalWarning: the caller's own SQLite experiment$/)
      ])
    }))

  it.live("processes opening one fresh folder at the same moment all get a working cache", () =>
    Effect.promise(async () => {
      const child = Path.join(repoRoot, "test/support/cacheChild.ts")
      const tsx = Path.join(repoRoot, "node_modules/tsx/dist/loader.mjs")
      for (let round = 0; round < 2; round++) {
        const dir = Path.join(tempDir(), "fresh")
        const openAt = String(Date.now() + 2500) // after every child has loaded its modules
        const runs = Array.from(
          { length: 8 },
          (_, index) =>
            new Promise<{ code: number | null; err: string }>((resolve) => {
              const process = ChildProcess.spawn(
                globalThis.process.execPath,
                ["--import", tsx, child, dir, `p${index}`, "1"],
                {
                  stdio: ["ignore", "ignore", "pipe"],
                  timeout: 60_000,
                  env: { ...globalThis.process.env, OPEN_AT: openAt }
                }
              )
              let err = ""
              process.stderr!.on("data", (chunk) => (err += chunk))
              process.on("close", (code) => resolve({ code, err }))
            })
        )
        const results = await Promise.all(runs)
        for (const result of results) {
          expect(result.err).toBe("")
          expect(result.code).toBe(0)
        }
        const database = openDatabase(Path.join(dir, Cache.databaseFileName), { readOnly: true })
        const keys = database.prepare("SELECT key FROM payloads").all() as Array<{ key: string }>
        database.close()
        expect(keys.map((row) => row.key).sort()).toEqual(Array.from({ length: 8 }, (_, index) => `p${index}-0.json`))
      }
    }))

  /**
   * A fresh file another connection holds a write lock on before it is in WAL mode, as a second
   * process does while it switches the file to WAL: SQLite answers the switch with SQLITE_BUSY at
   * once, without its busy timeout. Opening forked, with the lock's holder and the clock in hand.
   */
  const openingWhileLocked = Effect.gen(function*() {
    const dir = tempDir()
    // Closing the holder's connection ends its transaction and lets the lock go.
    const holder = yield* Effect.acquireRelease(
      Effect.sync(() => openDatabase(Path.join(dir, Cache.databaseFileName))),
      (database) => Effect.sync(() => database.isOpen && database.close())
    )
    holder.exec("CREATE TABLE other_setup (x INTEGER)")
    holder.exec("BEGIN IMMEDIATE")
    const logs = capturedLogs()
    const opening = yield* SqliteStore.open(dir).pipe(Effect.provide(logs.layer), Effect.forkChild)
    return { opening, release: () => holder.close(), logs }
  })

  it.effect("switching a fresh file to WAL waits for another process's lock, then opens (TestClock)", () =>
    Effect.gen(function*() {
      const { logs, opening, release } = yield* openingWhileLocked
      yield* TestClock.adjust("4 seconds")
      expect(opening.pollUnsafe()).toBeUndefined()
      release()
      yield* TestClock.adjust("100 millis")
      const store = yield* Fiber.join(opening)
      expect(store).toBeDefined()
      // The database is set up and takes writes.
      yield* store!.setMissing("k.json", 1, 10)
      expect(yield* store!.getMissing("k.json", 2)).toBe(true)
      expect(logs.lines).toEqual([])
    }).pipe(Effect.scoped))

  it.effect("a lock held past the busy timeout is one warning naming SQLITE_BUSY, then no SQLite tier (TestClock)", () =>
    Effect.gen(function*() {
      const { logs, opening } = yield* openingWhileLocked
      yield* TestClock.adjust("4900 millis")
      expect(opening.pollUnsafe()).toBeUndefined()
      yield* TestClock.adjust("200 millis")
      expect(yield* Fiber.join(opening)).toBeUndefined()
      expect(logs.lines).toHaveLength(1)
      expect(logs.lines[0]).toMatch(/^WARN: cache: cannot open .*SQLITE_BUSY.*running without the persistent cache/)
    }).pipe(Effect.scoped))

  it.live("opening waits for another process that is setting the schema up, then uses its work", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const file = Path.join(dir, Cache.databaseFileName)
      // Another process in the middle of its setup: the table exists, its first row is written but not committed.
      const holder = ChildProcess.spawn(globalThis.process.execPath, [
        "--no-warnings",
        "-e",
        `const { DatabaseSync } = require("node:sqlite")
const db = new DatabaseSync(${JSON.stringify(file)})
db.exec("PRAGMA journal_mode = WAL")
db.exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
db.exec("BEGIN IMMEDIATE")
db.exec("INSERT INTO schema_version (version) VALUES (0)")
process.stdout.write("locked\\n")
Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1500)
db.exec("COMMIT")
db.close()`
      ], { stdio: ["ignore", "pipe", "inherit"], timeout: 30_000 })
      yield* Effect.callback<void>((resume) => {
        holder.stdout!.on("data", (chunk: Buffer) => {
          if (chunk.toString().includes("locked")) resume(Effect.void)
        })
      }).pipe(Effect.timeout("20 seconds"), Effect.orDie)
      const logs = capturedLogs()
      const stats = yield* Cache.Cache.use((cache) => Effect.andThen(cache.set("k.json", { a: 1 }), cache.stats))
        .pipe(
          Effect.provide(Cache.layerSqlite.pipe(Layer.provide(Tif1Config.layerDefaults({ cacheDir: dir })))),
          Effect.provide(logs.layer),
          Effect.scoped
        )
      expect(logs.lines).toEqual([])
      expect(stats.sqlite.enabled).toBe(true)
      expect(stats.sqlite.entries).toBe(1)
      const database = openDatabase(file, { readOnly: true })
      const versions = database.prepare("SELECT version FROM schema_version").all()
      database.close()
      expect(versions).toHaveLength(1)
    }))

  it.live("a folder this process cannot write (a read-only file system) is one warning, then a run without SQLite", () =>
    Effect.gen(function*() {
      // Root may write into any folder whatever its mode; a read-only mount stops root too.
      const readOnly = tempDir()
      yield* mounted(readOnly, ["-t", "tmpfs", "-o", "ro,size=64k", "tmpfs"])
      const mirror = yield* MirrorServer.make({ root: fixturesRoot, protocol: "h1" })
      const logs = capturedLogs()
      const { stats, value } = yield* fetchWithCacheIn(mirror.origin, readOnly, logs.layer)
      expect((value.drivers as Array<unknown>).length).toBe(20)
      expect(stats.sqlite.enabled).toBe(false)
      const warnings = logs.lines.filter((line) => line.startsWith("WARN: cache:"))
      expect(warnings).toHaveLength(1)
      expect(warnings[0]).toMatch(/is not usable \(.*EROFS.*\); running without the persistent cache/)
    }))

  it.live("a full disk at start is one warning naming it, then a run without SQLite", () =>
    Effect.gen(function*() {
      const disk = tempDir()
      yield* mounted(disk, ["-t", "tmpfs", "-o", "size=256k", "tmpfs"])
      // Fill it to the last byte.
      const filler = Fs.openSync(Path.join(disk, "filler"), "w")
      try {
        for (let i = 0; i < 1000; i++) Fs.writeSync(filler, Buffer.alloc(4096, 1))
      } catch (error) {
        expect((error as NodeJS.ErrnoException).code).toBe("ENOSPC")
      } finally {
        Fs.closeSync(filler)
      }
      const mirror = yield* MirrorServer.make({ root: fixturesRoot, protocol: "h1" })
      const logs = capturedLogs()
      const { stats, value } = yield* fetchWithCacheIn(mirror.origin, Path.join(disk, "cache"), logs.layer)
      expect((value.drivers as Array<unknown>).length).toBe(20)
      expect(stats.sqlite.enabled).toBe(false)
      const warnings = logs.lines.filter((line) => line.startsWith("WARN: cache:"))
      expect(warnings).toHaveLength(1)
      expect(warnings[0]).toMatch(/(SQLITE_FULL, the disk is full|ENOSPC)/)
    }))

  it.live("a new file gets 16 KB pages; a file made with 4 KB pages keeps them, and its rows read", () =>
    Effect.gen(function*() {
      const mirror = yield* MirrorServer.make({ root: fixturesRoot, protocol: "h1" })
      const pageSize = (dir: string) => {
        const database = openDatabase(Path.join(dir, Cache.databaseFileName), { readOnly: true })
        const { page_size } = database.prepare("PRAGMA page_size").get() as { page_size: number }
        database.close()
        return page_size
      }
      const fresh = tempDir()
      yield* fetchWithCacheIn(mirror.origin, fresh, Layer.empty)
      expect(pageSize(fresh)).toBe(16384)
      // A cache of an earlier version: a WAL file with SQLite's default pages, holding a row.
      const earlier = tempDir()
      const database = openDatabase(Path.join(earlier, Cache.databaseFileName))
      database.exec("PRAGMA page_size = 4096")
      database.exec("PRAGMA journal_mode = WAL")
      database.close()
      yield* fetchWithCacheIn(mirror.origin, earlier, Layer.empty)
      expect(pageSize(earlier)).toBe(4096)
      mirror.resetCounters()
      const again = yield* fetchWithCacheIn(mirror.origin, earlier, Layer.empty)
      expect(again.stats.sqlite.hits).toBe(1)
      expect(mirror.hits()).toBe(0)
    }))

  it("a failed statement's warning names the SQLite code and what it means", () => {
    const dir = tempDir()
    const file = Path.join(dir, "readonly.sqlite")
    const writable = openDatabase(file)
    writable.exec("CREATE TABLE t (x)")
    writable.close()
    const readonly = openDatabase(file, { readOnly: true })
    let thrown: unknown
    try {
      readonly.exec("INSERT INTO t VALUES (1)")
    } catch (error) {
      thrown = error
    } finally {
      readonly.close()
    }
    const described = Cache.describeSqliteError(
      new Cache.SqliteError({ operation: "execute", cause: thrown, message: "Failed to execute statement" })
    )
    expect(described).toMatch(
      /^SQLITE_READONLY, the database file or its folder is read-only, Failed to execute statement/
    )
  })
})
