/**
 * Runs a servo for a number of optimization cycles, the way `servo run` and the demo do: each
 * cycle dispatches `describe`, `measure`, then `adjust` with a change computed from the
 * measurement (scale the `replicas` setting on latency and errors), and prints what happened,
 * webhook deliveries included.
 *
 * A cancelled event is reported with its reason and the run goes on. When the run ends — done,
 * failed or interrupted (Ctrl-C, SIGTERM under `NodeRuntime.runMain`) — the servo's scope is
 * closed first, so the webhooks connector drains its outbox, then a summary is printed.
 *
 * @since 0.1.0
 */
import * as Console from "effect/Console"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import { InvalidConfig } from "../servo/ConfigError.js"
import type * as Connector from "../servo/Connector.js"
import * as CoreEvents from "../servo/CoreEvents.js"
import type * as Domain from "../servo/Domain.js"
import * as EventBus from "../servo/EventBus.js"
import { CancelEventError } from "../servo/EventError.js"
import * as Servo from "../servo/Servo.js"
import * as Webhooks from "../webhooks/Webhooks.js"
import * as CliError from "./CliError.js"
import { untrusted } from "../internal/terminal.js"
import * as Format from "./internal/format.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options<C extends Connector.Connector.Any> {
  readonly assembly: Servo.Assembly<C>
  readonly config: Servo.Config
  readonly cycles: number
}

/**
 * What a finished run did. `webhooks` holds the final counts (after the drain) when the servo
 * has a webhooks connector.
 *
 * @since 0.1.0
 * @category models
 */
export interface Summary {
  readonly cycles: number
  readonly applied: number
  /** `adjust: <reason>` for each cancelled event. */
  readonly cancelled: ReadonlyArray<string>
  readonly webhooks: Option.Option<Webhooks.Stats>
}

/**
 * One cycle's change: a setting of a component, from its current value to the next.
 *
 * @since 0.1.0
 * @category models
 */
export interface Plan {
  readonly component: string
  readonly setting: string
  readonly from: number
  readonly to: number
}

// ---------------------------------------------------------------------------------------------
// The optimization step: scale replicas on what was measured.
// ---------------------------------------------------------------------------------------------

const latest = (reading: Domain.DataPoint | Domain.TimeSeries): number | undefined =>
  "value" in reading ? reading.value : reading.points.at(-1)?.value

const readingsOf = (measured: EventBus.EventResults<Domain.Measurement>): Map<string, { value: number; unit: string }> => {
  const readings = new Map<string, { value: number; unit: string }>()
  for (const { value } of measured) {
    for (const reading of value.readings) {
      const v = latest(reading)
      if (v !== undefined && !readings.has(reading.metric.name)) {
        readings.set(reading.metric.name, { value: v, unit: reading.metric.unit ?? "" })
      }
    }
  }
  return readings
}

/**
 * The optimization step: the first `replicas` range setting goes up a step when latency passes
 * 100 ms or errors pass 1 %, down a step when latency is under 40 ms without errors, and holds
 * otherwise, within its range. `undefined` when nothing has a `replicas` setting.
 *
 * @since 0.1.0
 * @category planning
 */
export const plan = (
  described: EventBus.EventResults<Domain.Description>,
  measured: EventBus.EventResults<Domain.Measurement>
): Plan | undefined => {
  for (const { value } of described) {
    for (const component of value.components) {
      for (const setting of component.settings) {
        if (setting.type !== "range" || setting.name !== "replicas") continue
        const readings = readingsOf(measured)
        const latency = readings.get("latency")?.value ?? 0
        const errors = readings.get("error_rate")?.value ?? 0
        const direction = latency > 100 || errors > 1 ? 1 : latency < 40 && errors === 0 ? -1 : 0
        const to = Math.min(setting.max, Math.max(setting.min, setting.value + direction * setting.step))
        return { component: component.name, setting: setting.name, from: setting.value, to }
      }
    }
  }
  return undefined
}

// ---------------------------------------------------------------------------------------------
// Printing
// ---------------------------------------------------------------------------------------------

const line = (label: string, text: string) => Console.log(`  ${label.padEnd(9)} ${text}`)

const describedText = (described: EventBus.EventResults<Domain.Description>) =>
  described.flatMap(({ value }) =>
    value.components.map((component) =>
      `${component.name}: ${component.settings.map((setting) => `${setting.name}=${setting.value}`).join(", ")}`
    )
  ).join("; ") || "(no components)"

const measuredText = (measured: EventBus.EventResults<Domain.Measurement>) =>
  [...readingsOf(measured)].map(([name, { unit, value }]) => `${name}=${Format.number(value)}${unit === "" ? "" : ` ${unit}`}`)
    .join(", ") || "(no readings)"

/**
 * The one-line webhook counts printed after each cycle.
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatStats = (stats: Webhooks.Stats): string =>
  `before ${stats.before.delivered} delivered, ${stats.before.cancelled} cancelled, ${stats.before.failed} failed · ` +
  `after ${stats.after.delivered} delivered, ${stats.after.failed} failed, ${stats.after.pending} pending`

/**
 * The webhook counts of the final summary, with abandoned and overflowed deliveries.
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatFinalStats = (stats: Webhooks.Stats): string =>
  `before ${stats.before.delivered} delivered, ${stats.before.cancelled} cancelled, ${stats.before.failed} failed · ` +
  `after ${stats.after.delivered} delivered, ${stats.after.failed} failed, ${stats.after.cancelled} cancelled, ` +
  `${stats.after.abandoned} abandoned, ${stats.after.overflowed} overflowed`

// The reason comes from the network (a receiver's answer): escaped, it cannot forge a line.
const cancelledText = (error: CancelEventError) =>
  `cancelled by ${error.handler === undefined ? error.connector : `${error.connector} (${error.handler})`}: ${
    untrusted(error.reason)
  }; going on`

const startError = (error: unknown): CliError.CliError =>
  error instanceof InvalidConfig
    ? CliError.fromInvalidConfig(error)
    : new CliError.CliError({
      message: `the servo did not start: ${
        typeof error === "object" && error !== null && "message" in error ? String(error.message) : String(error)
      }`
    })

// ---------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------

/** What a run has done so far: one value, updated as each event completes. */
interface RunState {
  readonly completed: number
  readonly applied: number
  readonly cancelled: ReadonlyArray<string>
  /** Set once the servo has started: its webhook counts, when it has a webhooks connector. */
  readonly servo: Option.Option<{ readonly stats: Option.Option<Effect.Effect<Webhooks.Stats>> }>
  /** The webhook counts after the servo closed. */
  readonly final: Option.Option<Webhooks.Stats>
}

const initialState: RunState = { completed: 0, applied: 0, cancelled: [], servo: Option.none(), final: Option.none() }

/**
 * The counts once the servo is closed. A delivery still pending then can never be made: the
 * drain was cut short (a signal during the drain interrupts its wait before the connector counts
 * what is left), so it is counted as abandoned, as the deadline would have counted it.
 */
const closedStats = (stats: Webhooks.Stats) =>
  Effect.gen(function*() {
    const lost = stats.after.pending
    if (lost === 0) return stats
    yield* Effect.logWarning(
      `shutdown: ${Format.count(lost, "after delivery", "after deliveries")} abandoned: the drain was stopped by a signal`
    )
    return { ...stats, after: { ...stats.after, abandoned: stats.after.abandoned + lost, pending: 0 } }
  })

/** One cycle: describe, measure, then adjust as `plan` says; a cancelled event is reported and counted. */
const cycle = (k: number, cycles: number, bus: EventBus.Service, state: Ref.Ref<RunState>) =>
  Effect.gen(function*() {
    yield* Console.log(`cycle ${k}/${cycles}`)
    /** The event's results, or none when a before handler cancelled it (reported, counted). */
    const attempt = <A>(event: string, effect: Effect.Effect<A, EventBus.DispatchError>, what = "") =>
      effect.pipe(
        Effect.map(Option.some),
        Effect.catchIf(
          (error): error is CancelEventError => error instanceof CancelEventError,
          (error) =>
            Ref.update(state, (s) => ({ ...s, cancelled: [...s.cancelled, `${event}: ${error.reason}`] })).pipe(
              Effect.zipRight(line(event, `${what}${what === "" ? "" : ": "}${cancelledText(error)}`)),
              Effect.as(Option.none<A>())
            )
        ),
        Effect.mapError((error) => new CliError.CliError({ message: `cycle ${k}: ${error.message}` }))
      )

    const described = yield* attempt("describe", bus.dispatch(CoreEvents.describe, {}))
    if (Option.isSome(described)) {
      yield* line("describe", describedText(described.value))
      const measured = yield* attempt("measure", bus.dispatch(CoreEvents.measure, {}))
      if (Option.isSome(measured)) {
        yield* line("measure", measuredText(measured.value))
        const next = plan(described.value, measured.value)
        if (next === undefined) {
          yield* line("adjust", "nothing to adjust (no component has a replicas setting)")
        } else {
          const change = `${next.component}.${next.setting} ${next.from} → ${next.to}${next.from === next.to ? " (hold)" : ""}`
          const adjusted = yield* attempt(
            "adjust",
            bus.dispatch(CoreEvents.adjust, {
              adjustments: [{ component: next.component, setting: next.setting, value: next.to }]
            }),
            change
          )
          if (Option.isSome(adjusted)) {
            yield* Ref.update(state, (s) => ({ ...s, applied: s.applied + 1 }))
            yield* line("adjust", change)
          }
        }
      }
    }
    const { servo } = yield* Ref.get(state)
    const stats = Option.flatMap(servo, (started) => started.stats)
    if (Option.isSome(stats)) yield* line("webhooks", formatStats(yield* stats.value))
    yield* Ref.update(state, (s) => ({ ...s, completed: s.completed + 1 }))
  })

/**
 * A turn of the event loop. Effect's scheduler runs ready fibers through up to 2048 microtask
 * rounds before it lets timers and I/O in, and the cycles never wait for I/O (the simulator
 * answers at once): without this, a signal was handled seconds late and after deliveries did
 * not leave while cycles ran. One `setImmediate` per cycle lets both in.
 */
const yieldToEventLoop: Effect.Effect<void> = Effect.async<void>((resume) => {
  const immediate = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(immediate))
})

/** Prints the summary once the servo has closed (so after the drain: the counts are final). */
const summarise = (cycles: number, state: Ref.Ref<RunState>) =>
  Effect.gen(function*() {
    const { applied, cancelled, completed, servo } = yield* Ref.get(state)
    if (Option.isNone(servo)) return
    const stats = servo.value.stats
    const final = Option.isSome(stats) ? Option.some(yield* Effect.flatMap(stats.value, closedStats)) : Option.none()
    yield* Ref.update(state, (s) => ({ ...s, final }))
    yield* Console.log(
      `done: ${completed} of ${Format.count(cycles, "cycle")}, ${Format.count(applied, "adjustment")} applied, ${cancelled.length} cancelled`
    )
    if (Option.isSome(final)) yield* Console.log(`webhooks: ${formatFinalStats(final.value)}`)
  })

/**
 * Starts the servo of `config` (`Servo.layer`), runs the cycles, closes it, prints a summary.
 * Start-up problems (unreadable secrets, ...) and event failures other than cancellations fail
 * with a `CliError`.
 *
 * @since 0.1.0
 * @category running
 */
export const run = <C extends Connector.Connector.Any>(
  options: Options<C>
): Effect.Effect<Summary, CliError.CliError, Connector.Connector.Context<C>> =>
  Effect.gen(function*() {
    const cycles = options.cycles
    const state = yield* Ref.make(initialState)

    yield* Effect.scoped(Effect.gen(function*() {
      const context = yield* Layer.build(Servo.layer(options.assembly, options.config)).pipe(Effect.mapError(startError))
      const webhooks = Context.getOption(context, Webhooks.Webhooks)
      // Counted from this servo's start (a process may run more than one: tests, a host's loop).
      yield* Ref.update(state, (s) => ({ ...s, servo: Option.some({ stats: Option.map(webhooks, (w) => w.stats) }) }))
      const bus = Context.get(context, EventBus.EventBus)
      const connectors = options.config.connectors.map(({ name }) => name)
      const hooks = Option.isSome(webhooks) ? ` (${Format.count(webhooks.value.webhooks.length, "webhook")})` : ""
      yield* Console.log(
        `servo ${options.config.name}: ${connectors.length === 0 ? "no connectors" : connectors.join(", ")}${hooks} · ${
          Format.count(cycles, "cycle")
        }`
      )
      // Added after the servo was built, so it runs first when the scope closes; the drain follows.
      yield* Effect.addFinalizer((exit) =>
        Exit.isInterrupted(exit)
          ? Console.log("interrupted: stopping the servo; webhook deliveries drain first (Ctrl-C again to quit at once)")
          : Effect.void
      )
      for (let k = 1; k <= cycles; k++) yield* Effect.zipRight(cycle(k, cycles, bus, state), yieldToEventLoop)
    })).pipe(Effect.ensuring(summarise(cycles, state)))

    const { applied, cancelled, completed, final } = yield* Ref.get(state)
    return { cycles: completed, applied, cancelled, webhooks: final }
  }).pipe(Effect.withSpan("ServoRunner.run", { attributes: { cycles: options.cycles } }))
