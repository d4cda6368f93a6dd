/**
 * Telemetry against real receivers of the protocols: a real `servo run --cycles 3` (the bin, in
 * a child process) exporting to an OTLP/HTTP collector in this process that decodes what it
 * receives — JSON as JSON, protobuf with the OpenTelemetry proto definitions (the generated root
 * shipped by @opentelemetry/otlp-transformer) — and a scrape of the Prometheus endpoint parsed by
 * a Prometheus text-format parser. Distinctive secrets in the config must appear nowhere in what
 * the collector received.
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { createRequire } from "node:module"
import * as fs from "node:fs"
import * as path from "node:path"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Option from "effect/Option"
import * as Telemetry from "../src/servo/Telemetry.js"
import { removeTempDirs, runServo, spawnServoScoped, tempDir, writeConfig } from "./support/cli.js"
import { eventually } from "./support/poll.js"
import { gate, ok, receiver as testReceiver, sequence, status } from "./support/receiver.js"

afterAll(removeTempDirs)

const require = createRequire(import.meta.url)
// The OTLP protobuf messages, generated from opentelemetry-proto (protobufjs static module).
const otlp = require("@opentelemetry/otlp-transformer/build/src/generated/root.js").opentelemetry.proto
const parsePrometheus = require("parse-prometheus-text-format") as (text: string) => Array<PrometheusFamily>

interface PrometheusFamily {
  readonly name: string
  readonly help: string
  readonly type: string
  readonly metrics: ReadonlyArray<{
    readonly labels?: Record<string, string>
    readonly value?: string
    readonly buckets?: Record<string, string>
    readonly count?: string
    readonly sum?: string
  }>
}

// ---------------------------------------------------------------------------------------------
// A collector: OTLP/HTTP on 127.0.0.1, keeping every request, decoding it into one shape.
// ---------------------------------------------------------------------------------------------

interface Export {
  readonly path: string
  readonly contentType: string
  readonly body: Buffer
}

interface Span {
  readonly name: string
  readonly kind: number
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId: string
  readonly attributes: Record<string, unknown>
}

interface Point {
  readonly metric: string
  readonly attributes: Record<string, unknown>
  readonly value: number
}

const collector = Effect.acquireRelease(
  Effect.async<{ readonly url: string; readonly exports: Array<Export>; readonly server: http.Server }>((resume) => {
    const exports: Array<Export> = []
    const server = http.createServer((request, response) => {
      const chunks: Array<Buffer> = []
      request.on("data", (chunk: Buffer) => chunks.push(chunk))
      request.on("end", () => {
        const contentType = request.headers["content-type"] ?? ""
        exports.push({ path: request.url ?? "", contentType, body: Buffer.concat(chunks) })
        // An empty ExportServiceResponse, in the request's encoding.
        response.writeHead(200, { "content-type": contentType }).end(contentType.includes("json") ? "{}" : "")
      })
    })
    server.listen(0, "127.0.0.1", () =>
      resume(Effect.succeed({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, exports, server })))
  }),
  ({ server }) => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
)

const hex = (bytes: Uint8Array | string | undefined) =>
  bytes === undefined ? "" : typeof bytes === "string" ? bytes : Buffer.from(bytes).toString("hex")

/** An OTLP AnyValue (JSON or protobuf object) as a plain value. */
const plain = (value: any): unknown => {
  if (value === undefined || value === null) return undefined
  if ("stringValue" in value) return value.stringValue
  if ("boolValue" in value) return value.boolValue
  if ("intValue" in value) return Number(value.intValue)
  if ("doubleValue" in value) return Number(value.doubleValue)
  if ("arrayValue" in value) return (value.arrayValue.values ?? []).map(plain)
  return value
}

const attributesOf = (list: ReadonlyArray<any> | undefined) =>
  Object.fromEntries((list ?? []).map((attribute) => [attribute.key, plain(attribute.value)]))

const decode = (exported: Export, kind: "traces" | "metrics"): any => {
  if (exported.contentType.includes("json")) return JSON.parse(exported.body.toString("utf8"))
  expect(exported.contentType).toBe("application/x-protobuf")
  const message = kind === "traces"
    ? otlp.collector.trace.v1.ExportTraceServiceRequest
    : otlp.collector.metrics.v1.ExportMetricsServiceRequest
  return message.toObject(message.decode(exported.body), { longs: String, enums: Number, defaults: false })
}

const spansOf = (exports: ReadonlyArray<Export>): Array<Span> =>
  exports.filter((e) => e.path === "/v1/traces").flatMap((e) =>
    (decode(e, "traces").resourceSpans ?? []).flatMap((resource: any) =>
      (resource.scopeSpans ?? []).flatMap((scope: any) =>
        (scope.spans ?? []).map((span: any): Span => ({
          name: span.name,
          kind: span.kind,
          traceId: hex(span.traceId),
          spanId: hex(span.spanId),
          parentSpanId: hex(span.parentSpanId),
          attributes: attributesOf(span.attributes)
        }))
      )
    )
  )

const serviceNamesOf = (exports: ReadonlyArray<Export>): Array<unknown> =>
  exports.flatMap((e) => {
    const decoded = decode(e, e.path === "/v1/traces" ? "traces" : "metrics")
    return [...(decoded.resourceSpans ?? []), ...(decoded.resourceMetrics ?? [])].map((r: any) =>
      attributesOf(r.resource?.attributes)["service.name"]
    )
  })

/** The sum data points of the last metrics export (cumulative: the last one has the totals). */
const lastSums = (exports: ReadonlyArray<Export>): Array<Point> => {
  const last = exports.filter((e) => e.path === "/v1/metrics").at(-1)
  if (last === undefined) return []
  return (decode(last, "metrics").resourceMetrics ?? []).flatMap((resource: any) =>
    (resource.scopeMetrics ?? []).flatMap((scope: any) =>
      (scope.metrics ?? []).flatMap((metric: any) =>
        (metric.sum?.dataPoints ?? metric.gauge?.dataPoints ?? []).map((point: any): Point => ({
          metric: metric.name,
          attributes: attributesOf(point.attributes),
          value: Number(point.asDouble ?? point.asInt ?? 0)
        }))
      )
    )
  )
}

const total = (points: ReadonlyArray<Point>, metric: string, match: Record<string, string>) =>
  points.filter((p) => p.metric === metric && Object.entries(match).every(([k, v]) => p.attributes[k] === v))
    .reduce((sum, p) => sum + p.value, 0)

// ---------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------

// Distinctive secrets: none may reach the collector, in any attribute or anywhere else.
const token = "tok-OTEL-LEAK-7f3a9c"
const queryToken = "qry-OTEL-LEAK-51e2b8"
const headerSecret = "hdr-OTEL-LEAK-c0ffee"
const signingSecret = "whsec_T1RFTC1MRUFLLXNpZ25pbmctc2VjcmV0LTAx"

const configFor = (target: string) =>
  writeConfig(`
name: otel
simulator: { seed: 3 }
webhooks:
  - name: measurements
    event: after:measure
    target: ${target}/measure?token=${queryToken}
    authentication: { bearer_token: { env: SERVO_OTEL_TEST_TOKEN } }
    headers: [{ name: x-api-key, value: { env: SERVO_OTEL_TEST_HEADER }, secret: true }]
  - name: approve
    event: before:adjust
    target: ${target}/approve
    secret: { env: SERVO_OTEL_TEST_SECRET }
    backoff: false
`)

const secretsEnv = {
  SERVO_OTEL_TEST_TOKEN: token,
  SERVO_OTEL_TEST_HEADER: headerSecret,
  SERVO_OTEL_TEST_SECRET: signingSecret
}

const runExporting = (protocol: "http/json" | "http/protobuf") =>
  Effect.gen(function*() {
    const receiver = yield* testReceiver()
    const otel = yield* collector
    const ran = yield* Effect.promise(() =>
      runServo(["run", "--cycles", "3", "--config", configFor(receiver.origin)], {
        env: {
          ...secretsEnv,
          OTEL_EXPORTER_OTLP_ENDPOINT: otel.url,
          OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
          OTEL_SERVICE_NAME: "servo-under-test"
        }
      })
    )
    expect(ran.stderr.split("\n").filter((line) => line !== "" && !/^info: draining/.test(line))).toEqual([])
    expect(ran.code).toBe(0)
    expect(receiver.requests).toHaveLength(6)
    return otel.exports
  })

const expectTelemetry = (exports: ReadonlyArray<Export>) => {
  expect(serviceNamesOf(exports).every((name) => name === "servo-under-test")).toBe(true)
  const spans = spansOf(exports)
  const byId = new Map(spans.map((span) => [span.spanId, span]))
  const parentOf = (span: Span) => byId.get(span.parentSpanId)

  // One trace: the command, the run, the events.
  expect(new Set(spans.map((span) => span.traceId)).size).toBe(1)
  const dispatches = spans.filter((span) => span.name === "EventBus.dispatch")
  expect(dispatches.map((span) => span.attributes["event"]).sort()).toEqual(
    ["adjust", "adjust", "adjust", "describe", "describe", "describe", "measure", "measure", "measure"]
  )

  // EventBus.dispatch → Webhooks.deliver (producer) → one client span per attempt.
  const deliveries = spans.filter((span) => span.name === "Webhooks.deliver")
  expect(deliveries).toHaveLength(6)
  for (const delivery of deliveries) {
    expect(delivery.kind).toBe(4) // SPAN_KIND_PRODUCER
    const parent = parentOf(delivery)!
    expect(parent.name).toBe("EventBus.dispatch")
    expect(`${delivery.attributes["event"]}`).toBe(
      delivery.attributes["webhook"] === "approve" ? "before:adjust" : "after:measure"
    )
    expect(parent.attributes["event"]).toBe(delivery.attributes["webhook"] === "approve" ? "adjust" : "measure")
    expect(delivery.attributes["delivery_id"]).toMatch(/^msg_/)
    expect(delivery.attributes["outcome"]).toBe("Delivered")
  }
  const clients = spans.filter((span) => span.kind === 3) // SPAN_KIND_CLIENT
  expect(clients).toHaveLength(6)
  for (const client of clients) {
    const delivery = parentOf(client)!
    expect(delivery.name).toBe("Webhooks.deliver")
    expect(client.attributes["delivery_id"]).toBe(delivery.attributes["delivery_id"])
    expect(client.attributes["webhook"]).toBe(delivery.attributes["webhook"])
    expect(client.attributes["http.request.method"]).toBe("POST")
    expect(client.attributes["server.address"]).toBe("127.0.0.1")
    expect(client.attributes["http.response.status_code"]).toBe(200)
    expect(client.attributes["http.request.resend_count"]).toBeUndefined()
    expect(client.attributes["error.type"]).toBeUndefined()
    expect(client.attributes["url.full"]).toMatch(
      client.attributes["webhook"] === "approve" ? /\/approve$/ : /\/measure\?token=REDACTED$/
    )
  }

  // The counters, with today's names.
  const sums = lastSums(exports)
  expect(total(sums, "servo_webhooks_deliveries_total", { webhook: "approve", outcome: "delivered" })).toBe(3)
  expect(total(sums, "servo_webhooks_deliveries_total", { webhook: "measurements", outcome: "delivered" })).toBe(3)
  expect(total(sums, "servo_webhooks_attempts_total", {})).toBe(6)
  expect(total(sums, "servo_webhooks_outbox_total", { webhook: "measurements", outcome: "enqueued" })).toBe(3)
  expect(total(sums, "servo_webhooks_outbox_depth", { webhook: "measurements" })).toBe(0)

  // No secret anywhere in what was exported (JSON text, protobuf bytes read as text).
  const everything = exports.map((e) => e.body.toString("latin1")).join("\n")
  for (const secret of [token, queryToken, headerSecret, signingSecret, signingSecret.slice("whsec_".length)]) {
    expect(everything).not.toContain(secret)
  }
}

describe("OpenTelemetry export of a real servo run", () => {
  it.live("http/json: the span tree, the attributes and the counters; no secret", () =>
    runExporting("http/json").pipe(Effect.map(expectTelemetry), Effect.scoped))

  it.live("http/protobuf (the default protocol): the same, decoded with the OTLP proto definitions", () =>
    runExporting("http/protobuf").pipe(
      Effect.map((exports) => {
        expect(exports.every((e) => e.contentType === "application/x-protobuf")).toBe(true)
        expectTelemetry(exports)
      }),
      Effect.scoped
    ))

  it.live("OTEL_TRACES_EXPORTER=none and OTEL_METRICS_EXPORTER=none: nothing is sent", () =>
    Effect.gen(function*() {
      const receiver = yield* testReceiver()
      const otel = yield* collector
      const ran = yield* Effect.promise(() =>
        runServo(["run", "--cycles", "1", "--config", configFor(receiver.origin)], {
          env: {
            ...secretsEnv,
            OTEL_EXPORTER_OTLP_ENDPOINT: otel.url,
            OTEL_TRACES_EXPORTER: "none",
            OTEL_METRICS_EXPORTER: "none"
          }
        })
      )
      expect(ran.code).toBe(0)
      expect(receiver.requests.length).toBeGreaterThan(0)
      expect(otel.exports).toEqual([])
    }).pipe(Effect.scoped))

  it.live("a telemetry: section in servo.yaml switches export on without any variable; servo schema describes it", () =>
    Effect.gen(function*() {
      const receiver = yield* testReceiver()
      const otel = yield* collector
      const config = writeConfig(`
name: from-yaml
simulator: { seed: 3 }
telemetry: { endpoint: "${otel.url}", protocol: http/json, service_name: yaml-servo, metrics: false }
webhooks:
  - { name: m, event: after:measure, target: "${receiver.origin}/m" }
`)
      const ran = yield* Effect.promise(() => runServo(["run", "--cycles", "1", "--config", config]))
      expect(ran.code).toBe(0)
      expect(otel.exports.map((e) => e.path)).not.toContain("/v1/metrics")
      expect(serviceNamesOf(otel.exports)).toContain("yaml-servo")
      expect(spansOf(otel.exports).filter((span) => span.name === "Webhooks.deliver")).toHaveLength(1)
      const schema = yield* Effect.promise(() => runServo(["schema"]))
      expect(JSON.parse(schema.stdout).properties.telemetry.required).toEqual(["endpoint"])
    }).pipe(Effect.scoped))

  it.live("a retried delivery: one client span per attempt, error.type on the failed one, resend_count on the retry", () =>
    Effect.gen(function*() {
      const receiver = yield* testReceiver(sequence(status(503), ok))
      const otel = yield* collector
      const config = writeConfig(`
simulator: { seed: 3 }
webhooks:
  - { name: flaky, event: after:measure, target: "${receiver.origin}/flaky" }
`)
      const ran = yield* Effect.promise(() =>
        runServo(["run", "--cycles", "1", "--config", config], {
          env: { OTEL_EXPORTER_OTLP_ENDPOINT: otel.url, OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" }
        })
      )
      expect(ran.code).toBe(0)
      const spans = spansOf(otel.exports)
      const delivery = spans.find((span) => span.name === "Webhooks.deliver")!
      expect(delivery.attributes).toMatchObject({ webhook: "flaky", outcome: "Delivered", attempts: 2 })
      const attempts = spans.filter((span) => span.kind === 3 && span.parentSpanId === delivery.spanId)
      expect(attempts.map((span) => span.attributes["http.response.status_code"]).sort()).toEqual([200, 503])
      const failed = attempts.find((span) => span.attributes["http.response.status_code"] === 503)!
      const retried = attempts.find((span) => span.attributes["http.response.status_code"] === 200)!
      expect(failed.attributes["error.type"]).toBe("503")
      expect(failed.attributes["http.request.resend_count"]).toBeUndefined()
      expect(retried.attributes["error.type"]).toBeUndefined()
      expect(retried.attributes["http.request.resend_count"]).toBe(1)
    }).pipe(Effect.scoped))

  it.live("an unsupported protocol is refused with one error line, exit 1", () =>
    Effect.gen(function*() {
      const ran = yield* Effect.promise(() =>
        runServo(["webhooks", "keys"], { env: { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9", OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" } })
      )
      expect(ran.code).toBe(1)
      expect(ran.stderr.trim()).toBe(
        "error: OTEL_EXPORTER_OTLP_PROTOCOL: \"grpc\" is not supported; use http/protobuf or http/json"
      )
    }))
})

describe("Telemetry.fromEnv", () => {
  const settings = (env: Record<string, string>) =>
    Effect.withConfigProvider(Telemetry.fromEnv, ConfigProvider.fromMap(new Map(Object.entries(env))))

  it.effect("off without an endpoint; signal URLs from the base; headers parsed and redacted", () =>
    Effect.gen(function*() {
      expect(Telemetry.isOn(yield* settings({}))).toBe(false)
      const on = yield* settings({
        OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318/",
        OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: "http://127.0.0.1:9090/otlp/v1/metrics",
        OTEL_EXPORTER_OTLP_HEADERS: "api-key=s%3Dcret,x-team=ops"
      })
      expect(on.tracesUrl).toEqual(Option.some("http://127.0.0.1:4318/v1/traces"))
      expect(on.metricsUrl).toEqual(Option.some("http://127.0.0.1:9090/otlp/v1/metrics"))
      expect(on.protocol).toBe("http/protobuf")
      expect(on.serviceName).toBe("servo")
      expect(String(on.headers)).not.toContain("s=cret")
      const off = yield* settings({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318", OTEL_SDK_DISABLED: "true" })
      expect(Telemetry.isOn(off)).toBe(false)
    }))
})

// ---------------------------------------------------------------------------------------------
// Prometheus
// ---------------------------------------------------------------------------------------------

const scrape = (url: string) =>
  Effect.promise(async () => {
    const response = await fetch(url)
    return { status: response.status, type: response.headers.get("content-type"), text: await response.text() }
  })

describe("the Prometheus endpoint", () => {
  it.scopedLive("serves Effect's metric registry as text format that a Prometheus parser reads", () =>
    Effect.gen(function*() {
      const counter = Metric.counter("servo_test_scrapes_total", { description: "A counter\nwith \"quotes\"", incremental: true })
      const gauge = Metric.gauge("servo_test_depth")
      yield* Metric.incrementBy(Metric.tagged(counter, "webhook", "a \"quoted\"\nname"), 2)
      yield* Metric.set(Metric.tagged(gauge, "webhook", "w"), 7)
      yield* Metric.update(Metric.histogram("servo_test_duration_ms", MetricBoundaries.fromIterable([10, 100])), 42)
      const { url } = yield* Telemetry.serveMetrics({ host: "127.0.0.1", port: 0 })
      const scraped = yield* scrape(url)
      expect(scraped.status).toBe(200)
      expect(scraped.type).toBe("text/plain; version=0.0.4; charset=utf-8")
      const families = parsePrometheus(scraped.text)
      const counterFamily = families.find((f) => f.name === "servo_test_scrapes_total")!
      expect(counterFamily.type).toBe("COUNTER")
      expect(counterFamily.metrics).toEqual([{ labels: { webhook: "a \"quoted\"\nname" }, value: "2" }])
      const gaugeFamily = families.find((f) => f.name === "servo_test_depth")!
      expect(gaugeFamily.type).toBe("GAUGE")
      expect(gaugeFamily.metrics).toEqual([{ labels: { webhook: "w" }, value: "7" }])
      const histogram = families.find((f) => f.name === "servo_test_duration_ms")!
      expect(histogram.type).toBe("HISTOGRAM")
      expect(histogram.metrics).toEqual([{ buckets: { "10": "0", "100": "1", "+Inf": "1" }, count: "1", sum: "42" }])
      expect((yield* scrape(url.replace("/metrics", "/other"))).status).toBe(404)
    }))

  it.scopedLive("servo run --metrics-port 0: the connector's metrics mid-run, histogram included", () =>
    Effect.gen(function*() {
      // The before webhook holds its answer: the run waits in cycle 1's adjustment, after its
      // measure delivery, while the endpoint is scraped.
      const held = gate()
      const receiver = yield* testReceiver((request, response, index) =>
        request.path.startsWith("/approve") ? held.responder(request, response, index) : ok(request, response, index)
      )
      const child = yield* spawnServoScoped(
        ["run", "--cycles", "1", "--metrics-port", "0", "--config", configFor(receiver.origin)],
        { env: secretsEnv }
      )
      const [, url] = yield* Effect.promise(() => child.waitFor(/^metrics: (http:\/\/127\.0\.0\.1:\d+\/metrics)$/m))
      const families = yield* eventually(
        "the measure delivery counted",
        Effect.map(scrape(url!), (scraped) => parsePrometheus(scraped.text)),
        (families) =>
          families.find((f) => f.name === "servo_webhooks_deliveries_total")?.metrics.some((m) =>
            m.labels?.["webhook"] === "measurements" && m.value === "1"
          ) === true
      )
      const byName = new Map(families.map((f) => [f.name, f]))
      expect(byName.get("servo_webhooks_attempts_total")?.type).toBe("COUNTER")
      expect(byName.get("servo_webhooks_outbox_total")?.metrics).toContainEqual({
        labels: { connector: "webhooks", webhook: "measurements", outcome: "enqueued" },
        value: "1"
      })
      const histogram = byName.get("servo_webhooks_delivery_duration_ms")!
      expect(histogram.type).toBe("HISTOGRAM")
      // This parser folds a labelled histogram's series into one set of buckets (and drops
      // their count and sum); one series exists yet, the measurements webhook's.
      expect(histogram.metrics[0]?.buckets?.["+Inf"]).toBe("1")
      expect(byName.get("servo_webhooks_outbox_depth")?.type).toBe("GAUGE")
      held.open()
      expect(yield* Effect.promise(() => child.exited)).toBe(0)
    }))
})

// ---------------------------------------------------------------------------------------------
// Off costs nothing; logs as data
// ---------------------------------------------------------------------------------------------

describe("with telemetry off", () => {
  it.live("servo webhooks list loads no @opentelemetry module and no exporter", () =>
    Effect.gen(function*() {
      // A module-load trace: a loader hook that writes every resolved URL to a file.
      const dir = tempDir()
      const trace = path.join(dir, "loaded.txt")
      const hooks = path.join(dir, "hooks.mjs")
      fs.writeFileSync(hooks, `import * as fs from "node:fs"
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context)
  fs.appendFileSync(${JSON.stringify(trace)}, resolved.url + "\\n")
  return resolved
}
`)
      const register = path.join(dir, "register.mjs")
      fs.writeFileSync(register, `import { register } from "node:module"\nregister(${JSON.stringify(`file://${hooks}`)})\n`)
      const config = writeConfig(`webhooks:\n  - { name: m, event: after:measure, target: "http://127.0.0.1:9/" }\n`)
      const ran = yield* Effect.promise(() =>
        runServo(["webhooks", "list", "--config", config], { env: { NODE_OPTIONS: `--import ${register}` } })
      )
      expect(ran.code).toBe(0)
      const loaded = fs.readFileSync(trace, "utf8")
      expect(loaded).toContain("/dist/src/bin/servo.js")
      expect(loaded).not.toMatch(/@opentelemetry|@effect\/opentelemetry|metricsEndpoint/)
    }))
})

describe("--log-format json", () => {
  it.live("one JSON object per line with the annotations; secrets redacted; untrusted text escaped", () =>
    Effect.gen(function*() {
      // The receiver refuses with a body that would drive a terminal: it is quoted in the log.
      const hostile = "no\u001b[2J\u009b31mforged"
      const refusing = yield* testReceiver(status(400, { "content-type": "text/plain" }, hostile))
      const config = writeConfig(`
webhooks:
  - name: approve
    event: before:adjust
    target: ${refusing.origin}/approve?token=${queryToken}
    authentication: { bearer_token: { env: SERVO_OTEL_TEST_TOKEN } }
    backoff: false
`)
      const ran = yield* Effect.promise(() =>
        runServo(["--log-format", "json", "webhooks", "trigger", "before:adjust", "--config", config, "--log-level", "debug"], {
          env: secretsEnv
        })
      )
      expect(ran.code).toBe(1)
      const lines = ran.stderr.split("\n").filter((line) => line !== "")
      expect(lines.length).toBeGreaterThan(0)
      const objects = lines.map((line) => JSON.parse(line))
      expect(objects.at(-1)).toMatchObject({ level: "error", message: "the delivery failed" })
      const failed = objects.find((o) => o.level === "warning" && /delivery failed/.test(o.message))
      expect(failed).toMatchObject({ webhook: "approve", event: "before:adjust" })
      expect(failed.delivery_id).toMatch(/^msg_/)
      const attempt = objects.find((o) => o.level === "debug" && /^attempt 1 failed/.test(o.message))
      expect(attempt).toMatchObject({ webhook: "approve", event: "before:adjust", attempt: 1, delivery_id: failed.delivery_id })
      expect(typeof failed.time).toBe("string")
      expect(failed.message).toContain(hostile)
      expect(ran.stderr).not.toMatch(/[\u001b\u009b]/)
      expect(ran.stderr + ran.stdout).not.toContain(token)
      expect(ran.stderr).not.toContain(queryToken)
    }).pipe(Effect.scoped))

  it.live("a bad value is refused, exit 1", () =>
    Effect.gen(function*() {
      const ran = yield* Effect.promise(() => runServo(["--log-format", "xml", "webhooks", "keys"]))
      expect(ran.code).toBe(1)
      expect(ran.stderr.trim()).toBe("error: --log-format: expected text or json, not \"xml\"")
    }))
})
