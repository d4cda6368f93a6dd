import type * as HttpClient from "@effect/platform/HttpClient"
import * as Clock from "effect/Clock"
import type * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as FiberSet from "effect/FiberSet"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Queue from "effect/Queue"
import type { InvalidConfig } from "../../servo/ConfigError.js"
import * as Connector from "../../servo/Connector.js"
import * as CoreEvents from "../../servo/CoreEvents.js"
import * as Event from "../../servo/Event.js"
import * as EventBus from "../../servo/EventBus.js"
import * as GoDuration from "../../servo/GoDuration.js"
import * as Delivery from "../Delivery.js"
import * as Transport from "../Transport.js"
import * as WebhookConfig from "../WebhookConfig.js"
import type * as Webhooks from "../Webhooks.js"
import * as WireContract from "../WireContract.js"
import * as Metrics from "./metrics.js"

/** @internal */
export const defaults = {
  outboxCapacity: 10_000,
  workers: 16,
  drainTimeout: Duration.seconds(10)
} as const

type Tag = Context.Tag<Webhooks.Webhooks, Webhooks.Service>

/** How many webhooks the shutdown warning names; the others are summed up. */
const abandonedWebhooksShown = 8

/** An after delivery waiting in the outbox or in flight. */
interface Job {
  readonly sender: Delivery.Sender
  readonly message: Delivery.Message
}

/**
 * Senders for resolved webhooks, each on its transport: webhooks with settings of their own
 * (TLS, proxy, HTTP/2, network policy) get a client built for them, closed with the scope; the
 * others use the HttpClient in context.
 *
 * @internal
 */
export const makeSenders = (webhooks: ReadonlyArray<WebhookConfig.Webhook>, options: { readonly connector: string }) =>
  Effect.gen(function*() {
    for (const webhook of webhooks) {
      if (webhook.tls?.insecureSkipVerify === true) {
        yield* Effect.logWarning(
          `webhook ${webhook.name}: tls.insecure_skip_verify is set, so the receiver's certificate is not verified and anyone on the path can read and change its deliveries`
        ).pipe(Effect.annotateLogs({ connector: options.connector, webhook: webhook.name }))
      }
    }
    const transports = yield* Transport.make
    return yield* Effect.forEach(webhooks, (webhook) =>
      Effect.flatMap(transports.clientFor(webhook), (client) => Delivery.makeSender(webhook, { connector: options.connector, client })))
  })

/** @internal */
export const make = (webhooks: ReadonlyArray<WebhookConfig.Webhook>, options: Webhooks.Options = {}) =>
  Effect.gen(function*() {
    const name = options.name ?? "webhooks"
    const registry = options.events ?? CoreEvents.registry
    const capacity = options.outboxCapacity ?? defaults.outboxCapacity
    const drainTimeout = Duration.decode(options.drainTimeout ?? defaults.drainTimeout)
    const senders = yield* makeSenders(webhooks, { connector: name })

    // Which senders serve which event, worked out once per event name.
    const routes = { before: new Map<string, ReadonlyArray<Delivery.Sender>>(), after: new Map<string, ReadonlyArray<Delivery.Sender>>() }
    const sendersFor = (preposition: WireContract.Preposition, event: string) => {
      let found = routes[preposition].get(event)
      if (found === undefined) {
        found = senders.filter((sender) => sender.webhook.events.some((selector) => Event.matches(selector, preposition, event)))
        routes[preposition].set(event, found)
      }
      return found
    }

    // The outbox's counters, one set per webhook, made once.
    const outboxMetrics = new Map(webhooks.map((webhook) => {
      const tags = (outcome: string) => ({ connector: name, webhook: webhook.name, outcome })
      return [webhook.name, {
        enqueued: Metrics.tagged(Metrics.outboxTotal, tags("enqueued")),
        overflowed: Metrics.tagged(Metrics.outboxTotal, tags("overflowed")),
        abandoned: Metrics.tagged(Metrics.outboxTotal, tags("abandoned"))
      }] as const
    }))
    const outboxMetric = (webhook: string, outcome: "enqueued" | "overflowed" | "abandoned") =>
      outboxMetrics.get(webhook)![outcome]

    // -------------------------------------------------------------------------------------------
    // The outbox: a bounded queue, a fixed number of attempts in flight, a drain at shutdown.
    // -------------------------------------------------------------------------------------------
    const queue = yield* Effect.acquireRelease(Queue.unbounded<Job>(), Queue.shutdown)
    // `workers` bounds the attempts in flight, not the deliveries: a delivery waiting to retry
    // holds no slot, so one failing receiver cannot starve the others.
    const slots = yield* Effect.makeSemaphore(options.workers ?? defaults.workers)
    const inFlight = new Set<Job>()
    let pending = 0
    let accepting = true
    // Done when intake has stopped and nothing is pending: what the drain waits for.
    const idle = yield* Deferred.make<void>()
    let overflowSinceReport = 0
    let lastOverflowReport = Number.NEGATIVE_INFINITY

    const finished = (job: Job) =>
      Effect.sync(() => {
        inFlight.delete(job)
        pending--
        if (pending === 0 && !accepting) Deferred.unsafeDone(idle, Effect.void)
      })

    // The first attempt runs on the slot the dispatcher took for it; every later one takes a slot
    // of its own, after its wait.
    const deliver = (job: Job) => {
      let slotHeld = true
      const throttle = <A, E>(attempt: Effect.Effect<A, E>) => {
        if (!slotHeld) return slots.withPermits(1)(attempt)
        slotHeld = false
        return Effect.ensuring(attempt, slots.release(1))
      }
      return job.sender.send(job.message, { throttle }).pipe(
        Effect.tap((outcome) =>
          outcome._tag === "Cancelled"
            ? Effect.logWarning(`an after webhook cannot cancel an event; ignored: ${outcome.reason}`).pipe(
              Effect.annotateLogs({ webhook: job.sender.webhook.name, event: job.message.event })
            )
            : Effect.void
        ),
        // Only a delivery that finished leaves `inFlight`; one interrupted at shutdown stays there
        // and is counted as abandoned.
        Effect.zipRight(finished(job))
      )
    }

    // One job at a time: it waits for a free attempt slot before giving the job a fiber, so the
    // queue, not a crowd of waiting fibers, holds what waits.
    const deliveries = yield* FiberSet.make<void>()
    const dispatcher = Effect.gen(function*() {
      const job = yield* Queue.take(queue)
      inFlight.add(job)
      yield* slots.take(1)
      yield* FiberSet.run(deliveries, deliver(job))
    }).pipe(Effect.forever)
    const dispatcherFiber = yield* Effect.forkScoped(dispatcher)

    // At most one overflow line a second, however fast deliveries are dropped; the drain reports
    // what is left of a burst.
    const logOverflow = Effect.suspend(() => {
      const dropped = overflowSinceReport
      overflowSinceReport = 0
      return Effect.logWarning(`outbox full (${capacity} pending): dropped ${dropped} after deliver${dropped === 1 ? "y" : "ies"}`)
    })
    const reportOverflow = Effect.gen(function*() {
      overflowSinceReport++
      const now = yield* Clock.currentTimeMillis
      if (now - lastOverflowReport < 1000) return
      lastOverflowReport = now
      yield* logOverflow
    })

    const enqueue = (job: Job) =>
      Effect.suspend(() => {
        const webhook = job.sender.webhook.name
        if (!accepting) {
          // Counted as enqueued and abandoned, so `enqueued` still adds up.
          return Metric.increment(outboxMetric(webhook, "enqueued")).pipe(
            Effect.zipRight(Metric.increment(outboxMetric(webhook, "abandoned"))),
            Effect.zipRight(Effect.logWarning(`shutting down: ${job.message.event} delivery to ${webhook} abandoned`))
          )
        }
        if (pending >= capacity) {
          return Metric.increment(outboxMetric(webhook, "overflowed")).pipe(Effect.zipRight(reportOverflow))
        }
        queue.unsafeOffer(job)
        pending++
        return Metric.increment(outboxMetric(webhook, "enqueued"))
      })

    const drain = Effect.gen(function*() {
      accepting = false
      if (overflowSinceReport > 0) yield* logOverflow
      if (pending > 0) {
        yield* Effect.logInfo(`draining ${pending} after deliver${pending === 1 ? "y" : "ies"} (up to ${GoDuration.format(drainTimeout)})`)
        // Finalizers run uninterruptibly: the wait must be made interruptible for the deadline
        // to cut it short.
        yield* Deferred.await(idle).pipe(Effect.interruptible, Effect.timeoutOption(drainTimeout))
      }
      // Stop everything first, so nothing finishes while it is being counted.
      yield* Fiber.interrupt(dispatcherFiber)
      yield* FiberSet.clear(deliveries)
      const abandoned = [...(yield* Queue.takeAll(queue)), ...inFlight]
      if (abandoned.length === 0) return
      const perWebhook = new Map<string, number>()
      for (const job of abandoned) {
        const webhook = job.sender.webhook.name
        perWebhook.set(webhook, (perWebhook.get(webhook) ?? 0) + 1)
      }
      for (const [webhook, count] of perWebhook) yield* Metric.incrementBy(outboxMetric(webhook, "abandoned"), count)
      pending -= abandoned.length
      // The webhooks that lost the most first; past a few, one line would be a wall of names (the
      // per-webhook counts are in the outbox metric).
      const ranked = [...perWebhook].sort((a, b) => b[1] - a[1])
      const shown = ranked.slice(0, abandonedWebhooksShown).map(([webhook, count]) => `${webhook} ${count}`)
      const rest = ranked.slice(abandonedWebhooksShown)
      const more = rest.length === 0 ? "" : `, and ${rest.length} more webhook${rest.length === 1 ? "" : "s"} ${
        rest.reduce((sum, [, count]) => sum + count, 0)
      }`
      yield* Effect.logWarning(
        `shutdown: ${abandoned.length} after deliver${abandoned.length === 1 ? "y" : "ies"} abandoned after the ${
          GoDuration.format(drainTimeout)
        } drain deadline: ${shown.join(", ")}${more}`
      )
    }).pipe(Effect.annotateLogs({ connector: name }))
    // Finalizers run in reverse: the handlers registered below go first (intake stops), then this.
    yield* Effect.addFinalizer(() => drain)

    // -------------------------------------------------------------------------------------------
    // The handlers.
    // -------------------------------------------------------------------------------------------
    const payloadOf = (
      event: Event.Event.Any,
      preposition: WireContract.Preposition,
      params: unknown,
      results?: EventBus.EventResults<unknown>
    ) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        WireContract.encodePayload({
          event,
          preposition,
          params,
          createdAt: new Date(now),
          ...(results === undefined ? {} : { results })
        }).pipe(
          Either.match({
            onRight: Effect.succeed,
            // A connector returned a result its event's Schema cannot encode: a bug to report, not
            // a payload to send.
            onLeft: (error) => Effect.die(new Error(`cannot encode ${preposition}:${event.name} for its webhooks: ${error.message}`))
          })
        ))

    const messageOf = (payload: WireContract.Payload): Delivery.Message => {
      const id = WireContract.makeId()
      return { id, event: payload.event, body: payload.body(id) }
    }

    const before: EventBus.BeforeHandler<Event.Event.Any> = ({ cancel, event, params }) => {
      const targets = sendersFor("before", event.name)
      if (targets.length === 0) return Effect.void
      return payloadOf(event, "before", params).pipe(
        Effect.flatMap((payload) =>
          // Concurrently; the first cancellation fails the forEach, which interrupts the rest.
          Effect.forEach(targets, (sender) =>
            sender.send(messageOf(payload)).pipe(
              Effect.flatMap((outcome) => {
                const webhook = sender.webhook.name
                if (outcome._tag === "Cancelled") return cancel(outcome.reason, { handler: webhook })
                if (outcome._tag === "Delivered") return Effect.void
                return sender.webhook.onFailure === "cancel"
                  ? cancel(`webhook ${webhook} failed: ${outcome.reason}`, { handler: webhook })
                  : Effect.logWarning(`before webhook failed; ${event.name} goes on (on_failure: ignore): ${outcome.reason}`).pipe(
                    Effect.annotateLogs({ webhook, event: payload.event })
                  )
              })
            ), { concurrency: "unbounded", discard: true })
        )
      )
    }

    const after: EventBus.AfterHandler<Event.Event.Any> = ({ event, params, results }) => {
      const targets = sendersFor("after", event.name)
      if (targets.length === 0) return Effect.void
      return payloadOf(event, "after", params, results).pipe(
        Effect.flatMap((payload) => Effect.forEach(targets, (sender) => enqueue({ sender, message: messageOf(payload) }), { discard: true }))
      )
    }

    const handlers = yield* EventBus.connector(name)
    for (const preposition of ["before", "after"] as const) {
      const selectors = webhooks.flatMap((webhook) => webhook.events.filter((selector) => selector.preposition === preposition))
      if (selectors.length === 0) continue
      const events = selectors.some((selector) => selector.event === "*")
        ? ["*" as const]
        : [...new Set(selectors.map((selector) => selector.event))].map((event) => registry.get(event)!)
      for (const event of events) {
        yield* preposition === "before" ? handlers.before(event as Event.Event.Any, before) : handlers.after(event as Event.Event.Any, after)
      }
    }

    // Metrics are process-wide: an instance's counts are what they gained since it started (an
    // earlier instance with the same names counted into the same metrics).
    const counted = Effect.gen(function*() {
      const sum = (count: (webhook: string) => Effect.Effect<number>) =>
        Effect.map(Effect.forEach(webhooks, (webhook) => count(webhook.name)), (counts) => counts.reduce((a, b) => a + b, 0))
      const deliveries = (preposition: string, outcome: string) =>
        sum((webhook) => Metrics.count(Metrics.deliveriesTotal, { connector: name, webhook, preposition, outcome }))
      const outboxCount = (outcome: string) =>
        sum((webhook) => Metrics.count(Metrics.outboxTotal, { connector: name, webhook, outcome }))
      return {
        before: {
          delivered: yield* deliveries("before", "delivered"),
          cancelled: yield* deliveries("before", "cancelled"),
          failed: yield* deliveries("before", "failed")
        },
        after: {
          delivered: yield* deliveries("after", "delivered"),
          cancelled: yield* deliveries("after", "cancelled"),
          failed: yield* deliveries("after", "failed"),
          enqueued: yield* outboxCount("enqueued"),
          overflowed: yield* outboxCount("overflowed"),
          abandoned: yield* outboxCount("abandoned")
        }
      }
    })
    const baseline = yield* counted
    const since = <K extends string>(now: Record<K, number>, then: Record<K, number>) =>
      Object.fromEntries(Object.entries(now).map(([key, value]) => [key, (value as number) - then[key as K]])) as Record<K, number>
    const stats: Effect.Effect<Webhooks.Stats> = Effect.map(counted, (now) => ({
      before: since(now.before, baseline.before),
      after: { ...since(now.after, baseline.after), pending }
    }))

    return { name, webhooks, stats } satisfies Webhooks.Service
  })

/** @internal */
export const layer = (tag: Tag) =>
(
  configs: ReadonlyArray<WebhookConfig.WebhookConfig>,
  options: Webhooks.Options = {}
): Layer.Layer<Webhooks.Webhooks, InvalidConfig, EventBus.EventBus | HttpClient.HttpClient> =>
  Layer.scoped(
    tag,
    WebhookConfig.resolve(configs, {
      section: options.name ?? "webhooks",
      ...(options.source === undefined ? {} : { source: options.source })
    }).pipe(Effect.flatMap((webhooks) => make(webhooks, options)))
  )

/** @internal */
export const connectorWithOptions = (tag: Tag) => (options: Webhooks.ConnectorOptions = {}) =>
  Connector.make({
    name: "webhooks",
    description: "HTTP callbacks before and after events",
    config: (events) => WebhookConfig.WebhooksConfig(events),
    layer: (configs: ReadonlyArray<WebhookConfig.WebhookConfig>, { events, name, source }) =>
      layer(tag)(configs, { ...options, name, events, source })
  })
