/**
 * The mirror against nginx on the same files, measured with `h2load` (Debian's `nginx` and
 * `nghttp2-client`): requests per second for a small file (20 KB) and a telemetry-sized one
 * (130-240 KB), over HTTP/1.1 and HTTP/2 (TLS), identity bodies (h2load asks for no encoding).
 * Both servers get one process (nginx `worker_processes 1`, the mirror is one Node process), pinned
 * to core 1 with `taskset` where there are two cores; h2load runs on core 0.
 *
 *   npm run bench:nginx                 3 repetitions
 *   npm run bench:nginx -- --smoke      one short repetition
 */
import { execFileSync, spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { freePort } from "../test/support/redis.js"
import { ServerProcess } from "./harness.js"
import { fixturesRoot, hasFlag, isMain, resultsFile, runMain, today, writeJson } from "./program.js"
import { median } from "./summary.js"
import { benchUrl, buildSyntheticSession, smallPath } from "./synthetic.js"

const pinned = Os.cpus().length >= 2 && spawnable("taskset")

function spawnable(program: string) {
  try {
    execFileSync(program, ["--version"], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
}

const onCore = (core: number, program: string, args: ReadonlyArray<string>): [string, Array<string>] =>
  pinned ? ["taskset", ["-c", String(core), program, ...args]] : [program, [...args]]

/** Requests per second that h2load reports for one URL. */
const h2load = (url: string, protocol: "h1" | "h2", requests: number) => {
  const args = protocol === "h1"
    ? ["--h1", "-n", String(requests), "-c", "32", "-m", "1", url]
    : ["-n", String(requests), "-c", "4", "-m", "32", url]
  const [program, argv] = onCore(0, "h2load", args)
  const out = execFileSync(program, argv, { encoding: "utf8", timeout: 120_000 })
  const rate = /finished in [\d.]+m?s, ([\d.]+) req\/s/.exec(out)?.[1]
  const done = /requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded/.exec(out)
  if (rate === undefined || done === null || done[2] !== String(requests)) {
    throw new Error(`h2load did not complete every request:\n${out}`)
  }
  return Number(rate)
}

/** What one run of the comparison measures. */
export interface NginxOptions {
  readonly repetitions: number
  /** h2load requests of the small file per case and server; a quarter as many of the telemetry file. */
  readonly requests: number
  readonly out: string
  readonly log: (line: string) => void
}

/** Run `npm run bench:nginx`. */
export const runNginx = async (options: NginxOptions) => {
  const work = Fs.mkdtempSync(Path.join(Os.tmpdir(), "tif1-nginx-"))
  const synthetic = buildSyntheticSession(fixturesRoot, Path.join(work, "cdn"), { drivers: 2, laps: 2 })
  const mirror = await ServerProcess.start(synthetic.root)
  if (pinned) execFileSync("taskset", ["-a", "-p", "-c", "1", String(mirror.child.pid)], { stdio: "ignore" })
  execFileSync("openssl", [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "1",
    "-subj",
    "/CN=localhost",
    "-keyout",
    Path.join(work, "key.pem"),
    "-out",
    Path.join(work, "cert.pem")
  ], { stdio: "ignore" })
  const [h1Port, h2Port] = [await freePort(), await freePort()]
  Fs.writeFileSync(
    Path.join(work, "nginx.conf"),
    `
worker_processes 1;
user root;
daemon off;
pid ${work}/nginx.pid;
error_log ${work}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  types { application/json json; }
  client_body_temp_path ${work}/body;
  proxy_temp_path ${work}/proxy;
  fastcgi_temp_path ${work}/fastcgi;
  uwsgi_temp_path ${work}/uwsgi;
  scgi_temp_path ${work}/scgi;
  server {
    listen 127.0.0.1:${h1Port};
    listen 127.0.0.1:${h2Port} ssl http2;
    ssl_certificate ${work}/cert.pem;
    ssl_certificate_key ${work}/key.pem;
    http2_max_concurrent_streams 128;
    root ${synthetic.root};
  }
}
`
  )
  const [program, argv] = onCore(1, "nginx", ["-c", Path.join(work, "nginx.conf")])
  const nginx = spawn(program, argv, { stdio: "inherit" })
  await new Promise((resolve) => setTimeout(resolve, 1000))
  const telemetryPath = synthetic.telemetryPaths[0]!
  const cases = [
    { name: "small (20 KB) h1", path: smallPath, protocol: "h1" as const },
    { name: "small (20 KB) h2", path: smallPath, protocol: "h2" as const },
    { name: "telemetry h1", path: telemetryPath, protocol: "h1" as const },
    { name: "telemetry h2", path: telemetryPath, protocol: "h2" as const }
  ]
  const origins = {
    mirror: { h1: mirror.ready.origins["h1-0"], h2: mirror.ready.origins["h2-0"] },
    nginx: { h1: `http://127.0.0.1:${h1Port}`, h2: `https://127.0.0.1:${h2Port}` }
  }
  const rates = new Map<string, Array<number>>()
  try {
    for (const { path, protocol } of cases) {
      // Untimed: JIT, the mirror's file cache, nginx's page cache.
      for (const server of ["mirror", "nginx"] as const) {
        h2load(benchUrl(origins[server][protocol], path), protocol, 200)
      }
    }
    for (let repetition = 0; repetition < options.repetitions; repetition++) {
      for (const { name, path, protocol } of cases) {
        for (const server of ["mirror", "nginx"] as const) {
          const requests = path === smallPath ? options.requests : Math.ceil(options.requests / 4)
          const rate = h2load(benchUrl(origins[server][protocol], path), protocol, requests)
          rates.set(`${server} ${name}`, [...(rates.get(`${server} ${name}`) ?? []), rate])
        }
      }
    }
  } finally {
    nginx.kill("SIGTERM")
    await mirror.stop()
  }
  const results = cases.map(({ name }) => {
    const mirrorRate = median(rates.get(`mirror ${name}`)!)
    const nginxRate = median(rates.get(`nginx ${name}`)!)
    return {
      case: name,
      mirrorRequestsPerSecond: mirrorRate,
      nginxRequestsPerSecond: nginxRate,
      ratio: mirrorRate / nginxRate
    }
  })
  options.log(
    `mirror vs nginx 1.22 (1 worker), h2load, ${pinned ? "servers on core 1, h2load on core 0" : "not pinned"}`
  )
  options.log("case                 mirror req/s   nginx req/s   mirror / nginx")
  for (const result of results) {
    options.log(
      `${result.case.padEnd(20)} ${result.mirrorRequestsPerSecond.toFixed(0).padStart(12)}   ${
        result.nginxRequestsPerSecond.toFixed(0).padStart(11)
      }   ${result.ratio.toFixed(2).padStart(14)}`
    )
  }
  writeJson(options.out, { options: { ...options, log: undefined }, pinned, results })
  Fs.rmSync(work, { recursive: true, force: true })
  return results
}

/** The options `npm run bench:nginx -- <argv>` runs with: `--smoke` (one short repetition). */
export const nginxOptionsFrom = (argv: ReadonlyArray<string>): NginxOptions => {
  const smoke = hasFlag(argv, "--smoke")
  return {
    repetitions: smoke ? 1 : 3,
    requests: smoke ? 400 : 20_000,
    out: resultsFile(`nginx-${today()}${smoke ? "-smoke" : ""}.json`),
    log: (line) => console.log(line)
  }
}

if (isMain(import.meta.url)) runMain(() => runNginx(nginxOptionsFrom(process.argv.slice(2))))
