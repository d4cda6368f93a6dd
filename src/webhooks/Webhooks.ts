/**
 * The webhooks connector: registers a before and an after handler for the events its webhooks
 * select, and delivers.
 *
 * - **before** webhooks are delivered when the event starts, all at once; the first one that
 *   cancels wins (the others are interrupted) and the event fails with `CancelEventError`. A
 *   delivery that fails cancels the event only with `on_failure: cancel`.
 * - **after** webhooks go to a bounded outbox delivered with at most `workers` attempts in flight
 *   (a delivery waiting to retry holds no slot), a webhook at most its `max_in_flight` of them
 *   (default half the workers), so `dispatch` returns without waiting for receivers and a hung
 *   receiver cannot stall the others. A webhook's circuit breaker (`breaker`) holds its
 *   deliveries after consecutive failed attempts, then lets one probe decide. When the outbox is full the delivery is dropped, counted and logged — never a
 *   crash, never an unbounded heap.
 * - **shutdown** (the Layer's scope closing): intake stops, the outbox drains within
 *   `drainTimeout`, and whatever is left is logged, per webhook, as abandoned.
 *
 * ```ts
 * const Main = Webhooks.layer(configs).pipe(
 *   Layer.provideMerge(EventBus.layer),
 *   Layer.provide(UndiciHttpClient.layer))
 * ```
 *
 * Webhooks that set `tls`, `proxy`, `http2` or `network` (or that a proxy from the environment
 * applies to) are delivered through a client built for those settings (`Transport`); the others
 * through the `HttpClient` the Layer is given. A webhook with `tls.insecure_skip_verify` is warned
 * about when the connector starts.
 *
 * Counts are Effect `Metric`s tagged with the connector's `name` and the webhook:
 * `servo_webhooks_deliveries_total{outcome}`, `servo_webhooks_attempts_total`,
 * `servo_webhooks_delivery_duration_ms`, `servo_webhooks_outbox_total{outcome}`
 * (`enqueued`, `overflowed`, `abandoned`) and the gauge `servo_webhooks_breaker_state` (0 closed,
 * 1 open, 2 half-open); `stats` sums the counters for this instance, `breakers` reads the breakers.
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type { InvalidConfig } from "../servo/ConfigError.js"
import * as Connector from "../servo/Connector.js"
import * as CoreEvents from "../servo/CoreEvents.js"
import * as Event from "../servo/Event.js"
import * as EventBus from "../servo/EventBus.js"
import * as Delivery from "./Delivery.js"
import * as Metrics from "./internal/metrics.js"
import * as Outbox from "./Outbox.js"
import * as OutboxStore from "./OutboxStore.js"
import * as Transport from "./Transport.js"
import * as WebhookConfig from "./WebhookConfig.js"
import * as WireContract from "./WireContract.js"

/** The running connector: its webhooks and counts. */
export class Webhooks extends Context.Tag("servo-webhooks/Webhooks")<Webhooks, Service>() {}

export interface Service {
  /** The connector instance's name. */
  readonly name: string
  readonly webhooks: ReadonlyArray<WebhookConfig.Webhook>
  /** This instance's counts since it started (from the connector's metrics). */
  readonly stats: Effect.Effect<Stats>
  /**
   * Ends the shutdown drain's wait now, as its deadline would: what is left is counted (a second
   * signal during shutdown). Does nothing before shutdown has begun.
   */
  readonly endDrain: Effect.Effect<void>
  /** The circuit breakers of the webhooks that have one (after deliveries), as they stand now. */
  readonly breakers: Effect.Effect<ReadonlyArray<Outbox.BreakerState>>
}

/**
 * What happened to deliveries so far. For after webhooks, every delivery handed to the outbox is
 * accounted for: `enqueued = delivered + cancelled + failed + abandoned + pending` (after
 * deliveries only), and `overflowed` were refused because the outbox was full.
 */
export interface Stats {
  readonly before: Counts
  readonly after: Counts & {
    readonly enqueued: number
    readonly overflowed: number
    readonly abandoned: number
    readonly pending: number
  }
}

export interface Counts {
  readonly delivered: number
  readonly cancelled: number
  readonly failed: number
}

export interface Options {
  /** The connector instance's name, in logs and metrics. Default `webhooks`. */
  readonly name?: string
  /** The events selectors were decoded against. Default: the core events. */
  readonly events?: Event.Registry
  /** After deliveries pending at most: queued, in flight or waiting to retry. Default 10,000. */
  readonly outboxCapacity?: number
  /**
   * After delivery attempts in flight at most; a delivery waiting to retry holds none, so a
   * failing receiver cannot starve the others. Default 16.
   */
  readonly workers?: number
  /** How long shutdown waits for the outbox to drain. Default 10s. */
  readonly drainTimeout?: Duration.DurationInput
  /**
   * Attempts of one webhook in flight at most, for webhooks that set no `max_in_flight`.
   * Default: half the workers, at least 1 (`defaultMaxInFlight`).
   */
  readonly maxInFlight?: number
  /** Names the config in errors. Default `servo.yaml`. */
  readonly source?: string
}

export const defaults: {
  readonly outboxCapacity: number
  readonly workers: number
  readonly drainTimeout: Duration.Duration
} = {
  outboxCapacity: 10_000,
  workers: 16,
  drainTimeout: Duration.seconds(10)
} as const

/**
 * A webhook's share of the workers when it sets no `max_in_flight`: half of them, at least one.
 * A receiver that hangs then holds at most half the attempt slots, and the others keep the rest;
 * a healthy webhook is held to the same share whether or not another one hangs, so its pace does
 * not depend on its neighbours.
 */
export const defaultMaxInFlight = (workers: number): number => Math.max(1, Math.floor(workers / 2))

/**
 * Senders for resolved webhooks, each on its own transport (TLS, proxy, HTTP/2, network policy)
 * or else on the `HttpClient` in context — the same senders the connector delivers with, for
 * tools that deliver outside a servo (`servo webhooks trigger`). Transports close with the scope.
 */
export const makeSenders = (
  webhooks: ReadonlyArray<WebhookConfig.Webhook>,
  options: { readonly connector: string }
): Effect.Effect<ReadonlyArray<Delivery.Sender>, never, HttpClient.HttpClient | Scope.Scope> =>
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

/**
 * The connector for resolved webhooks: its outbox, and its handlers registered on the bus until
 * the scope closes (then the outbox drains).
 */
export const make = (
  webhooks: ReadonlyArray<WebhookConfig.Webhook>,
  options: Options = {}
): Effect.Effect<Service, never, EventBus.EventBus | HttpClient.HttpClient | Scope.Scope> =>
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

    // After deliveries wait in the OutboxStore in context, or else in memory of their own.
    const store = yield* Effect.serviceOption(OutboxStore.OutboxStore).pipe(
      Effect.flatMap((found) => found._tag === "Some" ? Effect.succeed(found.value) : OutboxStore.makeMemory({ capacity }))
    )
    const workers = options.workers ?? defaults.workers
    const sharedMaxInFlight = options.maxInFlight ?? defaultMaxInFlight(workers)
    const byName = new Map(senders.map((sender) => [sender.webhook.name, sender]))
    const outbox = yield* Outbox.make(store, byName, {
      connector: name,
      workers,
      drainTimeout,
      maxInFlight: (webhook) => byName.get(webhook)?.webhook.maxInFlight ?? sharedMaxInFlight
    })
    const clock = yield* Effect.clock

    // -------------------------------------------------------------------------------------------
    // The handlers.
    // -------------------------------------------------------------------------------------------
    const payloadOf = (
      event: Event.Event.Any,
      preposition: WireContract.Preposition,
      params: unknown,
      results?: EventBus.EventResults<unknown>
    ) =>
      Effect.suspend(() => {
        const createdAt = new Date(clock.unsafeCurrentTimeMillis())
        const encoded = WireContract.encodePayload(
          results === undefined ? { event, preposition, params, createdAt } : { event, preposition, params, createdAt, results }
        )
        return Either.isRight(encoded)
          ? Effect.succeed(encoded.right)
          // A connector returned a result its event's Schema cannot encode: a bug to report, not
          // a payload to send.
          : Effect.die(new Error(`cannot encode ${preposition}:${event.name} for its webhooks: ${encoded.left.message}`))
      })

    const messageOf = (payload: WireContract.Payload): Delivery.Message => {
      const id = WireContract.makeId()
      return { id, event: payload.event, body: payload.body(id) }
    }

    const before: EventBus.BeforeHandler<Event.Event.Any> = ({ cancel, event, params }) => {
      const targets = sendersFor("before", event.name)
      if (targets.length === 0) return Effect.void
      const deliver = (payload: WireContract.Payload) => (sender: Delivery.Sender) =>
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
        )
      return payloadOf(event, "before", params).pipe(
        Effect.flatMap((payload) =>
          targets.length === 1
            // One target: in this fiber, no fork.
            ? deliver(payload)(targets[0]!)
            // Concurrently; the first cancellation fails the forEach, which interrupts the rest.
            : Effect.forEach(targets, deliver(payload), { concurrency: "unbounded", discard: true })
        )
      )
    }

    const after: EventBus.AfterHandler<Event.Event.Any> = ({ event, params, results }) => {
      const targets = sendersFor("after", event.name)
      if (targets.length === 0) return Effect.void
      return payloadOf(event, "after", params, results).pipe(
        Effect.flatMap((payload) => {
          const now = clock.unsafeCurrentTimeMillis()
          const jobs = targets.map((sender): OutboxStore.NewJob => {
            const id = WireContract.makeId()
            return { id, webhook: sender.webhook.name, event: payload.event, body: payload.body(id), createdAt: now, deadline: sender.deadlineFrom(now) }
          })
          return outbox.offer(jobs)
        }),
        Effect.asVoid
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
    // The counters behind `stats`, tagged once: reading them is then a lookup per webhook.
    const counters = (key: typeof Metrics.deliveriesTotal, tags: Record<string, string>) =>
      webhooks.map((webhook) => Metrics.tagged(key, { connector: name, webhook: webhook.name, ...tags }))
    const sources = {
      before: {
        delivered: counters(Metrics.deliveriesTotal, { preposition: "before", outcome: "delivered" }),
        cancelled: counters(Metrics.deliveriesTotal, { preposition: "before", outcome: "cancelled" }),
        failed: counters(Metrics.deliveriesTotal, { preposition: "before", outcome: "failed" })
      },
      after: {
        delivered: counters(Metrics.deliveriesTotal, { preposition: "after", outcome: "delivered" }),
        cancelled: counters(Metrics.deliveriesTotal, { preposition: "after", outcome: "cancelled" }),
        failed: counters(Metrics.deliveriesTotal, { preposition: "after", outcome: "failed" }),
        enqueued: counters(Metrics.outboxTotal, { outcome: "enqueued" }),
        overflowed: counters(Metrics.outboxTotal, { outcome: "overflowed" }),
        abandoned: counters(Metrics.outboxTotal, { outcome: "abandoned" })
      }
    }
    const total = (metrics: ReadonlyArray<ReturnType<typeof counters>[number]>) =>
      metrics.reduce((sum, metric) => sum + metric.unsafeValue([]).count, 0)
    const read = <K extends string>(group: Record<K, ReturnType<typeof counters>>) =>
      Object.fromEntries(Object.entries(group).map(([key, metrics]) => [key, total(metrics as ReturnType<typeof counters>)])) as Record<K, number>
    // Metrics are process-wide: an instance's counts are what they gained since it started (an
    // earlier instance with the same names counted into the same metrics).
    const counted = Effect.sync(() => ({ before: read(sources.before), after: read(sources.after) }))
    const baseline = yield* counted
    const since = <K extends string>(now: Record<K, number>, then: Record<K, number>) =>
      Object.fromEntries(Object.entries(now).map(([key, value]) => [key, (value as number) - then[key as K]])) as Record<K, number>
    const stats: Effect.Effect<Stats> = Effect.zipWith(counted, outbox.pending, (now, pending) => ({
      before: since(now.before, baseline.before),
      after: { ...since(now.after, baseline.after), pending }
    }))

    return { name, webhooks, stats, endDrain: outbox.cutDrain, breakers: outbox.breakers } satisfies Service
  })

/**
 * Starts the connector for decoded webhooks: reads their secrets (failing with every problem at
 * once), then registers its handlers on the bus until the scope closes.
 */
export const layer = (
  configs: ReadonlyArray<WebhookConfig.WebhookConfig>,
  options: Options = {}
): Layer.Layer<Webhooks, InvalidConfig, EventBus.EventBus | HttpClient.HttpClient> =>
  Layer.scoped(
    Webhooks,
    WebhookConfig.resolve(configs, {
      section: options.name ?? "webhooks",
      ...(options.source === undefined ? {} : { source: options.source })
    }).pipe(Effect.flatMap((webhooks) => make(webhooks, options)))
  )

/**
 * The connector-level options an assembly may set (the instance's name, events and source come
 * from the servo).
 */
export type ConnectorOptions = Pick<Options, "outboxCapacity" | "workers" | "drainTimeout" | "maxInFlight">

/** The type of the connector. */
export type WebhooksConnector = Connector.Connector<
  "webhooks",
  ReadonlyArray<WebhookConfig.WebhookConfig>,
  unknown,
  Webhooks,
  InvalidConfig,
  HttpClient.HttpClient
>

/**
 * The connector with connector-level options: `servo run --drain-timeout` builds its assembly
 * with `Webhooks.connectorWithOptions({ drainTimeout })`.
 */
export const connectorWithOptions = (options: ConnectorOptions = {}): WebhooksConnector =>
  Connector.make({
    name: "webhooks",
    description: "HTTP callbacks before and after events",
    config: (events) => WebhookConfig.WebhooksConfig(events),
    layer: (configs: ReadonlyArray<WebhookConfig.WebhookConfig>, { events, name, source }) =>
      layer(configs, { ...options, name, events, source })
  })

/**
 * The connector of a servo assembly: the `webhooks:` section of servo.yaml, with the default
 * options.
 */
export const connector: WebhooksConnector = connectorWithOptions()
