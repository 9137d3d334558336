/**
 * Real HTTP/1.1 and HTTP/2 (TLS) servers on 127.0.0.1 for tests, counting the connections they
 * accept and close, as a scoped Effect resource.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Http from "node:http"
import * as Http2 from "node:http2"
import * as Https from "node:https"
import * as Net from "node:net"
import type { AddressInfo, Socket } from "node:net"
import * as Tls from "node:tls"
import { generateSelfSignedCertificate, type SelfSignedCertificate } from "../../src/mirror/certificate.js"

export type Handler = (request: Http.IncomingMessage | Http2.Http2ServerRequest, response: any) => void

export interface TestServer {
  readonly origin: string
  readonly connectionsOpened: () => number
  readonly connectionsOpen: () => number
  readonly requests: () => number
  readonly cert: SelfSignedCertificate | undefined
  readonly server: Http.Server | Https.Server | Http2.Http2SecureServer
  /** Requests served per connection, in connection order. */
  readonly requestsPerConnection: () => ReadonlyArray<number>
  readonly sockets: Set<Socket>
}

let sharedCert: SelfSignedCertificate | undefined
export const testCertificate = (): SelfSignedCertificate => (sharedCert ??= generateSelfSignedCertificate())

export const startServer = (
  kind: "h1" | "h2" | "h1-tls",
  handler: Handler,
  options: { maxConcurrentStreams?: number; host?: string } = {}
): Effect.Effect<TestServer, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.callback<TestServer>((resume) => {
      let opened = 0
      let requests = 0
      const sockets = new Set<Socket>()
      const perSocket = new Map<Socket, number>()
      const counted: Handler = (request, response) => {
        requests++
        const socket = (request as Http.IncomingMessage).socket as Socket
        perSocket.set(socket, (perSocket.get(socket) ?? 0) + 1)
        handler(request, response)
      }
      const cert = kind === "h1" ? undefined : testCertificate()
      const server = kind === "h1"
        ? Http.createServer(counted)
        : kind === "h1-tls"
        ? Https.createServer({ ...cert! }, counted)
        : Http2.createSecureServer({
          ...cert!,
          allowHTTP1: true,
          settings: { maxConcurrentStreams: options.maxConcurrentStreams ?? 100 }
        }, counted)
      const event = kind === "h1" ? "connection" : "secureConnection"
      server.on(event, (socket: Socket) => {
        opened++
        sockets.add(socket)
        socket.on("close", () => sockets.delete(socket))
      })
      server.listen(0, options.host ?? "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo
        const scheme = kind === "h1" ? "http" : "https"
        resume(Effect.succeed({
          origin: `${scheme}://${options.host ?? "127.0.0.1"}:${port}`,
          connectionsOpened: () => opened,
          connectionsOpen: () => sockets.size,
          requests: () => requests,
          requestsPerConnection: () => [...perSocket.values()],
          cert,
          server,
          sockets
        }))
      })
    }),
    (server) =>
      Effect.callback<void>((resume) => {
        for (const socket of server.sockets) socket.destroy()
        server.server.close(() => resume(Effect.void))
      })
  )

/** Waits (bounded) until a condition holds, polling real time: for server-side effects of socket close. */
export const eventually = (condition: () => boolean, what: string, timeoutMs = 5_000) =>
  Effect.promise(async () => {
    const deadline = Date.now() + timeoutMs
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  })

/**
 * Counts the HTTP/2 frames in one direction of a connection by type (RFC 9113 4.1: a 9-byte header
 * whose first 3 bytes are the payload length and 4th the type), after the client's 24-byte preface.
 */
class FrameCounter {
  private skip: number
  private readonly header = Buffer.alloc(9)
  private headerBytes = 0

  constructor(preface: boolean, private readonly onFrame: (type: number, flags: number) => void) {
    this.skip = preface ? 24 : 0
  }

  push(chunk: Buffer): void {
    let offset = 0
    while (offset < chunk.length) {
      if (this.skip > 0) {
        const skipped = Math.min(this.skip, chunk.length - offset)
        this.skip -= skipped
        offset += skipped
        continue
      }
      const taken = Math.min(9 - this.headerBytes, chunk.length - offset)
      chunk.copy(this.header, this.headerBytes, offset, offset + taken)
      this.headerBytes += taken
      offset += taken
      if (this.headerBytes === 9) {
        this.headerBytes = 0
        this.onFrame(this.header[3]!, this.header[4]!)
        this.skip = this.header.readUIntBE(0, 3)
      }
    }
  }
}

const PING = 6
const HEADERS = 1
const ACK = 1

/** An HTTP/2 TLS server whose connections can go silent, as a peer behind a dead NAT or a hung proxy does. */
export interface SilenceableServer {
  readonly origin: string
  readonly connectionsOpened: () => number
  readonly connectionsOpen: () => number
  /** Requests the HTTP/2 server answered (a silent connection's never reach it). */
  readonly requests: () => number
  /** HEADERS frames the client sent (one per request), silent connections included. */
  readonly requestsSent: () => number
  /** PING frames the client sent (not its acknowledgements), silent connections included. */
  readonly pingsSent: () => number
  /** PING acknowledgements that reached the client. */
  readonly pingAcksDelivered: () => number
  /**
   * Client PINGs whose acknowledgement the client has read: after each PING the server sends its
   * own, which the client answers only after reading what came before it (the acknowledgement).
   */
  readonly pingAcksRead: () => number
  /**
   * From now on, every connection open now swallows what the client sends and sends nothing back,
   * PING acknowledgements included, without closing. Connections opened later are served.
   */
  readonly silenceOpenConnections: () => void
  /** The next connection accepted is silent from the end of its TLS handshake (ALPN said h2). */
  readonly silenceNextConnection: () => void
  /** Every connection accepted from now on is silent from the end of its TLS handshake. */
  readonly silenceEveryNewConnection: () => void
}

/**
 * A real HTTP/2 server behind a TLS relay on 127.0.0.1: the relay speaks TLS with ALPN `h2` to the
 * client and forwards the bytes to a cleartext HTTP/2 server on another loopback port, so a
 * connection can be made silent at the byte level while the server itself stays well. The relay
 * counts the frames that pass (PINGs cost is measured from them).
 */
export const startSilenceableServer = (handler: Handler): Effect.Effect<SilenceableServer, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.callback<SilenceableServer & { readonly close: (done: () => void) => void }>((resume) => {
      let opened = 0
      let requests = 0
      let requestsSent = 0
      let pingsSent = 0
      let pingAcksDelivered = 0
      let pingAcksRead = 0
      let silenceNext = false
      let silenceEvery = false
      const relays = new Set<{ silent: boolean; client: Socket; upstream: Socket }>()
      const inner = Http2.createServer((request, response) => {
        requests++
        handler(request, response)
      })
      inner.on("session", (session) =>
        session.on("ping", () => {
          // Sent after the acknowledgement the server just queued: its answer proves that one was read.
          if (!session.destroyed) session.ping((error) => error === null && pingAcksRead++)
        }))
      const relay = Tls.createServer({ ...testCertificate(), ALPNProtocols: ["h2"] }, (client) => {
        opened++
        const upstream = Net.connect((inner.address() as AddressInfo).port, "127.0.0.1")
        const pair = { silent: silenceNext || silenceEvery, client, upstream }
        silenceNext = false
        relays.add(pair)
        const fromClient = new FrameCounter(true, (type, flags) => {
          if (type === HEADERS) requestsSent++
          if (type === PING && (flags & ACK) === 0) pingsSent++
        })
        const toClient = new FrameCounter(false, (type, flags) => {
          if (type === PING && (flags & ACK) !== 0) pingAcksDelivered++
        })
        client.on("data", (chunk: Buffer) => {
          fromClient.push(chunk)
          if (!pair.silent) upstream.write(chunk)
        })
        upstream.on("data", (chunk: Buffer) => {
          if (pair.silent) return
          toClient.push(chunk)
          client.write(chunk)
        })
        const close = () => {
          relays.delete(pair)
          client.destroy()
          upstream.destroy()
        }
        client.on("close", close).on("error", close)
        upstream.on("close", close).on("error", close)
      })
      inner.listen(0, "127.0.0.1", () =>
        relay.listen(0, "127.0.0.1", () =>
          resume(Effect.succeed({
            origin: `https://127.0.0.1:${(relay.address() as AddressInfo).port}`,
            connectionsOpened: () => opened,
            connectionsOpen: () => relays.size,
            requests: () => requests,
            requestsSent: () => requestsSent,
            pingsSent: () => pingsSent,
            pingAcksDelivered: () => pingAcksDelivered,
            pingAcksRead: () => pingAcksRead,
            silenceOpenConnections: () => {
              for (const pair of relays) pair.silent = true
            },
            silenceNextConnection: () => {
              silenceNext = true
            },
            silenceEveryNewConnection: () => {
              silenceEvery = true
            },
            close: (done) => {
              for (const pair of relays) {
                pair.client.destroy()
                pair.upstream.destroy()
              }
              relay.close(() => inner.close(() => done()))
            }
          }))))
    }),
    (server) => Effect.callback<void>((resume) => server.close(() => resume(Effect.void)))
  )
