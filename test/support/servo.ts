/**
 * A servo for webhook tests: the webhooks connector (and, when asked, the simulator) on one bus,
 * with the stock undici client, and tools to capture logs and spans.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Schema from "effect/Schema"
import * as Tracer from "effect/Tracer"
import * as CoreEvents from "../../src/servo/CoreEvents.js"
import * as EventBus from "../../src/servo/EventBus.js"
import * as Simulator from "../../src/servo/Simulator.js"
import * as WebhookConfig from "../../src/webhooks/WebhookConfig.js"
import * as Webhooks from "../../src/webhooks/Webhooks.js"

export const configs = (input: ReadonlyArray<unknown>) =>
  Schema.decodeUnknownSync(WebhookConfig.WebhooksConfig(CoreEvents.registry))(input)

let instances = 0
/** Metrics are global: each connector instance gets a name of its own. */
export const uniqueName = (prefix = "webhooks") => `${prefix}-${++instances}`

export const webhooksLayer = (input: ReadonlyArray<unknown>, options: Webhooks.Options = {}) =>
  Webhooks.layer(configs(input), { name: uniqueName(), ...options }).pipe(
    Layer.provideMerge(EventBus.layer),
    Layer.provide(NodeHttpClient.layerUndici)
  )

export const servoLayer = (input: ReadonlyArray<unknown>, options: Webhooks.Options = {}) =>
  Layer.mergeAll(
    Webhooks.layer(configs(input), { name: uniqueName(), ...options }),
    Simulator.layer({ seed: 1, noise: 0, demand: 1000 })
  ).pipe(Layer.provideMerge(EventBus.layer), Layer.provide(NodeHttpClient.layerUndici))

export interface LogLine {
  readonly level: string
  readonly message: string
  readonly annotations: Record<string, unknown>
  readonly text: string
}

/** Every log line, at every level, with its annotations and cause rendered to text. */
export const captureLogs = (lines: Array<LogLine>) =>
  Layer.mergeAll(
    Logger.add(Logger.make(({ annotations, cause, logLevel, message }) => {
      const text = [message].flat().map((part) => typeof part === "string" ? part : JSON.stringify(part)).join(" ")
      const annotationsObject = Object.fromEntries(annotations)
      lines.push({
        level: logLevel.label,
        message: text,
        annotations: annotationsObject,
        text: `${logLevel.label} ${text} ${JSON.stringify(annotationsObject)} ${cause._tag === "Empty" ? "" : String(cause)}`
      })
    })),
    Logger.minimumLogLevel(LogLevel.All)
  )

export interface RecordedSpan {
  readonly name: string
  readonly attributes: ReadonlyMap<string, unknown>
}

/** A tracer that keeps every span it starts (the native one does the work). */
export const recordSpans = (spans: Array<RecordedSpan>) =>
  Layer.unwrapEffect(Effect.map(Effect.tracer, (base) =>
    Layer.setTracer(Tracer.make({
      span: (...args) => {
        const span = base.span(...args)
        spans.push(span)
        return span
      },
      context: base.context
    }))
  ))
