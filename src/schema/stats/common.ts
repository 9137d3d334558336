/**
 * What every document of the Stats archive shares: Jolpica's (Ergast's) `MRData` envelope, every
 * value written as text (`"position": "1"`, `"lat": "-37.8497"`), times as published (`"1:23.456"`,
 * `"1:26:07.469"`, `"13.341"`), drivers and constructors; and how a document that does not have
 * that shape becomes an `InvalidDataError` naming the file, the place and the value.
 *
 * @since 0.2.0
 */
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import * as SchemaTransformation from "effect/SchemaTransformation"
import { InvalidDataError } from "../Errors.js"

/**
 * A number the archive writes as text (`"25"`, `"0.5"`, `"-37.8497"`), decoded to a number. An
 * empty string is not a number here (JavaScript would read it as 0).
 *
 * @since 0.2.0
 */
export const NumberFromText = Schema.String.check(
  Schema.isPattern(/^-?\d+(?:\.\d+)?$/, { expected: "a number written as text, such as \"25\"" })
).pipe(Schema.decodeTo(Schema.Finite, SchemaTransformation.numberFromString))

/**
 * A time as published, and its value in seconds: `{ seconds: 83.456, text: "1:23.456" }`.
 *
 * @since 0.2.0
 */
export interface PublishedTime {
  readonly seconds: number
  readonly text: string
}

/**
 * The seconds of a time written `[[h:]m:]s[.fff]`: `"1:26:07.469"` is 5167.469. Rounded to the
 * millisecond, as published.
 *
 * @since 0.2.0
 */
export const secondsOf = (text: string): number => {
  const parts = text.split(":").map(Number)
  const seconds = parts.reduce((total, part) => total * 60 + part, 0)
  return Math.round(seconds * 1000) / 1000
}

const PublishedTimeSchema = Schema.Struct({ seconds: Schema.Finite, text: Schema.String })

/**
 * A time written as text (`"1:23.456"`, `"1:26:07.469"`, `"13.341"`), decoded to a `PublishedTime`.
 *
 * @since 0.2.0
 */
export const TimeFromText = Schema.String.check(
  Schema.isPattern(/^(?:\d+:){0,2}\d+(?:\.\d+)?$/, { expected: "a time such as \"1:23.456\"" })
).pipe(
  Schema.decodeTo(
    PublishedTimeSchema,
    SchemaTransformation.transform({
      decode: (text: string): PublishedTime => ({ seconds: secondsOf(text), text }),
      encode: (time: PublishedTime) => time.text
    })
  )
)

/**
 * A driver, as every document names one.
 *
 * @since 0.2.0
 */
export interface Driver {
  /** Jolpica's id (`max_verstappen`): the key pit stops and lap positions use. */
  readonly id: string
  /** Three-letter code (`VER`); absent for most drivers before the 2000s. */
  readonly code?: string
  /** Permanent number (since 2014); absent before. */
  readonly number?: number
  readonly givenName: string
  readonly familyName: string
  readonly nationality: string
}

/**
 * A team (a constructor).
 *
 * @since 0.2.0
 */
export interface Team {
  /** Jolpica's id (`red_bull`). */
  readonly id: string
  readonly name: string
}

/** A driver as the archive writes it (`url` and `dateOfBirth` are read past). */
export const DriverText = Schema.Struct({
  driverId: Schema.NonEmptyString,
  permanentNumber: Schema.optionalKey(NumberFromText),
  code: Schema.optionalKey(Schema.String),
  givenName: Schema.String,
  familyName: Schema.String,
  nationality: Schema.String
})

/** A constructor as the archive writes it (`url` and `nationality` are read past). */
export const ConstructorText = Schema.Struct({
  constructorId: Schema.NonEmptyString,
  name: Schema.String
})

/** A decoded `DriverText` as a `Driver`. */
export const toDriver = (driver: typeof DriverText.Type): Driver => ({
  id: driver.driverId,
  ...(driver.code === undefined || driver.code === "" ? {} : { code: driver.code }),
  ...(driver.permanentNumber === undefined ? {} : { number: driver.permanentNumber }),
  givenName: driver.givenName,
  familyName: driver.familyName,
  nationality: driver.nationality
})

/** A decoded `ConstructorText` as a `Team`. */
export const toTeam = (constructor: typeof ConstructorText.Type): Team => ({
  id: constructor.constructorId,
  name: constructor.name
})

/**
 * A decoded document: its rows, and how many rows Jolpica counted (`MRData.total`): fewer rows
 * than that is a truncated page (the archive saved one page of a longer answer).
 *
 * @since 0.2.0
 */
export interface Rows<Row> {
  readonly rows: ReadonlyArray<Row>
  readonly total: number
}

const formatIssues = SchemaIssue.makeFormatterStandardSchemaV1()

type PathSegment = PropertyKey | { readonly key: PropertyKey }

/** `MRData.RaceTable.Races[0].Results[3].points`. */
const pathText = (path: ReadonlyArray<PathSegment>): string =>
  path.map((segment) => {
    const key = typeof segment === "object" ? segment.key : segment
    return typeof key === "number" ? `[${key}]` : `.${String(key)}`
  }).join("").replace(/^\./, "")

/** The value at `path` in `input`, shown short; `undefined` when nothing is there. */
const valueAt = (input: unknown, path: ReadonlyArray<PathSegment>): string | undefined => {
  let value = input
  for (const segment of path) {
    const key = typeof segment === "object" ? segment.key : segment
    if (value === null || typeof value !== "object" || !(key in value)) return undefined
    value = (value as Record<PropertyKey, unknown>)[key]
  }
  const text = JSON.stringify(value) ?? String(value)
  return text.length > 60 ? `${text.slice(0, 57)}...` : text
}

/**
 * Decode `input` (the parsed document at `file`, its cache key) with `schema`; the first problem
 * is an `InvalidDataError` naming the file, where in it, what was expected and what was there.
 *
 * @since 0.2.0
 */
export const decodeDocument = <S extends Schema.Decoder<unknown>>(schema: S) => {
  const decode = Schema.decodeUnknownResult(schema, { errors: "first" })
  return (file: string, input: unknown): Result.Result<S["Type"], InvalidDataError> => {
    const decoded = decode(input)
    if (Result.isSuccess(decoded)) return Result.succeed(decoded.success)
    const issue = formatIssues(decoded.failure.issue).issues[0]
    const path = issue?.path ?? []
    const found = path.length > 0 ? valueAt(input, path) : undefined
    return Result.fail(
      new InvalidDataError({
        path: file,
        reason: `${pathText(path) || "the document"}: ${issue?.message ?? "not the expected shape"}` +
          (found === undefined ? "" : ` (found ${found})`)
      })
    )
  }
}
