/**
 * Delivery: how one message reaches one webhook. In order, in `internal/delivery.ts`:
 *
 * 1. **build** — the request of an attempt: wire-contract headers, authentication, the
 *    configured headers, a fresh `webhook-timestamp` and a signature over the exact bytes sent;
 * 2. **send** — `POST` through whatever `HttpClient` the Layer provides, under the per-attempt
 *    timeout (`request_timeout`, cut to what is left of the delivery's deadline);
 * 3. **classify** — the response table of the wire contract: 2xx delivered (or cancelled, with
 *    the cancel content type), 408/429/5xx/timeouts/connection failures retried, 3xx and other
 *    4xx failed at once, redirects never followed, a connection the network policy refused
 *    (`NetworkPolicy`) failed at once;
 * 4. **retry** — `retrySchedule`: exponential from 1s, ×2, jittered ±20 %, each wait at most 1m,
 *    at most `retries` retries, `Retry-After` honoured, never past the `backoff.timeout` deadline.
 *
 * A delivery never fails: its `Outcome` says what happened. Every delivery runs in a span
 * (`Webhooks.deliver`) and every log line is annotated with the webhook, event, delivery id and
 * attempt; no secret is ever logged.
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type * as Schedule from "effect/Schedule"
import * as internal from "./internal/delivery.js"
import type { Backoff, Webhook } from "./WebhookConfig.js"

/**
 * What one delivery came to.
 *
 * @since 0.1.0
 * @category models
 */
export type Outcome = Delivered | Cancelled | Failed

/**
 * A 2xx answer.
 *
 * @since 0.1.0
 * @category models
 */
export interface Delivered {
  readonly _tag: "Delivered"
  readonly status: number
  readonly attempts: number
  readonly duration: Duration.Duration
}

/**
 * A 2xx answer with the cancel content type: the receiver asks to cancel the event.
 *
 * @since 0.1.0
 * @category models
 */
export interface Cancelled {
  readonly _tag: "Cancelled"
  readonly reason: string
  readonly status: number
  readonly attempts: number
  readonly duration: Duration.Duration
}

/**
 * No success: `reason` says why (the last attempt's failure, and why retrying stopped).
 *
 * @since 0.1.0
 * @category models
 */
export interface Failed {
  readonly _tag: "Failed"
  readonly reason: string
  readonly status?: number
  readonly attempts: number
  readonly duration: Duration.Duration
}

/**
 * One delivery: the same id and body on every attempt.
 *
 * @since 0.1.0
 * @category models
 */
export interface Message {
  readonly id: string
  /** The selector, `after:measure`, sent as `servo-event`. */
  readonly event: string
  readonly body: Uint8Array
}

/**
 * A webhook prepared for sending: its static headers built and its client configured once.
 *
 * @since 0.1.0
 * @category models
 */
export interface Sender {
  readonly webhook: Webhook
  readonly send: (message: Message, options?: SendOptions) => Effect.Effect<Outcome>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface SendOptions {
  /**
   * Wraps every attempt, not the waits between them: the outbox holds one of its slots only
   * while an attempt is in flight.
   */
  readonly throttle?: <A, E>(attempt: Effect.Effect<A, E>) => Effect.Effect<A, E>
}

/**
 * Prepares a webhook for delivery with `client`, or else the `HttpClient` in context (the
 * requirement stays in the type either way). `connector` tags its metrics
 * (`servo_webhooks_deliveries_total{connector,webhook,preposition,outcome}`, ...).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeSender: (
  webhook: Webhook,
  options?: { readonly connector?: string; readonly client?: HttpClient.HttpClient }
) => Effect.Effect<Sender, never, HttpClient.HttpClient> = internal.makeSender

/**
 * Why an attempt did not succeed, and whether trying again may help.
 *
 * @since 0.1.0
 * @category models
 */
export interface AttemptFailure {
  readonly _tag: "AttemptFailure"
  readonly reason: string
  readonly status?: number
  readonly retryable: boolean
  /** What the receiver asked for in `Retry-After`. */
  readonly retryAfter?: Duration.Duration
}

/**
 * The retry policy of a webhook, as a Schedule over attempt failures. `deadline` is the epoch
 * millisecond past which no retry may start; a wait that would end past it stops the schedule.
 *
 * @since 0.1.0
 * @category retry
 */
export const retrySchedule: (backoff: Backoff, deadline: number) => Schedule.Schedule<Duration.Duration, AttemptFailure> =
  internal.retrySchedule

/**
 * Reads `Retry-After`: delay seconds or an HTTP date, relative to `now` (epoch ms).
 *
 * @since 0.1.0
 * @category retry
 */
export const parseRetryAfter: (value: string, now: number) => Option.Option<Duration.Duration> = internal.parseRetryAfter

/**
 * Response bodies are read up to this many bytes, never more.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxResponseBytes: number = internal.maxResponseBytes
