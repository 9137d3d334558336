/**
 * A SQLite database on Node's built-in `node:sqlite` (`DatabaseSync`), with the small surface the
 * SQLite tier needs: statements (prepared once and kept by their text), `BEGIN IMMEDIATE`
 * transactions, and every driver failure mapped at this boundary into a `SqliteError` naming
 * SQLite's result code. Modeled on `@effect/sql-sqlite-node`'s `SqliteClient` (open in a scope,
 * close in its finalizer), which wrapped better-sqlite3 before Node had SQLite built in.
 *
 * `node:sqlite` is loaded when a database is opened, never at import (`import("tif1-effect")`
 * stays fast and a memory-only cache never loads it). Node 22 calls the module experimental and
 * warns once when it loads; that one warning is dropped (see `loadNodeSqlite`), every other
 * warning of the process is printed as usual.
 *
 * @since 0.2.0
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type * as NodeSqlite from "node:sqlite"

/**
 * What failed: loading `node:sqlite`, opening the file, preparing or executing a statement.
 *
 * @since 0.2.0
 */
export const SqliteOperation = Schema.Literals(["load", "open", "prepare", "execute"])

/**
 * A `SqliteOperation`.
 *
 * @since 0.2.0
 */
export type SqliteOperation = typeof SqliteOperation.Type

/**
 * A SQLite failure: what was being done, SQLite's result code when it gave one (`code` by name,
 * `errcode` as the number, extended codes included: `SQLITE_IOERR_WRITE`, 778), SQLite's text
 * for it, and the driver's error as `cause` (its message says the detail: "near "SELEC": syntax
 * error"). Replaces `@effect/sql`'s `SqlError` (`message` + `cause`), which the tier failed with
 * before 0.2.
 *
 * @since 0.2.0
 */
export class SqliteError extends Schema.TaggedError<SqliteError>()("SqliteError", {
  operation: SqliteOperation,
  /** What was being done, for a person: "Failed to execute statement". */
  message: Schema.String,
  /** SQLite's result code by name (`SQLITE_BUSY`, `SQLITE_IOERR_WRITE`), when SQLite gave one. */
  code: Schema.optional(Schema.String),
  /** The same code as SQLite's number (extended result code). */
  errcode: Schema.optional(Schema.Number),
  /** SQLite's description of the code ("database is locked"). */
  errstr: Schema.optional(Schema.String),
  cause: Schema.Defect()
}) {}

/** SQLite's primary result codes, by number. */
const primaryCodes = [
  "OK",
  "ERROR",
  "INTERNAL",
  "PERM",
  "ABORT",
  "BUSY",
  "LOCKED",
  "NOMEM",
  "READONLY",
  "INTERRUPT",
  "IOERR",
  "CORRUPT",
  "NOTFOUND",
  "FULL",
  "CANTOPEN",
  "PROTOCOL",
  "EMPTY",
  "SCHEMA",
  "TOOBIG",
  "CONSTRAINT",
  "MISMATCH",
  "MISUSE",
  "NOLFS",
  "AUTH",
  "FORMAT",
  "RANGE",
  "NOTADB",
  "NOTICE",
  "WARNING"
]

/**
 * The extended result codes (`sqlite3.h`): `primary | (n << 8)` is the n-th name of its primary
 * code's list (`SQLITE_IOERR | (3 << 8)` = 778 = `SQLITE_IOERR_WRITE`).
 */
const extendedCodes: Record<string, ReadonlyArray<string>> = {
  ERROR: ["MISSING_COLLSEQ", "RETRY", "SNAPSHOT"],
  IOERR: [
    "READ",
    "SHORT_READ",
    "WRITE",
    "FSYNC",
    "DIR_FSYNC",
    "TRUNCATE",
    "FSTAT",
    "UNLOCK",
    "RDLOCK",
    "DELETE",
    "BLOCKED",
    "NOMEM",
    "ACCESS",
    "CHECKRESERVEDLOCK",
    "LOCK",
    "CLOSE",
    "DIR_CLOSE",
    "SHMOPEN",
    "SHMSIZE",
    "SHMLOCK",
    "SHMMAP",
    "SEEK",
    "DELETE_NOENT",
    "MMAP",
    "GETTEMPPATH",
    "CONVPATH",
    "VNODE",
    "AUTH",
    "BEGIN_ATOMIC",
    "COMMIT_ATOMIC",
    "ROLLBACK_ATOMIC",
    "DATA",
    "CORRUPTFS",
    "IN_PAGE"
  ],
  LOCKED: ["SHAREDCACHE", "VTAB"],
  BUSY: ["RECOVERY", "SNAPSHOT", "TIMEOUT"],
  CANTOPEN: ["NOTEMPDIR", "ISDIR", "FULLPATH", "CONVPATH", "DIRTYWAL", "SYMLINK"],
  CORRUPT: ["VTAB", "SEQUENCE", "INDEX"],
  READONLY: ["RECOVERY", "CANTLOCK", "ROLLBACK", "DBMOVED", "CANTINIT", "DIRECTORY"],
  ABORT: ["", "ROLLBACK"],
  CONSTRAINT: [
    "CHECK",
    "COMMITHOOK",
    "FOREIGNKEY",
    "FUNCTION",
    "NOTNULL",
    "PRIMARYKEY",
    "TRIGGER",
    "UNIQUE",
    "VTAB",
    "ROWID",
    "PINNED",
    "DATATYPE"
  ],
  NOTICE: ["RECOVER_WAL", "RECOVER_ROLLBACK", "RBU"],
  WARNING: ["AUTOINDEX"],
  AUTH: ["USER"]
}

/**
 * A result code's name: `SQLITE_READONLY` for 8, `SQLITE_IOERR_WRITE` for 778 (an extended code
 * this table does not know is named by its primary code).
 *
 * @since 0.2.0
 */
const resultCodeName = (errcode: number): string | undefined => {
  const primary = primaryCodes[errcode & 0xff]
  if (primary === undefined) return undefined
  const extended = errcode >> 8 === 0 ? undefined : extendedCodes[primary]?.[(errcode >> 8) - 1]
  return extended === undefined || extended === "" ? `SQLITE_${primary}` : `SQLITE_${primary}_${extended}`
}

/**
 * The SQLite result code in an error or its causes, by name (`SQLITE_BUSY`, ...), if any: our
 * `SqliteError`'s `code`, or the numeric `errcode` `node:sqlite` puts on its errors (their `code`
 * is Node's `ERR_SQLITE_ERROR`).
 *
 * @since 0.2.0
 */
export const sqliteCode = (error: unknown): string | undefined => {
  for (let current = error, depth = 0; current !== undefined && current !== null && depth < 5; depth++) {
    const { code, errcode } = current as { code?: unknown; errcode?: unknown }
    if (typeof code === "string" && code.startsWith("SQLITE_")) return code
    if (typeof errcode === "number") {
      const name = resultCodeName(errcode)
      if (name !== undefined) return name
    }
    current = (current as { cause?: unknown }).cause
  }
  return undefined
}

/**
 * A driver failure as a `SqliteError`: the code, number and text `node:sqlite` gave (an error
 * with `errcode` and `errstr`), or none for failures of Node's own (a closed database, a value
 * that cannot be bound).
 *
 * @since 0.2.0
 */
export const fromCause = (operation: SqliteOperation, message: string, cause: unknown): SqliteError => {
  const { errcode, errstr } = (cause ?? {}) as { errcode?: unknown; errstr?: unknown }
  return new SqliteError({
    operation,
    message,
    code: sqliteCode(cause),
    errcode: typeof errcode === "number" ? errcode : undefined,
    errstr: typeof errstr === "string" ? errstr : undefined,
    cause
  })
}

/** An ExperimentalWarning about SQLite, in any of `process.emitWarning`'s call forms. */
const isSqliteExperimentalWarning = (warning: unknown, typeOrOptions: unknown): boolean => {
  const type = warning instanceof Error
    ? warning.name
    : typeof typeOrOptions === "string"
    ? typeOrOptions
    : (typeOrOptions as { type?: unknown } | undefined)?.type
  const message = warning instanceof Error ? warning.message : String(warning)
  return type === "ExperimentalWarning" && /\bSQLite\b/.test(message)
}

/**
 * `node:sqlite`, loaded now (Node caches it: later calls cost a lookup). Node 22 emits
 * "ExperimentalWarning: SQLite is an experimental feature" when the module first loads, and the
 * cache must print nothing of its own: for the duration of this synchronous load (and only then),
 * `process.emitWarning` drops that one warning and passes every other one on; it is restored
 * however the load ends. Throws when this Node has no `node:sqlite`.
 *
 * @since 0.2.0
 */
export const loadNodeSqlite = (): typeof NodeSqlite => {
  if (typeof process.getBuiltinModule !== "function") {
    throw new Error(`Node ${process.version} has no process.getBuiltinModule (Node 22.19 or later has it)`)
  }
  const emitWarning = process.emitWarning
  process.emitWarning = function(this: unknown, warning: string | Error, ...rest: Array<unknown>) {
    if (isSqliteExperimentalWarning(warning, rest[0])) return
    return Reflect.apply(emitWarning, this, [warning, ...rest])
  } as typeof process.emitWarning
  let loaded: typeof NodeSqlite | undefined
  try {
    loaded = process.getBuiltinModule("node:sqlite")
  } finally {
    process.emitWarning = emitWarning
  }
  if (loaded === undefined) throw new Error(`Node ${process.version} has no built-in node:sqlite module`)
  return loaded
}

/**
 * A value a statement can bind (`node:sqlite` binds any `ArrayBufferView` as a BLOB).
 *
 * @since 0.2.0
 */
export type SqliteValue = null | number | bigint | string | Uint8Array

/**
 * An open database.
 *
 * @since 0.2.0
 */
export interface SqliteConnectionService {
  /** Run SQL with no parameters and no result rows (PRAGMAs, DDL, `BEGIN`/`COMMIT`). */
  readonly exec: (sql: string) => Effect.Effect<void, SqliteError>
  /** Run a statement (prepared on first use and kept); the rows it changed. */
  readonly run: (sql: string, ...params: ReadonlyArray<SqliteValue>) => Effect.Effect<number, SqliteError>
  /**
   * A query's rows, typed as the caller says (as `@effect/sql`'s `sql<Row>` did: the columns are
   * the statement's). BLOB columns are `Uint8Array`s, integers `number`s.
   */
  readonly all: <Row extends object>(
    sql: string,
    ...params: ReadonlyArray<SqliteValue>
  ) => Effect.Effect<ReadonlyArray<Row>, SqliteError>
  /** A query's first row, if any. */
  readonly get: <Row extends object>(
    sql: string,
    ...params: ReadonlyArray<SqliteValue>
  ) => Effect.Effect<Row | undefined, SqliteError>
  /**
   * `self` in a `BEGIN IMMEDIATE` transaction (a writer from the start: it waits for the busy
   * timeout instead of failing when another process writes), committed when it succeeds, rolled
   * back when it fails or is interrupted. SQLite has one transaction per connection: statements
   * other fibers run on this connection meanwhile are part of it.
   */
  readonly transaction: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | SqliteError, R>
}

/**
 * How to open a database.
 *
 * @since 0.2.0
 */
export interface SqliteConnectionOptions {
  readonly filename: string
  /** Open without write access (the file must exist). */
  readonly readOnly?: boolean | undefined
  /** How long a statement waits for another connection's lock before `SQLITE_BUSY` (default 5 s). */
  readonly busyTimeout?: Duration.Input | undefined
}

/**
 * Open a database for the scope: closed (its prepared statements with it) when the scope closes.
 *
 * @since 0.2.0
 */
export const make = (
  options: SqliteConnectionOptions
): Effect.Effect<SqliteConnectionService, SqliteError, Scope.Scope> =>
  Effect.gen(function*() {
    const { DatabaseSync } = yield* Effect.try({
      try: loadNodeSqlite,
      catch: (cause) => fromCause("load", "Failed to load node:sqlite", cause)
    })
    const db = yield* Effect.acquireRelease(
      Effect.try({
        try: () =>
          new DatabaseSync(options.filename, {
            readOnly: options.readOnly ?? false,
            timeout: Duration.toMillis(Duration.fromInputUnsafe(options.busyTimeout ?? "5 seconds"))
          }),
        catch: (cause) => fromCause("open", "Failed to open database", cause)
      }),
      (opened) =>
        Effect.sync(() => {
          // Closing finalizes the prepared statements; it throws only when already closed.
          if (opened.isOpen) opened.close()
        })
    )
    /** Prepared statements by their text: the store uses a fixed set of them. */
    const statements = new Map<string, NodeSqlite.StatementSync>()

    const use = <A>(sql: string, execute: (statement: NodeSqlite.StatementSync) => A): Effect.Effect<A, SqliteError> =>
      Effect.suspend(() => {
        let statement = statements.get(sql)
        if (statement === undefined) {
          try {
            statement = db.prepare(sql)
          } catch (cause) {
            return Effect.fail(fromCause("prepare", "Failed to prepare statement", cause))
          }
          statements.set(sql, statement)
        }
        try {
          return Effect.succeed(execute(statement))
        } catch (cause) {
          return Effect.fail(fromCause("execute", "Failed to execute statement", cause))
        }
      })

    const exec = (sql: string) =>
      Effect.try({
        try: () => db.exec(sql),
        catch: (cause) => fromCause("execute", "Failed to execute statement", cause)
      })

    const connection: SqliteConnectionService = {
      exec,
      run: (sql, ...params) => use(sql, (statement) => Number(statement.run(...params).changes)),
      // The rows are plain objects with the statement's columns: the caller names their types.
      all: <Row extends object>(sql: string, ...params: ReadonlyArray<SqliteValue>) =>
        use(sql, (statement) => statement.all(...params) as ReadonlyArray<object> as ReadonlyArray<Row>),
      get: <Row extends object>(sql: string, ...params: ReadonlyArray<SqliteValue>) =>
        use(sql, (statement) => statement.get(...params) as object | undefined as Row | undefined),
      transaction: (self) =>
        Effect.uninterruptibleMask((restore) =>
          Effect.andThen(
            exec("BEGIN IMMEDIATE"),
            restore(self).pipe(
              Effect.tap(() => exec("COMMIT")),
              Effect.onError(() => db.isTransaction ? Effect.ignore(exec("ROLLBACK")) : Effect.void)
            )
          )
        )
    }
    return connection
  })

/**
 * The database tag, for code that builds the SQLite tier itself (`Cache.makeSqliteTier`).
 *
 * @since 0.2.0
 */
export class SqliteConnection extends Context.Service<SqliteConnection, SqliteConnectionService>()(
  "tif1-effect/SqliteConnection"
) {
  /** A database opened with the layer and closed with it. */
  static readonly layer = (options: SqliteConnectionOptions): Layer.Layer<SqliteConnection, SqliteError> =>
    Layer.effect(SqliteConnection, make(options))
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
 * An error as a user reads it: the SQLite code and what it means, then the messages of the error
 * and its causes (`Failed to execute statement` alone says neither).
 *
 * @since 0.2.0
 */
export const describeSqliteError = (error: unknown): string => {
  const code = sqliteCode(error)
  // Extended codes (SQLITE_IOERR_WRITE) mean what their primary code (SQLITE_IOERR) means.
  const meaning = code === undefined ? undefined : sqliteMeaning[code.split("_").slice(0, 2).join("_")]
  const messages: Array<string> = []
  for (let current = error, depth = 0; current !== undefined && current !== null && depth < 5; depth++) {
    // The first line only: a message can go on with details nobody reads in a warning.
    const message = (current instanceof Error ? current.message : String(current)).split("\n")[0]!.trim()
    if (message !== "" && !messages.includes(message)) messages.push(message)
    current = (current as { cause?: unknown }).cause
  }
  return [code, meaning, messages.join(": ")].filter((part) => part !== undefined && part !== "").join(", ")
}
