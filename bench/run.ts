/**
 * `npm run bench [-- --quick]`: what delivery costs, each figure against its baseline in the same
 * run, rounds alternating, medians. The receiver runs in its own process on 127.0.0.1
 * (`httpReceiver.ts`). Prints a table and writes `bench/results.json`.
 *
 * | key | what | target |
 * |---|---|---|
 * | after_throughput_ratio | after deliveries/s end to end (dispatch → outbox → receiver, signed, 64 in flight) ÷ raw `undici.request` posting the same bytes, 64 in flight | ≥ 0.7 |
 * | before_latency_p50_ratio | p50 of `dispatch(adjust)` with one before webhook ÷ p50 of one raw POST, sequential | ≤ 1.2 |
 * | dispatch_overhead_ratio | ns per `dispatch` with 50 webhooks on other events ÷ the same bus without the connector | ≤ 1.1 |
 * | stalled_10k_rss_growth_mib | RSS growth with 10,000 after deliveries queued to a receiver that never answers | ≤ 64 |
 * | stock_client_ratio | after_throughput_ratio with `NodeHttpClient.layerUndici` instead of `UndiciHttpClient.layer` | (record) |
 * | cli_start_ratio | wall time of `servo webhooks list` ÷ a process that only imports `effect`, cold | ≤ 1.5 |
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Schema from "effect/Schema"
import { execFileSync, spawn, spawnSync } from "node:child_process"
import { once } from "node:events"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as undici from "undici"
import * as CoreEvents from "../src/servo/CoreEvents.js"
import type * as Domain from "../src/servo/Domain.js"
import * as EventBus from "../src/servo/EventBus.js"
import * as UndiciHttpClient from "../src/webhooks/UndiciHttpClient.js"
import * as WebhookConfig from "../src/webhooks/WebhookConfig.js"
import * as Webhooks from "../src/webhooks/Webhooks.js"
import * as WireContract from "../src/webhooks/WireContract.js"

const quick = process.argv.includes("--quick")
const settings = quick
  ? { events: 5_000, rounds: 3, latencySamples: 400, dispatches: 20_000, starts: 5 }
  : { events: 20_000, rounds: 5, latencySamples: 2_000, dispatches: 100_000, starts: 11 }
const concurrency = 64
const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
const here = path.dirname(fileURLToPath(import.meta.url))

// ---------------------------------------------------------------------------------------------
// The receiver, in a process of its own.
// ---------------------------------------------------------------------------------------------
const receiver = spawn(process.execPath, [path.join(here, "httpReceiver.js")], { stdio: ["ignore", "pipe", "inherit"] })
const [portLine] = (await once(receiver.stdout!, "data")) as [Buffer]
const origin = `http://127.0.0.1:${portLine.toString().trim()}`
// However this process ends, the receiver goes with it.
process.on("exit", () => receiver.kill("SIGKILL"))

// ---------------------------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------------------------
const median = (xs: ReadonlyArray<number>) => {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted.length % 2 === 1
    ? sorted[(sorted.length - 1) / 2]!
    : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2
}
const percentile = (xs: ReadonlyArray<number>, p: number) => {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}
const log = (line: string) => process.stderr.write(`${line}\n`)

/** Runs each contender once per round, in alternating order, and keeps every sample. */
const alternate = async <K extends string>(
  label: string,
  contenders: Record<K, () => Promise<number>>,
  rounds = settings.rounds
): Promise<Record<K, Array<number>>> => {
  const names = Object.keys(contenders) as Array<K>
  const samples = Object.fromEntries(names.map((name) => [name, [] as Array<number>])) as Record<K, Array<number>>
  for (const name of names) await contenders[name]() // warm-up: JIT, connections
  for (let round = 0; round < rounds; round++) {
    for (const name of round % 2 === 0 ? names : [...names].reverse()) {
      const value = await contenders[name]()
      samples[name].push(value)
      log(`  ${label} round ${round + 1}/${rounds}: ${name} ${value.toFixed(2)}`)
    }
  }
  return samples
}

const configs = (input: ReadonlyArray<unknown>) =>
  Schema.decodeUnknownSync(WebhookConfig.WebhooksConfig(CoreEvents.registry))(input)

// A connector whose measure result makes a body of about 1 KB.
const measurement: Domain.Measurement = {
  readings: ["throughput", "latency", "error_rate", "cpu", "memory", "p50", "p90", "p99"].map((name, i) => ({
    metric: { name, unit: "ms" as const },
    time: DateTime.unsafeMake("2026-11-29T10:00:00.000Z"),
    value: 100 + i
  }))
}
const measureParams = { metrics: ["throughput", "latency"] }
const probe = Layer.scopedDiscard(Effect.gen(function*() {
  const handlers = yield* EventBus.connector("probe")
  yield* handlers.on(CoreEvents.measure, () => Effect.succeed(measurement))
  yield* handlers.on(CoreEvents.adjust, () => Effect.succeed({ components: [], metrics: [] }))
  yield* handlers.on(CoreEvents.describe, () => Effect.succeed({ components: [], metrics: [] }))
}))

// The exact bytes an after:measure delivery carries, for the raw baselines.
const body = WireContract.encodePayload({
  event: CoreEvents.measure,
  preposition: "after",
  params: measureParams,
  results: [{ connector: "probe", value: measurement }],
  createdAt: new Date()
}).pipe((either) => {
  if (either._tag === "Left") throw either.left
  return either.right.body(WireContract.makeId())
})
const rawHeaders = {
  "content-type": WireContract.contentType,
  "user-agent": WireContract.userAgent,
  "servo-event": "after:measure",
  "webhook-id": "msg_0123456789abcdefghijkl",
  "webhook-timestamp": "1795950000",
  "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
}
const rawPost = async () => {
  const { body: response, statusCode } = await undici.request(`${origin}/hook`, { method: "POST", headers: rawHeaders, body })
  await response.dump()
  if (statusCode !== 200) throw new Error(`status ${statusCode}`)
}

const quiet = Logger.replace(Logger.defaultLogger, Logger.none)
let instance = 0
const servo = <E>(hooks: ReadonlyArray<unknown>, client: Layer.Layer<HttpClient.HttpClient, E>, options: Webhooks.Options = {}) =>
  ManagedRuntime.make(
    Layer.mergeAll(Webhooks.layer(configs(hooks), { name: `bench-${++instance}`, ...options }), probe).pipe(
      Layer.provideMerge(EventBus.layer),
      Layer.provide(client),
      Layer.provide(quiet)
    )
  )

// ---------------------------------------------------------------------------------------------
// after_throughput_ratio and stock_client_ratio
// ---------------------------------------------------------------------------------------------
const rawThroughput = async () => {
  let sent = 0
  const start = performance.now()
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (sent++ < settings.events) await rawPost()
  }))
  return settings.events / ((performance.now() - start) / 1000)
}

const afterThroughput = <E>(client: Layer.Layer<HttpClient.HttpClient, E>) => {
  const runtime = servo(
    [{ name: "sink", event: "after:measure", target: `${origin}/hook`, secret }],
    client,
    { workers: concurrency, outboxCapacity: settings.events }
  )
  const run = () =>
    runtime.runPromise(Effect.gen(function*() {
      const webhooks = yield* Webhooks.Webhooks
      const done = (stats: Webhooks.Stats) => stats.after.delivered + stats.after.failed
      const target = done(yield* webhooks.stats) + settings.events
      const start = performance.now()
      for (let i = 0; i < settings.events; i++) yield* EventBus.dispatch(CoreEvents.measure, measureParams)
      while (done(yield* webhooks.stats) < target) yield* Effect.sleep("2 millis")
      const stats = yield* webhooks.stats
      if (stats.after.failed > 0) throw new Error(`${stats.after.failed} deliveries failed`)
      return settings.events / ((performance.now() - start) / 1000)
    }))
  return { run, dispose: () => runtime.dispose() }
}

log(`after throughput: ${settings.events} events × ${settings.rounds} rounds, ${concurrency} in flight, ${body.length} B bodies`)
const fast = afterThroughput(UndiciHttpClient.layer)
const stock = afterThroughput(NodeHttpClient.layerUndici)
const throughput = await alternate("throughput", { raw: rawThroughput, ours: fast.run, stock: stock.run })
await fast.dispose()
await stock.dispose()

// ---------------------------------------------------------------------------------------------
// before_latency_p50_ratio
// ---------------------------------------------------------------------------------------------
log(`before latency: ${settings.latencySamples} sequential samples × ${settings.rounds} rounds`)
const gate = servo([{ name: "gate", event: "before:adjust", target: `${origin}/hook`, secret }], UndiciHttpClient.layer)
const adjustParams = { adjustments: [{ component: "web", setting: "replicas", value: 3 }] }
const latencies = { raw: [] as Array<number>, ours: [] as Array<number> }
const timed = (into: Array<number>, once: () => Promise<unknown>) => async () => {
  const samples: Array<number> = []
  for (let i = 0; i < settings.latencySamples; i++) {
    const start = performance.now()
    await once()
    samples.push((performance.now() - start) * 1000)
  }
  into.push(...samples)
  return median(samples)
}
const dispatchAdjust = EventBus.dispatch(CoreEvents.adjust, adjustParams)
await alternate("latency µs", {
  raw: timed(latencies.raw, rawPost),
  ours: timed(latencies.ours, () => gate.runPromise(dispatchAdjust))
})
await gate.dispose()

// ---------------------------------------------------------------------------------------------
// dispatch_overhead_ratio
// ---------------------------------------------------------------------------------------------
log(`dispatch overhead: ${settings.dispatches} dispatches × ${settings.rounds} rounds`)
const otherEvents = ["before:adjust", "after:adjust", "after:measure", "before:measure", "after:check"]
const fifty = Array.from({ length: 50 }, (_, i) => ({
  name: `hook-${i}`,
  event: otherEvents[i % otherEvents.length],
  target: `${origin}/hook`,
  secret
}))
const withConnector = servo(fifty, UndiciHttpClient.layer)
const withoutConnector = ManagedRuntime.make(probe.pipe(Layer.provideMerge(EventBus.layer), Layer.provide(quiet)))
const dispatchLoop = (runtime: ManagedRuntime.ManagedRuntime<EventBus.EventBus, unknown>) => () =>
  runtime.runPromise(Effect.gen(function*() {
    const start = performance.now()
    for (let i = 0; i < settings.dispatches; i++) yield* EventBus.dispatch(CoreEvents.describe, {})
    return ((performance.now() - start) * 1e6) / settings.dispatches
  }))
const overhead = await alternate("ns/dispatch", { without: dispatchLoop(withoutConnector), with: dispatchLoop(withConnector) })
await withConnector.dispose()
await withoutConnector.dispose()

// ---------------------------------------------------------------------------------------------
// stalled_10k_rss_growth_mib, in a process of its own so nothing else moves its RSS
// ---------------------------------------------------------------------------------------------
log("stalled receiver: 10,000 after deliveries queued, then 1,000 more")
const stalled = JSON.parse(
  execFileSync(process.execPath, ["--expose-gc", path.join(here, "stalled.js"), `${origin}/stall`], { encoding: "utf8" })
) as { rss_growth_mib: number; enqueued: number; overflowed: number; heap_growth_mib: number }

// ---------------------------------------------------------------------------------------------
// cli_start_ratio
// ---------------------------------------------------------------------------------------------
const bin = path.join(here, "..", "src", "bin", "servo.js")
let cli: { ratio: number; servo_ms: number; effect_ms: number } | undefined
if (fs.existsSync(bin)) {
  log(`cli start: ${settings.starts} cold starts each`)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "servo-bench-"))
  const config = path.join(dir, "servo.yaml")
  fs.writeFileSync(
    config,
    `simulator: {}\nwebhooks:\n  - name: measurements\n    event: after:measure\n    target: https://example.com/hooks\n  - name: gate\n    event: before:adjust\n    target: https://example.com/gate\n    backoff: false\n`
  )
  const wall = (args: ReadonlyArray<string>) => () => {
    const start = performance.now()
    const result = spawnSync(process.execPath, args, { encoding: "utf8" })
    if (result.status !== 0) throw new Error(`${args.join(" ")}: ${result.stderr}`)
    return Promise.resolve(performance.now() - start)
  }
  const starts = await alternate("start ms", {
    effect: wall(["--input-type=module", "-e", "import 'effect'"]),
    servo: wall([bin, "webhooks", "list", "--config", config])
  }, settings.starts)
  cli = { ratio: median(starts.servo) / median(starts.effect), servo_ms: median(starts.servo), effect_ms: median(starts.effect) }
} else {
  log(`cli start: skipped, ${bin} does not exist`)
}

receiver.kill("SIGTERM")

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------
const ratioOf = (ours: ReadonlyArray<number>, base: ReadonlyArray<number>) => median(ours) / median(base)
const results = {
  after_throughput_ratio: ratioOf(throughput.ours, throughput.raw),
  before_latency_p50_ratio: percentile(latencies.ours, 50) / percentile(latencies.raw, 50),
  before_latency_p99_ratio: percentile(latencies.ours, 99) / percentile(latencies.raw, 99),
  dispatch_overhead_ratio: ratioOf(overhead.with, overhead.without),
  stalled_10k_rss_growth_mib: stalled.rss_growth_mib,
  stock_client_ratio: ratioOf(throughput.stock, throughput.raw),
  cli_start_ratio: cli?.ratio ?? null,
  details: {
    date: new Date().toISOString(),
    quick,
    machine: `${os.cpus().length} × ${os.cpus()[0]?.model ?? "cpu"}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.platform()} ${os.release()}`,
    node: process.version,
    settings,
    after_throughput_per_s: { raw: median(throughput.raw), ours: median(throughput.ours), stock: median(throughput.stock) },
    before_latency_us: {
      raw: { p50: percentile(latencies.raw, 50), p99: percentile(latencies.raw, 99) },
      ours: { p50: percentile(latencies.ours, 50), p99: percentile(latencies.ours, 99) }
    },
    dispatch_ns: { without: median(overhead.without), with: median(overhead.with) },
    stalled,
    cli_start_ms: cli === undefined ? null : { servo: cli.servo_ms, effect: cli.effect_ms }
  }
}

const row = (name: string, value: number | null, target: string, pass: boolean | null, detail: string) =>
  `| ${name} | ${value === null ? "n/a" : value.toFixed(2)} | ${target} | ${pass === null ? "—" : pass ? "met" : "MISSED"} | ${detail} |`
const d = results.details
console.log(`\nservo-webhooks bench${quick ? " (--quick)" : ""}: ${d.machine}, Node ${d.node}, ${d.date}\n`)
console.log("| figure | value | target | | detail |\n|---|---|---|---|---|")
console.log(row("after_throughput_ratio", results.after_throughput_ratio, "≥ 0.7", results.after_throughput_ratio >= 0.7, `${Math.round(d.after_throughput_per_s.ours)}/s vs raw ${Math.round(d.after_throughput_per_s.raw)}/s`))
console.log(row("before_latency_p50_ratio", results.before_latency_p50_ratio, "≤ 1.2", results.before_latency_p50_ratio <= 1.2, `p50 ${Math.round(d.before_latency_us.ours.p50)} µs vs ${Math.round(d.before_latency_us.raw.p50)} µs`))
console.log(row("before_latency_p99_ratio", results.before_latency_p99_ratio, "(record)", null, `p99 ${Math.round(d.before_latency_us.ours.p99)} µs vs ${Math.round(d.before_latency_us.raw.p99)} µs`))
console.log(row("dispatch_overhead_ratio", results.dispatch_overhead_ratio, "≤ 1.1", results.dispatch_overhead_ratio <= 1.1, `${Math.round(d.dispatch_ns.with)} ns vs ${Math.round(d.dispatch_ns.without)} ns`))
console.log(row("stalled_10k_rss_growth_mib", results.stalled_10k_rss_growth_mib, "≤ 64", results.stalled_10k_rss_growth_mib <= 64, `${stalled.enqueued} queued, ${stalled.overflowed} overflowed`))
console.log(row("stock_client_ratio", results.stock_client_ratio, "(record)", null, `${Math.round(d.after_throughput_per_s.stock)}/s`))
console.log(row("cli_start_ratio", results.cli_start_ratio, "≤ 1.5", results.cli_start_ratio === null ? null : results.cli_start_ratio <= 1.5, cli === undefined ? "no CLI built" : `${Math.round(cli.servo_ms)} ms vs ${Math.round(cli.effect_ms)} ms`))

fs.writeFileSync(path.join(here, "..", "..", "bench", "results.json"), JSON.stringify(results, null, 2) + "\n")
log("\nwrote bench/results.json")
