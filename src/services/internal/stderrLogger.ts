/**
 * The library's own log lines for the Promise client and the `tif1` command: one line each on
 * stderr (never stdout, which belongs to the program's output), at the `log_level` setting.
 * Effect programs are not affected: the Effect layers install no logger.
 */
import type * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import type { Tif1LogLevel } from "../../schema/Config.js"

const levels: Record<Tif1LogLevel, LogLevel.LogLevel> = {
  none: "None",
  error: "Error",
  warning: "Warn",
  info: "Info",
  debug: "Debug"
}

/** The Effect `LogLevel` of a `log_level` value. */
export const logLevelOf = (level: Tif1LogLevel): LogLevel.LogLevel => levels[level]

/** One log line as the library writes it: `warn: <message>`. */
export const logLine = (logLevel: LogLevel.LogLevel, message: unknown): string => {
  const text = Array.isArray(message) ? message.map(String).join(" ") : String(message)
  return `${logLevel.toLowerCase()}: ${text}\n`
}

/**
 * The loggers of a layer that replaces Effect's default (console) logger with `logger`. Effect's
 * tracer logger stays, as it did beside the default one: log lines remain span events.
 */
const replacingDefault = (logger: Logger.Logger<unknown, unknown>): Layer.Layer<never> =>
  Logger.layer([logger, Logger.tracerLogger])

/** Log lines on stderr; `prefix` runs first (the CLI clears its progress line). */
export const stderrLogger = (prefix: () => string = () => ""): Layer.Layer<never> =>
  replacingDefault(
    Logger.make(({ logLevel, message }) => process.stderr.write(`${prefix()}${logLine(logLevel, message)}`))
  )

/**
 * A logger that keeps its lines until `flush(level)` writes those at `level` and above to
 * stderr: for what is logged before the level is known (while the config that sets it is read).
 */
export const heldLogger = () => {
  const held: Array<{ readonly level: LogLevel.LogLevel; readonly line: string }> = []
  return {
    layer: replacingDefault(
      Logger.make(({ logLevel, message }) => held.push({ level: logLevel, line: logLine(logLevel, message) }))
    ),
    flush: (minimum: LogLevel.LogLevel) => {
      for (const { level, line } of held.splice(0)) {
        if (LogLevel.isGreaterThanOrEqualTo(level, minimum)) process.stderr.write(line)
      }
    }
  }
}
