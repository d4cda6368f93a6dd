/**
 * Our side of the bench, through the public API only (`Webhooks.layer`, `EventBus.dispatch`,
 * `WebhookConfig`), so that it measures whichever delivery engine is built.
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Schema from "effect/Schema"
import * as CoreEvents from "../src/servo/CoreEvents.js"
import * as EventBus from "../src/servo/EventBus.js"
import type * as OutboxStore from "../src/webhooks/OutboxStore.js"
import * as WebhookConfig from "../src/webhooks/WebhookConfig.js"
import * as Webhooks from "../src/webhooks/Webhooks.js"
import { adjustParams, concurrency, measureParams, measurement, secret } from "./wire.js"

/** A connector answering the events the bench dispatches; its measure result is ~1 KB encoded. */
const probe = Layer.scopedDiscard(Effect.gen(function*() {
  const handlers = yield* EventBus.connector("probe")
  yield* handlers.on(CoreEvents.measure, () => Effect.succeed(measurement))
  yield* handlers.on(CoreEvents.adjust, () => Effect.succeed({ components: [], metrics: [] }))
  yield* handlers.on(CoreEvents.describe, () => Effect.succeed({ components: [], metrics: [] }))
}))

const quiet = Logger.replace(Logger.defaultLogger, Logger.none)

export type Runtime = ManagedRuntime.ManagedRuntime<EventBus.EventBus | Webhooks.Webhooks, unknown>

/** Webhooks `{ name, event }` posting to `target`, signed, on a bus with the probe connector. */
export const servo = <E>(
  target: string,
  hooks: ReadonlyArray<{ readonly name: string; readonly event: string; readonly [field: string]: unknown }>,
  client: Layer.Layer<HttpClient.HttpClient, E>,
  options: Webhooks.Options = {},
  store: Layer.Layer<OutboxStore.OutboxStore, OutboxStore.OutboxStoreError> = Layer.empty as never
): Runtime => {
  const configs = Schema.decodeUnknownSync(WebhookConfig.WebhooksConfig(CoreEvents.registry))(
    hooks.map((hook) => ({ target, secret, ...hook }))
  )
  return ManagedRuntime.make(
    Layer.mergeAll(Webhooks.layer(configs, { name: "bench", ...options }).pipe(Layer.provide(store)), probe).pipe(
      Layer.provideMerge(EventBus.layer),
      Layer.provide(client),
      Layer.provide(quiet)
    )
  )
}

/** The bus with the probe connector only: what `dispatch` costs without servo-webhooks. */
export const busAlone = (): ManagedRuntime.ManagedRuntime<EventBus.EventBus, unknown> =>
  ManagedRuntime.make(probe.pipe(Layer.provideMerge(EventBus.layer), Layer.provide(quiet)))

/**
 * Dispatches `events` after:measure events to webhooks that deliver `perEvent` times each, never
 * letting more than `concurrency` deliveries be outstanding (dispatched, not yet delivered or
 * failed), like the baselines' 64 loops; resolves when all are done. The only way the public API
 * tells a delivery has ended is `stats`, so the window is refilled from it, waiting 1 ms when it
 * is full.
 */
export const pacedAfterMeasure = (runtime: Runtime, events: number, perEvent: number): Promise<void> =>
  runtime.runPromise(Effect.gen(function*() {
    const webhooks = yield* Webhooks.Webhooks
    const ended = Effect.map(webhooks.stats, (stats) => stats.after.delivered + stats.after.failed)
    const failed = Effect.map(webhooks.stats, (stats) => stats.after.failed)
    const [endedBefore, failedBefore] = [yield* ended, yield* failed]
    const total = events * perEvent
    let dispatched = 0
    for (;;) {
      const done = (yield* ended) - endedBefore
      if (done >= total) break
      const room = Math.min(events - dispatched, Math.floor((concurrency - (dispatched * perEvent - done)) / perEvent))
      if (room <= 0) yield* Effect.sleep("1 millis")
      for (let i = 0; i < room; i++) yield* EventBus.dispatch(CoreEvents.measure, measureParams)
      dispatched += Math.max(room, 0)
    }
    const failures = (yield* failed) - failedBefore
    if (failures > 0) throw new Error(`${failures} deliveries failed`)
  }))

/** One `dispatch(adjust)`: with a before webhook on adjust, a whole before delivery. */
export const dispatchAdjust = (runtime: Runtime): () => Promise<unknown> => {
  const dispatch = EventBus.dispatch(CoreEvents.adjust, adjustParams)
  return () => runtime.runPromise(dispatch)
}

/**
 * The mean ns of process CPU per `dispatch(describe)` over `count` dispatches. CPU rather than
 * wall time: dispatch is pure computation, and CPU time leaves out the slices in which other
 * processes on a shared machine hold the core.
 */
export const describeLoop = (
  runtime: ManagedRuntime.ManagedRuntime<EventBus.EventBus, unknown>,
  count: number
): Promise<number> =>
  runtime.runPromise(Effect.gen(function*() {
    const start = process.cpuUsage()
    for (let i = 0; i < count; i++) yield* EventBus.dispatch(CoreEvents.describe, {})
    const { system, user } = process.cpuUsage(start)
    return ((user + system) * 1e3) / count
  }))

/** Resolves once this servo has delivered (or failed) `count` after deliveries. */
export const delivered = (runtime: Runtime, count: number): Promise<void> =>
  runtime.runPromise(Effect.gen(function*() {
    const webhooks = yield* Webhooks.Webhooks
    for (;;) {
      const { after } = yield* webhooks.stats
      if (after.delivered + after.failed >= count) return
      yield* Effect.sleep("5 millis")
    }
  }))
