import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
import * as RowCodec from "../src/services/cache/RowCodec.js"
import { parseJsonBytes } from "../src/services/internal/json.js"
const main = async () => {
  const dir = "../shared/fixtures/cdn/2025/Australian Grand Prix/Race/VER"
  const files = Fs.readdirSync(dir).filter((f) => f.endsWith("_tel.json"))
  const values = files.map((f) => parseJsonBytes(Fs.readFileSync(`${dir}/${f}`)).value as Record<string, unknown>)
  const time = (f: () => void, n = 20) => {
    for (let i = 0; i < 3; i++) f()
    const t = performance.now()
    for (let i = 0; i < n; i++) f()
    return (performance.now() - t) / n
  }
  let jsonBytes = 0, rowBytes = 0, jsonEnc = 0, jsonDec = 0, rowEnc = 0, rowDec = 0
  for (const [i, value] of values.entries()) {
    const text = JSON.stringify(value)
    jsonBytes += Buffer.byteLength(text)
    jsonEnc += time(() => JSON.stringify(value))
    jsonDec += time(() => JSON.parse(text))
    const row = await Effect.runPromise(RowCodec.encodeRow(`k${i}`, value))
    const framed = RowCodec.frameRow(row, 0, {})
    rowBytes += framed.byteLength
    const t = performance.now()
    for (let j = 0; j < 20; j++) await Effect.runPromise(RowCodec.encodeRow(`k${i}`, value))
    rowEnc += (performance.now() - t) / 20
    rowDec += time(() => {
      const u = RowCodec.unframeRow(framed)
      if (u._tag === "Right") RowCodec.decodeRow(`k${i}`, u.right.row)
    })
  }
  const n = values.length
  console.log(
    JSON.stringify({
      files: n,
      jsonKBperFile: jsonBytes / n / 1024,
      rowKBperFile: rowBytes / n / 1024,
      jsonEncodeMs: jsonEnc / n,
      jsonDecodeMs: jsonDec / n,
      rowEncodeMs: rowEnc / n,
      rowDecodeMs: rowDec / n
    })
  )
}
main()
