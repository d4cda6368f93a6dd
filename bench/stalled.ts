/**
 * Part of `npm run bench`, in a process of its own (run with --expose-gc):
 * `node --expose-gc dist/bench/stalled.js <receiver origin>`. What pending after deliveries cost
 * while their receiver never answers (`/stall`), with the default worker count:
 *
 * - `pending_heap_bytes`: heap (JS heap plus array buffers, after a full GC) per pending
 *   delivery with 10,000 pending, their bodies' bytes subtracted — what the engine itself keeps
 *   per delivery;
 * - `rss_growth_mib`: RSS growth once 1,000 more have been offered past capacity (and refused).
 *
 * Prints one JSON object.
 */
import * as Effect from "effect/Effect"
import * as CoreEvents from "../src/servo/CoreEvents.js"
import * as EventBus from "../src/servo/EventBus.js"
import * as UndiciHttpClient from "../src/webhooks/UndiciHttpClient.js"
import * as Webhooks from "../src/webhooks/Webhooks.js"
import { pacedAfterMeasure, type Runtime, servo } from "./servo.js"
import { afterMeasure, measureParams } from "./wire.js"

const origin = process.argv[2]!
const pending = 10_000
const refused = 1_000

const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error("run with --expose-gc")
const settle = async () => {
  await new Promise((resolve) => setTimeout(resolve, 300))
  gc()
  gc()
}
const mib = (bytes: number) => bytes / 2 ** 20
const memory = () => {
  const { arrayBuffers, heapUsed, rss } = process.memoryUsage()
  return { heap: heapUsed + arrayBuffers, heapUsed, arrayBuffers, rss }
}
const dispatchMeasures = (runtime: Runtime, count: number) =>
  runtime.runPromise(EventBus.dispatch(CoreEvents.measure, measureParams).pipe(Effect.repeatN(count - 1)))

// Warm-up (JIT) on the same code paths, with a receiver that answers; then the stalled connector.
const warm = servo(`${origin}/hook`, [{ name: "warm", event: "after:measure" }], UndiciHttpClient.layer)
await pacedAfterMeasure(warm, 1_000, 1)
await warm.dispose()

const runtime = servo(
  `${origin}/stall`,
  [{ name: "stalled", event: "after:measure", request_timeout: "1h" }],
  UndiciHttpClient.layer,
  { outboxCapacity: pending + 1, drainTimeout: "200 millis" }
)
const stats = () => runtime.runPromise(Effect.flatMap(Webhooks.Webhooks, (webhooks) => webhooks.stats))
await dispatchMeasures(runtime, 1) // the first connection, and the services built
await settle()
const before = memory()
const pendingBefore = (await stats()).after.pending

await dispatchMeasures(runtime, pending)
await settle()
const full = memory()
const pendingFull = (await stats()).after.pending - pendingBefore

await dispatchMeasures(runtime, refused)
await settle()
const after = memory()
const final = await stats()
await runtime.dispose()

console.log(JSON.stringify({
  pending_heap_bytes: (full.heap - before.heap - pendingFull * afterMeasure.body.length) / pendingFull,
  rss_growth_mib: mib(after.rss - before.rss),
  heap_used_growth_mib: mib(full.heapUsed - before.heapUsed),
  array_buffers_growth_mib: mib(full.arrayBuffers - before.arrayBuffers),
  body_bytes: afterMeasure.body.length,
  pending: pendingFull,
  enqueued: final.after.enqueued,
  overflowed: final.after.overflowed
}))
