/**
 * The package as users get it: `npm pack`, then `npm install ./tif1-effect-<version>.tgz` into a new
 * project that holds nothing from the checkout but the tarball, then, from there: an ESM import
 * that fetches from a local mirror, a `require` from a `.cjs` file, `tif1 --help`, `tif1 demo`, and
 * the README's `Tif1Test` snippet run with the `@effect/vitest` and `vitest` versions it names.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { execFile } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as MirrorServer from "../src/mirror/MirrorServer.js"
import { cliEnv, repoRoot } from "./support/cli.js"
import { fixturesRoot } from "./support/stack.js"

interface Run {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** Run a program to the end (bounded by `timeoutMs`), never throwing for a non-zero exit. */
const run = (
  file: string,
  args: ReadonlyArray<string>,
  options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }
) =>
  new Promise<Run>((resolve) => {
    execFile(file, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      timeout: options.timeoutMs ?? 120_000,
      maxBuffer: 64 * 1024 * 1024
    }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1
      resolve({ code, stdout, stderr })
    })
  })

const npm = process.platform === "win32" ? "npm.cmd" : "npm"
const work = Fs.mkdtempSync(Path.join(Os.tmpdir(), "tif1-package-"))
const project = Path.join(work, "app")
const home = Path.join(work, "home")
const scope = Effect.runSync(Scope.make())
let origin = ""
let tarball = ""

/** What a user's shell has: their PATH and npm settings, none of our TIF1_* variables, a home of their own. */
const userEnv = (): NodeJS.ProcessEnv => cliEnv(home)

const bin = (name: string) => Path.join(project, "node_modules", ".bin", name)

const fixtureDrivers = (JSON.parse(
  Fs.readFileSync(Path.join(fixturesRoot, "2025/Australian Grand Prix/Race/drivers.json"), "utf8")
) as { drivers: Array<{ driver: string }> }).drivers.map((driver) => driver.driver)

/** The README's `Tif1Test` code block, as written. */
const readmeTestSnippet = (): string => {
  const readme = Fs.readFileSync(Path.join(repoRoot, "README.md"), "utf8")
  const block = /```ts\n(\/\/ bestLap\.test\.ts[\s\S]*?)```/.exec(readme)
  if (block === null) throw new Error("README.md has no `// bestLap.test.ts` code block")
  return block[1]!
}

beforeAll(async () => {
  Fs.mkdirSync(project, { recursive: true })
  Fs.mkdirSync(home, { recursive: true })
  const packed = await run(npm, ["pack", "--json", "--pack-destination", work], { cwd: repoRoot, timeoutMs: 240_000 })
  if (packed.code !== 0) throw new Error(`npm pack failed:\n${packed.stderr}`)
  const report = JSON.parse(packed.stdout.slice(packed.stdout.indexOf("["))) as Array<
    { filename: string; size: number }
  >
  tarball = Path.join(work, report[0]!.filename)
  Fs.writeFileSync(Path.join(project, "package.json"), JSON.stringify({ name: "user-app", private: true }))
  const started = Date.now()
  const installed = await run(npm, [
    "install",
    "--no-audit",
    "--no-fund",
    tarball,
    "@effect/vitest@^0.30",
    "vitest@^3.2"
  ], { cwd: project, env: userEnv(), timeoutMs: 600_000 })
  if (installed.code !== 0) throw new Error(`npm install of the tarball failed:\n${installed.stderr}`)
  const installSeconds = (Date.now() - started) / 1000
  const packages = await run(npm, ["ls", "--all", "--parseable"], { cwd: project, env: userEnv() })
  const size = await run("du", ["-sm", Path.join(project, "node_modules")], { cwd: project })
  const importTime = await run(process.execPath, [
    "--input-type=module",
    "-e",
    "const t = performance.now(); await import('tif1-effect'); console.log((performance.now() - t).toFixed(0))"
  ], { cwd: project, env: userEnv() })
  // Figures for the closing notes (with the test libraries the README names installed beside it).
  console.log(
    `package: tarball ${report[0]!.size} bytes; install ${installSeconds.toFixed(1)} s; ` +
      `${packages.stdout.trim().split("\n").length - 1} packages; node_modules ${size.stdout.split("\t")[0]} MB; ` +
      `import ${importTime.stdout.trim()} ms`
  )
  // A user's script: fetch one file from the CDN named on the command line.
  Fs.writeFileSync(
    Path.join(project, "fetch.mjs"),
    `import { Tif1Client } from "tif1-effect"
const client = await Tif1Client.make({ cdns: [process.argv[2]], maxRetries: 0, cacheDir: process.argv[3] })
try {
  const drivers = await client.fetchJson(2025, "Australian Grand Prix", "Race", "drivers.json")
  console.log(drivers.drivers.map((driver) => driver.driver).join(" "))
} finally {
  await client.close()
}
`
  )
  const mirror = await Effect.runPromise(
    Scope.extend(MirrorServer.make({ root: fixturesRoot, protocol: "h1" }), scope)
  )
  origin = mirror.origin
}, 900_000)

afterAll(async () => {
  await Effect.runPromise(Scope.close(scope, Exit.void))
  Fs.rmSync(work, { recursive: true, force: true })
})

describe("the packed tarball, installed into a new project", () => {
  it("ships what it links and nothing of the checkout it does not need", async () => {
    const listed = await run("tar", ["tzf", tarball], { cwd: work })
    const files = listed.stdout.split("\n").filter((line) => line !== "")
    for (const file of ["LICENSE", "README.md", "dist/index.js", "dist/index.d.ts", "bin/tif1.js"]) {
      expect(files).toContain(`package/${file}`)
    }
    // Every source map points at sources that are in the package.
    const maps = files.filter((file) => file.endsWith(".js.map"))
    expect(maps.length).toBeGreaterThan(0)
    const installedRoot = Path.join(project, "node_modules", "tif1-effect")
    for (const map of maps) {
      const relative = map.slice("package/".length)
      const sources =
        (JSON.parse(Fs.readFileSync(Path.join(installedRoot, relative), "utf8")) as { sources: Array<string> })
          .sources
      for (const source of sources) {
        expect(Fs.existsSync(Path.resolve(Path.dirname(Path.join(installedRoot, relative)), source))).toBe(true)
      }
    }
    // Every example the README links is in the package.
    const readme = Fs.readFileSync(Path.join(installedRoot, "README.md"), "utf8")
    for (const [, link] of readme.matchAll(/\]\((examples\/[^)#]+)\)/g)) {
      expect(Fs.existsSync(Path.join(installedRoot, link!)), link).toBe(true)
    }
    expect(files.some((file) => file.startsWith("package/test/") || file.startsWith("package/bench/"))).toBe(false)
  })

  it("import()s as ESM and fetches a file from a local mirror", async () => {
    const result = await run(process.execPath, [
      "fetch.mjs",
      MirrorServer.templateFor(origin),
      Path.join(work, "cache-esm")
    ], { cwd: project, env: userEnv() })
    expect(result.stderr).toBe("")
    expect(result.code).toBe(0)
    expect(result.stdout.trim()).toBe(fixtureDrivers.join(" "))
  })

  it("writes its log lines to stderr, never stdout, at log_level", async () => {
    Fs.writeFileSync(
      Path.join(project, "logs.mjs"),
      `import { Tif1Client } from "tif1-effect"
const client = await Tif1Client.make({ cacheDir: process.argv[2], madeUpSetting: 1 })
await client.close()
console.log("done")
`
    )
    const cacheDir = Path.join(work, "cache-logs")
    const warned = await run(process.execPath, ["logs.mjs", cacheDir], { cwd: project, env: userEnv() })
    expect(warned.code).toBe(0)
    expect(warned.stdout).toBe("done\n")
    expect(warned.stderr).toBe("warn: unknown config override madeUpSetting (ignored)\n")
    const quiet = await run(process.execPath, ["logs.mjs", cacheDir], {
      cwd: project,
      env: { ...userEnv(), TIF1_LOG_LEVEL: "error" }
    })
    expect([quiet.code, quiet.stdout, quiet.stderr]).toEqual([0, "done\n", ""])
  })

  it("without its native SQLite module, says so and how to rebuild it, and still fetches", async () => {
    const binding = Path.join(project, "node_modules/better-sqlite3/build/Release/better_sqlite3.node")
    Fs.renameSync(binding, `${binding}.away`)
    try {
      const result = await run(process.execPath, [
        "fetch.mjs",
        MirrorServer.templateFor(origin),
        Path.join(work, "cache-no-binding")
      ], { cwd: project, env: userEnv() })
      expect(result.code, result.stderr).toBe(0)
      expect(result.stdout.trim()).toBe(fixtureDrivers.join(" "))
      expect(result.stderr).toMatch(/^error: cache: the SQLite module better-sqlite3 does not load \(.*\); rebuild it/)
      expect(result.stderr).toContain("`npm rebuild better-sqlite3`")
      expect(result.stderr).not.toContain("cache_dir")
    } finally {
      Fs.renameSync(`${binding}.away`, binding)
    }
  })

  it("with redis_url but without the optional ioredis, says how to install it and still fetches", async () => {
    expect(Fs.existsSync(Path.join(project, "node_modules/ioredis"))).toBe(false)
    const result = await run(process.execPath, [
      "fetch.mjs",
      MirrorServer.templateFor(origin),
      Path.join(work, "cache-no-ioredis")
    ], { cwd: project, env: { ...userEnv(), TIF1_REDIS_URL: "redis://127.0.0.1:1/0" } })
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout.trim()).toBe(fixtureDrivers.join(" "))
    expect(result.stderr).toMatch(/^error: cache: redis_url is set but the optional dependency ioredis does not load/)
    expect(result.stderr).toContain("`npm install ioredis@5`")
    expect(result.stderr.trim().split("\n")).toHaveLength(1)
  })

  it("require()s from a .cjs file", async () => {
    Fs.writeFileSync(
      Path.join(project, "require.cjs"),
      `const tif1 = require("tif1-effect")
console.log([typeof tif1.Tif1Client.make, typeof tif1.Tif1.layer, typeof tif1.NetworkError].join(" "))
`
    )
    const result = await run(process.execPath, ["require.cjs"], { cwd: project, env: userEnv() })
    expect(result.code).toBe(0)
    expect(result.stdout.trim()).toBe("function object function")
  })

  it("runs tif1 --help with no escape codes when piped", async () => {
    const result = await run(bin("tif1"), ["--help"], { cwd: project, env: userEnv() })
    expect(result.code).toBe(0)
    for (const command of ["fetch", "load", "mirror", "stats", "config", "demo"]) {
      expect(result.stdout).toContain(command)
    }
    expect(result.stdout).not.toContain("\x1b[")
  })

  it("runs tif1 demo: the bundled sample, cold then warm", async () => {
    const result = await run(bin("tif1"), ["demo"], { cwd: project, env: userEnv(), timeoutMs: 180_000 })
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout).toMatch(/cold/i)
    expect(result.stdout).toMatch(/warm/i)
  })

  it("runs the README's Tif1Test snippet as written, with the test libraries it names", async () => {
    Fs.writeFileSync(Path.join(project, "bestLap.test.ts"), readmeTestSnippet())
    const result = await run(bin("vitest"), ["run", "bestLap.test.ts"], { cwd: project, env: userEnv() })
    expect(result.stdout + result.stderr).toContain("1 passed")
    expect(result.code).toBe(0)
  })
})
