import { describe, expect, it } from "@effect/vitest"
import { serve } from "@hono/node-server"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as ExpressResponder from "../examples/responders/express.js"
import * as HonoResponder from "../examples/responders/hono.js"
import * as CoreEvents from "../src/servo/CoreEvents.js"
import * as EventBus from "../src/servo/EventBus.js"
import * as Simulator from "../src/servo/Simulator.js"
import * as Signature from "../src/webhooks/Signature.js"
import * as UndiciHttpClient from "../src/webhooks/UndiciHttpClient.js"
import * as WebhookConfig from "../src/webhooks/WebhookConfig.js"
import * as Webhooks from "../src/webhooks/Webhooks.js"

// The README's "Implementing Webhook Responders" examples, run against real deliveries.
const secret = Signature.generateSecret()

const listening = (start: () => http.Server) =>
  Effect.acquireRelease(
    Effect.async<http.Server>((resume) => {
      const server = start()
      server.once("listening", () => resume(Effect.succeed(server)))
    }),
    (server) => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
  ).pipe(Effect.map((server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks`))

const servers = {
  express: listening(() => ExpressResponder.responder(secret).listen(0, "127.0.0.1")),
  hono: listening(() =>
    serve({ fetch: HonoResponder.responder(secret).fetch, port: 0, hostname: "127.0.0.1" }) as http.Server
  )
}

const adjust = (replicas: number) =>
  EventBus.dispatch(CoreEvents.adjust, { adjustments: [{ component: "web", setting: "replicas", value: replicas }] })

const servo = (target: string, key: string) =>
  Layer.mergeAll(
    Webhooks.layer(Schema.decodeUnknownSync(WebhookConfig.WebhooksConfig(CoreEvents.registry))([
      { name: "gate", event: "before:adjust", target, secret: key, on_failure: "cancel", backoff: false }
    ])),
    Simulator.layer({ seed: 1, noise: 0, demand: 1000 })
  ).pipe(Layer.provideMerge(EventBus.layer), Layer.provide(UndiciHttpClient.layer))

describe.each(["express", "hono"] as const)("the README's %s responder", (framework) => {
  it.scopedLive("lets a verified adjustment through and cancels one it refuses, with its reason", () =>
    Effect.gen(function*() {
      const target = yield* servers[framework]
      yield* Effect.gen(function*() {
        const results = yield* adjust(3)
        expect(results.map((result) => result.connector)).toEqual(["simulator"])
        const refused = yield* Effect.flip(adjust(9))
        expect(refused._tag).toBe("CancelEventError")
        expect(refused.message).toContain("at most 5 replicas")
      }).pipe(Effect.provide(servo(target, secret)))
    }))

  it.scopedLive("refuses a delivery signed with another secret (400), which cancels under on_failure: cancel", () =>
    Effect.gen(function*() {
      const target = yield* servers[framework]
      const refused = yield* Effect.flip(Effect.provide(adjust(3), servo(target, Signature.generateSecret())))
      expect(refused._tag).toBe("CancelEventError")
      expect(refused.message).toContain("HTTP 400: invalid signature")
    }))
})
