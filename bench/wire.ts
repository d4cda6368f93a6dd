/**
 * What the bench sends, and the two baselines that send it without servo-webhooks:
 *
 * - `rawPost`: an `undici.request` POST of bytes made once, over at most 64 keep-alive
 *   connections like ours — the bare cost of HTTP;
 * - `floorPost`: what any webhook sender has to do per delivery, done the cheapest honest way — a
 *   fresh id (from a pooled random buffer), `JSON.stringify` of the same payload as ours, an
 *   HMAC-SHA256 `webhook-signature` over `id.timestamp.body` — then the same POST. Written with
 *   `node:crypto` and undici only, so that it measures the limit and not our code.
 *
 * The payloads are ours (`WireContract.encodePayload`), so every contender sends the same bytes.
 */
import * as DateTime from "effect/DateTime"
import * as Either from "effect/Either"
import * as crypto from "node:crypto"
import * as undici from "undici"
import * as CoreEvents from "../src/servo/CoreEvents.js"
import type * as Domain from "../src/servo/Domain.js"
import type * as Event from "../src/servo/Event.js"
import * as Signature from "../src/webhooks/Signature.js"
import * as WireContract from "../src/webhooks/WireContract.js"

/** Deliveries in flight, on every side. */
export const concurrency = 64
export const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

/** What the bench connector measures: eight readings, which make an after:measure body of ~1 KB. */
export const measurement: Domain.Measurement = {
  readings: ["throughput", "latency", "error_rate", "cpu", "memory", "p50", "p90", "p99"].map((name, i) => ({
    metric: { name, unit: "ms" as const },
    time: DateTime.unsafeMake("2026-11-29T10:00:00.000Z"),
    value: 100 + i
  }))
}
export const measureParams = { metrics: ["throughput", "latency"] }
export const adjustParams = { adjustments: [{ component: "web", setting: "replicas", value: 3 }] }

/** One delivery's body as our connector encodes it (with a fixed `created_at`). */
const bodyOf = (options: {
  readonly event: Event.Event.Any
  readonly preposition: WireContract.Preposition
  readonly params: unknown
  readonly value?: unknown
}): Uint8Array => {
  const payload = WireContract.encodePayload({
    event: options.event,
    preposition: options.preposition,
    params: options.params,
    ...(options.value === undefined ? {} : { results: [{ connector: "probe", value: options.value }] }),
    createdAt: new Date("2026-11-29T10:00:00.000Z")
  })
  if (Either.isLeft(payload)) throw payload.left
  return payload.right.body(WireContract.makeId())
}

/** A delivery the baselines send: the selector, our bytes, and the payload they encode. */
export interface Delivery {
  readonly event: string
  readonly body: Uint8Array
  /** The body's JSON without its `id`, re-encoded by the floor for every delivery. */
  readonly payload: Record<string, unknown>
}

const deliveryOf = (event: string, body: Uint8Array): Delivery => {
  const { id: _id, ...payload } = JSON.parse(Buffer.from(body).toString("utf8")) as Record<string, unknown>
  return { event, body, payload }
}

export const afterMeasure: Delivery = deliveryOf(
  "after:measure",
  bodyOf({ event: CoreEvents.measure, preposition: "after", params: measureParams, value: measurement })
)
export const beforeAdjust: Delivery = deliveryOf(
  "before:adjust",
  bodyOf({ event: CoreEvents.adjust, preposition: "before", params: adjustParams })
)

// The connections ours gets from `UndiciHttpClient.layer`: keep-alive, 64 per origin. (undici's
// global dispatcher has no cap, and opened about two per loop here: the anchor would pay for
// connections ours never opens.)
const dispatcher = new undici.Agent({ connections: concurrency })

const post = async (url: string, headers: Record<string, string>, body: Uint8Array): Promise<void> => {
  const response = await undici.request(url, { method: "POST", headers, body, dispatcher })
  await response.body.dump()
  if (response.statusCode !== 200) throw new Error(`status ${response.statusCode}`)
}

/** A raw POST of the delivery's bytes, with headers made once. */
export const rawPost = (url: string, delivery: Delivery): () => Promise<void> => {
  const headers = {
    "content-type": WireContract.contentType,
    "user-agent": WireContract.userAgent,
    "servo-event": delivery.event,
    "webhook-id": "msg_0123456789abcdefghijkl",
    "webhook-timestamp": "1795950000",
    "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
  }
  return () => post(url, headers, delivery.body)
}

// Ids: 16 random bytes each, like ours, cut from a buffer refilled every 256 ids.
const idPool = Buffer.allocUnsafe(16 * 256)
let idOffset = idPool.length
const freshId = (): string => {
  if (idOffset === idPool.length) {
    crypto.randomFillSync(idPool)
    idOffset = 0
  }
  idOffset += 16
  return `msg_${idPool.toString("base64url", idOffset - 16, idOffset)}`
}

const hmacKey = Buffer.from(secret.slice("whsec_".length), "base64")

/** The headers and body of one floor delivery. */
const floorRequest = (delivery: Delivery) => {
  const id = freshId()
  const body = Buffer.from(JSON.stringify({ id, ...delivery.payload }))
  const timestamp = String(Math.floor(Date.now() / 1000))
  const mac = crypto.createHmac("sha256", hmacKey).update(`${id}.${timestamp}.`).update(body).digest("base64")
  const headers = {
    "content-type": WireContract.contentType,
    "user-agent": WireContract.userAgent,
    "servo-event": delivery.event,
    "webhook-id": id,
    "webhook-timestamp": timestamp,
    "webhook-signature": `v1,${mac}`
  }
  return { headers, body }
}

/**
 * A floor POST of the delivery. Checks once that what it sends is what ours sends: a body of the
 * same length and a signature our `Signature.verify` accepts.
 */
export const floorPost = (url: string, delivery: Delivery): () => Promise<void> => {
  const sample = floorRequest(delivery)
  const key = Either.getOrThrow(Signature.parseSecret(secret))
  if (Either.isLeft(Signature.verify([key], sample))) throw new Error("the floor's signature does not verify")
  if (sample.body.length !== delivery.body.length) {
    throw new Error(`the floor sends ${sample.body.length} B where ours sends ${delivery.body.length} B`)
  }
  return () => {
    const { body, headers } = floorRequest(delivery)
    return post(url, headers, body)
  }
}
