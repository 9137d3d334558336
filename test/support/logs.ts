/** Log lines as a user would read them, for tests of what the user is told. */
import * as Logger from "effect/Logger"

/** A logger that keeps every line, to check what the user is told. */
export const capturedLogs = () => {
  const lines: Array<string> = []
  const layer = Logger.layer([
    Logger.make(({ logLevel, message }) => {
      lines.push(`${logLevel.toUpperCase()}: ${Array.isArray(message) ? message.join(" ") : String(message)}`)
    }),
    Logger.tracerLogger
  ])
  return { lines, layer }
}
