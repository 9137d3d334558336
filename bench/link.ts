/**
 * A user-space network link for the WAN profile: a TCP forwarder from a local port to the
 * mirror that adds a fixed delay each way and shares one rate limit (a token bucket) across every
 * connection, server to client, as a shaped access link would. TLS passes through untouched.
 * This kernel has `tc ... tbf` but no `netem`, so both the delay and the rate live here, in a
 * process of their own (the benchmark's output says so).
 *
 *   node --import tsx bench/link.ts <target host:port> <megabits per second> <one-way delay ms>
 *
 * Prints `listening <port>` once ready; runs until stdin closes.
 */
import * as Net from "node:net"

const [target = "", rateText = "100", delayText = "15"] = process.argv.slice(2)
const [targetHost = "127.0.0.1", targetPort = "0"] = target.split(":")
const bytesPerMs = (Number(rateText) * 1_000_000) / 8 / 1000
const delayMs = Number(delayText)

/** Server-to-client bytes: one bucket for every connection (the link is shared). */
let available = bytesPerMs * 5
let refilledAt = performance.now()
const waiting: Array<() => void> = []
const refill = () => {
  const now = performance.now()
  available = Math.min(bytesPerMs * 5, available + (now - refilledAt) * bytesPerMs)
  refilledAt = now
}
const take = (bytes: number, then: () => void) => {
  refill()
  // A chunk may be larger than the bucket: it goes once the bucket is not in debt, and leaves a
  // debt that later chunks wait out.
  if (waiting.length === 0 && available > 0) {
    available -= bytes
    return then()
  }
  waiting.push(() => take(bytes, then))
}
setInterval(() => {
  refill()
  const ready = waiting.splice(0)
  for (const next of ready) next()
}, 1).unref()

/** Deliver chunks (and finally the end of the stream) `delayMs` later, in order. */
const delayed = (to: Net.Socket) => {
  const queue: Array<{ readonly at: number; readonly chunk: Buffer | "end" }> = []
  let timer: NodeJS.Timeout | undefined
  const pump = () => {
    timer = undefined
    const now = performance.now()
    while (queue.length > 0 && queue[0]!.at <= now) {
      const { chunk } = queue.shift()!
      if (chunk === "end") to.end()
      else to.write(chunk)
    }
    if (queue.length > 0) timer = setTimeout(pump, Math.max(0, queue[0]!.at - now))
  }
  return (chunk: Buffer | "end") => {
    queue.push({ at: performance.now() + delayMs, chunk })
    timer ??= setTimeout(pump, delayMs)
  }
}

const server = Net.createServer({ noDelay: true, allowHalfOpen: true }, (client) => {
  const upstream = Net.connect({ host: targetHost, port: Number(targetPort), noDelay: true, allowHalfOpen: true })
  const toServer = delayed(upstream)
  const toClient = delayed(client)
  client.on("data", (chunk) => toServer(chunk)).on("end", () => toServer("end"))
  upstream.on("data", (chunk) => {
    // Back-pressure: the bucket decides when the chunk leaves, then it travels for delayMs.
    upstream.pause()
    take(chunk.length, () => {
      toClient(chunk)
      upstream.resume()
    })
  }).on("end", () => toClient("end"))
  const destroy = () => {
    client.destroy()
    upstream.destroy()
  }
  client.on("error", destroy)
  upstream.on("error", destroy)
})
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`listening ${(server.address() as Net.AddressInfo).port}\n`)
})
process.stdin.on("end", () => process.exit(0)).resume()
