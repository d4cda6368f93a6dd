/**
 * Load (issue #5, item 4): 1,000 after-events a second for 3 seconds, paced in real time, through
 * `Webhooks.layer` and `UndiciHttpClient`, against a receiver that answers every 5th request
 * with a 503. At the end, read from the connector's metrics (`stats`), every delivery is
 * accounted for, and the receiver's own records agree, delivery by delivery. Then the heap is
 * back where it started: the queued payloads are gone.
 *
 * Real time throughout (`it.live`): 3 s of events, then the drain at scope close waits for what
 * is still queued and for the last retries (one retry, after exactly 1 s: the jitter is pinned).
 * Nothing is asserted about durations; the test prints them. The receiver runs in a process of
 * its own, so that the servo has this one to itself.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Random from "effect/Random"
import * as Schedule from "effect/Schedule"
import * as ChildProcess from "node:child_process"
import * as CoreEvents from "../src/servo/CoreEvents.js"
import * as EventBus from "../src/servo/EventBus.js"
import * as Metrics from "../src/webhooks/internal/metrics.js"
import * as UndiciHttpClient from "../src/webhooks/UndiciHttpClient.js"
import * as Webhooks from "../src/webhooks/Webhooks.js"
import { configs, uniqueName } from "./support/servo.js"

const eventsPerBatch = 50
const batches = 60 // one every 50 ms: 1,000 events/s for 3 s
const offered = eventsPerBatch * batches

/**
 * The receiver, in a process of its own (the servo under test keeps this one's CPU and heap to
 * itself): it reads and drops every body, answers every 5th request (counted across all) with a
 * 503 and the others with a 200, and keeps only the statuses it gave each delivery id.
 */
const receiverScript = `
const http = require("node:http")
const statuses = {}
let requests = 0
const server = http.createServer((request, response) => {
  request.resume()
  request.on("end", () => {
    const code = requests++ % 5 === 4 ? 503 : 200
    const id = String(request.headers["webhook-id"])
    ;(statuses[id] ??= []).push(code)
    response.writeHead(code, { "content-type": "text/plain" })
    response.end(code === 200 ? "ok" : "try later")
  })
})
process.on("message", () => process.send({ requests, statuses }))
process.on("disconnect", () => process.exit(0))
server.listen(0, "127.0.0.1", () => process.send({ port: server.address().port }))
`

interface Report {
  readonly requests: number
  readonly statuses: Record<string, Array<number>>
}

const loadReceiver = Effect.acquireRelease(
  Effect.async<ChildProcess.ChildProcess & { port: number }>((resume) => {
    const child = ChildProcess.spawn(process.execPath, ["-e", receiverScript], { stdio: ["ignore", "inherit", "inherit", "ipc"] })
    child.once("message", (message: { port: number }) => resume(Effect.succeed(Object.assign(child, { port: message.port }))))
    child.once("error", (error) => resume(Effect.die(error)))
  }),
  (child) =>
    Effect.async<void>((resume) => {
      if (child.exitCode !== null) return resume(Effect.void)
      child.once("exit", () => resume(Effect.void))
      child.disconnect()
    })
).pipe(Effect.map((child) => ({
  url: `http://127.0.0.1:${child.port}/hook`,
  report: Effect.async<Report>((resume) => {
    child.once("message", (report: Report) => resume(Effect.succeed(report)))
    child.send("report")
  })
})))

/**
 * `global.gc`, exposed by `--expose-gc` (vitest.config.ts), four passes with a turn of the event
 * loop between them: one pass may leave what finalizers only just released. The heap bound
 * below is read only after this, so it measures what is still reachable, not when GC ran.
 */
const collect = Effect.promise(async () => {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error("global.gc is not exposed: run this file with --expose-gc")
  for (let i = 0; i < 4; i++) {
    gc()
    await new Promise((resolve) => setImmediate(resolve))
  }
})

/**
 * The JS heap and the memory outside it that JS objects own: a delivery's body is a Uint8Array
 * whose bytes live outside `heapUsed`.
 */
const memory = Effect.zipRight(collect, Effect.sync(() => {
  const { external, heapUsed } = process.memoryUsage()
  return heapUsed + external
}))

const MiB = 1024 * 1024

/** No log output (a warning per failed delivery), but a count of the "delivery failed" lines. */
let failedLogged = 0
const countFailures = Logger.replace(
  Logger.defaultLogger,
  Logger.make(({ message }) => {
    if (String([message].flat()[0]).startsWith("delivery failed")) failedLogged++
  })
)

describe("Load", () => {
  it.live("1,000 after-events/s for 3 s, every 5th request a 503: every delivery accounted for, the heap back after the drain", () =>
    Effect.gen(function*() {
      const receiver = yield* loadReceiver
      // Each body is ~16 KB: the 3,000 payloads weigh ~48 MB, so a leak of the queue shows.
      const params = { metrics: ["x".repeat(16 * 1024)] }
      const name = uniqueName("load")
      const layer = Webhooks.layer(
        configs([{
          name: "load",
          event: "after:measure",
          target: receiver.url,
          secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
          // One retry, after 1 s (the schedule's first wait).
          backoff: { retries: 1, timeout: "30s" }
        }]),
        {
          name,
          // The default 16 attempts in flight: a delivery waiting out its backoff holds none
          // (with workers that slept through their backoff, this needed 512).
          // Ends as soon as the outbox is empty; the deadline is only a backstop, far beyond
          // what any machine needs (the test's own timeout is longer still).
          drainTimeout: "2 minutes"
        }
      ).pipe(Layer.provideMerge(EventBus.layer), Layer.provide(UndiciHttpClient.layer))

      const baseline = yield* memory
      const started = Date.now()
      let dispatched = 0
      let queued = 0
      let stats: Effect.Effect<Webhooks.Stats> = Effect.die("unset")
      yield* Effect.gen(function*() {
        stats = (yield* Webhooks.Webhooks).stats
        const batch = Effect.forEach(
          Array.from({ length: eventsPerBatch }),
          () => EventBus.dispatch(CoreEvents.measure, params),
          { discard: true }
        )
        yield* Effect.repeat(batch, Schedule.intersect(Schedule.fixed("50 millis"), Schedule.recurs(batches - 1)))
        dispatched = Date.now()
        queued = (yield* stats).after.pending
      }).pipe(Effect.provide(layer)) // closing the layer's scope drains the outbox
      const drained = Date.now()

      const { after } = yield* stats
      // First the premise of every identity below: the drain ended because the outbox was empty,
      // not because its deadline passed (a deadline far beyond any machine's drain).
      expect(after.abandoned, "deliveries were abandoned at the drain deadline: the outbox did not empty in time")
        .toBe(0)

      // Every delivery accounted for, from the connector's metrics.
      expect(after.pending).toBe(0)
      expect(after.delivered + after.failed + after.abandoned + after.overflowed).toBe(offered)
      expect(after.enqueued).toBe(after.delivered + after.cancelled + after.failed + after.abandoned)
      expect(after.enqueued + after.overflowed).toBe(offered)
      expect(after.cancelled).toBe(0)
      expect(failedLogged).toBe(after.failed)

      // The receiver agrees, delivery by delivery: a delivery it answered 200 once is delivered;
      // one it answered 503 twice failed (retries: 1). None got a 200 twice, none a third try.
      const report = yield* receiver.report
      const attempts = Object.values(report.statuses)
      expect(attempts.filter((codes) => codes.includes(200))).toHaveLength(after.delivered)
      expect(attempts.filter((codes) => codes.join() === "503,503")).toHaveLength(after.failed)
      expect(attempts.filter((codes) => codes.filter((code) => code === 200).length > 1)).toEqual([])
      expect(attempts.filter((codes) => codes.length > 2)).toEqual([])
      expect(attempts).toHaveLength(after.enqueued - after.abandoned)
      expect(yield* Metrics.count(Metrics.attemptsTotal, { connector: name, webhook: "load" })).toBe(report.requests)
      // The receiver's 503s are exactly every 5th request.
      expect(attempts.flat().filter((code) => code === 503)).toHaveLength(Math.floor(report.requests / 5))
      expect(after.delivered).toBeGreaterThan(0)

      // The heap is back: the outbox, its jobs and their bodies are gone.
      const growth = (yield* memory) - baseline
      expect(growth / MiB).toBeLessThan(20)
      // For the record (CI logs), never asserted: how long dispatching and the drain took here.
      console.log(`load: ${JSON.stringify({ ...after, requests: report.requests })}; dispatching took ${dispatched - started} ms, ${queued} pending at its end, drained in ${
        drained - dispatched
      } ms; heap+external growth ${(growth / MiB).toFixed(1)} MiB`)
    }).pipe(
      Effect.scoped,
      Effect.provide(countFailures),
      Effect.withRandom(Random.fixed([0.5]))
    ), 180_000)
})
