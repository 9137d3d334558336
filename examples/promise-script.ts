/**
 * A plain async script with the Promise client. A failure (no CDN reachable, a bad setting) is
 * printed on stderr and the script exits with code 1.
 *
 *   npx tsx examples/promise-script.ts [year] [gp] [session]
 */
import { DataNotFoundError, Tif1Client } from "tif1-effect"

const [year = "2025", gp = "Australian Grand Prix", session = "Race"] = process.argv.slice(2)

const main = async () => {
  const client = await Tif1Client.make({ timeout: 10 }) // overrides win over TIF1_* and .tif1rc
  try {
    const drivers = await client.fetchJson(Number(year), gp, session, "drivers.json")
    const codes = (drivers.drivers as Array<{ driver: string }>).map((driver) => driver.driver)
    console.log(`${codes.length} drivers: ${codes.join(" ")}`)

    // Many files at once: results in input order, null where a file is missing or failed.
    const firstLaps = await client.fetchMany(
      codes.map((code) => ({ year: Number(year), gp, session, path: `${code}/1_tel.json` }))
    )
    const withTelemetry = codes.filter((_, index) => firstLaps[index] !== null)
    console.log(`lap 1 telemetry for: ${withTelemetry.join(" ") || "nobody"}`)

    try {
      await client.fetchJson(Number(year), gp, session, "weather.json")
      console.log("weather.json: found")
    } catch (error) {
      if (!(error instanceof DataNotFoundError)) throw error
      console.log("weather.json: not published for this session")
    }
    const stats = await client.connectionStats()
    console.log(`${stats.totalRequests} requests over ${stats.connectionsCreated} connection(s)`)
  } finally {
    // Close the sockets and the cache database, whatever happened.
    await client.close()
  }
}

main().catch((error: unknown) => {
  console.error(`failed: ${error instanceof Error ? error.message : String(error)}`)
  process.exitCode = 1
})
