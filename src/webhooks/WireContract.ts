/**
 * Wire contract v1: what every delivery looks like on the wire, and what a receiver may answer.
 *
 * ```
 * POST <target>
 * content-type: application/vnd.opsani.servo-webhooks+json; version=1
 * user-agent: servo-webhooks/<version>
 * servo-event: after:measure
 * webhook-id: msg_...            (the same on every retry: the receiver's idempotency key)
 * webhook-timestamp: <unix seconds of this attempt>
 * webhook-signature: v1,<base64>  (when a secret is set)
 *
 * {"id":"msg_...","event":"after:measure","created_at":"...","parameters":{...},"results":[...]}
 * ```
 *
 * The body's `parameters` and `results` are encoded by the event's own Schemas, and the JSON
 * Schema of the body (`jsonSchema`) is generated from the same Schemas.
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import * as JSONSchema from "effect/JSONSchema"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as crypto from "node:crypto"
import type * as Event from "../servo/Event.js"
import type { EventResults } from "../servo/EventBus.js"
import { version } from "../version.js"
import * as JsonEncoder from "./internal/jsonEncoder.js"

/** The content type of every delivery's body. */
export const contentType: string = "application/vnd.opsani.servo-webhooks+json; version=1"

/** The content type a receiver answers with to cancel a before event, with `{"reason": "..."}`. */
export const cancelContentType: string = "application/vnd.opsani.servo.errors.CancelEventError+json"

export const userAgent: string = `servo-webhooks/${version}`

/** The prepositions a webhook can be attached with. */
export type Preposition = "before" | "after"

/**
 * An event's payload encoded once, ready to become the body of any number of deliveries: each
 * gets its own `id` spliced in front, the parameters and results are encoded a single time.
 */
export interface Payload {
  /** `after:measure` */
  readonly event: string
  /** The body of one delivery, with its id. */
  readonly body: (id: string) => Uint8Array
}

interface Codec {
  readonly envelope: Schema.Schema<unknown, unknown>
  /** JSON text of the parameters, byte for byte `JSON.stringify(Schema.encode(...))`. */
  readonly parametersJson: JsonEncoder.JsonEncoder
  readonly resultsJson: JsonEncoder.JsonEncoder
}

// Encoders are compiled once per event and preposition, never per delivery.
const codecs = new WeakMap<Event.Event.Any, Partial<Record<Preposition, Codec>>>()

const codecFor = (event: Event.Event.Any, preposition: Preposition): Codec => {
  let perEvent = codecs.get(event)
  if (perEvent === undefined) codecs.set(event, perEvent = {})
  let codec = perEvent[preposition]
  if (codec === undefined) {
    const results = Schema.Array(Schema.Struct({ connector: Schema.String, value: event.result }))
    const fields = {
      id: Schema.String.annotations({ description: "The delivery id, the same as the webhook-id header and on every retry" }),
      event: Schema.Literal(`${preposition}:${event.name}`),
      created_at: Schema.String.annotations({
        description: "When the event was dispatched, UTC ISO-8601",
        jsonSchema: { type: "string", format: "date-time" }
      }),
      parameters: event.parameters
    }
    const envelope = preposition === "after" ? Schema.Struct({ ...fields, results }) : Schema.Struct(fields)
    codec = {
      envelope: envelope.annotations({
        identifier: `${preposition}_${event.name}`,
        title: `${preposition}:${event.name}`,
        description: `The body of a ${preposition}:${event.name} webhook (servo-webhooks wire contract v1)`
      }) as unknown as Schema.Schema<unknown, unknown>,
      parametersJson: JsonEncoder.compile(event.parameters),
      resultsJson: JsonEncoder.compile(results)
    }
    perEvent[preposition] = codec
  }
  return codec
}

/** The Schema of a delivery's body for one event: `results` only on after events. */
export const Envelope = (event: Event.Event.Any, preposition: Preposition): Schema.Schema<unknown, unknown> =>
  codecFor(event, preposition).envelope

/** The JSON Schema of a delivery's body for one event, as `servo webhooks schema` prints it. */
export const jsonSchema = (event: Event.Event.Any, preposition: Preposition): JSONSchema.JsonSchema7Root =>
  JSONSchema.make(Envelope(event, preposition))

const encoder = new TextEncoder()

/** Encodes an event's parameters (and, after it, results) with the event's Schemas. */
export const encodePayload = (options: {
  readonly event: Event.Event.Any
  readonly preposition: Preposition
  readonly params: unknown
  readonly results?: EventResults<unknown>
  readonly createdAt: Date
}): Either.Either<Payload, ParseResult.ParseError> => {
  const codec = codecFor(options.event, options.preposition)
  const selector = `${options.preposition}:${options.event.name}`
  return Either.gen(function*() {
    let tail = `,"parameters":${yield* codec.parametersJson(options.params)}`
    if (options.preposition === "after") {
      tail += `,"results":${yield* codec.resultsJson(options.results ?? [])}`
    }
    const head = `,"event":${JSON.stringify(selector)},"created_at":${JSON.stringify(options.createdAt.toISOString())}`
    tail = head + tail + "}"
    return {
      event: selector,
      body: (id: string) => encoder.encode(`{"id":${JSON.stringify(id)}${tail}`)
    }
  })
}

// One system call per 256 ids instead of one per id; each id still gets 16 bytes no other id saw.
const idBytes = 16
const idPool = Buffer.allocUnsafe(4096)
let idPoolOffset = idPool.length

/**
 * A fresh delivery id: `msg_` and 22 random URL-safe characters (never a `.`, which the
 * signature's `id.timestamp.body` format relies on).
 */
export const makeId = (): string => {
  if (idPoolOffset === idPool.length) {
    crypto.randomFillSync(idPool)
    idPoolOffset = 0
  }
  const id = `msg_${idPool.toString("base64url", idPoolOffset, idPoolOffset + idBytes)}`
  idPoolOffset += idBytes
  return id
}
