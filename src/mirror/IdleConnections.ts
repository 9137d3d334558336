/**
 * The mirror's idle rule, the same for every protocol: a connection with no request in flight is
 * closed once it has waited longer than the header timeout for its first request, or longer than
 * the idle timeout for its next one. So a client that connects and sends nothing (HTTP/1.1, HTTP/2
 * over TLS, h2c, or HTTP/1.1 over TLS after its handshake) cannot hold a slot of the connection cap.
 *
 * Node covers only part of it: its HTTP/1.1 header timeout starts with the first byte of a request
 * (a silent connection is never closed), its HTTP/2 servers have no idle rule of their own (a
 * session timeout counts PING and SETTINGS frames as activity), and its HTTP/1.1-over-TLS fallback
 * has neither. Hence one rule of ours, checked on the Effect `Clock` so tests drive it with
 * `TestClock`.
 *
 * A connection is busy from the start of a request (`request` event, HTTP/2 `stream` event) until
 * its response closes: a large body still going out to a slow client is never cut.
 *
 * @since 0.2.0
 */
import type * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type { EventEmitter } from "node:events"
import type * as Http2 from "node:http2"
import type { Socket } from "node:net"

/**
 * What carries requests: an HTTP/1.1 socket (plain or TLS) or an HTTP/2 session (TLS or h2c).
 *
 * @since 0.2.0
 */
export type Transport = Socket | Http2.Http2Session

/**
 * The two waits the rule allows, in milliseconds.
 *
 * @since 0.2.0
 */
export interface IdleLimits {
  /** For the first request of a connection. */
  readonly headersTimeoutMs: number
  /** For each later request, counted from the end of the last response. */
  readonly idleTimeoutMs: number
}

/**
 * One watched connection.
 *
 * @since 0.2.0
 */
export class WatchedConnection {
  /** Requests started and not yet closed. */
  inFlight = 0
  /** Whether a request ever started (which of the two limits applies). */
  requested = false
  /** Whether a graceful close was already asked (an HTTP/2 session finishing its GOAWAY). */
  closeAsked = false
  constructor(readonly transport: Transport, public idleSince: number) {}
}

const isSession = (transport: Transport): transport is Http2.Http2Session => "goaway" in transport

/**
 * The connections of one server, and the rule that closes the idle ones.
 *
 * @since 0.2.0
 */
export class IdleConnections {
  private readonly watched = new Map<Transport, WatchedConnection>()

  constructor(readonly limits: IdleLimits, private readonly clock: Clock.Clock) {}

  /** Watch a connection that just opened, until it closes. */
  add(transport: Transport): void {
    this.watched.set(transport, new WatchedConnection(transport, this.clock.currentTimeMillisUnsafe()))
    // Both kinds emit `close`; as plain emitters, since TypeScript cannot call the union of their overloads.
    const emitter: EventEmitter = transport
    emitter.once("close", () => this.watched.delete(transport))
  }

  /** A request started on `transport`: its connection is busy until `finished` is called for it. */
  started(transport: Transport | null | undefined): WatchedConnection | undefined {
    const connection = transport == null ? undefined : this.watched.get(transport)
    if (connection !== undefined) {
      connection.inFlight++
      connection.requested = true
    }
    return connection
  }

  /** A response `started` returned closed (sent, or broken off). */
  finished(connection: WatchedConnection | undefined): void {
    if (connection !== undefined && --connection.inFlight === 0) {
      connection.idleSince = this.clock.currentTimeMillisUnsafe()
    }
  }

  /**
   * Close every connection idle past its limit: an HTTP/2 session with GOAWAY (destroyed at the
   * next check if it lingers), an HTTP/1.1 socket at once.
   */
  closeIdle(): void {
    const now = this.clock.currentTimeMillisUnsafe()
    for (const connection of this.watched.values()) {
      if (connection.inFlight > 0) continue
      const limit = connection.requested ? this.limits.idleTimeoutMs : this.limits.headersTimeoutMs
      if (now - connection.idleSince < limit) continue
      const transport = connection.transport
      if (isSession(transport) && !connection.closeAsked) {
        connection.closeAsked = true
        transport.close()
      } else {
        transport.destroy()
      }
    }
  }
}

/**
 * How often the rule is checked: a tenth of the shorter limit, between 10 ms and 1 s (as Node
 * checks its own header timeout). A connection is closed within that long after its limit.
 *
 * @since 0.2.0
 */
export const checkIntervalMs = (limits: IdleLimits): number =>
  Math.max(10, Math.min(1000, Math.floor(Math.min(limits.headersTimeoutMs, limits.idleTimeoutMs) / 10)))

/**
 * Check the rule every `checkIntervalMs`, on the `Clock`, until interrupted.
 *
 * @since 0.2.0
 */
export const enforce = (connections: IdleConnections): Effect.Effect<never> => {
  const interval = checkIntervalMs(connections.limits)
  return Effect.forever(Effect.andThen(Effect.sleep(interval), Effect.sync(() => connections.closeIdle())))
}
