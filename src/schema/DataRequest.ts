/**
 * `DataRequest`: which file of which session, validated before any I/O; how it becomes a URL on
 * each CDN shape; and its cache key.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import * as SchemaTransformation from "effect/SchemaTransformation"
import { InvalidDataError } from "./Errors.js"

/**
 * Short session names users type, mapped to the names TracingInsights publishes.
 *
 * @since 0.1.0
 */
export const sessionAliases: Readonly<Record<string, string>> = {
  FP1: "Practice 1",
  FP2: "Practice 2",
  FP3: "Practice 3",
  Q: "Qualifying",
  S: "Sprint",
  SS: "Sprint Shootout",
  SQ: "Sprint Qualifying",
  R: "Race"
}

/**
 * Resolve a session alias (`FP1`, `Q`, `R`, ... in any case) to its published name; other names
 * pass through unchanged.
 *
 * @since 0.1.0
 */
export const resolveSessionName = (session: string): string => sessionAliases[session.toUpperCase()] ?? session

const segmentPattern = /^[A-Za-z0-9_.-]+$/
const maxPathLength = 300

/** Why a session-relative path is unusable, or `undefined` when it is fine. */
const pathProblem = (path: string): string | undefined => {
  if (path.length > maxPathLength) return `must be at most ${maxPathLength} characters`
  if (path.startsWith("/")) return "must be relative to the session, not absolute"
  if (!path.endsWith(".json")) return "must end in .json"
  for (const segment of path.split("/")) {
    if (segment === "") return "has an empty segment"
    if (segment === "." || segment === "..") return `segment ${JSON.stringify(segment)} is not allowed`
    if (!segmentPattern.test(segment)) return `segment ${JSON.stringify(segment)} may only contain A-Z a-z 0-9 _ . -`
  }
  return undefined
}

/** Names are folder names: the longest published one is under 40 characters. */
const maxNameLength = 200
/** A surrogate without its pair: not Unicode, so not encodable in a URL. */
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/**
 * An event or session name: one folder name. Non-empty, no surrounding blanks, no control
 * characters or slashes, not `.` or `..` (a URL would fold them into the parent folder), valid
 * Unicode, at most 200 characters.
 */
const EventName = (what: string) =>
  Schema.String.check(
    Schema.makeFilter((name) => {
      if (name.trim().length === 0) return `${what} must not be empty`
      if (name !== name.trim()) return `${what} must not start or end with blanks`
      if (name === "." || name === "..") return `${what} must not be ${JSON.stringify(name)}`
      if (/[\u0000-\u001f\u007f/\\]/.test(name)) return `${what} must not contain slashes or control characters`
      if (loneSurrogate.test(name)) return `${what} must be valid Unicode (it holds a lone surrogate)`
      if (name.length > maxNameLength) return `${what} must be at most ${maxNameLength} characters`
      return undefined
    })
  )

/**
 * A session name as users write it: an alias (`FP1`, `Q`, `R`, ...) decodes to the published name.
 *
 * @since 0.1.0
 */
export const SessionName = EventName("session").pipe(
  Schema.decodeTo(
    Schema.String,
    SchemaTransformation.transform({
      decode: resolveSessionName,
      encode: (name) => name
    })
  )
)

/**
 * A file path relative to a session folder, such as `drivers.json` or `VER/12_tel.json`.
 *
 * @since 0.1.0
 */
export const SessionPath = Schema.String.check(Schema.makeFilter((path) => pathProblem(path)))

/**
 * One file of one session: `{ year, gp, session, path }`.
 *
 * @since 0.1.0
 */
export const DataRequest = Schema.Struct({
  year: Schema.Int.check(
    Schema.isBetween({ minimum: 2018, maximum: 2100 }, { message: "year must be an integer from 2018 to 2100" })
  ),
  gp: EventName("gp"),
  session: SessionName,
  path: SessionPath
})

/**
 * A validated request (session aliases already resolved).
 *
 * @since 0.1.0
 */
export type DataRequest = typeof DataRequest.Type

/**
 * What users may pass in: the same fields, with a session alias allowed.
 *
 * @since 0.1.0
 */
export type DataRequestInput = typeof DataRequest.Encoded

/** The first issue only; `reportInput` so a type mismatch says what it got ("Expected string, got 5"). */
const decodeRequestResult = Schema.decodeUnknownResult(DataRequest, { errors: "first", reportInput: true })
const formatIssues = SchemaIssue.makeFormatterStandardSchemaV1()

/** An issue's path as `a.b` (Standard Schema segments are keys or `{ key }` objects). */
const pathText = (path: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined): string =>
  (path ?? []).map((segment) => String(typeof segment === "object" ? segment.key : segment)).join(".")

/**
 * Validate a request before any I/O. A bad one fails with `InvalidDataError` naming the field.
 *
 * @since 0.1.0
 */
export const decodeRequest = (input: unknown): Effect.Effect<DataRequest, InvalidDataError> => {
  const decoded = decodeRequestResult(input)
  if (Result.isSuccess(decoded)) return Effect.succeed(decoded.success)
  const issue = formatIssues(decoded.failure.issue).issues[0]
  const field = pathText(issue?.path) || "request"
  return Effect.fail(
    new InvalidDataError({
      path: field,
      reason: `bad request ${describeInput(input)}: ${issue?.message ?? "not a request object"}`
    })
  )
}

const describeInput = (input: unknown): string => {
  try {
    return JSON.stringify(input) ?? String(input)
  } catch {
    return String(input)
  }
}

/**
 * The cache key of a request: `{year}/{gp}/{session}/{path}` with plain (not encoded) names.
 *
 * @since 0.1.0
 */
export const cacheKey = (request: DataRequest): string =>
  `${request.year}/${request.gp}/${request.session}/${request.path}`

/**
 * Whether a request is a per-lap telemetry file (`{DRV}/{lap}_tel.json`), which the memory
 * cache keeps in its own, larger tier.
 *
 * @since 0.1.0
 */
export const isTelemetryPath = (path: string): boolean => path.endsWith("_tel.json")

/**
 * Where a CDN source keeps the files: a jsDelivr-shaped base URL (`{base}/{year}@main/{gp}/...`)
 * or a template with `{year}` `{gp}` `{session}` `{path}` placeholders.
 *
 * @since 0.1.0
 */
export type SourceShape =
  | { readonly _tag: "BaseUrl"; readonly baseUrl: string }
  | { readonly _tag: "Template"; readonly template: string }

/**
 * Read a configured CDN string as a source shape: a string with `{` is a template, any other is a
 * jsDelivr-shaped base URL (a trailing slash is dropped).
 *
 * @since 0.1.0
 */
export const parseSourceShape = (value: string): SourceShape =>
  value.includes("{")
    ? { _tag: "Template", template: value }
    : { _tag: "BaseUrl", baseUrl: value.replace(/\/+$/, "") }

const encodePath = (path: string): string => path.split("/").map(encodeURIComponent).join("/")

/**
 * The URL of a request on one source. gp, session and every path segment are percent-encoded.
 * With `minify`, `.json` becomes `.min.json` on jsDelivr hosts (the only CDN that minifies on
 * the fly); other sources are left alone because they would answer 404.
 *
 * @since 0.1.0
 */
export const urlFor = (shape: SourceShape, request: DataRequest, minify = false): string => {
  const year = String(request.year)
  const gp = encodeURIComponent(request.gp)
  const session = encodeURIComponent(request.session)
  if (shape._tag === "Template") {
    return shape.template
      .replaceAll("{year}", year)
      .replaceAll("{gp}", gp)
      .replaceAll("{session}", session)
      .replaceAll("{path}", encodePath(request.path))
  }
  const path = minify && isJsDelivr(shape.baseUrl) ? request.path.replace(/\.json$/, ".min.json") : request.path
  return `${shape.baseUrl}/${year}@main/${gp}/${session}/${encodePath(path)}`
}

const isJsDelivr = (baseUrl: string): boolean => {
  try {
    const host = new URL(baseUrl).hostname
    return host === "jsdelivr.net" || host.endsWith(".jsdelivr.net")
  } catch {
    return false
  }
}
