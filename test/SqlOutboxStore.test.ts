/**
 * The durable outbox on real databases: an SQLite file in a temp directory and the PostgreSQL
 * of the machine (127.0.0.1:5432, database `test`; `.ci/run` starts it), each test in a schema
 * of its own, dropped afterwards. No mock store.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqlClient from "@effect/sql/SqlClient"
import { afterAll, describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import { execFile, execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as CoreEvents from "../src/servo/CoreEvents.js"
import * as EventBus from "../src/servo/EventBus.js"
import * as OutboxStore from "../src/webhooks/OutboxStore.js"
import * as SqlOutboxStore from "../src/webhooks/SqlOutboxStore.js"
import { step } from "./support/clock.js"
import { eventually } from "./support/poll.js"
import { closedPort, ok, receiver } from "./support/receiver.js"
import { webhooksLayer } from "./support/servo.js"
import { dropSchemas, pgUrl, withPg } from "./support/postgres.js"

/** Every schema this file makes starts with this; afterAll drops what a failed test left. */
const schemaPrefix = `servo_test_sqlstore_${process.pid}_`
let schemas = 0
const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), "servo-sql-outbox-"))
let files = 0


afterAll(() =>
  Effect.runPromise(dropSchemas(schemaPrefix)).finally(() => fs.rmSync(tempDir, { recursive: true, force: true }))
)

const lease: Duration.DurationInput = "30 seconds"
const retention: Duration.DurationInput = "1 hour"

interface Dialect {
  readonly name: "sqlite" | "postgres"
  /** A new, empty place for a store: a file, or a schema dropped when the scope closes. */
  readonly place: Effect.Effect<string, never, Scope.Scope>
  readonly layer: (place: string, options?: { schemaVersion?: number; lease?: Duration.DurationInput }) => Layer.Layer<
    OutboxStore.OutboxStore | OutboxStore.OutboxAdmin,
    OutboxStore.OutboxStoreError
  >
  /** A raw SQL statement against the place, outside the store. */
  readonly raw: <A>(place: string, f: (sql: SqlClient.SqlClient, table: (name: string) => string) => Effect.Effect<A, unknown>) => Effect.Effect<A>
}

const sqlite: Dialect = {
  name: "sqlite",
  place: Effect.sync(() => path.join(tempDir, `outbox-${++files}.db`)),
  layer: (file, options = {}) =>
    SqlOutboxStore.layerSqlite({ path: file, lease: options.lease ?? lease, retention, schemaVersion: options.schemaVersion }),
  raw: (file, f) =>
    Effect.scoped(Effect.gen(function*() {
      const { make } = yield* Effect.promise(() => import("@effect/sql-libsql/LibsqlClient"))
      const client = yield* make({ url: `file:${file}` }).pipe(Effect.provideServiceEffect(Reactivity.Reactivity, Reactivity.make))
      return yield* f(client, (name) => `servo_webhooks_${name}`)
    })).pipe(Effect.orDie)
}

const postgres: Dialect = {
  name: "postgres",
  place: Effect.acquireRelease(
    Effect.sync(() => `${schemaPrefix}${++schemas}`),
    (schema) => withPg((sql) => sql`DROP SCHEMA IF EXISTS ${sql(schema)} CASCADE`).pipe(Effect.orDie)
  ),
  layer: (schema, options = {}) =>
    SqlOutboxStore.layerPostgres({
      url: Redacted.make(pgUrl),
      schema,
      lease: options.lease ?? lease,
      retention,
      schemaVersion: options.schemaVersion
    }),
  raw: (schema, f) => withPg((sql) => f(sql, (name) => `${schema}.servo_webhooks_${name}`)).pipe(Effect.orDie)
}

/** Opens a store in a scope of its own: closing that scope is the process ending. */
const open = (layer: Layer.Layer<OutboxStore.OutboxStore | OutboxStore.OutboxAdmin, OutboxStore.OutboxStoreError>) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(layer, scope)
    return {
      store: Context.get(context, OutboxStore.OutboxStore),
      admin: Context.get(context, OutboxStore.OutboxAdmin),
      end: Scope.close(scope, Exit.void)
    }
  })

const job = (id: string, webhook = "a", createdAt = 0): OutboxStore.NewJob => ({
  id,
  webhook,
  event: "after:measure",
  body: new TextEncoder().encode(`{"id":"${id}"}`),
  createdAt,
  deadline: createdAt + 3_600_000
})

const attempt = (number: number, startedAt: number, status: number | undefined, result: string): OutboxStore.Attempt => ({
  number,
  startedAt,
  durationMs: 12,
  status,
  result
})

const claimAll = (store: OutboxStore.Service, now: number, webhooks = ["a", "b"], limit = 10) =>
  store.claim({ limit, now, webhooks, room: () => 100 })

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)

for (const dialect of [sqlite, postgres]) {
  describe(`SqlOutboxStore (${dialect.name})`, () => {
    it.scoped("enqueue commits; claim hands out due rows once, oldest first, skipping webhooks with no room", () =>
      Effect.gen(function*() {
        const place = yield* dialect.place
        const { end, store } = yield* open(dialect.layer(place))
        expect(store.durable).toBe(true)
        expect(store.pollInterval).toBeDefined()
        expect(yield* store.enqueue([job("m1", "a", 0), job("m2", "b", 1), job("m3", "a", 2)])).toBe(3)
        expect(yield* store.pending).toBe(3)
        // What enqueue returned for is committed: another connection sees it.
        const seen = yield* dialect.raw(place, (sql, table) => sql`SELECT id FROM ${sql(table("deliveries"))} ORDER BY id`)
        expect(seen.map((row) => row.id)).toEqual(["m1", "m2", "m3"])

        const first = yield* store.claim({ limit: 1, now: 10, webhooks: ["a", "b"], room: () => 1 })
        expect(first.map((j) => j.id)).toEqual(["m1"])
        expect(text(first[0]!.body)).toBe(`{"id":"m1"}`)
        expect(first[0]).toMatchObject({ webhook: "a", event: "after:measure", attempts: 0, createdAt: 0, deadline: 3_600_000 })
        // `a` has no room: its due row waits, `b`'s comes out.
        const second = yield* store.claim({ limit: 5, now: 10, webhooks: ["a", "b"], room: (w) => w === "a" ? 0 : 1 })
        expect(second.map((j) => j.id)).toEqual(["m2"])
        // A held row is never handed out twice; a webhook this caller does not deliver is left.
        expect((yield* claimAll(store, 10, ["b"])).map((j) => j.id)).toEqual([])
        yield* end
      }))

    it.scoped("complete, reschedule and fail record the attempt; nextDueAfter and pending follow; close gives back leases", () =>
      Effect.gen(function*() {
        const place = yield* dialect.place
        const one = yield* open(dialect.layer(place))
        const { admin, store } = one
        yield* store.enqueue([job("d1"), job("r1"), job("f1"), job("w1", "b")])
        const claimed = yield* claimAll(store, 0, ["a"])
        expect(claimed.map((j) => j.id).sort()).toEqual(["d1", "f1", "r1"])
        const byId = (id: string) => claimed.find((j) => j.id === id)!

        yield* store.complete(byId("d1"), attempt(1, 5, 200, "delivered"))
        yield* store.reschedule(byId("r1"), attempt(1, 6, 503, "HTTP 503: busy"), {
          attempts: 1,
          dueAt: 5_000,
          lastError: "HTTP 503: busy",
          retryState: undefined
        })
        yield* store.fail(byId("f1"), attempt(1, 7, 400, "HTTP 400: no"), "HTTP 400: no")
        expect(yield* store.pending).toBe(2)
        expect(yield* store.nextDueAfter(100)).toBe(5_000)
        // Not due yet; then due, with its attempts and last error.
        expect(yield* claimAll(store, 100, ["a"])).toEqual([])
        const retried = yield* claimAll(store, 5_000, ["a"])
        expect(retried.map((j) => [j.id, j.attempts, j.lastError, j.dueAt])).toEqual([["r1", 1, "HTTP 503: busy", 5_000]])

        const delivered = (yield* admin.show("d1"))!
        expect(delivered).toMatchObject({ status: "delivered", attempts: 1, lastError: undefined, leaseUntil: undefined })
        expect(delivered.history).toEqual([attempt(1, 5, 200, "delivered")])
        expect(yield* admin.show("f1")).toMatchObject({ status: "failed", lastError: "HTTP 400: no" })

        // r1 is held; close gives it back (pending, not lost) and counts what is left per webhook.
        const left = yield* store.close
        expect(Object.fromEntries(left)).toEqual({ a: 1, b: 1 })
        expect((yield* admin.show("r1"))!.leaseUntil).toBeUndefined()
        yield* one.end
        // The next process takes it at once, as it does w1, which nobody had claimed.
        const two = yield* open(dialect.layer(place))
        expect((yield* claimAll(two.store, 5_000)).map((j) => j.id).sort()).toEqual(["r1", "w1"])
        yield* two.end
      }))

    it.scoped("a dead process's rows come back when its lease runs out, not before", () =>
      Effect.gen(function*() {
        const place = yield* dialect.place
        const dead = yield* open(dialect.layer(place))
        yield* dead.store.enqueue([job("x1")])
        expect((yield* claimAll(dead.store, 0)).map((j) => j.id)).toEqual(["x1"])
        // The process dies: no close, its lease renewer stops with it.
        yield* dead.end
        const next = yield* open(dialect.layer(place))
        expect(yield* claimAll(next.store, 29_999)).toEqual([])
        // The next wake-up the store asks for is when that lease runs out.
        expect(yield* next.store.nextDueAfter(1_000)).toBe(30_000)
        const back = yield* claimAll(next.store, 30_000)
        expect(back.map((j) => [j.id, text(j.body)])).toEqual([["x1", `{"id":"x1"}`]])
        yield* next.end
      }))

    it.scoped("a long attempt keeps its row: the store renews its leases every third of the lease", () =>
      Effect.gen(function*() {
        const place = yield* dialect.place
        const worker = yield* open(dialect.layer(place))
        yield* worker.store.enqueue([job("long")])
        expect((yield* claimAll(worker.store, 0)).map((j) => j.id)).toEqual(["long"])
        expect((yield* worker.admin.show("long"))!.leaseUntil).toBe(30_000)
        for (const at of [10_000, 20_000, 30_000, 40_000]) {
          yield* step("10 seconds")
          yield* eventually(`the lease renewed at ${at}`, worker.admin.show("long"), (d) => d?.leaseUntil === at + 30_000)
        }
        // Past the first lease by far, another process still cannot take it.
        const other = yield* open(dialect.layer(place))
        expect(yield* claimAll(other.store, 45_000)).toEqual([])
        yield* other.end
        yield* worker.end
      }))

    it.scoped("delivered rows are purged after the retention, by the clock; failed rows stay", () =>
      Effect.gen(function*() {
        const place = yield* dialect.place
        const { admin, end, store } = yield* open(dialect.layer(place, { lease: "2 hours" }))
        yield* store.enqueue([job("old"), job("dead")])
        const [x, y] = yield* claimAll(store, 0)
        const byId = (id: string) => [x!, y!].find((j) => j.id === id)!
        yield* store.complete(byId("old"), attempt(1, 0, 200, "delivered"))
        yield* store.fail(byId("dead"), attempt(1, 0, 400, "HTTP 400"), "HTTP 400")
        // The purge runs every tenth of the retention (6 minutes).
        for (let i = 0; i < 10; i++) yield* step("6 minutes")
        expect((yield* admin.list({ status: "all" })).map((d) => d.id).sort()).toEqual(["dead", "old"])
        yield* step("6 minutes")
        yield* eventually("the delivered row purged", admin.list({ status: "all" }), (rows) => rows.length === 1)
        expect((yield* admin.list({ status: "all" })).map((d) => d.id)).toEqual(["dead"])
        expect(yield* admin.show("old")).toBeUndefined()
        yield* end
      }))

    it.scoped("admin: list filters, show has body and history, resend keeps id and history, purge deletes finished rows", () =>
      Effect.gen(function*() {
        const place = yield* dialect.place
        const { admin, end, store } = yield* open(dialect.layer(place))
        yield* store.enqueue([job("p1", "a", 0), job("f1", "a", 1), job("f2", "b", 2), job("ok", "b", 3)])
        const claimed = yield* claimAll(store, 10)
        for (const j of claimed) {
          if (j.id === "f1" || j.id === "f2") yield* store.fail(j, attempt(1, 10, 400, "HTTP 400: bad"), "HTTP 400: bad")
          if (j.id === "ok") yield* store.complete(j, attempt(1, 10, 200, "delivered"))
          if (j.id === "p1") {
            yield* store.reschedule(j, attempt(1, 10, 503, "HTTP 503"), { attempts: 1, dueAt: 999_999, lastError: "HTTP 503", retryState: undefined })
          }
        }
        expect((yield* admin.list({})).map((d) => d.id)).toEqual(["p1"])
        expect((yield* admin.list({ status: "failed" })).map((d) => d.id)).toEqual(["f2", "f1"])
        expect((yield* admin.list({ status: "failed", webhook: "a" })).map((d) => d.id)).toEqual(["f1"])
        expect((yield* admin.list({ status: "all", limit: 2 })).map((d) => d.id)).toEqual(["ok", "f2"])
        const shown = (yield* admin.show("f1"))!
        expect(text(shown.body)).toBe(`{"id":"f1"}`)
        expect(shown.history).toEqual([attempt(1, 10, 400, "HTTP 400: bad")])
        expect(yield* admin.show("nope")).toBeUndefined()

        // Resend: an unknown or pending id is skipped; the failed one is due now, same id and body.
        yield* TestClock.setTime(50_000)
        expect(yield* admin.resend({ _tag: "Ids", ids: ["f1", "p1", "nope"] })).toEqual(["f1"])
        const again = yield* store.claim({ limit: 1, now: 50_000, webhooks: ["a"], room: () => 1 })
        expect(again.map((j) => [j.id, j.attempts, text(j.body), j.deadline])).toEqual([["f1", 0, `{"id":"f1"}`, 50_000 - 1 + 3_600_001]])
        yield* store.complete(again[0]!, attempt(1, 50_001, 200, "delivered"))
        expect((yield* admin.show("f1"))!.history.map((h) => h.result)).toEqual(["HTTP 400: bad", "delivered"])
        expect(yield* admin.resend({ _tag: "Failed", webhook: "a" })).toEqual([])
        expect(yield* admin.resend({ _tag: "Failed", since: 60_000 })).toEqual([])

        // Purge: finished before the instant; pending rows never.
        expect(yield* admin.purge({ before: 20_000, status: "delivered" })).toBe(1) // "ok"
        expect(yield* admin.purge({ before: 100_000 })).toBe(2) // f1 (delivered at 50s), f2 (failed)
        expect((yield* admin.list({ status: "all" })).map((d) => d.id)).toEqual(["p1"])
        const orphans = yield* dialect.raw(place, (sql, table) => sql`SELECT COUNT(*) AS n FROM ${sql(table("attempts"))} WHERE delivery_id <> 'p1'`)
        expect(Number(orphans[0]!.n)).toBe(0)
        yield* end
      }))

    it.scoped("a store made by the previous schema version is upgraded in place, its rows kept", () =>
      Effect.gen(function*() {
        const place = yield* dialect.place
        const old = yield* open(dialect.layer(place, { schemaVersion: 1 }))
        yield* old.store.enqueue([job("from-v1")])
        yield* old.end
        const before = yield* dialect.raw(place, (sql, table) => sql`SELECT migration_id FROM ${sql(table("migrations"))}`)
        expect(before.map((row) => Number(row.migration_id))).toEqual([1])

        const upgraded = yield* open(dialect.layer(place))
        const after = yield* dialect.raw(place, (sql, table) => sql`SELECT migration_id FROM ${sql(table("migrations"))} ORDER BY migration_id`)
        expect(after.map((row) => Number(row.migration_id))).toEqual([1, 2])
        const [claimed] = yield* claimAll(upgraded.store, 0)
        expect(claimed!.id).toBe("from-v1")
        // Version 2's attempt history works on the old row.
        yield* upgraded.store.complete(claimed!, attempt(1, 0, 200, "delivered"))
        expect((yield* upgraded.admin.show("from-v1"))!.history).toHaveLength(1)
        yield* upgraded.end
      }))

    it.scoped("a schema from a newer servo is refused with one clear error, nothing touched", () =>
      Effect.gen(function*() {
        const place = yield* dialect.place
        const first = yield* open(dialect.layer(place))
        yield* first.store.enqueue([job("keep")])
        yield* first.end
        yield* dialect.raw(place, (sql, table) => sql`INSERT INTO ${sql(table("migrations"))} (migration_id, name) VALUES (7, 'future')`)
        const refused = yield* Effect.flip(open(dialect.layer(place)))
        expect(refused._tag).toBe("OutboxStoreError")
        expect(refused.message).toMatch(/schema is at version 7, made by a newer servo; this one knows versions up to 2/)
        const rows = yield* dialect.raw(place, (sql, table) => sql`SELECT id, status FROM ${sql(table("deliveries"))}`)
        expect(rows).toEqual([{ id: "keep", status: "pending" }])
      }))

    it.scopedLive("the engine delivers through the store: one row, one attempt, the same webhook-id", () =>
      Effect.gen(function*() {
        const place = yield* dialect.place
        const server = yield* receiver(ok)
        const storeLayer = dialect.layer(place)
        const admin = yield* Effect.scoped(Effect.gen(function*() {
          const context = yield* Layer.build(
            webhooksLayer([{ name: "hook", event: "after:describe", target: server.url }]).pipe(Layer.provideMerge(storeLayer))
          )
          yield* EventBus.dispatch(CoreEvents.describe, {}).pipe(Effect.provide(context))
          yield* server.waitFor(1)
          const admin = Context.get(context, OutboxStore.OutboxAdmin)
          yield* eventually("the row delivered", admin.list({ status: "delivered" }), (rows) => rows.length === 1)
          return admin
        }))
        void admin
        const reopened = yield* open(storeLayer)
        const [row] = yield* reopened.admin.list({ status: "all" })
        expect(row).toMatchObject({ webhook: "hook", event: "after:describe", status: "delivered", attempts: 1 })
        expect(server.requests[0]!.headers["webhook-id"]).toBe(row!.id)
        const shown = (yield* reopened.admin.show(row!.id))!
        expect(shown.history).toHaveLength(1)
        expect(shown.history[0]).toMatchObject({ number: 1, status: 200, result: "delivered" })
        expect(text(shown.body)).toBe(server.requests[0]!.text)
        yield* reopened.end
      }))
  })
}

describe("SqlOutboxStore (postgres, shared by processes)", () => {
  it.scopedLive("two stores started together on one schema never claim the same row", () =>
    Effect.gen(function*() {
      const place = yield* postgres.place
      // Started together on an empty schema: they take turns to migrate, neither fails.
      const [one, two] = yield* Effect.all([open(postgres.layer(place)), open(postgres.layer(place))], { concurrency: 2 })
      const ids = Array.from({ length: 400 }, (_, i) => `c${String(i).padStart(4, "0")}`)
      yield* one.store.enqueue(ids.map((id) => job(id, id.endsWith("1") ? "b" : "a")))
      // Four claimers per store, each taking one row at a time until none is left.
      const claimer = (store: OutboxStore.Service) =>
        Effect.gen(function*() {
          const got: Array<string> = []
          for (;;) {
            const jobs = yield* store.claim({ limit: 1, now: 0, webhooks: ["a", "b"], room: () => 1000 })
            if (jobs.length === 0) return got
            got.push(jobs[0]!.id)
          }
        })
      const started = Date.now()
      const claimed = yield* Effect.all([one, one, one, one, two, two, two, two].map((s) => claimer(s.store)), { concurrency: "unbounded" })
      const millis = Date.now() - started
      const all = claimed.flat()
      expect(all.length).toBe(ids.length)
      expect(new Set(all).size).toBe(ids.length)
      expect(claimed.slice(0, 4).flat().length).toBeGreaterThan(0)
      expect(claimed.slice(4).flat().length).toBeGreaterThan(0)
      yield* Effect.logDebug(`claims/s ${Math.round(ids.length / (millis / 1000))}`)
      yield* one.end
      yield* two.end
    }))

  it.scoped("make over a SqlClient in context: concurrent enqueues share commits", () =>
    Effect.gen(function*() {
      const place = yield* postgres.place
      const client = yield* PgClient.make({ url: Redacted.make(pgUrl) }).pipe(Effect.provideServiceEffect(Reactivity.Reactivity, Reactivity.make))
      // The real client, its transactions counted.
      let transactions = 0
      const counting: SqlClient.SqlClient = Object.assign(
        (...args: Array<any>) => (client as any)(...args),
        client,
        {
          withTransaction: <A, E, R>(effect: Effect.Effect<A, E, R>) => {
            transactions++
            return client.withTransaction(effect)
          }
        }
      )
      const store = yield* SqlOutboxStore.make({ lease, retention, schema: place }).pipe(
        Effect.provideService(SqlClient.SqlClient, counting)
      )
      transactions = 0
      const taken = yield* Effect.all(
        Array.from({ length: 200 }, (_, i) => store.enqueue([job(`g${i}`)])),
        { concurrency: "unbounded" }
      )
      expect(taken.every((n) => n === 1)).toBe(true)
      expect(yield* store.pending).toBe(200)
      // 200 enqueues, far fewer commits: each takes what arrived while the one before ran.
      expect(transactions).toBeGreaterThan(0)
      expect(transactions).toBeLessThan(50)
    }))

  it.scoped("concurrent enqueues are all committed (sharing commits)", () =>
    Effect.gen(function*() {
      const place = yield* postgres.place
      const { end, store } = yield* open(postgres.layer(place))
      const taken = yield* Effect.all(
        Array.from({ length: 200 }, (_, i) => store.enqueue([job(`e${i}`), job(`e${i}-b`, "b")])),
        { concurrency: "unbounded" }
      )
      expect(taken.every((n) => n === 2)).toBe(true)
      const rows = yield* postgres.raw(place, (sql, table) => sql`SELECT COUNT(*) AS n FROM ${sql(table("deliveries"))}`)
      expect(Number(rows[0]!.n)).toBe(400)
      yield* end
    }))
})

describe("SqlOutboxStore (sqlite, processes sharing one file)", () => {
  /** Runs the helper process of test/support/sqliteOutboxProcess.ts (built to dist/ by the global setup). */
  const other = (...args: ReadonlyArray<string>) =>
    Effect.async<string, Error>((resume) => {
      const child = execFile(process.execPath, [path.resolve("dist/test/support/sqliteOutboxProcess.js"), ...args], (error, stdout, stderr) =>
        resume(error === null ? Effect.succeed(stdout) : Effect.fail(new Error(`${error.message}: ${stderr}`))))
      return Effect.sync(() => child.kill())
    })

  it.scopedLive("writers in several processes wait for each other's lock: every row committed, each claimed once", () =>
    Effect.gen(function*() {
      const file = yield* sqlite.place
      const here = yield* open(sqlite.layer(file))
      const enqueueHere = Effect.forEach(
        Array.from({ length: 6 }, (_, i) => Array.from({ length: 10 }, (_, j) => job(`h${i}-${j}`))),
        (batch) => here.store.enqueue(batch),
        { concurrency: "unbounded", discard: true }
      )
      yield* Effect.all([other("enqueue", file, "x", "60"), other("enqueue", file, "y", "60"), enqueueHere], { concurrency: "unbounded" })
      expect(yield* here.store.pending).toBe(180)

      const claimHere = Effect.gen(function*() {
        const got: Array<string> = []
        for (;;) {
          const jobs = yield* here.store.claim({ limit: 1, now: Date.now(), webhooks: ["a"], room: () => 1 })
          if (jobs.length === 0) return got
          got.push(jobs[0]!.id)
          yield* here.store.complete(jobs[0]!, attempt(1, 0, 200, "delivered"))
        }
      })
      const [x, y, h] = yield* Effect.all([other("claim", file), other("claim", file), claimHere], { concurrency: "unbounded" })
      const claimed = [...JSON.parse(x) as Array<string>, ...JSON.parse(y) as Array<string>, ...h]
      expect(claimed.length).toBe(180)
      expect(new Set(claimed).size).toBe(180)
      expect(yield* here.store.pending).toBe(0)
      yield* here.end
    }))
})

describe("SqlOutboxStore: bad input gives one clear error, nothing lost", () => {
  it.scoped("an unreachable PostgreSQL URL: the address, never the password", () =>
    Effect.gen(function*() {
      const port = yield* closedPort
      const refused = yield* Effect.flip(open(SqlOutboxStore.layerPostgres({
        url: Redacted.make(`postgres://servo:s3cret-pass@127.0.0.1:${port}/test`),
        lease,
        retention
      })))
      expect(refused._tag).toBe("OutboxStoreError")
      expect(refused.message).toMatch(/^outbox store \(postgres\) could not connect: nothing listens at the database address/)
      expect(refused.message).toContain(`127.0.0.1:${port}`)
      expect(refused.message).not.toContain("s3cret-pass")
      expect(refused.message.split("\n")).toHaveLength(1)
    }))

  it.scoped("a corrupt SQLite file is refused and left as it was", () =>
    Effect.gen(function*() {
      const file = yield* sqlite.place
      const garbage = Buffer.alloc(8192, "not a database, just bytes. ")
      fs.writeFileSync(file, garbage)
      const refused = yield* Effect.flip(open(sqlite.layer(file)))
      expect(refused._tag).toBe("OutboxStoreError")
      expect(refused.message).toMatch(/^outbox store \(sqlite .*\) could not open: the file is not an SQLite database/)
      expect(fs.readFileSync(file).equals(garbage)).toBe(true)
    }))

  it.scoped("an SQLite file in a directory that does not exist: an error, not a crash", () =>
    Effect.gen(function*() {
      const refused = yield* Effect.flip(open(sqlite.layer(path.join(tempDir, "missing", "outbox.db"))))
      expect(refused._tag).toBe("OutboxStoreError")
      expect(refused.message).toMatch(/could not open: the SQLite file cannot be opened \(does its directory exist/)
    }))

  it.scoped("a read-only SQLite file: one clear error, its pending rows kept", () =>
    Effect.gen(function*() {
      const file = yield* sqlite.place
      const first = yield* open(sqlite.layer(file))
      yield* first.store.enqueue([job("kept")])
      yield* first.end
      // Root ignores file modes: the immutable attribute makes the file read-only for it too.
      const root = process.getuid?.() === 0
      const readOnly = () => root ? execFileSync("chattr", ["+i", file]) : fs.chmodSync(file, 0o444)
      const writable = () => root ? execFileSync("chattr", ["-i", file]) : fs.chmodSync(file, 0o644)
      yield* Effect.acquireRelease(Effect.sync(readOnly), () => Effect.sync(writable))
      // Refused at start, not at its first delivery.
      const refused = yield* Effect.flip(open(sqlite.layer(file)))
      expect(refused.message).toMatch(/^outbox store \(sqlite .*\) could not open for writing: the SQLite file is read-only/)
      writable()
      const again = yield* open(sqlite.layer(file))
      expect((yield* again.admin.list({})).map((d) => d.id)).toEqual(["kept"])
      yield* again.end
    }))
})
