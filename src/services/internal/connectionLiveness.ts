/**
 * Liveness of one HTTP/2 connection: a connection that goes silent is closed, so its requests are
 * sent again on a new one instead of waiting out their whole `timeout` on it.
 *
 * The rule (SPEC section 5, HttpSession):
 * - A connection with requests in flight that has received nothing for them (no HEADERS, no DATA)
 *   for `stall_timeout` is sent a PING. Nothing is sent on a connection that has no request in
 *   flight, nor on one that keeps receiving: a healthy transfer costs no frame.
 * - The PING must be answered (or any frame for a request received) within `pingAckMs`:
 *   `stall_timeout`, at most 5 s. An answer restarts the count (a slow server on a live connection
 *   keeps its requests, which stay bound by their `timeout`); no answer closes the connection.
 * - Closing fails the requests on it with `SilentConnectionError`: HttpSession sends them again
 *   within their deadline (a new connection opens for them); requests still queued for the
 *   connection go to the new one without failing.
 *
 * Why not undici's own probe: undici 8 PINGs a connection when a stream's headers or body timeout
 * fires, but it also aborts that request, so with the timeout at `stall_timeout` a slow server on
 * a live connection could never answer; and its periodic PING (`pingInterval`, kept at its 60 s as
 * the idle connections' keep-alive) takes one to two intervals to notice a silent connection.
 *
 * Timers come from `LivenessTimers` so the rule runs on Effect's `Clock` in HttpSession (and on
 * `TestClock` in tests); one timer a busy connection, re-armed at most once per `stall_timeout`,
 * none on an idle one. The hot path only stores a timestamp per response event.
 *
 * @internal
 */
import type { ClientHttp2Session } from "node:http2"
import type { Socket } from "node:net"
import { type Client, errors } from "undici"

/** How the watch reads time and waits (HttpSession: on Effect's `Clock`). */
export interface LivenessTimers {
  readonly now: () => number
  /** Runs `task` after `ms`; the returned function cancels it. */
  readonly after: (ms: number, task: () => void) => () => void
}

/** The settings of the watch. */
export interface LivenessSettings {
  /** Milliseconds a busy connection may receive nothing before it is PINGed (`stall_timeout`). */
  readonly quietMs: number
  /** Milliseconds a PING may go unanswered before the connection is closed. */
  readonly pingAckMs: number
  readonly timers: LivenessTimers
}

/**
 * How long a PING may go unanswered: `stall_timeout`, at most 5 s. An acknowledgement needs one
 * round trip, and the connection was quiet, so no response data is queued ahead of it: 5 s is
 * many times a satellite round trip or a busy event loop, and leaves room in the default 30 s
 * `timeout` for the request to be sent again (10 s quiet + 5 s for the PING + the resend).
 */
export const pingAckTimeoutMs = (quietMs: number): number => Math.min(quietMs, 5_000)

const seconds = (ms: number) => `${Math.round(ms) / 1000} s`

const silentBrand = Symbol("tif1-effect/SilentConnectionError")

/**
 * The error that closes a silent connection and fails the requests on it. An undici
 * `SocketError` (`UND_ERR_SOCKET`), so undici treats it as the socket failure it is (reconnects
 * for what is queued) rather than as a fault of the Client.
 */
export class SilentConnectionError extends errors.SocketError {
  /** undici's errors answer `instanceof` by a brand every `SocketError` carries: this one has its own. */
  static override [Symbol.hasInstance](instance: unknown): boolean {
    return typeof instance === "object" && instance !== null && silentBrand in instance
  }

  readonly [silentBrand] = true

  constructor(quietMs: number, pingAckMs: number) {
    super(
      `the HTTP/2 connection went silent: nothing received for ${seconds(quietMs)}, ` +
        `then no answer to a PING within ${seconds(pingAckMs)}`
    )
  }
}

/** undici keeps a Client's current HTTP/2 session under one such symbol: found once, not per PING. */
let sessionKey: symbol | undefined
const currentSession = (client: Client): ClientHttp2Session | undefined => {
  sessionKey ??= Object.getOwnPropertySymbols(client).find((symbol) => symbol.description === "http2Session")
  const session = sessionKey === undefined ? undefined : (client as unknown as Record<symbol, unknown>)[sessionKey]
  return session === null || session === undefined ? undefined : session as ClientHttp2Session
}

/**
 * The watch over one multiplexed connection slot: an undici Client and the socket it speaks
 * HTTP/2 on now (the Client reconnects by itself; `connected` follows it).
 */
export class ConnectionLiveness {
  private socket: Socket | undefined
  /** When a frame for a request (or a PING acknowledgement) last arrived, or the watch last (re)started. */
  private lastHeard = 0
  /** When the PING now awaiting its acknowledgement was sent. */
  private pingSentAt: number | undefined
  private cancelTimer: (() => void) | undefined
  private stopped = false

  constructor(
    private readonly client: Client,
    private readonly settings: LivenessSettings,
    /** Whether requests are in flight on the slot. */
    private readonly busy: () => boolean
  ) {}

  /** The Client connected a new socket that speaks HTTP/2: the watch follows it. */
  connected(socket: Socket): void {
    this.socket = socket
    this.pingSentAt = undefined
    this.lastHeard = this.settings.timers.now()
  }

  /** A request is dispatched; `wasIdle` when none was in flight before it. */
  requestSent(wasIdle: boolean): void {
    if (wasIdle) this.lastHeard = this.settings.timers.now()
    if (this.cancelTimer === undefined && !this.stopped) this.arm(this.settings.quietMs)
  }

  /** A frame for a request arrived (response headers, body data, its end). */
  heard(): void {
    this.lastHeard = this.settings.timers.now()
  }

  /** No more checks (the dispatcher closes). */
  stop(): void {
    this.stopped = true
    this.cancelTimer?.()
    this.cancelTimer = undefined
  }

  private arm(ms: number): void {
    this.cancelTimer = this.settings.timers.after(ms, this.check)
  }

  private readonly check = (): void => {
    this.cancelTimer = undefined
    if (this.stopped) return
    if (!this.busy()) {
      // Idle: the watch sleeps until the next request (an idle connection is never PINGed here).
      this.pingSentAt = undefined
      return
    }
    const now = this.settings.timers.now()
    if (this.pingSentAt !== undefined) {
      const answered = this.lastHeard >= this.pingSentAt
      this.pingSentAt = undefined
      if (!answered) return this.closeSilent()
    }
    const quietFor = now - this.lastHeard
    if (quietFor < this.settings.quietMs) {
      // (A clock set back makes `quietFor` negative: never wait longer than one quiet period.)
      return this.arm(Math.min(this.settings.quietMs, this.settings.quietMs - quietFor))
    }
    const session = this.socket === undefined || this.socket.destroyed ? undefined : currentSession(this.client)
    // Not connected (a connect is bounded by its own timeout), or undici's internals moved: nothing to ask.
    if (session === undefined || session.closed || session.destroyed) return this.arm(this.settings.quietMs)
    this.pingSentAt = now
    try {
      session.ping((error) => {
        if (error === null) this.heard()
      })
    } catch {
      // The session is closing on its own; its requests fail through undici.
    }
    this.arm(this.settings.pingAckMs)
  }

  private closeSilent(): void {
    const socket = this.socket
    if (socket === undefined || socket.destroyed) return
    socket.destroy(new SilentConnectionError(this.settings.quietMs, this.settings.pingAckMs))
  }
}
