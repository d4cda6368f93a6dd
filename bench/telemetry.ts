/**
 * `node dist/bench/telemetry.js [--quick] [--json] [--only traces|metrics]`: what OpenTelemetry export costs a delivery. After
 * deliveries end to end (dispatch → outbox → receiver, signed, 64 in flight), with telemetry off
 * and on (spans and metrics to an OTLP/HTTP protobuf collector), rounds alternating. Reports the
 * deliveries per second and the process CPU per delivery (user + system), median and range.
 * The receiver and the collector each run in their own process (`httpReceiver.ts`).
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Duration from "effect/Duration"
import * as Schema from "effect/Schema"
import { spawn } from "node:child_process"
import { once } from "node:events"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as CoreEvents from "../src/servo/CoreEvents.js"
import * as EventBus from "../src/servo/EventBus.js"
import * as Telemetry from "../src/servo/Telemetry.js"
import * as UndiciHttpClient from "../src/webhooks/UndiciHttpClient.js"
import * as WebhookConfig from "../src/webhooks/WebhookConfig.js"
import * as Webhooks from "../src/webhooks/Webhooks.js"

const quick = process.argv.includes("--quick")
const events = quick ? 3_000 : 10_000
const rounds = quick ? 3 : 7
const here = path.dirname(fileURLToPath(import.meta.url))

const server = async () => {
  const child = spawn(process.execPath, [path.join(here, "httpReceiver.js")], { stdio: ["ignore", "pipe", "inherit"] })
  const [line] = (await once(child.stdout!, "data")) as [Buffer]
  process.on("exit", () => child.kill("SIGKILL"))
  return `http://127.0.0.1:${line.toString().trim()}`
}
const [receiver, collector] = await Promise.all([server(), server()])

const probe = Layer.scopedDiscard(Effect.gen(function*() {
  const handlers = yield* EventBus.connector("probe")
  yield* handlers.on(CoreEvents.measure, () => Effect.succeed({ readings: [] }))
}))
const hooks = Schema.decodeUnknownSync(WebhookConfig.WebhooksConfig(CoreEvents.registry))([
  { name: "sink", event: "after:measure", target: `${receiver}/hook`, secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" }
])

// `--only traces` or `--only metrics`: one signal on.
const only = process.argv[process.argv.indexOf("--only") + 1]
const on: Telemetry.Settings = {
  tracesUrl: only === "metrics" ? Option.none() : Option.some(`${collector}/v1/traces`),
  metricsUrl: only === "traces" ? Option.none() : Option.some(`${collector}/v1/metrics`),
  protocol: process.argv.includes("--json") ? "http/json" : "http/protobuf",
  serviceName: "bench",
  headers: Redacted.make({}),
  metricsInterval: Duration.seconds(10),
  tracesInterval: Duration.seconds(5)
}

let instance = 0
const runtimeWith = (telemetry: Layer.Layer<never>) =>
  ManagedRuntime.make(
    Layer.mergeAll(Webhooks.layer(hooks, { name: `telemetry-bench-${++instance}`, workers: 64, outboxCapacity: events }), probe).pipe(
      Layer.provideMerge(EventBus.layer),
      Layer.provide(UndiciHttpClient.layer),
      Layer.provide(Logger.replace(Logger.defaultLogger, Logger.none)),
      Layer.provide(telemetry)
    )
  )

const contender = (telemetry: Layer.Layer<never>) => {
  const runtime = runtimeWith(telemetry)
  const run = () =>
    runtime.runPromise(Effect.gen(function*() {
      const webhooks = yield* Webhooks.Webhooks
      const done = (stats: Webhooks.Stats) => stats.after.delivered + stats.after.failed
      const target = done(yield* webhooks.stats) + events
      const cpu = process.cpuUsage()
      const start = performance.now()
      for (let i = 0; i < events; i++) yield* EventBus.dispatch(CoreEvents.measure, { metrics: [] })
      while (done(yield* webhooks.stats) < target) yield* Effect.sleep("2 millis")
      const seconds = (performance.now() - start) / 1000
      const used = process.cpuUsage(cpu)
      return { perSecond: events / seconds, cpuMicros: (used.user + used.system) / events }
    }))
  return { run, dispose: () => runtime.dispose() }
}

const off = contender(Layer.empty)
const exporting = contender(Telemetry.layer(on))
interface Sample {
  readonly perSecond: number
  readonly cpuMicros: number
}
const samples: Record<"off" | "on", Array<Sample>> = { off: [], on: [] }
await off.run()
await exporting.run()
for (let round = 0; round < rounds; round++) {
  for (const name of round % 2 === 0 ? (["off", "on"] as const) : (["on", "off"] as const)) {
    const result = await (name === "off" ? off : exporting).run()
    samples[name].push(result)
    process.stderr.write(`  round ${round + 1}/${rounds} ${name}: ${result.perSecond.toFixed(0)}/s, ${result.cpuMicros.toFixed(1)} µs CPU\n`)
  }
}
await off.dispose()
await exporting.dispose()

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const summary = (xs: ReadonlyArray<number>, digits: number) =>
  `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})`
for (const name of ["off", "on"] as const) {
  console.log(
    `${name.padEnd(3)} deliveries/s ${summary(samples[name].map((s) => s.perSecond), 0)}  CPU µs/delivery ${
      summary(samples[name].map((s) => s.cpuMicros), 1)
    }`
  )
}
process.exit(0)
