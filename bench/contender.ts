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
 * | ours-sqlite, ours-postgres | ours with the durable outbox (a temp SQLite file; a PostgreSQL schema of its own) | |
 * | recovered-sqlite | a restarted servo draining 10,000 rows left pending in a SQLite outbox | |
 * | bus, bus+webhooks | ns per `dispatch(describe)` without the connector / with 50 webhooks on other events (fastest of 5 batches) | |
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type * as OutboxStore from "../src/webhooks/OutboxStore.js"
import { percentile } from "./lib.js"
import { afterMeasure, beforeAdjust, concurrency, type Delivery, floorPost, rawPost } from "./wire.js"

export const contenders = [
  "raw",
  "floor",
  "ours",
  "ours4",
  "stock",
  "ours-sqlite",
  "ours-postgres",
  "recovered-sqlite",
  "bus",
  "bus+webhooks"
] as const
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
  options: {
    readonly hooks: number
    readonly stock?: boolean
    readonly latency?: boolean
    readonly store?: Layer.Layer<OutboxStore.OutboxStore, OutboxStore.OutboxStoreError>
  }
): Promise<Measured> => {
  const servo = await import("./servo.js")
  const client = options.stock
    ? (await import("@effect/platform-node/NodeHttpClient")).layerUndici
    : (await import("../src/webhooks/UndiciHttpClient.js")).layer
  const hooks = Array.from({ length: options.hooks }, (_, i) => ({ name: `sink-${i}`, event: "after:measure" }))
  const gate = options.latency ? [{ name: "gate", event: "before:adjust" }] : []
  const runtime = servo.servo(url, [...hooks, ...gate], client, { workers: concurrency }, options.store)
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

/** The durable stores, each of the contender's own: a temp SQLite file, a PostgreSQL schema. */
const durable = {
  sqlite: async (dir: string) =>
    (await import("../src/webhooks/SqlOutboxStore.js")).layerSqlite({
      path: path.join(dir, "outbox.db"),
      lease: "30 seconds",
      retention: "1 hour"
    }),
  postgres: async (schema: string) =>
    (await import("../src/webhooks/SqlOutboxStore.js")).layerPostgres({
      url: Redacted.make(postgresUrl),
      schema,
      lease: "30 seconds",
      retention: "1 hour"
    })
}
const postgresUrl = "postgres://postgres@127.0.0.1:5432/test"

/** Drops a schema the bench made (its rows are the bench's only). */
const dropSchema = async (schema: string) => {
  const [{ make }, Reactivity] = await Promise.all([import("@effect/sql-pg/PgClient"), import("@effect/experimental/Reactivity")])
  await Effect.runPromise(Effect.scoped(Effect.flatMap(
    make({ url: Redacted.make(postgresUrl) }).pipe(Effect.provideServiceEffect(Reactivity.Reactivity, Reactivity.make)),
    (sql) => sql`DROP SCHEMA IF EXISTS ${sql(schema)} CASCADE`
  )))
}

/**
 * Rows per second a restarted servo delivers from 10,000 left pending in a SQLite outbox: the
 * rows are enqueued through the store, then a servo starts on the file and drains them.
 */
const recovered = async (url: string): Promise<Measured> => {
  const servo = await import("./servo.js")
  const OutboxStore = await import("../src/webhooks/OutboxStore.js")
  const client = (await import("../src/webhooks/UndiciHttpClient.js")).layer
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "servo-bench-"))
  try {
    const store = await durable.sqlite(dir)
    const rows = 10_000
    const body = new TextEncoder().encode(JSON.stringify({ id: "msg", event: "after:measure", parameters: {}, results: [] }))
    await Effect.runPromise(Effect.scoped(Effect.flatMap(
      Layer.build(store),
      (context) =>
        Effect.flatMap(Effect.provide(OutboxStore.OutboxStore, context), (outbox) =>
          outbox.enqueue(Array.from({ length: rows }, (_, i) => ({
            id: `msg_recovered_${i}`,
            webhook: "sink-0",
            event: "after:measure",
            body,
            createdAt: Date.now(),
            deadline: Date.now() + 3_600_000
          }))))
    )))
    const cpu = process.cpuUsage()
    const start = performance.now()
    const runtime = servo.servo(url, [{ name: "sink-0", event: "after:measure" }], client, { workers: concurrency }, store)
    try {
      await servo.delivered(runtime, rows)
    } finally {
      await runtime.dispose()
    }
    const seconds = (performance.now() - start) / 1000
    const { system, user } = process.cpuUsage(cpu)
    return { throughput: { rate: rows / seconds, cpu_us: (user + system) / rows } }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
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
    case "ours-sqlite": {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "servo-bench-"))
      try {
        return await ours(settings, url, { hooks: 1, store: await durable.sqlite(dir) })
      } finally {
        fs.rmSync(dir, { recursive: true, force: true })
      }
    }
    case "ours-postgres": {
      const schema = `servo_bench_${process.pid}`
      try {
        return await ours(settings, url, { hooks: 1, store: await durable.postgres(schema) })
      } finally {
        await dropSchema(schema)
      }
    }
    case "recovered-sqlite":
      return recovered(url)
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
