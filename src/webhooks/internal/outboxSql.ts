/**
 * Rows of the SQL outbox as the store's values, and database failures as words an operator can
 * act on. Both drivers differ in what they hand back (PostgreSQL `bigint` as a string, bytes as a
 * Buffer; SQLite numbers, bytes as an ArrayBuffer): everything read goes through here.
 */
import type * as OutboxStore from "../OutboxStore.js"

/** The columns of a delivery except its body, in every SELECT that lists. */
export const summaryColumns = [
  "id",
  "webhook",
  "event",
  "status",
  "attempts",
  "created_at",
  "due_at",
  "deadline",
  "lease_until",
  "lease_owner",
  "last_error",
  "updated_at"
] as const

export type Row = Record<string, unknown>

const number = (value: unknown): number => typeof value === "number" ? value : Number(value)
const optionalNumber = (value: unknown): number | undefined => value == null ? undefined : number(value)
const optionalString = (value: unknown): string | undefined => value == null ? undefined : String(value)

export const bytes = (value: unknown): Uint8Array => {
  if (value instanceof Uint8Array) return value
  if (value instanceof ArrayBuffer) return new Uint8Array(value)
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength)
  if (typeof value === "string") return new TextEncoder().encode(value)
  return new Uint8Array()
}

/** A body as both drivers take it. */
export const bodyParameter = (body: Uint8Array): Buffer => Buffer.from(body.buffer, body.byteOffset, body.byteLength)

export const toJob = (row: Row): OutboxStore.Job => ({
  id: String(row.id),
  webhook: String(row.webhook),
  event: String(row.event),
  body: bytes(row.body),
  createdAt: number(row.created_at),
  deadline: number(row.deadline),
  attempts: number(row.attempts),
  dueAt: number(row.due_at),
  lastError: optionalString(row.last_error),
  // A row keeps no schedule state: the engine steps the schedule again from `attempts`.
  retryState: undefined
})

export const toSummary = (row: Row): OutboxStore.DeliverySummary => {
  const status = String(row.status) as OutboxStore.DeliveryStatus
  return {
    id: String(row.id),
    webhook: String(row.webhook),
    event: String(row.event),
    status,
    attempts: number(row.attempts),
    createdAt: number(row.created_at),
    dueAt: number(row.due_at),
    updatedAt: number(row.updated_at),
    lastError: optionalString(row.last_error),
    leaseUntil: status === "pending" ? optionalNumber(row.lease_until) : undefined
  }
}

export const toAttempt = (row: Row): OutboxStore.Attempt => ({
  number: number(row.number),
  startedAt: number(row.started_at),
  durationMs: number(row.duration_ms),
  status: optionalNumber(row.status),
  result: String(row.result)
})

export const attemptRow = (deliveryId: string, attempt: OutboxStore.Attempt) => ({
  delivery_id: deliveryId,
  number: attempt.number,
  started_at: Math.round(attempt.startedAt),
  duration_ms: Math.round(attempt.durationMs),
  status: attempt.status ?? null,
  result: attempt.result
})

export const newRow = (job: OutboxStore.NewJob, now: number) => ({
  id: job.id,
  webhook: job.webhook,
  event: job.event,
  body: bodyParameter(job.body),
  status: "pending",
  attempts: 0,
  created_at: job.createdAt,
  due_at: job.createdAt,
  deadline: job.deadline,
  lease_until: null,
  lease_owner: null,
  last_error: null,
  updated_at: now
})

/** Known driver failures, said plainly; the driver's own words follow. */
const hints: ReadonlyArray<readonly [RegExp, string]> = [
  [/ECONNREFUSED/, "nothing listens at the database address (is PostgreSQL running?)"],
  [/ENOTFOUND|EAI_AGAIN/, "the database host name does not resolve"],
  [/ETIMEDOUT|timed? ?out/i, "the database did not answer in time"],
  [/password authentication failed|no pg_hba\.conf entry/i, "the database refused the credentials"],
  [/SQLITE_NOTADB|file is not a database/i, "the file is not an SQLite database (corrupt, or another kind of file)"],
  [/SQLITE_CORRUPT|malformed/i, "the SQLite file is corrupt"],
  [/SQLITE_READONLY|readonly database|read-only/i, "the SQLite file is read-only"],
  [/SQLITE_CANTOPEN|unable to open/i, "the SQLite file cannot be opened (does its directory exist and is it writable?)"],
  [/SQLITE_BUSY|database is locked/i, "the SQLite file is locked by another process"]
]

const chain = (error: unknown): Array<string> => {
  const messages: Array<string> = []
  for (let cause = error, depth = 0; cause != null && depth < 5; depth++) {
    if (typeof cause === "object") {
      const message = (cause as { message?: unknown }).message
      const code = (cause as { code?: unknown }).code
      if (typeof message === "string" && message.length > 0 && !messages.some((m) => m.includes(message))) messages.push(message)
      if (typeof code === "string" && !messages.some((m) => m.includes(code))) messages.push(code)
      cause = (cause as { cause?: unknown }).cause
    } else {
      messages.push(String(cause))
      break
    }
  }
  return messages
}

/**
 * Why a database operation failed, in one line: a hint when the failure is a known one, then
 * the driver's messages. `secrets` (a connection URL, its password) are cut out wherever they
 * appear, since a driver may echo what it was given.
 */
export const describe = (error: unknown, secrets: ReadonlyArray<string>): string => {
  const messages = chain(error)
  const all = messages.join(": ")
  const hint = hints.find(([pattern]) => pattern.test(all))?.[1]
  let text = (hint === undefined ? all : `${hint} (${all})`).replace(/\s+/g, " ").trim()
  for (const secret of secrets) {
    if (secret.length > 0) text = text.split(secret).join("<redacted>")
  }
  return text.length > 0 ? text : "unknown database error"
}

/** A URL's password, so it can be cut out of messages too. */
export const urlSecrets = (url: string): Array<string> => {
  const secrets = [url]
  try {
    const parsed = new URL(url)
    if (parsed.password !== "") {
      secrets.push(parsed.password, decodeURIComponent(parsed.password))
    }
  } catch {
    // Not a URL the parser knows: the whole string is still cut out.
  }
  return secrets
}
