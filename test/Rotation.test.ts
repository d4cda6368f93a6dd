/**
 * Signing keys from the config, through real deliveries: rotation (a list of secrets, every key
 * signs) verified by independent libraries, and Ed25519 (`signing_key: whsk_…`) reproducing the
 * Standard Webhooks test vector end to end.
 */
import { describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as TestClock from "effect/TestClock"
import { Webhook as StandardWebhook } from "standardwebhooks"
import { Webhook as SvixWebhook } from "svix"
import * as EventBus from "../src/servo/EventBus.js"
import * as CoreEvents from "../src/servo/CoreEvents.js"
import * as Delivery from "../src/webhooks/Delivery.js"
import * as Signature from "../src/webhooks/Signature.js"
import * as WebhookConfig from "../src/webhooks/WebhookConfig.js"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Layer from "effect/Layer"
import { ok, receiver, type Received } from "./support/receiver.js"
import { configs, webhooksLayer } from "./support/servo.js"

const signatureHeaders = (request: Received) => ({
  "webhook-id": String(request.headers["webhook-id"]),
  "webhook-timestamp": String(request.headers["webhook-timestamp"]),
  "webhook-signature": String(request.headers["webhook-signature"])
})

/** One before:describe through the connector, so it is delivered before dispatch returns. */
const deliverOnce = (hook: Record<string, unknown>, environment: Record<string, string> = {}) =>
  Effect.scoped(Effect.flatMap(Layer.build(webhooksLayer([{ event: "before:describe", ...hook }])), (context) =>
    Effect.provide(EventBus.dispatch(CoreEvents.describe, {}), context))).pipe(
      // `{ env }` secrets come from this map: the process environment is never touched.
      Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(environment))))
    )

describe("key rotation: secret as a list", () => {
  it.scopedLive("every delivery carries one v1 entry per secret; a receiver holding only the old, or only the new, verifies it", () =>
    Effect.gen(function*() {
      const oldSecret = Signature.generateSecret()
      const newSecret = Signature.generateSecret()
      const server = yield* receiver(ok)
      yield* deliverOnce(
        { target: server.url, secret: [oldSecret, { env: "SERVO_TEST_NEW_SECRET" }] },
        { SERVO_TEST_NEW_SECRET: newSecret }
      )
      const request = server.requests[0]!
      const headers = signatureHeaders(request)
      expect(headers["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/]+=* v1,[A-Za-z0-9+/]+=*$/)
      for (const secret of [oldSecret, newSecret]) {
        expect(new StandardWebhook(secret).verify(request.text, headers)).toEqual(request.json)
        expect(new SvixWebhook(secret).verify(request.text, headers)).toEqual(request.json)
      }
      const stranger = Signature.generateSecret()
      expect(() => new StandardWebhook(stranger).verify(request.text, headers)).toThrow()
      expect(() => new SvixWebhook(stranger).verify(request.text, headers)).toThrow()
    }))

  it.scopedLive("secrets and signing keys sign together: v1 entries first, then v1a; our verifier takes either key kind", () =>
    Effect.gen(function*() {
      const secret = Signature.generateSecret()
      const pair = Signature.generateKeyPair()
      const server = yield* receiver(ok)
      yield* deliverOnce({ target: server.url, secret, signing_key: [pair.signingKey] })
      const request = server.requests[0]!
      const headers = signatureHeaders(request)
      expect(headers["webhook-signature"]).toMatch(/^v1,\S+ v1a,\S+$/)
      const publicKey = Either.getOrThrow(Signature.parsePublicKey(pair.publicKey))
      const verified = Signature.verify([publicKey], { headers, body: request.body })
      expect(Either.getOrThrow(verified)).toMatchObject({ scheme: "v1a", keyIndex: 0, id: headers["webhook-id"] })
      // The v1 receiver is unaffected by the v1a entry beside it.
      expect(new StandardWebhook(secret).verify(request.text, headers)).toEqual(request.json)
      // Another public key does not verify.
      const other = Either.getOrThrow(Signature.parsePublicKey(Signature.generateKeyPair().publicKey))
      expect(Either.isLeft(Signature.verify([other], { headers, body: request.body }))).toBe(true)
    }))

  it.effect("a whsk_ key under secret, or a whsec_ under signing_key, is refused with its path and without its text", () =>
    Effect.gen(function*() {
      const pair = Signature.generateKeyPair()
      const secret = Signature.generateSecret()
      const error = yield* Effect.flip(WebhookConfig.resolve(configs([
        { event: "after:measure", target: "https://x.test/", secret: [secret, pair.signingKey] },
        { event: "after:measure", target: "https://x.test/", signing_key: secret }
      ])))
      expect(error.issues.map((issue) => issue.path)).toEqual(["webhooks[0].secret[1]", "webhooks[1].signing_key"])
      expect(error.issues[0]!.message).toMatch(/expected whsec_ but this is a whsk_ signing key/)
      expect(error.message).not.toContain(pair.signingKey.slice(5, 30))
      expect(error.message).not.toContain(secret.slice(6))
    }))
})

describe("v1a: Ed25519 from signing_key, through a real delivery", () => {
  // The Standard Webhooks test vector (notes/standard-webhooks.md).
  const vector = {
    id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
    timestamp: 1614265330,
    body: `{"test": 2432232314}`,
    secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    signingKey: "whsk_6Xb/dCcHpPea21PS1N9VY/NZW723CEc77N4rJCubMbfVKIDij2HKpMKkioLlX0dRqSKJp4AJ6p9lMicMFs6Kvg==",
    publicKey: "whpk_1SiA4o9hyqTCpIqC5V9HUakiiaeACeqfZTInDBbOir4=",
    v1: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    v1a: "v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg=="
  }

  it.scoped("the configured keys reproduce the spec's v1 and v1a signatures on the wire, and whpk_ verifies them", () =>
    Effect.gen(function*() {
      const server = yield* receiver(ok)
      const [webhook] = yield* WebhookConfig.resolve(configs([
        { event: "after:measure", target: server.url, secret: vector.secret, signing_key: vector.signingKey }
      ]))
      // The attempt's timestamp comes from the clock: put it at the vector's second.
      yield* TestClock.setTime(vector.timestamp * 1000)
      const outcome = yield* Delivery.makeSender(webhook!).pipe(
        Effect.flatMap((sender) => sender.send({ id: vector.id, event: "after:measure", body: new TextEncoder().encode(vector.body) })),
        Effect.provide(NodeHttpClient.layerUndici)
      )
      expect(outcome._tag).toBe("Delivered")
      const request = server.requests[0]!
      expect(request.text).toBe(vector.body)
      expect(request.headers["webhook-id"]).toBe(vector.id)
      expect(request.headers["webhook-timestamp"]).toBe(String(vector.timestamp))
      expect(request.headers["webhook-signature"]).toBe(`${vector.v1} ${vector.v1a}`)
      const publicKey = Either.getOrThrow(Signature.parsePublicKey(vector.publicKey))
      const verified = Signature.verify([publicKey], { headers: signatureHeaders(request), body: request.body }, { now: vector.timestamp })
      expect(Either.getOrThrow(verified)).toEqual({ scheme: "v1a", keyIndex: 0, id: vector.id, timestamp: vector.timestamp })
    }))
})
