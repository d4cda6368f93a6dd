/**
 * Webhook deliveries per second through each HTTP client, at concurrency 64, 1 KB JSON POSTs,
 * against `httpReceiver.ts` in another process on 127.0.0.1:
 *
 * - raw `undici.request` (global dispatcher, and an `Agent` of 64 connections),
 * - `UndiciHttpClient.layer` and `NodeHttpClient.layerUndici`, driven by `Effect.forEach`, with
 *   tracing turned off per request (`HttpClient.withTracerPropagation(false)`,
 *   `HttpClient.withTracerDisabledWhen(() => true)`) or once around the `forEach`.
 *
 * Rounds alternate in order; the table shows medians and the ratio to the first client.
 *
 *   npm run build && taskset -c 0 env RECEIVER_CPU=1 node dist/bench/httpClient.js [requests] [rounds]
 *
 * `RECEIVER_CPU` pins the receiver to another core (`taskset`), so that the numbers are the
 * client's; absolute rates vary a lot between runs, ratios within a run much less.
 */
import * as HttpBody from "@effect/platform/HttpBody"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as undici from "undici"
import * as UndiciHttpClient from "../src/webhooks/UndiciHttpClient.js"
import { median, startReceiver } from "./lib.js"

const requests = Number(process.argv[2] ?? 20_000)
const rounds = Number(process.argv[3] ?? 3)
const concurrency = 64

const payload = JSON.stringify({
  type: "after:adjust",
  timestamp: "2026-11-29T12:00:00Z",
  data: { adjustments: [{ component: "web", setting: "replicas", value: 3 }], note: "x".repeat(880) }
})
const bytes = new TextEncoder().encode(payload)
const headers = { "content-type": "application/json", "webhook-id": "msg_2mJ7d8xQ" }

const receiver = await startReceiver(process.env["RECEIVER_CPU"])
const origin = receiver.origin
const url = `${origin}/hook`

const statsAgent = new undici.Agent()
const connections = async (): Promise<number> => {
  const { body } = await undici.request(`${origin}/stats`, { dispatcher: statsAgent })
  return ((await body.json()) as { connections: number }).connections
}

const raw = (dispatcher?: undici.Dispatcher) => async () => {
  let sent = 0
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (sent++ < requests) {
      const { statusCode, body } = await undici.request(url, {
        method: "POST",
        headers,
        body: bytes,
        ...(dispatcher === undefined ? {} : { dispatcher })
      })
      await body.text()
      if (statusCode !== 200) throw new Error(`status ${statusCode}`)
    }
  }))
}

const request = HttpClientRequest.post(url, { headers, body: HttpBody.uint8Array(bytes, "application/json") })
const indices = Array.from({ length: requests }, (_, i) => i)

const effect = (layer: Layer.Layer<HttpClient.HttpClient>, tracingOff: "per request" | "once") => {
  const runtime = ManagedRuntime.make(layer)
  const program = Effect.flatMap(HttpClient.HttpClient, (client) => {
    const quiet = tracingOff === "per request"
      ? client.pipe(HttpClient.withTracerPropagation(false), HttpClient.withTracerDisabledWhen(() => true))
      : client
    const deliverAll = Effect.forEach(
      indices,
      () =>
        Effect.flatMap(quiet.execute(request), (response) =>
          response.status === 200 ? Effect.asVoid(response.text) : Effect.dieMessage(`status ${response.status}`)),
      { concurrency, discard: true }
    )
    return tracingOff === "per request" ? deliverAll : deliverAll.pipe(
      Effect.locally(HttpClient.currentTracerPropagation, false),
      Effect.locally(HttpClient.currentTracerDisabledWhen, () => true)
    )
  })
  return { run: () => runtime.runPromise(program), dispose: () => runtime.dispose() }
}

const agent64 = new undici.Agent({ connections: concurrency })
const runners = [
  effect(UndiciHttpClient.layer, "per request"),
  effect(NodeHttpClient.layerUndici, "per request"),
  effect(UndiciHttpClient.layer, "once"),
  effect(NodeHttpClient.layerUndici, "once")
] as const
const clients: ReadonlyArray<readonly [string, () => Promise<unknown>]> = [
  ["raw undici.request (global dispatcher)", raw()],
  ["raw undici.request (Agent, 64 connections)", raw(agent64)],
  ["UndiciHttpClient.layer, tracing off per request", runners[0].run],
  ["NodeHttpClient.layerUndici, tracing off per request", runners[1].run],
  ["UndiciHttpClient.layer, tracing off once", runners[2].run],
  ["NodeHttpClient.layerUndici, tracing off once", runners[3].run]
]

interface Sample {
  readonly rate: number
  readonly cpu: number
  readonly opened: number
}
const samples = new Map<string, Array<Sample>>(clients.map(([name]) => [name, []]))

// Warm-up (JIT, connections): the connections each client opens at concurrency 64, kept open by
// the receiver for the rest of the run.
const warmUpConnections = new Map<string, number>()
for (const [name, run] of clients) {
  const before = await connections()
  await run()
  warmUpConnections.set(name, (await connections()) - before)
}
for (let round = 0; round < rounds; round++) {
  for (const [name, run] of round % 2 === 0 ? clients : [...clients].reverse()) {
    const before = await connections()
    const cpu = process.cpuUsage()
    const start = performance.now()
    await run()
    const ms = performance.now() - start
    const { system, user } = process.cpuUsage(cpu)
    const sample = { rate: (requests / ms) * 1000, cpu: (user + system) / requests, opened: (await connections()) - before }
    samples.get(name)!.push(sample)
    console.error(`round ${round}: ${name}: ${Math.round(sample.rate)}/s, ${sample.cpu.toFixed(1)} µs CPU, ${sample.opened} new connections`)
  }
}

const base = median(samples.get(clients[0]![0])!.map((s) => s.rate))
console.log(
  `\n${requests} deliveries × ${rounds} rounds, concurrency ${concurrency}, ${bytes.length} B JSON, Node ${process.version}\n`
)
console.log("| client | deliveries/s | CPU µs/delivery | vs raw undici.request | connections |\n|---|---|---|---|---|")
for (const [name] of clients) {
  const these = samples.get(name)!
  const rate = median(these.map((s) => s.rate))
  const cpu = median(these.map((s) => s.cpu)).toFixed(1)
  console.log(`| ${name} | ${Math.round(rate)} | ${cpu} | ${(rate / base).toFixed(2)}× | ${warmUpConnections.get(name)} |`)
}

for (const runner of runners) await runner.dispose()
await Promise.all([agent64.close(), statsAgent.close()])
receiver.stop()
