import * as Either from "effect/Either"
import * as JSONSchema from "effect/JSONSchema"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as crypto from "node:crypto"
import type * as Event from "../../servo/Event.js"
import type { EventResults } from "../../servo/EventBus.js"
import { version } from "../../version.js"
import type * as WireContract from "../WireContract.js"

/** @internal */
export const contentType = "application/vnd.opsani.servo-webhooks+json; version=1"

/** @internal */
export const cancelContentType = "application/vnd.opsani.servo.errors.CancelEventError+json"

/** @internal */
export const userAgent = `servo-webhooks/${version}`

interface Codec {
  readonly envelope: Schema.Schema<unknown, unknown>
  readonly encodeParameters: (params: unknown) => Either.Either<unknown, ParseResult.ParseError>
  readonly encodeResults: (results: ReadonlyArray<{ connector: string; value: unknown }>) => Either.Either<unknown, ParseResult.ParseError>
}

// Encoders are compiled once per event and preposition, never per delivery.
const codecs = new WeakMap<Event.Event.Any, Partial<Record<WireContract.Preposition, Codec>>>()

const codecFor = (event: Event.Event.Any, preposition: WireContract.Preposition): Codec => {
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
      encodeParameters: Schema.encodeEither(event.parameters as Schema.Schema<unknown, unknown>),
      encodeResults: Schema.encodeEither(results as unknown as Schema.Schema<unknown, unknown>)
    }
    perEvent[preposition] = codec
  }
  return codec
}

/** @internal */
export const Envelope = (event: Event.Event.Any, preposition: WireContract.Preposition) =>
  codecFor(event, preposition).envelope

/** @internal */
export const jsonSchema = (event: Event.Event.Any, preposition: WireContract.Preposition) =>
  JSONSchema.make(Envelope(event, preposition))

const encoder = new TextEncoder()

/** @internal */
export const encodePayload = (options: {
  readonly event: Event.Event.Any
  readonly preposition: WireContract.Preposition
  readonly params: unknown
  readonly results?: EventResults<unknown>
  readonly createdAt: Date
}): Either.Either<WireContract.Payload, ParseResult.ParseError> => {
  const codec = codecFor(options.event, options.preposition)
  const selector = `${options.preposition}:${options.event.name}`
  return Either.gen(function*() {
    const parameters = yield* codec.encodeParameters(options.params)
    let tail = `,"parameters":${JSON.stringify(parameters)}`
    if (options.preposition === "after") {
      tail += `,"results":${JSON.stringify(yield* codec.encodeResults(options.results ?? []))}`
    }
    const head = `,"event":${JSON.stringify(selector)},"created_at":${JSON.stringify(options.createdAt.toISOString())}`
    tail = head + tail + "}"
    return {
      event: selector,
      body: (id: string) => encoder.encode(`{"id":${JSON.stringify(id)}${tail}`)
    }
  })
}

/** @internal */
export const makeId = (): string => `msg_${crypto.randomBytes(16).toString("base64url")}`
