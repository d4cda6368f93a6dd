/**
 * Delivery: how one message reaches one webhook. In order:
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
 */
import * as Headers from "@effect/platform/Headers"
import * as HttpBody from "@effect/platform/HttpBody"
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Arr from "effect/Array"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import { identity } from "effect/Function"
import * as LogLevel from "effect/LogLevel"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import * as GoDuration from "../servo/GoDuration.js"
import { codeIn } from "./internal/errors.js"
import * as Metrics from "./internal/metrics.js"
import { redactedHeaderNames } from "./internal/headerRedaction.js"
import * as NetworkPolicy from "./NetworkPolicy.js"
import * as Signature from "./Signature.js"
import { defaultMaxResponseBytes } from "./UndiciHttpClient.js"
import type { Backoff, Webhook } from "./WebhookConfig.js"
import { cancelContentType, contentType, userAgent } from "./WireContract.js"

/** Response bodies are read up to this many bytes, never more. */
export const maxResponseBytes: number = defaultMaxResponseBytes

const maxWait = Duration.minutes(1)

/** What one delivery came to. */
export type Outcome = Delivered | Cancelled | Failed

/** A 2xx answer. */
export interface Delivered {
  readonly _tag: "Delivered"
  readonly status: number
  readonly attempts: number
  readonly duration: Duration.Duration
}

/** A 2xx answer with the cancel content type: the receiver asks to cancel the event. */
export interface Cancelled {
  readonly _tag: "Cancelled"
  readonly reason: string
  readonly status: number
  readonly attempts: number
  readonly duration: Duration.Duration
}

/** No success: `reason` says why (the last attempt's failure, and why retrying stopped). */
export interface Failed {
  readonly _tag: "Failed"
  readonly reason: string
  readonly status?: number
  readonly attempts: number
  readonly duration: Duration.Duration
}

/** One delivery: the same id and body on every attempt. */
export interface Message {
  readonly id: string
  /** The selector, `after:measure`, sent as `servo-event`. */
  readonly event: string
  readonly body: Uint8Array
}

/** A webhook prepared for sending: its static headers built and its client configured once. */
export interface Sender {
  readonly webhook: Webhook
  readonly send: (message: Message, options?: SendOptions) => Effect.Effect<Outcome>
}

export interface SendOptions {
  /**
   * Wraps every attempt, not the waits between them: the outbox holds one of its slots only
   * while an attempt is in flight.
   */
  readonly throttle?: <A, E>(attempt: Effect.Effect<A, E>) => Effect.Effect<A, E>
}

/** Why an attempt did not succeed, and whether trying again may help. */
export interface AttemptFailure {
  readonly _tag: "AttemptFailure"
  readonly reason: string
  readonly status?: number
  readonly retryable: boolean
  /** What the receiver asked for in `Retry-After`. */
  readonly retryAfter?: Duration.Duration
}

// ---------------------------------------------------------------------------------------------
// 1. Build: the request of one attempt.
// ---------------------------------------------------------------------------------------------

/** Headers that never change between deliveries of a webhook, computed once. */
const staticHeaders = (webhook: Webhook): Record<string, string> => {
  const headers: Record<string, string> = {}
  for (const header of webhook.headers) {
    headers[header.name.toLowerCase()] = Redacted.isRedacted(header.value) ? Redacted.value(header.value) : header.value
  }
  headers["user-agent"] = userAgent
  switch (webhook.authentication._tag) {
    case "Bearer":
      headers["authorization"] = `Bearer ${Redacted.value(webhook.authentication.token)}`
      break
    case "Basic": {
      const { password, username } = webhook.authentication
      headers["authorization"] = `Basic ${Buffer.from(`${username}:${Redacted.value(password)}`).toString("base64")}`
      break
    }
  }
  return headers
}

const buildRequest = (
  webhook: Webhook,
  headers: Record<string, string>,
  message: Message,
  timestamp: number
): HttpClientRequest.HttpClientRequest => {
  const attemptHeaders: Record<string, string> = {
    ...headers,
    "servo-event": message.event,
    "webhook-id": message.id,
    "webhook-timestamp": String(timestamp)
  }
  if (webhook.signingKeys.length > 0) {
    // Signed over the exact bytes sent, with this attempt's timestamp.
    attemptHeaders["webhook-signature"] = Signature.sign(webhook.signingKeys, { id: message.id, timestamp, body: message.body })
  }
  return HttpClientRequest.post(webhook.target, {
    headers: attemptHeaders,
    body: HttpBody.uint8Array(message.body, contentType)
  })
}

// ---------------------------------------------------------------------------------------------
// 2. + 3. Send one attempt and classify what came back.
// ---------------------------------------------------------------------------------------------

type AttemptSuccess =
  | { readonly _tag: "Delivered"; readonly status: number }
  | { readonly _tag: "Cancelled"; readonly status: number; readonly reason: string }

const failure = (
  reason: string,
  retryable: boolean,
  extra: { readonly status?: number; readonly retryAfter?: Duration.Duration } = {}
): AttemptFailure => ({ _tag: "AttemptFailure", reason, retryable, ...extra })

/**
 * Reads a response body, never more than `maxResponseBytes` of it, whatever the client. A body
 * framed by a small enough `content-length` is read whole (the common case, and the cheap one);
 * any other is streamed and cut at the cap (a Stream costs ~100 µs even when empty).
 */
const readBody = (response: HttpClientResponse.HttpClientResponse): Effect.Effect<string, HttpClientError.ResponseError> => {
  // 204, 205 and 304 carry no body by definition (and no content-length to say so).
  if (response.status === 204 || response.status === 205 || response.status === 304) return Effect.succeed("")
  const length = Number(response.headers["content-length"])
  return Number.isInteger(length) && length <= maxResponseBytes ? response.text : readCapped(response)
}

const readCapped = (response: HttpClientResponse.HttpClientResponse): Effect.Effect<string, HttpClientError.ResponseError> =>
  response.stream.pipe(
    Stream.runFoldWhile(
      { chunks: [] as Array<Uint8Array>, size: 0 },
      (acc) => acc.size < maxResponseBytes,
      (acc, chunk) => {
        acc.chunks.push(chunk)
        acc.size += chunk.length
        return acc
      }
    ),
    Effect.map(({ chunks }) => Buffer.concat(chunks).subarray(0, maxResponseBytes).toString("utf8"))
  )

const snippet = (text: string) => {
  const flat = text.replace(/\s+/g, " ").trim()
  return flat.length > 200 ? `${flat.slice(0, 200)}…` : flat
}

const isCancellation = (response: HttpClientResponse.HttpClientResponse) => {
  const type = response.headers["content-type"]
  return type !== undefined && type.split(";")[0]!.trim().toLowerCase() === cancelContentType.toLowerCase()
}

const cancelReason = (text: string): string => {
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    return `the receiver cancelled with a body that is not valid JSON: ${JSON.stringify(snippet(text))}`
  }
  if (typeof body === "object" && body !== null && "reason" in body && typeof body.reason === "string" && body.reason !== "") {
    return body.reason
  }
  return `the receiver cancelled without a reason (body: ${snippet(text)})`
}

/**
 * A response lost before its body was read. The stock client reports a connection lost mid-body
 * as a "Decode" error with the socket error as its cause: "the response broke off: Decode" read
 * like a malformed body, so the socket error's code is named when there is one.
 */
const brokeOff = (error: HttpClientError.ResponseError, status?: number): AttemptFailure => {
  const code = codeIn(error.cause)
  return failure(
    `the response broke off${code === undefined ? `: ${error.description ?? error.reason}` : ` (${code})`}`,
    true,
    status === undefined ? {} : { status }
  )
}

const classify = (
  response: HttpClientResponse.HttpClientResponse,
  now: number
): Effect.Effect<AttemptSuccess, AttemptFailure> => {
  const status = response.status
  const body = readBody(response).pipe(Effect.mapError((error) => brokeOff(error, status)))
  if (status >= 200 && status < 300) {
    return isCancellation(response)
      ? Effect.map(body, (text) => ({ _tag: "Cancelled", status, reason: cancelReason(text) }))
      : Effect.as(body, { _tag: "Delivered", status })
  }
  if (status >= 300 && status < 400) {
    const location = response.headers["location"]
    return Effect.fail(failure(`redirected with ${status}${location ? ` to ${location}` : ""}; redirects are never followed`, false, { status }))
  }
  const retryable = status === 408 || status === 429 || status >= 500
  const retryAfter = Option.flatMap(Option.fromNullable(response.headers["retry-after"]), (value) => parseRetryAfter(value, now))
  return body.pipe(
    Effect.flatMap((text) =>
      Effect.fail(failure(`HTTP ${status}${text.length > 0 ? `: ${snippet(text)}` : ""}`, retryable, {
        status,
        ...(Option.isSome(retryAfter) ? { retryAfter: retryAfter.value } : {})
      }))
    )
  )
}

/** A request that never got a response. DNS "not found" is final; the rest may pass. */
const transportFailure = (error: HttpClientError.HttpClientError): AttemptFailure => {
  if (error._tag === "ResponseError") return brokeOff(error)
  if (error.reason !== "Transport") return failure(`the request could not be made (${error.reason})`, false)
  const code = codeIn(error.cause)
  switch (code) {
    case NetworkPolicy.code:
      // The network policy refused the address: trying again would only be refused again.
      return failure(error.description ?? "refused by the network policy", false)
    case "ENOTFOUND":
      return failure(`host not found (${new URL(error.request.url).hostname})`, false)
    case "ECONNREFUSED":
      return failure("connection refused", true)
    case "ECONNRESET":
    case "EPIPE":
    case "UND_ERR_SOCKET":
      return failure("connection reset", true)
    default:
      return failure(`transport error${code === undefined ? "" : ` (${code})`}`, true)
  }
}

// ---------------------------------------------------------------------------------------------
// 4. Retry.
// ---------------------------------------------------------------------------------------------

/**
 * The retry policy of a webhook, as a Schedule over attempt failures. `deadline` is the epoch
 * millisecond past which no retry may start; a wait that would end past it stops the schedule.
 */
export const retrySchedule = (backoff: Backoff, deadline: number): Schedule.Schedule<Duration.Duration, AttemptFailure> =>
  Schedule.exponential(Duration.seconds(1), 2).pipe(
    Schedule.jittered,
    Schedule.modifyDelay((_, delay) => Duration.min(delay, maxWait)),
    Schedule.intersect(Schedule.recurs(backoff.retries)),
    Schedule.intersect(Schedule.identity<AttemptFailure>()),
    Schedule.whileInput((failure: AttemptFailure) => failure.retryable),
    // The receiver knows best when to come back: Retry-After replaces the backoff wait.
    Schedule.modifyDelay(([, failure], delay) => failure.retryAfter ?? delay),
    Schedule.delays,
    Schedule.checkEffect((_, delay) =>
      Effect.map(Clock.currentTimeMillis, (now) => now + Duration.toMillis(delay) <= deadline)
    )
  )

/** Reads `Retry-After`: delay seconds or an HTTP date, relative to `now` (epoch ms). */
export const parseRetryAfter = (value: string, now: number): Option.Option<Duration.Duration> => {
  const trimmed = value.trim()
  if (/^\d+$/.test(trimmed)) return Option.some(Duration.seconds(Number(trimmed)))
  const date = Date.parse(trimmed)
  return Number.isNaN(date) ? Option.none() : Option.some(Duration.millis(Math.max(0, date - now)))
}

/** Whether a debug line would be written: checked before building one on the hot path. */
const debugEnabled = Effect.map(FiberRef.get(FiberRef.currentMinimumLogLevel), (minimum) =>
  LogLevel.lessThanEqual(minimum, LogLevel.Debug))

// ---------------------------------------------------------------------------------------------
// The sender: build → send → classify → retry, with spans, logs and metrics.
// ---------------------------------------------------------------------------------------------

/**
 * Prepares a webhook for delivery with `client`, or else the `HttpClient` in context (the
 * requirement stays in the type either way). `connector` tags its metrics
 * (`servo_webhooks_deliveries_total{connector,webhook,preposition,outcome}`, ...).
 */
export const makeSender = (
  webhook: Webhook,
  options: { readonly connector?: string; readonly client?: HttpClient.HttpClient } = {}
): Effect.Effect<Sender, never, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const client = options.client ?? (yield* HttpClient.HttpClient)
    // Our span covers the delivery; the client's own span (and the trace headers it would add)
    // only when the webhook opts into trace propagation, with its secret headers redacted in
    // that span as authorization and cookie are. Set once per delivery, as fiber refs: the
    // client combinators that do the same cost a wrapper per request.
    const redactedNames = redactedHeaderNames(webhook)
    const tracing = <A, E, R>(delivery: Effect.Effect<A, E, R>) =>
      webhook.tracePropagation
        ? delivery.pipe(
          Effect.locally(HttpClient.currentTracerPropagation, true),
          Effect.locally(HttpClient.currentTracerDisabledWhen, () => false),
          Effect.locallyWith(Headers.currentRedactedNames, Arr.appendAll(redactedNames))
        )
        : delivery.pipe(
          Effect.locally(HttpClient.currentTracerPropagation, false),
          Effect.locally(HttpClient.currentTracerDisabledWhen, () => true)
        )
    const headers = staticHeaders(webhook)
    const requestTimeout = Duration.toMillis(webhook.requestTimeout)
    const tags = { connector: options.connector ?? "webhooks", webhook: webhook.name }
    const outcomes = (preposition: string) => ({
      Delivered: Metrics.tagged(Metrics.deliveriesTotal, { ...tags, preposition, outcome: "delivered" }),
      Cancelled: Metrics.tagged(Metrics.deliveriesTotal, { ...tags, preposition, outcome: "cancelled" }),
      Failed: Metrics.tagged(Metrics.deliveriesTotal, { ...tags, preposition, outcome: "failed" })
    })
    const metrics = {
      before: outcomes("before"),
      after: outcomes("after"),
      attempts: Metrics.tagged(Metrics.attemptsTotal, tags),
      duration: Metrics.tagged(Metrics.deliveryDuration, tags)
    }

    // Log annotations are built where a line is written, not around every delivery: most
    // deliveries write none, and annotating costs more than the logging it would serve.
    const annotations = (message: Message) => ({ webhook: webhook.name, event: message.event, delivery_id: message.id })

    const attempt = (message: Message, number: number, deadline: number) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        // The schedule never starts a wait that ends past the deadline, but a throttled attempt
        // may have waited for its slot past it: then it is not sent at all.
        if (deadline - now <= 0) {
          return yield* Effect.fail(failure("the delivery's deadline passed before the attempt could start", false))
        }
        const timeout = Math.min(requestTimeout, deadline - now)
        const request = buildRequest(webhook, headers, message, Math.floor(now / 1000))
        const exchange = client.execute(request).pipe(
          Effect.mapError(transportFailure),
          Effect.flatMap((response) => classify(response, now))
        )
        // A race, not Effect.timeout: Effect.timeout waits for its effect in an uninterruptible
        // region, so an interrupted delivery (another webhook cancelled first, shutdown) would
        // hang until the receiver answered. The loser of the race is interrupted either way.
        return yield* Effect.raceFirst(
          exchange,
          Effect.sleep(timeout).pipe(
            Effect.zipRight(Effect.fail(failure(`no answer within ${GoDuration.format(Duration.millis(timeout))}`, true)))
          )
        )
      }).pipe(
        Effect.tapError((failure) =>
          Effect.logDebug(`attempt ${number} failed: ${failure.reason}${failure.retryable ? "" : " (not retried)"}`).pipe(
            Effect.annotateLogs({ ...annotations(message), attempt: number })
          )
        )
      )

    const send = (message: Message, options: SendOptions = {}): Effect.Effect<Outcome> =>
      Effect.gen(function*() {
        const throttle = options.throttle ?? identity
        const start = yield* Clock.currentTimeMillis
        const backoff = webhook.backoff
        const deadline = start + (backoff === undefined ? requestTimeout : Duration.toMillis(backoff.timeout))
        let attempts = 0
        const once = Effect.suspend(() => throttle(attempt(message, ++attempts, deadline)))
        const result = yield* Effect.either(backoff === undefined ? once : Effect.retry(once, retrySchedule(backoff, deadline)))
        const duration = Duration.millis((yield* Clock.currentTimeMillis) - start)
        let outcome: Outcome
        if (result._tag === "Right") {
          outcome = { ...result.right, attempts, duration }
        } else {
          const last = result.left
          const why = !last.retryable || backoff === undefined
            ? ""
            : attempts > backoff.retries
            ? ` (gave up after ${attempts} attempts)`
            : ` (stopped after ${attempts} attempts: the next try would pass the ${GoDuration.format(backoff.timeout)} deadline)`
          outcome = {
            _tag: "Failed",
            reason: last.reason + why,
            ...(last.status === undefined ? {} : { status: last.status }),
            attempts,
            duration
          }
        }
        yield* Metric.increment(metrics[message.event.startsWith("before:") ? "before" : "after"][outcome._tag])
        yield* Metric.incrementBy(metrics.attempts, attempts)
        yield* Metric.update(metrics.duration, Duration.toMillis(duration))
        yield* Effect.annotateCurrentSpan({ outcome: outcome._tag, attempts })
        const tries = `${attempts} attempt${attempts === 1 ? "" : "s"}`
        if (outcome._tag === "Failed") {
          yield* Effect.logWarning(`delivery failed after ${tries}: ${outcome.reason}`).pipe(
            Effect.annotateLogs(annotations(message))
          )
        } else if (yield* debugEnabled) {
          yield* Effect.logDebug(`${outcome._tag.toLowerCase()} (${outcome.status}) after ${tries}`).pipe(
            Effect.annotateLogs(annotations(message))
          )
        }
        return outcome
      }).pipe(
        tracing,
        Effect.withSpan("Webhooks.deliver", {
          kind: "producer",
          captureStackTrace: false,
          attributes: { webhook: webhook.name, event: message.event, delivery_id: message.id }
        })
      )

    return { webhook, send } satisfies Sender
  })
