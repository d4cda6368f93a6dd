/**
 * The outbox: how after deliveries wait and run.
 *
 * The after handler offers a batch of jobs (one per webhook of the event) and returns; a fixed
 * set of long-lived worker fibers claims due jobs from the `OutboxStore`, makes one attempt
 * each, and records the outcome: delivered, rescheduled (attempt number, due instant, last
 * error) or failed for good. A delivery waiting to retry is data in the store, never a fiber:
 * one timekeeper sleeps (on the Clock, so TestClock drives it) until the next due instant and
 * wakes the workers. At shutdown intake stops, the outbox drains within a deadline, and what is
 * left is reported per webhook: abandoned (memory) or left pending (a durable store).
 *
 * @since 0.2.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as FiberSet from "effect/FiberSet"
import type * as Scope from "effect/Scope"
import type * as Tracer from "effect/Tracer"
import * as GoDuration from "../servo/GoDuration.js"
import * as Delivery from "./Delivery.js"
import * as Metrics from "./internal/metrics.js"
import type * as OutboxStore from "./OutboxStore.js"
import type * as WebhookConfig from "./WebhookConfig.js"

export interface Options {
  /** The connector instance's name, in logs and metrics. */
  readonly connector: string
  /** Worker fibers: the attempts in flight at most. */
  readonly workers: number
  /** How long shutdown waits for what is pending. */
  readonly drainTimeout: Duration.DurationInput
  /** Attempts of one webhook in flight at most, so one slow receiver cannot hold every worker. */
  readonly maxInFlight: (webhook: string) => number
}

/** What became of an offered batch. */
export interface Intake {
  readonly enqueued: number
  readonly overflowed: number
  /** Offered after intake stopped (shutdown): counted as enqueued and abandoned. */
  readonly closed: number
}

/**
 * A webhook's circuit breaker: `closed` lets its deliveries through; `open` holds them (none is
 * attempted) until `openUntil`; `half_open` lets one probe attempt through, whose outcome closes
 * it or opens it again with the cooldown doubled (up to `longestCooldown`).
 */
export interface BreakerState {
  readonly webhook: string
  readonly status: "closed" | "open" | "half_open"
  /** Consecutive failed attempts counted so far (closed). */
  readonly failures: number
  /** The wait of the current open period, or of the next one. */
  readonly cooldown: Duration.Duration
  /** Open: when the probe may start (epoch ms, on the engine's Clock). */
  readonly openUntil: number | undefined
}

/** How long an open breaker waits at most, however many probes failed (unless its own cooldown is longer). */
export const longestCooldown = Duration.minutes(10)

export interface Outbox {
  /** Hands jobs to the store; never fails (a store error is logged and counted as overflow). */
  readonly offer: (jobs: ReadonlyArray<OutboxStore.NewJob>) => Effect.Effect<Intake>
  /** After deliveries not finished: waiting, due or in flight. */
  readonly pending: Effect.Effect<number>
  /**
   * Ends a running drain's wait now, as its deadline would (a second signal at shutdown):
   * what is left is counted. Does nothing before shutdown.
   */
  readonly cutDrain: Effect.Effect<void>
  /** The circuit breakers of the webhooks that have one, now. */
  readonly breakers: Effect.Effect<ReadonlyArray<BreakerState>>
}

/** How many webhooks the shutdown warning names; the others are summed up. */
const unfinishedWebhooksShown = 8

/** How long a worker waits after a store error before it claims again. */
const storeErrorPause = Duration.seconds(1)

/**
 * Idle workers wait here until there is work. A wake-up that finds no one waiting is kept (up
 * to one per worker), so a job offered between a worker's empty claim and its wait is not missed.
 */
class Wakeups {
  private readonly waiting: Array<Deferred.Deferred<void>> = []
  private permits = 0
  constructor(private readonly workers: number) {}

  readonly wait: Effect.Effect<void> = Effect.suspend(() => {
    if (this.permits > 0) {
      this.permits--
      return Effect.void
    }
    const wakeup = Deferred.unsafeMake<void>(FiberId.none)
    this.waiting.push(wakeup)
    return Deferred.await(wakeup)
  })

  wake(count: number) {
    for (let i = 0; i < count; i++) {
      const wakeup = this.waiting.pop()
      if (wakeup === undefined) {
        this.permits = Math.min(this.workers, this.permits + count - i)
        return
      }
      Deferred.unsafeDone(wakeup, Effect.void)
    }
  }
}

/** A webhook's breaker as the engine keeps it (see `BreakerState`). */
interface Breaker {
  readonly config: WebhookConfig.Breaker
  readonly longestCooldown: number
  status: BreakerState["status"]
  failures: number
  cooldown: number
  openUntil: number
  /** Bumped on every change: an attempt's outcome counts only in the state it started in. */
  generation: number
  /** Half-open: the probe is in flight. */
  probing: boolean
  /** When it last opened, and last closed again (−∞: never). */
  openedAt: number
  closedAt: number
}

/** What an attempt says about its receiver's health: a retryable failure counts, a refusal (4xx) neither counts nor resets. */
type Health = "up" | "down" | "neutral"

/**
 * The engine's own state, with its methods as the only writers: whether intake is open, the
 * attempts in flight per webhook, the webhooks' circuit breakers, the overflow not yet
 * reported, and when the timekeeper wakes.
 */
class EngineState {
  accepting = true
  private readonly inFlight = new Map<string, number>()
  private readonly breakers = new Map<string, Breaker>()
  overflowSinceReport = 0
  lastOverflowReport = Number.NEGATIVE_INFINITY
  /** The due instant the timekeeper sleeps until (+∞: none). */
  wakeAt = Number.POSITIVE_INFINITY

  constructor(
    private readonly maxInFlight: (webhook: string) => number,
    breakers: ReadonlyMap<string, WebhookConfig.Breaker>
  ) {
    for (const [webhook, config] of breakers) {
      const cooldown = Duration.toMillis(config.cooldown)
      this.breakers.set(webhook, {
        config,
        longestCooldown: Math.max(cooldown, Duration.toMillis(longestCooldown)),
        status: "closed",
        failures: 0,
        cooldown,
        openUntil: Number.POSITIVE_INFINITY,
        generation: 0,
        probing: false,
        openedAt: Number.NEGATIVE_INFINITY,
        closedAt: Number.NEGATIVE_INFINITY
      })
    }
  }

  /** How many more attempts of `webhook` may start now: none while its breaker is open, one probe when half-open. */
  readonly room = (webhook: string) => {
    const breaker = this.breakers.get(webhook)
    if (breaker !== undefined && breaker.status !== "closed") {
      return breaker.status === "half_open" && !breaker.probing ? 1 : 0
    }
    return this.maxInFlight(webhook) - (this.inFlight.get(webhook) ?? 0)
  }

  /**
   * An attempt starts; returns the breaker generation its outcome belongs to, or −1 when it
   * cannot count: a second attempt that slipped in while half-open (two workers claiming at
   * once from a store that answers asynchronously) is made, but only the first one is the probe.
   */
  started(webhook: string): number {
    this.inFlight.set(webhook, (this.inFlight.get(webhook) ?? 0) + 1)
    const breaker = this.breakers.get(webhook)
    if (breaker === undefined) return 0
    if (breaker.status === "half_open") {
      if (breaker.probing) return -1
      breaker.probing = true
    }
    return breaker.generation
  }

  /** An attempt ended; returns the breaker's new state when this outcome changed it. */
  finished(webhook: string, generation: number, health: Health, now: number): BreakerState | undefined {
    this.inFlight.set(webhook, this.inFlight.get(webhook)! - 1)
    const breaker = this.breakers.get(webhook)
    // An attempt that started before the last change (in flight when the breaker opened) says
    // nothing about the receiver now.
    if (breaker === undefined || breaker.generation !== generation || breaker.status === "open") return undefined
    if (breaker.status === "half_open") {
      breaker.probing = false
      if (health === "up") return this.close(webhook, breaker, now)
      if (health === "down") {
        return this.open(webhook, breaker, Math.min(breaker.cooldown * 2, breaker.longestCooldown), now)
      }
      return undefined
    }
    if (health === "up") breaker.failures = 0
    if (health !== "down") return undefined
    breaker.failures++
    return breaker.failures >= breaker.config.failures ? this.open(webhook, breaker, breaker.cooldown, now) : undefined
  }

  /** Open breakers whose cooldown has ended become half-open; returns them. */
  halfOpen(now: number): Array<BreakerState> {
    const changed: Array<BreakerState> = []
    for (const [webhook, breaker] of this.breakers) {
      if (breaker.status !== "open" || breaker.openUntil > now) continue
      breaker.status = "half_open"
      breaker.openUntil = Number.POSITIVE_INFINITY
      breaker.probing = false
      breaker.generation++
      changed.push(this.viewOf(webhook, breaker))
    }
    return changed
  }

  /** When the first open breaker's cooldown ends (+∞: none is open). */
  nextBreakerChange(): number {
    let next = Number.POSITIVE_INFINITY
    for (const breaker of this.breakers.values()) if (breaker.status === "open") next = Math.min(next, breaker.openUntil)
    return next
  }

  /** Whether `webhook`'s breaker held its deliveries at some instant since `since`. */
  heldByBreaker(webhook: string, since: number): boolean {
    const breaker = this.breakers.get(webhook)
    if (breaker === undefined || breaker.openedAt === Number.NEGATIVE_INFINITY) return false
    return breaker.status !== "closed" || breaker.closedAt >= since
  }

  breakerStates(): Array<BreakerState> {
    return [...this.breakers].map(([webhook, breaker]) => this.viewOf(webhook, breaker))
  }

  private open(webhook: string, breaker: Breaker, cooldown: number, now: number): BreakerState {
    breaker.status = "open"
    breaker.cooldown = cooldown
    breaker.openUntil = now + cooldown
    breaker.openedAt = now
    breaker.generation++
    return this.viewOf(webhook, breaker)
  }

  private close(webhook: string, breaker: Breaker, now: number): BreakerState {
    breaker.status = "closed"
    breaker.failures = 0
    breaker.cooldown = Duration.toMillis(breaker.config.cooldown)
    breaker.closedAt = now
    breaker.generation++
    return this.viewOf(webhook, breaker)
  }

  private viewOf(webhook: string, breaker: Breaker): BreakerState {
    return {
      webhook,
      status: breaker.status,
      failures: breaker.failures,
      cooldown: Duration.millis(breaker.cooldown),
      openUntil: breaker.status === "open" ? breaker.openUntil : undefined
    }
  }

  overflowed(count: number, now: number): number | undefined {
    this.overflowSinceReport += count
    // At most one overflow line a second, however fast deliveries are dropped.
    if (now - this.lastOverflowReport < 1000) return undefined
    this.lastOverflowReport = now
    return this.takeOverflow()
  }

  takeOverflow() {
    const dropped = this.overflowSinceReport
    this.overflowSinceReport = 0
    return dropped
  }
}

const plural = (count: number, one: string, many: string) => `${count} ${count === 1 ? one : many}`

/**
 * Starts the workers and the timekeeper over `store`, delivering through `senders` (by webhook
 * name). Closing the scope stops intake, drains, and reports what is left.
 */
export const make = (
  store: OutboxStore.Service,
  senders: ReadonlyMap<string, Delivery.Sender>,
  options: Options
): Effect.Effect<Outbox, never, Scope.Scope> =>
  Effect.gen(function*() {
    const clock = yield* Effect.clock
    const drainTimeout = Duration.decode(options.drainTimeout)
    const state = new EngineState(
      (webhook) => senders.has(webhook) ? options.maxInFlight(webhook) : 0,
      new Map([...senders].flatMap(([name, sender]) => sender.webhook.breaker === undefined ? [] : [[name, sender.webhook.breaker] as const]))
    )
    const wakeups = new Wakeups(options.workers)
    const annotate = Effect.annotateLogs({ connector: options.connector })

    // The outbox's counters, one set per webhook, made once.
    const counters = new Map([...senders.keys()].map((webhook) => {
      const tags = (outcome: string) => ({ connector: options.connector, webhook, outcome })
      return [webhook, {
        enqueued: Metrics.tagged(Metrics.outboxTotal, tags("enqueued")),
        overflowed: Metrics.tagged(Metrics.outboxTotal, tags("overflowed")),
        abandoned: Metrics.tagged(Metrics.outboxTotal, tags("abandoned")),
        depth: Metrics.tagged(Metrics.outboxDepth, { connector: options.connector, webhook })
      }] as const
    }))
    // The depth follows the counts: up when enqueued, down when finished or abandoned.
    const count = (webhook: string, outcome: "enqueued" | "overflowed" | "abandoned", by = 1) => {
      const counter = counters.get(webhook)
      counter?.[outcome].unsafeUpdate(by, [])
      if (outcome !== "overflowed") counter?.depth.unsafeModify(outcome === "enqueued" ? by : -by, [])
    }

    // Done when intake has stopped and nothing is pending, or when the drain is cut short.
    const drained = yield* Deferred.make<void>()
    const pending = store.pending.pipe(
      Effect.catchAll((error) => Effect.as(Effect.logError(`outbox store cannot count: ${error.message}`).pipe(annotate), 0))
    )
    const checkDrained = Effect.suspend(() =>
      state.accepting
        ? Effect.void
        : Effect.flatMap(pending, (left) => left === 0 ? Deferred.succeed(drained, undefined) : Effect.void)
    )

    // -------------------------------------------------------------------------------------------
    // Intake.
    // -------------------------------------------------------------------------------------------
    const logOverflow = (dropped: number) =>
      Effect.logWarning(
        `outbox full (${store.capacity} pending): dropped ${
          plural(dropped, "after delivery", "after deliveries")
        }`
      ).pipe(annotate)

    const offer = (jobs: ReadonlyArray<OutboxStore.NewJob>): Effect.Effect<Intake> => {
      if (jobs.length === 0) return Effect.succeed({ enqueued: 0, overflowed: 0, closed: 0 })
      if (!state.accepting) {
        // Counted as enqueued and abandoned, so `enqueued` still adds up.
        return Effect.forEach(jobs, (job) => {
          count(job.webhook, "enqueued")
          count(job.webhook, "abandoned")
          return Effect.logWarning(`shutting down: ${job.event} delivery to ${job.webhook} abandoned`)
        }, { discard: true }).pipe(annotate, Effect.as({ enqueued: 0, overflowed: 0, closed: jobs.length }))
      }
      return store.enqueue(jobs).pipe(
        Effect.catchAll((error) =>
          Effect.as(Effect.logError(`after deliveries not stored: ${error.message}`).pipe(annotate), 0)
        ),
        Effect.tap((taken) => openSpans(jobs, taken)),
        Effect.flatMap((taken) => {
          wakeups.wake(taken)
          for (let i = 0; i < jobs.length; i++) count(jobs[i]!.webhook, i < taken ? "enqueued" : "overflowed")
          const intake = { enqueued: taken, overflowed: jobs.length - taken, closed: 0 }
          if (intake.overflowed === 0) return Effect.succeed(intake)
          const report = state.overflowed(intake.overflowed, clock.unsafeCurrentTimeMillis())
          return report === undefined ? Effect.succeed(intake) : Effect.as(logOverflow(report), intake)
        })
      )
    }

    // -------------------------------------------------------------------------------------------
    // Workers: claim → attempt → record, forever.
    // -------------------------------------------------------------------------------------------
    const record = (job: OutboxStore.Job, sender: Delivery.Sender, result: Delivery.AttemptResult): Effect.Effect<void, OutboxStore.OutboxStoreError> => {
      const { attempt } = result
      const duration = Duration.millis(attempt.startedAt + attempt.durationMs - job.createdAt)
      if (result._tag === "Success") {
        const outcome = Delivery.succeeded(result.success, attempt.number, duration)
        return store.complete(job, attempt).pipe(
          Effect.zipRight(finish(job, sender, outcome)),
          Effect.zipRight(
            outcome._tag === "Cancelled"
              ? Effect.logWarning(`an after webhook cannot cancel an event; ignored: ${outcome.reason}`).pipe(
                Effect.annotateLogs({ webhook: job.webhook, event: job.event })
              )
              : Effect.void
          )
        )
      }
      return Effect.flatMap(sender.nextRetry(result.failure, attempt.number, job.retryState, job.deadline), (retry) => {
        if (retry._tag === "Retry") {
          const next = { attempts: attempt.number, dueAt: retry.dueAt, lastError: result.failure.reason, retryState: retry.state }
          return Effect.zipRight(store.reschedule(job, attempt, next), Effect.sync(() => arm(retry.dueAt)))
        }
        const outcome = Delivery.failed(retry.reason, result.failure.status, attempt.number, duration)
        return Effect.zipRight(store.fail(job, attempt, retry.reason), finish(job, sender, outcome))
      })
    }

    const run = (job: OutboxStore.Job): Effect.Effect<void, OutboxStore.OutboxStoreError> => {
      const sender = senders.get(job.webhook)
      if (sender === undefined) {
        // Only a durable store can hold a job whose webhook this config does not have.
        return store.fail(job, undefined, `no webhook named ${job.webhook} in this config`)
      }
      const heldPastDeadline = failHeldPastDeadline(job, sender)
      if (heldPastDeadline !== undefined) return heldPastDeadline
      const generation = state.started(job.webhook)
      let attempt = sender.attempt(job, job.attempts + 1, job.deadline)
      const span = spans.get(job.id)
      if (span !== undefined) attempt = Effect.withParentSpan(attempt, span)
      // The attempt's client span when the delivery has one, its trace headers when opted into.
      if (span !== undefined || sender.webhook.tracePropagation) attempt = sender.tracing(attempt)
      return attempt.pipe(
        Effect.flatMap((result) => {
          const health = result._tag === "Success" ? "up" : result.failure.retryable ? "down" : "neutral"
          const changed = state.finished(job.webhook, generation, health, clock.unsafeCurrentTimeMillis())
          const recorded = record(job, sender, result)
          return changed === undefined ? recorded : Effect.zipRight(breakerChanged(changed), recorded)
        }),
        Effect.zipRight(checkDrained)
      )
    }

    // -------------------------------------------------------------------------------------------
    // Circuit breakers: while a webhook's is open the claims skip it (its room is 0); the
    // timekeeper wakes when the cooldown ends and makes it half-open (room for one probe).
    // -------------------------------------------------------------------------------------------
    const breakerGauges = new Map(
      state.breakerStates().map(({ webhook }) => [webhook, Metrics.tagged(Metrics.breakerState, { connector: options.connector, webhook })] as const)
    )
    for (const gauge of breakerGauges.values()) gauge.unsafeUpdate(Metrics.breakerStateValue.closed, [])

    const breakerChanged = (breaker: BreakerState) =>
      Effect.suspend(() => {
        breakerGauges.get(breaker.webhook)?.unsafeUpdate(Metrics.breakerStateValue[breaker.status], [])
        const cooldown = GoDuration.format(breaker.cooldown)
        const line = breaker.status === "open"
          ? `circuit breaker open: deliveries wait ${cooldown}, then one probe attempt decides`
          : breaker.status === "half_open"
          ? "circuit breaker half-open: the next attempt is a probe"
          : "circuit breaker closed: the probe was delivered"
        if (breaker.status === "open") arm(breaker.openUntil!)
        // Closed: everything held may go now, as many at once as the webhook's share allows.
        if (breaker.status !== "open") wakeups.wake(breaker.status === "closed" ? options.workers : 1)
        // Opening is what an operator must see; the probe and the closing are news.
        const log = breaker.status === "open" ? Effect.logWarning(line) : Effect.logInfo(line)
        return log.pipe(annotate, Effect.annotateLogs({ webhook: breaker.webhook }))
      })

    /**
     * A job claimed past its deadline after the breaker held it is failed without an attempt,
     * saying so. While a breaker is open nothing of its webhook is claimed, so such a job fails
     * when the cooldown ends (a probe's room is not used up by it): at most one cooldown late.
     */
    const failHeldPastDeadline = (job: OutboxStore.Job, sender: Delivery.Sender) => {
      const now = clock.unsafeCurrentTimeMillis()
      if (job.deadline > now || !state.heldByBreaker(job.webhook, job.dueAt)) return undefined
      const reason = `${job.lastError === undefined ? "not attempted" : job.lastError} (the delivery's deadline passed while the circuit breaker was open)`
      const outcome: Delivery.Failed = { _tag: "Failed", reason, attempts: job.attempts, duration: Duration.millis(now - job.createdAt) }
      return Effect.zipRight(store.fail(job, undefined, reason), finish(job, sender, outcome)).pipe(Effect.zipRight(checkDrained))
    }

    // -------------------------------------------------------------------------------------------
    // Spans: with a tracer that exports, a delivery's span starts when it is offered (a child of
    // the event's) and ends with its outcome; its attempts run under it. Without one, none.
    // -------------------------------------------------------------------------------------------
    const spans = new Map<string, Tracer.Span>()
    const openSpans = (jobs: ReadonlyArray<OutboxStore.NewJob>, taken: number) =>
      Effect.withFiberRuntime<void>((fiber) => {
        if (taken === 0 || !Delivery.tracingExported(fiber)) return Effect.void
        return Effect.forEach(jobs.slice(0, taken), (job) =>
          Effect.map(
            Effect.makeSpan("Webhooks.deliver", {
              kind: "producer",
              captureStackTrace: false,
              attributes: { webhook: job.webhook, event: job.event, delivery_id: job.id }
            }),
            (span) => void spans.set(job.id, span)
          ), { discard: true })
      })

    const finish = (job: OutboxStore.Job, sender: Delivery.Sender, outcome: Delivery.Outcome) =>
      Effect.zipRight(
        sender.finish(job, outcome),
        Effect.suspend(() => {
          counters.get(job.webhook)?.depth.unsafeModify(-1, [])
          const span = spans.get(job.id)
          if (span === undefined) return Effect.void
          spans.delete(job.id)
          span.attribute("outcome", outcome._tag)
          span.attribute("attempts", outcome.attempts)
          return Effect.map(Effect.clockWith((clock) => clock.currentTimeNanos), (now) => span.end(now, Exit.void))
        })
      )

    const webhooks = [...senders.keys()]
    const work: Effect.Effect<void> = Effect.suspend(() =>
      store.claim({ limit: 1, now: clock.unsafeCurrentTimeMillis(), webhooks, room: state.room })
    ).pipe(
      Effect.flatMap((jobs) => jobs.length === 0 ? wakeups.wait : run(jobs[0]!)),
      Effect.catchAll((error) =>
        Effect.logError(`outbox store failed; retrying in ${GoDuration.format(storeErrorPause)}: ${error.message}`).pipe(
          annotate,
          Effect.zipRight(Effect.sleep(storeErrorPause))
        )
      ),
      Effect.forever
    )

    // -------------------------------------------------------------------------------------------
    // The timekeeper: sleeps until the next due instant, then wakes the workers.
    // -------------------------------------------------------------------------------------------
    let rearm = Deferred.unsafeMake<void>(FiberId.none)
    /** A retry due before the timekeeper's wake-up moves the wake-up earlier. */
    const arm = (dueAt: number) => {
      if (dueAt >= state.wakeAt) return
      state.wakeAt = dueAt
      Deferred.unsafeDone(rearm, Effect.void)
    }
    const timekeeper: Effect.Effect<void> = Effect.gen(function*() {
      const now = clock.unsafeCurrentTimeMillis()
      for (const breaker of state.halfOpen(now)) yield* breakerChanged(breaker)
      wakeups.wake(options.workers)
      rearm = Deferred.unsafeMake<void>(FiberId.none)
      const due = yield* store.nextDueAfter(now).pipe(Effect.orElseSucceed(() => now + Duration.toMillis(storeErrorPause)))
      // A store shared with other processes is looked at again at least every poll interval.
      const poll = store.pollInterval === undefined ? undefined : now + Duration.toMillis(store.pollInterval)
      const soonest = Math.min(due ?? Number.POSITIVE_INFINITY, poll ?? Number.POSITIVE_INFINITY, state.nextBreakerChange())
      const next = soonest === Number.POSITIVE_INFINITY ? undefined : soonest
      state.wakeAt = soonest
      if (next === undefined) return yield* Deferred.await(rearm)
      yield* Effect.raceFirst(Effect.sleep(next - now), Deferred.await(rearm))
    }).pipe(Effect.forever)

    const fibers = yield* FiberSet.make<void>()
    // Workers send without the client's span and trace headers, set once here rather than per
    // attempt; a webhook that opts into trace propagation sets its own around its attempts.
    const worker = work.pipe(
      Effect.locally(HttpClient.currentTracerPropagation, false),
      Effect.locally(HttpClient.currentTracerDisabledWhen, () => true)
    )
    for (let i = 0; i < options.workers; i++) yield* FiberSet.run(fibers, worker)
    yield* FiberSet.run(fibers, timekeeper)

    // -------------------------------------------------------------------------------------------
    // Shutdown: stop intake, drain within the deadline, report what is left.
    // -------------------------------------------------------------------------------------------
    const drain = Effect.gen(function*() {
      let cutBy: string | undefined = undefined
      state.accepting = false
      const dropped = state.takeOverflow()
      if (dropped > 0) yield* logOverflow(dropped)
      const left = yield* pending
      if (left > 0) {
        yield* Effect.logInfo(
          `draining ${plural(left, "after delivery", "after deliveries")} (up to ${GoDuration.format(drainTimeout)})`
        )
        // Finalizers run uninterruptibly: the wait must be made interruptible for the deadline
        // to cut it short. A signal that interrupts it ends it the same way: what is left is
        // counted below either way.
        const waited = yield* Deferred.await(drained).pipe(Effect.interruptible, Effect.timeoutOption(drainTimeout), Effect.exit)
        if (Exit.isFailure(waited)) cutBy = "a signal"
      }
      // Stop everything first, so nothing finishes while it is being counted.
      yield* FiberSet.clear(fibers)
      const unfinished = yield* store.close.pipe(
        Effect.catchAll((error) =>
          Effect.as(Effect.logError(`outbox store could not close: ${error.message}`), new Map<string, number>())
        )
      )
      yield* reportUnfinished(unfinished, cutBy)
      // The spans of what did not finish end here, saying so.
      const now = yield* Effect.clockWith((clock) => clock.currentTimeNanos)
      for (const span of spans.values()) {
        span.attribute("outcome", store.durable ? "LeftPending" : "Abandoned")
        span.end(now, Exit.void)
      }
      spans.clear()
    }).pipe(annotate)

    const reportUnfinished = (unfinished: OutboxStore.Unfinished, cutBy: string | undefined) =>
      Effect.gen(function*() {
        if (unfinished.size === 0) return
        const total = [...unfinished.values()].reduce((a, b) => a + b, 0)
        if (!store.durable) {
          for (const [webhook, left] of unfinished) count(webhook, "abandoned", left)
        }
        // The webhooks that lost the most first; past a few, one line would be a wall of names
        // (the per-webhook counts are in the outbox metric).
        const ranked = [...unfinished].sort((a, b) => b[1] - a[1])
        const shown = ranked.slice(0, unfinishedWebhooksShown).map(([webhook, left]) => `${webhook} ${left}`)
        const rest = ranked.slice(unfinishedWebhooksShown)
        const more = rest.length === 0 ? "" : `, and ${plural(rest.length, "more webhook", "more webhooks")} ${
          rest.reduce((sum, [, left]) => sum + left, 0)
        }`
        const what = store.durable ? "left pending in the store" : "abandoned"
        const when = cutBy === undefined
          ? `after the ${GoDuration.format(drainTimeout)} drain deadline`
          : `when ${cutBy} stopped the drain`
        yield* Effect.logWarning(
          `shutdown: ${plural(total, "after delivery", "after deliveries")} ${what} ${when}: ${shown.join(", ")}${more}`
        )
      })

    yield* Effect.addFinalizer(() => drain)

    return {
      offer,
      pending,
      cutDrain: Effect.suspend(() => state.accepting ? Effect.void : Deferred.succeed(drained, undefined)),
      breakers: Effect.sync(() => state.breakerStates())
    }
  })
