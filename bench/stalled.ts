/**
 * Part of `npm run bench`, in a process of its own (run with --expose-gc): RSS growth while
 * 10,000 after deliveries are pending (16 in flight, the rest queued) for a receiver that never
 * answers, then 1,000 more offered past capacity. Prints one JSON object.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Schema from "effect/Schema"
import * as CoreEvents from "../src/servo/CoreEvents.js"
import * as EventBus from "../src/servo/EventBus.js"
import * as UndiciHttpClient from "../src/webhooks/UndiciHttpClient.js"
import * as WebhookConfig from "../src/webhooks/WebhookConfig.js"
import * as Webhooks from "../src/webhooks/Webhooks.js"

const target = process.argv[2]!
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {})
const mib = (bytes: number) => bytes / 2 ** 20

const configs = Schema.decodeUnknownSync(WebhookConfig.WebhooksConfig(CoreEvents.registry))([
  { name: "stalled", event: "after:measure", target, secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", request_timeout: "1h" }
])
const runtime = ManagedRuntime.make(
  Webhooks.layer(configs, { name: "stalled", drainTimeout: "200 millis" }).pipe(
    Layer.provideMerge(EventBus.layer),
    Layer.provide(UndiciHttpClient.layer),
    Layer.provide(Logger.replace(Logger.defaultLogger, Logger.none))
  )
)
const params = { metrics: ["throughput", "latency", "error_rate"] }
const webhooks = await runtime.runPromise(Webhooks.Webhooks)
// Warm up (JIT, the first connection), so the baseline holds what steady state needs.
await runtime.runPromise(EventBus.dispatch(CoreEvents.measure, params))
await new Promise((resolve) => setTimeout(resolve, 200))
gc()
const before = process.memoryUsage()
const capacity = Webhooks.defaults.outboxCapacity
await runtime.runPromise(Effect.gen(function*() {
  for (let i = 0; i < capacity + 1_000; i++) yield* EventBus.dispatch(CoreEvents.measure, params)
}))
await new Promise((resolve) => setTimeout(resolve, 500))
gc()
const after = process.memoryUsage()
const stats = await runtime.runPromise(webhooks.stats)
await runtime.dispose()
console.log(JSON.stringify({
  rss_growth_mib: mib(after.rss - before.rss),
  heap_growth_mib: mib(after.heapUsed - before.heapUsed),
  enqueued: stats.after.enqueued,
  overflowed: stats.after.overflowed,
  pending: stats.after.pending
}))
