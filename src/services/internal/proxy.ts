/**
 * Which proxy an origin's requests go through: none unless asked (`proxy` names one for every
 * CDN; `trust_env` reads HTTPS_PROXY / HTTP_PROXY / NO_PROXY, upper or lower case, as curl does).
 */
import * as Result from "effect/Result"
import { redactUrl, withBasicAuthorization } from "../../schema/UrlCredentials.js"

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

/**
 * What undici's `ProxyAgent` is given for a proxy URL: for an http(s) proxy, the URL without its
 * `user:password@` and the `Proxy-Authorization` value, read as `cdns` credentials are
 * (`UrlCredentials.ts`). undici's own reading sends nothing for an empty user name with a password
 * (`http://:secret@proxy`); this one sends `Basic` of `:secret`, as for a CDN. `proxy` is checked
 * when the config is read; a proxy from HTTPS_PROXY / HTTP_PROXY is checked here, and one that
 * cannot be read throws (the request fails naming the URL without its secrets, rather than going
 * out without the credentials written). Any other scheme (a `socks5://` proxy from the
 * environment, whose credentials are no HTTP header) is given to undici as it is.
 */
export const proxyAgentTarget = (proxy: string): { readonly uri: string; readonly token?: string } => {
  if (!/^\s*https?:/i.test(proxy)) return { uri: proxy }
  const read = withBasicAuthorization(proxy)
  if (Result.isFailure(read)) throw new Error(`the proxy URL ${redactUrl(proxy)} ${read.failure}`)
  const { authorization, url } = read.success
  return authorization === undefined ? { uri: url } : { uri: url, token: authorization }
}
