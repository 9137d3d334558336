/**
 * A self-signed certificate for `localhost` and `127.0.0.1`, made with the system `openssl`
 * (present on every machine this project supports; Node has no certificate-generation API).
 *
 * @since 0.1.0
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

/**
 * A PEM key and certificate pair; trust `cert` as a CA on the client side.
 *
 * @since 0.1.0
 */
export interface SelfSignedCertificate {
  readonly key: string
  readonly cert: string
}

/**
 * Generate a fresh self-signed certificate (EC P-256, valid 30 days, SAN localhost + 127.0.0.1).
 * Throws with openssl's message if it is missing or fails.
 *
 * @since 0.1.0
 */
export const generateSelfSignedCertificate = (): SelfSignedCertificate => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "tif1-cert-"))
  try {
    const keyPath = Path.join(dir, "key.pem")
    const certPath = Path.join(dir, "cert.pem")
    ChildProcess.execFileSync("openssl", [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      keyPath,
      "-out",
      certPath,
      "-days",
      "30",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=DNS:localhost,IP:127.0.0.1"
    ], { stdio: ["ignore", "ignore", "pipe"] })
    return { key: Fs.readFileSync(keyPath, "utf8"), cert: Fs.readFileSync(certPath, "utf8") }
  } finally {
    Fs.rmSync(dir, { recursive: true, force: true })
  }
}
