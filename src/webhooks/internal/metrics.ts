import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"

/** Every metric of the connector, defined once: a metric's identity includes its description. */

/** @internal */
export const deliveriesTotal = Metric.counter("servo_webhooks_deliveries_total", {
  description: "Deliveries finished, by preposition and outcome (delivered, cancelled, failed)",
  incremental: true
})

/** @internal */
export const attemptsTotal = Metric.counter("servo_webhooks_attempts_total", {
  description: "HTTP attempts made, retries included",
  incremental: true
})

/** @internal */
export const deliveryDuration = Metric.histogram(
  "servo_webhooks_delivery_duration_ms",
  MetricBoundaries.exponential({ start: 1, factor: 2, count: 20 }),
  "Time from the first attempt to the outcome, waits included"
)

/** @internal */
export const outboxTotal = Metric.counter("servo_webhooks_outbox_total", {
  description: "After deliveries offered to the outbox, by outcome (enqueued, overflowed, abandoned)",
  incremental: true
})

/** A metric with tags applied, in order. */
export const tagged = <Type, In, Out>(metric: Metric.Metric<Type, In, Out>, tags: Record<string, string>) =>
  Object.entries(tags).reduce((tagged, [key, value]) => Metric.tagged(tagged, key, value), metric)

/** The current count of a counter with these tags. */
export const count = (metric: Metric.Metric.Counter<number>, tags: Record<string, string>): Effect.Effect<number> =>
  Effect.map(Metric.value(tagged(metric, tags)), (state) => state.count)
