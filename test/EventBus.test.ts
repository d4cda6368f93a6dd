import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Logger from "effect/Logger"
import * as Ref from "effect/Ref"
import * as Scope from "effect/Scope"
import * as CoreEvents from "../src/servo/CoreEvents.js"
import type * as Domain from "../src/servo/Domain.js"
import * as EventBus from "../src/servo/EventBus.js"
import { CancelEventError, EventHandlerError, InvalidEventParameters } from "../src/servo/EventError.js"

const description = (replicas: number): Domain.Description => ({
  components: [{ name: "web", settings: [{ type: "range", name: "replicas", min: 1, max: 10, step: 1, value: replicas }] }],
  metrics: []
})

const adjustParams = { adjustments: [{ component: "web", setting: "replicas", value: 3 }] }

const connectorOn = (bus: EventBus.Service, name: string) =>
  Effect.provideService(EventBus.connector(name), EventBus.EventBus, bus)

const withBus = <A, E>(f: (bus: EventBus.Service) => Effect.Effect<A, E, Scope.Scope>) =>
  Effect.flatMap(EventBus.make, f)

describe("EventBus.dispatch", () => {
  it.scoped("runs before → on → after, with params and results where they belong", () =>
    withBus((bus) =>
      Effect.gen(function*() {
        const seen = yield* Ref.make<Array<string>>([])
        const note = (line: string) => Ref.update(seen, (lines) => [...lines, line])
        const a = yield* connectorOn(bus, "a")
        const b = yield* connectorOn(bus, "b")
        const c = yield* connectorOn(bus, "c")
        yield* a.before(CoreEvents.adjust, ({ params }) => note(`before a ${params.adjustments[0]!.value}`))
        yield* b.before(CoreEvents.adjust, () => note("before b"))
        yield* a.on(CoreEvents.adjust, ({ params }) => note("on a").pipe(Effect.as(description(params.adjustments[0]!.value as number))))
        yield* b.on(CoreEvents.adjust, () => note("on b").pipe(Effect.as(description(7))))
        yield* c.after(CoreEvents.adjust, ({ params, results }) =>
          note(`after c ${params.adjustments.length} ${
            results.map((r) => `${r.connector}=${r.value.components[0]!.settings[0]!.value}`).join(",")
          }`))
        const results = yield* bus.dispatch(CoreEvents.adjust, adjustParams)
        expect(results.map((result) => result.connector)).toEqual(["a", "b"])
        expect(results[0]!.value).toEqual(description(3))
        const lines = yield* Ref.get(seen)
        expect(lines.slice(0, 2)).toEqual(["before a 3", "before b"])
        expect(lines.slice(2, 4).sort()).toEqual(["on a", "on b"])
        expect(lines[4]).toBe("after c 1 a=3,b=7")
      })
    ))

  it.scoped("runs on handlers concurrently", () =>
    withBus((bus) =>
      Effect.gen(function*() {
        // Each handler waits for the other: run one at a time, they would never finish.
        const first = yield* Deferred.make<void>()
        const second = yield* Deferred.make<void>()
        const handlers = yield* connectorOn(bus, "x")
        yield* handlers.on(CoreEvents.describe, () =>
          Deferred.succeed(first, undefined).pipe(Effect.zipRight(Deferred.await(second)), Effect.as(description(1))))
        const other = yield* connectorOn(bus, "y")
        yield* other.on(CoreEvents.describe, () =>
          Deferred.await(first).pipe(Effect.zipRight(Deferred.succeed(second, undefined)), Effect.as(description(2))))
        const results = yield* bus.dispatch(CoreEvents.describe, {})
        expect(results.map((r) => [r.connector, r.value.components[0]!.settings[0]!.value])).toEqual([["x", 1], ["y", 2]])
      })
    ))

  it.scoped("returns [] when no connector handles the event, and after handlers see []", () =>
    withBus((bus) =>
      Effect.gen(function*() {
        const seen = yield* Ref.make<ReadonlyArray<unknown> | undefined>(undefined)
        yield* bus.register({
          preposition: "after",
          connector: "w",
          event: "*",
          handler: ({ results }) => Ref.set(seen, results)
        })
        expect(yield* bus.dispatch(CoreEvents.measure, {})).toEqual([])
        expect(yield* Ref.get(seen)).toEqual([])
      })
    ))

  it.scoped("a before handler's cancellation fails dispatch, stops later handlers and carries the reason", () =>
    withBus((bus) =>
      Effect.gen(function*() {
        const ran = yield* Ref.make<Array<string>>([])
        const note = (line: string) => Ref.update(ran, (lines) => [...lines, line])
        yield* bus.register({
          preposition: "before",
          connector: "guard",
          event: CoreEvents.adjust,
          handler: ({ cancel }) => cancel("not during business hours", { handler: "approve" })
        })
        yield* bus.register({ preposition: "before", connector: "late", event: CoreEvents.adjust, handler: () => note("before late") })
        yield* bus.register({
          preposition: "on",
          connector: "sim",
          event: CoreEvents.adjust,
          handler: () => note("on").pipe(Effect.as(description(1)))
        })
        yield* bus.register({ preposition: "after", connector: "sim", event: CoreEvents.adjust, handler: () => note("after") })
        const error = yield* Effect.flip(bus.dispatch(CoreEvents.adjust, adjustParams))
        expect(error).toBeInstanceOf(CancelEventError)
        expect(error).toMatchObject({ reason: "not during business hours", event: "adjust", connector: "guard", handler: "approve" })
        expect(error.message).toBe("adjust cancelled by guard (approve): not during business hours")
        expect(yield* Ref.get(ran)).toEqual([])
      })
    ))

  it.scoped("cancelling from an on handler is a defect, not a silent cancel", () =>
    withBus((bus) =>
      Effect.gen(function*() {
        yield* bus.register({
          preposition: "on",
          connector: "rogue",
          event: CoreEvents.adjust,
          handler: () => Effect.fail(new CancelEventError({ reason: "nope", event: "adjust", connector: "rogue" }))
        })
        const exit = yield* Effect.exit(bus.dispatch(CoreEvents.adjust, adjustParams))
        expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
        expect(Cause.pretty((exit as Exit.Failure<unknown, unknown>).cause)).toMatch(
          /rogue tried to cancel adjust from an on handler \(reason: nope\); only before handlers may cancel/
        )
      })
    ))

  it.scoped("cancelling from an after handler is a defect too", () =>
    withBus((bus) =>
      Effect.gen(function*() {
        yield* bus.register({
          preposition: "after",
          connector: "rogue",
          event: CoreEvents.describe,
          handler: () => Effect.fail(new CancelEventError({ reason: "late", event: "describe", connector: "rogue" }))
        })
        const exit = yield* Effect.exit(bus.dispatch(CoreEvents.describe, {}))
        expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
        expect(Cause.pretty((exit as Exit.Failure<unknown, unknown>).cause)).toMatch(/from an after handler/)
      })
    ))

  it.scoped("an on handler's failure reaches the caller typed, after every on handler finished", () =>
    withBus((bus) =>
      Effect.gen(function*() {
        const finished = yield* Ref.make(false)
        class Broken {
          readonly _tag = "Broken"
          readonly message = "disk on fire"
        }
        yield* bus.register({ preposition: "on", connector: "bad", event: CoreEvents.describe, handler: () => Effect.fail(new Broken()) })
        yield* bus.register({
          preposition: "on",
          connector: "slow",
          event: CoreEvents.describe,
          handler: () => Effect.yieldNow().pipe(Effect.zipRight(Ref.set(finished, true)), Effect.as(description(1)))
        })
        const error = yield* Effect.flip(bus.dispatch(CoreEvents.describe, {}))
        expect(error).toBeInstanceOf(EventHandlerError)
        const handlerError = error as EventHandlerError
        expect(handlerError.connector).toBe("bad")
        expect(handlerError.error).toBeInstanceOf(Broken)
        expect(handlerError.message).toBe("bad failed to handle describe: disk on fire")
        expect(yield* Ref.get(finished)).toBe(true)
      })
    ))

  it.scoped("an after handler's failure is logged and never fails the event", () =>
    Effect.gen(function*() {
      const logs: Array<string> = []
      const logger = Logger.make(({ message, annotations }) => {
        logs.push(`${[message].flat().map(String).join(" ")} ${JSON.stringify(Object.fromEntries(annotations))}`)
      })
      const bus = yield* EventBus.make
      yield* bus.register({ preposition: "after", connector: "flaky", event: CoreEvents.describe, handler: () => Effect.fail("boom") })
      const results = yield* bus.dispatch(CoreEvents.describe, {}).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
      expect(results).toEqual([])
      expect(logs).toHaveLength(1)
      expect(logs[0]).toContain("after handler of flaky for describe failed boom")
      expect(logs[0]).toContain(`"connector":"flaky"`)
    }))

  it.effect("handlers disappear when the scope that registered them closes", () =>
    Effect.gen(function*() {
      const bus = yield* EventBus.make
      const calls = yield* Ref.make(0)
      const scope = yield* Scope.make()
      yield* bus.register({
        preposition: "on",
        connector: "temp",
        event: CoreEvents.describe,
        handler: () => Ref.update(calls, (n) => n + 1).pipe(Effect.as(description(1)))
      }).pipe(Scope.extend(scope))
      expect(yield* bus.dispatch(CoreEvents.describe, {})).toHaveLength(1)
      yield* Scope.close(scope, Exit.void)
      expect(yield* bus.dispatch(CoreEvents.describe, {})).toEqual([])
      expect(yield* Ref.get(calls)).toBe(1)
    }))

  it.effect("registering the same handler twice delivers once, and it stays until both scopes close", () =>
    Effect.gen(function*() {
      const bus = yield* EventBus.make
      const calls = yield* Ref.make(0)
      const handler = () => Ref.update(calls, (n) => n + 1)
      const first = yield* Scope.make()
      const second = yield* Scope.make()
      const registration = { preposition: "after", connector: "twice", event: CoreEvents.describe, handler } as const
      yield* bus.register(registration).pipe(Scope.extend(first))
      yield* bus.register(registration).pipe(Scope.extend(second))
      yield* bus.dispatch(CoreEvents.describe, {})
      expect(yield* Ref.get(calls)).toBe(1)
      yield* Scope.close(first, Exit.void)
      yield* bus.dispatch(CoreEvents.describe, {})
      expect(yield* Ref.get(calls)).toBe(2)
      yield* Scope.close(second, Exit.void)
      yield* bus.dispatch(CoreEvents.describe, {})
      expect(yield* Ref.get(calls)).toBe(2)
    }))

  it.scoped("wildcard and exact handlers run in registration order", () =>
    withBus((bus) =>
      Effect.gen(function*() {
        const order = yield* Ref.make<Array<string>>([])
        const note = (line: string) => () => Ref.update(order, (lines) => [...lines, line])
        yield* bus.register({ preposition: "before", connector: "a", event: CoreEvents.measure, handler: note("a") })
        yield* bus.register({ preposition: "before", connector: "b", event: "*", handler: note("b*") })
        yield* bus.register({ preposition: "before", connector: "c", event: CoreEvents.measure, handler: note("c") })
        yield* bus.register({ preposition: "before", connector: "d", event: CoreEvents.adjust, handler: note("d") })
        yield* bus.dispatch(CoreEvents.measure, {})
        expect(yield* Ref.get(order)).toEqual(["a", "b*", "c"])
      })
    ))

  it.effect("refuses parameters that do not match the event's Schema, naming the field", () =>
    Effect.gen(function*() {
      const bus = yield* EventBus.make
      const bad = { adjustments: [{ component: "web", setting: "replicas", value: true }] } as any
      const error = yield* Effect.flip(bus.dispatch(CoreEvents.adjust, bad))
      expect(error).toBeInstanceOf(InvalidEventParameters)
      const invalid = error as InvalidEventParameters
      expect(invalid.event).toBe("adjust")
      expect(invalid.issues.some((issue) => issue.startsWith("adjustments[0].value:"))).toBe(true)
      expect(invalid.message).toMatch(/^invalid parameters for adjust: adjustments\[0\]\.value: /)
      const missing = yield* Effect.flip(bus.dispatch(CoreEvents.adjust, {} as any))
      expect(missing.message).toContain("adjustments: is missing")
    }))

  it.effect("the accessor dispatches on the bus in context", () =>
    Effect.gen(function*() {
      const results = yield* EventBus.dispatch(CoreEvents.measure, { metrics: ["latency"] })
      expect(results).toEqual([])
    }).pipe(Effect.provide(EventBus.layer)))
})
