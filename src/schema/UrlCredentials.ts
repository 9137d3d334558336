/**
 * Credentials in configured URLs (`cdns`, `proxy`, `redis_url`): `user:password@` read exactly as
 * the WHATWG URL parser reads it (and so as undici and ioredis read the proxy and Redis URLs), cut
 * out of a CDN URL to be sent as a Basic `authorization` header, and hidden wherever a URL is shown.
 *
 * The parser's rules: the authority runs from `scheme://` to the first `/`, `?` or `#` (or `\` in
 * an http(s) URL); in it the LAST `@` ends the userinfo, so `p@ss` needs no escaping; in the
 * userinfo the FIRST `:` splits the user name from the password, so a password may hold `:`. Both
 * are percent-decoded as UTF-8; a `%` that is no escape is refused, never guessed at.
 *
 * @since 0.2.0
 */
import * as Result from "effect/Result"

/**
 * A user name and password, percent-decoded. A token alone (`https://TOKEN@host`) is a user name
 * with an empty password, as browsers and curl send it.
 *
 * @since 0.2.0
 */
export interface UrlCredentials {
  readonly username: string
  readonly password: string
}

/**
 * A configured URL split in two: the URL without its `userinfo@`, and the credentials it held.
 *
 * @since 0.2.0
 */
export interface SplitUrl {
  /** The URL without `userinfo@`, otherwise as written (a template keeps its placeholders). */
  readonly url: string
  /** `undefined` when the URL has no userinfo, or an empty one (`https://@host`). */
  readonly credentials: UrlCredentials | undefined
}

const schemeAndSlashes = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//
const schemeOnly = /^([A-Za-z][A-Za-z0-9+.-]*):/
/** WHATWG's special schemes: in them `\` ends the authority as `/` does. */
const specialSchemes = new Set(["http", "https", "ws", "wss", "ftp", "file"])

/**
 * Where the userinfo of `url` starts and the index of the `@` that ends it; `undefined` without
 * one. As the parser does, an http(s) URL's authority starts after any run of `/` and `\`
 * (`http:host`, `http:///host`), so that even a URL refused for its form is redacted right.
 */
const userinfoSpan = (url: string): { readonly start: number; readonly at: number } | undefined => {
  const scheme = schemeOnly.exec(url)
  if (scheme === null) return undefined
  const special = specialSchemes.has(scheme[1]!.toLowerCase())
  const afterScheme = url.slice(scheme[0].length)
  const slashes = special ? /^[/\\]*/.exec(afterScheme)![0].length : afterScheme.startsWith("//") ? 2 : -1
  if (slashes === -1) return undefined
  const start = scheme[0].length + slashes
  const authorityLength = url.slice(start).search(special ? /[/?#\\]/ : /[/?#]/)
  const authority = authorityLength === -1 ? url.slice(start) : url.slice(start, start + authorityLength)
  const at = authority.lastIndexOf("@")
  return at === -1 ? undefined : { start, at: start + at }
}

const decoded = (encoded: string): string | undefined => {
  try {
    return decodeURIComponent(encoded)
  } catch {
    return undefined
  }
}

/** The first control character (C0 or DEL) of `text`, as `U+XXXX`, or `undefined`. */
const controlCharacter = (text: string): string | undefined => {
  const found = /[\u0000-\u001f\u007f]/.exec(text)
  return found === null ? undefined : `U+${found[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}`
}

/**
 * Split `user:password@` off a configured URL, or say why it cannot be read. Refused: a URL not
 * written `scheme://host...` (the parser accepts `http:host` and `http:///host` too, but then
 * its userinfo would not be where every reader of the text looks for it); a control character
 * anywhere (the parser drops tabs and newlines silently, so the password sent would differ from
 * the one written); a space, `"` or `\` in the userinfo (write them `%20`, `%22`, `%5C`, so that
 * the userinfo is hidden wherever the URL is shown); a `%` that is no escape of UTF-8 bytes.
 *
 * @since 0.2.0
 */
export const splitCredentials = (value: string): Result.Result<SplitUrl, string> => {
  const control = controlCharacter(value)
  if (control !== undefined) return Result.fail(`has a control character (${control})`)
  const scheme = schemeAndSlashes.exec(value)
  if (scheme === null || /^[/\\]/.test(value.slice(scheme[0].length))) {
    return Result.fail("must be written scheme://host... (two slashes, then the host)")
  }
  const span = userinfoSpan(value)
  if (span === undefined) return Result.succeed({ url: value, credentials: undefined })
  const userinfo = value.slice(span.start, span.at)
  if (/[\s"\\]/.test(userinfo)) {
    return Result.fail("has a space, \" or \\ in its user:password@: percent-encode it (%20, %22, %5C)")
  }
  // The parser's own reading of the userinfo: it percent-encodes what needs it (the `@` of `p@ss`
  // becomes %40) and leaves `%` as written; nothing in `userinfo` can end an authority.
  let parsed: URL
  try {
    parsed = new URL(`http://${userinfo}@host.invalid/`)
  } catch {
    return Result.fail("has a user:password@ that is not valid in a URL")
  }
  const username = decoded(parsed.username)
  const password = decoded(parsed.password)
  if (username === undefined || password === undefined) {
    return Result.fail(
      "has a % in its user:password@ that is no escape of UTF-8 bytes (%XX): write a % itself as %25"
    )
  }
  return Result.succeed({
    url: value.slice(0, span.start) + value.slice(span.at + 1),
    credentials: username === "" && password === "" ? undefined : { username, password }
  })
}

/**
 * Why credentials cannot be sent as HTTP Basic auth (RFC 7617), or `undefined`: the user name
 * cannot hold `:` (the server splits at the first one), and neither part a control character.
 *
 * @since 0.2.0
 */
export const basicCredentialsProblem = (credentials: UrlCredentials): string | undefined => {
  if (credentials.username.includes(":")) {
    return "has a user name with a : (%3A), which HTTP Basic auth cannot carry (the server would split there)"
  }
  const control = controlCharacter(credentials.username + credentials.password)
  return control === undefined
    ? undefined
    : `has a control character (${control}) in its decoded user:password@, which HTTP Basic auth cannot carry`
}

/**
 * The `authorization` header value of credentials: `Basic` and base64 of `user:password` in UTF-8.
 *
 * @since 0.2.0
 */
export const basicAuthorization = (credentials: UrlCredentials): string =>
  `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`, "utf8").toString("base64")}`

/**
 * A configured URL without its `user:password@`, and those credentials as a Basic header value
 * (`undefined` when it has none); or why they cannot be read or sent (`splitCredentials`,
 * `basicCredentialsProblem`).
 *
 * @since 0.2.0
 */
export const withBasicAuthorization = (
  configured: string
): Result.Result<{ readonly url: string; readonly authorization: string | undefined }, string> => {
  const split = splitCredentials(configured)
  if (Result.isFailure(split)) return Result.fail(split.failure)
  const { credentials, url } = split.success
  if (credentials === undefined) return Result.succeed({ url, authorization: undefined })
  const problem = basicCredentialsProblem(credentials)
  return problem === undefined
    ? Result.succeed({ url, authorization: basicAuthorization(credentials) })
    : Result.fail(problem)
}

/** A userinfo as shown: the user name stays when a password follows it; a token alone is hidden. */
const maskedUserinfo = (userinfo: string): string => {
  const colon = userinfo.indexOf(":")
  return colon === -1 ? "***" : `${userinfo.slice(0, colon)}:***`
}

/**
 * One URL as it may be shown: its userinfo found by the parser's rules (a value that was refused
 * included) and masked, `user:***@` or `***@` for a token alone.
 *
 * @since 0.2.0
 */
export const redactUrl = (url: string): string => {
  const leading = /^[\u0000-\u0020]*/.exec(url)![0].length
  const span = userinfoSpan(url.slice(leading))
  return span === undefined
    ? url
    : url.slice(0, leading + span.start) + maskedUserinfo(url.slice(leading + span.start, leading + span.at)) +
      url.slice(leading + span.at)
}

/**
 * Text as it may be shown (errors, log lines, `tif1 config`): the userinfo of every URL in it
 * masked as `redactUrl` masks it. In free text a URL's authority also ends at a space, a quote
 * or a backslash (where a URL in a sentence or in JSON ends), which a configured userinfo never
 * holds (`splitCredentials` refuses them), so every accepted form is found: `user:password`, a
 * token alone, `@` or `:` inside.
 *
 * @since 0.2.0
 */
export const redactSecrets = (text: string): string =>
  text.replace(
    // Anchored on `://`, not on the scheme before it: a scheme pattern would be tried from every
    // letter of a long word and scan the rest of it each time (quadratic in the text's length).
    /:\/\/([^/?#\\"\s]*)@/g,
    (_, userinfo: string) => `://${maskedUserinfo(userinfo)}@`
  )
