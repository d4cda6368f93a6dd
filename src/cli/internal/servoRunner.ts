import * as Console from "effect/Console"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { InvalidConfig } from "../../servo/ConfigError.js"
import type * as Connector from "../../servo/Connector.js"
import * as CoreEvents from "../../servo/CoreEvents.js"
import type * as Domain from "../../servo/Domain.js"
import * as EventBus from "../../servo/EventBus.js"
import { CancelEventError } from "../../servo/EventError.js"
import * as Servo from "../../servo/Servo.js"
import * as Webhooks from "../../webhooks/Webhooks.js"
import { CliError, fromInvalidConfig } from "../CliError.js"
import type * as ServoRunner from "../ServoRunner.js"
import * as Format from "./format.js"

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
 * Up a step when latency passes 100 ms or errors pass 1 %, down a step when latency is under
 * 40 ms without errors, else hold — within the setting's range.
 *
 * @internal
 */
export const plan = (
  described: EventBus.EventResults<Domain.Description>,
  measured: EventBus.EventResults<Domain.Measurement>
): ServoRunner.Plan | undefined => {
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

/** @internal */
export const formatStats = (stats: Webhooks.Stats): string =>
  `before ${stats.before.delivered} delivered, ${stats.before.cancelled} cancelled, ${stats.before.failed} failed · ` +
  `after ${stats.after.delivered} delivered, ${stats.after.failed} failed, ${stats.after.pending} pending`

/** @internal */
export const formatFinalStats = (stats: Webhooks.Stats): string =>
  `before ${stats.before.delivered} delivered, ${stats.before.cancelled} cancelled, ${stats.before.failed} failed · ` +
  `after ${stats.after.delivered} delivered, ${stats.after.failed} failed, ${stats.after.cancelled} cancelled, ` +
  `${stats.after.abandoned} abandoned, ${stats.after.overflowed} overflowed`

const cancelledText = (error: CancelEventError) =>
  `cancelled by ${error.handler === undefined ? error.connector : `${error.connector} (${error.handler})`}: ${error.reason}; going on`

// ---------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------

const startError = (error: unknown): CliError =>
  error instanceof InvalidConfig
    ? fromInvalidConfig(error)
    : new CliError({
      message: `the servo did not start: ${
        typeof error === "object" && error !== null && "message" in error ? String(error.message) : String(error)
      }`
    })

/** @internal */
export const run = <C extends Connector.Connector.Any>(
  options: ServoRunner.Options<C>
): Effect.Effect<ServoRunner.Summary, CliError, Connector.Connector.Context<C>> =>
  Effect.gen(function*() {
    const cycles = options.cycles
    const progress = { completed: 0, applied: 0, cancelled: [] as Array<string> }
    let stats: Option.Option<Effect.Effect<Webhooks.Stats>> = Option.none()
    let started = false

    const cycle = (k: number, bus: EventBus.Service) =>
      Effect.gen(function*() {
        yield* Console.log(`cycle ${k}/${cycles}`)
        /** The event's results, or none when a before handler cancelled it (reported, counted). */
        const attempt = <A>(event: string, effect: Effect.Effect<A, EventBus.DispatchError>, what = "") =>
          effect.pipe(
            Effect.map(Option.some),
            Effect.catchIf(
              (error): error is CancelEventError => error instanceof CancelEventError,
              (error) => {
                progress.cancelled.push(`${event}: ${error.reason}`)
                return line(event, `${what}${what === "" ? "" : ": "}${cancelledText(error)}`).pipe(Effect.as(Option.none<A>()))
              }
            ),
            Effect.mapError((error) => new CliError({ message: `cycle ${k}: ${error.message}` }))
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
                progress.applied++
                yield* line("adjust", change)
              }
            }
          }
        }
        if (Option.isSome(stats)) yield* line("webhooks", formatStats(yield* stats.value))
        progress.completed++
      })

    let final: Option.Option<Webhooks.Stats> = Option.none()
    const printSummary = Effect.gen(function*() {
      if (Option.isSome(stats)) final = Option.some(yield* stats.value)
      yield* Console.log(
        `done: ${progress.completed} of ${Format.count(cycles, "cycle")}, ${
          Format.count(progress.applied, "adjustment")
        } applied, ${progress.cancelled.length} cancelled`
      )
      if (Option.isSome(final)) yield* Console.log(`webhooks: ${formatFinalStats(final.value)}`)
    })

    yield* Effect.scoped(Effect.gen(function*() {
      const context = yield* Layer.build(Servo.layer(options.assembly, options.config)).pipe(Effect.mapError(startError))
      started = true
      const webhooks = Context.getOption(context, Webhooks.Webhooks)
      // Counted from this servo's start (a process may run more than one: tests, a host's loop).
      if (Option.isSome(webhooks)) stats = Option.some(webhooks.value.stats)
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
      for (let k = 1; k <= cycles; k++) yield* cycle(k, bus)
    })).pipe(
      // After the scope closed, so after the drain: the counts are final.
      Effect.ensuring(Effect.suspend(() => started ? printSummary : Effect.void))
    )
    return { cycles: progress.completed, applied: progress.applied, cancelled: progress.cancelled, webhooks: final }
  }).pipe(Effect.withSpan("ServoRunner.run", { attributes: { cycles: options.cycles } }))
