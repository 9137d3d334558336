/**
 * The SQLite tier: one WAL database file in `cache_dir` (on `node:sqlite`, `SqliteConnection.ts`),
 * rows encoded by `RowCodec`, plus the negative entries with their expiry. A row that fails to
 * decode (damaged, stating more than `max_response_bytes`, holding what JSON does not have) is a
 * miss and is deleted.
 *
 * @since 0.2.0
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Result from "effect/Result"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Fs from "node:fs"
import * as Path from "node:path"
import {
  type CacheStore,
  emptySizes,
  scopePrefix,
  type StoredEntry,
  type StoreSizes,
  type Validators
} from "./CacheStore.js"
import * as RowCodec from "./RowCodec.js"
import * as SqliteConnection from "./SqliteConnection.js"

/**
 * The SQLite store, with the count of damaged rows it dropped.
 *
 * @since 0.2.0
 */
export interface SqliteStore extends CacheStore {
  readonly corruptRowsDropped: () => number
}

/**
 * The settings of the store.
 *
 * @since 0.2.0
 */
export interface SqliteStoreOptions {
  /**
   * `max_response_bytes`: a row stating a larger value is damaged (not decompressed), and a value
   * whose row would be larger is not stored (no delivered file comes near it). Default: that
   * key's default, 64 MiB.
   */
  readonly maxResponseBytes?: number
}

/** The default of `max_response_bytes`. */
const defaultMaxResponseBytes = 64 * 1024 * 1024

/**
 * Current schema version of the database file; `migrations[n]` upgrades from n to n + 1.
 * 2 adds the validators a CDN sent (rows of version 1 read as rows without validators).
 */
const schemaVersion = 2
const migrations: ReadonlyArray<ReadonlyArray<string>> = [
  [
    `CREATE TABLE IF NOT EXISTS payloads (
      key TEXT PRIMARY KEY,
      encoding INTEGER NOT NULL,
      size INTEGER NOT NULL,
      checksum TEXT NOT NULL,
      body BLOB NOT NULL,
      stored_at INTEGER NOT NULL
    )`,
    `CREATE TABLE IF NOT EXISTS missing (key TEXT PRIMARY KEY, expires_at INTEGER NOT NULL)`
  ],
  [
    `ALTER TABLE payloads ADD COLUMN etag TEXT`,
    `ALTER TABLE payloads ADD COLUMN last_modified TEXT`
  ]
]

/** How long a statement waits for another process's lock (5 s, as in 0.1.0). */
const busyTimeout = "5 seconds"

/**
 * How the switch to WAL waits for another process's lock, since SQLite does not wait for it: every
 * 20 ms (jittered, so processes that met do not meet again), for as long as the busy timeout (the
 * count bounds it too, whatever the clock does). The setup's `BEGIN IMMEDIATE` may then wait the
 * busy timeout once more: at worst an open gives up after about 10 s.
 */
const journalModeRetry = Schedule.spaced("20 millis").pipe(
  Schedule.jittered,
  Schedule.upTo({ duration: busyTimeout, times: 1000 })
)

/** SQLITE_BUSY or one of its extended codes: another connection holds the lock. */
const isBusy = (error: SqliteConnection.SqliteError) =>
  SqliteConnection.sqliteCode(error)?.startsWith("SQLITE_BUSY") === true

/** A payload row as the statements below read it. */
interface PayloadRow {
  readonly encoding: number
  readonly size: number
  readonly checksum: string
  readonly body: Uint8Array
  readonly stored_at: number
  readonly etag: string | null
  readonly last_modified: string | null
}

/**
 * What `invalidate` deletes for a kind of file. In the patterns, `\_` is a literal `_` (a bare
 * `_` matches any character): `*_tel.json` and nothing else.
 */
const invalidateStatements: Record<"all" | "json" | "telemetry", ReadonlyArray<string>> = {
  all: ["DELETE FROM payloads", "DELETE FROM missing"],
  telemetry: [
    "DELETE FROM payloads WHERE key LIKE '%\\_tel.json' ESCAPE '\\'",
    "DELETE FROM missing WHERE key LIKE '%\\_tel.json' ESCAPE '\\'"
  ],
  json: [
    "DELETE FROM payloads WHERE key NOT LIKE '%\\_tel.json' ESCAPE '\\'",
    "DELETE FROM missing WHERE key NOT LIKE '%\\_tel.json' ESCAPE '\\'"
  ]
}

/** What `invalidate` deletes for a session scope: the keys under its prefix (length, prefix). */
const sessionInvalidateStatements = [
  "DELETE FROM payloads WHERE substr(key, 1, ?) = ?",
  "DELETE FROM missing WHERE substr(key, 1, ?) = ?"
]

/** What building the store takes and can fail with. */
type Made = Effect.Effect<SqliteStore, SqliteConnection.SqliteError, SqliteConnection.SqliteConnection>

/**
 * The SQLite tier on a `SqliteConnection`. Each row is written in one statement, so a crash leaves
 * the old row or the new one, never half of one; the checksum and zlib's own adler-32 catch rows
 * damaged any other way.
 *
 * @since 0.2.0
 */
export const make = (options: SqliteStoreOptions = {}): Made =>
  Effect.gen(function*() {
    const maxResponseBytes = options.maxResponseBytes ?? defaultMaxResponseBytes
    const db = yield* SqliteConnection.SqliteConnection
    /** Log a failed statement with what it means for the caller; the cache never fails a fetch. */
    const warn = (what: string, outcome: string) => (error: unknown) =>
      Effect.logWarning(`cache: ${what} failed, ${outcome}: ${SqliteConnection.describeSqliteError(error)}`)
    // WAL with NORMAL sync: commits stay atomic through a crash, without an fsync per cached file
    // (which would block the event loop for each write). The busy timeout is the connection's.
    // 16 KB pages for a new file (an existing one keeps its own): a telemetry row of 90 KB spans 6
    // pages instead of 23, and reading the rows of a warm session load took 35 ms instead of 43.
    // Memory-mapped reads were faster still (30 ms), but an I/O error on a mapped file is a crash
    // (SIGBUS), not an error the cache can turn into a miss.
    yield* db.exec("PRAGMA page_size = 16384")
    // Switching a new file to WAL takes its exclusive lock, and SQLite answers SQLITE_BUSY at once
    // (no busy timeout) while another process holds any lock on it: two processes opening one
    // fresh folder meet here. Tried again until the busy timeout has passed.
    yield* db.exec("PRAGMA journal_mode = WAL").pipe(Effect.retry({ schedule: journalModeRetry, while: isBusy }))
    yield* db.exec("PRAGMA synchronous = NORMAL")
    // BEGIN IMMEDIATE: the setup reads, then writes. A deferred BEGIN would take a read lock and
    // then fail at once with SQLITE_BUSY when a second process opening the same fresh folder holds
    // the write lock (an upgrade never waits: it could deadlock); a writer from the start waits for
    // the busy timeout like any other write.
    yield* db.transaction(Effect.gen(function*() {
      yield* db.exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
      const rows = yield* db.all<{ version: number }>("SELECT version FROM schema_version")
      let version = rows[0]?.version ?? 0
      if (rows.length === 0) yield* db.run("INSERT INTO schema_version (version) VALUES (0)")
      while (version < schemaVersion) {
        for (const statement of migrations[version]!) yield* db.exec(statement)
        version++
        yield* db.run("UPDATE schema_version SET version = ?", version)
      }
    }))
    let corruptRowsDropped = 0

    const dropCorrupt = (key: string, why: string) =>
      Effect.andThen(
        Effect.logWarning(`cache: dropping corrupt row ${key}: ${why}`),
        db.run("DELETE FROM payloads WHERE key = ?", key).pipe(
          Effect.tap(() => Effect.sync(() => corruptRowsDropped++)),
          Effect.catch(warn("delete", "the damaged row stays until it is rewritten"))
        )
      )

    const get = (key: string): Effect.Effect<StoredEntry | undefined> =>
      Effect.gen(function*() {
        const row = yield* db.get<PayloadRow>(
          "SELECT encoding, size, checksum, body, stored_at, etag, last_modified FROM payloads WHERE key = ?",
          key
        )
        if (row === undefined) return undefined
        const value = RowCodec.decodeRow(key, row, maxResponseBytes)
        if (Result.isFailure(value)) return yield* Effect.as(dropCorrupt(key, value.failure), undefined)
        const validators: Validators = {
          ...(row.etag === null ? {} : { etag: row.etag }),
          ...(row.last_modified === null ? {} : { lastModified: row.last_modified })
        }
        return { value: value.success, storedAt: row.stored_at, validators }
      }).pipe(Effect.catch((error) => Effect.as(warn("read", "treated as a miss")(error), undefined)))

    const deleteUnder = (prefix: string) =>
      sessionInvalidateStatements.map((statement) => db.run(statement, prefix.length, prefix))

    const store: SqliteStore = {
      tier: "sqlite",
      get,
      getMany: (keys) => Effect.forEach(keys, get),
      set: (key, entry, encoded) =>
        Effect.gen(function*() {
          const row = entry.row ?? (yield* encoded)
          if (row.size > maxResponseBytes) {
            yield* Effect.logDebug(`cache: ${key} is ${row.size} bytes encoded, over max_response_bytes; not in SQLite`)
            return false
          }
          const { validators } = entry
          yield* db.run(
            `INSERT OR REPLACE INTO payloads (key, encoding, size, checksum, body, stored_at, etag, last_modified)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
            key,
            row.encoding,
            row.size,
            row.checksum,
            row.body,
            entry.storedAt,
            validators.etag ?? null,
            validators.lastModified ?? null
          )
          return true
        }).pipe(Effect.catch((error) => Effect.as(warn("write", "the value is not cached")(error), false))),
      touch: (key, storedAt, sent) =>
        // `IS` compares NULL as a value: a row without a Last-Modified matches a request without one.
        sent.etag === undefined && sent.lastModified === undefined ? Effect.void : db.run(
          "UPDATE payloads SET stored_at = ? WHERE key = ? AND etag IS ? AND last_modified IS ?",
          storedAt,
          key,
          sent.etag ?? null,
          sent.lastModified ?? null
        ).pipe(
          Effect.asVoid,
          Effect.catch(warn("touch", "the file is revalidated again next time"))
        ),
      remove: (key) =>
        db.run("DELETE FROM payloads WHERE key = ?", key).pipe(
          Effect.asVoid,
          Effect.catch(warn("delete", "the row stays until it is rewritten"))
        ),
      getMissing: (key, now) =>
        db.get<{ expires_at: number }>("SELECT expires_at FROM missing WHERE key = ?", key).pipe(
          Effect.map((row) => row !== undefined && row.expires_at > now),
          Effect.catch((error) => Effect.as(warn("negative read", "treated as not missing")(error), false))
        ),
      setMissing: (key, _now, expiresAt) =>
        db.run("INSERT OR REPLACE INTO missing (key, expires_at) VALUES (?, ?)", key, expiresAt).pipe(
          Effect.asVoid,
          Effect.catch(warn("negative write", "the missing file is not remembered"))
        ),
      clearMissing: (key) =>
        db.run("DELETE FROM missing WHERE key = ?", key).pipe(
          Effect.asVoid,
          Effect.catch(warn("negative clear", "the entry stays until it expires"))
        ),
      invalidate: (scope) => {
        if (scope === "memory") return Effect.void
        const statements = typeof scope === "object"
          ? deleteUnder(scopePrefix(scope))
          : invalidateStatements[scope].map((statement) => db.run(statement))
        return Effect.all(statements, { discard: true }).pipe(
          Effect.catch(warn("invalidate", "the SQLite tier may still hold that scope"))
        )
      },
      sizes: Effect.flatMap(
        Clock.currentTimeMillis,
        (now) =>
          db.get<
            { entries: number; bytes: number | null; missing: number; oldest: number | null; newest: number | null }
          >(
            `SELECT (SELECT COUNT(*) FROM payloads) AS entries, (SELECT SUM(LENGTH(body)) FROM payloads) AS bytes,
                (SELECT COUNT(*) FROM missing WHERE expires_at > ?) AS missing,
                (SELECT MIN(stored_at) FROM payloads) AS oldest, (SELECT MAX(stored_at) FROM payloads) AS newest`,
            now
          ).pipe(
            Effect.map((row): StoreSizes => ({
              entries: row?.entries ?? 0,
              bytes: row?.bytes ?? 0,
              missing: row?.missing ?? 0,
              oldestStoredAt: row?.oldest ?? undefined,
              newestStoredAt: row?.newest ?? undefined
            })),
            Effect.catch((error) => Effect.as(warn("stats", "SQLite sizes reported as 0")(error), emptySizes))
          )
      ),
      corruptRowsDropped: () => corruptRowsDropped
    }
    return store
  })

/**
 * The SQLite tier on a `SqliteConnection`, with the default settings.
 *
 * @since 0.1.0
 */
export const makeSqliteStore: Made = make()

/**
 * The database file name inside `cache_dir`.
 *
 * @since 0.1.0
 */
export const databaseFileName = "tif1-cache.sqlite"

/**
 * An error as a user reads it: the SQLite code and what it means, then the messages.
 *
 * @since 0.2.0
 */
export const describeSqliteError = SqliteConnection.describeSqliteError

const closeQuietly = (scope: Scope.Closeable) => Scope.close(scope, Exit.void)

/** What to do when `node:sqlite` does not load, from what this process shows. */
const sqliteAdvice = (): string =>
  typeof process.getBuiltinModule !== "function"
    ? "upgrade Node to 22.19 or later"
    : [...process.execArgv, ...(process.env.NODE_OPTIONS ?? "").split(/\s+/)].includes("--no-experimental-sqlite")
    ? "drop --no-experimental-sqlite from the node command line or NODE_OPTIONS"
    : "use a Node build that includes SQLite (the nodejs.org builds do)"

/** Where the cache goes instead, when this folder cannot hold it. */
const folderAdvice = "point cache_dir (TIF1_CACHE_DIR) at a folder this user can write"

/**
 * Open the SQLite store in a folder, or explain why there is none. A cache is an optimization:
 * nothing here stops a fetch. A damaged file is moved aside (renamed with a timestamp) and a new
 * one created; an unwritable folder, a full disk or a Node without `node:sqlite` is one warning
 * that says what to do, then a run without the persistent tier.
 */
export const open = (
  cacheDir: string,
  options: SqliteStoreOptions = {}
): Effect.Effect<SqliteStore | undefined, never, Scope.Scope> =>
  Effect.gen(function*() {
    const filename = Path.join(cacheDir, databaseFileName)
    const describe = SqliteConnection.describeSqliteError
    const withoutTier = (why: string, advice: string) =>
      Effect.as(
        Effect.logWarning(`cache: ${why}; running without the persistent cache (memory only); ${advice}`),
        undefined
      )
    const folder = yield* Effect.result(Effect.try(() => {
      Fs.mkdirSync(cacheDir, { recursive: true })
      Fs.accessSync(cacheDir, Fs.constants.W_OK)
    }))
    if (Result.isFailure(folder)) {
      return yield* withoutTier(`the folder ${cacheDir} is not usable (${String(folder.failure.cause)})`, folderAdvice)
    }
    const outer = yield* Effect.scope
    /** The database in a scope of its own, closed at once if the store cannot be set up in it. */
    const attempt = Effect.gen(function*() {
      const scope = yield* Scope.fork(outer, "sequential")
      const opened = yield* SqliteConnection.make({ filename, busyTimeout }).pipe(
        Effect.flatMap((connection) =>
          Effect.provideService(make(options), SqliteConnection.SqliteConnection, connection)
        ),
        Scope.provide(scope),
        Effect.catchDefect((defect) =>
          Effect.fail(SqliteConnection.fromCause("open", "Failed to set the database up", defect))
        ),
        Effect.result
      )
      if (Result.isFailure(opened)) yield* closeQuietly(scope)
      return opened
    })
    const first = yield* attempt
    if (Result.isSuccess(first)) return first.success
    const cause = first.failure
    if (cause.operation === "load") {
      return yield* withoutTier(`Node's built-in SQLite module does not load (${describe(cause)})`, sqliteAdvice())
    }
    const code = SqliteConnection.sqliteCode(cause)
    if (code !== "SQLITE_NOTADB" && !code?.startsWith("SQLITE_CORRUPT")) {
      return yield* withoutTier(
        `cannot open ${filename}: ${describe(cause)}`,
        code === "SQLITE_FULL"
          ? "free space on that disk, or point cache_dir (TIF1_CACHE_DIR) at a folder on another"
          : folderAdvice
      )
    }
    const now = yield* Clock.currentTimeMillis
    const aside = `${filename}.corrupt-${new Date(now).toISOString().replaceAll(":", "-")}`
    const moved = yield* Effect.result(Effect.try(() => {
      Fs.renameSync(filename, aside)
      for (const suffix of ["-wal", "-shm"]) Fs.rmSync(`${filename}${suffix}`, { force: true })
    }))
    if (Result.isFailure(moved)) {
      return yield* withoutTier(
        `${filename} is damaged and cannot be moved aside (${String(moved.failure.cause)})`,
        "delete it, or move it away"
      )
    }
    yield* Effect.logWarning(
      `cache: ${filename} was damaged (${describe(cause)}); moved it to ${aside} and started a new cache`
    )
    const second = yield* attempt
    return Result.isSuccess(second)
      ? second.success
      : yield* withoutTier(`cannot create a new ${filename}: ${describe(second.failure)}`, folderAdvice)
  })
