/**
 * The durable outbox: one row per after delivery in SQLite (one machine) or PostgreSQL (shared
 * by many processes), through `@effect/sql`.
 *
 * A worker claims a due row by setting a lease on it (`lease_owner`, `lease_until`; in
 * PostgreSQL inside `SELECT … FOR UPDATE SKIP LOCKED`, so two processes never take the same
 * row). While attempts run, the store renews its leases every third of the lease; rows of a
 * process that died come back once their lease runs out. `enqueue` returns once the rows are
 * committed, and concurrent enqueues share one commit. Delivered rows are kept for `retention`
 * with their attempts, then purged; failed rows (dead letters) stay until resent or purged.
 *
 * The schema is versioned (`@effect/sql` Migrator, tables prefixed `servo_webhooks_`): a store
 * made by an older servo is upgraded in place, one made by a newer servo is refused untouched.
 *
 * @since 0.2.0
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as SqlClient from "@effect/sql/SqlClient"
import type * as SqlError from "@effect/sql/SqlError"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Queue from "effect/Queue"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import { randomUUID } from "node:crypto"
import { hostname } from "node:os"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import * as Migrations from "./internal/outboxMigrations.js"
import * as Rows from "./internal/outboxSql.js"
import * as OutboxStore from "./OutboxStore.js"

export interface Options {
  /** How long a claimed delivery belongs to this process without being renewed. */
  readonly lease: Duration.DurationInput
  /** How long delivered rows are kept for inspection. */
  readonly retention: Duration.DurationInput
  /** PostgreSQL: the schema the tables live in (default: the connection's search path). */
  readonly schema?: string | undefined
  /** How often an idle engine looks for rows other processes enqueued (default 1s). */
  readonly pollInterval?: Duration.DurationInput | undefined
  /** In error messages: which store (`sqlite ./outbox.db`, `postgres`). */
  readonly label?: string | undefined
  /** Cut out of every error message (a connection URL, its password). */
  readonly secrets?: ReadonlyArray<string> | undefined
  /**
   * The schema version to migrate to (default: the latest). Only tests set it, to make the store
   * an older servo would have made.
   * @internal
   */
  readonly schemaVersion?: number | undefined
}

/** A durable store: the engine's service and the operator's, over one set of tables. */
export interface SqlOutboxStore extends OutboxStore.Service, OutboxStore.Admin {
  /** This process's name on the rows it leases. */
  readonly owner: string
}

/** The largest INSERT: 500 rows of 13 columns stay under every driver's parameter limit. */
const insertChunk = 500
/** Enqueue calls one commit takes at most. */
const groupCommitLimit = 256
const defaultPollInterval = Duration.seconds(1)
/** How often delivered rows past their retention are purged, at most and at least. */
const purgeEveryAtMost = Duration.hours(1)
const purgeEveryAtLeast = Duration.seconds(1)

const schemaName = /^[a-z_][a-z0-9_]{0,62}$/

/**
 * Opens the outbox on the `SqlClient` in context: migrates its tables, then starts the group
 * committer, the lease renewer and the retention purge, all ending with the scope.
 */
export const make = (
  options: Options
): Effect.Effect<SqlOutboxStore, OutboxStore.OutboxStoreError, SqlClient.SqlClient | Scope.Scope> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const dialect = sql.onDialectOrElse({ pg: () => "postgres" as const, sqlite: () => "sqlite" as const, orElse: () => "sql" as const })
    const store = options.label ?? dialect
    const secrets = options.secrets ?? []
    const fail = (operation: string) => (error: unknown) =>
      new OutboxStore.OutboxStoreError({ store, operation, reason: Rows.describe(error, secrets) })
    const lease = Duration.toMillis(options.lease)
    const retention = Duration.toMillis(options.retention)
    const owner = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`
    if (options.schema !== undefined && !schemaName.test(options.schema)) {
      return yield* new OutboxStore.OutboxStoreError({
        store,
        operation: "open",
        reason: `schema name ${JSON.stringify(options.schema)} must be lower-case letters, digits and _`
      })
    }
    const t = Migrations.tables(options.schema)
    const d = sql(t.deliveries)
    const a = sql(t.attempts)
    const now = Effect.clockWith((clock) => clock.currentTimeMillis)

    // ---------------------------------------------------------------------------------------
    // Writes and transactions.
    // ---------------------------------------------------------------------------------------

    /**
     * SQLite has one writer per file: every write here first tells the connection it runs on to
     * wait for another process's lock (up to 5 s) rather than fail at once (set each time: the
     * driver's own transaction, which the Migrator uses, leaves a new connection behind), and
     * this store's writes go one at a time, so none slips into another's transaction. A lock
     * held longer fails the write with a clear error.
     */
    const sqliteWrites = yield* Effect.makeSemaphore(1)
    const waitForLocks = Effect.zipRight(
      sql.unsafe("PRAGMA busy_timeout = 5000"),
      // In WAL, NORMAL keeps every commit through a process crash (kill -9, OOM, eviction) and
      // syncs at checkpoints rather than per commit; only a power loss can take back the last ones.
      sql.unsafe("PRAGMA synchronous = NORMAL")
    )
    const writing = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | SqlError.SqlError, R> =>
      dialect === "sqlite" ? sqliteWrites.withPermits(1)(Effect.zipRight(waitForLocks, effect)) : effect

    /**
     * All or nothing. SQLite: BEGIN IMMEDIATE … COMMIT on the driver's one connection, inside
     * `writing`, since the driver's own transactions open a new connection each time (slow, and
     * without the lock wait set above).
     */
    const transaction = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | SqlError.SqlError, R> =>
      dialect !== "sqlite" ? sql.withTransaction(effect) : writing(Effect.uninterruptibleMask((restore) =>
        Effect.gen(function*() {
          yield* sql.unsafe("BEGIN IMMEDIATE")
          const rollback = Effect.ignore(sql.unsafe("ROLLBACK"))
          const done = yield* Effect.exit(restore(effect))
          if (Exit.isFailure(done)) return yield* Effect.zipRight(rollback, done)
          yield* sql.unsafe("COMMIT").pipe(Effect.tapError(() => rollback))
          return done.value
        })
      ))

    // ---------------------------------------------------------------------------------------
    // The schema: refuse a newer one untouched, else migrate. Processes starting together on
    // one PostgreSQL database take turns (an advisory lock), so only the first one migrates.
    // ---------------------------------------------------------------------------------------
    const target = options.schemaVersion ?? Migrations.latestVersion
    const prepare = Effect.gen(function*() {
      const found = yield* Migrations.currentVersion(t).pipe(Effect.mapError(fail("open")))
      if (found > Migrations.latestVersion) {
        return yield* new OutboxStore.OutboxStoreError({
          store,
          operation: "open",
          reason: `its schema is at version ${found}, made by a newer servo; this one knows versions up to ${Migrations.latestVersion}. ` +
            `Upgrade servo (nothing was changed)`
        })
      }
      if (options.schema !== undefined) {
        yield* sql`CREATE SCHEMA IF NOT EXISTS ${sql(options.schema)}`.pipe(Effect.mapError(fail("create its schema")))
      }
      const upgrade = fail(`upgrade its schema from version ${found} to ${target}`)
      yield* writing(Migrations.migrate(t, target)).pipe(
        Effect.mapError(upgrade),
        Effect.catchAllDefect((defect) => Effect.fail(upgrade(defect)))
      )
    })
    yield* dialect !== "postgres" ? prepare : Effect.scoped(Effect.gen(function*() {
      const connection = yield* sql.reserve
      const key = [`${Migrations.prefix}migrate:${options.schema ?? ""}`]
      yield* Effect.acquireRelease(
        connection.executeRaw("SELECT pg_advisory_lock(hashtext($1))", key),
        () => Effect.ignore(connection.executeRaw("SELECT pg_advisory_unlock(hashtext($1))", key))
      )
      yield* prepare
    })).pipe(Effect.catchTag("SqlError", (error) => Effect.fail(fail("open")(error))))

    // A read-only SQLite file opens and reads: write its header's version number back as it is,
    // so such a store is refused at start rather than at its first delivery. Then WAL, so that
    // readers (`servo webhooks deliveries`) never wait for a writer.
    if (dialect === "sqlite") {
      yield* writing(sql<{ readonly user_version: unknown }>`PRAGMA user_version`.pipe(
        Effect.flatMap((rows) => sql.unsafe(`PRAGMA user_version = ${Number(rows[0]?.user_version ?? 0)}`)),
        Effect.zipRight(sql`PRAGMA journal_mode = WAL`)
      )).pipe(Effect.mapError(fail("open for writing")))
    }

    // The webhooks this process delivers, learnt from its claims and enqueues: `pending` and
    // `close` count only theirs, since other processes' rows are not this one's to drain.
    const mine = new Set<string>()
    const mineOnly = () => mine.size === 0 ? sql.literal("1 = 1") : sql.in("webhook", [...mine])

    // ---------------------------------------------------------------------------------------
    // Enqueue: what arrives while one commit runs goes into the next, together.
    // ---------------------------------------------------------------------------------------
    interface Waiting {
      readonly jobs: ReadonlyArray<OutboxStore.NewJob>
      readonly done: Deferred.Deferred<number, OutboxStore.OutboxStoreError>
    }
    const intake = yield* Queue.unbounded<Waiting>()
    const insert = (jobs: ReadonlyArray<OutboxStore.NewJob>, at: number) =>
      Effect.forEach(chunks(jobs, insertChunk), (chunk) =>
        sql`INSERT INTO ${d} ${sql.insert(chunk.map((job) => Rows.newRow(job, at)))} ON CONFLICT (id) DO NOTHING`, { discard: true })
    // Once taken, a group is committed and answered even when the scope is closing.
    const commit = (group: ReadonlyArray<Waiting>) => Effect.gen(function*() {
      const jobs = group.flatMap((waiting) => waiting.jobs)
      const committed = yield* now.pipe(
        Effect.flatMap((at) => transaction(insert(jobs, at))),
        Effect.mapError(fail(`store ${jobs.length} after ${jobs.length === 1 ? "delivery" : "deliveries"}`)),
        Effect.exit
      )
      for (const waiting of group) {
        yield* Deferred.done(waiting.done, Exit.map(committed, () => waiting.jobs.length))
      }
    }).pipe(Effect.uninterruptible)
    const commitGroup = Effect.flatMap(Queue.takeBetween(intake, 1, groupCommitLimit), (group) => commit([...group]))
    yield* Effect.forkScoped(Effect.forever(commitGroup))
    yield* Effect.addFinalizer(() =>
      Effect.flatMap(Queue.takeAll(intake), (left) =>
        Effect.forEach(left, (waiting) =>
          Deferred.fail(waiting.done, new OutboxStore.OutboxStoreError({ store, operation: "store deliveries", reason: "the store is closed" })), { discard: true }))
    )

    const enqueue = (jobs: ReadonlyArray<OutboxStore.NewJob>) =>
      Effect.suspend(() => {
        if (jobs.length === 0) return Effect.succeed(0)
        for (const job of jobs) mine.add(job.webhook)
        const done = Deferred.unsafeMake<number, OutboxStore.OutboxStoreError>(undefined as never)
        return Queue.offer(intake, { jobs, done }).pipe(Effect.zipRight(Deferred.await(done)))
      })

    // ---------------------------------------------------------------------------------------
    // Claims: due rows nobody holds (or whose holder's lease ran out), oldest due first.
    // ---------------------------------------------------------------------------------------
    const skipLocked = sql.literal(dialect === "postgres" ? "FOR UPDATE SKIP LOCKED" : "")
    const claimFrom = (webhooks: ReadonlyArray<string>, limit: number, at: number) =>
      writing(sql<Rows.Row>`UPDATE ${d} SET lease_owner = ${owner}, lease_until = ${at + lease}
        WHERE id IN (
          SELECT id FROM ${d}
          WHERE status = 'pending' AND due_at <= ${at} AND (lease_until IS NULL OR lease_until <= ${at})
            AND ${sql.in("webhook", webhooks)}
          ORDER BY due_at LIMIT ${limit} ${skipLocked}
        )
        RETURNING id, webhook, event, body, attempts, created_at, due_at, deadline, last_error`).pipe(
        Effect.map((rows) => rows.map(Rows.toJob).sort((x, y) => x.dueAt - y.dueAt))
      )

    const claim = (request: OutboxStore.ClaimRequest) =>
      Effect.suspend(() => {
        for (const webhook of request.webhooks) mine.add(webhook)
        const open = request.webhooks.filter((webhook) => request.room(webhook) > 0)
        if (open.length === 0 || request.limit <= 0) return Effect.succeed<ReadonlyArray<OutboxStore.Job>>([])
        if (request.limit === 1) return claimFrom(open, 1, request.now)
        // More than one: each webhook up to its room, in turn, so none takes another's share.
        return Effect.gen(function*() {
          const claimed: Array<OutboxStore.Job> = []
          for (const webhook of open) {
            const left = request.limit - claimed.length
            if (left <= 0) break
            claimed.push(...(yield* claimFrom([webhook], Math.min(left, request.room(webhook)), request.now)))
          }
          return claimed
        })
      }).pipe(Effect.mapError(fail("claim due deliveries")))

    // ---------------------------------------------------------------------------------------
    // Outcomes: the attempt joins the history and the row moves on, in one transaction.
    // ---------------------------------------------------------------------------------------
    const recordAttempt = (id: string, attempt: OutboxStore.Attempt | undefined) =>
      attempt === undefined ? Effect.void : sql`INSERT INTO ${a} ${sql.insert(Rows.attemptRow(id, attempt))}`

    const complete = (job: OutboxStore.Job, attempt: OutboxStore.Attempt) =>
      Effect.flatMap(now, (at) =>
        transaction(Effect.zipRight(
          recordAttempt(job.id, attempt),
          // Delivered even when the lease was lost meanwhile: the receiver has it.
          sql`UPDATE ${d} SET status = 'delivered', attempts = ${attempt.number}, last_error = NULL,
            lease_owner = NULL, lease_until = NULL, updated_at = ${at}
            WHERE id = ${job.id} AND status = 'pending'`
        ))).pipe(Effect.asVoid, Effect.mapError(fail(`record delivery ${job.id} as delivered`)))

    const reschedule = (job: OutboxStore.Job, attempt: OutboxStore.Attempt, retry: OutboxStore.Retry) =>
      Effect.flatMap(now, (at) =>
        transaction(Effect.zipRight(
          recordAttempt(job.id, attempt),
          sql`UPDATE ${d} SET attempts = ${retry.attempts}, due_at = ${Math.round(retry.dueAt)}, last_error = ${retry.lastError},
            lease_owner = NULL, lease_until = NULL, updated_at = ${at}
            WHERE id = ${job.id} AND status = 'pending' AND lease_owner = ${owner}`
        ))).pipe(Effect.asVoid, Effect.mapError(fail(`reschedule delivery ${job.id}`)))

    const failJob = (job: OutboxStore.Job, attempt: OutboxStore.Attempt | undefined, reason: string) =>
      Effect.flatMap(now, (at) =>
        transaction(Effect.zipRight(
          recordAttempt(job.id, attempt),
          sql`UPDATE ${d} SET status = 'failed', attempts = ${attempt?.number ?? job.attempts}, last_error = ${reason},
            lease_owner = NULL, lease_until = NULL, updated_at = ${at}
            WHERE id = ${job.id} AND status = 'pending' AND lease_owner = ${owner}`
        ))).pipe(Effect.asVoid, Effect.mapError(fail(`record delivery ${job.id} as failed`)))

    // ---------------------------------------------------------------------------------------
    // Waking up, counting, closing.
    // ---------------------------------------------------------------------------------------
    const nextDueAfter = (at: number) =>
      Effect.all([
        sql<Rows.Row>`SELECT MIN(due_at) AS next FROM ${d}
          WHERE status = 'pending' AND due_at > ${at} AND (lease_until IS NULL OR lease_until <= ${at}) AND ${mineOnly()}`,
        // Another process's lease running out makes its row claimable then.
        sql<Rows.Row>`SELECT MIN(lease_until) AS next FROM ${d}
          WHERE status = 'pending' AND lease_until > ${at} AND lease_owner <> ${owner} AND ${mineOnly()}`
      ]).pipe(
        Effect.map(([due, leased]) => {
          const instants = [due[0]?.next, leased[0]?.next].filter((v) => v != null).map(Number)
          return instants.length === 0 ? undefined : Math.min(...instants)
        }),
        Effect.mapError(fail("find the next due delivery"))
      )

    const pending = Effect.suspend(() => sql<Rows.Row>`SELECT COUNT(*) AS n FROM ${d} WHERE status = 'pending' AND ${mineOnly()}`).pipe(
      Effect.map((rows) => Number(rows[0]?.n ?? 0)),
      Effect.mapError(fail("count pending deliveries"))
    )

    const close = Effect.suspend(() =>
      Effect.zipRight(
        writing(sql`UPDATE ${d} SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ${owner}`),
        mine.size === 0
          ? Effect.succeed<ReadonlyArray<Rows.Row>>([])
          : sql<Rows.Row>`SELECT webhook, COUNT(*) AS n FROM ${d} WHERE status = 'pending' AND ${mineOnly()} GROUP BY webhook`
      )
    ).pipe(
      Effect.map((rows): OutboxStore.Unfinished => new Map(rows.map((row) => [String(row.webhook), Number(row.n)]))),
      Effect.mapError(fail("give back its leases"))
    )

    // ---------------------------------------------------------------------------------------
    // Housekeeping fibers, on the Clock: lease renewal and the retention purge.
    // ---------------------------------------------------------------------------------------
    const renew = Effect.flatMap(now, (at) =>
      writing(sql`UPDATE ${d} SET lease_until = ${at + lease} WHERE lease_owner = ${owner} AND status = 'pending'`)).pipe(
        Effect.catchAll((error) => Effect.logWarning(`outbox leases not renewed: ${fail("renew leases")(error).message}`))
      )
    yield* Effect.forkScoped(Effect.forever(Effect.zipRight(Effect.sleep(Math.max(1, Math.floor(lease / 3))), renew)))

    const deleteFinished = (where: (at: number) => ReturnType<typeof sql.and>) =>
      Effect.flatMap(now, (at) =>
        transaction(Effect.zipRight(
          sql`DELETE FROM ${a} WHERE delivery_id IN (SELECT id FROM ${d} WHERE ${where(at)})`,
          sql<Rows.Row>`DELETE FROM ${d} WHERE ${where(at)} RETURNING id`
        )))
    const expire = deleteFinished((at) => sql.and([sql`status = 'delivered'`, sql`updated_at < ${at - retention}`])).pipe(
      Effect.catchAll((error) => Effect.logWarning(`outbox retention purge failed: ${fail("purge")(error).message}`))
    )
    const purgeEvery = Duration.clamp(Duration.millis(retention / 10), { minimum: purgeEveryAtLeast, maximum: purgeEveryAtMost })
    yield* Effect.forkScoped(Effect.forever(Effect.zipRight(Effect.sleep(purgeEvery), expire)))

    // ---------------------------------------------------------------------------------------
    // The operator's view.
    // ---------------------------------------------------------------------------------------
    const columns = sql.literal(Rows.summaryColumns.join(", "))
    const list = (filter: OutboxStore.ListFilter) =>
      Effect.suspend(() => {
        const status = filter.status ?? "pending"
        const clauses = [
          ...(status === "all" ? [] : [sql`status = ${status}`]),
          ...(filter.webhook === undefined ? [] : [sql`webhook = ${filter.webhook}`])
        ]
        const where = clauses.length === 0 ? sql.literal("") : sql`WHERE ${sql.and(clauses)}`
        return sql<Rows.Row>`SELECT ${columns} FROM ${d} ${where} ORDER BY created_at DESC, id DESC LIMIT ${filter.limit ?? 50}`
      }).pipe(Effect.map((rows) => rows.map(Rows.toSummary)), Effect.mapError(fail("list deliveries")))

    const show = (id: string) =>
      Effect.all([
        sql<Rows.Row>`SELECT ${columns}, body FROM ${d} WHERE id = ${id}`,
        sql<Rows.Row>`SELECT number, started_at, duration_ms, status, result FROM ${a} WHERE delivery_id = ${id} ORDER BY seq`
      ]).pipe(
        Effect.map(([rows, history]): OutboxStore.DeliveryDetail | undefined =>
          rows[0] === undefined
            ? undefined
            : { ...Rows.toSummary(rows[0]), body: Rows.bytes(rows[0].body), history: history.map(Rows.toAttempt) }
        ),
        Effect.mapError(fail(`show delivery ${id}`))
      )

    // A resend is a new delivery of the same id and body: due now, its attempts counted from
    // zero (the history keeps the earlier ones) and as long to succeed as the first time had.
    const resend = (request: OutboxStore.ResendRequest) =>
      Effect.flatMap(now, (at) => {
        const which = request._tag === "Ids"
          ? request.ids.length === 0 ? sql.literal("1 = 0") : sql.and([sql`status <> 'pending'`, sql.in("id", request.ids)])
          : sql.and([
            sql`status = 'failed'`,
            ...(request.webhook === undefined ? [] : [sql`webhook = ${request.webhook}`]),
            ...(request.since === undefined ? [] : [sql`updated_at >= ${request.since}`])
          ])
        return writing(sql<Rows.Row>`UPDATE ${d} SET status = 'pending', attempts = 0, due_at = ${at},
          deadline = ${at} + (deadline - created_at), lease_owner = NULL, lease_until = NULL, updated_at = ${at}
          WHERE ${which} RETURNING id`)
      }).pipe(Effect.map((rows) => rows.map((row) => String(row.id))), Effect.mapError(fail("resend deliveries")))

    const purge = (request: OutboxStore.PurgeRequest) =>
      deleteFinished(() =>
        sql.and([
          request.status === undefined ? sql`status <> 'pending'` : sql`status = ${request.status}`,
          sql`updated_at < ${request.before}`
        ])
      ).pipe(Effect.map((rows) => rows.length), Effect.mapError(fail("purge deliveries")))

    return {
      owner,
      durable: true,
      pollInterval: Duration.decode(options.pollInterval ?? defaultPollInterval),
      capacity: Number.MAX_SAFE_INTEGER,
      enqueue,
      claim,
      complete,
      reschedule,
      fail: failJob,
      nextDueAfter,
      pending,
      close,
      list,
      show,
      resend,
      purge
    }
  })

const chunks = <A>(items: ReadonlyArray<A>, size: number): Array<ReadonlyArray<A>> => {
  const out: Array<ReadonlyArray<A>> = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

const toContext = (store: SqlOutboxStore) =>
  Context.make(OutboxStore.OutboxStore, store).pipe(Context.add(OutboxStore.OutboxAdmin, store))

const provideReactivity = Effect.provideServiceEffect(Reactivity.Reactivity, Reactivity.make)

/**
 * The drivers load when a store of theirs opens, so a servo on the memory store (or on the other
 * database) never loads them.
 */
const driver = <A>(store: string, load: () => Promise<A>) =>
  Effect.tryPromise({
    try: load,
    catch: (cause) => new OutboxStore.OutboxStoreError({ store, operation: "load its driver", reason: Rows.describe(cause, []) })
  })

export interface SqliteOptions {
  /** The database file, made when missing. */
  readonly path: string
  readonly lease: Duration.DurationInput
  readonly retention: Duration.DurationInput
  /** @internal */
  readonly schemaVersion?: number | undefined
}

/** The outbox in an SQLite file (one machine; several processes may share the file). */
export const layerSqlite = (
  options: SqliteOptions
): Layer.Layer<OutboxStore.OutboxStore | OutboxStore.OutboxAdmin, OutboxStore.OutboxStoreError> =>
  Layer.scopedContext(Effect.gen(function*() {
    const label = `sqlite ${options.path}`
    // The driver throws when it cannot open the file (a missing directory): an error, not a crash.
    const LibsqlClient = yield* driver(label, () => import("@effect/sql-libsql/LibsqlClient"))
    const client = yield* provideReactivity(LibsqlClient.make({ url: pathToFileURL(path.resolve(options.path)).href })).pipe(
      Effect.catchAllDefect((defect) =>
        new OutboxStore.OutboxStoreError({ store: label, operation: "open", reason: Rows.describe(defect, []) })
      )
    )
    const store = yield* make({
      lease: options.lease,
      retention: options.retention,
      label,
      schemaVersion: options.schemaVersion
    }).pipe(Effect.provideService(SqlClient.SqlClient, client))
    return toContext(store)
  }))

export interface PostgresOptions {
  /** `postgres://user:password@host:5432/db`: a secret, never printed. */
  readonly url: Redacted.Redacted<string>
  readonly lease: Duration.DurationInput
  readonly retention: Duration.DurationInput
  /** The schema the tables live in, made when missing (default: the search path's). */
  readonly schema?: string | undefined
  /** Connections at most (default 10). */
  readonly maxConnections?: number | undefined
  /** @internal */
  readonly schemaVersion?: number | undefined
}

/** The outbox in PostgreSQL, shared by every servo and worker pointed at it. */
export const layerPostgres = (
  options: PostgresOptions
): Layer.Layer<OutboxStore.OutboxStore | OutboxStore.OutboxAdmin, OutboxStore.OutboxStoreError> =>
  Layer.scopedContext(Effect.gen(function*() {
    const secrets = Rows.urlSecrets(Redacted.value(options.url))
    const label = options.schema === undefined ? "postgres" : `postgres schema ${options.schema}`
    const PgClient = yield* driver(label, () => import("@effect/sql-pg/PgClient"))
    const client = yield* provideReactivity(PgClient.make({
      url: options.url,
      maxConnections: options.maxConnections,
      connectTimeout: Duration.seconds(10),
      applicationName: "servo-webhooks outbox"
    })).pipe(
      Effect.mapError((error) =>
        new OutboxStore.OutboxStoreError({ store: label, operation: "connect", reason: Rows.describe(error, secrets) })
      )
    )
    const store = yield* make({
      lease: options.lease,
      retention: options.retention,
      schema: options.schema,
      label,
      secrets,
      schemaVersion: options.schemaVersion
    }).pipe(Effect.provideService(SqlClient.SqlClient, client))
    return toContext(store)
  }))
