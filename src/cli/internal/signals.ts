/**
 * SIGINT and SIGTERM, the way the `servo` bin takes them. The first interrupts the command: `run`
 * stops starting cycles, closes the servo and drains its deliveries. The next one interrupts it
 * again, which ends a drain in progress at once (the summary counts what is left as abandoned),
 * and a third quits without waiting for anything.
 *
 * The exit code says whether the command did its job: `run` and `listen` are meant to run until
 * a signal and say so with `stopsOnSignal` when they start, so a signal ends them with 0; any
 * other command a signal cut short exits with 130 (so `servo webhooks trigger ... && deploy`
 * stops). Which command ran is what @effect/cli parsed, whatever global options came first.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"

/** Set by `runMain`: whether the command that runs is one a signal is meant to stop. */
const currentStopsOnSignal = FiberRef.unsafeMake<Option.Option<Ref.Ref<boolean>>>(Option.none())

/** Marks the running command as one that ends on a signal (`run`, `listen`). */
export const stopsOnSignal: Effect.Effect<void> = Effect.flatMap(
  FiberRef.get(currentStopsOnSignal),
  Option.match({ onNone: () => Effect.void, onSome: (ref) => Ref.set(ref, true) })
)

/** 128 + SIGINT's number, the shell's code for a command stopped by Ctrl-C. */
const interruptedCode = 130

const exitCode = (exit: Exit.Exit<number>, stoppedBySignal: boolean): number =>
  Exit.isSuccess(exit)
    ? exit.value
    : Cause.isInterruptedOnly(exit.cause)
    ? stoppedBySignal ? 0 : interruptedCode
    : 1

/**
 * Runs the bin's program and exits with its code (see above). Like `NodeRuntime.runMain`, it
 * keeps the process alive while the program runs; unlike it, every signal is handled, not only
 * the first.
 */
export const runMain = (program: Effect.Effect<number>): void => {
  const stops = Effect.runSync(Ref.make(false))
  const fiber = Effect.runFork(Effect.locally(program, currentStopsOnSignal, Option.some(stops)))
  const keepAlive = setInterval(() => {}, 2 ** 31 - 1)
  let signals = 0
  const onSignal = () => {
    signals++
    if (signals <= 2) return fiber.unsafeInterruptAsFork(fiber.id())
    process.stderr.write("quit: stopped at once; what was still pending is not counted\n")
    process.exit(interruptedCode)
  }
  process.on("SIGINT", onSignal)
  process.on("SIGTERM", onSignal)
  fiber.addObserver((exit) => {
    clearInterval(keepAlive)
    process.removeListener("SIGINT", onSignal)
    process.removeListener("SIGTERM", onSignal)
    const code = exitCode(exit, Effect.runSync(Ref.get(stops)))
    // After a signal, open handles (a receiver's sockets) must not keep the process alive.
    if (signals > 0 || code !== 0) process.exit(code)
  })
}
