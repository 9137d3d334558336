/**
 * The mirror's default limits, in a module of their own: `tif1 mirror serve --help` shows them
 * without loading the server (`node:http2`, `node:zlib`, ...).
 *
 * @since 0.2.0
 */

/**
 * Default `headersTimeoutMs`.
 *
 * @since 0.2.0
 */
export const defaultHeadersTimeoutMs = 10_000

/**
 * Default `maxConnections`.
 *
 * @since 0.2.0
 */
export const defaultMaxConnections = 1024
