/**
 * The library's own log lines for the Promise client and the `tif1` command: one line each on
 * stderr (never stdout, which belongs to the program's output), at the `log_level` setting.
 * Effect programs are not affected: the Effect layers install no logger.
 */
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import type { Tif1LogLevel } from "../../schema/Config.js"

const levels: Record<Tif1LogLevel, LogLevel.LogLevel> = {
  none: LogLevel.None,
  error: LogLevel.Error,
  warning: LogLevel.Warning,
  info: LogLevel.Info,
  debug: LogLevel.Debug
}

/** The Effect `LogLevel` of a `log_level` value. */
export const logLevelOf = (level: Tif1LogLevel): LogLevel.LogLevel => levels[level]

/** `warning: <message>` lines on stderr; `prefix` runs first (the CLI clears its progress line). */
export const stderrLogger = (prefix: () => string = () => ""): Layer.Layer<never> =>
  Logger.replace(
    Logger.defaultLogger,
    Logger.make(({ logLevel, message }) => {
      const text = Array.isArray(message) ? message.map(String).join(" ") : String(message)
      process.stderr.write(`${prefix()}${logLevel.label.toLowerCase()}: ${text}\n`)
    })
  )
