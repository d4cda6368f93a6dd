/**
 * The after outbox: a bounded queue, at most `workers` attempts in flight (a delivery waiting to
 * retry holds no slot), overflow counted and logged, and at shutdown a drain within a deadline
 * that reports what is left, per webhook, as abandoned.
 */
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as FiberSet from "effect/FiberSet"
import * as Metric from "effect/Metric"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as GoDuration from "../../servo/GoDuration.js"
import type * as Delivery from "../Delivery.js"
import type { Webhook } from "../WebhookConfig.js"
import * as Metrics from "./metrics.js"

/** How many webhooks the shutdown warning names; the others are summed up. */
const abandonedWebhooksShown = 8

/** An after delivery waiting in the outbox or in flight. */
export interface Job {
  readonly sender: Delivery.Sender
  readonly message: Delivery.Message
}

export interface Outbox {
  /** Takes a job, or counts it as overflowed (full) or abandoned (shutting down). */
  readonly enqueue: (job: Job) => Effect.Effect<void>
  /** After deliveries queued, in flight or waiting to retry. */
  readonly pending: () => number
}

export interface Options {
  /** The connector instance's name, in logs and metrics. */
  readonly connector: string
  readonly webhooks: ReadonlyArray<Webhook>
  readonly capacity: number
  readonly workers: number
  readonly drainTimeout: Duration.Duration
}

/** An outbox that drains when the scope closes. */
export const make = (options: Options): Effect.Effect<Outbox, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { capacity, drainTimeout, webhooks, workers } = options
    const name = options.connector

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

    const queue = yield* Effect.acquireRelease(Queue.unbounded<Job>(), Queue.shutdown)
    // `workers` bounds the attempts in flight, not the deliveries: a delivery waiting to retry
    // holds no slot, so one failing receiver cannot starve the others.
    const slots = yield* Effect.makeSemaphore(workers)
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
    // Finalizers run in reverse: handlers registered after the outbox is made go first (intake
    // stops), then this.
    yield* Effect.addFinalizer(() => drain)

    return { enqueue, pending: () => pending }
  })
