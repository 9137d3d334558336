/**
 * Compressed transfers: which encodings to ask an origin for (`compression`: `auto` asks every
 * origin but loopback ones, where bandwidth is free and decoding costs CPU; `on`; `off`), and
 * decoding a body within `max_response_bytes` (a compression bomb stops at the limit, on
 * libuv's thread pool, never filling memory).
 */
import * as Zlib from "node:zlib"

/** The `compression` setting. */
export type CompressionMode = "auto" | "on" | "off"

/** zstd only where this runtime's zlib has it (Node 22.15+ / 23.8+: every supported Node, not every runtime). */
const hasZstd = typeof (Zlib as { zstdDecompress?: unknown }).zstdDecompress === "function"

/** The encodings asked for when compressing, best first. */
export const compressedEncodings: ReadonlyArray<string> = hasZstd ? ["br", "gzip", "zstd"] : ["br", "gzip"]

const isLoopback = (hostname: string): boolean =>
  hostname === "localhost" || hostname.endsWith(".localhost") || /^127\.\d+\.\d+\.\d+$/.test(hostname) ||
  hostname === "[::1]" || hostname === "::1"

/** The `accept-encoding` value when compressing (joined once: it is read on every request). */
const compressedAcceptEncoding = compressedEncodings.join(", ")

/** The `accept-encoding` for an origin's host name under a mode. */
export const acceptEncodingFor = (mode: CompressionMode, hostname: string): string =>
  mode === "on" || (mode === "auto" && !isLoopback(hostname)) ? compressedAcceptEncoding : "identity"

/**
 * Whether an answer has content to decode: not a 1xx, 204 or 304 (which carry none by
 * definition, whatever their headers say: a CDN may send a 304 with the `content-encoding` of the
 * representation it confirms), nor an empty body (an empty 404, 410 or 5xx with that header). An
 * empty stream is no valid gzip or brotli, so decoding one would turn a bodyless answer into
 * an encoding failure.
 */
export const hasContent = (status: number, body: Uint8Array): boolean =>
  body.byteLength > 0 && status >= 200 && status !== 204 && status !== 304

/** Why a body could not be decoded: an encoding not asked for, a corrupt stream, or too large. */
export interface DecodeFailure {
  readonly kind: "encoding" | "too-large"
  readonly reason: string
}

type Decompress = (
  input: Uint8Array,
  options: Zlib.ZlibOptions & Zlib.BrotliOptions,
  callback: (error: Error | null, result: Buffer) => void
) => void

const decoders: Record<string, Decompress | undefined> = {
  br: Zlib.brotliDecompress as Decompress,
  gzip: Zlib.gunzip as Decompress,
  "x-gzip": Zlib.gunzip as Decompress,
  deflate: Zlib.inflate as Decompress,
  zstd: (Zlib as unknown as { zstdDecompress?: Decompress }).zstdDecompress
}

/**
 * Decode a body sent with `encoding` (the `content-encoding` value), when it is one that was
 * asked for (`accepted`), within `maxBytes` decoded bytes.
 */
export const decodeBody = (
  encoding: string,
  accepted: string,
  body: Uint8Array,
  maxBytes: number,
  done: (outcome: Uint8Array | DecodeFailure) => void
): void => {
  const coding = encoding.trim().toLowerCase()
  const decode = decoders[coding]
  if (decode === undefined || !accepted.split(", ").includes(coding === "x-gzip" ? "gzip" : coding)) {
    return done({
      kind: "encoding",
      reason:
        `the body came with content-encoding "${encoding}", which was not asked for (accept-encoding: ${accepted})`
    })
  }
  decode(body, { maxOutputLength: maxBytes }, (error, decoded) => {
    if (error === null) return done(decoded)
    const code = (error as NodeJS.ErrnoException).code
    done(
      code === "ERR_BUFFER_TOO_LARGE" || /Cannot create a Buffer larger|maxOutputLength/i.test(error.message)
        ? {
          kind: "too-large",
          reason: `the ${coding} body decodes to more than max_response_bytes (${maxBytes} bytes)`
        }
        : { kind: "encoding", reason: `the ${coding} body does not decode: ${error.message}` }
    )
  })
}
