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
 * 4. **retry** — `retrySchedule`: exponential from 1s, ×2, jittered ±20 %, each wait at most 1m
 *    (10m for an after-only webhook),
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
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as ScheduleDecision from "effect/ScheduleDecision"
import * as ScheduleIntervals from "effect/ScheduleIntervals"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"
import * as GoDuration from "../servo/GoDuration.js"
import * as Tracing from "../servo/internal/tracing.js"
import { codeIn } from "./internal/errors.js"
import * as Metrics from "./internal/metrics.js"
import { redactedHeaderNames } from "./internal/headerRedaction.js"
import * as NetworkPolicy from "./NetworkPolicy.js"
import * as Signature from "./Signature.js"
import * as Transport from "./Transport.js"
import type { Attempt as StoredAttempt } from "./OutboxStore.js"
import * as UndiciHttpClient from "./UndiciHttpClient.js"
import type { Backoff, Webhook } from "./WebhookConfig.js"
import { cancelContentType, contentType, userAgent } from "./WireContract.js"

/** Response bodies are read up to this many bytes, never more. */
export const maxResponseBytes: number = UndiciHttpClient.defaultMaxResponseBytes

/**
 * The longest wait between attempts: a webhook with a before event blocks that event while it
 * waits, so 1m; an after-only webhook waits in the outbox holding nothing, so 10m, which lets its
 * default 12 retries outlast a receiver's outage of half an hour.
 */
export const maxWait: { readonly before: Duration.Duration; readonly after: Duration.Duration } = {
  before: Duration.minutes(1),
  after: Duration.minutes(10)
}

/** The longest wait of a webhook's retries: `maxWait.before` if any of its events is a before one. */
export const maxWaitOf = (webhook: { readonly events: ReadonlyArray<{ readonly preposition: string }> }): Duration.Duration =>
  webhook.events.some((selector) => selector.preposition === "before") ? maxWait.before : maxWait.after

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

/** The outcome of a delivery whose last attempt got a 2xx. */
export const succeeded = (success: AttemptSuccess, attempts: number, duration: Duration.Duration): Delivered | Cancelled =>
  success._tag === "Delivered"
    ? { _tag: "Delivered", status: success.status, attempts, duration }
    : { _tag: "Cancelled", reason: success.reason, status: success.status, attempts, duration }

/** The outcome of a delivery that gave up. */
export const failed = (reason: string, status: number | undefined, attempts: number, duration: Duration.Duration): Failed =>
  status === undefined
    ? { _tag: "Failed", reason, attempts, duration }
    : { _tag: "Failed", reason, status, attempts, duration }

/** One delivery: the same id and body on every attempt. */
export interface Message {
  readonly id: string
  /** The selector, `after:measure`, sent as `servo-event`. */
  readonly event: string
  readonly body: Uint8Array
}

/**
 * A webhook prepared for sending: its static headers built, its client and retry policy made
 * once. `send` runs a whole delivery in the calling fiber (before webhooks, `trigger`); the
 * outbox's workers run one `attempt` at a time and ask `nextRetry` when to come back.
 */
export interface Sender {
  readonly webhook: Webhook
  /** A whole delivery: attempts and the waits between them, then `finish`. Never fails. */
  readonly send: (message: Message, options?: SendOptions) => Effect.Effect<Outcome>
  /** One attempt, never past `deadline` (epoch ms): build, send, classify. Never fails. */
  readonly attempt: (message: Message, number: number, deadline: number) => Effect.Effect<AttemptResult>
  /** After attempt number `attempts` failed: when to try again, or why not (`state`: the policy's, `undefined` at first or when not kept). */
  readonly nextRetry: (failure: AttemptFailure, attempts: number, state: unknown, deadline: number) => Effect.Effect<RetryDecision>
  /** A finished delivery counted (metrics) and, when it failed, logged. */
  readonly finish: (message: Message, outcome: Outcome) => Effect.Effect<void>
  /** The deadline of a delivery made at `start` (epoch ms): `backoff.timeout` later, or one request's. */
  readonly deadlineFrom: (start: number) => number
  /** Runs `effect` with this webhook's trace propagation settings (client span, trace headers). */
  readonly tracing: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
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

/**
 * The request of one attempt: the webhook's fixed request (target, static headers) with this
 * attempt's headers and the body. Built with `setHeader`, which copies the headers once per
 * header: `HttpClientRequest.post(url, { headers })` merges them with an object spread, and an
 * object spread followed by more keys costs microseconds on Node 20 (measured here: ~6 µs for a
 * small object, ~14 µs for a request's headers), more than the rest of the request.
 */
const buildRequest = (
  webhook: Webhook,
  base: HttpClientRequest.HttpClientRequest,
  message: Message,
  timestamp: number
): HttpClientRequest.HttpClientRequest => {
  let request = base.pipe(
    HttpClientRequest.setHeader("servo-event", message.event),
    HttpClientRequest.setHeader("webhook-id", message.id),
    HttpClientRequest.setHeader("webhook-timestamp", String(timestamp))
  )
  if (webhook.signingKeys.length > 0) {
    // Signed over the exact bytes sent, with this attempt's timestamp.
    request = HttpClientRequest.setHeader(
      request,
      "webhook-signature",
      Signature.sign(webhook.signingKeys, { id: message.id, timestamp, body: message.body })
    )
  }
  return HttpClientRequest.setBody(request, HttpBody.uint8Array(message.body, contentType))
}

// ---------------------------------------------------------------------------------------------
// 2. + 3. Send one attempt and classify what came back.
// ---------------------------------------------------------------------------------------------

/** A 2xx: delivered, or cancelled with the cancel content type. */
export type AttemptSuccess =
  | { readonly _tag: "Delivered"; readonly status: number }
  | { readonly _tag: "Cancelled"; readonly status: number; readonly reason: string }

/** One attempt's result, and its record as a durable store keeps it. */
export type AttemptResult =
  | { readonly _tag: "Success"; readonly success: AttemptSuccess; readonly attempt: StoredAttempt }
  | { readonly _tag: "Failure"; readonly failure: AttemptFailure; readonly attempt: StoredAttempt }

const failure = (
  reason: string,
  retryable: boolean,
  extra: { readonly status?: number; readonly retryAfter?: Duration.Duration } = {}
): AttemptFailure => {
  const failed: { -readonly [K in keyof AttemptFailure]: AttemptFailure[K] } = { _tag: "AttemptFailure", reason, retryable }
  if (extra.status !== undefined) failed.status = extra.status
  if (extra.retryAfter !== undefined) failed.retryAfter = extra.retryAfter
  return failed
}

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
  const proxyStatus = Transport.proxyRefusal(error.cause)
  if (proxyStatus === 407) return failure("proxy authentication required (407)", false)
  if (proxyStatus !== undefined) {
    return failure(`the proxy refused the tunnel (HTTP ${proxyStatus})`, proxyStatus === 408 || proxyStatus === 429 || proxyStatus >= 500)
  }
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
 * The waits of a webhook's retries, as a Schedule over attempt failures: exponential from 1s,
 * ×2, jittered ±20 % (from `Random`), each at most `longestWait` (1m; a sender uses `maxWaitOf`
 * its webhook), at most `retries` of them, only after a retryable failure, `Retry-After`
 * replacing the wait. No deadline: see `retrySchedule`.
 */
export const retryPolicy = (
  backoff: Backoff,
  longestWait: Duration.DurationInput = maxWait.before
): Schedule.Schedule<Duration.Duration, AttemptFailure> =>
  Schedule.exponential(Duration.seconds(1), 2).pipe(
    Schedule.jittered,
    Schedule.modifyDelay((_, delay) => Duration.min(delay, longestWait)),
    Schedule.intersect(Schedule.recurs(backoff.retries)),
    Schedule.intersect(Schedule.identity<AttemptFailure>()),
    Schedule.whileInput((failure: AttemptFailure) => failure.retryable),
    // The receiver knows best when to come back: Retry-After replaces the backoff wait.
    Schedule.modifyDelay(([, failure], delay) => failure.retryAfter ?? delay),
    Schedule.delays
  )

/**
 * The retry policy of a webhook with its deadline: `deadline` is the epoch millisecond past
 * which no retry may start; a wait that would end past it stops the schedule. The engine steps
 * `retryPolicy` itself, one failure at a time, and checks the deadline the same way.
 */
export const retrySchedule = (
  backoff: Backoff,
  deadline: number,
  longestWait: Duration.DurationInput = maxWait.before
): Schedule.Schedule<Duration.Duration, AttemptFailure> =>
  retryPolicy(backoff, longestWait).pipe(
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

/** After a failed attempt: the instant of the next one (and the schedule's state), or why not. */
export type RetryDecision =
  | { readonly _tag: "Retry"; readonly dueAt: number; readonly state: unknown }
  | { readonly _tag: "Stop"; readonly reason: string }

/** Whether a debug line would be written: checked before building one on the hot path. */
const debugEnabled = (fiber: { getFiberRef<A>(ref: FiberRef.FiberRef<A>): A }) =>
  LogLevel.lessThanEqual(fiber.getFiberRef(FiberRef.currentMinimumLogLevel), LogLevel.Debug)

/**
 * Whether spans go anywhere: Effect's native tracer keeps spans no one exports, and making one
 * cost more than a tenth of a delivery, so with it (and with tracing off) none is made. The
 * event bus asks the same question, of the same function.
 */
export const tracingExported: (
  fiber: { readonly currentTracer: Tracer.Tracer; getFiberRef<A>(ref: FiberRef.FiberRef<A>): A }
) => boolean = Tracing.tracingExported

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
    // The project's client keeps the attempt's deadline itself; any other gets a race.
    const within = UndiciHttpClient.executeWithin(client)
    const clock = yield* Effect.clock
    // The client's span per attempt when a tracer exports (or the webhook opts into trace
    // propagation), with the webhook's secret headers redacted in it as authorization and
    // cookie are; the trace headers only for a webhook that opts in. Fiber refs, set around
    // what runs the attempts: the client combinators that do the same cost a wrapper per request.
    const redactedNames = redactedHeaderNames(webhook)
    const traced = <A, E, R>(effect: Effect.Effect<A, E, R>, propagate: boolean) =>
      effect.pipe(
        Effect.locally(HttpClient.currentTracerPropagation, propagate),
        Effect.locally(HttpClient.currentTracerDisabledWhen, () => false),
        Effect.locallyWith(Headers.currentRedactedNames, Arr.appendAll(redactedNames))
      )
    const untraced = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      effect.pipe(
        Effect.locally(HttpClient.currentTracerPropagation, false),
        Effect.locally(HttpClient.currentTracerDisabledWhen, () => true)
      )
    const tracing = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      webhook.tracePropagation
        ? traced(effect, true)
        : Effect.withFiberRuntime<A, E, R>((fiber) => tracingExported(fiber) ? traced(effect, false) : untraced(effect))
    // The request every attempt starts from: built once, its headers copied once per attempt.
    const base = HttpClientRequest.post(webhook.target, { headers: staticHeaders(webhook) })
    const requestTimeout = Duration.toMillis(webhook.requestTimeout)
    const backoff = webhook.backoff
    const policy = backoff === undefined ? undefined : retryPolicy(backoff, maxWaitOf(webhook))
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

    const deadlineFrom = (start: number) => start + (backoff === undefined ? requestTimeout : Duration.toMillis(backoff.timeout))

    const exchange = (request: HttpClientRequest.HttpClientRequest, timeout: number, now: number) => {
      const noAnswer = () => failure(`no answer within ${GoDuration.format(Duration.millis(timeout))}`, true)
      if (within !== undefined) {
        return within(request, timeout).pipe(
          Effect.mapError((error) => codeIn(error.cause) === UndiciHttpClient.deadlineCode ? noAnswer() : transportFailure(error)),
          Effect.flatMap((response) => classify(response, now))
        )
      }
      // Another client: a race with a sleep. Not Effect.timeout, which waits for its effect in
      // an uninterruptible region: an interrupted delivery (another webhook cancelled first,
      // shutdown) would hang until the receiver answered.
      return Effect.raceFirst(
        client.execute(request).pipe(Effect.mapError(transportFailure), Effect.flatMap((response) => classify(response, now))),
        Effect.sleep(timeout).pipe(Effect.zipRight(Effect.fail(noAnswer())))
      )
    }

    const attempt = (message: Message, number: number, deadline: number): Effect.Effect<AttemptResult> => {
      const startedAt = clock.unsafeCurrentTimeMillis()
      const record = (status: number | undefined, result: string): StoredAttempt => ({
        number,
        startedAt,
        durationMs: clock.unsafeCurrentTimeMillis() - startedAt,
        status,
        result
      })
      // The schedule never starts a wait that ends past the deadline, but an attempt may have
      // waited for a worker past it: then it is not sent at all.
      if (deadline - startedAt <= 0) {
        const late = failure("the delivery's deadline passed before the attempt could start", false)
        return Effect.succeed({ _tag: "Failure", failure: late, attempt: record(undefined, late.reason) })
      }
      const timeout = Math.min(requestTimeout, deadline - startedAt)
      const request = buildRequest(webhook, base, message, Math.floor(startedAt / 1000))
      // The client span (the only span an attempt makes) says which delivery and which resend.
      const exchanged = Effect.withFiberRuntime<AttemptSuccess, AttemptFailure>((fiber) =>
        tracingExported(fiber)
          ? Effect.annotateSpans(exchange(request, timeout, startedAt), {
            webhook: webhook.name,
            delivery_id: message.id,
            ...(number > 1 ? { "http.request.resend_count": number - 1 } : {})
          })
          : exchange(request, timeout, startedAt)
      )
      return Effect.matchEffect(exchanged, {
        onSuccess: (success): Effect.Effect<AttemptResult> =>
          Effect.succeed({
            _tag: "Success",
            success,
            attempt: record(success.status, success._tag === "Delivered" ? "delivered" : `cancelled: ${success.reason}`)
          }),
        onFailure: (failed) =>
          Effect.withFiberRuntime<AttemptResult>((fiber) => {
            const result: AttemptResult = { _tag: "Failure", failure: failed, attempt: record(failed.status, failed.reason) }
            if (!debugEnabled(fiber)) return Effect.succeed(result)
            return Effect.as(
              Effect.logDebug(`attempt ${number} failed: ${failed.reason}${failed.retryable ? "" : " (not retried)"}`).pipe(
                Effect.annotateLogs({ ...annotations(message), attempt: number })
              ),
              result
            )
          })
      })
    }

    const giveUp = (failed: AttemptFailure, attempts: number): RetryDecision => {
      const why = !failed.retryable || backoff === undefined
        ? ""
        : attempts > backoff.retries
        ? ` (gave up after ${attempts} attempts)`
        : ` (stopped after ${attempts} attempts: the next try would pass the ${GoDuration.format(backoff.timeout)} deadline)`
      return { _tag: "Stop", reason: failed.reason + why }
    }

    /** The schedule's state after `failures` retryable failures, for a job whose state was not kept. */
    const replay = (failures: number) =>
      Effect.gen(function*() {
        let state = policy!.initial
        const failed = failure("replayed", true)
        for (let i = 0; i < failures; i++) [state] = yield* policy!.step(0, failed, state)
        return state
      })

    const nextRetry = (failed: AttemptFailure, attempts: number, state: unknown, deadline: number): Effect.Effect<RetryDecision> => {
      if (policy === undefined || !failed.retryable) return Effect.succeed(giveUp(failed, attempts))
      const known = state !== undefined || attempts === 1 ? Effect.succeed(state ?? policy.initial) : replay(attempts - 1)
      return Effect.flatMap(known, (current) => {
        const now = clock.unsafeCurrentTimeMillis()
        return Effect.map(policy.step(now, failed, current), ([next, , decision]): RetryDecision => {
          if (ScheduleDecision.isDone(decision)) return giveUp(failed, attempts)
          const dueAt = ScheduleIntervals.start(decision.intervals)
          return dueAt <= deadline ? { _tag: "Retry", dueAt, state: next } : giveUp(failed, attempts)
        })
      })
    }

    const finish = (message: Message, outcome: Outcome): Effect.Effect<void> => {
      const preposition = message.event.startsWith("before:") ? "before" : "after"
      metrics[preposition][outcome._tag].unsafeUpdate(1, [])
      metrics.attempts.unsafeUpdate(outcome.attempts, [])
      metrics.duration.unsafeUpdate(Duration.toMillis(outcome.duration), [])
      const tries = `${outcome.attempts} attempt${outcome.attempts === 1 ? "" : "s"}`
      if (outcome._tag === "Failed") {
        return Effect.logWarning(`delivery failed after ${tries}: ${outcome.reason}`).pipe(Effect.annotateLogs(annotations(message)))
      }
      return Effect.withFiberRuntime((fiber) =>
        debugEnabled(fiber)
          ? Effect.logDebug(`${outcome._tag.toLowerCase()} (${outcome.status}) after ${tries}`).pipe(
            Effect.annotateLogs(annotations(message))
          )
          : Effect.void
      )
    }

    const send = (message: Message, options: SendOptions = {}): Effect.Effect<Outcome> => {
      const throttle = options.throttle ?? identity
      const delivery = Effect.gen(function*() {
        const start = clock.unsafeCurrentTimeMillis()
        const deadline = deadlineFrom(start)
        let state: unknown = undefined
        for (let number = 1;; number++) {
          const result = yield* throttle(attempt(message, number, deadline))
          const duration = () => Duration.millis(clock.unsafeCurrentTimeMillis() - start)
          let outcome: Outcome | undefined
          if (result._tag === "Success") {
            outcome = succeeded(result.success, number, duration())
          } else {
            const decision = yield* nextRetry(result.failure, number, state, deadline)
            if (decision._tag === "Retry") {
              state = decision.state
              yield* Effect.sleep(decision.dueAt - clock.unsafeCurrentTimeMillis())
              continue
            }
            outcome = failed(decision.reason, result.failure.status, number, duration())
          }
          yield* finish(message, outcome)
          yield* Effect.annotateCurrentSpan({ outcome: outcome._tag, attempts: outcome.attempts })
          return outcome
        }
      })
      return Effect.withFiberRuntime((fiber) =>
        tracing(
          tracingExported(fiber)
            ? Effect.withSpan(delivery, "Webhooks.deliver", {
              kind: "producer",
              captureStackTrace: false,
              attributes: { webhook: webhook.name, event: message.event, delivery_id: message.id }
            })
            : delivery
        )
      )
    }

    return { webhook, send, attempt, nextRetry, finish, deadlineFrom, tracing } satisfies Sender
  })
