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
import type * as Either from "effect/Either"
import type * as JSONSchema from "effect/JSONSchema"
import type * as ParseResult from "effect/ParseResult"
import type * as Schema from "effect/Schema"
import type * as Event from "../servo/Event.js"
import type { EventResults } from "../servo/EventBus.js"
import * as internal from "./internal/wireContract.js"

/**
 * The content type of every delivery's body.
 *
 * @since 0.1.0
 * @category constants
 */
export const contentType: string = internal.contentType

/**
 * The content type a receiver answers with to cancel a before event, with `{"reason": "..."}`.
 *
 * @since 0.1.0
 * @category constants
 */
export const cancelContentType: string = internal.cancelContentType

/**
 * @since 0.1.0
 * @category constants
 */
export const userAgent: string = internal.userAgent

/**
 * The prepositions a webhook can be attached with.
 *
 * @since 0.1.0
 * @category models
 */
export type Preposition = "before" | "after"

/**
 * The Schema of a delivery's body for one event: `results` only on after events.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Envelope: (event: Event.Event.Any, preposition: Preposition) => Schema.Schema<unknown, unknown> =
  internal.Envelope

/**
 * The JSON Schema of a delivery's body for one event, as `servo webhooks schema` prints it.
 *
 * @since 0.1.0
 * @category schemas
 */
export const jsonSchema: (event: Event.Event.Any, preposition: Preposition) => JSONSchema.JsonSchema7Root =
  internal.jsonSchema

/**
 * An event's payload encoded once, ready to become the body of any number of deliveries: each
 * gets its own `id` spliced in front, the parameters and results are encoded a single time.
 *
 * @since 0.1.0
 * @category models
 */
export interface Payload {
  /** `after:measure` */
  readonly event: string
  /** The body of one delivery, with its id. */
  readonly body: (id: string) => Uint8Array
}

/**
 * Encodes an event's parameters (and, after it, results) with the event's Schemas.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodePayload: (options: {
  readonly event: Event.Event.Any
  readonly preposition: Preposition
  readonly params: unknown
  readonly results?: EventResults<unknown>
  readonly createdAt: Date
}) => Either.Either<Payload, ParseResult.ParseError> = internal.encodePayload

/**
 * A fresh delivery id: `msg_` and 22 random URL-safe characters (never a `.`, which the
 * signature's `id.timestamp.body` format relies on).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeId: () => string = internal.makeId
