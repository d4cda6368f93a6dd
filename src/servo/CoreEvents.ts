/**
 * The events every servo knows, with the parameters and results of the servo's own
 * (`describe`, `measure`, `adjust`, ...).
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Schema from "effect/Schema"
import * as Domain from "./Domain.js"
import * as Event from "./Event.js"

/**
 * @since 0.1.0
 * @category events
 */
export const describe = Event.make({
  name: "describe",
  description: "Describe the components and metrics a connector manages, with current values",
  parameters: Event.NoParameters,
  result: Domain.Description
})

/**
 * @since 0.1.0
 * @category schemas
 */
export const MeasureParameters = Schema.Struct({
  metrics: Schema.optional(Schema.Array(Schema.NonEmptyTrimmedString)),
  control: Schema.optional(Domain.Control)
}).annotations({
  identifier: "MeasureParameters",
  examples: [{ metrics: ["throughput", "latency"], control: { duration: Duration.minutes(5) } }]
})

/**
 * @since 0.1.0
 * @category events
 */
export const measure = Event.make({
  name: "measure",
  description: "Measure metrics, all of them or those named",
  parameters: MeasureParameters,
  result: Domain.Measurement
})

/**
 * @since 0.1.0
 * @category schemas
 */
export const AdjustParameters = Schema.Struct({
  adjustments: Schema.Array(Domain.Adjustment),
  control: Schema.optional(Domain.Control)
}).annotations({
  identifier: "AdjustParameters",
  examples: [{
    adjustments: [{ component: "web", setting: "replicas", value: 3 }],
    control: { settlement: Duration.seconds(30) }
  }]
})

/**
 * @since 0.1.0
 * @category events
 */
export const adjust = Event.make({
  name: "adjust",
  description: "Apply new setting values; returns the description after the change",
  parameters: AdjustParameters,
  result: Domain.Description
})

/**
 * @since 0.1.0
 * @category events
 */
export const metrics = Event.make({
  name: "metrics",
  description: "List the metrics a connector can measure",
  parameters: Event.NoParameters,
  result: Schema.Array(Domain.Metric).annotations({ examples: [[{ name: "throughput", unit: "rps" }]] })
})

/**
 * @since 0.1.0
 * @category events
 */
export const components = Event.make({
  name: "components",
  description: "List the components a connector can adjust",
  parameters: Event.NoParameters,
  result: Schema.Array(Domain.Component).annotations({
    examples: [[{ name: "web", settings: [{ type: "range", name: "replicas", min: 1, max: 10, step: 1, value: 2 }] }]]
  })
})

/**
 * @since 0.1.0
 * @category schemas
 */
export const CheckParameters = Schema.Struct({
  matching: Schema.optional(Schema.Struct({
    names: Schema.optional(Schema.Array(Schema.String))
  })),
  halt_on: Schema.optional(Domain.Severity)
}).annotations({
  identifier: "CheckParameters",
  examples: [{ halt_on: "critical" }]
})

/**
 * @since 0.1.0
 * @category events
 */
export const check = Event.make({
  name: "check",
  description: "Run readiness checks, stopping at the first failure of the given severity",
  parameters: CheckParameters,
  result: Schema.Array(Domain.Check).annotations({
    examples: [[{ name: "metrics reachable", success: true, severity: "critical" }]]
  })
})

/**
 * @since 0.1.0
 * @category events
 */
export const startup = Event.make({
  name: "startup",
  description: "The servo is starting",
  parameters: Event.NoParameters,
  result: Event.NoResult
})

/**
 * @since 0.1.0
 * @category events
 */
export const shutdown = Event.make({
  name: "shutdown",
  description: "The servo is stopping",
  parameters: Event.NoParameters,
  result: Event.NoResult
})

/**
 * @since 0.1.0
 * @category events
 */
export const promote = Event.make({
  name: "promote",
  description: "Promote the current settings to the main workload",
  parameters: Event.NoParameters,
  result: Event.NoResult
})

/**
 * Every core event.
 *
 * @since 0.1.0
 * @category events
 */
export const all: ReadonlyArray<Event.Event.Any> = [
  describe,
  measure,
  adjust,
  metrics,
  components,
  check,
  startup,
  shutdown,
  promote
]

/**
 * A registry of the core events alone.
 *
 * @since 0.1.0
 * @category events
 */
export const registry: Event.Registry = Event.registry(all)
