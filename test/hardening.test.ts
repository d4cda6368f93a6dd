/**
 * Hardening from the adversarial probe of issue 14: what reaches a span when a request fails
 * (item 5), hostile YAML (7), durations too large to mean anything (10) and a proxy that asks
 * for credentials (11).
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import type * as HttpClient from "@effect/platform/HttpClient"
import { NodeFileSystem } from "@effect/platform-node"
import { afterAll, describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import type * as Tracer from "effect/Tracer"
import * as fs from "node:fs"
import * as http from "node:http"
import type * as net from "node:net"
import * as path from "node:path"
import * as util from "node:util"
import { assembly as bundled } from "../src/cli/internal/assembly.js"
import * as Servo from "../src/servo/Servo.js"
import type * as Delivery from "../src/webhooks/Delivery.js"
import * as UndiciHttpClient from "../src/webhooks/UndiciHttpClient.js"
import * as WebhookConfig from "../src/webhooks/WebhookConfig.js"
import * as Webhooks from "../src/webhooks/Webhooks.js"
import { removeTempDirs, runServo, servo, tempDir } from "./support/cli.js"
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

describe("item 7: hostile YAML gets one clear line, never a crash", () => {
  afterAll(removeTempDirs)

  const aliasBomb = (() => {
    const lines = ["webhooks: []", "bomb:", "  a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for (let level = 1; level < 10; level++) {
      lines.push(`  a${level}: &a${level} [${Array.from({ length: 10 }, () => `*a${level - 1}`).join(", ")}]`)
    }
    return lines.join("\n") + "\n"
  })()
  const depth = 100_000
  const inputs = {
    // ~10^9 nodes once expanded
    "bomb.yaml": aliasBomb,
    // 200 KB
    "deep.yaml": `webhooks: ${"[".repeat(depth)}${"]".repeat(depth)}\n`,
    // 400 KB of compact nested sequences (`- - - x`)
    "dashes.yaml": `webhooks:\n  ${"- ".repeat(200_000)}x\n`,
    // 1 MiB and a few bytes, all comment
    "big.yaml": `webhooks: []\n${"#".repeat(1024 * 1024)}\n`
  }
  const expected: Record<keyof typeof inputs, RegExp> = {
    "bomb.yaml": /^its aliases \(\*name\) expand more than 100 times; refused as an alias bomb$/,
    "deep.yaml": /^nests deeper than 64 levels \(at line 1, column 74\); a config may nest at most 64$/,
    "dashes.yaml": /^nests deeper than 64 levels \(at line 2, column \d+\); a config may nest at most 64$/,
    "big.yaml": /^is 1048590 bytes long; a config may be at most 1 MiB \(1048576 bytes\)$/
  }
  // 130,000 entries that are not webhooks: 520 KB.
  const many = `webhooks:\n${"- 1\n".repeat(130_000)}`

  const write = (name: string, text: string) => {
    const file = path.join(tempDir(), name)
    fs.writeFileSync(file, text)
    return file
  }

  it.effect.each(Object.keys(inputs) as Array<keyof typeof inputs>)("Servo.loadConfig: %s is one problem naming the file", (name) =>
    Effect.gen(function*() {
      const file = write(name, inputs[name])
      const error = yield* Effect.flip(Servo.loadConfig(bundled, file))
      expect(error.source).toBe(file)
      expect(error.issues).toHaveLength(1)
      expect(error.issues[0]!.path).toBe("")
      expect(error.issues[0]!.message).toMatch(expected[name])
      expect(error.message.split("\n")).toHaveLength(1)
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.effect("Servo.loadConfig: 130,000 invalid entries report the first 100 and how many more", () =>
    Effect.gen(function*() {
      const file = write("many.yaml", many)
      const error = yield* Effect.flip(Servo.loadConfig(bundled, file))
      expect(error.issues).toHaveLength(101)
      expect(error.issues[0]!.path).toBe("webhooks[0]")
      expect(error.issues[99]!.path).toBe("webhooks[99]")
      expect(error.issues[100]).toEqual({ path: "", message: "and 129900 more problems" })
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it("parseConfig applies the same limits to text it is given", () => {
    const error = Either.getLeft(Servo.parseConfig(bundled, inputs["deep.yaml"], "given.yaml"))
    expect(error._tag === "Some" && error.value.message).toMatch(/^given\.yaml: nests deeper than 64 levels/)
    // 64 levels are fine.
    expect(Either.isLeft(Servo.parseConfig(bundled, `x: ${"[".repeat(63)}${"]".repeat(63)}\n`))).toBe(true)
    expect(Either.getLeft(Servo.parseConfig(bundled, `x: ${"[".repeat(63)}${"]".repeat(63)}\n`)).pipe(
      (o) => o._tag === "Some" ? o.value.message : ""
    )).not.toMatch(/nests deeper/)
  })

  it("the depth is measured on block nesting too, and not inside scalars", () => {
    const message = (text: string) => Either.getLeft(Servo.parseYaml(text, "x.yaml")).pipe((o) => o._tag === "Some" ? o.value.message : "")
    // 80 nested mappings, one per line
    const ladder = Array.from({ length: 80 }, (_, level) => `${" ".repeat(level)}k:`).join("\n") + "\n"
    expect(message(ladder)).toBe("x.yaml: nests deeper than 64 levels (at line 65, column 66); a config may nest at most 64")
    // Brackets in a block scalar, a quoted scalar or a comment are text.
    const text = `a: |\n  ${"[".repeat(100)}\nb: "${"{".repeat(100)}"\n# ${"[".repeat(100)}\nc: [1, [2]]\n`
    expect(Servo.parseYaml(text)).toEqual(Either.right({ a: `${"[".repeat(100)}\n`, b: "{".repeat(100), c: [1, [2]] }))
  })

  it.each([...Object.keys(inputs), "many.yaml"])("servo webhooks validate --config %s: exit 1, bounded output, no crash", async (name) => {
    const file = write(name, name === "many.yaml" ? many : inputs[name as keyof typeof inputs])
    const started = Date.now()
    const ran = await runServo(["webhooks", "validate", "--config", file])
    // A hang guard, not a speed test: before, this crashed (rc 134) or overflowed the stack.
    expect(Date.now() - started).toBeLessThan(45_000)
    expect(ran.code).toBe(1)
    expect(ran.stdout).toBe("")
    const lines = ran.stderr.split("\n").filter((line) => line !== "")
    if (name === "many.yaml") {
      expect(lines[0]).toBe(`error: ${file}: 101 problems`)
      expect(lines).toHaveLength(102)
      expect(lines.at(-1)).toBe("  - and 129900 more problems")
    } else {
      expect(lines).toHaveLength(1)
      expect(lines[0]!.startsWith(`error: ${file}: `)).toBe(true)
      expect(lines[0]!.slice(`error: ${file}: `.length)).toMatch(expected[name as keyof typeof inputs])
    }
  })
})
