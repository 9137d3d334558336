/**
 * Real HTTP/1.1 and HTTP/2 (TLS) servers on 127.0.0.1 for tests, counting the connections they
 * accept and close, as a scoped Effect resource.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Http from "node:http"
import * as Http2 from "node:http2"
import * as Https from "node:https"
import type { AddressInfo, Socket } from "node:net"
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
