/**
 * Telemetry that leaves the process: spans and metrics sent to an OpenTelemetry collector over
 * OTLP/HTTP (protobuf or JSON), and the metrics as a Prometheus text endpoint.
 *
 * Switched on by the standard OpenTelemetry variables, read through Effect's `Config`:
 *
 * | variable | meaning |
 * | --- | --- |
 * | `OTEL_EXPORTER_OTLP_ENDPOINT` | the collector's base URL (`/v1/traces`, `/v1/metrics` are appended); unset: off |
 * | `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, `..._METRICS_ENDPOINT` | one signal's full URL |
 * | `OTEL_EXPORTER_OTLP_PROTOCOL` | `http/protobuf` (default) or `http/json` |
 * | `OTEL_EXPORTER_OTLP_HEADERS` | `key=value,...` sent with every export (kept redacted) |
 * | `OTEL_SERVICE_NAME` | the `service.name` resource attribute (default `servo`) |
 * | `OTEL_TRACES_EXPORTER`, `OTEL_METRICS_EXPORTER` | `otlp` (default) or `none` |
 * | `OTEL_SDK_DISABLED` | `true`: everything off |
 *
 * Off, it costs nothing: the exporter modules are imported only when something is switched on,
 * and without an exporting tracer the connector makes no span at all (`Delivery.tracingExported`).
 * The exporter is `@effect/opentelemetry`'s native OTLP one: Effect's spans and metric registry
 * are serialised as they are, with no OpenTelemetry SDK in between.
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { version } from "../version.js"
import * as Connector from "./Connector.js"

/**
 * Where and how telemetry is sent.
 *
 * @since 0.1.0
 * @category models
 */
export interface Settings {
  /** The collector's URL for spans, or none: no spans exported. */
  readonly tracesUrl: Option.Option<string>
  /** The collector's URL for metrics, or none: no metrics exported. */
  readonly metricsUrl: Option.Option<string>
  readonly protocol: Protocol
  readonly serviceName: string
  /** Sent with every export; may hold an API key. */
  readonly headers: Redacted.Redacted<Record<string, string>>
  /** How often metrics are exported (and once more at shutdown). */
  readonly metricsInterval: Duration.Duration
  /** How often batched spans are exported (and once more at shutdown). */
  readonly tracesInterval: Duration.Duration
}

/**
 * @since 0.1.0
 * @category models
 */
export type Protocol = "http/protobuf" | "http/json"

/**
 * A bad telemetry setting: the variable (or config key) and why.
 *
 * @since 0.1.0
 * @category errors
 */
export class TelemetryError extends Schema.TaggedError<TelemetryError>()("TelemetryError", {
  setting: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `${this.setting}: ${this.reason}`
  }
}

/**
 * Whether anything is exported.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isOn = (settings: Settings): boolean => Option.isSome(settings.tracesUrl) || Option.isSome(settings.metricsUrl)

// ---------------------------------------------------------------------------------------------
// Settings from the environment
// ---------------------------------------------------------------------------------------------

const optionalString = (name: string) =>
  Config.string(name).pipe(Config.option, Config.map(Option.filter((value) => value.trim() !== "")))

/** `key=value,key2=value2`, values percent-decoded, as the OpenTelemetry spec says. */
const parseHeaders = (text: string): Either.Either<Record<string, string>, string> => {
  const headers: Record<string, string> = {}
  for (const pair of text.split(",")) {
    if (pair.trim() === "") continue
    const equals = pair.indexOf("=")
    if (equals <= 0) return Either.left("expected key=value pairs separated by commas")
    try {
      headers[decodeURIComponent(pair.slice(0, equals).trim()).toLowerCase()] = decodeURIComponent(pair.slice(equals + 1).trim())
    } catch {
      return Either.left("a key or value is not valid percent-encoding")
    }
  }
  return Either.right(headers)
}

const signalUrl = (base: Option.Option<string>, own: Option.Option<string>, path: string) =>
  Option.orElse(own, () => Option.map(base, (url) => `${url.replace(/\/+$/, "")}${path}`))

const exporterChoice = (name: string) =>
  optionalString(name).pipe(Config.map(Option.getOrElse(() => "otlp")))

const millis = (name: string, fallback: number) =>
  Config.integer(name).pipe(Config.withDefault(fallback), Config.map(Duration.millis))

/**
 * The settings the standard variables describe (see the module's table). Fails with a
 * `TelemetryError` on a protocol or exporter this build does not speak.
 *
 * @since 0.1.0
 * @category settings
 */
export const fromEnv: Effect.Effect<Settings, TelemetryError> = Effect.gen(function*() {
  const read = Config.all({
    disabled: Config.boolean("OTEL_SDK_DISABLED").pipe(Config.withDefault(false)),
    endpoint: optionalString("OTEL_EXPORTER_OTLP_ENDPOINT"),
    tracesEndpoint: optionalString("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
    metricsEndpoint: optionalString("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"),
    protocol: optionalString("OTEL_EXPORTER_OTLP_PROTOCOL"),
    headers: Config.redacted("OTEL_EXPORTER_OTLP_HEADERS").pipe(Config.option),
    serviceName: optionalString("OTEL_SERVICE_NAME"),
    traces: exporterChoice("OTEL_TRACES_EXPORTER"),
    metrics: exporterChoice("OTEL_METRICS_EXPORTER"),
    metricsInterval: millis("OTEL_METRIC_EXPORT_INTERVAL", 60_000),
    tracesInterval: millis("OTEL_BSP_SCHEDULE_DELAY", 5_000)
  })
  const env = yield* Effect.mapError(read, (error) => new TelemetryError({ setting: "OTEL_*", reason: String(error) }))
  const protocol = Option.getOrElse(env.protocol, () => "http/protobuf")
  if (protocol !== "http/protobuf" && protocol !== "http/json") {
    return yield* new TelemetryError({
      setting: "OTEL_EXPORTER_OTLP_PROTOCOL",
      reason: `${JSON.stringify(protocol)} is not supported; use http/protobuf or http/json`
    })
  }
  for (const [setting, choice] of [["OTEL_TRACES_EXPORTER", env.traces], ["OTEL_METRICS_EXPORTER", env.metrics]] as const) {
    if (choice !== "otlp" && choice !== "none") {
      return yield* new TelemetryError({ setting, reason: `${JSON.stringify(choice)} is not supported; use otlp or none` })
    }
  }
  const headers = Option.isNone(env.headers) ? Either.right({}) : parseHeaders(Redacted.value(env.headers.value))
  if (Either.isLeft(headers)) return yield* new TelemetryError({ setting: "OTEL_EXPORTER_OTLP_HEADERS", reason: headers.left })
  const off = env.disabled
  return {
    tracesUrl: off || env.traces === "none" ? Option.none() : signalUrl(env.endpoint, env.tracesEndpoint, "/v1/traces"),
    metricsUrl: off || env.metrics === "none" ? Option.none() : signalUrl(env.endpoint, env.metricsEndpoint, "/v1/metrics"),
    protocol,
    serviceName: Option.getOrElse(env.serviceName, () => "servo"),
    headers: Redacted.make(headers.right),
    metricsInterval: env.metricsInterval,
    tracesInterval: env.tracesInterval
  }
})

// ---------------------------------------------------------------------------------------------
// Settings from servo.yaml: the `telemetry:` section
// ---------------------------------------------------------------------------------------------

/**
 * The `telemetry:` section of servo.yaml, for a servo that always exports to the same collector:
 *
 * ```yaml
 * telemetry:
 *   endpoint: http://127.0.0.1:4318   # OTLP/HTTP base URL
 *   protocol: http/json               # default http/protobuf
 *   service_name: checkout-servo      # default servo
 *   traces: true                      # default true
 *   metrics: true                     # default true
 * ```
 *
 * The OpenTelemetry variables win: with `OTEL_EXPORTER_OTLP_ENDPOINT` (or a signal's endpoint)
 * set, the section is not used.
 *
 * @since 0.1.0
 * @category settings
 */
export const TelemetrySection = Schema.Struct({
  endpoint: Schema.String.pipe(
    Schema.filter((url) => /^https?:\/\/[^/]/.test(url) || "must be an http:// or https:// URL")
  ).annotations({
    jsonSchema: { type: "string", pattern: "^https?://[^/]" },
    description: "The collector's OTLP/HTTP base URL: spans go to /v1/traces, metrics to /v1/metrics under it",
    examples: ["http://127.0.0.1:4318"]
  }),
  protocol: Schema.optionalWith(Schema.Literal("http/protobuf", "http/json"), { exact: true }).annotations({
    description: "How the exports are encoded (default http/protobuf)"
  }),
  service_name: Schema.optionalWith(Schema.NonEmptyTrimmedString, { exact: true }).annotations({
    description: "The service.name resource attribute (default servo)"
  }),
  traces: Schema.optionalWith(Schema.Boolean, { exact: true }).annotations({ description: "Export spans (default true)" }),
  metrics: Schema.optionalWith(Schema.Boolean, { exact: true }).annotations({ description: "Export metrics (default true)" })
}).annotations({
  title: "telemetry",
  description:
    "OpenTelemetry export of spans and metrics over OTLP/HTTP; the OTEL_EXPORTER_OTLP_* variables, when set, take precedence"
})

/**
 * @since 0.1.0
 * @category settings
 */
export type TelemetrySection = typeof TelemetrySection.Type

/**
 * The settings a `telemetry:` section describes.
 *
 * @since 0.1.0
 * @category settings
 */
export const fromSection = (section: TelemetrySection): Settings => {
  const base = section.endpoint.replace(/\/+$/, "")
  return {
    tracesUrl: section.traces === false ? Option.none() : Option.some(`${base}/v1/traces`),
    metricsUrl: section.metrics === false ? Option.none() : Option.some(`${base}/v1/metrics`),
    protocol: section.protocol ?? "http/protobuf",
    serviceName: section.service_name ?? "servo",
    headers: Redacted.make({}),
    metricsInterval: Duration.minutes(1),
    tracesInterval: Duration.seconds(5)
  }
}

/**
 * The `telemetry:` section as a connector of an assembly, so that servo.yaml validates it and
 * `servo schema` describes it. It registers no handler: whoever runs the servo applies it
 * (`servo run` provides `layer(fromSection(section))` around the run, unless the environment
 * switches telemetry on), since exporters must be in place before the connectors start.
 *
 * @since 0.1.0
 * @category connectors
 */
export const connector = Connector.make({
  name: "telemetry",
  description: "OpenTelemetry export of spans and metrics (OTLP/HTTP)",
  config: () => TelemetrySection,
  layer: () => Layer.empty
})

// ---------------------------------------------------------------------------------------------
// The exporters
// ---------------------------------------------------------------------------------------------

/**
 * Exports what `settings` switch on; with nothing on, `Layer.empty` and no import. The exports
 * go through `client` (default: `fetch`), never through the webhooks' client and its network
 * policy; the last batch is sent when the layer's scope closes.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (settings: Settings, options: { readonly client?: HttpClient.HttpClient } = {}): Layer.Layer<never> => {
  if (!isOn(settings)) return Layer.empty
  return Layer.unwrapEffect(Effect.promise(async () => {
    const [OtlpTracer, OtlpMetrics, OtlpSerialization, FetchHttpClient, HttpClientModule] = await Promise.all([
      import("@effect/opentelemetry/OtlpTracer"),
      import("@effect/opentelemetry/OtlpMetrics"),
      import("@effect/opentelemetry/OtlpSerialization"),
      import("@effect/platform/FetchHttpClient"),
      import("@effect/platform/HttpClient")
    ])
    const resource = { serviceName: settings.serviceName, serviceVersion: version }
    const headers = Redacted.value(settings.headers)
    const exporters = Layer.mergeAll(
      Option.match(settings.tracesUrl, {
        onNone: () => Layer.empty,
        onSome: (url) => OtlpTracer.layer({ url, resource, headers, exportInterval: settings.tracesInterval })
      }),
      Option.match(settings.metricsUrl, {
        onNone: () => Layer.empty,
        onSome: (url) => OtlpMetrics.layer({ url, resource, headers, exportInterval: settings.metricsInterval })
      })
    )
    const client = options.client === undefined
      ? FetchHttpClient.layer
      : Layer.succeed(HttpClientModule.HttpClient, options.client)
    return exporters.pipe(
      Layer.provide(settings.protocol === "http/json" ? OtlpSerialization.layerJson : OtlpSerialization.layerProtobuf),
      Layer.provide(client)
    )
  }))
}

/**
 * `layer` with the settings of the environment (`fromEnv`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerFromEnv: Layer.Layer<never, TelemetryError> = Layer.unwrapEffect(Effect.map(fromEnv, (settings) => layer(settings)))

/**
 * Serves every metric of Effect's registry (`Metric.snapshot`: the connector's and any other
 * that exists) as Prometheus text on `http://host:port/metrics` until the scope closes; its URL.
 * Port 0 picks a free port.
 *
 * @since 0.1.0
 * @category metrics
 */
export const serveMetrics = (
  options: { readonly host: string; readonly port: number }
): Effect.Effect<{ readonly url: string }, TelemetryError, Scope.Scope> =>
  Effect.flatMap(Effect.promise(() => import("./internal/metricsEndpoint.js")), (endpoint) =>
    Effect.mapError(endpoint.serve(options), (reason) => new TelemetryError({ setting: "--metrics-port", reason })))
