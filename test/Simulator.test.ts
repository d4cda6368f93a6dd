import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import * as CoreEvents from "../src/servo/CoreEvents.js"
import * as EventBus from "../src/servo/EventBus.js"
import { EventHandlerError } from "../src/servo/EventError.js"
import * as Simulator from "../src/servo/Simulator.js"

const simulator = (seed: number) =>
  Simulator.layer({ seed, noise: 0.05, demand: 1000 }).pipe(Layer.provideMerge(EventBus.layer))

const valuesOf = (results: EventBus.EventResults<{ readonly readings: ReadonlyArray<any> }>) =>
  results[0]!.value.readings.map((reading) => [reading.metric.name, reading.value])

const run = Effect.gen(function*() {
  const before = valuesOf(yield* EventBus.dispatch(CoreEvents.measure, {}))
  yield* EventBus.dispatch(CoreEvents.adjust, { adjustments: [{ component: "web", setting: "replicas", value: 4 }] })
  const after = valuesOf(yield* EventBus.dispatch(CoreEvents.measure, {}))
  return { before, after }
})

describe("Simulator", () => {
  it.effect("is deterministic for a seed, and different seeds differ", () =>
    Effect.gen(function*() {
      const a = yield* run.pipe(Effect.provide(simulator(7)))
      const b = yield* run.pipe(Effect.provide(simulator(7)))
      const c = yield* run.pipe(Effect.provide(simulator(8)))
      expect(a).toEqual(b)
      expect(a).not.toEqual(c)
    }))

  it.effect("responds to adjustments: more replicas, more throughput and less latency", () =>
    Effect.gen(function*() {
      const { after, before } = yield* run.pipe(Effect.provide(simulator(1)))
      const get = (values: Array<Array<unknown>>, name: string) => values.find(([n]) => n === name)![1] as number
      // 2 replicas × 1 core × 400 rps = 800 rps for 1000 rps of demand: overloaded, erring.
      expect(get(before, "error_rate")).toBeGreaterThan(5)
      expect(get(after, "throughput")).toBeGreaterThan(get(before, "throughput") * 1.1)
      expect(get(after, "latency")).toBeLessThan(get(before, "latency"))
      expect(get(after, "error_rate")).toBe(0)
    }))

  it.effect("describes its component and reports adjusted values", () =>
    Effect.gen(function*() {
      const described = yield* EventBus.dispatch(CoreEvents.adjust, {
        adjustments: [{ component: "web", setting: "cpu", value: 2 }]
      })
      const settings = described[0]!.value.components[0]!.settings
      expect(described[0]!.connector).toBe("simulator")
      expect(settings.map((s) => [s.name, s.value])).toEqual([["cpu", 2], ["memory", 2], ["replicas", 2]])
    }).pipe(Effect.provide(simulator(1))))

  it.effect("stamps readings with the clock and measures only the metrics asked for", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.parse("2026-11-29T10:00:00Z"))
      const results = yield* EventBus.dispatch(CoreEvents.measure, { metrics: ["latency"] })
      const readings = results[0]!.value.readings as ReadonlyArray<any>
      expect(readings).toHaveLength(1)
      expect(readings[0].metric).toEqual({ name: "latency", unit: "ms" })
      expect(readings[0].time.epochMillis).toBe(Date.parse("2026-11-29T10:00:00Z"))
    }).pipe(Effect.provide(simulator(1))))

  it.effect("refuses unknown settings, out-of-range values and unknown metrics, changing nothing", () =>
    Effect.gen(function*() {
      const refuse = (value: unknown, setting = "replicas") =>
        Effect.flip(EventBus.dispatch(CoreEvents.adjust, { adjustments: [{ component: "web", setting, value: value as number }] }))
      const outOfRange = yield* refuse(11)
      expect(outOfRange).toBeInstanceOf(EventHandlerError)
      expect(outOfRange.message).toBe("simulator failed to handle adjust: web.replicas must be a number in [1, 10], got 11")
      expect((yield* refuse(2, "disk")).message).toMatch(/unknown setting web.disk; known: cpu, memory, replicas/)
      const metric = yield* Effect.flip(EventBus.dispatch(CoreEvents.measure, { metrics: ["p99"] }))
      expect(metric.message).toMatch(/unknown metric p99/)
      const described = yield* EventBus.dispatch(CoreEvents.describe, {})
      expect(described[0]!.value.components[0]!.settings.map((s) => s.value)).toEqual([1, 2, 2])
    }).pipe(Effect.provide(simulator(1))))
})
