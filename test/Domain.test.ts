import { describe, expect, it } from "@effect/vitest"
import { Ajv } from "ajv"
import * as Either from "effect/Either"
import * as JSONSchema from "effect/JSONSchema"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as SchemaAST from "effect/SchemaAST"
import * as CoreEvents from "../src/servo/CoreEvents.js"
import * as Domain from "../src/servo/Domain.js"

const domainSchemas = {
  Unit: Domain.Unit,
  Metric: Domain.Metric,
  DataPoint: Domain.DataPoint,
  TimeSeries: Domain.TimeSeries,
  Measurement: Domain.Measurement,
  RangeSetting: Domain.RangeSetting,
  EnumSetting: Domain.EnumSetting,
  Component: Domain.Component,
  Description: Domain.Description,
  Adjustment: Domain.Adjustment,
  Control: Domain.Control,
  Severity: Domain.Severity,
  Check: Domain.Check
} as const

const examplesOf = (schema: Schema.Schema.Any): ReadonlyArray<unknown> =>
  SchemaAST.getExamplesAnnotation(schema.ast).pipe(Option.getOrElse(() => []))

describe("Domain", () => {
  it.each(Object.entries(domainSchemas))("%s has examples that round-trip (encode → decode → equal)", (_, schema) => {
    const examples = examplesOf(schema)
    expect(examples.length).toBeGreaterThan(0)
    for (const example of examples) {
      const encoded = Schema.encodeUnknownSync(schema as Schema.Schema<unknown, unknown>)(example)
      // The encoded form is plain JSON: it survives a trip through JSON text.
      const reparsed = JSON.parse(JSON.stringify(encoded))
      expect(Schema.decodeUnknownSync(schema as Schema.Schema<unknown, unknown>)(reparsed)).toEqual(example)
    }
  })

  const decode = <A, I>(schema: Schema.Schema<A, I>, input: unknown) =>
    Schema.decodeUnknownEither(schema, { errors: "all" })(input).pipe(
      Either.mapLeft((error) => error.message)
    )

  it("refuses a range value outside min..max, and min above max", () => {
    const base = { type: "range", name: "cpu", min: 0.25, max: 4, step: 0.25 }
    expect(decode(Domain.RangeSetting, { ...base, value: 5 })).toEqual(
      Either.left(expect.stringContaining("value 5 is outside the range [0.25, 4]"))
    )
    expect(decode(Domain.RangeSetting, { ...base, min: 8, value: 5 })).toEqual(
      Either.left(expect.stringContaining("min 8 is greater than max 4"))
    )
    expect(Either.isRight(decode(Domain.RangeSetting, { ...base, value: 4 }))).toBe(true)
    expect(Either.isLeft(decode(Domain.RangeSetting, { ...base, step: 0, value: 1 }))).toBe(true)
  })

  it("refuses an enum value that is not listed", () => {
    const result = decode(Domain.EnumSetting, { type: "enum", name: "size", values: ["s", "m"], value: "xl" })
    expect(result).toEqual(Either.left(expect.stringContaining(`value "xl" is not one of "s", "m"`)))
    expect(Either.isLeft(decode(Domain.EnumSetting, { type: "enum", name: "size", values: [], value: "s" }))).toBe(true)
  })

  it("refuses a measurement that mixes data points and time series", () => {
    const metric = { name: "latency", unit: "ms" }
    const point = { metric, time: "2026-11-29T10:00:00.000Z", value: 1 }
    const series = { metric, points: [{ time: "2026-11-29T10:00:00.000Z", value: 1 }] }
    expect(decode(Domain.Measurement, { readings: [point, series] })).toEqual(
      Either.left(expect.stringContaining("readings must all be data points or all time series, not a mix"))
    )
    expect(Either.isRight(decode(Domain.Measurement, { readings: [point, point] }))).toBe(true)
    expect(Either.isRight(decode(Domain.Measurement, { readings: [series] }))).toBe(true)
  })

  it("refuses an unknown unit, severity or a malformed duration in Control", () => {
    expect(Either.isLeft(decode(Domain.Metric, { name: "x", unit: "furlongs" }))).toBe(true)
    expect(Either.isLeft(decode(Domain.Check, { name: "x", success: true, severity: "fatal" }))).toBe(true)
    expect(decode(Domain.Control, { duration: "5 minutes" })).toEqual(
      Either.left(expect.stringContaining("expected a duration such as 500ms"))
    )
  })
})

describe("Core events", () => {
  const ajv = new Ajv({ strict: false })

  it.each(CoreEvents.all.map((event) => [event.name, event] as const))(
    "%s: parameters and result produce JSON Schemas that accept the encoded examples",
    (_, event) => {
      for (const [schema, example] of [
        [event.parameters, examplesOf(event.parameters)[0]],
        [event.result, examplesOf(event.result)[0]]
      ] as const) {
        const jsonSchema = JSONSchema.make(schema)
        const validate = ajv.compile(jsonSchema)
        const encoded = JSON.parse(JSON.stringify(Schema.encodeUnknownSync(schema)(example)) ?? "null")
        expect(validate(encoded), JSON.stringify(validate.errors)).toBe(true)
      }
    }
  )

  it("describes the measure parameters with their fields", () => {
    const jsonSchema = JSONSchema.make(CoreEvents.measure.parameters) as any
    const definition = jsonSchema.$defs?.MeasureParameters ?? jsonSchema
    expect(Object.keys(definition.properties)).toEqual(["metrics", "control"])
  })
})
