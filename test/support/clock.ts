/**
 * Stepping the TestClock against real I/O: wait (in real time, briefly) until the fiber under
 * test sleeps until exactly the expected instant, then move the clock there. Asserting the exact
 * instant checks the delay itself, not just that there was one.
 *
 * TestClock keeps sleeps that were interrupted (a timeout that lost its race) in its list: give
 * the waits a test steps through durations no finished sleep shares.
 */
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"

const tick = Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 1)))

/** Waits until something sleeps until `now + delay`; fails after 5 s of real time. */
export const awaitSleep = (delay: Duration.DurationInput) =>
  Effect.gen(function*() {
    const at = (yield* TestClock.currentTimeMillis) + Duration.toMillis(delay)
    for (let i = 0; i < 5000; i++) {
      if (Chunk.some(yield* TestClock.sleeps(), (end) => end === at)) return
      yield* tick
    }
    const sleeps = Chunk.toReadonlyArray(yield* TestClock.sleeps())
    return yield* Effect.dieMessage(`nothing slept until ${at}; sleeps: ${sleeps.join(", ")}`)
  })

/** Waits for a sleep of exactly `delay`, then lets it end. */
export const step = (delay: Duration.DurationInput) =>
  awaitSleep(delay).pipe(Effect.zipRight(TestClock.adjust(delay)))

/** Polls `effect` in real time (never the TestClock) until `done` holds; fails after 5 s. */
export const eventually = <A, E, R>(effect: Effect.Effect<A, E, R>, done: (a: A) => boolean) =>
  Effect.gen(function*() {
    for (let i = 0; i < 5000; i++) {
      const value = yield* effect
      if (done(value)) return value
      yield* tick
    }
    return yield* Effect.dieMessage("the condition never held")
  })
