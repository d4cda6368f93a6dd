/**
 * Hardening from the adversarial probe of issue 14: what reaches a span when a request fails
 * (item 5), hostile YAML (7), durations too large to mean anything (10) and a proxy that asks
 * for credentials (11).
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import type * as HttpClient from "@effect/platform/HttpClient"
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import type * as Tracer from "effect/Tracer"
import * as http from "node:http"
import type * as net from "node:net"
import * as util from "node:util"
import type * as Delivery from "../src/webhooks/Delivery.js"
import * as UndiciHttpClient from "../src/webhooks/UndiciHttpClient.js"
import * as WebhookConfig from "../src/webhooks/WebhookConfig.js"
import * as Webhooks from "../src/webhooks/Webhooks.js"
import { servo } from "./support/cli.js"
import { ok, receiver } from "./support/receiver.js"
import { configs, type RecordedSpan, recordSpans } from "./support/servo.js"

const message: Delivery.Message = {
  id: "msg_hardening",
  event: "after:measure",
  body: new TextEncoder().encode(`{"id":"msg_hardening"}`)
}

/** A port on 127.0.0.1 that nothing listens on: connections to it are refused. */
const closedPort = Effect.async<number>((resume) => {
  const server = http.createServer()
  server.listen(0, "127.0.0.1", () => {
    const { port } = server.address() as net.AddressInfo
    server.close(() => resume(Effect.succeed(port)))
  })
})

/** Everything a span holds that an exporter could write out: name, attributes, and its exit. */
const spanText = (recorded: RecordedSpan): string => {
  const span = recorded as unknown as Tracer.Span
  const parts = [span.name, ...[...span.attributes].map(([key, value]) => `${key}=${String(value)}`)]
  if (span.status._tag === "Ended") {
    const exit = span.status.exit
    parts.push(util.inspect(exit, { depth: 12, getters: true }))
    if (Exit.isFailure(exit)) {
      parts.push(Cause.pretty(exit.cause))
      for (const error of Cause.prettyErrors(exit.cause)) parts.push(error.message, String(error.stack))
      for (const failure of Cause.failures(exit.cause)) parts.push(util.inspect(failure, { depth: 12, getters: true }))
    }
  }
  return parts.join("\n")
}

describe("item 5: a failed request's span holds no secret", () => {
  const token = "BEARER-5e1d-DISTINCT"
  const headerSecret = "HEADER-77b0-DISTINCT"
  const querySecret = "QUERY-a2c4-DISTINCT"

  const failedSpans = (client: Layer.Layer<HttpClient.HttpClient>) =>
    Effect.gen(function*() {
      const port = yield* closedPort
      const spans: Array<RecordedSpan> = []
      const [webhook] = yield* WebhookConfig.resolve(configs([{
        name: "traced",
        event: "after:measure",
        target: `http://127.0.0.1:${port}/hook?token=${querySecret}`,
        authentication: { bearer_token: token },
        headers: [{ name: "x-api-token", value: headerSecret, secret: true }],
        backoff: false,
        trace_propagation: true
      }])).pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map())))
      const outcome = yield* Effect.scoped(
        Effect.flatMap(Webhooks.makeSenders([webhook!], { connector: "hardening" }), ([sender]) => sender!.send(message))
      ).pipe(Effect.provide(Layer.merge(client, recordSpans(spans))))
      return { outcome, spans }
    })

  it.each([
    ["UndiciHttpClient", UndiciHttpClient.layer],
    ["the stock NodeHttpClient", NodeHttpClient.layerUndici]
  ] as const)("with %s: neither the query token nor the bearer or secret header reach any span", (_, client) =>
    Effect.runPromise(Effect.gen(function*() {
      const { outcome, spans } = yield* failedSpans(client)
      expect(outcome).toMatchObject({ _tag: "Failed", reason: "connection refused" })
      expect(spans.length).toBeGreaterThan(0)
      const ended = spans.map((span) => spanText(span))
      for (const text of ended) {
        expect(text).not.toContain(token)
        expect(text).not.toContain(headerSecret)
        expect(text).not.toContain(querySecret)
      }
      if (client === UndiciHttpClient.layer) {
        // The project's client still ends its span with the failure, shown redacted.
        const clientSpan = spans.map((span) => span as unknown as Tracer.Span).find((span) => span.name === "http.client POST")
        expect(clientSpan?.status._tag).toBe("Ended")
        const exit = (clientSpan!.status as Extract<Tracer.SpanStatus, { _tag: "Ended" }>).exit
        expect(Exit.isFailure(exit) && Cause.pretty(exit.cause)).toContain(`/hook?token=REDACTED`)
        expect(Exit.isFailure(exit) && Cause.pretty(exit.cause)).toContain(`Transport`)
      }
    })))

  it("through the stock client, trace headers still go out, naming the delivery's span", () =>
    Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const server = yield* receiver(ok)
      const spans: Array<RecordedSpan> = []
      const [webhook] = yield* WebhookConfig.resolve(configs([{
        name: "traced",
        event: "after:measure",
        target: `${server.url}?token=${querySecret}`,
        backoff: false,
        trace_propagation: true
      }])).pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map())))
      const outcome = yield* Effect.flatMap(
        Webhooks.makeSenders([webhook!], { connector: "hardening" }),
        ([sender]) => sender!.send(message)
      ).pipe(Effect.provide(Layer.merge(NodeHttpClient.layerUndici, recordSpans(spans))))
      expect(outcome._tag).toBe("Delivered")
      const deliver = spans.find((span) => span.name === "Webhooks.deliver") as unknown as Tracer.Span
      expect(server.requests[0]!.headers["traceparent"]).toBe(`00-${deliver.traceId}-${deliver.spanId}-01`)
      expect(spans.map((span) => span.name)).not.toContain("http.client POST")
    }))))
})

describe("item 10: every duration flag is bounded", () => {
  it.effect("servo run --drain-timeout 1 and 400 zeros h is refused in one line", () =>
    Effect.gen(function*() {
      const ran = yield* servo("run", "--config", "/nonexistent/servo.yaml", "--drain-timeout", "1" + "0".repeat(400) + "h")
      expect(ran.code).toBe(1)
      const lines = ran.stderr.join("\n").split("\n").filter((line) => line.trim() !== "")
      expect(lines).toHaveLength(1)
      expect(lines[0]).toMatch(/--drain-timeout: expected a duration of at most 2562047h47m16\.854775807s \(about 292 years\), got "1000/)
      expect(lines[0]!.length).toBeLessThan(200)
    }))
})
