/**
 * What a webhook's transport settings cost on the delivery path: deliveries per second through
 * `Delivery` senders, over loopback to `httpReceiver.ts` in its own process, for
 *
 * - `context`: default settings, the `UndiciHttpClient.layer` client from context;
 * - `guarded`: `network: { deny_private: true, allow: [127.0.0.1/32] }`, a Transport dispatcher
 *   whose connector checks every connection (keep-alive: once per connection, not per request);
 * - `secret-header`: default settings plus a `secret: true` header, whose client runs each
 *   request with the header added to `Headers.currentRedactedNames`.
 *
 * Rounds alternate between the variants and the ratios to `context` within a round are what
 * to read; absolute numbers move with the machine. `node dist/bench/transport.js [deliveries] [rounds]`.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as CoreEvents from "../src/servo/CoreEvents.js"
import * as Delivery from "../src/webhooks/Delivery.js"
import * as Transport from "../src/webhooks/Transport.js"
import * as UndiciHttpClient from "../src/webhooks/UndiciHttpClient.js"
import * as WebhookConfig from "../src/webhooks/WebhookConfig.js"
import * as Schema from "effect/Schema"
import { startReceiver } from "./lib.js"

const deliveries = Number(process.argv[2] ?? 20_000)
const concurrency = 64
const rounds = Number(process.argv[3] ?? 3)

const receiver = await startReceiver()
const target = `${receiver.origin}/hook`

const variants: Record<string, Record<string, unknown>> = {
  context: {},
  guarded: { network: { deny_private: true, allow: ["127.0.0.1/32"] } },
  "secret-header": { headers: [{ name: "x-api-token", value: "t0k3n", secret: true }] }
}

const body = new TextEncoder().encode(JSON.stringify({ id: "msg_bench", padding: "x".repeat(900) }))

const run = (fields: Record<string, unknown>) =>
  Effect.gen(function*() {
    const configs = Schema.decodeUnknownSync(WebhookConfig.WebhooksConfig(CoreEvents.registry))([
      { event: "after:measure", target, backoff: false, ...fields }
    ])
    const [webhook] = yield* WebhookConfig.resolve(configs)
    const transports = yield* Transport.make
    const context = yield* Layer.build(UndiciHttpClient.layer)
    const client = yield* Effect.provide(transports.clientFor(webhook!), context)
    const sender = yield* Effect.provide(Delivery.makeSender(webhook!, { client }), context)
    const message = { id: "msg_bench", event: "after:measure", body }
    // Warm up the connections, then time.
    yield* Effect.forEach(Array.from({ length: concurrency }), () => sender.send(message), { concurrency, discard: true })
    const start = performance.now()
    let failed = 0
    yield* Effect.forEach(Array.from({ length: deliveries }), () =>
      Effect.map(sender.send(message), (outcome) => {
        if (outcome._tag !== "Delivered") failed++
      }), { concurrency, discard: true })
    const seconds = (performance.now() - start) / 1000
    if (failed > 0) throw new Error(`${failed} deliveries failed`)
    return deliveries / seconds
  }).pipe(Effect.scoped)

const results: Record<string, Array<number>> = Object.fromEntries(Object.keys(variants).map((name) => [name, []]))
for (let round = 0; round < rounds; round++) {
  for (const [name, fields] of Object.entries(variants)) {
    results[name]!.push(await Effect.runPromise(run(fields)))
  }
}
console.log(`${deliveries} deliveries per run, concurrency ${concurrency}, ${rounds} rounds (deliveries/s; ratio to context in the same round)`)
for (const [name, rates] of Object.entries(results)) {
  const ratios = rates.map((rate, i) => (rate / results.context![i]!).toFixed(2))
  console.log(`${name.padEnd(14)} ${rates.map((rate) => Math.round(rate).toString().padStart(7)).join(" ")}   ${ratios.join(" ")}`)
}
receiver.stop()
