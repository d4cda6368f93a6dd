/**
 * The servo's domain model as Schemas: what connectors describe, measure and adjust. Every
 * Schema here encodes to plain JSON (it is what webhooks send), carries an `identifier` so JSON
 * Schemas share definitions, and an `examples` annotation that doubles as a sample payload.
 *
 * Modelled on the servo's own types (servox `servo/types.py`).
 *
 * @since 0.1.0
 */
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Schema from "effect/Schema"
import { GoDuration } from "./GoDuration.js"

const exampleTime = DateTime.unsafeMake("2026-11-29T10:00:00.000Z")

/**
 * @since 0.1.0
 * @category schemas
 */
export const Unit = Schema.Literal("", "%", "ms", "sec", "bytes", "count", "rpm", "rps").annotations({
  identifier: "Unit",
  description: "The unit of a metric: unitless, percent, milliseconds, seconds, bytes, count, requests per minute or second",
  examples: ["rps", "ms", "%"]
})

/**
 * @since 0.1.0
 * @category models
 */
export type Unit = typeof Unit.Type

/**
 * @since 0.1.0
 * @category schemas
 */
export const Metric = Schema.Struct({
  name: Schema.NonEmptyTrimmedString,
  unit: Unit
}).annotations({
  identifier: "Metric",
  description: "Something a connector can measure",
  examples: [{ name: "throughput", unit: "rps" }, { name: "latency", unit: "ms" }]
})

/**
 * @since 0.1.0
 * @category models
 */
export interface Metric extends Schema.Schema.Type<typeof Metric> {}

/**
 * @since 0.1.0
 * @category schemas
 */
export const DataPoint = Schema.Struct({
  metric: Metric,
  time: Schema.DateTimeUtc,
  value: Schema.Number
}).annotations({
  identifier: "DataPoint",
  description: "One reading of a metric at a point in time",
  examples: [{ metric: { name: "throughput", unit: "rps" }, time: exampleTime, value: 981.5 }]
})

/**
 * @since 0.1.0
 * @category models
 */
export interface DataPoint extends Schema.Schema.Type<typeof DataPoint> {}

/**
 * @since 0.1.0
 * @category schemas
 */
export const TimeSeries = Schema.Struct({
  metric: Metric,
  points: Schema.Array(Schema.Struct({ time: Schema.DateTimeUtc, value: Schema.Number }))
}).annotations({
  identifier: "TimeSeries",
  description: "Readings of a metric over time",
  examples: [{
    metric: { name: "latency", unit: "ms" },
    points: [{ time: exampleTime, value: 41.2 }, { time: DateTime.add(exampleTime, { seconds: 30 }), value: 39.8 }]
  }]
})

/**
 * @since 0.1.0
 * @category models
 */
export interface TimeSeries extends Schema.Schema.Type<typeof TimeSeries> {}

const isDataPoint = (reading: DataPoint | TimeSeries): reading is DataPoint => "value" in reading

/**
 * A measurement: readings that are all data points or all time series, never a mix.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Measurement = Schema.Struct({
  readings: Schema.Array(Schema.Union(DataPoint, TimeSeries)).pipe(
    Schema.filter(
      (readings) =>
        readings.every(isDataPoint) || readings.every((reading) => !isDataPoint(reading))
          ? undefined
          : "readings must all be data points or all time series, not a mix",
      { jsonSchema: {} }
    )
  ),
  annotations: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String }))
}).annotations({
  identifier: "Measurement",
  description: "The result of a measure event",
  examples: [{
    readings: [
      { metric: { name: "throughput", unit: "rps" }, time: exampleTime, value: 981.5 },
      { metric: { name: "latency", unit: "ms" }, time: exampleTime, value: 41.2 }
    ]
  }]
})

/**
 * @since 0.1.0
 * @category models
 */
export interface Measurement extends Schema.Schema.Type<typeof Measurement> {}

/**
 * @since 0.1.0
 * @category schemas
 */
export const RangeSetting = Schema.Struct({
  type: Schema.Literal("range"),
  name: Schema.NonEmptyTrimmedString,
  min: Schema.Number,
  max: Schema.Number,
  step: Schema.Number.pipe(Schema.positive()),
  value: Schema.Number,
  unit: Schema.optional(Schema.String)
}).pipe(
  Schema.filter((setting) => {
    if (setting.min > setting.max) return `min ${setting.min} is greater than max ${setting.max}`
    if (setting.value < setting.min || setting.value > setting.max) {
      return `value ${setting.value} is outside the range [${setting.min}, ${setting.max}]`
    }
    return undefined
  }, { jsonSchema: {} })
).annotations({
  identifier: "RangeSetting",
  description: "A numeric setting with a value between min and max",
  examples: [{ type: "range", name: "cpu", min: 0.25, max: 4, step: 0.25, value: 1, unit: "cores" }]
})

/**
 * @since 0.1.0
 * @category models
 */
export interface RangeSetting extends Schema.Schema.Type<typeof RangeSetting> {}

/**
 * @since 0.1.0
 * @category schemas
 */
export const EnumSetting = Schema.Struct({
  type: Schema.Literal("enum"),
  name: Schema.NonEmptyTrimmedString,
  values: Schema.NonEmptyArray(Schema.Union(Schema.String, Schema.Number)),
  value: Schema.Union(Schema.String, Schema.Number),
  unit: Schema.optional(Schema.String)
}).pipe(
  Schema.filter((setting) =>
    setting.values.includes(setting.value)
      ? undefined
      : `value ${JSON.stringify(setting.value)} is not one of ${setting.values.map((v) => JSON.stringify(v)).join(", ")}`, {
    jsonSchema: {}
  })
).annotations({
  identifier: "EnumSetting",
  description: "A setting whose value is one of a list",
  examples: [{ type: "enum", name: "instance_type", values: ["m5.large", "m5.xlarge"], value: "m5.large" }]
})

/**
 * @since 0.1.0
 * @category models
 */
export interface EnumSetting extends Schema.Schema.Type<typeof EnumSetting> {}

/**
 * @since 0.1.0
 * @category schemas
 */
export const Setting = Schema.Union(RangeSetting, EnumSetting).annotations({ identifier: "Setting" })

/**
 * @since 0.1.0
 * @category models
 */
export type Setting = RangeSetting | EnumSetting

/**
 * @since 0.1.0
 * @category schemas
 */
export const Component = Schema.Struct({
  name: Schema.NonEmptyTrimmedString,
  settings: Schema.Array(Setting)
}).annotations({
  identifier: "Component",
  description: "Something a connector can adjust, with its settings",
  examples: [{
    name: "web",
    settings: [
      { type: "range", name: "cpu", min: 0.25, max: 4, step: 0.25, value: 1, unit: "cores" },
      { type: "range", name: "replicas", min: 1, max: 10, step: 1, value: 2 }
    ]
  }]
})

/**
 * @since 0.1.0
 * @category models
 */
export interface Component extends Schema.Schema.Type<typeof Component> {}

/**
 * @since 0.1.0
 * @category schemas
 */
export const Description = Schema.Struct({
  components: Schema.Array(Component),
  metrics: Schema.Array(Metric)
}).annotations({
  identifier: "Description",
  description: "What a connector can adjust and measure, with current values",
  examples: [{
    components: [{
      name: "web",
      settings: [{ type: "range", name: "replicas", min: 1, max: 10, step: 1, value: 2 }]
    }],
    metrics: [{ name: "throughput", unit: "rps" }]
  }]
})

/**
 * @since 0.1.0
 * @category models
 */
export interface Description extends Schema.Schema.Type<typeof Description> {}

/**
 * @since 0.1.0
 * @category schemas
 */
export const Adjustment = Schema.Struct({
  component: Schema.NonEmptyTrimmedString,
  setting: Schema.NonEmptyTrimmedString,
  value: Schema.Union(Schema.Number, Schema.String)
}).annotations({
  identifier: "Adjustment",
  description: "A new value for one setting of one component",
  examples: [{ component: "web", setting: "replicas", value: 3 }]
})

/**
 * @since 0.1.0
 * @category models
 */
export interface Adjustment extends Schema.Schema.Type<typeof Adjustment> {}

/**
 * @since 0.1.0
 * @category schemas
 */
export const Control = Schema.Struct({
  duration: Schema.optional(GoDuration),
  warmup: Schema.optional(GoDuration),
  delay: Schema.optional(GoDuration),
  settlement: Schema.optional(GoDuration)
}).annotations({
  identifier: "Control",
  description: "How long to measure, warm up, wait and settle",
  examples: [{ duration: Duration.minutes(5) }, { duration: Duration.minutes(1), warmup: Duration.seconds(30) }]
})

/**
 * @since 0.1.0
 * @category models
 */
export interface Control extends Schema.Schema.Type<typeof Control> {}

/**
 * @since 0.1.0
 * @category schemas
 */
export const Severity = Schema.Literal("warning", "common", "critical").annotations({
  identifier: "Severity",
  description: "How bad a failed check is",
  examples: ["common"]
})

/**
 * @since 0.1.0
 * @category models
 */
export type Severity = typeof Severity.Type

/**
 * @since 0.1.0
 * @category schemas
 */
export const Check = Schema.Struct({
  name: Schema.NonEmptyTrimmedString,
  success: Schema.Boolean,
  severity: Severity,
  message: Schema.optional(Schema.String),
  hint: Schema.optional(Schema.String)
}).annotations({
  identifier: "Check",
  description: "The outcome of one readiness check",
  examples: [{ name: "metrics reachable", success: true, severity: "critical" }]
})

/**
 * @since 0.1.0
 * @category models
 */
export interface Check extends Schema.Schema.Type<typeof Check> {}
