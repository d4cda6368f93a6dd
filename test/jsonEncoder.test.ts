import { describe, expect, it } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as SchemaAST from "effect/SchemaAST"
import * as TestClock from "effect/TestClock"
import * as CoreEvents from "../src/servo/CoreEvents.js"
import * as Domain from "../src/servo/Domain.js"
import * as Event from "../src/servo/Event.js"
import * as EventBus from "../src/servo/EventBus.js"
import * as Simulator from "../src/servo/Simulator.js"
import * as JsonEncoder from "../src/webhooks/internal/jsonEncoder.js"
import * as WireContract from "../src/webhooks/WireContract.js"

/** What WireContract did before the compiled encoder, and still does as the fallback. */
const viaSchema = (schema: Schema.Schema<any, any>) => {
  const encode = Schema.encodeEither(schema as Schema.Schema<unknown, unknown>)
  return (value: unknown): Either.Either<string, string> =>
    Either.match(encode(value), {
      onLeft: (error) => Either.left(error.message),
      onRight: (encoded) => Either.right(String(JSON.stringify(encoded)))
    })
}

const compiled = (schema: Schema.Schema<any, any>) => {
  const encode = JsonEncoder.compile(schema)
  return (value: unknown): Either.Either<string, string> => Either.mapLeft(encode(value), (error) => error.message)
}

/** Asserts the compiled encoder gives the same bytes (or the same error) as Schema.encode + JSON.stringify. */
const expectSame = (schema: Schema.Schema<any, any>, value: unknown) =>
  expect(compiled(schema)(value)).toStrictEqual(viaSchema(schema)(value))

const resultsSchema = (event: Event.Event.Any) =>
  Schema.Array(Schema.Struct({ connector: Schema.String, value: event.result }))

const examplesOf = (schema: Schema.Schema<any, any>): ReadonlyArray<unknown> => {
  let ast = schema.ast
  for (;;) {
    const examples = SchemaAST.getExamplesAnnotation(ast)
    if (Option.isSome(examples)) return examples.value
    if (SchemaAST.isRefinement(ast)) ast = ast.from
    else if (SchemaAST.isTransformation(ast)) ast = ast.to
    else return []
  }
}

const domainSchemas: ReadonlyArray<Schema.Schema<any, any>> = [
  Domain.Unit,
  Domain.Metric,
  Domain.DataPoint,
  Domain.TimeSeries,
  Domain.Measurement,
  Domain.RangeSetting,
  Domain.EnumSetting,
  Domain.Setting,
  Domain.Component,
  Domain.Description,
  Domain.Adjustment,
  Domain.Control,
  Domain.Severity,
  Domain.Check
]

describe("jsonEncoder", () => {
  it("compiles every core event's parameters and results (no Schema-wide fallback)", () => {
    for (const event of CoreEvents.all) {
      expect([event.name, JsonEncoder.compileFast(event.parameters) !== undefined]).toEqual([event.name, true])
      expect([event.name, JsonEncoder.compileFast(resultsSchema(event)) !== undefined]).toEqual([event.name, true])
    }
  })

  it("writes the same bytes as Schema.encode + JSON.stringify for every example of the core events and domain", () => {
    let checked = 0
    for (const event of CoreEvents.all) {
      for (const params of examplesOf(event.parameters)) {
        expectSame(event.parameters, params)
        checked++
      }
      for (const result of examplesOf(event.result)) {
        expectSame(resultsSchema(event), [{ connector: "a", value: result }, { connector: "b", value: result }])
        checked++
      }
    }
    for (const schema of domainSchemas) {
      for (const example of examplesOf(schema)) {
        expectSame(schema, example)
        checked++
      }
    }
    expect(checked).toBeGreaterThan(20)
  })

  it.effect("writes the same bytes for the simulator's real results of every core event", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.parse("2026-11-29T10:00:00.123Z"))
      let checked = 0
      for (const event of CoreEvents.all) {
        const params = Option.getOrElse(Event.exampleParameters(event), () => ({}))
        const results = yield* EventBus.dispatch(event, params)
        expectSame(event.parameters, params)
        expectSame(resultsSchema(event), results)
        // The compiled walker answered itself, not through the fallback.
        expect(JsonEncoder.compileFast(event.parameters)!(params)).toBeTypeOf("string")
        expect(JsonEncoder.compileFast(resultsSchema(event))!(results)).toBeTypeOf("string")
        checked++
      }
      expect(checked).toBe(CoreEvents.all.length)
    }).pipe(Effect.provide(Simulator.layer({ seed: 3, noise: 0.05, demand: 1000 }).pipe(Layer.provideMerge(EventBus.layer)))))

  it("agrees with Schema.encode on arbitrary valid values of every domain Schema and event", () => {
    // Descriptions are generated slowly (filtered settings in nested arrays): they get fewer
    // runs, and the results of the events that return them are covered by Description itself.
    const generatedSlowly = new Set<Schema.Schema<any, any>>([Domain.Component, Domain.Description])
    const schemas = [
      ...domainSchemas,
      ...CoreEvents.all.flatMap((event) =>
        [CoreEvents.adjust, CoreEvents.describe, CoreEvents.components].includes(event as never)
          ? [event.parameters]
          : [event.parameters, resultsSchema(event)]
      )
    ]
    for (const schema of schemas) {
      const fast = JsonEncoder.compileFast(schema)!
      FastCheck.assert(
        FastCheck.property(Arbitrary.make(schema), (value) => {
          const json = fast(value)
          // The walker itself answers every valid value with the same bytes, but for a record
          // key `__proto__` (Effect's output object drops it), which it leaves to the fallback.
          if (json === undefined) expect(JSON.stringify(value)).toContain(`"__proto__":`)
          else expect(Either.right(json)).toStrictEqual(viaSchema(schema)(value))
          expectSame(schema, value)
        }),
        { numRuns: generatedSlowly.has(schema) ? 10 : 50, seed: 42 }
      )
    }
  })

  it("agrees with Schema.encode on arbitrary junk, errors included", () => {
    const schemas = [Domain.Measurement, Domain.Setting, CoreEvents.MeasureParameters, resultsSchema(CoreEvents.adjust)]
    for (const schema of schemas) {
      FastCheck.assert(
        FastCheck.property(FastCheck.anything({ withNullPrototype: true, withObjectString: true }), (value) => {
          expectSame(schema, value)
        }),
        { numRuns: 300, seed: 7 }
      )
    }
  })

  describe("edge cases", () => {
    const Optional = Schema.Struct({
      a: Schema.String,
      b: Schema.optional(Schema.Number),
      c: Schema.optionalWith(Schema.String, { exact: true }),
      d: Schema.UndefinedOr(Schema.Boolean)
    })

    it("optional keys absent, undefined, present; excess keys dropped; Struct order", () => {
      for (
        const value of [
          { a: "x", d: true },
          { a: "x", b: undefined, d: undefined },
          { d: false, c: "z", b: 2, a: "x", extra: 1 },
          { a: "x" },
          { a: "x", c: undefined },
          { a: 1 },
          Object.assign(Object.create({ b: 5 }), { a: "inherited b is not own" })
        ]
      ) expectSame(Optional, value)
      expect(compiled(Optional)({ d: false, c: "z", b: 2, a: "x", extra: 1 })).toStrictEqual(
        Either.right(`{"a":"x","b":2,"c":"z","d":false}`)
      )
    })

    it("strings with unicode, control characters and lone surrogates; numbers JSON cannot write", () => {
      const schema = Schema.Struct({ s: Schema.String, n: Schema.Number, list: Schema.Array(Schema.Number) })
      const strings = ["\u0000\u001f\"\\/\n\t", "é😀\u2028\u2029", "\ud800", "\udfff x"]
      for (const s of strings) expectSame(schema, { s, n: 1, list: [] })
      expectSame(schema, { s: "", n: -0, list: [NaN, Infinity, -Infinity, -0, 1e21, 5e-7, 0.1 + 0.2] })
      expect(compiled(schema)({ s: "", n: NaN, list: [-0] })).toStrictEqual(Either.right(`{"s":"","n":null,"list":[0]}`))
    })

    it("nested arrays, tuples with optional and rest elements, undefined elements", () => {
      const nested = Schema.Array(Schema.Array(Schema.Array(Schema.Number)))
      expectSame(nested, [[[1, 2], []], [], [[3]]])
      const tuple = Schema.Tuple([Schema.String, Schema.optionalElement(Schema.Number)], Schema.UndefinedOr(Schema.Boolean))
      for (const value of [["a"], ["a", 1], ["a", 1, true, undefined, false], [], ["a", "b"], "a"]) expectSame(tuple, value)
      expectSame(Schema.Tuple(Schema.String), ["a", "excess"])
    })

    it("unions: the member that accepts, literals, enums, and members that disagree", () => {
      enum Color { Red = "red", Count = 3 }
      const schema = Schema.Union(
        Schema.Literal("a", 1, true, null),
        Schema.Enums(Color),
        Schema.Struct({ kind: Schema.Literal("x"), x: Schema.Number }),
        Schema.Struct({ kind: Schema.Literal("y"), y: Schema.String })
      )
      for (const value of ["a", 1, true, null, "red", 3, { kind: "x", x: 1, y: "" }, { kind: "y", y: "s" }, { kind: "z" }, 2]) {
        expectSame(schema, value)
      }
      const literals = Schema.Literal(0, "0", false, null, NaN)
      for (const value of [0, -0, "0", false, null, NaN, undefined, "", 1]) expectSame(literals, value)
      expectSame(Domain.Unit, "rps")
      expectSame(Domain.Unit, "RPS")
      // A required key may come through the prototype chain, Effect reads it there too; but the
      // union looks its discriminating key up among the input's own keys only.
      const inherited = Object.assign(Object.create({ x: 5 }), { kind: "x" })
      expectSame(schema, inherited)
      expect(JsonEncoder.compileFast(schema)!(inherited)).toBe(`{"kind":"x","x":5}`)
      const inheritedKind = Object.assign(Object.create({ kind: "x" }), { x: 5 })
      expectSame(schema, inheritedKind)
      expect(Either.isLeft(compiled(schema)(inheritedKind))).toBe(true)
      // Both members accept and write different bytes: Effect's order decides, through the fallback.
      const overlapping = Schema.Union(Schema.Struct({ a: Schema.String }), Schema.Struct({ a: Schema.String, b: Schema.Number }))
      expectSame(overlapping, { a: "x", b: 1 })
      expect(JsonEncoder.compileFast(overlapping)!({ a: "x", b: 1 })).toBeUndefined()
      expect(JsonEncoder.compileFast(overlapping)!({ a: "x" })).toBe(`{"a":"x"}`)
      expectSame(Schema.Union(overlapping.members[1], overlapping.members[0]), { a: "x", b: 1 })
    })

    it("refinements see the value as Effect validated it: no excess keys, Struct order", () => {
      const seen: Array<unknown> = []
      const schema = Schema.Struct({ a: Schema.Number }).pipe(Schema.filter((value) => {
        seen.push(value)
        return Object.keys(value).length === 1
      }))
      expectSame(schema, { a: 1 })
      expectSame(schema, { a: 1, extra: true })
      expectSame(schema, { extra: true, a: 1 })
      expect(JsonEncoder.compileFast(schema)!({ a: 1, extra: true })).toBe(`{"a":1}`)
      expect(seen).toContainEqual({ a: 1 })
      expect(seen).not.toContainEqual({ a: 1, extra: true })
      const ordered = Schema.Struct({ a: Schema.Number, b: Schema.Number }).pipe(
        Schema.filter((value) => Object.keys(value)[0] === "a")
      )
      expectSame(ordered, { b: 2, a: 1 })
      const keyCount = Schema.Struct({ a: Schema.UndefinedOr(Schema.Number), b: Schema.optional(Schema.Number) }).pipe(
        Schema.filter((value) => Object.keys(value).length === 1)
      )
      for (const value of [{ a: 1 }, {}, Object.create({ a: 1 }), { a: 1, b: 2 }, { b: 2 }, { a: undefined }]) {
        expectSame(keyCount, value)
      }
      expect(compiled(keyCount)({})).toStrictEqual(Either.right(`{}`))
      expect(JsonEncoder.compileFast(ordered)!({ b: 2, a: 1 })).toBe(`{"a":1,"b":2}`)
    })

    it("transformations: DateTimeUtc, GoDuration, NoResult; a value of the wrong type", () => {
      const schema = Schema.Struct({ at: Schema.DateTimeUtc, control: Domain.Control, none: Event.NoResult })
      const at = DateTime.unsafeMake("2026-11-29T10:00:00.5Z")
      expectSame(schema, { at, control: { duration: Duration.millis(1500), warmup: Duration.infinity }, none: undefined })
      expectSame(schema, { at: "2026-11-29T10:00:00Z", control: {}, none: undefined })
      expectSame(schema, { at, control: { delay: 5 }, none: undefined })
    })

    it("suspended (recursive) Schemas compile lazily", () => {
      interface Tree {
        readonly value: number
        readonly children: ReadonlyArray<Tree>
      }
      const Tree: Schema.Schema<Tree> = Schema.Struct({
        value: Schema.Number,
        children: Schema.Array(Schema.suspend(() => Tree))
      })
      expect(JsonEncoder.compileFast(Tree)).toBeDefined()
      expectSame(Tree, { value: 1, children: [{ value: 2, children: [] }, { value: 3, children: [{ value: 4, children: [] }] }] })
      expectSame(Tree, { value: 1, children: [{ value: "2", children: [] }] })
    })

    it("records, `{}`, and shapes it does not know fall back with the same result", () => {
      const record = Schema.Record({ key: Schema.String, value: Schema.String })
      expectSame(record, { b: "1", a: "2", 10: "3", 2: "4" })
      expectSame(record, JSON.parse(`{"__proto__":"x","a":"y"}`))
      expectSame(record, { a: 1 })
      expectSame(Event.NoParameters, {})
      expectSame(Event.NoParameters, { anything: [1, "two"] })
      expectSame(Event.NoParameters, { toJSON: (key: string) => `key ${key}` })
      expectSame(Event.NoParameters, null)
      const unknownShape = Schema.Struct({ when: Schema.Date, n: Schema.NumberFromString, big: Schema.BigInt })
      expect(JsonEncoder.compileFast(unknownShape)).toBeUndefined()
      expectSame(unknownShape, { when: new Date(0), n: 5, big: 7n })
    })

    it("a value the Schema refuses gives the same ParseError, message and all", () => {
      const refused = { readings: [{ metric: { name: " ", unit: "rps" }, time: DateTime.unsafeMake(0), value: 1 }] }
      const fast = JsonEncoder.compile(Domain.Measurement)(refused)
      const slow = Schema.encodeEither(Domain.Measurement)(refused as never)
      expect(Either.isLeft(fast) && Either.isLeft(slow)).toBe(true)
      expect(Either.flip(fast)).toStrictEqual(Either.flip(slow))
      expect(Either.getLeft(fast).pipe(Option.map((e) => e.message))).toStrictEqual(
        Either.getLeft(slow).pipe(Option.map((e) => e.message))
      )
      const mixed = {
        readings: [
          { metric: { name: "a", unit: "rps" }, time: DateTime.unsafeMake(0), value: 1 },
          { metric: { name: "b", unit: "ms" }, points: [] }
        ]
      }
      expectSame(Domain.Measurement, mixed)
      expect(Either.isLeft(compiled(Domain.Measurement)(mixed))).toBe(true)
    })
  })
})

describe("WireContract", () => {
  it("encodePayload writes parameters and results through the compiled encoder, bytes as before", () => {
    const params = { metrics: ["throughput"], control: { duration: Duration.minutes(5) } }
    const results = [{ connector: "sim", value: Option.getOrThrow(Event.exampleResult(CoreEvents.measure)) }]
    const payload = Either.getOrThrow(WireContract.encodePayload({
      event: CoreEvents.measure,
      preposition: "after",
      params,
      results,
      createdAt: new Date("2026-11-29T10:00:00Z")
    }))
    const body = new TextDecoder().decode(payload.body("msg_x"))
    expect(body).toBe(
      `{"id":"msg_x","event":"after:measure","created_at":"2026-11-29T10:00:00.000Z",` +
        `"parameters":${JSON.stringify(Schema.encodeSync(CoreEvents.MeasureParameters)(params))},` +
        `"results":${JSON.stringify(Schema.encodeSync(resultsSchema(CoreEvents.measure))(results))}}`
    )
  })

  it("makeId: msg_ and 22 base64url characters, 10,000 of them distinct", () => {
    const ids = Array.from({ length: 10_000 }, () => WireContract.makeId())
    for (const id of ids) expect(id).toMatch(/^msg_[A-Za-z0-9_-]{22}$/)
    expect(new Set(ids).size).toBe(ids.length)
  })
})
