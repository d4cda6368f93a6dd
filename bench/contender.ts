/**
 * One contender of `npm run bench`, in a process of its own:
 * `node dist/bench/contender.js <name> <receiver origin> <settings JSON>`. Warms up (JIT,
 * connections), measures, and prints one JSON object of {@link Measured} on stdout.
 *
 * | contender | throughput of after:measure deliveries | latency of one before:adjust delivery |
 * |---|---|---|
 * | raw | `undici.request` of fixed bytes, 64 loops | the same, sequential, bare |
 * | floor | fresh id + `JSON.stringify` + HMAC + POST, 64 loops | the same, each through `ManagedRuntime.runPromise` |
 * | ours | `dispatch` → one after webhook, ≤ 64 outstanding | `dispatch(adjust)` → one before webhook |
 * | ours4 | `dispatch` → four after webhooks, ≤ 64 outstanding | |
 * | stock | ours with `NodeHttpClient.layerUndici` | |
 * | bus, bus+webhooks | ns per `dispatch(describe)` without the connector / with 50 webhooks on other events (fastest of 5 batches) | |
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { percentile } from "./lib.js"
import { afterMeasure, beforeAdjust, concurrency, type Delivery, floorPost, rawPost } from "./wire.js"

export const contenders = ["raw", "floor", "ours", "ours4", "stock", "bus", "bus+webhooks"] as const
export type Contender = typeof contenders[number]

export interface Settings {
  /** Deliveries per throughput measurement (the warm-up sends a quarter as many, 1,000 at least, first). */
  readonly deliveries: number
  readonly latencySamples: number
  readonly dispatches: number
}

export interface Measured {
  /** Deliveries per second, and process CPU (user + system) per delivery. */
  readonly throughput?: { readonly rate: number; readonly cpu_us: number }
  /** Of one delivery, sequential, in µs. */
  readonly latency?: { readonly p50: number; readonly p99: number }
  readonly dispatch_ns?: number
}

/** Measures `run` delivering `deliveries`, after a warm-up run of a quarter as many (1,000 at least). */
const throughput = async (deliveries: number, run: (deliveries: number) => Promise<void>) => {
  await run(Math.max(1_000, Math.floor(deliveries / 4)))
  const cpu = process.cpuUsage()
  const start = performance.now()
  await run(deliveries)
  const seconds = (performance.now() - start) / 1000
  const { system, user } = process.cpuUsage(cpu)
  return { rate: deliveries / seconds, cpu_us: (user + system) / deliveries }
}

/** `concurrency` loops sending until `deliveries` are sent: the baselines' pacing. */
const loops = (send: () => Promise<void>) => async (deliveries: number) => {
  let sent = 0
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (sent++ < deliveries) await send()
  }))
}

/** p50 and p99 of `samples` sequential calls, after a tenth as many to warm up. */
const latency = async (samples: number, once: () => Promise<unknown>) => {
  const times: Array<number> = []
  for (let i = -Math.ceil(samples / 10); i < samples; i++) {
    const start = performance.now()
    await once()
    if (i >= 0) times.push((performance.now() - start) * 1000)
  }
  return { p50: percentile(times, 50), p99: percentile(times, 99) }
}

/** A baseline: a throughput run of after:measure deliveries, then the latency of before:adjust. */
const baseline = async (
  settings: Settings,
  url: string,
  post: (url: string, delivery: Delivery) => () => Promise<void>,
  harness: (send: () => Promise<void>) => () => Promise<unknown>
): Promise<Measured> => ({
  throughput: await throughput(settings.deliveries, loops(post(url, afterMeasure))),
  latency: await latency(settings.latencySamples, harness(post(url, beforeAdjust)))
})

/** Ours with `hooks` webhooks on after:measure: a throughput run, then (with a before webhook) latency. */
const ours = async (
  settings: Settings,
  url: string,
  options: { readonly hooks: number; readonly stock?: boolean; readonly latency?: boolean }
): Promise<Measured> => {
  const servo = await import("./servo.js")
  const client = options.stock
    ? (await import("@effect/platform-node/NodeHttpClient")).layerUndici
    : (await import("../src/webhooks/UndiciHttpClient.js")).layer
  const hooks = Array.from({ length: options.hooks }, (_, i) => ({ name: `sink-${i}`, event: "after:measure" }))
  const gate = options.latency ? [{ name: "gate", event: "before:adjust" }] : []
  const runtime = servo.servo(url, [...hooks, ...gate], client, { workers: concurrency })
  try {
    // Every event is delivered `hooks` times, so the count is a whole number of events.
    const deliveries = Math.ceil(settings.deliveries / options.hooks) * options.hooks
    const measured = await throughput(
      deliveries,
      (count) => servo.pacedAfterMeasure(runtime, Math.ceil(count / options.hooks), options.hooks)
    )
    return {
      throughput: measured,
      ...(options.latency ? { latency: await latency(settings.latencySamples, servo.dispatchAdjust(runtime)) } : {})
    }
  } finally {
    await runtime.dispose()
  }
}

/** ns per `dispatch(describe)`, without the connector or with 50 webhooks on other events. */
const bus = async (settings: Settings, url: string, withWebhooks: boolean): Promise<Measured> => {
  const servo = await import("./servo.js")
  const otherEvents = ["before:adjust", "after:adjust", "after:measure", "before:measure", "after:check"]
  const runtime = withWebhooks
    ? servo.servo(
      url,
      Array.from({ length: 50 }, (_, i) => ({ name: `hook-${i}`, event: otherEvents[i % otherEvents.length]! })),
      (await import("../src/webhooks/UndiciHttpClient.js")).layer
    )
    : servo.busAlone()
  try {
    // Five batches after a warm-up one; the fastest is the least disturbed by other processes.
    const batch = Math.floor(settings.dispatches / 5)
    const batches: Array<number> = []
    for (let i = -1; i < 5; i++) {
      const ns = await servo.describeLoop(runtime, batch)
      if (i >= 0) batches.push(ns)
    }
    return { dispatch_ns: Math.min(...batches) }
  } finally {
    await runtime.dispose()
  }
}

const measure = async (name: Contender, url: string, settings: Settings): Promise<Measured> => {
  switch (name) {
    case "raw":
      return baseline(settings, url, rawPost, (send) => send)
    case "floor": {
      // The same harness as `dispatch(adjust)`: one `runPromise` per sample.
      const harness = ManagedRuntime.make(Layer.empty)
      try {
        return await baseline(settings, url, floorPost, (send) => () => harness.runPromise(Effect.promise(send)))
      } finally {
        await harness.dispose()
      }
    }
    case "ours":
      return ours(settings, url, { hooks: 1, latency: true })
    case "ours4":
      return ours(settings, url, { hooks: 4 })
    case "stock":
      return ours(settings, url, { hooks: 1, stock: true })
    case "bus":
      return bus(settings, url, false)
    case "bus+webhooks":
      return bus(settings, url, true)
  }
}

// Measures when run as a child; `run.ts` imports the names above.
if (process.argv[1]?.endsWith("contender.js")) {
  const [name, origin, settings] = process.argv.slice(2) as [Contender, string, string]
  const measured = await measure(name, `${origin}/hook`, JSON.parse(settings) as Settings)
  process.stdout.write(`${JSON.stringify(measured)}\n`)
}
