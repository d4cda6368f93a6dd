/**
 * Stepping the TestClock against real I/O: wait (in real time) until the fiber under test sleeps
 * until exactly the expected instant, then move the clock there. Asserting the exact instant
 * checks the delay itself, not just that there was one.
 *
 * TestClock keeps sleeps that were interrupted (a timeout that lost its race) in its list: give
 * the waits a test steps through durations no finished sleep shares.
 */
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import { eventually } from "./poll.js"

/** Waits until something sleeps until `now + delay`; a hang fails, listing the sleeps there are. */
export const awaitSleep = (delay: Duration.DurationInput) =>
  Effect.gen(function*() {
    const at = (yield* TestClock.currentTimeMillis) + Duration.toMillis(delay)
    yield* eventually(`a sleep until ${at}`, TestClock.sleeps(), Chunk.some((end) => end === at)).pipe(
      Effect.catchAllDefect((defect) =>
        Effect.flatMap(TestClock.sleeps(), (sleeps) =>
          Effect.dieMessage(`${String((defect as Error)?.message ?? defect)}; sleeps: ${Chunk.toReadonlyArray(sleeps).join(", ")}`))
      )
    )
  })

/** Waits for a sleep of exactly `delay`, then lets it end. */
export const step = (delay: Duration.DurationInput) =>
  awaitSleep(delay).pipe(Effect.zipRight(TestClock.adjust(delay)))
