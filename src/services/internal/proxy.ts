/**
 * Which proxy an origin's requests go through: none unless asked (`proxy` names one for every
 * CDN; `trust_env` reads HTTPS_PROXY / HTTP_PROXY / NO_PROXY, upper or lower case, as curl does).
 */

/** Where the proxy settings come from. */
export interface ProxySettings {
  readonly proxy: string | undefined
  readonly trustEnv: boolean
  readonly env?: NodeJS.ProcessEnv
}

const fromEnv = (env: NodeJS.ProcessEnv, name: string): string | undefined => {
  const value = env[name.toLowerCase()] ?? env[name.toUpperCase()]
  return value === undefined || value.trim() === "" ? undefined : value.trim()
}

/** Whether NO_PROXY names a host (`*`, a host, `.domain` or `domain` for its subdomains, `host:port`). */
const bypassed = (noProxy: string | undefined, hostname: string, port: string): boolean => {
  if (noProxy === undefined) return false
  const host = hostname.replace(/^\[|\]$/g, "").toLowerCase()
  return noProxy.split(/[,\s]+/).filter((entry) => entry !== "").some((raw) => {
    const entry = raw.toLowerCase()
    if (entry === "*") return true
    const [name, entryPort] = entry.startsWith("[")
      ? [entry.slice(1, entry.indexOf("]")), entry.split("]:")[1]]
      : entry.split(":")
    if (entryPort !== undefined && entryPort !== port) return false
    const domain = name!.replace(/^\*?\./, "")
    return host === domain || host.endsWith(`.${domain}`)
  })
}

/** A function from an origin (`https://host:port`) to its proxy URL, or `undefined` for a direct connection. */
export const proxyResolver = (settings: ProxySettings): (origin: string) => string | undefined => {
  if (settings.proxy !== undefined) return () => settings.proxy
  if (!settings.trustEnv) return () => undefined
  const env = settings.env ?? process.env
  const https = fromEnv(env, "https_proxy")
  const http = fromEnv(env, "http_proxy")
  const noProxy = fromEnv(env, "no_proxy")
  return (origin) => {
    const url = new URL(origin)
    const port = url.port || (url.protocol === "https:" ? "443" : "80")
    if (bypassed(noProxy, url.hostname, port)) return undefined
    return url.protocol === "https:" ? https ?? http : http
  }
}
