/**
 * A protocol-aware undici dispatcher: HTTP/1.1 origins go to a keep-alive socket pool, HTTP/2
 * origins to one or two multiplexed connections, learned per origin from ALPN on first contact;
 * each HTTP/2 connection with its silent-connection watch (`connectionLiveness.ts`).
 *
 * State here is plain mutable fields on purpose: this is the hot path of every request (as in
 * undici's own dispatchers), and the whole object is owned by the HttpSession layer's scope.
 *
 * @internal
 */
import * as DiagnosticsChannel from "node:diagnostics_channel"
import type { LookupFunction, Socket } from "node:net"
import type { TLSSocket } from "node:tls"
import { Agent, buildConnector, Client, Dispatcher, ProxyAgent } from "undici"
import { ConnectionLiveness, type LivenessSettings } from "./connectionLiveness.js"
import { proxyAgentTarget } from "./proxy.js"
import { detachedContext, openConnections } from "./telemetry.js"

/** Which protocol an origin speaks, as ALPN told us. */
export type OriginProtocol = "h1" | "h2"

/** Counters of one origin. */
export interface OriginCounters {
  protocol: OriginProtocol | "unknown"
  requests: number
  connectionsCreated: number
  connectionsReused: number
}

/** Settings of the dispatcher, already validated by the config. */
export interface RoutingOptions {
  readonly socketsPerOrigin: number
  readonly keepAliveTimeoutMs: number
  readonly maxRequestsPerConnection: number
  readonly multiplexed: boolean
  readonly maxStreamsPerConnection: number
  readonly maxH2ConnectionsPerOrigin: number
  /** HTTP/2 flow-control windows, bytes. */
  readonly h2Windows: { readonly stream: number; readonly connection: number }
  readonly connectTimeoutMs: number
  readonly lookup: LookupFunction | undefined
  readonly ca: string | Buffer | ReadonlyArray<string | Buffer> | undefined
  /** The proxy of an origin, or `undefined` to connect directly. */
  readonly proxyFor?: (origin: string) => string | undefined
  /** How HTTP/2 connections that go silent are found and closed (`connectionLiveness.ts`); absent: not watched. */
  readonly liveness?: LivenessSettings
  /** undici's periodic PING on every HTTP/2 connection, milliseconds (0 = none). Default 60 s. */
  readonly h2PingIntervalMs?: number
}

/** One multiplexed HTTP/2 connection: an undici Client that reconnects itself when its socket dies. */
interface H2Slot {
  readonly client: Client
  streamsDispatched: number
  inFlight: number
  /** The silent-connection watch, once the connection speaks HTTP/2 (never on an HTTP/1.1 probe). */
  liveness: ConnectionLiveness | undefined
  /** Out of rotation (recycled): its watch stays until its last streams end, then lapses by itself. */
  retired: boolean
}

type Hooks = Required<Dispatcher.DispatchHandler>

/**
 * Follows one request on a multiplexed connection (undici's DecoratorHandler pattern: one small
 * object a request, nothing patched onto the caller's handler). The slot's in-flight count drops
 * once when the request ends, however it ends; each response event tells the connection's watch
 * that the connection is heard (errors do not: a request aborted here is no sign of life); and
 * `onStarted` (discovery's) runs once, when the response starts or the request fails.
 */
class SlotRequestHandler implements Dispatcher.DispatchHandler {
  private finished = false

  constructor(
    private readonly slot: H2Slot,
    private readonly handler: Dispatcher.DispatchHandler,
    private onStarted: (() => void) | undefined
  ) {}

  onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
    this.handler.onRequestStart?.(controller, context)
  }

  onRequestUpgrade(...args: Parameters<Hooks["onRequestUpgrade"]>): void {
    this.handler.onRequestUpgrade?.(...args)
  }

  onResponseStarted(): void {
    this.handler.onResponseStarted?.()
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Parameters<Hooks["onResponseStart"]>[2],
    statusMessage?: string
  ): void {
    this.slot.liveness?.heard()
    this.started()
    this.handler.onResponseStart?.(controller, statusCode, headers, statusMessage)
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.slot.liveness?.heard()
    this.handler.onResponseData?.(controller, chunk)
  }

  onResponseEnd(
    controller: Dispatcher.DispatchController,
    trailers: Parameters<Hooks["onResponseEnd"]>[1]
  ): void {
    this.slot.liveness?.heard()
    this.finish()
    this.handler.onResponseEnd?.(controller, trailers)
  }

  onResponseError(controller: Dispatcher.DispatchController, error: Error): void {
    this.finish()
    this.handler.onResponseError?.(controller, error)
  }

  private started(): void {
    const onStarted = this.onStarted
    if (onStarted !== undefined) {
      this.onStarted = undefined
      onStarted()
    }
  }

  private finish(): void {
    if (!this.finished) {
      this.finished = true
      this.slot.inFlight--
    }
    this.started()
  }
}

type PendingDispatch = readonly [Dispatcher.DispatchOptions, Dispatcher.DispatchHandler]

type OriginRoute =
  | { readonly _tag: "Discovering"; readonly probe: Client; readonly waiting: Array<PendingDispatch> }
  | { readonly _tag: "H1" }
  | { readonly _tag: "H2"; readonly slots: Array<H2Slot> }

const sendHeadersChannel = DiagnosticsChannel.channel("undici:client:sendHeaders")

/** undici uses one such symbol for every client: found once, not per request (a scan costs ~2 µs). */
let maxConcurrentStreamsKey: symbol | undefined
const maxConcurrentStreamsSymbol = (client: Client): symbol | undefined =>
  maxConcurrentStreamsKey ??= Object.getOwnPropertySymbols(client).find((symbol) =>
    symbol.description === "max concurrent streams"
  )

const originOf = (options: { protocol: string; hostname: string; port: string }): string => {
  const defaultPort = options.protocol === "https:" ? "443" : "80"
  const port = options.port === "" || options.port === defaultPort ? "" : `:${options.port}`
  return `${options.protocol}//${options.hostname}${port}`
}

/**
 * The routing dispatcher. `dispatch` is undici's contract; `request` comes from `Dispatcher`.
 */
export class RoutingDispatcher extends Dispatcher {
  readonly counters = new Map<string, OriginCounters>()
  private readonly routes = new Map<string, OriginRoute>()
  private readonly sockets = new WeakMap<Socket, { origin: string; requests: number }>()
  private readonly h1: Agent
  private readonly allClients = new Set<Client>()
  /** Every silent-connection watch started, stopped when the dispatcher closes. */
  private readonly watches = new Set<ConnectionLiveness>()
  private readonly proxies = new Map<string, ProxyAgent>()
  private closed = false
  private readonly onSendHeaders = (message: unknown) => {
    const socket = (message as { socket: Socket }).socket
    const seen = this.sockets.get(socket)
    if (seen === undefined) return
    const counters = this.countersFor(seen.origin)
    counters.requests++
    if (seen.requests > 0) counters.connectionsReused++
    seen.requests++
  }

  constructor(private readonly options: RoutingOptions) {
    super()
    this.h1 = new Agent({
      connections: options.socketsPerOrigin,
      pipelining: 1,
      keepAliveTimeout: options.keepAliveTimeoutMs,
      keepAliveMaxTimeout: options.keepAliveTimeoutMs,
      // undici 8 closes a socket after exactly this many requests (a limit of 1 included).
      maxRequestsPerClient: options.maxRequestsPerConnection,
      // HTTP/1.1 only: its connector offers nothing else in ALPN. Said explicitly, not left to
      // undici 8's default (h2 allowed), which would also make each https origin's Pool hold its
      // requests behind one probe connection until ALPN answers: a wait for an answer known here.
      allowH2: false,
      connect: this.connector(false, undefined)
    })
    sendHeadersChannel.subscribe(this.onSendHeaders)
  }

  /** Counters for an origin, created on first use. */
  countersFor(origin: string): OriginCounters {
    let counters = this.counters.get(origin)
    if (counters === undefined) {
      counters = { protocol: "unknown", requests: 0, connectionsCreated: 0, connectionsReused: 0 }
      this.counters.set(origin, counters)
    }
    return counters
  }

  /** Builds undici's connector, recording every socket it opens and, for a probe, the ALPN answer. */
  private connector(allowH2: boolean, onConnected: ((socket: Socket) => void) | undefined): buildConnector.connector {
    const base = buildConnector({
      allowH2,
      timeout: this.options.connectTimeoutMs,
      ...(this.options.lookup === undefined ? {} : { lookup: this.options.lookup }),
      ...(this.options.ca === undefined ? {} : { ca: this.options.ca as Array<string> }),
      // Recycled h2 sessions would hide new connections from our counts; TLS resumption stays on.
      maxCachedSessions: 100
    })
    return (connectOptions, callback) =>
      base(connectOptions, (error, socket) => {
        if (error === null && socket !== null) {
          const origin = originOf(connectOptions)
          this.sockets.set(socket as Socket, { origin, requests: 0 })
          const counters = this.countersFor(origin)
          counters.connectionsCreated++
          // The gauge moves with the socket's life, outside any fiber: its synchronous update.
          openConnections.modifyUnsafe(1, detachedContext)
          socket.once("close", () => openConnections.modifyUnsafe(-1, detachedContext))
          if (counters.protocol === "unknown") {
            counters.protocol = (socket as TLSSocket).alpnProtocol === "h2" ? "h2" : "h1"
          }
          onConnected?.(socket as Socket)
        }
        callback(error as Error, socket as never)
      })
  }

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const origin = String(options.origin)
    const proxy = this.options.proxyFor?.(origin)
    if (proxy !== undefined) return this.dispatchProxied(proxy, origin, options, handler)
    const route = this.routes.get(origin)
    if (route === undefined) {
      if (!this.options.multiplexed || !origin.startsWith("https:")) {
        this.routes.set(origin, { _tag: "H1" })
        return this.dispatchH1(options, handler)
      }
      return this.startDiscovery(origin, options, handler)
    }
    switch (route._tag) {
      case "H1":
        return this.dispatchH1(options, handler)
      case "H2":
        return this.dispatchH2(origin, route.slots, options, handler)
      case "Discovering":
        route.waiting.push([options, handler])
        return true
    }
  }

  /**
   * Through a proxy: undici's ProxyAgent tunnels with CONNECT and the proxy resolves the host
   * (no DNS of ours, no DNS-over-HTTPS). Requests are counted; the proxy's connections are its own.
   *
   * Protocols, both set explicitly rather than left to undici 8's defaults:
   * - to the proxy itself, HTTP/1.1 (`proxyTls.allowH2: false`, which matters for an `https:`
   *   proxy only): one CONNECT, one TCP connection, one tunnel, the model undici's tunnel code
   *   and most proxies are built around.
   * - inside the tunnel, end to end with the CDN, HTTP/2 when the CDN offers it (`allowH2`), as on
   *   a direct connection: a proxy adds a hop to every round trip, which is where multiplexing
   *   pays most, and one tunnel instead of one per socket is kinder to the proxy. The h2 settings
   *   of the direct path come along (flow-control windows, streams per connection), and undici 8
   *   recycles HTTP/1.1 and HTTP/2 connections alike after `maxRequestsPerClient`. The Agent's
   *   Pool learns the protocol from its first connection, much as the direct path's discovery does.
   */
  private dispatchProxied(
    proxy: string,
    origin: string,
    options: Dispatcher.DispatchOptions,
    handler: Dispatcher.DispatchHandler
  ): boolean {
    let agent = this.proxies.get(proxy)
    if (agent === undefined) {
      agent = new ProxyAgent({
        ...proxyAgentTarget(proxy),
        connections: this.options.socketsPerOrigin,
        keepAliveTimeout: this.options.keepAliveTimeoutMs,
        keepAliveMaxTimeout: this.options.keepAliveTimeoutMs,
        maxRequestsPerClient: this.options.maxRequestsPerConnection,
        allowH2: true,
        maxConcurrentStreams: this.options.maxStreamsPerConnection,
        initialWindowSize: this.options.h2Windows.stream,
        connectionWindowSize: this.options.h2Windows.connection,
        proxyTls: { allowH2: false },
        ...(this.options.ca === undefined ? {} : { requestTls: { ca: this.options.ca as Array<string> } })
      })
      this.proxies.set(proxy, agent)
    }
    const counters = this.countersFor(origin)
    counters.requests++
    return agent.dispatch(options, handler)
  }

  private dispatchH1(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    return this.h1.dispatch(options, handler)
  }

  /**
   * First contact: one connection learns the protocol while other callers wait for the answer.
   * They are released when the probe's response starts (by then the server's SETTINGS, and so its
   * MAX_CONCURRENT_STREAMS, have arrived) or when the probe fails.
   */
  private startDiscovery(
    origin: string,
    options: Dispatcher.DispatchOptions,
    handler: Dispatcher.DispatchHandler
  ): boolean {
    const waiting: Array<PendingDispatch> = []
    let negotiated: OriginProtocol | undefined
    const probeSlot = this.newH2Slot(origin, (socket) => {
      negotiated = (socket as TLSSocket).alpnProtocol === "h2" ? "h2" : "h1"
    })
    const probe = probeSlot.client
    const settle = () => {
      const current = this.routes.get(origin)
      if (current?._tag !== "Discovering" || current.probe !== probe) return
      if (negotiated === "h2") {
        this.routes.set(origin, { _tag: "H2", slots: [probeSlot] })
        this.syncStreamLimit(probe)
        for (const [waitingOptions, waitingHandler] of waiting) this.dispatch(waitingOptions, waitingHandler)
        return
      }
      // HTTP/1.1 (the server refused h2), or nothing learned because the probe failed to connect:
      // the probe serves only its own request; the callers that waited go to the keep-alive pool,
      // so one failed handshake fails no one else. Unlearned origins are probed again next time.
      if (negotiated === "h1") this.routes.set(origin, { _tag: "H1" })
      else this.routes.delete(origin)
      this.allClients.delete(probe)
      probe.close().catch(() => undefined)
      for (const [waitingOptions, waitingHandler] of waiting) this.dispatchH1(waitingOptions, waitingHandler)
    }
    this.routes.set(origin, { _tag: "Discovering", probe, waiting })
    return probe.dispatch(options, this.startRequest(probeSlot, handler, settle))
  }

  /**
   * A connection slot: a Client allowed h2, with its silent-connection watch, which starts on each
   * socket that ALPN made HTTP/2 (a probe answered in HTTP/1.1 is never watched or PINGed).
   */
  private newH2Slot(origin: string, onConnected: ((socket: Socket) => void) | undefined): H2Slot {
    const liveness = this.options.liveness
    const slot: H2Slot = {
      client: this.newH2Client(origin, (socket) => {
        onConnected?.(socket)
        if (liveness === undefined || (socket as TLSSocket).alpnProtocol !== "h2") return
        slot.liveness ??= new ConnectionLiveness(slot.client, liveness, () => slot.inFlight > 0)
        if (!slot.retired) this.watches.add(slot.liveness)
        slot.liveness.connected(socket)
        // The request that opened the connection is already in flight: watch it from now.
        if (slot.inFlight > 0) slot.liveness.requestSent(true)
      }),
      streamsDispatched: 0,
      inFlight: 0,
      liveness: undefined,
      retired: false
    }
    return slot
  }

  /** Counts a request onto a slot and wraps its handler (see `SlotRequestHandler`). */
  private startRequest(slot: H2Slot, handler: Dispatcher.DispatchHandler, onStarted?: () => void): SlotRequestHandler {
    slot.streamsDispatched++
    slot.liveness?.requestSent(slot.inFlight === 0)
    slot.inFlight++
    return new SlotRequestHandler(slot, handler, onStarted)
  }

  private newH2Client(origin: string, onConnected: (socket: Socket) => void): Client {
    const client = new Client(origin, {
      allowH2: true,
      // One request until ALPN says h2; then as many as the connection's stream limit.
      pipelining: 1,
      maxConcurrentStreams: this.options.maxStreamsPerConnection,
      // Flow-control windows sized for real round trips. A connection moves at most one window
      // per round trip: undici's defaults (256 KB a stream, 512 KB the connection) cap it at
      // 10 MB/s at 50 ms. The bandwidth-delay product of 1 Gbit/s at 80 ms is 10 MB, so 16 MB
      // for the connection covers that with room; 4 MB a stream lets one large file use a fast
      // link alone while 128 telemetry streams (about 200 KB each) all fit in the connection's.
      // Memory is not reserved up front: the windows only bound what may be in flight.
      // (HttpSession's `defaultH2Windows`; measured in `npm run bench:wan`.)
      // Top-level options, not `h2Options`: undici 8.14 reads the stream window from
      // `initialWindowSize` (or `h2Options.initialWindowSize`) and ignores the
      // `h2Options.settings.initialWindowSize` its types and deprecation notes point to.
      initialWindowSize: this.options.h2Windows.stream,
      connectionWindowSize: this.options.h2Windows.connection,
      keepAliveTimeout: this.options.keepAliveTimeoutMs,
      keepAliveMaxTimeout: this.options.keepAliveTimeoutMs,
      // undici's keep-alive PING, for idle connections (the silent-connection watch covers busy
      // ones): one PING and its ACK a minute keep a NAT mapping or load balancer from dropping
      // an idle connection, and one unanswered at the next interval closes the connection.
      pingInterval: this.options.h2PingIntervalMs ?? 60_000,
      connect: this.connector(true, onConnected)
    })
    this.allClients.add(client)
    return client
  }

  /** Lowers a connection's stream limit to the server's MAX_CONCURRENT_STREAMS once it is known. */
  private syncStreamLimit(client: Client): void {
    const symbol = maxConcurrentStreamsSymbol(client)
    const advertised = symbol === undefined ? undefined : (client as unknown as Record<symbol, number>)[symbol]
    const limit = Math.min(this.options.maxStreamsPerConnection, advertised ?? this.options.maxStreamsPerConnection)
    if (client.pipelining !== limit) client.pipelining = limit
  }

  /** Least-loaded live connection; a second one opens only when the first is at its stream limit. */
  private dispatchH2(
    origin: string,
    slots: Array<H2Slot>,
    options: Dispatcher.DispatchOptions,
    handler: Dispatcher.DispatchHandler
  ): boolean {
    let chosen: H2Slot | undefined
    for (const slot of slots) {
      if (chosen === undefined || slot.inFlight < chosen.inFlight) chosen = slot
    }
    if (
      chosen === undefined ||
      (chosen.inFlight >= chosen.client.pipelining && slots.length < this.options.maxH2ConnectionsPerOrigin)
    ) {
      // Same server, same SETTINGS: start the new connection at the limit the others learned.
      const knownLimit = slots[0]?.client.pipelining ?? this.options.maxStreamsPerConnection
      chosen = this.newH2Slot(origin, undefined)
      chosen.client.pipelining = knownLimit
      slots.push(chosen)
    }
    this.syncStreamLimit(chosen.client)
    const tracked = this.startRequest(chosen, handler)
    if (chosen.streamsDispatched >= this.options.maxRequestsPerConnection) {
      // Recycle after keepalive_max_requests streams: take the connection out of rotation now;
      // close() lets the streams already on it finish. (undici 8's `maxRequestsPerClient` retires
      // an HTTP/2 session too, but that Client then holds later requests until the old session
      // has drained; here the next request opens or picks another connection at once.)
      slots.splice(slots.indexOf(chosen), 1)
      chosen.retired = true
      if (chosen.liveness !== undefined) this.watches.delete(chosen.liveness)
      const retiring = chosen.client
      const accepted = retiring.dispatch(options, tracked)
      this.allClients.delete(retiring)
      retiring.close().catch(() => undefined)
      return accepted
    }
    return chosen.client.dispatch(options, tracked)
  }

  /** Remembered protocol of an origin, if any request has reached it. */
  protocolOf(origin: string): OriginProtocol | "unknown" {
    return this.counters.get(origin)?.protocol ?? "unknown"
  }

  private stopWatches(): void {
    for (const watch of this.watches) watch.stop()
    this.watches.clear()
  }

  override async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    sendHeadersChannel.unsubscribe(this.onSendHeaders)
    this.stopWatches()
    await Promise.all([
      this.h1.close(),
      ...[...this.allClients].map((client) => client.close()),
      ...[...this.proxies.values()].map((agent) => agent.close())
    ])
  }

  override async destroy(): Promise<void> {
    this.closed = true
    sendHeadersChannel.unsubscribe(this.onSendHeaders)
    this.stopWatches()
    await Promise.all([
      this.h1.destroy(),
      ...[...this.allClients].map((client) => client.destroy()),
      ...[...this.proxies.values()].map((agent) => agent.destroy())
    ])
  }
}
