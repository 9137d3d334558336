/**
 * The SQLite tier: one WAL database file in `cache_dir`, rows encoded by `RowCodec`, plus the
 * negative entries with their expiry. A row that fails to decode is a miss and is deleted.
 *
 * @since 0.3.0
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
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

/**
 * The SQLite store, with the count of damaged rows it dropped.
 *
 * @since 0.3.0
 */
export interface SqliteStore extends CacheStore {
  readonly corruptRowsDropped: () => number
}

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

/**
 * The SQLite tier on a `SqlClient`. Each row is written in one statement, so a crash leaves the
 * old row or the new one, never half of one; the checksum and zlib's own adler-32 catch rows
 * damaged any other way.
 *
 * @since 0.1.0
 */
export const makeSqliteStore: Effect.Effect<SqliteStore, SqlError, SqlClient.SqlClient> = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  /** Log a failed statement with what it means for the caller; the cache never fails a fetch. */
  const warn = (what: string, outcome: string) => (error: unknown) =>
    Effect.logWarning(`cache: ${what} failed, ${outcome}: ${describeSqliteError(error)}`)
  yield* sql`PRAGMA busy_timeout = 5000`
  // WAL (the client's default) with NORMAL sync: commits stay atomic through a crash, without an
  // fsync per cached file (which would block the event loop for each write).
  yield* sql`PRAGMA synchronous = NORMAL`
  yield* sql`CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`
  // BEGIN IMMEDIATE: the setup reads, then writes. A deferred BEGIN would take a read lock and
  // then fail at once with SQLITE_BUSY when a second process opening the same fresh folder holds
  // the write lock (an upgrade never waits: it could deadlock); a writer from the start waits for
  // the busy timeout like any other write.
  yield* sql`BEGIN IMMEDIATE`
  yield* Effect.gen(function*() {
    const rows = yield* sql<{ version: number }>`SELECT version FROM schema_version`
    let version = rows[0]?.version ?? 0
    if (rows.length === 0) yield* sql`INSERT INTO schema_version (version) VALUES (0)`
    while (version < schemaVersion) {
      for (const statement of migrations[version]!) yield* sql.unsafe(statement)
      version++
      yield* sql`UPDATE schema_version SET version = ${version}`
    }
    yield* sql`COMMIT`
  }).pipe(Effect.onError(() => Effect.ignore(sql`ROLLBACK`)))
  let corruptRowsDropped = 0

  const dropCorrupt = (key: string, why: string) =>
    Effect.zipRight(
      Effect.logWarning(`cache: dropping corrupt row ${key}: ${why}`),
      sql`DELETE FROM payloads WHERE key = ${key}`.pipe(
        Effect.tap(() => Effect.sync(() => corruptRowsDropped++)),
        Effect.catchAll(warn("delete", "the damaged row stays until it is rewritten"))
      )
    )

  const get = (key: string): Effect.Effect<StoredEntry | undefined> =>
    Effect.gen(function*() {
      const rows = yield* sql<{
        encoding: number
        size: number
        checksum: string
        body: Uint8Array
        stored_at: number
        etag: string | null
        last_modified: string | null
      }>`SELECT encoding, size, checksum, body, stored_at, etag, last_modified FROM payloads WHERE key = ${key}`
      const row = rows[0]
      if (row === undefined) return undefined
      const value = RowCodec.decodeRow(key, row)
      if (Either.isLeft(value)) return yield* Effect.as(dropCorrupt(key, value.left), undefined)
      const validators: Validators = {
        ...(row.etag === null ? {} : { etag: row.etag }),
        ...(row.last_modified === null ? {} : { lastModified: row.last_modified })
      }
      return { value: value.right, storedAt: row.stored_at, validators }
    }).pipe(Effect.catchAll((error) => Effect.as(warn("read", "treated as a miss")(error), undefined)))

  const store: SqliteStore = {
    tier: "sqlite",
    get,
    getMany: (keys) => Effect.forEach(keys, get),
    set: (key, entry, encoded) =>
      Effect.gen(function*() {
        const row = entry.row ?? (yield* encoded)
        const { validators } = entry
        yield* sql`INSERT OR REPLACE INTO payloads (key, encoding, size, checksum, body, stored_at, etag, last_modified)
          VALUES (${key}, ${row.encoding}, ${row.size}, ${row.checksum}, ${row.body}, ${entry.storedAt},
                  ${validators.etag ?? null}, ${validators.lastModified ?? null})`
      }).pipe(Effect.catchAll(warn("write", "the value is not cached"))),
    touch: (key, storedAt) =>
      sql`UPDATE payloads SET stored_at = ${storedAt} WHERE key = ${key}`.pipe(
        Effect.asVoid,
        Effect.catchAll(warn("touch", "the file is revalidated again next time"))
      ),
    remove: (key) =>
      sql`DELETE FROM payloads WHERE key = ${key}`.pipe(
        Effect.asVoid,
        Effect.catchAll(warn("delete", "the row stays until it is rewritten"))
      ),
    getMissing: (key, now) =>
      sql<{ expires_at: number }>`SELECT expires_at FROM missing WHERE key = ${key}`.pipe(
        Effect.map((rows) => rows[0] !== undefined && rows[0].expires_at > now),
        Effect.catchAll((error) => Effect.as(warn("negative read", "treated as not missing")(error), false))
      ),
    setMissing: (key, _now, expiresAt) =>
      sql`INSERT OR REPLACE INTO missing (key, expires_at) VALUES (${key}, ${expiresAt})`.pipe(
        Effect.asVoid,
        Effect.catchAll(warn("negative write", "the missing file is not remembered"))
      ),
    clearMissing: (key) =>
      sql`DELETE FROM missing WHERE key = ${key}`.pipe(
        Effect.asVoid,
        Effect.catchAll(warn("negative clear", "the entry stays until it expires"))
      ),
    invalidate: (scope) => {
      if (scope === "memory") return Effect.void
      const prefix = typeof scope === "object" ? scopePrefix(scope) : undefined
      const statements = prefix !== undefined
        ? [
          sql`DELETE FROM payloads WHERE substr(key, 1, ${prefix.length}) = ${prefix}`,
          sql`DELETE FROM missing WHERE substr(key, 1, ${prefix.length}) = ${prefix}`
        ]
        : scope === "all"
        ? [sql`DELETE FROM payloads`, sql`DELETE FROM missing`]
        : scope === "telemetry"
        ? [
          sql`DELETE FROM payloads WHERE key LIKE '%\\_tel.json' ESCAPE '\\'`,
          sql`DELETE FROM missing WHERE key LIKE '%\\_tel.json' ESCAPE '\\'`
        ]
        : [
          sql`DELETE FROM payloads WHERE key NOT LIKE '%\\_tel.json' ESCAPE '\\'`,
          sql`DELETE FROM missing WHERE key NOT LIKE '%\\_tel.json' ESCAPE '\\'`
        ]
      return Effect.all(statements, { discard: true }).pipe(
        Effect.catchAll(warn("invalidate", "the SQLite tier may still hold that scope"))
      )
    },
    sizes: Effect.flatMap(
      Clock.currentTimeMillis,
      (now) =>
        sql<{ entries: number; bytes: number | null; missing: number; oldest: number | null; newest: number | null }>`
        SELECT (SELECT COUNT(*) FROM payloads) AS entries, (SELECT SUM(LENGTH(body)) FROM payloads) AS bytes,
               (SELECT COUNT(*) FROM missing WHERE expires_at > ${now}) AS missing,
               (SELECT MIN(stored_at) FROM payloads) AS oldest, (SELECT MAX(stored_at) FROM payloads) AS newest`.pipe(
          Effect.map((rows): StoreSizes => ({
            entries: rows[0]?.entries ?? 0,
            bytes: rows[0]?.bytes ?? 0,
            missing: rows[0]?.missing ?? 0,
            oldestStoredAt: rows[0]?.oldest ?? undefined,
            newestStoredAt: rows[0]?.newest ?? undefined
          })),
          Effect.catchAll((error) => Effect.as(warn("stats", "SQLite sizes reported as 0")(error), emptySizes))
        )
    ),
    corruptRowsDropped: () => corruptRowsDropped
  }
  return store
})

/**
 * The database file name inside `cache_dir`.
 *
 * @since 0.1.0
 */
export const databaseFileName = "tif1-cache.sqlite"

/** The SQLite result code in an error or its causes (`SQLITE_BUSY`, ...), if any. */
const sqliteCode = (error: unknown): string | undefined => {
  for (let current = error, depth = 0; current !== undefined && current !== null && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code
    if (typeof code === "string" && code.startsWith("SQLITE_")) return code
    current = (current as { cause?: unknown }).cause
  }
  return undefined
}

/** What an error means for the user, by its SQLite code. */
const sqliteMeaning: Record<string, string> = {
  SQLITE_BUSY: "another process held the database locked for longer than the 5 s busy timeout",
  SQLITE_LOCKED: "the database is locked by another connection",
  SQLITE_FULL: "the disk is full",
  SQLITE_READONLY: "the database file or its folder is read-only",
  SQLITE_CANTOPEN: "the database file cannot be opened (permissions, or a missing folder)",
  SQLITE_IOERR: "the disk reported an I/O error",
  SQLITE_CORRUPT: "the database file is damaged",
  SQLITE_NOTADB: "the file is not a SQLite database",
  SQLITE_PERM: "permission denied",
  SQLITE_NOMEM: "out of memory"
}

/**
 * An error as a user reads it: the SQLite code and what it means, then the driver's message
 * (`SqlError: Failed to execute statement` alone says neither).
 *
 * @since 0.2.0
 */
export const describeSqliteError = (error: unknown): string => {
  const code = sqliteCode(error)
  // Extended codes (SQLITE_IOERR_WRITE) mean what their primary code (SQLITE_IOERR) means.
  const meaning = code === undefined ? undefined : sqliteMeaning[code.split("_").slice(0, 2).join("_")]
  const messages: Array<string> = []
  for (let current = error, depth = 0; current !== undefined && current !== null && depth < 5; depth++) {
    // The first line: a binding error goes on to list every path it tried.
    const message = (current instanceof Error ? current.message : String(current)).split("\n")[0]!.trim()
    if (message !== "" && !messages.includes(message)) messages.push(message)
    current = (current as { cause?: unknown }).cause
  }
  return [code, meaning, messages.join(": ")].filter((part) => part !== undefined && part !== "").join(", ")
}

/** The native module failed to load (missing build, or built for another Node). */
const isNativeBindingFailure = (error: unknown): boolean =>
  /better_sqlite3\.node|bindings file|NODE_MODULE_VERSION|was compiled against a different Node|invalid ELF header|ERR_DLOPEN_FAILED/i
    .test(describeSqliteError(error))

const closeQuietly = (scope: Scope.CloseableScope) => Scope.close(scope, Exit.void)

/**
 * Open the SQLite store in a folder, or explain why there is none. A cache is an optimization:
 * nothing here stops a fetch. A damaged file is moved aside (renamed with a timestamp) and a new
 * one created; an unwritable folder, a full disk or a native module that does not load is one
 * warning, then a run without the persistent tier.
 */
export const open = (cacheDir: string): Effect.Effect<SqliteStore | undefined, never, Scope.Scope> =>
  Effect.gen(function*() {
    const filename = Path.join(cacheDir, databaseFileName)
    const withoutTier = (why: string) =>
      Effect.as(Effect.logWarning(`cache: ${why}; running without the persistent cache (memory only)`), undefined)
    const folder = yield* Effect.either(Effect.try(() => {
      Fs.mkdirSync(cacheDir, { recursive: true })
      Fs.accessSync(cacheDir, Fs.constants.W_OK)
    }))
    if (Either.isLeft(folder)) {
      return yield* withoutTier(`the folder ${cacheDir} is not usable (${String(folder.left.error)})`)
    }
    const outer = yield* Effect.scope
    const attempt = Effect.gen(function*() {
      const scope = yield* Scope.fork(outer, ExecutionStrategy.sequential)
      const opened = yield* SqliteClient.make({ filename }).pipe(
        Effect.flatMap((client) => Effect.provideService(makeSqliteStore, SqlClient.SqlClient, client)),
        Effect.provide(Reactivity.layer),
        Scope.extend(scope),
        Effect.catchAllDefect(Effect.fail),
        Effect.either
      )
      if (Either.isLeft(opened)) yield* closeQuietly(scope)
      return opened
    })
    const first = yield* attempt
    if (Either.isRight(first)) return first.right
    const cause = first.left
    if (isNativeBindingFailure(cause)) {
      return yield* Effect.as(
        Effect.logError(
          `cache: the SQLite module better-sqlite3 does not load (${describeSqliteError(cause)}); ` +
            "rebuild it for this Node with `npm rebuild better-sqlite3`; running without the persistent cache"
        ),
        undefined
      )
    }
    const code = sqliteCode(cause)
    if (code !== "SQLITE_NOTADB" && !code?.startsWith("SQLITE_CORRUPT")) {
      return yield* withoutTier(`cannot open ${filename}: ${describeSqliteError(cause)}`)
    }
    const now = yield* Clock.currentTimeMillis
    const aside = `${filename}.corrupt-${new Date(now).toISOString().replaceAll(":", "-")}`
    const moved = yield* Effect.either(Effect.try(() => {
      Fs.renameSync(filename, aside)
      for (const suffix of ["-wal", "-shm"]) Fs.rmSync(`${filename}${suffix}`, { force: true })
    }))
    if (Either.isLeft(moved)) {
      return yield* withoutTier(`${filename} is damaged and cannot be moved aside (${String(moved.left.error)})`)
    }
    yield* Effect.logWarning(
      `cache: ${filename} was damaged (${describeSqliteError(cause)}); moved it to ${aside} and started a new cache`
    )
    const second = yield* attempt
    return Either.isRight(second)
      ? second.right
      : yield* withoutTier(`cannot create a new ${filename}: ${describeSqliteError(second.left)}`)
  })
