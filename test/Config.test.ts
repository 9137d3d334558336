import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Logger from "effect/Logger"
import * as Result from "effect/Result"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Tif1Test from "../src/layers/Tif1Test.js"
import {
  envName,
  loadConfig,
  snakeCase,
  socketsPerOrigin,
  Tif1Config,
  type Tif1ConfigOverrides
} from "../src/schema/Config.js"
import type { Tif1ConfigError } from "../src/schema/Errors.js"

const tempDir = () => Fs.mkdtempSync(Path.join(Os.tmpdir(), "tif1-config-"))

/** Resolve config with the given env map, a fresh empty home and cwd, and optional files. */
const resolve = (
  env: Record<string, string>,
  options: { overrides?: Tif1ConfigOverrides; home?: object | string; cwd?: object | string } = {}
) => {
  const homeDir = tempDir()
  const cwd = tempDir()
  const write = (dir: string, content: object | string) =>
    Fs.writeFileSync(Path.join(dir, ".tif1rc"), typeof content === "string" ? content : JSON.stringify(content))
  if (options.home !== undefined) write(homeDir, options.home)
  if (options.cwd !== undefined) write(cwd, options.cwd)
  return loadConfig(options.overrides ?? {}, { homeDir, cwd }).pipe(
    Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env, preserveEmptyStrings: true })),
    Effect.result,
    Effect.map((result) => ({ result, homeDir, cwd }))
  )
}

const expectError = (result: Result.Result<unknown, Tif1ConfigError>) => {
  if (Result.isSuccess(result)) throw new Error("expected a config error")
  return result.failure
}

describe("Config", () => {
  it("names keys in snake case and env form", () => {
    expect(snakeCase("maxRetries")).toBe("max_retries")
    expect(snakeCase("httpDisableHttp3")).toBe("http_disable_http3")
    expect(snakeCase("telemetryPrefetchMaxConcurrentRequests")).toBe("telemetry_prefetch_max_concurrent_requests")
    expect(envName("poolMaxsize")).toBe("TIF1_POOL_MAXSIZE")
  })

  it.effect("uses the documented defaults when nothing is set", () =>
    Effect.gen(function*() {
      const { result } = yield* resolve({})
      const config = Result.getOrThrow(result)
      expect(config.timeout).toBe(30)
      expect(config.maxRetries).toBe(3)
      expect(config.retryBackoffFactor).toBe(2)
      expect(config.retryJitter).toBe(true)
      expect(config.circuitBreakerThreshold).toBe(5)
      expect(config.httpResolvers).toEqual(["standard", "doh://cloudflare", "doh://google"])
      expect(config.cdns[0]).toBe("https://cdn.jsdelivr.net/gh/TracingInsights")
      expect(config.userAgent).toMatch(/^tif1-effect\//)
      expect(config.sources.timeout).toBe("default")
      expect(socketsPerOrigin(config)).toBe(128)
    }))

  it.effect("applies precedence: override > env > file > default", () =>
    Effect.gen(function*() {
      const { homeDir, result } = yield* resolve(
        { TIF1_TIMEOUT: "20", TIF1_MAX_RETRIES: "5" },
        {
          overrides: { timeout: 10 },
          home: { timeout: 40, max_retries: 7, circuit_breaker_threshold: 9 }
        }
      )
      const config = Result.getOrThrow(result)
      expect(config.timeout).toBe(10)
      expect(config.sources.timeout).toBe("override")
      expect(config.maxRetries).toBe(5)
      expect(config.sources.maxRetries).toBe("env TIF1_MAX_RETRIES")
      expect(config.circuitBreakerThreshold).toBe(9)
      expect(config.sources.circuitBreakerThreshold).toBe(`file ${Path.join(homeDir, ".tif1rc")}`)
      expect(config.keepaliveTimeout).toBe(120)
      expect(config.sources.keepaliveTimeout).toBe("default")
    }))

  it.effect("tries TIF1_CONFIG_FILE first, ./.tif1rc only when trusted, then ~/.tif1rc", () =>
    Effect.gen(function*() {
      const explicitDir = tempDir()
      const explicit = Path.join(explicitDir, "custom.json")
      Fs.writeFileSync(explicit, JSON.stringify({ timeout: 1 }))
      const first = yield* resolve({ TIF1_CONFIG_FILE: explicit }, { home: { timeout: 3 }, cwd: { timeout: 2 } })
      expect(Result.getOrThrow(first.result).timeout).toBe(1)

      const untrusted = yield* resolve({}, { home: { timeout: 3 }, cwd: { timeout: 2 } })
      expect(Result.getOrThrow(untrusted.result).timeout).toBe(3)

      const trusted = yield* resolve({ TIF1_TRUST_CWD_CONFIG: "yes" }, { home: { timeout: 3 }, cwd: { timeout: 2 } })
      expect(Result.getOrThrow(trusted.result).timeout).toBe(2)
    }))

  it.effect("a missing TIF1_CONFIG_FILE is an error, not a silent fallback", () =>
    Effect.gen(function*() {
      const { result } = yield* resolve({ TIF1_CONFIG_FILE: "/nonexistent/tif1rc" }, { home: { timeout: 3 } })
      const error = expectError(result)
      expect(error.source).toBe("env TIF1_CONFIG_FILE")
      expect(error.value).toBe("/nonexistent/tif1rc")
    }))

  it.effect("parses booleans in every documented spelling", () =>
    Effect.gen(function*() {
      for (
        const [word, expected] of [
          ["1", true],
          ["TRUE", true],
          ["yes", true],
          ["On", true],
          ["0", false],
          [
            "false",
            false
          ],
          ["no", false],
          ["off", false]
        ] as const
      ) {
        const { result } = yield* resolve({ TIF1_CI_MODE: word })
        expect(Result.getOrThrow(result).ciMode).toBe(expected)
      }
      const { result } = yield* resolve({ TIF1_CI_MODE: "maybe" })
      const error = expectError(result)
      expect(error.key).toBe("ci_mode")
      expect(error.source).toBe("env TIF1_CI_MODE")
      expect(error.value).toBe("\"maybe\"")
    }))

  it.effect("parses lists: comma-separated in env, JSON arrays in files", () =>
    Effect.gen(function*() {
      const env = yield* resolve({ TIF1_CDNS: "http://127.0.0.1:1/a, http://127.0.0.1:2/{year}/{gp}/{session}/{path}" })
      expect(Result.getOrThrow(env.result).cdns).toEqual([
        "http://127.0.0.1:1/a",
        "http://127.0.0.1:2/{year}/{gp}/{session}/{path}"
      ])
      const file = yield* resolve({}, {
        home: { http_resolvers: ["standard", "https://127.0.0.1:8443/dns-query"], cdns: [" http://127.0.0.1:3/a "] }
      })
      expect(Result.getOrThrow(file.result).httpResolvers).toEqual(["standard", "https://127.0.0.1:8443/dns-query"])
      expect(Result.getOrThrow(file.result).cdns).toEqual(["http://127.0.0.1:3/a"])
    }))

  it.effect("rejects a negative env value, naming key, source and value", () =>
    Effect.gen(function*() {
      const { result } = yield* resolve({ TIF1_MAX_RETRIES: "-1" })
      const error = expectError(result)
      expect(error._tag).toBe("Tif1ConfigError")
      expect(error.key).toBe("max_retries")
      expect(error.source).toBe("env TIF1_MAX_RETRIES")
      expect(error.value).toBe("\"-1\"")
      expect(error.message).toContain("max_retries")
      expect(error.message).toContain("at least 0")
    }))

  it.effect("rejects a wrong type in a file, naming the file", () =>
    Effect.gen(function*() {
      const { homeDir, result } = yield* resolve({}, { home: { timeout: "soon" } })
      const error = expectError(result)
      expect(error.key).toBe("timeout")
      expect(error.source).toBe(`file ${Path.join(homeDir, ".tif1rc")}`)
      expect(error.value).toBe("\"soon\"")
    }))

  it.effect("rejects a CDN that is not http(s)", () =>
    Effect.gen(function*() {
      const { result } = yield* resolve({}, { overrides: { cdns: ["ftp://x"] } })
      const error = expectError(result)
      expect(error.key).toBe("cdns")
      expect(error.source).toBe("override")
      expect(error.reason).toContain("ftp://x")
    }))

  it.effect("rejects a .tif1rc that is not JSON", () =>
    Effect.gen(function*() {
      const { homeDir, result } = yield* resolve({}, { home: "timeout = 30" })
      const error = expectError(result)
      expect(error.source).toBe(`file ${Path.join(homeDir, ".tif1rc")}`)
      expect(error.reason).toContain("not valid JSON")
    }))

  it.effect("rejects out-of-range and non-integer values", () =>
    Effect.gen(function*() {
      const zeroTimeout = expectError((yield* resolve({ TIF1_TIMEOUT: "0" })).result)
      expect(zeroTimeout.key).toBe("timeout")
      const fractional = expectError((yield* resolve({}, { overrides: { circuitBreakerThreshold: 2.5 } })).result)
      expect(fractional.key).toBe("circuit_breaker_threshold")
      const badResolver = expectError((yield* resolve({ TIF1_HTTP_RESOLVERS: "standard,dns://x" })).result)
      expect(badResolver.key).toBe("http_resolvers")
    }))

  it.effect("warns about unknown keys but keeps going", () =>
    Effect.gen(function*() {
      const warnings: Array<string> = []
      const capture = Logger.make(({ logLevel, message }) => {
        if (logLevel === "Warn") warnings.push(String(message))
      })
      const { result } = yield* resolve({}, { home: { timeout: 5, not_a_key: 1 } }).pipe(
        Effect.provide(Logger.layer([capture]))
      )
      expect(Result.getOrThrow(result).timeout).toBe(5)
      expect(warnings.join("\n")).toContain("unknown key not_a_key")
    }))

  it.effect("warns about unknown TIF1_* variables as it does about unknown file keys", () =>
    Effect.gen(function*() {
      const warnings: Array<string> = []
      const capture = Logger.make(({ logLevel, message }) => {
        if (logLevel === "Warn") warnings.push(String(message))
      })
      process.env.TIF1_MAX_RETRYS = "2"
      try {
        yield* resolve({}).pipe(Effect.provide(Logger.layer([capture])))
      } finally {
        delete process.env.TIF1_MAX_RETRYS
      }
      expect(warnings).toContain("unknown variable TIF1_MAX_RETRYS in the environment (ignored)")
      expect(warnings.some((warning) => warning.includes("TIF1_CONFIG_FILE"))).toBe(false)
    }))

  it.effect("layerDefaults and Tif1Test.layer check overrides as the live layer does", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Effect.provide(Tif1Config, Tif1Config.layerDefaults({ timeout: -5 })))
      expect(error).toMatchObject({ _tag: "Tif1ConfigError", key: "timeout", source: "override", value: "-5" })
      const fraction = yield* Effect.flip(Effect.provide(Tif1Config, Tif1Config.layerDefaults({ maxRetries: 1.5 })))
      expect(fraction).toMatchObject({ key: "max_retries", reason: "expected an integer" })
      const died = yield* Effect.exit(
        Effect.provide(Tif1Config, Tif1Test.layer(Tif1Test.routes(), { maxRetries: 1.5 }))
      )
      expect(Exit.isFailure(died) && Cause.squash(died.cause)).toMatchObject({
        _tag: "Tif1ConfigError",
        key: "max_retries"
      })
      expect((yield* Effect.provide(Tif1Config, Tif1Config.layerDefaults({ timeout: 5 }))).timeout).toBe(5)
    }))

  it.effect("user_agent: a control character or one above U+00FF is refused, the value shown escaped", () =>
    Effect.gen(function*() {
      const bell = expectError((yield* resolve({ TIF1_USER_AGENT: "tif1\u0007bell" })).result)
      expect(bell).toMatchObject({ key: "user_agent", source: "env TIF1_USER_AGENT", value: "\"tif1\\u0007bell\"" })
      expect(bell.reason).toContain("U+0007")
      const { homeDir, result } = yield* resolve({}, { home: { user_agent: "tif1\r\nX-Injected: 1" } })
      expect(expectError(result)).toMatchObject({
        key: "user_agent",
        source: `file ${Path.join(homeDir, ".tif1rc")}`,
        value: "\"tif1\\r\\nX-Injected: 1\""
      })
      const refused: ReadonlyArray<[string, string, string]> = [
        ["tif1\u007f", "\"tif1\\u007f\"", "U+007F"],
        ["tif1\u0085next", "\"tif1\\u0085next\"", "U+0085"],
        ["tif1 \u2713", "\"tif1 \u2713\"", "U+2713"],
        ["tif1\u202eevil", "\"tif1\\u202eevil\"", "U+202E"]
      ]
      for (const [userAgent, shown, named] of refused) {
        const error = expectError((yield* resolve({}, { overrides: { userAgent } })).result)
        expect(error).toMatchObject({ key: "user_agent", source: "override", value: shown })
        expect(error.reason).toContain(named)
        expect(error.message).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202e]/)
      }
      const latin1 = Result.getOrThrow((yield* resolve({ TIF1_USER_AGENT: "tif1 (café)\tbot" })).result)
      expect(latin1.userAgent).toBe("tif1 (café)\tbot")
    }))

  it.effect("cdn_headers: a value no header can hold is refused, naming the header, never showing the value", () =>
    Effect.gen(function*() {
      const headers = (value: string, cdn = "mirror.example") => JSON.stringify({ [cdn]: { Authorization: value } })
      for (const [value, named] of [["Bearer s3cret\u0001", "U+0001"], ["Bearer s3cret\u2713", "U+2713"]]) {
        const error = expectError((yield* resolve({ TIF1_CDN_HEADERS: headers(value!) })).result)
        expect(error).toMatchObject({
          key: "cdn_headers",
          source: "env TIF1_CDN_HEADERS",
          value: "(not shown: it may hold secrets)"
        })
        expect(error.reason).toContain("Authorization")
        expect(error.reason).toContain(named)
        expect(error.message).not.toContain("s3cret")
      }
      const byUrl = expectError(
        (yield* resolve({ TIF1_CDN_HEADERS: headers("x\u0001", "https://f1fan:hunter2@mirror.example/gh/TI") })).result
      )
      expect(byUrl.reason).toContain("https://f1fan:***@mirror.example/gh/TI")
      expect(byUrl.message).not.toContain("hunter2")
      const fine = Result.getOrThrow((yield* resolve({ TIF1_CDN_HEADERS: headers("Bearer café\tx") })).result)
      expect(fine.cdnHeaders).toEqual({ "mirror.example": { Authorization: "Bearer café\tx" } })
    }))

  it.effect("stats_cdns: jsDelivr then GitHub raw by default; templates with {path} from env and files", () =>
    Effect.gen(function*() {
      const defaults = Result.getOrThrow((yield* resolve({})).result)
      expect(defaults.statsCdns).toEqual([
        "https://cdn.jsdelivr.net/gh/TracingInsights-Archive/Stats@main/{path}",
        "https://raw.githubusercontent.com/TracingInsights-Archive/Stats/main/{path}"
      ])
      expect(defaults.sources.statsCdns).toBe("default")
      const env = yield* resolve({ TIF1_STATS_CDNS: "http://127.0.0.1:1/stats/{path}, https://127.0.0.1:2/a/{path}" })
      expect(Result.getOrThrow(env.result).statsCdns).toEqual([
        "http://127.0.0.1:1/stats/{path}",
        "https://127.0.0.1:2/a/{path}"
      ])
      const file = yield* resolve({}, { home: { stats_cdns: [" http://127.0.0.1:3/{path} "] } })
      expect(Result.getOrThrow(file.result).statsCdns).toEqual(["http://127.0.0.1:3/{path}"])
      expect(Result.getOrThrow(file.result).sources.statsCdns).toBe(`file ${Path.join(file.homeDir, ".tif1rc")}`)
    }))

  it.effect("stats_cdns: only {path} templates, checked as cdns are (scheme, credentials, no password shown)", () =>
    Effect.gen(function*() {
      const refused = (value: string) =>
        Effect.map(resolve({ TIF1_STATS_CDNS: value }), ({ result }) => expectError(result))
      const timingShaped = yield* refused("https://cdn.example/{year}/{gp}/{session}/{path}")
      expect(timingShaped).toMatchObject({ key: "stats_cdns", source: "env TIF1_STATS_CDNS" })
      expect(timingShaped.reason).toContain("{year}")
      expect(timingShaped.reason).toContain("{path} only")
      const base = yield* refused("https://cdn.jsdelivr.net/gh/TracingInsights-Archive/Stats@main")
      expect(base.reason).toContain("is not a template")
      const ftp = yield* refused("ftp://mirror.example/{path}")
      expect(ftp.reason).toContain("http:// or https://")
      const unknown = yield* refused("https://mirror.example/{slug}/{path}")
      expect(unknown.reason).toContain("unknown placeholder {slug}")
      const colonInUser = yield* refused("https://f1%3Afan:hunter2@mirror.example/{path}")
      expect(colonInUser.reason).toContain("user name with a :")
      expect(colonInUser.message).not.toContain("hunter2")
      const withCredentials = Result.getOrThrow(
        (yield* resolve({ TIF1_STATS_CDNS: "https://f1fan:hunter2@mirror.example/stats/{path}" })).result
      )
      expect(withCredentials.statsCdns).toEqual(["https://f1fan:hunter2@mirror.example/stats/{path}"])
    }))

  it("caps sockets per origin by pool_maxsize", () => {
    const base = { poolConnections: undefined, maxConcurrentRequests: 20, telemetryPrefetchMaxConcurrentRequests: 64 }
    expect(socketsPerOrigin({ ...base, poolMaxsize: undefined } as never)).toBe(64)
    expect(socketsPerOrigin({ ...base, poolMaxsize: 32 } as never)).toBe(32)
    expect(socketsPerOrigin({ ...base, poolConnections: 8, poolMaxsize: 32 } as never)).toBe(8)
  })
})
