/**
 * The schema of the SQL outbox, as versioned migrations for the `@effect/sql` Migrator.
 *
 * A migration is never edited once released: a change is a new migration with the next id, so a
 * store made by an older servo is upgraded in place. The same statements serve SQLite and
 * PostgreSQL except where a type differs (bytes, an auto-numbered key).
 */
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"

/** Every table and index of the outbox starts with this, so it can share a database. */
export const prefix = "servo_webhooks_"

export interface Tables {
  /** Qualified by the schema when there is one (`schema.servo_webhooks_deliveries`). */
  readonly deliveries: string
  readonly attempts: string
  readonly migrations: string
}

export const tables = (schema: string | undefined): Tables => {
  const qualify = (name: string) => schema === undefined ? `${prefix}${name}` : `${schema}.${prefix}${name}`
  return { deliveries: qualify("deliveries"), attempts: qualify("attempts"), migrations: qualify("migrations") }
}

type Migration = Effect.Effect<void, unknown, SqlClient.SqlClient>

/** 1: one row per delivery, and the partial index the claim reads (due rows only). */
const deliveries = (t: Tables): Migration =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const bytes = sql.onDialectOrElse({ pg: () => "bytea", orElse: () => "BLOB" })
    yield* sql`CREATE TABLE ${sql(t.deliveries)} (
      id text PRIMARY KEY,
      webhook text NOT NULL,
      event text NOT NULL,
      body ${sql.literal(bytes)} NOT NULL,
      status text NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
      attempts integer NOT NULL DEFAULT 0,
      created_at bigint NOT NULL,
      due_at bigint NOT NULL,
      deadline bigint NOT NULL,
      lease_until bigint,
      lease_owner text,
      last_error text,
      updated_at bigint NOT NULL
    )`
    yield* sql`CREATE INDEX ${sql(`${prefix}deliveries_due`)} ON ${sql(t.deliveries)} (due_at) WHERE status = 'pending'`
  })

/**
 * 2: the attempt history (`deliveries show`), and the indexes retention, purge and lease renewal
 * read. An attempt row is numbered by its own key, since a resend starts counting attempts again.
 */
const attempts = (t: Tables): Migration =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const key = sql.onDialectOrElse({ pg: () => "bigserial PRIMARY KEY", orElse: () => "INTEGER PRIMARY KEY" })
    yield* sql`CREATE TABLE ${sql(t.attempts)} (
      seq ${sql.literal(key)},
      delivery_id text NOT NULL,
      number integer NOT NULL,
      started_at bigint NOT NULL,
      duration_ms bigint NOT NULL,
      status integer,
      result text NOT NULL
    )`
    yield* sql`CREATE INDEX ${sql(`${prefix}attempts_delivery`)} ON ${sql(t.attempts)} (delivery_id, seq)`
    yield* sql`CREATE INDEX ${sql(`${prefix}deliveries_finished`)} ON ${sql(t.deliveries)} (updated_at) WHERE status <> 'pending'`
    yield* sql`CREATE INDEX ${sql(`${prefix}deliveries_leased`)} ON ${sql(t.deliveries)} (lease_owner) WHERE lease_owner IS NOT NULL`
  })

const all = [["deliveries", deliveries], ["attempts", attempts]] as const

/** The newest schema version this code knows. */
export const latestVersion = all.length

/** The migrations up to `version` (all by default: tests stop earlier to make an old store). */
export const loader = (t: Tables, version: number = latestVersion): Migrator.Loader =>
  Migrator.fromRecord(Object.fromEntries(
    all.slice(0, version).map(([name, migration], i) => [`${i + 1}_${name}`, migration(t)])
  ))

/**
 * The version a store is at (0: no outbox yet), read without creating or locking anything, so a
 * schema newer than this code can be refused before anything is touched.
 */
export const currentVersion = (t: Tables): Effect.Effect<number, unknown, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const exists = yield* sql.onDialectOrElse({
      pg: () => Effect.map(sql<{ readonly found: unknown }>`SELECT to_regclass(${t.migrations}) AS found`, (rows) => rows[0]?.found != null),
      orElse: () =>
        Effect.map(
          sql`SELECT name FROM sqlite_master WHERE type = 'table' AND name = ${t.migrations}`,
          (rows) => rows.length > 0
        )
    })
    if (!exists) return 0
    const rows = yield* sql<{ readonly version: unknown }>`SELECT MAX(migration_id) AS version FROM ${sql(t.migrations)}`
    return Number(rows[0]?.version ?? 0)
  })

/** Brings the store to `version` (the latest by default) in one transaction. */
export const migrate = (t: Tables, version?: number) =>
  Migrator.make({})({ loader: loader(t, version), table: t.migrations })
