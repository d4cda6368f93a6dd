/**
 * Watching the test process for unhandled rejections and uncaught exceptions, and knowing when
 * there is nothing left to wait for: Node reports unhandled rejections in the order the promises
 * were rejected, so once a canary rejected now has been reported, every promise rejected before
 * it without a handler has been reported too. An event to wait for, not a sleep.
 *
 * While a listener of ours is installed, vitest leaves these events to it (it only reports them
 * when it is the sole listener), so the canary never shows up as an error of the run.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

export interface Crashes {
  readonly unhandledRejections: ReadonlyArray<unknown>
  readonly uncaughtExceptions: ReadonlyArray<unknown>
}

export interface CrashWatch {
  /** What was seen so far, once every rejection until now has had its chance to be reported. */
  readonly settled: Effect.Effect<Crashes>
}

export const watchCrashes: Effect.Effect<CrashWatch, never, Scope.Scope> = Effect.acquireRelease(
  Effect.sync(() => {
    const unhandledRejections: Array<unknown> = []
    const uncaughtExceptions: Array<unknown> = []
    const canaries = new Map<unknown, () => void>()
    const onRejection = (reason: unknown) => {
      const reported = canaries.get(reason)
      if (reported === undefined) unhandledRejections.push(reason)
      else {
        canaries.delete(reason)
        reported()
      }
    }
    const onException = (error: unknown) => void uncaughtExceptions.push(error)
    process.on("unhandledRejection", onRejection)
    process.on("uncaughtException", onException)
    const settled = Effect.async<void>((resume) => {
      const canary = new Error("canary: rejected on purpose, never handled")
      canaries.set(canary, () => resume(Effect.void))
      void Promise.reject(canary)
    }).pipe(Effect.map(() => ({ unhandledRejections: [...unhandledRejections], uncaughtExceptions: [...uncaughtExceptions] })))
    return { settled, onRejection, onException }
  }),
  ({ onException, onRejection }) =>
    Effect.sync(() => {
      process.off("unhandledRejection", onRejection)
      process.off("uncaughtException", onException)
    })
).pipe(Effect.map(({ settled }) => ({ settled })))
