/**
 * The durable outbox's promises, proved on real stores (an SQLite file, PostgreSQL on
 * 127.0.0.1:5432 in a schema of this file's own) through the `servo` bin:
 *
 * - crash: `servo run` killed with SIGKILL while its deliveries are pending loses none of them;
 *   `servo webhooks worker --until-idle` delivers every one, duplicates bounded by what was in
 *   flight at the kill;
 * - shared: three workers on one PostgreSQL outbox deliver 10,000 deliveries exactly once, and
 *   one killed mid-run loses nothing (duplicates bounded by its leases);
 * - dead letters: listed with their reason, resent with the same webhook-id;
 * - bad input (an unreachable database, a corrupt, read-only or newer store): one clear line,
 *   exit 1, nothing lost.
 *
 * Every wait is on a printed line, a receiver's count or a process's exit, never a sleep.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import { afterAll, describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import * as OutboxStore from "../src/webhooks/OutboxStore.js"
import * as SqlOutboxStore from "../src/webhooks/SqlOutboxStore.js"
import { removeTempDirs, runServo, servo, spawnServoScoped, tempDir, writeConfig } from "./support/cli.js"
import { within } from "./support/poll.js"
import { closedPort, gate, type Received, receiver, status } from "./support/receiver.js"
import { dropSchemas, pgUrl, withPg } from "./support/postgres.js"

afterAll(removeTempDirs)

const schemaPrefix = `servo_test_outbox_durable_${process.pid}_`
let schemas = 0


afterAll(() =>
  Effect.runPromise(dropSchemas(schemaPrefix))
)

/** A schema of this file's own, dropped when the scope closes. */
const pgSchema = Effect.acquireRelease(
  Effect.sync(() => `${schemaPrefix}${++schemas}`),
  (schema) => withPg((sql) => sql`DROP SCHEMA IF EXISTS ${sql(schema)} CASCADE`).pipe(Effect.orDie)
)

/** Opens a store in the test (to fill or inspect it), closed with the scope. */
const openStore = (layer: Layer.Layer<OutboxStore.OutboxStore | OutboxStore.OutboxAdmin, OutboxStore.OutboxStoreError>) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(layer, scope)
    yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
    return { store: Context.get(context, OutboxStore.OutboxStore), admin: Context.get(context, OutboxStore.OutboxAdmin) }
  })

const job = (id: string, webhook: string, now: number): OutboxStore.NewJob => ({
  id,
  webhook,
  event: "after:measure",
  body: new TextEncoder().encode(JSON.stringify({ id, event: "after:measure" })),
  createdAt: now,
  deadline: now + 3_600_000
})

const idsOf = (requests: ReadonlyArray<Received>) => requests.map((request) => String(request.headers["webhook-id"]))

/** How many deliveries arrived more than once, and how many distinct ids arrived. */
const tally = (requests: ReadonlyArray<Received>) => {
  const ids = idsOf(requests)
  const unique = new Set(ids)
  return { unique, duplicates: ids.length - unique.size }
}

const promise = <A>(what: string, thunk: () => Promise<A>) => within(what, Effect.promise(thunk))

/** A config with one after webhook, named `name`, on the outbox given as YAML flow text. */
const outboxConfig = (options: {
  readonly outbox: string
  readonly name: string
  readonly target: string
  readonly events?: string
  readonly extra?: string
}) =>
  writeConfig(`name: outbox-test
simulator: { seed: 3, noise: 0 }
webhooks:
  outbox: ${options.outbox}
  hooks:
    - name: ${options.name}
      events: ${options.events ?? "[after:measure]"}
      target: ${options.target}
      backoff: { retries: 30, timeout: 1h }
${options.extra ?? ""}`)

describe("a durable outbox, through the servo bin", () => {
  it.scopedLive("crash: servo run killed with 200+ deliveries pending; a worker delivers every one", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const outbox = `{ store: sqlite, path: ${path.join(dir, "outbox.db")}, lease: 2s }`
      const refused = yield* closedPort
      const runConfig = outboxConfig({
        outbox,
        name: "crash_hook",
        target: `http://127.0.0.1:${refused}/hook`,
        events: "[after:describe, after:measure]"
      })
      const run = yield* spawnServoScoped(["run", "--cycles", "100000", "--config", runConfig])
      // The per-cycle line counts what is pending in the store: kill once it is 200 or more.
      yield* promise("200 pending", () => run.waitFor(/after 0 delivered, 0 failed, ([2-9]\d\d|\d{4,}) pending/))
      run.process.kill("SIGKILL")
      expect(yield* promise("the kill", () => run.exited)).toBe(null)

      const up = yield* receiver()
      const workerConfig = outboxConfig({ outbox, name: "crash_hook", target: up.url, events: "[after:describe, after:measure]" })
      const listed = yield* promise("deliveries list", () =>
        runServo(["webhooks", "deliveries", "list", "--status", "all", "--limit", "100000", "--json", "--config", workerConfig]))
      expect(listed.code, listed.stderr).toBe(0)
      const rows: ReadonlyArray<{ id: string; status: string; lease_until: string | null }> = JSON.parse(listed.stdout)
      expect(rows.length).toBeGreaterThanOrEqual(200)
      expect(rows.every((row) => row.status === "pending")).toBe(true)
      // Attempts in flight at the kill hold a lease: those, and only those, may arrive twice.
      const inFlight = rows.filter((row) => row.lease_until !== null).length

      const worker = yield* promise("the worker", () => runServo(["webhooks", "worker", "--until-idle", "--config", workerConfig]))
      expect(worker.code, worker.stderr).toBe(0)
      const { duplicates, unique } = tally(up.requests)
      for (const row of rows) expect(unique.has(row.id), row.id).toBe(true)
      expect(unique.size).toBe(rows.length)
      expect(duplicates).toBeLessThanOrEqual(inFlight)
      expect(worker.stdout).toContain(`worker: ${up.requests.length} delivered, 0 failed, 0 left pending`)
    }), { timeout: 120_000 })

  it.scopedLive("shared: 3 workers on one PostgreSQL outbox deliver 10,000 exactly once; one killed mid-run loses nothing", () =>
    Effect.gen(function*() {
      const schema = yield* pgSchema
      const total = 10_000
      const { admin, store } = yield* openStore(SqlOutboxStore.layerPostgres({
        url: Redacted.make(pgUrl),
        schema,
        lease: "2 seconds",
        retention: "1 hour"
      }))
      const now = Date.now()
      const ids = Array.from({ length: total }, (_, i) => `shared_${i}`)
      expect(yield* store.enqueue(ids.map((id) => job(id, "shared_hook", now)))).toBe(total)

      const up = yield* receiver()
      const config = outboxConfig({ outbox: "{ store: postgres, url: { env: SERVO_OUTBOX_URL }, lease: 2s }", name: "shared_hook", target: up.url })
      // The workers find the test's schema through the connection's search_path.
      const env = { SERVO_OUTBOX_URL: `${pgUrl}?options=${encodeURIComponent(`-c search_path=${schema}`)}` }
      const workers = yield* Effect.forEach([0, 1, 2], () =>
        spawnServoScoped(["webhooks", "worker", "--until-idle", "--workers", "16", "--config", config], { env }))
      yield* Effect.forEach(workers, (worker) => promise("a worker's start", () => worker.waitFor(/^worker: 1 webhook, outbox postgres/m)))
      // Progress in steps, each under the hang guard, however long the whole takes on this machine.
      const delivering = (from: number, to: number) =>
        Effect.forEach(Array.from({ length: Math.ceil((to - from) / 500) }, (_, i) => Math.min(to, from + (i + 1) * 500)), (count) =>
          within(`${count} deliveries`, up.waitFor(count)), { discard: true })
      yield* delivering(0, 1_500)
      workers[0]!.process.kill("SIGKILL")
      yield* delivering(up.requests.length, total)
      const codes = yield* promise("the other workers", () => Promise.all([workers[1]!.exited, workers[2]!.exited]))
      expect(codes, workers[1]!.stderr() + workers[2]!.stderr()).toEqual([0, 0])

      const { duplicates, unique } = tally(up.requests)
      expect(unique.size).toBe(total)
      for (const id of ids) expect(unique.has(id)).toBe(true)
      // Only the killed worker's leases (16 attempts at most) can arrive twice.
      expect(duplicates).toBeLessThanOrEqual(16)
      expect((yield* admin.list({ status: "pending", limit: total })).length).toBe(0)
      expect((yield* admin.list({ status: "delivered", limit: total + 1 })).length).toBe(total)
      // The survivors' summaries add up to what they delivered.
      const delivered = workers.slice(1).map((worker) => Number(/worker: (\d+) delivered, 0 failed, 0 left pending/.exec(worker.stdout())![1]))
      expect(delivered[0]! + delivered[1]!).toBeGreaterThan(0)
      expect(delivered[0]! + delivered[1]!).toBeLessThanOrEqual(up.requests.length)
    }), { timeout: 600_000 })

  it.scopedLive("dead letters: a 400 is listed with its reason; resent once the receiver is fixed, with the same id", () =>
    Effect.gen(function*() {
      let answer = 400
      const up = yield* receiver((request, response, index) => status(answer, {}, answer === 400 ? "bad payload" : "")(request, response, index))
      const config = outboxConfig({ outbox: `{ store: sqlite, path: ${path.join(tempDir(), "outbox.db")} }`, name: "letters", target: up.url })
      const ran = yield* servo("run", "--cycles", "1", "--config", config)
      expect(ran.code, ran.stderr.join("\n")).toBe(0)
      expect(ran.stdout.at(-1)).toMatch(/after 0 delivered, 1 failed, .* 0 left pending/)

      const failed = yield* servo("webhooks", "deliveries", "list", "--status", "failed", "--json", "--config", config)
      expect(failed.code).toBe(0)
      const letters = JSON.parse(failed.stdout.join("\n"))
      expect(letters).toHaveLength(1)
      expect(letters[0]).toMatchObject({ webhook: "letters", event: "after:measure", status: "failed", attempts: 1 })
      expect(letters[0].last_error).toMatch(/400/)
      const id: string = letters[0].id
      expect(idsOf(up.requests)).toEqual([id])

      const shown = yield* servo("webhooks", "deliveries", "show", id, "--config", config)
      expect(shown.stdout.join("\n")).toMatch(/1\s+\S+\s+400\s+/)

      answer = 204
      expect(yield* servo("webhooks", "deliveries", "resend", id, "--config", config)).toMatchObject({
        code: 0,
        stdout: [`resent 1 delivery: ${id}`]
      })
      const worker = yield* servo("webhooks", "worker", "--until-idle", "--config", config)
      expect(worker.code, worker.stderr.join("\n")).toBe(0)
      expect(worker.stdout.at(-1)).toBe("worker: 1 delivered, 0 failed, 0 left pending")
      expect(idsOf(up.requests)).toEqual([id, id])
      const delivered = JSON.parse((yield* servo("webhooks", "deliveries", "show", id, "--json", "--config", config)).stdout.join("\n"))
      expect(delivered).toMatchObject({ id, status: "delivered" })
      // The history keeps the attempt before the resend.
      expect(delivered.history.map((attempt: { status: number }) => attempt.status)).toEqual([400, 204])
    }))

  it.scopedLive("servo run's summary counts what shutdown leaves in a durable store as left pending, not abandoned", () =>
    Effect.gen(function*() {
      const refused = yield* closedPort
      const config = outboxConfig({
        outbox: `{ store: sqlite, path: ${path.join(tempDir(), "outbox.db")} }`,
        name: "left",
        target: `http://127.0.0.1:${refused}/hook`
      })
      const ran = yield* servo("run", "--cycles", "1", "--config", config)
      expect(ran.code, ran.stderr.join("\n")).toBe(0)
      expect(ran.stdout.at(-1)).toBe(
        "webhooks: before 0 delivered, 0 cancelled, 0 failed · after 0 delivered, 0 failed, 0 cancelled, 0 abandoned, 1 left pending, 0 overflowed"
      )
      expect(ran.stderr.join("\n")).toMatch(/shutdown: 1 after delivery left pending in the store .*: left 1/)
      const listed = yield* servo("webhooks", "deliveries", "list", "--json", "--config", config)
      expect(JSON.parse(listed.stdout.join("\n"))).toMatchObject([{ webhook: "left", status: "pending" }])
    }))

  it.scopedLive("worker: SIGTERM drains; what the drain deadline cuts stays pending, and the summary says so", () =>
    Effect.gen(function*() {
      const file = path.join(tempDir(), "outbox.db")
      yield* Effect.scoped(Effect.gen(function*() {
        const { store } = yield* openStore(SqlOutboxStore.layerSqlite({ path: file, lease: "30 seconds", retention: "1 hour" }))
        const now = Date.now()
        yield* store.enqueue(["held_1", "held_2", "held_3"].map((id) => job(id, "held", now)))
      }))
      const held = gate()
      const up = yield* receiver(held.responder)
      const config = outboxConfig({ outbox: `{ store: sqlite, path: ${file} }`, name: "held", target: up.url })
      const worker = yield* spawnServoScoped(["webhooks", "worker", "--drain-timeout", "1s", "--config", config])
      yield* promise("the worker's start", () => worker.waitFor(/^worker: 1 webhook, outbox sqlite/m))
      // Every attempt is in flight, its answer held.
      yield* within("3 attempts", up.waitFor(3))
      worker.process.kill("SIGTERM")
      expect(yield* promise("the worker's exit", () => worker.exited)).toBe(0)
      expect(worker.stdout()).toContain("worker: 0 delivered, 0 failed, 3 left pending")
      expect(worker.stderr()).toMatch(/shutdown: 3 after deliveries left pending in the store after the 1s drain deadline: held 3/)
      // Left pending, leases given back: the next worker delivers them at once.
      held.open()
      const next = yield* promise("the next worker", () => runServo(["webhooks", "worker", "--until-idle", "--config", config]))
      expect(next.stdout).toContain("worker: 3 delivered, 0 failed, 0 left pending")
      expect(tally(up.requests).unique).toEqual(new Set(["held_1", "held_2", "held_3"]))
    }))

  it.scopedLive("the memory store: worker and deliveries say there is nothing persistent, one line, exit 1", () =>
    Effect.gen(function*() {
      const config = writeConfig(`webhooks:\n  - { event: after:measure, target: http://127.0.0.1:9/hook }\n`)
      const worker = yield* servo("webhooks", "worker", "--until-idle", "--config", config)
      expect(worker.code).toBe(1)
      expect(worker.stderr).toEqual([
        `error: ${config}: the outbox is in memory, inside each servo process; workers need a durable one (webhooks.outbox.store: sqlite or postgres)`
      ])
      for (const args of [["list"], ["show", "msg_x"], ["resend", "msg_x"], ["purge", "--older-than", "7d"]]) {
        const ran = yield* servo("webhooks", "deliveries", ...args, "--config", config)
        expect(ran.code).toBe(1)
        expect(ran.stderr).toHaveLength(1)
        expect(ran.stderr[0]).toMatch(/the outbox is in memory .*nothing persistent to read/)
      }
    }))
})

describe("a durable outbox that cannot be used: one clear line, exit 1, nothing lost", () => {
  /** `servo run` and `servo webhooks worker` on `config`: each fails with one line matching `reason`. */
  const refusedByBoth = (config: string, reason: RegExp) =>
    Effect.gen(function*() {
      for (const args of [["run", "--cycles", "1"], ["webhooks", "worker", "--until-idle"]]) {
        const ran = yield* servo(...args, "--config", config)
        expect(ran.code, args.join(" ")).toBe(1)
        expect(ran.stderr, args.join(" ")).toHaveLength(1)
        expect(ran.stderr[0]).toMatch(reason)
      }
    })

  it.scopedLive("an unreachable database", () =>
    Effect.gen(function*() {
      const port = yield* closedPort
      const config = outboxConfig({
        outbox: `{ store: postgres, url: "postgres://servo:s3cret-pass@127.0.0.1:${port}/test" }`,
        name: "unreachable",
        target: "http://127.0.0.1:9/hook"
      })
      yield* refusedByBoth(config, /^error: .*outbox store \(postgres\) could not connect: /)
      const ran = yield* servo("run", "--cycles", "1", "--config", config)
      expect(ran.stderr.join("\n")).not.toContain("s3cret-pass")
    }))

  it.scopedLive("a corrupt SQLite file, left as it was", () =>
    Effect.gen(function*() {
      const file = path.join(tempDir(), "outbox.db")
      const garbage = Buffer.alloc(8192, "not a database, just bytes. ")
      fs.writeFileSync(file, garbage)
      const config = outboxConfig({ outbox: `{ store: sqlite, path: ${file} }`, name: "corrupt", target: "http://127.0.0.1:9/hook" })
      yield* refusedByBoth(config, /^error: .*outbox store \(sqlite .*\) could not open: the file is not an SQLite database/)
      expect(fs.readFileSync(file).equals(garbage)).toBe(true)
    }))

  it.scopedLive("a read-only SQLite file, its pending deliveries kept", () =>
    Effect.gen(function*() {
      const file = path.join(tempDir(), "outbox.db")
      yield* Effect.scoped(Effect.gen(function*() {
        const { store } = yield* openStore(SqlOutboxStore.layerSqlite({ path: file, lease: "30 seconds", retention: "1 hour" }))
        yield* store.enqueue([job("kept", "readonly", Date.now())])
      }))
      // Root ignores file modes: the immutable attribute makes the file read-only for it too.
      const root = process.getuid?.() === 0
      const readOnly = () => root ? execFileSync("chattr", ["+i", file]) : fs.chmodSync(file, 0o444)
      const writable = () => root ? execFileSync("chattr", ["-i", file]) : fs.chmodSync(file, 0o644)
      yield* Effect.acquireRelease(Effect.sync(readOnly), () => Effect.sync(writable))
      const config = outboxConfig({ outbox: `{ store: sqlite, path: ${file} }`, name: "readonly", target: "http://127.0.0.1:9/hook" })
      yield* refusedByBoth(config, /^error: .*outbox store \(sqlite .*\) could not open for writing: the SQLite file is read-only/)
      writable()
      const listed = yield* servo("webhooks", "deliveries", "list", "--json", "--config", config)
      expect(JSON.parse(listed.stdout.join("\n")).map((row: { id: string }) => row.id)).toEqual(["kept"])
    }))

  it.scopedLive("a store made by a newer servo, untouched", () =>
    Effect.gen(function*() {
      const file = path.join(tempDir(), "outbox.db")
      yield* Effect.scoped(Effect.gen(function*() {
        const { store } = yield* openStore(SqlOutboxStore.layerSqlite({ path: file, lease: "30 seconds", retention: "1 hour" }))
        yield* store.enqueue([job("kept", "newer", Date.now())])
      }))
      yield* Effect.scoped(Effect.gen(function*() {
        const { make } = yield* Effect.promise(() => import("@effect/sql-libsql/LibsqlClient"))
        const sql = yield* make({ url: `file:${file}` }).pipe(Effect.provideServiceEffect(Reactivity.Reactivity, Reactivity.make))
        yield* sql`INSERT INTO servo_webhooks_migrations (migration_id, name) VALUES (7, 'future')`
      })).pipe(Effect.orDie)
      const config = outboxConfig({ outbox: `{ store: sqlite, path: ${file} }`, name: "newer", target: "http://127.0.0.1:9/hook" })
      yield* refusedByBoth(config, /^error: .*schema is at version 7, made by a newer servo/)
      // Nothing lost: the pending delivery is still there for a servo that knows the schema.
      const rows = yield* Effect.scoped(Effect.gen(function*() {
        const { make } = yield* Effect.promise(() => import("@effect/sql-libsql/LibsqlClient"))
        const sql = yield* make({ url: `file:${file}` }).pipe(Effect.provideServiceEffect(Reactivity.Reactivity, Reactivity.make))
        return yield* sql`SELECT id, status FROM servo_webhooks_deliveries`
      })).pipe(Effect.orDie)
      expect(rows).toEqual([{ id: "kept", status: "pending" }])
    }))
})
