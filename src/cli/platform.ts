/**
 * What `effect/cli` asks of the platform (`Command.Environment`), for Node, without
 * `@effect/platform-node` (not a dependency of this package, which must not need it). The `tif1` command uses
 * little of it: `Path` and two `FileSystem` calls (a directory argument must exist and be a
 * directory); it prompts for nothing and spawns nothing, so the terminal input and child
 * processes are refused with a defect rather than implemented.
 *
 * @since 0.2.0
 */
import * as ByteSize from "effect/ByteSize"
import * as Effect from "effect/Effect"
import * as FileSystem from "effect/FileSystem"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Path from "effect/Path"
import * as PlatformError from "effect/PlatformError"
import * as ChildProcessSpawner from "effect/process/ChildProcessSpawner"
import * as Sink from "effect/Sink"
import * as Stdio from "effect/Stdio"
import * as Stream from "effect/Stream"
import * as Terminal from "effect/Terminal"
import * as Fs from "node:fs"
import * as NodePath from "node:path"
import * as Url from "node:url"

const unsupported = (what: string) => Effect.die(new Error(`tif1: ${what} is not supported by this command line`))

/** `Path` from `node:path` (win32 rules on Windows). */
const path = Path.make({
  ...NodePath,
  fromFileUrl: (url) =>
    Effect.try({
      try: () => Url.fileURLToPath(url),
      catch: (cause) => new PlatformError.BadArgument({ module: "Path", method: "fromFileUrl", cause })
    }),
  toFileUrl: (file) =>
    Effect.try({
      try: () => Url.pathToFileURL(file),
      catch: (cause) => new PlatformError.BadArgument({ module: "Path", method: "toFileUrl", cause })
    })
})

const systemError = (method: string, file: string, cause: unknown) =>
  PlatformError.systemError({
    _tag: (cause as NodeJS.ErrnoException).code === "ENOENT" ? "NotFound" : "Unknown",
    module: "FileSystem",
    method,
    pathOrDescriptor: file,
    description: cause instanceof Error ? cause.message : String(cause),
    cause
  })

const fileType = (stats: Fs.BigIntStats): FileSystem.File.Type =>
  stats.isFile()
    ? "File"
    : stats.isDirectory()
    ? "Directory"
    : stats.isSymbolicLink()
    ? "SymbolicLink"
    : stats.isBlockDevice()
    ? "BlockDevice"
    : stats.isCharacterDevice()
    ? "CharacterDevice"
    : stats.isFIFO()
    ? "FIFO"
    : stats.isSocket()
    ? "Socket"
    : "Unknown"

/** The two calls `effect/cli` makes (`exists`, `stat`) from `node:fs`; the rest refuse. */
const fileSystem = FileSystem.makeNoop({
  exists: (file) =>
    Effect.tryPromise({
      try: () => Fs.promises.access(file).then(() => true, () => false),
      catch: (cause) => systemError("exists", file, cause)
    }),
  stat: (file) =>
    Effect.tryPromise({
      try: () => Fs.promises.stat(file, { bigint: true }),
      catch: (cause) => systemError("stat", file, cause)
    }).pipe(Effect.map((stats): FileSystem.File.Info => ({
      type: fileType(stats),
      mtime: Option.some(stats.mtime),
      atime: Option.some(stats.atime),
      birthtime: Option.some(stats.birthtime),
      dev: stats.dev,
      ino: Option.some(stats.ino),
      mode: Number(stats.mode),
      nlink: Option.some(stats.nlink),
      uid: Option.some(Number(stats.uid)),
      gid: Option.some(Number(stats.gid)),
      rdev: Option.some(stats.rdev),
      size: ByteSize.bytes(stats.size),
      blksize: Option.some(ByteSize.bytes(stats.blksize)),
      blocks: Option.some(stats.blocks)
    })))
})

const writeTo = (stream: NodeJS.WriteStream) =>
  Sink.forEach((chunk: string | Uint8Array) => Effect.sync(() => void stream.write(chunk)))

const stdio = Stdio.make({
  args: Effect.sync(() => process.argv.slice(2)),
  stdinIsTerminal: Effect.sync(() => process.stdin.isTTY === true),
  stdoutIsTerminal: Effect.sync(() => process.stdout.isTTY === true),
  stderrIsTerminal: Effect.sync(() => process.stderr.isTTY === true),
  stdout: () => writeTo(process.stdout),
  stderr: () => writeTo(process.stderr),
  stdin: Stream.die(new Error("tif1: reading standard input is not supported by this command line"))
})

const terminal = Terminal.make({
  columns: Effect.sync(() => process.stdout.columns ?? 80),
  rows: Effect.sync(() => process.stdout.rows ?? 24),
  size: unsupported("watching the terminal size"),
  readInput: unsupported("interactive input"),
  readLine: unsupported("interactive input"),
  display: (text) => Effect.sync(() => void process.stdout.write(text))
})

/**
 * `Command.Environment` for the `tif1` command on Node.
 *
 * @since 0.2.0
 */
export const layer = Layer.mergeAll(
  Layer.succeed(Path.Path, path),
  Layer.succeed(FileSystem.FileSystem, fileSystem),
  Layer.succeed(Stdio.Stdio, stdio),
  Layer.succeed(Terminal.Terminal, terminal),
  Layer.succeed(ChildProcessSpawner.ChildProcessSpawner, ChildProcessSpawner.make(() => unsupported("spawning")))
)
