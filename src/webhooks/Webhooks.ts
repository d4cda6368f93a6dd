/**
 * The webhooks connector: registers a before and an after handler for the events its webhooks
 * select, and delivers.
 *
 * - **before** webhooks are delivered when the event starts, all at once; the first one that
 *   cancels wins (the others are interrupted) and the event fails with `CancelEventError`. A
 *   delivery that fails cancels the event only with `on_failure: cancel`.
 * - **after** webhooks go to a bounded outbox delivered with at most `workers` attempts in flight
 *   (a delivery waiting to retry holds no slot), so `dispatch` returns without waiting for
 *   receivers. When the outbox is full the delivery is dropped, counted and logged — never a
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
 * `servo_webhooks_delivery_duration_ms` and `servo_webhooks_outbox_total{outcome}`
 * (`enqueued`, `overflowed`, `abandoned`); `stats` sums them for this instance.
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type { InvalidConfig } from "../servo/ConfigError.js"
import type * as Connector from "../servo/Connector.js"
import type * as Event from "../servo/Event.js"
import type { EventBus } from "../servo/EventBus.js"
import type * as Delivery from "./Delivery.js"
import * as internal from "./internal/webhooks.js"
import type { Webhook, WebhookConfig } from "./WebhookConfig.js"

/**
 * @since 0.1.0
 * @category tags
 */
export class Webhooks extends Context.Tag("servo-webhooks/Webhooks")<Webhooks, Service>() {}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** The connector instance's name. */
  readonly name: string
  readonly webhooks: ReadonlyArray<Webhook>
  /** This instance's counts since it started (from the connector's metrics). */
  readonly stats: Effect.Effect<Stats>
}

/**
 * What happened to deliveries so far. For after webhooks, every delivery handed to the outbox is
 * accounted for: `enqueued = delivered + cancelled + failed + abandoned + pending` (after
 * deliveries only), and `overflowed` were refused because the outbox was full.
 *
 * @since 0.1.0
 * @category models
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

/**
 * @since 0.1.0
 * @category models
 */
export interface Counts {
  readonly delivered: number
  readonly cancelled: number
  readonly failed: number
}

/**
 * @since 0.1.0
 * @category models
 */
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
  /** Names the config in errors. Default `servo.yaml`. */
  readonly source?: string
}

/**
 * @since 0.1.0
 * @category constants
 */
export const defaults: {
  readonly outboxCapacity: number
  readonly workers: number
  readonly drainTimeout: Duration.Duration
} = internal.defaults

/**
 * Starts the connector for decoded webhooks: reads their secrets (failing with every problem at
 * once), then registers its handlers on the bus until the scope closes.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: (
  configs: ReadonlyArray<WebhookConfig>,
  options?: Options
) => Layer.Layer<Webhooks, InvalidConfig, EventBus | HttpClient.HttpClient> = internal.layer(Webhooks)

/**
 * The connector-level options an assembly may set (the instance's name, events and source come
 * from the servo).
 *
 * @since 0.1.0
 * @category models
 */
export type ConnectorOptions = Pick<Options, "outboxCapacity" | "workers" | "drainTimeout">

/**
 * The type of the connector.
 *
 * @since 0.1.0
 * @category models
 */
export type WebhooksConnector = Connector.Connector<
  "webhooks",
  ReadonlyArray<WebhookConfig>,
  unknown,
  Webhooks,
  InvalidConfig,
  HttpClient.HttpClient
>

/**
 * The connector with connector-level options: `servo run --drain-timeout` builds its assembly
 * with `Webhooks.connectorWithOptions({ drainTimeout })`.
 *
 * @since 0.1.0
 * @category connectors
 */
export const connectorWithOptions: (options?: ConnectorOptions) => WebhooksConnector = internal.connectorWithOptions(
  Webhooks
)

/**
 * Senders for resolved webhooks, each on its own transport (TLS, proxy, HTTP/2, network policy)
 * or else on the `HttpClient` in context — the same senders the connector delivers with, for
 * tools that deliver outside a servo (`servo webhooks trigger`). Transports close with the scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeSenders: (
  webhooks: ReadonlyArray<Webhook>,
  options: { readonly connector: string }
) => Effect.Effect<ReadonlyArray<Delivery.Sender>, never, HttpClient.HttpClient | Scope.Scope> = internal.makeSenders

/**
 * The connector of a servo assembly: the `webhooks:` section of servo.yaml, with the default
 * options.
 *
 * @since 0.1.0
 * @category connectors
 */
export const connector: WebhooksConnector = connectorWithOptions()
