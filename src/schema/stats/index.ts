/**
 * The Stats archive's documents (`TracingInsights-Archive/Stats`: Jolpica `MRData` per season and
 * race, 1950 onwards), their schemas as published, and the typed rows they decode to: numbers as
 * numbers, times with their seconds and their text, missing values `null` or absent (never
 * `"None"`), drivers `{ id, code?, number?, givenName, familyName, nationality }`, teams
 * `{ id, name }`, statuses verbatim. A document with no race decodes to no rows.
 *
 * @since 0.2.0
 */
export * from "./common.js"
export * from "./documents.js"
export * from "./Events.js"
export * from "./Laps.js"
export * from "./Results.js"
export * from "./Standings.js"
