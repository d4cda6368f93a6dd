/**
 * Prints the exact requests a receiver gets: a signed before:adjust and an after:measure, from a
 * servo with the simulator. The README's "Example Webhook Requests" come from this script.
 *
 *   npm run build && node dist/examples/requests.js
 */
import * as UndiciHttpClient from "../src/webhooks/UndiciHttpClient.js"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { CoreEvents, EventBus, Simulator, WebhookConfig, Webhooks } from "servo-webhooks"

const printed: Array<string> = []
const server = http.createServer((request, response) => {
  const chunks: Array<Buffer> = []
  request.on("data", (chunk: Buffer) => chunks.push(chunk))
  request.on("end", () => {
    const headers = Object.entries(request.headers).map(([name, value]) => `${name}: ${value}`).join("\n")
    const body = JSON.stringify(JSON.parse(Buffer.concat(chunks).toString("utf8")), null, 2)
    printed.push(`${request.method} ${request.url} HTTP/${request.httpVersion}\n${headers}\n\n${body}`)
    response.writeHead(204).end()
  })
})
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
const target = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

const configs = Schema.decodeUnknownSync(WebhookConfig.WebhooksConfig(CoreEvents.registry))([
  {
    name: "approve_adjustments",
    event: "before:adjust",
    target: `${target}/approve`,
    authentication: { bearer_token: "s3cr3t-token" },
    secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    backoff: false
  },
  {
    name: "store_measurements",
    event: "after:measure",
    target: `${target}/measurements`,
    headers: [{ name: "x-team", value: "performance" }]
  }
])

await Effect.gen(function*() {
  yield* EventBus.dispatch(CoreEvents.adjust, { adjustments: [{ component: "web", setting: "replicas", value: 3 }] })
  yield* EventBus.dispatch(CoreEvents.measure, { metrics: ["throughput", "latency"] })
}).pipe(
  Effect.provide(
    Layer.mergeAll(Webhooks.layer(configs), Simulator.layer({ seed: 1, noise: 0.05, demand: 1000 })).pipe(
      Layer.provideMerge(EventBus.layer),
      Layer.provide(UndiciHttpClient.layer)
    )
  ),
  Effect.runPromise
)
server.close()
console.log(printed.join("\n\n---\n\n"))
