/**
 * The machine's PostgreSQL for tests (127.0.0.1:5432, trust auth, database `test`; `.ci/run`
 * starts it when it is down): a raw client for what the stores do not offer (making, dropping and
 * forging schemas), and the clean-up that drops every schema a test file made.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as PgClient from "@effect/sql-pg/PgClient"
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"

export const pgUrl = "postgres://postgres@127.0.0.1:5432/test"

/** Runs `f` with a raw client, closed afterwards. */
export const withPg = <A, E>(f: (sql: SqlClient.SqlClient) => Effect.Effect<A, E>) =>
  Effect.scoped(Effect.flatMap(
    PgClient.make({ url: Redacted.make(pgUrl) }).pipe(Effect.provideServiceEffect(Reactivity.Reactivity, Reactivity.make)),
    f
  ))

/** Drops every schema whose name starts with `prefix` (a test file's own, with its pid). */
export const dropSchemas = (prefix: string) =>
  withPg((sql) =>
    Effect.flatMap(
      sql<{ nspname: string }>`SELECT nspname FROM pg_namespace WHERE nspname LIKE ${prefix + "%"}`,
      (rows) => Effect.forEach(rows, (row) => sql`DROP SCHEMA ${sql(row.nspname)} CASCADE`, { discard: true })
    )
  )
