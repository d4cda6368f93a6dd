/**
 * The `simulator` connector: a synthetic web service for demos and tests. One component, `web`,
 * with three settings (`cpu`, `memory`, `replicas`), and three metrics (`throughput`, `latency`,
 * `error_rate`) that respond to adjustments the way a real service would: more capacity, lower
 * latency; too little memory per core, errors. Noise comes from a seeded generator, so the same
 * seed and the same events give the same numbers.
 *
 * ```yaml
 * simulator: {}          # or { seed: 7, noise: 0.1, demand: 1500 }
 * ```
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Random from "effect/Random"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import * as Connector from "./Connector.js"
import * as CoreEvents from "./CoreEvents.js"
import type * as Domain from "./Domain.js"
import * as EventBus from "./EventBus.js"

/**
 * @since 0.1.0
 * @category schemas
 */
export const SimulatorConfig = Schema.Struct({
  seed: Schema.optionalWith(
    Schema.Number.pipe(Schema.int()).annotations({
      title: "seed",
      description: "Seed of the noise generator: the same seed and events give the same numbers (default 1)",
      examples: [42],
      message: () => ({ message: "expected an integer", override: true })
    }),
    { default: () => 1 }
  ),
  noise: Schema.optionalWith(
    Schema.Number.pipe(Schema.between(0, 1)).annotations({
      title: "noise",
      description: "Relative noise on every metric, 0 to 1 (default 0.05)",
      examples: [0.1],
      message: () => ({ message: "expected a number between 0 and 1", override: true })
    }),
    { default: () => 0.05 }
  ),
  demand: Schema.optionalWith(
    Schema.Number.pipe(Schema.positive()).annotations({
      title: "demand",
      description: "Offered load in requests/s (default 1000)",
      examples: [1500],
      message: () => ({ message: "expected a positive number of requests/s", override: true })
    }),
    { default: () => 1000 }
  )
}).annotations({
  identifier: "SimulatorConfig",
  title: "simulator",
  description: "seed: noise generator seed; noise: relative noise (0 to 1); demand: offered load in requests/s",
  examples: [{ seed: 7, noise: 0.1, demand: 1500 }]
})

/**
 * @since 0.1.0
 * @category models
 */
export interface SimulatorConfig extends Schema.Schema.Type<typeof SimulatorConfig> {}

/**
 * An adjustment the simulator cannot apply, or a metric it does not have.
 *
 * @since 0.1.0
 * @category errors
 */
export class SimulatorError extends Schema.TaggedError<SimulatorError>("servo-webhooks/SimulatorError")(
  "SimulatorError",
  { message: Schema.String }
) {}

/**
 * @since 0.1.0
 * @category constants
 */
export const metrics: ReadonlyArray<Domain.Metric> = [
  { name: "throughput", unit: "rps" },
  { name: "latency", unit: "ms" },
  { name: "error_rate", unit: "%" }
]

interface Settings {
  readonly cpu: number
  readonly memory: number
  readonly replicas: number
}

const initialSettings: Settings = { cpu: 1, memory: 2, replicas: 2 }

const ranges = {
  cpu: { min: 0.25, max: 4, step: 0.25, unit: "cores" },
  memory: { min: 0.25, max: 8, step: 0.25, unit: "GiB" },
  replicas: { min: 1, max: 10, step: 1, unit: "" }
} as const

const describeSettings = (settings: Settings): Domain.Description => ({
  components: [{
    name: "web",
    settings: (Object.keys(ranges) as Array<keyof Settings>).map((name) => ({
      type: "range" as const,
      name,
      ...ranges[name],
      value: settings[name]
    }))
  }],
  metrics
})

/** Capacity grows with cores; latency climbs as utilisation nears 1; starved memory errs. */
const model = (settings: Settings, demand: number) => {
  const capacity = settings.replicas * settings.cpu * 400
  const utilisation = demand / capacity
  const memoryPerCore = settings.memory / settings.cpu
  const errorRate = Math.min(100, Math.max(0, (utilisation - 1) * 50) + (memoryPerCore < 1 ? (1 - memoryPerCore) * 20 : 0))
  return {
    throughput: Math.min(demand, capacity) * (1 - errorRate / 100),
    latency: 25 * (1 + Math.min(utilisation, 0.95) / (1 - Math.min(utilisation, 0.95))),
    error_rate: errorRate
  }
}

const applyAdjustments = (
  settings: Settings,
  adjustments: ReadonlyArray<Domain.Adjustment>
): Effect.Effect<Settings, SimulatorError> => {
  let next = settings
  for (const adjustment of adjustments) {
    if (adjustment.component !== "web") {
      return Effect.fail(new SimulatorError({ message: `unknown component ${JSON.stringify(adjustment.component)}; the simulator has: web` }))
    }
    if (!(adjustment.setting in ranges)) {
      return Effect.fail(new SimulatorError({ message: `unknown setting web.${adjustment.setting}; known: ${Object.keys(ranges).join(", ")}` }))
    }
    const name = adjustment.setting as keyof Settings
    const range = ranges[name]
    const value = typeof adjustment.value === "number" ? adjustment.value : Number(adjustment.value)
    if (!Number.isFinite(value) || value < range.min || value > range.max) {
      return Effect.fail(
        new SimulatorError({
          message: `web.${name} must be a number in [${range.min}, ${range.max}], got ${JSON.stringify(adjustment.value)}`
        })
      )
    }
    next = { ...next, [name]: value }
  }
  return Effect.succeed(next)
}

/**
 * Registers the simulator's handlers under `name`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (config: SimulatorConfig, options: { readonly name?: string } = {}): Layer.Layer<never, never, EventBus.EventBus> =>
  Layer.scopedDiscard(Effect.gen(function*() {
    const handlers = yield* EventBus.connector(options.name ?? "simulator")
    const settings = yield* Ref.make(initialSettings)
    const random = Random.make(config.seed)
    const jitter = Effect.map(random.next, (u) => 1 + config.noise * (u * 2 - 1))

    yield* handlers.on(CoreEvents.describe, () => Effect.map(Ref.get(settings), describeSettings))
    yield* handlers.on(CoreEvents.metrics, () => Effect.succeed(metrics))
    yield* handlers.on(CoreEvents.components, () => Effect.map(Ref.get(settings), (s) => describeSettings(s).components))
    yield* handlers.on(CoreEvents.check, () =>
      Effect.succeed([{ name: "simulator responds", success: true, severity: "critical" as const }]))
    yield* handlers.on(CoreEvents.measure, ({ params }) =>
      Effect.gen(function*() {
        const wanted = params.metrics ?? metrics.map((metric) => metric.name)
        const unknown = wanted.filter((name) => !metrics.some((metric) => metric.name === name))
        if (unknown.length > 0) {
          return yield* new SimulatorError({
            message: `unknown metric ${unknown.join(", ")}; the simulator measures ${metrics.map((m) => m.name).join(", ")}`
          })
        }
        const values = model(yield* Ref.get(settings), config.demand)
        const time = DateTime.unsafeMake(yield* Clock.currentTimeMillis)
        const readings: Array<Domain.DataPoint> = []
        for (const metric of metrics) {
          if (!wanted.includes(metric.name)) continue
          const value = values[metric.name as keyof typeof values] * (yield* jitter)
          readings.push({ metric, time, value: Math.round(value * 100) / 100 })
        }
        return { readings }
      }))
    yield* handlers.on(CoreEvents.adjust, ({ params }) =>
      Ref.get(settings).pipe(
        Effect.flatMap((current) => applyAdjustments(current, params.adjustments)),
        Effect.tap((next) => Ref.set(settings, next)),
        Effect.map(describeSettings)
      ))
  }))

/**
 * The simulator as a connector of an assembly.
 *
 * @since 0.1.0
 * @category connectors
 */
export const connector = Connector.make({
  name: "simulator",
  description: "A synthetic web service for demos and tests",
  config: () => SimulatorConfig,
  layer: (config, { name }) => layer(config, { name })
})
