import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import { Ajv } from "ajv"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Random from "effect/Random"
import * as Ref from "effect/Ref"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import { Webhook as StandardWebhook } from "standardwebhooks"
import * as CoreEvents from "../src/servo/CoreEvents.js"
import * as EventBus from "../src/servo/EventBus.js"
import { CancelEventError } from "../src/servo/EventError.js"
import * as Signature from "../src/webhooks/Signature.js"
import * as WebhookConfig from "../src/webhooks/WebhookConfig.js"
import * as Webhooks from "../src/webhooks/Webhooks.js"
import * as Metrics from "../src/webhooks/internal/metrics.js"
import * as WireContract from "../src/webhooks/WireContract.js"
import { awaitSleep, step } from "./support/clock.js"
import { makePki } from "./support/pki.js"
import { eventually } from "./support/poll.js"
import { cancel, closedPort, gate, never, ok, receiver, sequence, status } from "./support/receiver.js"
import { connectProxy, httpsServer } from "./support/servers.js"
import {
  captureLogs,
  configs,
  type LogLine,
  recordSpans,
  type RecordedSpan,
  servoLayer,
  uniqueName,
  webhooksLayer
} from "./support/servo.js"

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

/** Runs `f` with a servo built in a scope of its own, closed (and drained) at the end. */
const withServo = <A, E>(layer: Layer.Layer<EventBus.EventBus | Webhooks.Webhooks, unknown>, f: Effect.Effect<A, E, EventBus.EventBus | Webhooks.Webhooks>) =>
  Effect.scoped(Effect.flatMap(Layer.build(layer), (context) => Effect.provide(f, context)))

describe("Webhooks: what receivers get", () => {
  it.scoped("before:measure reaches the receiver with the event's parameters before any on handler runs", () =>
    Effect.gen(function*() {
      const server = yield* receiver(ok)
      const seenByOn = yield* Ref.make(-1)
      yield* withServo(
        webhooksLayer([{ event: "before:measure", target: server.url }]),
        Effect.gen(function*() {
          const probe = yield* EventBus.connector("probe")
          yield* probe.on(CoreEvents.measure, () =>
            Ref.set(seenByOn, server.requests.length).pipe(Effect.as({ readings: [] })))
          const results = yield* EventBus.dispatch(CoreEvents.measure, { metrics: ["throughput"] })
          expect(results).toEqual([{ connector: "probe", value: { readings: [] } }])
        }).pipe(Effect.scoped)
      )
      expect(yield* Ref.get(seenByOn)).toBe(1)
      const body = server.requests[0]!.json
      expect(body.event).toBe("before:measure")
      expect(body.parameters).toEqual({ metrics: ["throughput"] })
      expect(body).not.toHaveProperty("results")
      expect(body.id).toMatch(/^msg_[A-Za-z0-9_-]{22}$/)
      expect(new Date(body.created_at).toISOString()).toBe(body.created_at)
    }))

  it.scoped("after:measure carries every connector's result, in order, with the connector names", () =>
    Effect.gen(function*() {
      const server = yield* receiver(ok)
      yield* withServo(
        servoLayer([{ event: "after:measure", target: server.url }]),
        Effect.gen(function*() {
          const probe = yield* EventBus.connector("probe")
          yield* probe.on(CoreEvents.measure, () => Effect.succeed({ readings: [] }))
          yield* EventBus.dispatch(CoreEvents.measure, { metrics: ["latency"] })
          yield* server.waitFor(1)
        }).pipe(Effect.scoped)
      )
      const body = server.requests[0]!.json
      expect(body.event).toBe("after:measure")
      expect(body.parameters).toEqual({ metrics: ["latency"] })
      expect(body.results.map((r: any) => r.connector)).toEqual(["simulator", "probe"])
      expect(body.results[0].value.readings[0].metric).toEqual({ name: "latency", unit: "ms" })
      expect(typeof body.results[0].value.readings[0].time).toBe("string")
      expect(body.results[1].value).toEqual({ readings: [] })
    }))

  it.scoped("after an event no connector handled, results is []", () =>
    Effect.gen(function*() {
      const server = yield* receiver(ok)
      yield* withServo(
        webhooksLayer([{ event: "after:describe", target: server.url }]),
        EventBus.dispatch(CoreEvents.describe, {}).pipe(Effect.zipRight(server.waitFor(1)))
      )
      expect(server.requests[0]!.json.results).toEqual([])
    }))

  it.scopedLive("sends the wire contract's headers, configured headers, bearer auth and a verifiable signature", () =>
    Effect.gen(function*() {
      const server = yield* receiver(ok)
      yield* withServo(
        servoLayer([{
          event: "after:adjust",
          target: server.url,
          headers: [{ name: "x-some-header", value: "some value" }],
          authentication: { bearer_token: "tok-123" },
          secret
        }]),
        EventBus.dispatch(CoreEvents.adjust, { adjustments: [{ component: "web", setting: "replicas", value: 3 }] }).pipe(
          Effect.zipRight(server.waitFor(1))
        )
      )
      const { body, headers, json, method, path } = server.requests[0]!
      expect(method).toBe("POST")
      expect(path).toBe("/hook")
      expect(headers["content-type"]).toBe("application/vnd.opsani.servo-webhooks+json; version=1")
      expect(headers["user-agent"]).toBe("servo-webhooks/0.1.0")
      expect(headers["servo-event"]).toBe("after:adjust")
      expect(headers["x-some-header"]).toBe("some value")
      expect(headers["authorization"]).toBe("Bearer tok-123")
      expect(headers["webhook-id"]).toBe(json.id)
      expect(Math.abs(Number(headers["webhook-timestamp"]) - Date.now() / 1000)).toBeLessThan(60)
      expect(headers["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/]+=*$/)
      expect(headers).not.toHaveProperty("traceparent")
      expect(headers).not.toHaveProperty("b3")
      // An independent verifier, over the exact bytes received.
      const verified = new StandardWebhook(secret).verify(body.toString("utf8"), {
        "webhook-id": headers["webhook-id"] as string,
        "webhook-timestamp": headers["webhook-timestamp"] as string,
        "webhook-signature": headers["webhook-signature"] as string
      })
      expect(verified).toEqual(json)
    }))

  it.scoped("basic authentication produces the right authorization; unsigned hooks send no signature", () =>
    Effect.gen(function*() {
      const server = yield* receiver(ok)
      yield* withServo(
        webhooksLayer([{ event: "before:describe", target: server.url, authentication: { basic: { username: "me", password: "p@ss:word" } } }]),
        EventBus.dispatch(CoreEvents.describe, {})
      )
      const { headers } = server.requests[0]!
      expect(headers["authorization"]).toBe(`Basic ${Buffer.from("me:p@ss:word").toString("base64")}`)
      expect(headers).not.toHaveProperty("webhook-signature")
    }))

  it.scoped("bodies validate against the JSON Schema that `schema` prints", () =>
    Effect.gen(function*() {
      const server = yield* receiver(ok)
      yield* withServo(
        servoLayer([{ events: ["before:adjust", "after:measure"], target: server.url }]),
        Effect.gen(function*() {
          yield* EventBus.dispatch(CoreEvents.adjust, { adjustments: [{ component: "web", setting: "cpu", value: 2 }] })
          yield* EventBus.dispatch(CoreEvents.measure, {})
          yield* server.waitFor(2)
        })
      )
      const ajv = new Ajv({ strict: false })
      for (const [preposition, event, index] of [["before", CoreEvents.adjust, 0], ["after", CoreEvents.measure, 1]] as const) {
        const validate = ajv.compile(WireContract.jsonSchema(event, preposition))
        const body = server.requests[index]!.json
        expect(validate(body), JSON.stringify(validate.errors)).toBe(true)
        expect(validate({ ...body, event: "after:other" })).toBe(false)
      }
    }))
})

describe("Webhooks: cancellation", () => {
  const adjust = { adjustments: [{ component: "web", setting: "replicas", value: 5 }] }

  it.scoped("a before webhook's cancellation fails the event with the reason and the webhook's name; nothing else runs", () =>
    Effect.gen(function*() {
      const guard = yield* receiver(cancel("Adjustments are only permitted between midnight and 3am."))
      const audit = yield* receiver(ok)
      yield* withServo(
        servoLayer([
          { name: "approve_adjustments", event: "before:adjust", target: guard.url },
          { name: "audit", event: "after:adjust", target: audit.url }
        ], { name: "hooks" }),
        Effect.gen(function*() {
          const error = yield* Effect.flip(EventBus.dispatch(CoreEvents.adjust, adjust))
          expect(error).toBeInstanceOf(CancelEventError)
          expect(error).toMatchObject({
            reason: "Adjustments are only permitted between midnight and 3am.",
            event: "adjust",
            connector: "hooks",
            handler: "approve_adjustments"
          })
          // The simulator's on handler never ran: replicas are still 2.
          const [described] = yield* EventBus.dispatch(CoreEvents.describe, {})
          expect(described!.value.components[0]!.settings.find((s) => s.name === "replicas")!.value).toBe(2)
        })
      )
      expect(guard.requests).toHaveLength(1)
      expect(audit.requests).toHaveLength(0)
    }))

  it.scoped("a cancel body that is not valid JSON still cancels, with a reason saying so", () =>
    Effect.gen(function*() {
      const guard = yield* receiver(status(200, { "content-type": "application/vnd.opsani.servo.errors.CancelEventError+json" }, "nope{"))
      const error = yield* withServo(
        servoLayer([{ event: "before:adjust", target: guard.url }]),
        Effect.flip(EventBus.dispatch(CoreEvents.adjust, adjust))
      )
      expect(error._tag).toBe("CancelEventError")
      expect((error as CancelEventError).reason).toBe(`the receiver cancelled with a body that is not valid JSON: "nope{"`)
    }))

  it.scoped("the first cancellation wins and interrupts the other before webhooks", () =>
    Effect.gen(function*() {
      const fast = yield* receiver(cancel("no"))
      const stuck = yield* receiver(never)
      const error = yield* withServo(
        servoLayer([
          { name: "stuck", event: "before:adjust", target: stuck.url },
          { name: "fast", event: "before:adjust", target: fast.url }
        ]),
        Effect.flip(EventBus.dispatch(CoreEvents.adjust, adjust))
      )
      expect(error).toMatchObject({ _tag: "CancelEventError", handler: "fast", reason: "no" })
      expect(stuck.requests).toHaveLength(1)
    }))

  it.scoped("the same answer to an after webhook is logged and ignored", () =>
    Effect.gen(function*() {
      const logs: Array<LogLine> = []
      const server = yield* receiver(cancel("too late"))
      yield* withServo(
        servoLayer([{ name: "late", event: "after:adjust", target: server.url }]),
        Effect.gen(function*() {
          const results = yield* EventBus.dispatch(CoreEvents.adjust, adjust)
          expect(results).toHaveLength(1)
        })
      ).pipe(Effect.provide(captureLogs(logs)))
      const warning = logs.find((line) => line.message.includes("cannot cancel"))
      expect(warning?.message).toBe("an after webhook cannot cancel an event; ignored: too late")
      expect(warning?.annotations).toMatchObject({ webhook: "late", event: "after:adjust" })
    }))

  it.scoped("on_failure: cancel fails the event when a before webhook cannot be delivered; ignore lets it run", () =>
    Effect.gen(function*() {
      const port = yield* closedPort
      const target = `http://127.0.0.1:${port}/hook`
      const cancelled = yield* withServo(
        servoLayer([{ name: "gate", event: "before:adjust", target, on_failure: "cancel", backoff: false }], { name: "strict" }),
        Effect.flip(EventBus.dispatch(CoreEvents.adjust, adjust))
      )
      expect(cancelled).toMatchObject({
        _tag: "CancelEventError",
        handler: "gate",
        connector: "strict",
        reason: "webhook gate failed: connection refused"
      })
      const logs: Array<LogLine> = []
      const results = yield* withServo(
        servoLayer([{ name: "gate", event: "before:adjust", target, on_failure: "ignore", backoff: false }]),
        EventBus.dispatch(CoreEvents.adjust, adjust)
      ).pipe(Effect.provide(captureLogs(logs)))
      expect(results[0]!.value.components[0]!.settings.find((s) => s.name === "replicas")!.value).toBe(5)
      expect(logs.map((l) => l.message)).toContain("before webhook failed; adjust goes on (on_failure: ignore): connection refused")
    }))
})

describe("Webhooks: the outbox", () => {
  it.scoped("dispatch returns before a slow receiver answers", () =>
    Effect.gen(function*() {
      const held = gate()
      const server = yield* receiver(held.responder)
      yield* withServo(
        servoLayer([{ event: "after:measure", target: server.url }]),
        Effect.gen(function*() {
          const results = yield* EventBus.dispatch(CoreEvents.measure, {})
          expect(results).toHaveLength(1)
          yield* server.waitFor(1)
          expect(held.held()).toBe(1)
          const stats = yield* Effect.flatMap(Webhooks.Webhooks, (w) => w.stats)
          expect(stats.after).toMatchObject({ enqueued: 1, pending: 1, delivered: 0 })
          held.open()
        })
      )
    }))

  it.live("10 events to a slow receiver are all delivered by the drain at scope close", () =>
    Effect.gen(function*() {
      // Slow until told otherwise: it holds every answer until the 10 dispatches are done.
      const held = gate()
      const server = yield* receiver(held.responder)
      let stats: Effect.Effect<Webhooks.Stats> = Effect.die("unset")
      yield* withServo(
        // Real time: a drain deadline no machine nears, so "all delivered" is the only outcome.
        servoLayer([{ event: "after:measure", target: server.url }], { workers: 2, drainTimeout: "1 minute" }),
        Effect.gen(function*() {
          stats = (yield* Webhooks.Webhooks).stats
          for (let i = 0; i < 10; i++) yield* EventBus.dispatch(CoreEvents.measure, {})
          expect(server.requests.length).toBeLessThan(10)
          held.open()
        })
      )
      expect(server.requests).toHaveLength(10)
      expect(new Set(server.requests.map((r) => r.json.id)).size).toBe(10)
      expect((yield* stats).after).toMatchObject({ enqueued: 10, delivered: 10, abandoned: 0, pending: 0, overflowed: 0 })
    }).pipe(Effect.scoped))

  it.scoped("past capacity, overflow is counted and logged, and nothing crashes", () =>
    Effect.gen(function*() {
      const logs: Array<LogLine> = []
      const held = gate()
      const server = yield* receiver(held.responder)
      let stats: Effect.Effect<Webhooks.Stats> = Effect.die("unset")
      yield* withServo(
        servoLayer([{ name: "sink", event: "after:measure", target: server.url }], { outboxCapacity: 5, workers: 1 }),
        Effect.gen(function*() {
          stats = (yield* Webhooks.Webhooks).stats
          yield* EventBus.dispatch(CoreEvents.measure, {})
          yield* server.waitFor(1) // the one attempt slot holds the first delivery
          for (let i = 0; i < 19; i++) yield* EventBus.dispatch(CoreEvents.measure, {})
          // The capacity counts every delivery not finished: queued, in flight or waiting to retry.
          expect((yield* stats).after).toMatchObject({ enqueued: 5, overflowed: 15, pending: 5 })
          held.open()
        })
      ).pipe(Effect.provide(captureLogs(logs)))
      expect((yield* stats).after).toMatchObject({ enqueued: 5, overflowed: 15, delivered: 5, pending: 0, abandoned: 0 })
      expect(server.requests).toHaveLength(5)
      const overflow = logs.filter((line) => line.message.startsWith("outbox full"))
      expect(overflow.length).toBeGreaterThanOrEqual(1)
      expect(overflow[0]!.message).toBe("outbox full (5 pending): dropped 1 after delivery")
      // The lines add up to every drop: the drain reports what was left of the burst.
      const dropped = overflow.map((line) => Number(/dropped (\d+)/.exec(line.message)![1]))
      expect(dropped.reduce((a, b) => a + b, 0)).toBe(15)
    }))

  it.scoped("a delivery waiting to retry holds no attempt slot: a failing receiver cannot starve the others", () =>
    Effect.gen(function*() {
      const failing = yield* receiver(status(503))
      const healthy = yield* receiver(ok)
      let stats: Effect.Effect<Webhooks.Stats> = Effect.die("unset")
      const run = withServo(
        servoLayer([
          { name: "failing", event: "after:measure", target: failing.url, backoff: { retries: 1 } },
          { name: "healthy", event: "after:measure", target: healthy.url }
        ], { workers: 1 }),
        Effect.gen(function*() {
          stats = (yield* Webhooks.Webhooks).stats
          for (let i = 0; i < 3; i++) yield* EventBus.dispatch(CoreEvents.measure, {})
          // With one slot, the healthy deliveries go through while the failing ones wait to retry,
          // and no clock has moved.
          yield* eventually("3 delivered", stats, ({ after }) => after.delivered === 3)
          yield* failing.waitFor(3)
          yield* awaitSleep("1 second")
          expect((yield* stats).after).toMatchObject({ delivered: 3, failed: 0, pending: 3 })
          yield* TestClock.adjust("1 second")
          yield* failing.waitFor(6)
        })
      ).pipe(Effect.withRandom(Random.fixed([0.5])))
      yield* run
      expect((yield* stats).after).toMatchObject({ enqueued: 6, delivered: 3, failed: 3, pending: 0 })
    }))

  it.effect("shutdown drains within the deadline, then logs what was abandoned, per webhook", () => {
    const logs: Array<LogLine> = []
    return Effect.gen(function*() {
      const stuck = yield* receiver(never)
      const fine = yield* receiver(ok)
      const scope = yield* Scope.make()
      const layer = servoLayer([
        // Three attempts in flight at once (the default share of 4 workers would be 2).
        { name: "stuck", event: "after:measure", target: stuck.url, request_timeout: "1h", max_in_flight: 3 },
        // A timeout of its own: TestClock keeps finished sleeps listed, and the drain's wait must
        // be the only one of 10 seconds.
        { name: "fine", event: "after:measure", target: fine.url, request_timeout: "30s" }
      ], { workers: 4, drainTimeout: "10 seconds" })
      const context = yield* Layer.buildWithScope(layer, scope)
      const webhooks = yield* Effect.provide(Webhooks.Webhooks, context)
      for (let i = 0; i < 3; i++) yield* Effect.provide(EventBus.dispatch(CoreEvents.measure, {}), context)
      yield* fine.waitFor(3)
      yield* stuck.waitFor(3)
      const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
      yield* awaitSleep("10 seconds")
      yield* TestClock.adjust("10 seconds")
      yield* Fiber.join(closing)
      const stats = yield* webhooks.stats
      expect(stats.after).toMatchObject({ enqueued: 6, delivered: 3, abandoned: 3, pending: 0 })
      const report = logs.find((line) => line.message.startsWith("shutdown:"))
      expect(report?.message).toBe("shutdown: 3 after deliveries abandoned after the 10s drain deadline: stuck 3")
      // Finalizers log with the logger of the fiber that built the layer.
    }).pipe(Effect.scoped, Effect.provide(captureLogs(logs)))
  })

  it.scoped("an instance's stats count from its start, though metrics are process-wide", () =>
    Effect.gen(function*() {
      const server = yield* receiver(ok)
      const name = uniqueName()
      const once = withServo(
        webhooksLayer([{ name: "same", event: "before:describe", target: server.url }], { name }),
        Effect.flatMap(EventBus.dispatch(CoreEvents.describe, {}), () => Effect.flatMap(Webhooks.Webhooks, (w) => w.stats))
      )
      expect((yield* once).before.delivered).toBe(1)
      expect((yield* once).before.delivered).toBe(1)
      expect(server.requests).toHaveLength(2)
    }))

  it.scoped("two instances on one bus never deliver each other's webhooks", () =>
    Effect.gen(function*() {
      const a = yield* receiver(ok)
      const b = yield* receiver(ok)
      const layer = Layer.mergeAll(
        Webhooks.layer(configs([{ name: "same", event: "before:measure", target: a.url }]), { name: uniqueName() }),
        Webhooks.layer(configs([{ name: "same", event: "before:adjust", target: b.url }]), { name: uniqueName() })
      ).pipe(Layer.provideMerge(EventBus.layer), Layer.provide(NodeHttpClient.layerUndici))
      yield* withServo(layer, EventBus.dispatch(CoreEvents.measure, {}))
      expect(a.requests).toHaveLength(1)
      expect(b.requests).toHaveLength(0)
    }))
})

describe("Webhooks: secrets stay secret", () => {
  const token = "TOKEN-7f3a9c-DISTINCT"
  const password = "PASSWORD-b41e-DISTINCT"
  const signingBytes = "SIGNINGSECRET-distinct-0123456789"
  const signingSecret = `whsec_${Buffer.from(signingBytes).toString("base64")}`
  const needles = [token, password, signingBytes, signingSecret.slice(6), Buffer.from(`me:${password}`).toString("base64")]
  const proxyPassword = "PROXYPASS-91c2-DISTINCT"
  const headerSecret = "HEADERSECRET-5d7e-DISTINCT"
  const querySecret = "QUERYSECRET-33af-DISTINCT"

  it.scoped("no token, password, signing key, TLS key, proxy credential, secret header or query value in any log line, error message or span attribute", () =>
    Effect.gen(function*() {
      const logs: Array<LogLine> = []
      const spans: Array<RecordedSpan> = []
      const failing = yield* receiver(status(503, {}, "unavailable"))
      const refusing = yield* receiver(status(401, {}, "who are you"))
      const errors: Array<string> = []
      yield* withServo(
        servoLayer([
          { name: "bearer", event: "before:adjust", target: failing.url, authentication: { bearer_token: token }, secret: signingSecret, on_failure: "cancel", backoff: false, trace_propagation: true },
          { name: "basic", event: "after:measure", target: refusing.url, authentication: { basic: { username: "me", password } }, secret: signingSecret }
        ]),
        Effect.gen(function*() {
          const cancelled = yield* Effect.flip(EventBus.dispatch(CoreEvents.adjust, { adjustments: [] }))
          errors.push(cancelled.message, String(cancelled), JSON.stringify(cancelled))
          yield* EventBus.dispatch(CoreEvents.measure, {})
          yield* refusing.waitFor(1)
        })
      ).pipe(Effect.provide(Layer.merge(captureLogs(logs), recordSpans(spans))))
      // A config whose secret is wrong, with distinctive content: the error must not echo it.
      const badSecret = `whsec_${Buffer.from("SHORT-distinct").toString("base64")}`
      const invalid = yield* Effect.flip(Layer.build(webhooksLayer([{ event: "after:measure", target: failing.url, secret: badSecret }])))
      errors.push(invalid.message, JSON.stringify(invalid))

      // The newer secrets: TLS key material, proxy credentials, secret headers, signing keys and
      // query values, on deliveries that succeed and fail, with client spans on.
      const pki = yield* Effect.promise(makePki)
      const mtls = yield* httpsServer({ ...pki.server, clientCa: pki.ca })
      const proxy = yield* connectProxy(`me:${proxyPassword}`)
      const signingKey = Signature.generateKeyPair().signingKey
      const clientKeyLines = pki.client.key.split("\n").filter((line) => line.length > 40)
      yield* withServo(
        servoLayer([
          {
            name: "mtls",
            event: "before:describe",
            target: `https://localhost:${mtls.port}/hook?token=${querySecret}`,
            tls: { ca: pki.ca, cert: pki.client.cert, key: pki.client.key },
            proxy: proxy.url(`me:${proxyPassword}`),
            headers: [{ name: "x-api-token", value: headerSecret, secret: true }, { name: "x-plain", value: "visible" }],
            signing_key: signingKey,
            trace_propagation: true
          },
          {
            name: "wrong-proxy-password",
            event: "before:describe",
            target: `https://localhost:${mtls.port}/hook`,
            tls: { ca: pki.ca, insecure_skip_verify: true },
            proxy: proxy.url(`me:${proxyPassword}-but-wrong`),
            backoff: false,
            trace_propagation: true
          }
        ]),
        EventBus.dispatch(CoreEvents.describe, {})
      ).pipe(Effect.provide(Layer.merge(captureLogs(logs), recordSpans(spans))))
      expect(mtls.hits).toHaveLength(1)
      expect(mtls.hits[0]!.headers["x-api-token"]).toBe(headerSecret)
      expect(proxy.tunnels).toHaveLength(2)
      expect(logs.some((line) => line.message.includes("wrong-proxy-password: tls.insecure_skip_verify is set"))).toBe(true)
      const clientSpan = spans.find((span) => span.attributes.get("http.request.header.x-api-token") !== undefined)
      expect(clientSpan?.attributes.get("http.request.header.x-api-token")).toBe("<redacted>")
      expect(clientSpan?.attributes.get("http.request.header.x-plain")).toBe("visible")
      expect(clientSpan?.attributes.get("url.full")).toBe(`https://localhost:${mtls.port}/hook?token=REDACTED`)
      // Start-up errors about the new fields: a key that does not match its certificate, a proxy
      // URL that is not http(s), a secret header whose value breaks the line.
      const invalidTransport = yield* Effect.flip(Layer.build(webhooksLayer([
        { event: "after:measure", target: mtls.url(), tls: { cert: pki.server.cert, key: pki.client.key } },
        { event: "after:measure", target: mtls.url(), proxy: `socks9://me:${proxyPassword}@127.0.0.1:1` },
        { event: "after:measure", target: mtls.url(), signing_key: signingKey.slice(0, -8) }
      ])))
      expect(invalidTransport.issues).toHaveLength(3)
      errors.push(invalidTransport.message, JSON.stringify(invalidTransport))
      const listed = WebhookConfig.redactedHeaders(configs([
        { event: "after:measure", target: mtls.url(), headers: [{ name: "x-api-token", value: headerSecret, secret: true }] }
      ])[0]!)
      expect(listed).toEqual([{ name: "x-api-token", value: "REDACTED" }])
      errors.push(JSON.stringify(listed), WebhookConfig.redactTarget(proxy.url(`me:${proxyPassword}`)))

      expect(failing.requests[0]!.headers["authorization"]).toBe(`Bearer ${token}`)
      expect(logs.some((line) => line.level === "WARN")).toBe(true)
      expect(spans.some((span) => span.name === "Webhooks.deliver")).toBe(true)
      expect(spans.some((span) => span.name.startsWith("http.client"))).toBe(true)
      const haystacks = [
        ...logs.map((line) => line.text),
        ...errors,
        ...spans.flatMap((span) => [span.name, ...[...span.attributes].map(([key, value]) => `${key}=${String(value)}`)])
      ]
      const newNeedles = [
        proxyPassword,
        Buffer.from(`me:${proxyPassword}`).toString("base64"),
        headerSecret,
        querySecret,
        signingKey.slice(5, 40),
        ...clientKeyLines
      ]
      expect(clientKeyLines.length).toBeGreaterThan(0)
      for (const needle of [...needles, ...newNeedles, badSecret.slice(6), "SHORT-distinct"]) {
        for (const haystack of haystacks) expect(haystack).not.toContain(needle)
      }
    }))
})

describe("Webhooks: observability", () => {
  it.scoped("logs carry webhook, event, delivery id and attempt; a span per delivery; metrics by outcome", () =>
    Effect.gen(function*() {
      const logs: Array<LogLine> = []
      const spans: Array<RecordedSpan> = []
      const server = yield* receiver(sequence(status(503), status(400)))
      const name = uniqueName()
      let stats: Effect.Effect<Webhooks.Stats> = Effect.die("unset")
      const fiber = yield* Effect.fork(
        withServo(
          webhooksLayer([{ name: "observed", event: "before:describe", target: server.url }], { name }),
          Effect.flatMap(Webhooks.Webhooks, (webhooks) => {
            stats = webhooks.stats
            return EventBus.dispatch(CoreEvents.describe, {})
          })
        ).pipe(Effect.provide(Layer.merge(captureLogs(logs), recordSpans(spans))), Effect.withRandom(Random.fixed([0.5])))
      )
      yield* server.waitFor(1)
      yield* step("1 second")
      yield* Fiber.join(fiber)

      const attemptLog = logs.find((line) => line.message.startsWith("attempt 1 failed"))
      expect(attemptLog?.message).toBe("attempt 1 failed: HTTP 503")
      expect(attemptLog?.level).toBe("DEBUG")
      const id = server.requests[0]!.headers["webhook-id"]
      expect(attemptLog?.annotations).toEqual({ webhook: "observed", event: "before:describe", delivery_id: id, attempt: 1 })
      const final = logs.find((line) => line.message.startsWith("delivery failed"))
      expect(final?.message).toBe("delivery failed after 2 attempts: HTTP 400")
      expect(final?.annotations).toMatchObject({ webhook: "observed", delivery_id: id })

      const deliveries = spans.filter((span) => span.name === "Webhooks.deliver")
      expect(deliveries).toHaveLength(1)
      expect(Object.fromEntries(deliveries[0]!.attributes)).toMatchObject({
        webhook: "observed",
        event: "before:describe",
        delivery_id: id,
        outcome: "Failed",
        attempts: 2
      })

      const tags = { connector: name, webhook: "observed" }
      expect(yield* Metrics.count(Metrics.deliveriesTotal, { ...tags, preposition: "before", outcome: "failed" })).toBe(1)
      expect(yield* Metrics.count(Metrics.deliveriesTotal, { ...tags, preposition: "before", outcome: "delivered" })).toBe(0)
      expect(yield* Metrics.count(Metrics.attemptsTotal, tags)).toBe(2)
      const latency = yield* Metric.value(Metrics.tagged(Metrics.deliveryDuration, tags))
      expect(latency.count).toBe(1)
      expect(latency.max).toBe(1000) // the one-second wait, on the TestClock
      expect((yield* stats).before).toEqual({ delivered: 0, cancelled: 0, failed: 1 })
    }))
})
