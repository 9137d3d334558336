import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

export default defineConfig({
  // The examples import "tif1-effect" as users do; here that name is the source, not a build.
  resolve: { alias: { "tif1-effect": fileURLToPath(new URL("./src/index.ts", import.meta.url)) } },
  test: {
    include: ["test/**/*.test.ts", "examples/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    coverage: { provider: "v8", include: ["src/**"] }
  }
})
