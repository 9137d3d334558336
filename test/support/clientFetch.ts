/**
 * A user's script for cache tests that run in another process (another user, another disk):
 * make a client with the cache in argv[2] and the CDN argv[3], fetch drivers.json, print the
 * number of drivers and whether the persistent tier is on.
 * Usage: node --import tsx test/support/clientFetch.ts <cacheDir> <cdn template>
 */
import { Tif1Client } from "../../src/client.js"

const [cacheDir, cdn] = process.argv.slice(2)
const client = await Tif1Client.make({ cacheDir: cacheDir!, cdns: [cdn!], maxRetries: 0, enableCache: true })
try {
  const drivers = await client.fetchJson(2025, "Australian Grand Prix", "Race", "drivers.json")
  const stats = await client.cacheStats()
  process.stdout.write(`${(drivers.drivers as Array<unknown>).length} drivers, sqlite ${stats.sqlite.enabled}\n`)
} finally {
  await client.close()
}
