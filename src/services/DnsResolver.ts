/**
 * `DnsResolver`: the `lookup` the HTTP session connects with. Resolvers are tried in order per
 * lookup (`http_resolvers`): the system resolver, then DNS-over-HTTPS (RFC 8484) to Cloudflare or
 * Google by IP address with the TLS name checked, or any `https://host[:port]/path` endpoint.
 * Answers are cached by TTL on the Effect `Clock`. When every resolver fails, the error lists
 * each one's reason.
 *
 * @since 0.1.0
 */
import * as DnsPacket from "dns-packet"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Dns from "node:dns"
import * as Net from "node:net"
import { Client } from "undici"
import { Tif1Config } from "../schema/Config.js"
import { NetworkError } from "../schema/Errors.js"

/**
 * One resolved address.
 *
 * @since 0.1.0
 */
export interface ResolvedAddress {
  readonly address: string
  readonly family: 4 | 6
}

/**
 * An answer and how long it may be cached.
 *
 * @since 0.1.0
 */
export interface DnsAnswer {
  readonly addresses: ReadonlyArray<ResolvedAddress>
  readonly ttlSeconds: number
}

/**
 * One step of the chain: a name for error messages and a way to resolve.
 *
 * @since 0.1.0
 */
export interface ResolverStep {
  readonly name: string
  readonly resolve: (hostname: string) => Effect.Effect<DnsAnswer, string>
}

/**
 * The resolver service.
 *
 * @since 0.1.0
 */
export interface DnsResolverService {
  /** Resolve a host name through the chain (IP literals resolve to themselves). */
  readonly resolve: (hostname: string) => Effect.Effect<ReadonlyArray<ResolvedAddress>, NetworkError>
  /** The same as a Node `lookup` function, for sockets. */
  readonly lookup: Net.LookupFunction
}

/**
 * The `DnsResolver` tag.
 *
 * @since 0.1.0
 */
export class DnsResolver extends Context.Service<DnsResolver, DnsResolverService>()("tif1-effect/DnsResolver") {}

/** Seconds a system-resolver answer is kept: getaddrinfo reports no TTL. */
const systemAnswerTtlSeconds = 60
/** Per-resolver time limit of one lookup. */
const resolverTimeout = Duration.seconds(5)

/**
 * The system resolver (`getaddrinfo`, honouring `/etc/hosts`).
 *
 * @since 0.1.0
 */
export const systemResolver: ResolverStep = {
  name: "standard",
  resolve: (hostname) =>
    Effect.tryPromise({
      try: () => Dns.promises.lookup(hostname, { all: true }),
      catch: (error) => `system: ${(error as NodeJS.ErrnoException).code ?? String(error)}`
    }).pipe(
      Effect.map((found) => ({
        addresses: found.map(({ address, family }) => ({ address, family: family === 6 ? 6 as const : 4 as const })),
        ttlSeconds: systemAnswerTtlSeconds
      }))
    )
}

/**
 * Known DoH providers, reached by IP address with the certificate's name checked.
 *
 * @since 0.1.0
 */
export const dohProviders: Readonly<Record<string, { readonly url: string; readonly servername: string }>> = {
  "doh://cloudflare": { url: "https://1.1.1.1/dns-query", servername: "cloudflare-dns.com" },
  "doh://google": { url: "https://8.8.8.8/dns-query", servername: "dns.google" }
}

/**
 * A DNS-over-HTTPS resolver (RFC 8484, POST of `application/dns-message`), asking for A and AAAA.
 * `servername` is the name the TLS certificate must carry when `url` names an IP address.
 *
 * @since 0.1.0
 */
export const dohResolver = (
  name: string,
  url: string,
  options: { readonly servername?: string; readonly ca?: string | Buffer } = {}
): Effect.Effect<ResolverStep, never, Scope.Scope> =>
  Effect.gen(function*() {
    const endpoint = new URL(url)
    const client = yield* Effect.acquireRelease(
      Effect.sync(() =>
        new Client(endpoint.origin, {
          // HTTP/2 when the server offers it (undici 8's default, set here on purpose): RFC 8484
          // recommends HTTP/2 for DoH, and every lookup asks A and AAAA at once. This Client is one
          // connection: over HTTP/1.1 the AAAA query waits behind the A answer, over HTTP/2 both
          // travel together. Cloudflare and Google answer h2; an HTTP/1.1-only endpoint still works.
          allowH2: true,
          connect: {
            ...(options.servername === undefined ? {} : { servername: options.servername }),
            ...(options.ca === undefined ? {} : { ca: options.ca }),
            rejectUnauthorized: true
          }
        })
      ),
      (client) => Effect.promise(() => client.destroy())
    )
    const ask = (hostname: string, type: "A" | "AAAA") =>
      Effect.tryPromise({
        try: async (signal) => {
          const query = DnsPacket.encode({
            type: "query",
            id: 0,
            flags: DnsPacket.RECURSION_DESIRED,
            questions: [{ type, name: hostname, class: "IN" }]
          })
          const response = await client.request({
            method: "POST",
            path: endpoint.pathname + endpoint.search,
            headers: { "content-type": "application/dns-message", accept: "application/dns-message" },
            body: query,
            signal
          })
          const bytes = Buffer.from(await response.body.arrayBuffer())
          if (response.statusCode !== 200) throw new Error(`HTTP ${response.statusCode}`)
          return DnsPacket.decode(bytes)
        },
        catch: (error) => `${name}: ${(error as Error).message ?? String(error)}`
      })
    return {
      name,
      resolve: (hostname: string) =>
        Effect.all([ask(hostname, "A"), ask(hostname, "AAAA")], { concurrency: 2 }).pipe(
          Effect.flatMap(([a, aaaa]) => {
            const addresses: Array<ResolvedAddress> = []
            let ttlSeconds = Number.POSITIVE_INFINITY
            for (const answer of [...(a.answers ?? []), ...(aaaa.answers ?? [])]) {
              if (answer.type === "A" || answer.type === "AAAA") {
                addresses.push({ address: String(answer.data), family: answer.type === "A" ? 4 : 6 })
                ttlSeconds = Math.min(ttlSeconds, answer.ttl ?? 0)
              }
            }
            return addresses.length === 0
              ? Effect.fail(`${name}: no A or AAAA record`)
              : Effect.succeed({ addresses, ttlSeconds: Number.isFinite(ttlSeconds) ? ttlSeconds : 0 })
          })
        )
    } satisfies ResolverStep
  })

/**
 * Build the service from an ordered chain of resolvers.
 *
 * @since 0.1.0
 */
export const make = (chain: ReadonlyArray<ResolverStep>): Effect.Effect<DnsResolverService> =>
  Effect.gen(function*() {
    const context = yield* Effect.context<never>()
    const cache = new Map<string, { readonly addresses: ReadonlyArray<ResolvedAddress>; readonly expiresAt: number }>()

    const resolveUncached = (hostname: string) =>
      Effect.gen(function*() {
        const reasons: Array<string> = []
        for (const step of chain) {
          const exit = yield* Effect.exit(
            step.resolve(hostname).pipe(
              Effect.timeoutOrElse({
                duration: resolverTimeout,
                orElse: () => Effect.fail(`${step.name}: timeout`)
              })
            )
          )
          if (Exit.isSuccess(exit)) return exit.value
          reasons.push(Option.getOrElse(
            Cause.findErrorOption(exit.cause),
            () => `${step.name}: ${String(Cause.squash(exit.cause))}`
          ))
        }
        return yield* new NetworkError({ url: `dns://${hostname}`, kind: "dns", reason: reasons.join("; ") })
      })

    const resolve = (hostname: string): Effect.Effect<ReadonlyArray<ResolvedAddress>, NetworkError> =>
      Effect.gen(function*() {
        const family = Net.isIP(hostname)
        if (family !== 0) return [{ address: hostname, family: family as 4 | 6 }]
        const now = yield* Clock.currentTimeMillis
        const cached = cache.get(hostname)
        if (cached !== undefined && cached.expiresAt > now) return cached.addresses
        const answer = yield* resolveUncached(hostname).pipe(
          Effect.withSpan("DnsResolver.resolve", { attributes: { "server.address": hostname } })
        )
        cache.set(hostname, { addresses: answer.addresses, expiresAt: now + answer.ttlSeconds * 1000 })
        return answer.addresses
      })

    const runResolve = Effect.runCallbackWith(context)
    const lookup: Net.LookupFunction = (hostname, options, callback) => {
      runResolve(resolve(hostname), {
        onExit: (exit) => {
          if (Exit.isFailure(exit)) {
            const reason = Option.match(Cause.findErrorOption(exit.cause), {
              onNone: () => String(Cause.squash(exit.cause)),
              onSome: (error) => error.reason
            })
            const error = Object.assign(new Error(reason), { code: "ENOTFOUND", hostname })
            return callback(error, "", 4)
          }
          const wanted = options.family === 6 || options.family === 4 ? options.family : undefined
          const addresses = wanted === undefined ? exit.value : exit.value.filter((a) => a.family === wanted)
          if (addresses.length === 0) {
            return callback(Object.assign(new Error(`dns: no IPv${wanted} address`), { code: "ENOTFOUND" }), "", 4)
          }
          if (options.all) return callback(null, addresses.map(({ address, family }) => ({ address, family })))
          callback(null, addresses[0]!.address, addresses[0]!.family)
        }
      })
    }
    return { resolve, lookup }
  })

/**
 * The chain `http_resolvers` describes. `ca` is extra trust for custom DoH endpoints (tests).
 *
 * @since 0.1.0
 */
export const chainFromConfig = (
  resolvers: ReadonlyArray<string>,
  options: { readonly system?: ResolverStep; readonly ca?: string | Buffer } = {}
): Effect.Effect<ReadonlyArray<ResolverStep>, never, Scope.Scope> =>
  Effect.forEach(resolvers, (name) => {
    if (name === "standard") return Effect.succeed(options.system ?? systemResolver)
    const provider = dohProviders[name]
    if (provider !== undefined) return dohResolver(name, provider.url, { servername: provider.servername })
    return dohResolver(name, name, options.ca === undefined ? {} : { ca: options.ca })
  })

/**
 * The resolver from `http_resolvers`.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<DnsResolver, never, Tif1Config> = Layer.effect(
  DnsResolver,
  Effect.gen(function*() {
    const config = yield* Tif1Config
    return yield* make(yield* chainFromConfig(config.httpResolvers))
  })
)

/**
 * A resolver from an explicit chain (tests inject a failing system resolver or a local DoH server).
 *
 * @since 0.1.0
 */
export const layerChain = (
  chain: Effect.Effect<ReadonlyArray<ResolverStep>, never, Scope.Scope>
): Layer.Layer<DnsResolver> => Layer.effect(DnsResolver, Effect.flatMap(chain, make))
