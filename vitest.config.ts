import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    setupFiles: ["./test/setup.ts"],
    // `tsc -p .` once before the tests (they spawn dist/), failing the run on a type error.
    globalSetup: ["./test/globalSetup.ts"],
    // Effect owns time in tests (TestClock); vitest's fake timers would fight it.
    fakeTimers: { toFake: undefined },
    // A hang guard, not a speed requirement: on a loaded 2-core machine a test that spawns the
    // bin four times can take well over 20 s. Waits inside tests fail sooner, naming what they
    // awaited (test/support/poll.ts).
    testTimeout: 60_000,
    // For test/load.test.ts, which measures the heap after a drain and needs `global.gc`. Its only
    // effect elsewhere is that `gc` exists: no test but that one calls it. (vitest 3 takes
    // execArgv from the root config only; a project's poolOptions are ignored, so it cannot be
    // given to one file's workers alone.) `forks` is vitest 3's default pool, named here so
    // the option applies.
    pool: "forks",
    // Files share their worker's module cache (isolate: false): importing Effect, the platform
    // and undici afresh for each of the 23 files was a quarter of the suite's CPU time. Tests
    // therefore leave no global state behind (listeners are scoped, metrics are per connector
    // name, no test may leave process.env changed).
    poolOptions: { forks: { execArgv: ["--expose-gc"], isolate: false } }
  }
})
