/**
 * The shared tier: one Redis server for a fleet of processes, below each process's SQLite file.
 * Values are the same rows as SQLite's (`RowCodec`), framed into one byte string per key; negative
 * entries are keys with a TTL on the server (no scan ever expires them); a value larger than
 * `redis_max_value_bytes` stays in the local tiers. `lead` is fleet-wide single flight: the first
 * process to miss a file takes a short lock (`SET NX PX`, released by compare-and-delete) and the
 * others wait, bounded, for its value.
 *
 * Faults never fail a fetch or deliver wrong data: an unreachable, killed or slow server (a
 * command slower than `redis_timeout`) is one warning, then the tier is skipped for
 * `redis_retry_after` seconds on the Clock and tried again; a value that does not decode is a miss
 * and is deleted.
 *
 * What the server hands back is input: any client of it can write a row and compute its
 * checksum. A row stating more than `max_response_bytes` is not decompressed, a value holding
 * anything but JSON types is refused (`RowCodec.decodeRow`), and a refused value is never handed
 * to the tiers above. A 304 restarts a stored value's age only where its validators are the ones
 * the request sent (compared on the server, in the script that rewrites the time).
 *
 * The client is `ioredis` (an optional peer dependency, loaded only when `redis_url` is set): replies
 * as Buffers per command (`getBuffer`), a per-command timeout, no offline queue (a command while the
 * connection is down fails at once instead of waiting), and automatic pipelining, which puts the
 * lookups of a thousand concurrent fetches into a few writes.
 *
 * @since 0.2.0
 */
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"
import * as Crypto from "node:crypto"
import { redactSecrets } from "../../schema/Config.js"
import {
  type CacheScope,
  type CacheStore,
  emptySizes,
  scopeMatches,
  scopePrefix,
  type SessionScope,
  type StoredEntry
} from "./CacheStore.js"
import * as RowCodec from "./RowCodec.js"

/**
 * The part of the ioredis client this store uses (so the rest of the code does not depend on its types).
 */
interface RedisClient {
  getBuffer(key: string): Promise<Buffer | null>
  mgetBuffer(...keys: Array<string>): Promise<Array<Buffer | null>>
  set(key: string, value: string | Buffer, ...args: Array<string | number>): Promise<string | null>
  del(...keys: Array<string>): Promise<number>
  unlink(...keys: Array<string>): Promise<number>
  exists(...keys: Array<string>): Promise<number>
  eval(script: string, keys: number, ...args: Array<string | number | Buffer>): Promise<unknown>
  scan(cursor: string, ...args: Array<string | number>): Promise<[string, Array<string>]>
  connect(): Promise<void>
  quit(): Promise<unknown>
  disconnect(): void
  publish(channel: string, message: string): Promise<number>
  on(event: "error", listener: (error: Error) => void): unknown
  readonly status: string
}

/**
 * A second connection subscribed to the store's channel: a lock holder publishes the key it
 * released, so the processes waiting for it look at once instead of at their next poll.
 */
interface RedisSubscriber {
  subscribe(channel: string): Promise<unknown>
  on(event: "message", listener: (channel: string, message: string) => void): unknown
  on(event: "ready", listener: () => void): unknown
}

/**
 * Counters of the shared tier.
 *
 * @since 0.2.0
 */
export interface RedisStats {
  /** `up`: answering; `down`: skipped after a fault until it is tried again. */
  readonly state: "up" | "down"
  /** Commands that failed or timed out. */
  readonly errors: number
  /** Operations skipped because the tier was down. */
  readonly skipped: number
  /** Values not written because they were over `redis_max_value_bytes`. */
  readonly tooLarge: number
  readonly corruptValuesDropped: number
  /** Files this process fetched holding the fleet lock. */
  readonly leads: number
  /** Files another process was fetching: waited for, and found in Redis when it was done. */
  readonly waitedHits: number
}

/**
 * What `lead` decided: fetch it (holding the lock when `release` is not a no-op), or another
 * process fetched it meanwhile.
 *
 * @since 0.2.0
 */
export type FleetLead =
  | { readonly _tag: "Lead"; readonly release: Effect.Effect<void> }
  | { readonly _tag: "Found"; readonly entry: StoredEntry }
  | { readonly _tag: "Missing" }

/**
 * The Redis store.
 *
 * @since 0.2.0
 */
export interface RedisStore extends CacheStore {
  /**
   * Fleet-wide single flight for a key no tier has: take the fleet lock, or wait (at most the
   * lock's TTL, polling) for the process holding it to store the value or a negative entry. A
   * lock that disappears without a value (its holder failed or died) is taken over.
   *
   * Run uninterruptibly (as the acquire of `Effect.acquireUseRelease`, with `release` as its
   * release), taking the lock and registering its release are one step an interruption cannot
   * split: the `SET NX` is waited for, never abandoned with the lock set behind it, and a lock
   * taken reaches the caller. The waits for another process stay interruptible.
   */
  readonly lead: (key: string) => Effect.Effect<FleetLead>
  readonly stats: () => RedisStats
}

/**
 * The settings of the store (from the config keys of the same names).
 *
 * @since 0.2.0
 */
export interface RedisStoreOptions {
  readonly url: string
  readonly keyPrefix: string
  readonly maxValueBytes: number
  /** A row stating a larger value is not decompressed; a value whose row would be larger is not written. */
  readonly maxResponseBytes: number
  /** Seconds. */
  readonly timeout: number
  readonly retryAfter: number
  readonly lockTtl: number
}

/**
 * Write the 8 bytes of a new storage time (ARGV[2] at offset ARGV[1]) into a stored row, only if
 * it is a tif1 row whose validators section (after the checksum, whose length is the byte at
 * ARGV[3]) is ARGV[4] byte for byte: another process may have stored another copy since.
 */
const touchScript = `if redis.call('GETRANGE', KEYS[1], 0, 3) ~= 'T1R1' then return 0 end
local length = redis.call('GETRANGE', KEYS[1], ARGV[3], ARGV[3])
if #length ~= 1 then return 0 end
local from = ARGV[3] + 1 + string.byte(length)
if redis.call('GETRANGE', KEYS[1], from, from + #ARGV[4] - 1) ~= ARGV[4] then return 0 end
return redis.call('SETRANGE', KEYS[1], ARGV[1], ARGV[2])`

/** Delete the lock only if it is still ours (it may have expired and been taken by another process). */
const releaseScript = `if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return redis.call('PUBLISH', KEYS[2], ARGV[2]) end
return 0`

/** `*`, `?`, `[`, `]` and `\` match literally in a SCAN pattern when escaped. */
const escapeGlob = (text: string) => text.replace(/[*?[\]\\]/g, "\\$&")

/**
 * A command's reply within `ms`, or a timeout error. Not ioredis' `commandTimeout`: after the
 * event loop was busy (a burst of JSON parsing in a loaded process) its timer fires before the
 * loop has read the replies already waiting in the socket, and a healthy server looks slow (seen
 * in the fleet bench: 25 false timeouts in one run, each skipping the tier). Here the timer's
 * verdict waits one turn (`setImmediate` runs after the loop's I/O phase), so a reply that has
 * arrived is read first.
 */
const withinDeadline = <A>(reply: Promise<A>, ms: number): Promise<A> =>
  new Promise<A>((resolve, reject) => {
    let settled = false
    const timer = setTimeout(() =>
      setImmediate(() => {
        if (settled) return
        settled = true
        reject(new Error(`timed out after ${ms} ms`))
      }), ms)
    reply.then(
      (value) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        resolve(value)
      },
      (error) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        reject(error)
      }
    )
  })

/** SCAN pages, with a bound: a keyspace of tens of millions of keys is cleared in pieces, not forever. */
const maxScanPages = 100_000

const noRelease: FleetLead = { _tag: "Lead", release: Effect.void }

/**
 * The store over a connected client.
 *
 * @since 0.2.0
 */
export const make = (
  client: RedisClient,
  options: RedisStoreOptions,
  connected: boolean,
  subscriber?: RedisSubscriber
): Effect.Effect<RedisStore> =>
  Effect.gen(function*() {
    const valueKey = (key: string) => `${options.keyPrefix}v:${key}`
    const missingKey = (key: string) => `${options.keyPrefix}m:${key}`
    const lockKey = (key: string) => `${options.keyPrefix}l:${key}`
    const counters = { errors: 0, skipped: 0, tooLarge: 0, corruptValuesDropped: 0, leads: 0, waitedHits: 0 }
    /** Clock ms until which the tier is skipped; `undefined` = up. */
    let downUntil: number | undefined = connected
      ? undefined
      : (yield* Clock.currentTimeMillis) + options.retryAfter * 1000

    const redacted = redactSecrets(options.url)
    const timeoutMs = Math.max(1, Math.round(options.timeout * 1000))

    /**
     * One command, or its fallback when the tier is down or the command fails (which takes the
     * tier down: one warning per fault, not one per command).
     */
    const run = <A>(what: string, command: () => Promise<A>, fallback: A): Effect.Effect<A> =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        if (downUntil !== undefined && now < downUntil) {
          counters.skipped++
          return Effect.succeed(fallback)
        }
        return Effect.tryPromise(() => withinDeadline(command(), timeoutMs)).pipe(
          Effect.tap(() => {
            if (downUntil === undefined) return Effect.void
            downUntil = undefined
            return Effect.logInfo(`cache: Redis at ${redacted} answers again; the shared tier is back`)
          }),
          Effect.catch((error) => {
            counters.errors++
            const wasUp = downUntil === undefined
            downUntil = now + options.retryAfter * 1000
            const message = `cache: Redis ${what} failed (${describe(error.cause)}); ` +
              `skipping the shared tier for ${options.retryAfter} s (loads go on from the local tiers and the CDNs)`
            return Effect.as(wasUp ? Effect.logWarning(message) : Effect.logDebug(message), fallback)
          })
        )
      })

    const decode = (key: string, framed: Buffer | null): Effect.Effect<StoredEntry | undefined> => {
      if (framed === null) return Effect.succeed(undefined)
      const decoded = Result.flatMap(
        RowCodec.unframeRow(framed),
        ({ row, storedAt, validators }) =>
          Result.map(
            RowCodec.decodeRow(key, row, options.maxResponseBytes),
            (value): StoredEntry => ({ value, storedAt, validators, row })
          )
      )
      if (Result.isSuccess(decoded)) return Effect.succeed(decoded.success)
      counters.corruptValuesDropped++
      return Effect.andThen(
        Effect.logWarning(`cache: dropping corrupt Redis value ${key}: ${decoded.failure}`),
        Effect.as(run("delete", () => client.del(valueKey(key)), 0), undefined)
      )
    }

    const get = (key: string) =>
      Effect.flatMap(run("read", () => client.getBuffer(valueKey(key)), null), (framed) => decode(key, framed))

    const invalidate = (scope: CacheScope | SessionScope): Effect.Effect<void> => {
      if (scope === "memory") return Effect.void
      // The prefix is escaped too: `team?:` must not match another fleet's `teamA:` keys.
      const pattern = `${escapeGlob(options.keyPrefix)}[vm]:${
        typeof scope === "object" ? escapeGlob(scopePrefix(scope)) : ""
      }*`
      const stripped = (name: string) => name.slice(options.keyPrefix.length + 2)
      return run("invalidate", async () => {
        let cursor = "0"
        for (let page = 0; page < maxScanPages; page++) {
          const [next, names] = await client.scan(cursor, "MATCH", pattern, "COUNT", 1000)
          const doomed = names.filter((name) =>
            name.startsWith(options.keyPrefix) && scopeMatches(scope, stripped(name))
          )
          if (doomed.length > 0) await client.unlink(...doomed)
          cursor = next
          if (cursor === "0") return
        }
      }, undefined)
    }

    /** This process's leads in progress, so its own concurrent callers wait for them, not for Redis. */
    const leading = new Map<string, Deferred.Deferred<FleetLead>>()
    const pollFirstMs = 10
    const pollMaxMs = 250
    /** Where lock holders announce released keys, and the fibers waiting for each key. */
    const channel = `${options.keyPrefix}released`
    const waiting = new Map<string, Set<() => void>>()
    if (subscriber !== undefined) {
      subscriber.on("message", (from, key) => {
        if (from !== channel) return
        for (const wake of waiting.get(key) ?? []) wake()
      })
      // Subscribed on every (re)connection: a server that restarts has forgotten it.
      const subscribe = () => subscriber.subscribe(channel).catch(() => {})
      subscriber.on("ready", subscribe)
      yield* Effect.promise(subscribe)
    }
    /** Sleep until the next poll, or until the key's holder announces its release. */
    const nap = (key: string, ms: number) =>
      Effect.race(
        Effect.sleep(Duration.millis(ms)),
        Effect.callback<void>((resume) => {
          const wake = () => resume(Effect.void)
          const set = waiting.get(key) ?? new Set()
          set.add(wake)
          waiting.set(key, set)
          return Effect.sync(() => {
            set.delete(wake)
            if (set.size === 0) waiting.delete(key)
          })
        })
      )

    /** What another process stored for a key meanwhile: its value or its negative entry. */
    const settledBy = (key: string): Effect.Effect<FleetLead | undefined> =>
      Effect.gen(function*() {
        const [framed, missing] = yield* run(
          "read",
          () => Promise.all([client.getBuffer(valueKey(key)), client.exists(missingKey(key))]),
          [null, 0] as const
        )
        const entry = yield* decode(key, framed)
        if (entry !== undefined) {
          counters.waitedHits++
          return { _tag: "Found", entry } as const
        }
        return missing === 1 ? { _tag: "Missing" } as const : undefined
      })

    const tryLead = (key: string): Effect.Effect<FleetLead> =>
      Effect.gen(function*() {
        const lockTtlMs = Math.max(1, Math.round(options.lockTtl * 1000))
        const deadline = (yield* Clock.currentTimeMillis) + lockTtlMs
        const token = Crypto.randomBytes(12).toString("base64")
        const release = Effect.asVoid(
          run("unlock", () => client.eval(releaseScript, 2, lockKey(key), channel, token, key), 0)
        )
        let pollMs = pollFirstMs
        // Bounded: every turn sleeps at least pollFirstMs until the deadline.
        for (let turn = 0; turn < 1 + Math.ceil(lockTtlMs / pollFirstMs); turn++) {
          const taken = yield* run("lock", () => client.set(lockKey(key), token, "PX", lockTtlMs, "NX"), undefined)
          if (taken === undefined) return noRelease // the tier is down: fetch without the fleet
          if (taken === "OK") {
            // The previous holder may have stored it between this process's lookup and its lock.
            const settled = yield* settledBy(key)
            if (settled !== undefined) return yield* Effect.as(release, settled)
            counters.leads++
            return { _tag: "Lead", release }
          }
          // Another process is fetching it: wait for its value, its negative entry or its lock to go.
          // Nothing is held while waiting: interruptible even where the lead is taken uninterruptibly.
          for (;;) {
            if ((yield* Clock.currentTimeMillis) >= deadline) {
              yield* Effect.logDebug(
                `cache: waited ${options.lockTtl} s for another process to fetch ${key}; fetching it`
              )
              return noRelease
            }
            yield* Effect.interruptible(nap(key, pollMs))
            pollMs = Math.min(pollMs * 2, pollMaxMs)
            const settled = yield* Effect.interruptible(settledBy(key))
            if (settled !== undefined) return settled
            const locked = yield* Effect.interruptible(run("read", () => client.exists(lockKey(key)), 0))
            if (locked === 0) break // its holder finished without a value, or died: take over
          }
        }
        return noRelease
      })

    const store: RedisStore = {
      tier: "redis",
      get,
      getMany: (keys) =>
        keys.length === 0
          ? Effect.succeed([])
          : Effect.flatMap(
            run("read", () => client.mgetBuffer(...keys.map(valueKey)), keys.map(() => null)),
            (framed) => Effect.forEach(keys, (key, index) => decode(key, framed[index] ?? null))
          ),
      set: (key, entry, encoded) =>
        Effect.gen(function*() {
          const row = entry.row ?? (yield* encoded)
          const framed = RowCodec.frameRow(row, entry.storedAt, entry.validators)
          if (framed.byteLength > options.maxValueBytes || row.size > options.maxResponseBytes) {
            counters.tooLarge++
            yield* Effect.logDebug(
              `cache: ${key} is ${framed.byteLength} bytes stored (${row.size} encoded), over redis_max_value_bytes ` +
                "or max_response_bytes; kept in the local tiers"
            )
            return false
          }
          return (yield* run("write", () => client.set(valueKey(key), framed), null)) === "OK"
        }).pipe(
          Effect.catch((error) =>
            Effect.as(Effect.logWarning(`cache: cannot encode ${key} for Redis: ${error.message}`), false)
          )
        ),
      touch: (key, storedAt, sent) => {
        if (sent.etag === undefined && sent.lastModified === undefined) return Effect.void
        const bytes = Buffer.allocUnsafe(8)
        bytes.writeDoubleBE(storedAt)
        const section = RowCodec.framedValidators(sent)
        return Effect.asVoid(run(
          "touch",
          () =>
            client.eval(
              touchScript,
              1,
              valueKey(key),
              RowCodec.framedStoredAtOffset,
              bytes,
              RowCodec.framedChecksumLengthOffset,
              section
            ),
          0
        ))
      },
      remove: (key) => Effect.asVoid(run("delete", () => client.del(valueKey(key)), 0)),
      getMissing: (key) => Effect.map(run("read", () => client.exists(missingKey(key)), 0), (found) => found === 1),
      setMissing: (key, now, expiresAt) =>
        expiresAt <= now
          ? Effect.void
          : Effect.asVoid(run("write", () => client.set(missingKey(key), "1", "PX", Math.ceil(expiresAt - now)), null)),
      clearMissing: (key) => Effect.asVoid(run("delete", () => client.del(missingKey(key)), 0)),
      invalidate,
      // Counting a prefix's keys takes a scan of the whole keyspace: not for a stats call.
      sizes: Effect.succeed(emptySizes),
      lead: (key) =>
        Effect.suspend(() => {
          const pending = leading.get(key)
          if (pending !== undefined) {
            // The process's own lead: the fetch it starts is shared locally (Fetcher's flights).
            return Effect.interruptible(
              Effect.map(Deferred.await(pending), (lead) => lead._tag === "Lead" ? noRelease : lead)
            )
          }
          const deferred = Deferred.makeUnsafe<FleetLead>()
          leading.set(key, deferred)
          return Effect.onExit(tryLead(key), (exit) =>
            Effect.suspend(() => {
              leading.delete(key)
              return Deferred.succeed(deferred, Exit.isSuccess(exit) ? exit.value : noRelease)
            }))
        }),
      stats: () => ({ state: downUntil === undefined ? "up" : "down", ...counters })
    }
    return store
  })

const describe = (error: unknown): string => redactSecrets(error instanceof Error ? error.message : String(error))

/**
 * Connect to `redis_url` (a scoped resource: the connection closes with the scope), or explain
 * why there is no shared tier. A server that does not answer at start is one warning; the client
 * keeps reconnecting and the tier is tried again after `redis_retry_after`.
 *
 * @since 0.2.0
 */
export const open = (options: RedisStoreOptions): Effect.Effect<RedisStore | undefined, never, Scope.Scope> =>
  Effect.gen(function*() {
    const where = redactSecrets(options.url)
    const module = yield* Effect.result(Effect.tryPromise(() => import("ioredis")))
    if (Result.isFailure(module)) {
      return yield* Effect.as(
        Effect.logError(
          `cache: redis_url is set but the optional dependency ioredis does not load (${
            describe(module.failure.cause)
          }); ` +
            "install it with `npm install ioredis@5`; running without the shared tier"
        ),
        undefined
      )
    }
    const timeoutMs = Math.max(1, Math.round(options.timeout * 1000))
    const client = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const created = new module.success.Redis(options.url, {
          lazyConnect: true,
          enableOfflineQueue: false,
          maxRetriesPerRequest: 0,
          enableAutoPipelining: true,
          connectTimeout: Math.max(timeoutMs, 1000),
          // Reconnect in the background, at most every 2 s; the tier's own cooldown decides when it is used again.
          retryStrategy: (attempt: number) => Math.min(attempt * 200, 2000)
        })
        // Failures reach the commands that meet them; the connection's own error events would
        // otherwise be printed by ioredis.
        created.on("error", () => {})
        return created
      }),
      (created) =>
        Effect.promise(() =>
          Promise.race([
            created.quit().catch(() => undefined),
            new Promise((resolve) => setTimeout(resolve, timeoutMs))
          ])
        ).pipe(Effect.ensuring(Effect.sync(() => created.disconnect())))
    )
    const connected = yield* Effect.result(Effect.tryPromise(() => client.connect()))
    // Without it, waiters only poll: slower, still correct.
    const subscriber = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const created = client.duplicate()
        created.on("error", () => {})
        return created
      }),
      (created) => Effect.sync(() => created.disconnect())
    )
    // Connected now, or in the background by the retry strategy once the server answers.
    yield* Effect.ignore(Effect.tryPromise(() => subscriber.connect()))
    if (Result.isFailure(connected)) {
      yield* Effect.logWarning(
        `cache: cannot reach Redis at ${where} (${describe(connected.failure.cause)}); running without the shared ` +
          `tier, tried again every ${options.retryAfter} s`
      )
    }
    return yield* make(
      client as unknown as RedisClient,
      options,
      Result.isSuccess(connected),
      subscriber as unknown as RedisSubscriber
    )
  })
