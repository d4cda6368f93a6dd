/**
 * The errors of the event bus. Each is a `Schema.TaggedError`, so it can be matched with
 * `Effect.catchTag`, encoded, and shown with a message that says what went wrong.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * A before handler refused to let an event run. `dispatch` fails with it and no on or after
 * handler runs. `handler` names what inside the connector cancelled (a webhook's name).
 *
 * @since 0.1.0
 * @category errors
 */
export class CancelEventError extends Schema.TaggedError<CancelEventError>("servo-webhooks/CancelEventError")(
  "CancelEventError",
  {
    reason: Schema.String,
    event: Schema.String,
    connector: Schema.String,
    handler: Schema.optional(Schema.String)
  }
) {
  override get message(): string {
    const by = this.handler === undefined ? this.connector : `${this.connector} (${this.handler})`
    return `${this.event} cancelled by ${by}: ${this.reason}`
  }
}

/**
 * The parameters given to `dispatch` do not match the event's Schema. `issues` holds one line per
 * problem, each starting with the path of the field.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidEventParameters
  extends Schema.TaggedError<InvalidEventParameters>("servo-webhooks/InvalidEventParameters")(
    "InvalidEventParameters",
    {
      event: Schema.String,
      issues: Schema.Array(Schema.String)
    }
  )
{
  override get message(): string {
    return `invalid parameters for ${this.event}: ${this.issues.join("; ")}`
  }
}

/**
 * An on handler failed. `error` is the connector's own failure value, untouched, so callers can
 * match on it; the event fails with the first failure in registration order once every on handler
 * has finished.
 *
 * @since 0.1.0
 * @category errors
 */
export class EventHandlerError extends Schema.TaggedError<EventHandlerError>("servo-webhooks/EventHandlerError")(
  "EventHandlerError",
  {
    event: Schema.String,
    connector: Schema.String,
    error: Schema.Unknown
  }
) {
  override get message(): string {
    const error = this.error
    const detail = typeof error === "object" && error !== null && "message" in error && typeof error.message === "string"
      ? error.message
      : String(error)
    return `${this.connector} failed to handle ${this.event}: ${detail}`
  }
}

/**
 * An event selector (`before:measure`, `after:*`) that cannot be read.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidEventSelector
  extends Schema.TaggedError<InvalidEventSelector>("servo-webhooks/InvalidEventSelector")(
    "InvalidEventSelector",
    {
      input: Schema.String,
      reason: Schema.String
    }
  )
{
  override get message(): string {
    return `invalid event selector ${JSON.stringify(this.input)}: ${this.reason}`
  }
}
