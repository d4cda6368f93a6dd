import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as CoreEvents from "../src/servo/CoreEvents.js"
import * as Delivery from "../src/webhooks/Delivery.js"
import * as Receiver from "../src/webhooks/Receiver.js"
import * as Signature from "../src/webhooks/Signature.js"
import * as WebhookConfig from "../src/webhooks/WebhookConfig.js"
import * as WireContract from "../src/webhooks/WireContract.js"
import { until } from "./support/poll.js"
import { receiver as testReceiver } from "./support/receiver.js"
import { configs } from "./support/servo.js"

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
const otherSecret = "whsec_dGhlIG90aGVyIHNlY3JldCwgMjQgYnl0ZXMhIQ=="
const key = Either.getOrThrow(Signature.parseVerificationKey(secret))

/** Sends one before:adjust delivery to `url` through the real delivery code. */
const send = (url: string, options: { readonly secret?: string } = {}) =>
  Effect.gen(function*() {
    const [config] = configs([{
      name: "probe",
      event: "before:adjust",
      target: url,
      backoff: false,
      ...(options.secret === undefined ? {} : { secret: options.secret })
    }])
    const [webhook] = yield* WebhookConfig.resolve([config!])
    const sender = yield* Delivery.makeSender(webhook!)
    const payload = Either.getOrThrow(WireContract.encodePayload({
      event: CoreEvents.adjust,
      preposition: "before",
      params: { adjustments: [{ component: "web", setting: "replicas", value: 3 }] },
      createdAt: new Date()
    }))
    const id = WireContract.makeId()
    const outcome = yield* sender.send({ id, event: payload.event, body: payload.body(id) })
    return { id, outcome }
  }).pipe(Effect.provide(NodeHttpClient.layerUndici))

describe("Receiver", () => {
  it.scopedLive("verifies a signed delivery, reports it, and cancels it when the policy says so", () =>
    Effect.gen(function*() {
      const seen: Array<Receiver.Delivery> = []
      const receiver = yield* Receiver.make({
        keys: [key],
        policy: (request) => request.event === "before:adjust" ? Receiver.cancel("change freeze") : Receiver.accept,
        onDelivery: (delivery) => Effect.sync(() => seen.push(delivery))
      })
      expect(receiver.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/)
      expect(receiver.port).toBeGreaterThan(0)

      const { id, outcome } = yield* send(receiver.url, { secret })
      expect(outcome).toMatchObject({ _tag: "Cancelled", reason: "change freeze", status: 200 })
      // The callback runs once the answer is out: wait for it without a clock.
      yield* until("the delivery callback", () => seen.length > 0)
      const delivery = seen[0]!
      expect(delivery).toMatchObject({
        event: "before:adjust",
        id,
        path: "/",
        signature: { _tag: "Verified", scheme: "v1", keyIndex: 0 },
        decision: { _tag: "Cancel", reason: "change freeze" },
        status: 200
      })
      expect((delivery.json as any).parameters.adjustments[0].value).toBe(3)
      expect(yield* receiver.stats).toEqual({ received: 1, verified: 1, invalid: 0, unsigned: 0, unchecked: 0, cancelled: 1 })

      const line = Receiver.formatDelivery(delivery)
      expect(line).toMatch(/^\d\d:\d\d:\d\d\.\d{3}  before:adjust  msg_\S+  verified \(v1\)  → cancelled: change freeze  \{/)
      // The compact body leaves out what the line already says.
      expect(line).toContain(`{"parameters":{"adjustments":[{"component":"web","setting":"replicas","value":3}]}}`)
      expect(line).not.toContain("created_at")
    }))

  it.scopedLive("tells verified, invalid, unsigned and unchecked apart, and accepts with 204 by default", () =>
    Effect.gen(function*() {
      const checking = yield* Receiver.make({ keys: [key] })
      const trusting = yield* Receiver.make()

      const good = yield* send(checking.url, { secret })
      const forged = yield* send(checking.url, { secret: otherSecret })
      const plain = yield* send(checking.url)
      const unchecked = yield* send(trusting.url, { secret })
      for (const { outcome } of [good, forged, plain, unchecked]) {
        expect(outcome).toMatchObject({ _tag: "Delivered", status: 204 })
      }
      expect(yield* checking.stats).toEqual({ received: 3, verified: 1, invalid: 1, unsigned: 1, unchecked: 0, cancelled: 0 })
      expect(yield* trusting.stats).toEqual({ received: 1, verified: 0, invalid: 0, unsigned: 0, unchecked: 1, cancelled: 0 })
      expect(Receiver.formatSignature({ _tag: "Invalid", reason: "no_matching_signature: x" })).toBe(
        "INVALID (no_matching_signature: x)"
      )
      // Verified names the scheme that verified: v1 (HMAC, a whsec_ secret) or v1a (Ed25519).
      expect(Receiver.formatSignature({ _tag: "Verified", scheme: "v1", keyIndex: 0 })).toBe("verified (v1)")
      expect(Receiver.formatSignature({ _tag: "Verified", scheme: "v1a", keyIndex: 1 })).toBe("verified (v1a)")
    }))

  it.scopedLive("answers 405 to anything but POST, without reporting it", () =>
    Effect.gen(function*() {
      const seen: Array<Receiver.Delivery> = []
      const receiver = yield* Receiver.make({ onDelivery: (delivery) => Effect.sync(() => seen.push(delivery)) })
      const response = yield* Effect.promise(() => fetch(receiver.url))
      expect(response.status).toBe(405)
      expect(response.headers.get("allow")).toBe("POST")
      expect((yield* receiver.stats).received).toBe(0)
      expect(seen).toEqual([])
    }))

  it.scopedLive("fails with a one-line ReceiverError when the port is taken, and frees its port when closed", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const first = yield* Receiver.make().pipe(Scope.extend(scope))
      const error = yield* Receiver.make({ port: first.port }).pipe(Effect.flip)
      expect(error._tag).toBe("ReceiverError")
      expect(error.message).toBe(
        `cannot listen on 127.0.0.1:${first.port}: the address is already in use (choose another --port, or 0 for any free port)`
      )
      yield* Scope.close(scope, Exit.void)
      // Closed: the same port can be bound again.
      const again = yield* Receiver.make({ port: first.port })
      expect(again.port).toBe(first.port)
    }))
})

describe("Receiver: policies that return an Effect, and any answer", () => {
  it.scopedLive("an approval gate that asks another service over HTTP before answering", () =>
    Effect.gen(function*() {
      // The approval service: refuses adjustments of replicas above 2.
      const approvals = yield* testReceiver((request, response) => {
        const value = request.json.parameters.adjustments[0].value
        response.writeHead(200, { "content-type": "application/json" })
        response.end(JSON.stringify(value > 2 ? { approved: false, reason: `replicas ${value} needs a review` } : { approved: true }))
      })
      const receiver = yield* Receiver.make({
        keys: [key],
        policy: (request) =>
          Effect.tryPromise(() =>
            fetch(approvals.url, { method: "POST", body: new Uint8Array(request.body) }).then((response) => response.json())
          ).pipe(
            Effect.map((answer: any) => answer.approved === true ? Receiver.accept : Receiver.cancel(answer.reason))
          )
      })
      const { outcome } = yield* send(receiver.url, { secret })
      expect(outcome).toMatchObject({ _tag: "Cancelled", reason: "replicas 3 needs a review", status: 200 })
      expect(approvals.requests).toHaveLength(1)
      expect(yield* receiver.stats).toMatchObject({ received: 1, verified: 1, cancelled: 1 })
    }))

  it.scopedLive("the request waits for the policy's Effect: no answer until it completes", () =>
    Effect.gen(function*() {
      const asked = yield* Deferred.make<void>()
      const gate = yield* Deferred.make<Receiver.Decision>()
      const receiver = yield* Receiver.make({
        policy: () => Effect.zipRight(Deferred.succeed(asked, undefined), Deferred.await(gate))
      })
      const sending = yield* Effect.fork(send(receiver.url))
      yield* Deferred.await(asked)
      expect(yield* Fiber.poll(sending)).toEqual(Option.none())
      // Counted as it arrives; the cancellation once it is answered.
      expect(yield* receiver.stats).toMatchObject({ received: 1, unsigned: 1, cancelled: 0 })
      yield* Deferred.succeed(gate, Receiver.cancel("decided later"))
      const { outcome } = yield* Fiber.join(sending)
      expect(outcome).toMatchObject({ _tag: "Cancelled", reason: "decided later" })
      expect(yield* receiver.stats).toMatchObject({ received: 1, cancelled: 1 })
    }))

  it.scopedLive("a policy that fails, dies or throws is answered 500 with what went wrong", () =>
    Effect.gen(function*() {
      const policies: ReadonlyArray<readonly [Receiver.Policy, string]> = [
        [() => Effect.fail(new Error("approval service down")), "approval service down"],
        [() => Effect.die("bug"), "bug"],
        [() => {
          throw new Error("thrown")
        }, "thrown"]
      ]
      for (const [policy, message] of policies) {
        const receiver = yield* Receiver.make({ policy })
        const response = yield* Effect.promise(() => fetch(receiver.url, { method: "POST", body: "{}" }))
        expect(response.status).toBe(500)
        expect(yield* Effect.promise(() => response.text())).toBe(`the receiver's policy failed: ${message}\n`)
      }
    }))

  it.scopedLive("respond answers any status, headers and body; a relayed cancellation counts as cancelled", () =>
    Effect.gen(function*() {
      const seen: Array<Receiver.Delivery> = []
      const receiver = yield* Receiver.make({
        policy: (request) =>
          request.path === "/teapot"
            // A stale content-length from elsewhere must not frame the answer.
            ? Receiver.respond(418, { headers: { "x-why": "teapot", "content-length": "999" }, body: "short and stout" })
            : Effect.succeed(Receiver.respond(200, {
              headers: { "content-type": WireContract.cancelContentType },
              body: JSON.stringify({ reason: "relayed" })
            })),
        onDelivery: (delivery) => Effect.sync(() => void seen.push(delivery))
      })
      const teapot = yield* Effect.promise(() => fetch(`${receiver.url}teapot`, { method: "POST", body: "{}" }))
      expect(teapot.status).toBe(418)
      expect(teapot.headers.get("x-why")).toBe("teapot")
      expect(yield* Effect.promise(() => teapot.text())).toBe("short and stout")
      const { outcome } = yield* send(receiver.url)
      expect(outcome).toMatchObject({ _tag: "Cancelled", reason: "relayed" })
      yield* until("both deliveries reported", () => seen.length === 2)
      expect(seen.map((delivery) => [delivery.decision._tag, delivery.status])).toEqual([["Respond", 418], ["Respond", 200]])
      expect(yield* receiver.stats).toMatchObject({ received: 2, cancelled: 1 })
      expect(Receiver.formatDelivery(seen[0]!, "a note")).toMatch(/  → 418 \(a note\)  \{\}$/)
    }))

  it("formatDelivery escapes what the network sent: an event cannot clear the screen or forge a line", () => {
    const event = "\u001b[2J\u001b[Hbefore:adjust  msg_x  verified (v1)  → 204\n"
    const line = Receiver.formatDelivery({
      event,
      id: "msg_\u009b1m",
      path: "/",
      headers: {},
      body: new TextEncoder().encode(JSON.stringify({ event })),
      json: { event },
      signature: { _tag: "Unsigned" },
      receivedAt: new Date(),
      decision: Receiver.accept,
      status: 204
    })
    expect(line).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/)
    expect(line).toContain("\\x1b[2J\\x1b[Hbefore:adjust  msg_x  verified (v1)  → 204\\x0a  msg_\\x9b1m  unsigned  → 204")
  })
})
