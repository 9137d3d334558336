/**
 * The package as users get it: `npm pack`, then, in a new project that holds nothing from the
 * checkout but the tarball, `npm install effect@^4` and then the tarball, with no flags and with no
 * C/C++ toolchain on the PATH (no cc, g++, make or python: nothing may compile). From there: an ESM
 * import that fetches from a local mirror and answers again from its SQLite cache offline, a
 * `require` from a `.cjs` file, `tif1 --help`, `tif1 demo`, and every quick start of the README run
 * as written (the Effect and Promise ones with Node's type stripping, the `Tif1Test` one with the
 * `@effect/vitest` and `vitest` versions it names). Runs on whichever Node runs the suite; `.ci/run`
 * runs the suite on each supported Node line.
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
const toolbin = Path.join(work, "bin")
const scope = Effect.runSync(Scope.make())
let origin = ""
let tarball = ""

/** The programs a toolchain-free machine has: this Node, npm, and a shell; no compiler, make or python. */
const compilers = ["cc", "gcc", "g++", "c++", "clang", "make", "python", "python3"]
const whichOnPath = (name: string, path: string): string | undefined =>
  path.split(Path.delimiter).map((dir) => Path.join(dir, name)).find((file) => Fs.existsSync(file))

/**
 * What a user's shell has: their npm cache (warm, as on a developer's machine), none of our TIF1_*
 * variables, a home of their own, and a PATH with Node and npm but no C/C++ toolchain.
 */
const userEnv = (): NodeJS.ProcessEnv => {
  const env = cliEnv(home)
  for (const key of Object.keys(env)) {
    if (key.toLowerCase().startsWith("npm_")) delete env[key]
  }
  return {
    ...env,
    PATH: toolbin,
    npm_config_cache: process.env.npm_config_cache ?? Path.join(Os.homedir(), ".npm"),
    npm_config_update_notifier: "false"
  }
}

const bin = (name: string) => Path.join(project, "node_modules", ".bin", name)

const fixtureDrivers = (JSON.parse(
  Fs.readFileSync(Path.join(fixturesRoot, "2025/Australian Grand Prix/Race/drivers.json"), "utf8")
) as { drivers: Array<{ driver: string }> }).drivers.map((driver) => driver.driver)

/** A code block of the README, found by the file name its first line gives (`// bestLap.test.ts`). */
const readmeBlock = (fileName: string): string => {
  const readme = Fs.readFileSync(Path.join(repoRoot, "README.md"), "utf8")
  const block = new RegExp("```ts\\n(// " + fileName.replace(/\./g, "\\.") + "[\\s\\S]*?)```").exec(readme)
  if (block === null) throw new Error(`README.md has no \`// ${fileName}\` code block`)
  return block[1]!
}

/** `npm ls --all --parseable` minus the project itself: the installed packages. */
const installedPackages = async (): Promise<Array<string>> => {
  const listed = await run(npm, ["ls", "--all", "--parseable"], { cwd: project, env: userEnv() })
  return listed.stdout.trim().split("\n").slice(1).map((line) => Path.relative(project, line))
}

/** Size in bytes of a folder tree (files only). */
const treeBytes = (dir: string): number =>
  Fs.readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .reduce((total, entry) => total + Fs.statSync(Path.join(entry.parentPath, entry.name)).size, 0)

/** Every file under `dir` whose name ends in `suffix` (compiled addons end in `.node`). */
const filesEndingIn = (dir: string, suffix: string): Array<string> =>
  Fs.readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(suffix))
    .map((entry) => Path.join(entry.parentPath, entry.name))

interface InstallFigures {
  readonly packagesBeyondEffect: Array<string>
  readonly bytesBeyondEffect: number
  readonly seconds: number
  /** Compiled addons (`.node` files) in node_modules once tif1-effect is in (before any test library). */
  readonly addons: Array<string>
}
let figures: InstallFigures

beforeAll(async () => {
  Fs.mkdirSync(project, { recursive: true })
  Fs.mkdirSync(home, { recursive: true })
  Fs.mkdirSync(toolbin, { recursive: true })
  Fs.symlinkSync(process.execPath, Path.join(toolbin, "node"))
  const npmCli = Fs.realpathSync(whichOnPath(npm, process.env.PATH ?? "")!)
  Fs.symlinkSync(npmCli, Path.join(toolbin, "npm"))
  Fs.symlinkSync(Path.join(Path.dirname(npmCli), "npx-cli.js"), Path.join(toolbin, "npx"))
  Fs.symlinkSync("/bin/sh", Path.join(toolbin, "sh"))
  // The demo's mirror makes its self-signed certificate with openssl, as a user's machine has it.
  const openssl = whichOnPath("openssl", process.env.PATH ?? "")
  if (openssl !== undefined) Fs.symlinkSync(openssl, Path.join(toolbin, "openssl"))

  const packed = await run(npm, ["pack", "--json", "--pack-destination", work], { cwd: repoRoot, timeoutMs: 240_000 })
  if (packed.code !== 0) throw new Error(`npm pack failed:\n${packed.stderr}`)
  const report = JSON.parse(packed.stdout.slice(packed.stdout.indexOf("["))) as Array<
    { filename: string; size: number }
  >
  tarball = Path.join(work, report[0]!.filename)
  Fs.writeFileSync(Path.join(project, "package.json"), JSON.stringify({ name: "user-app", private: true }))
  // An Effect project as started today, then tif1-effect added to it: what the second install adds
  // is what tif1-effect costs its users.
  const withEffect = await run(npm, ["install", "--no-audit", "--no-fund", "effect@^4"], {
    cwd: project,
    env: userEnv(),
    timeoutMs: 600_000
  })
  if (withEffect.code !== 0) throw new Error(`npm install effect@^4 failed:\n${withEffect.stderr}`)
  const before = new Set(await installedPackages())
  const bytesBefore = treeBytes(Path.join(project, "node_modules"))
  const started = Date.now()
  const installed = await run(npm, ["install", "--no-audit", "--no-fund", tarball], {
    cwd: project,
    env: userEnv(),
    timeoutMs: 600_000
  })
  if (installed.code !== 0) throw new Error(`npm install of the tarball failed:\n${installed.stderr}`)
  figures = {
    seconds: (Date.now() - started) / 1000,
    packagesBeyondEffect: (await installedPackages()).filter((pkg) => !before.has(pkg)),
    bytesBeyondEffect: treeBytes(Path.join(project, "node_modules")) - bytesBefore,
    addons: filesEndingIn(Path.join(project, "node_modules"), ".node")
  }
  const importTime = await run(process.execPath, [
    "--input-type=module",
    "-e",
    "const t = performance.now(); await import('tif1-effect'); console.log((performance.now() - t).toFixed(0))"
  ], { cwd: project, env: userEnv() })
  // Figures for the closing notes; the targets on time are measured, never asserted.
  console.log(
    `package on Node ${process.versions.node}: tarball ${report[0]!.size} bytes; install ${
      figures.seconds.toFixed(1)
    } s; ` +
      `beyond effect: ${figures.packagesBeyondEffect.length} packages ` +
      `(${figures.packagesBeyondEffect.map((pkg) => pkg.replace(/^node_modules\//, "")).join(", ")}), ` +
      `${(figures.bytesBeyondEffect / 1e6).toFixed(1)} MB; import ${importTime.stdout.trim()} ms`
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
    Scope.provide(MirrorServer.make({ root: fixturesRoot, protocol: "h1" }), scope)
  )
  origin = mirror.origin
  // Installing the test libraries the README names comes after the figures above.
  const testLibraries = await run(npm, ["install", "--no-audit", "--no-fund", "-D", "@effect/vitest@^4", "vitest@^5"], {
    cwd: project,
    env: userEnv(),
    timeoutMs: 600_000
  })
  if (testLibraries.code !== 0) throw new Error(`npm install of the test libraries failed:\n${testLibraries.stderr}`)
}, 900_000)

afterAll(async () => {
  await Effect.runPromise(Scope.close(scope, Exit.void))
  Fs.rmSync(work, { recursive: true, force: true })
})

describe("the packed tarball, installed into a new project", () => {
  it("installs beside effect@^4 without a toolchain, compiling nothing, within 10 packages and 12 MB", () => {
    for (const program of compilers) expect(whichOnPath(program, toolbin), program).toBeUndefined()
    expect(figures.addons).toEqual([])
    expect(figures.packagesBeyondEffect).toContain("node_modules/tif1-effect")
    expect(figures.packagesBeyondEffect.length).toBeLessThanOrEqual(10)
    expect(figures.bytesBeyondEffect).toBeLessThanOrEqual(12 * 1024 * 1024)
    // Only one copy of effect: tif1-effect takes the application's.
    expect(Fs.existsSync(Path.join(project, "node_modules/tif1-effect/node_modules/effect"))).toBe(false)
  })

  it("ships what it links and nothing of the checkout it does not need", async () => {
    const listed = await run("tar", ["tzf", tarball], { cwd: work })
    const files = listed.stdout.split("\n").filter((line) => line !== "")
    for (const file of ["LICENSE", "README.md", "CHANGELOG.md", "dist/index.js", "dist/index.d.ts", "bin/tif1.js"]) {
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

  it("import()s as ESM, fetches from a local mirror, and answers again offline from its SQLite cache, silently", async () => {
    const cacheDir = Path.join(work, "cache-esm")
    const cold = await run(process.execPath, ["fetch.mjs", MirrorServer.templateFor(origin), cacheDir], {
      cwd: project,
      env: userEnv()
    })
    expect(cold.stderr).toBe("")
    expect(cold.code).toBe(0)
    expect(cold.stdout.trim()).toBe(fixtureDrivers.join(" "))
    // A new process with no CDN it could reach: only the SQLite file can answer.
    const offline = await run(process.execPath, [
      "fetch.mjs",
      "http://127.0.0.1:9/{year}/{gp}/{session}/{path}",
      cacheDir
    ], {
      cwd: project,
      env: { ...userEnv(), TIF1_OFFLINE_MODE: "true" }
    })
    expect(offline.stderr).toBe("")
    expect([offline.code, offline.stdout.trim()]).toEqual([0, fixtureDrivers.join(" ")])
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
    expect(result.code, result.stderr).toBe(0)
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

  it("runs the README's Effect quick start as written, against the mirror named in TIF1_CDNS", async () => {
    Fs.writeFileSync(Path.join(project, "quickstart.mts"), readmeBlock("quickstart.mts"))
    const result = await run(process.execPath, ["quickstart.mts"], {
      cwd: project,
      env: { ...userEnv(), TIF1_CDNS: MirrorServer.templateFor(origin) },
      timeoutMs: 180_000
    })
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout).toContain(`drivers: ${fixtureDrivers.join(" ")}`)
    expect(result.stdout).toMatch(/laps of VER: \d+/)
  })

  it("runs the README's Promise quick start as written, and it reports a failure with a non-zero exit", async () => {
    Fs.writeFileSync(Path.join(project, "promise-quickstart.mts"), readmeBlock("promise-quickstart.mts"))
    const served = await run(process.execPath, ["promise-quickstart.mts"], {
      cwd: project,
      env: { ...userEnv(), TIF1_CDNS: MirrorServer.templateFor(origin) },
      timeoutMs: 180_000
    })
    expect(served.code, served.stderr).toBe(0)
    expect(served.stdout).toContain(`drivers: ${fixtureDrivers.join(" ")}`)
    const unreachable = await run(process.execPath, ["promise-quickstart.mts"], {
      cwd: project,
      env: {
        ...userEnv(),
        TIF1_CDNS: "http://127.0.0.1:9/{year}/{gp}/{session}/{path}",
        TIF1_MAX_RETRIES: "0",
        TIF1_CACHE_DIR: Path.join(work, "cache-unreachable") // nothing cached: only the CDN could answer
      },
      timeoutMs: 180_000
    })
    expect(unreachable.code).not.toBe(0)
    expect(unreachable.stdout).toBe("")
    expect(unreachable.stderr).toMatch(/network error \(connect\)/)
  })

  it("runs the README's Tif1Test snippet as written, with the test libraries it names", async () => {
    Fs.writeFileSync(Path.join(project, "bestLap.test.ts"), readmeBlock("bestLap.test.ts"))
    const result = await run(bin("vitest"), ["run", "bestLap.test.ts"], { cwd: project, env: userEnv() })
    expect(result.stdout + result.stderr).toContain("1 passed")
    expect(result.code).toBe(0)
  })
})
