/**
 * Another process on an SQLite outbox, for the test of two processes sharing one file (both
 * in one process would share one thread, and SQLite's lock wait would block the holder too).
 *
 *   node dist/test/support/sqliteOutboxProcess.js enqueue FILE PREFIX COUNT
 *   node dist/test/support/sqliteOutboxProcess.js claim FILE
 *
 * `enqueue` stores COUNT deliveries, ten at a time and concurrently; `claim` takes and completes
 * due deliveries one at a time until none is left, then prints the ids it took as JSON.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as OutboxStore from "../../src/webhooks/OutboxStore.js"
import * as SqlOutboxStore from "../../src/webhooks/SqlOutboxStore.js"

const [mode, file, prefix = "", count = "0"] = process.argv.slice(2)

const job = (id: string): OutboxStore.NewJob => ({
  id,
  webhook: "a",
  event: "after:measure",
  body: new TextEncoder().encode(id),
  createdAt: 0,
  deadline: 3_600_000
})

const program = Effect.gen(function*() {
  const store = yield* OutboxStore.OutboxStore
  if (mode === "enqueue") {
    const batches = Array.from({ length: Number(count) / 10 }, (_, i) => Array.from({ length: 10 }, (_, j) => job(`${prefix}${i}-${j}`)))
    yield* Effect.forEach(batches, (batch) => store.enqueue(batch), { concurrency: "unbounded", discard: true })
    return
  }
  const claimed: Array<string> = []
  for (;;) {
    const jobs = yield* store.claim({ limit: 1, now: Date.now(), webhooks: ["a"], room: () => 1 })
    if (jobs.length === 0) break
    claimed.push(jobs[0]!.id)
    yield* store.complete(jobs[0]!, { number: 1, startedAt: 0, durationMs: 1, status: 200, result: "delivered" })
  }
  process.stdout.write(JSON.stringify(claimed))
})

const layer = SqlOutboxStore.layerSqlite({ path: file!, lease: "30 seconds", retention: "1 hour" })
Effect.runPromise(program.pipe(Effect.provide(Layer.orDie(layer)))).catch((error) => {
  process.stderr.write(`${String(error?.message ?? error)}\n`)
  process.exit(1)
})
