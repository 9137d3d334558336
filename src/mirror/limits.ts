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

/**
 * Default `idleTimeoutMs`: longer than the pauses inside a session load or between loads run back
 * to back (a client keeps its connection, TLS session and HTTP/2 windows), short enough that a
 * connection cap filled by idle clients clears within half a minute. Node's HTTP server keeps an
 * idle connection 5 s, nginx 75 s.
 *
 * @since 0.2.0
 */
export const defaultIdleTimeoutMs = 30_000

/**
 * Default `maxCachedBytes`, 256 MiB: a whole session with telemetry (1,000 files, 185 MB) and its
 * br copies, so clients loading the same session read the disk once; a crawl of a larger mirror
 * cycles through it.
 *
 * @since 0.2.0
 */
export const defaultMaxCachedBytes = 256 * 1024 * 1024

/**
 * Default `maxCountedPaths`: the paths `hits(path)` remembers (most recently asked first), about
 * ten sessions' worth of files.
 *
 * @since 0.2.0
 */
export const defaultMaxCountedPaths = 10_000
