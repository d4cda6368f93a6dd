/**
 * Waiting in tests for something that happens on real sockets, processes or timers: the one
 * polling loop of the suite, in real time (setTimeout), so it works the same under the TestClock.
 *
 * The limit is a hang guard, not a speed requirement: it only turns a wait that would never end
 * into a failure that names what was awaited, well before vitest's own test timeout would.
 */
import * as Effect from "effect/Effect"

/** How long a wait may take before it fails as a hang (real time). */
export const hangAfterMillis = 30_000

/** A wait in real time, whatever the Clock. */
export const realSleep = (millis: number): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    const timer = setTimeout(() => resume(Effect.void), millis)
    return Effect.sync(() => clearTimeout(timer))
  })

/** `effect`, or a defect naming `what` once it has taken `hangAfterMillis` of real time. */
export const within = <A, E, R>(what: string, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.raceFirst(
    effect,
    realSleep(hangAfterMillis).pipe(
      Effect.zipRight(Effect.dieMessage(`still waiting for ${what} after ${hangAfterMillis / 1000}s`))
    )
  )

/** Runs `effect` every millisecond (real time) until `done` holds for its value; returns that value. */
export const eventually = <A, E, R>(
  what: string,
  effect: Effect.Effect<A, E, R>,
  done: (value: A) => boolean
): Effect.Effect<A, E, R> =>
  within(
    what,
    Effect.gen(function*() {
      for (;;) {
        const value = yield* effect
        if (done(value)) return value
        yield* realSleep(1)
      }
    })
  )

/** `eventually` for a plain condition. */
export const until = (what: string, condition: () => boolean): Effect.Effect<void> =>
  eventually(what, Effect.sync(condition), (held) => held).pipe(Effect.asVoid)
