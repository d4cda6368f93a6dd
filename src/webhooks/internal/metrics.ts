import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as MetricKey from "effect/MetricKey"
import type * as MetricKeyType from "effect/MetricKeyType"
import * as MetricLabel from "effect/MetricLabel"

/**
 * Every metric of the connector, defined once (a metric's identity includes its description),
 * as keys: `tagged` makes the metric of one set of tags.
 *
 * Why keys and not `Metric.tagged`: a tagged Metric builds and looks up its key on every update
 * (its hook cache is keyed by a tags array it creates afresh each time), which cost more than a
 * delivery's HTTP exchange. A metric made from an already tagged key looks its hook up once.
 */

/** @internal */
export const deliveriesTotal = MetricKey.counter("servo_webhooks_deliveries_total", {
  description: "Deliveries finished, by preposition and outcome (delivered, cancelled, failed)",
  incremental: true
})

/** @internal */
export const attemptsTotal = MetricKey.counter("servo_webhooks_attempts_total", {
  description: "HTTP attempts made, retries included",
  incremental: true
})

/** @internal */
export const deliveryDuration = MetricKey.histogram(
  "servo_webhooks_delivery_duration_ms",
  MetricBoundaries.exponential({ start: 1, factor: 2, count: 20 }),
  "Time from the first attempt to the outcome, waits included"
)

/** @internal */
export const outboxTotal = MetricKey.counter("servo_webhooks_outbox_total", {
  description: "After deliveries offered to the outbox, by outcome (enqueued, overflowed, abandoned)",
  incremental: true
})

/** @internal */
export const outboxDepth = MetricKey.gauge("servo_webhooks_outbox_depth", {
  description: "After deliveries in the outbox, pending or in flight, per webhook (this process's view)"
})

/** @internal */
export const breakerState = MetricKey.gauge("servo_webhooks_breaker_state", {
  description: "A webhook's circuit breaker: 0 closed, 1 open, 2 half-open (one probe attempt decides)"
})

/** The gauge value of each breaker state. */
export const breakerStateValue = { closed: 0, open: 1, half_open: 2 } as const

/** The metric of a key with these tags; make it once, update it often. */
export const tagged = <Type extends MetricKeyType.MetricKeyType<any, any>>(
  key: MetricKey.MetricKey<Type>,
  tags: Record<string, string>
) =>
  Metric.fromMetricKey(
    MetricKey.taggedWithLabels(key, Object.entries(tags).map(([name, value]) => MetricLabel.make(name, value)))
  )

/** The current count of a counter with these tags. */
export const count = (
  key: MetricKey.MetricKey.Counter<number>,
  tags: Record<string, string>
): Effect.Effect<number> => Effect.map(Metric.value(tagged(key, tags)), (state) => state.count)
