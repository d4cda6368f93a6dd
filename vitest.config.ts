import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    setupFiles: ["./test/setup.ts"],
    // Effect owns time in tests (TestClock); vitest's fake timers would fight it.
    fakeTimers: { toFake: undefined },
    testTimeout: 20_000
  }
})
