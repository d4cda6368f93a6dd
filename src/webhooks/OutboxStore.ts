/**
 * Where after deliveries wait, from the event that made them to their last attempt.
 *
 * The Outbox (the engine) claims due jobs, attempts them and records each outcome here; a store
 * only keeps jobs and hands them out. `memory` keeps them in this process: bounded, fast, lost
 * with the process. A durable store keeps one row per job, claims rows with a lease (`SELECT …
 * FOR UPDATE SKIP LOCKED`, `lease_until`) so several processes share one outbox, and keeps each
 * attempt for inspection; the interface is shaped so that both are the same service.
 *
 * @since 0.2.0
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { Fifo, MinHeap } from "./internal/collections.js"

/** A delivery as the after handler hands it over: made once, the same bytes on every attempt. */
export interface NewJob {
  /** The delivery's `webhook-id`, the same on every attempt and resend. */
  readonly id: string
  /** The webhook's name: the engine finds its sender by it. */
  readonly webhook: string
  /** The selector, `after:measure`, sent as `servo-event`. */
  readonly event: string
  readonly body: Uint8Array
  /** Unix milliseconds, on the engine's Clock. */
  readonly createdAt: number
  /** When the whole delivery gives up, waits included (`backoff.timeout` from `createdAt`). */
  readonly deadline: number
}

/** A job as a store hands it out: what was made, plus where its retries stand. */
export interface Job extends NewJob {
  /** Attempts made so far. */
  readonly attempts: number
  /** When the next attempt may start. */
  readonly dueAt: number
  /** Why the last attempt failed, when one did. */
  readonly lastError: string | undefined
  /**
   * The retry schedule's state after the last failed attempt. A store that cannot keep it
   * (a row in a database) returns `undefined`, and the engine steps the schedule again from
   * `attempts`.
   */
  readonly retryState: unknown
}

/** One attempt, as a durable store records it for `deliveries show`. */
export interface Attempt {
  readonly number: number
  readonly startedAt: number
  readonly durationMs: number
  readonly status: number | undefined
  /** The outcome in words: `delivered`, `HTTP 503: …`, `connection refused`. */
  readonly result: string
}

export interface ClaimRequest {
  /** At most this many jobs. */
  readonly limit: number
  readonly now: number
  /** The webhooks the caller delivers: a job of any other webhook is left for another process. */
  readonly webhooks: ReadonlyArray<string>
  /**
   * How many more jobs of a webhook the caller can take now (its `max_in_flight` less what it has
   * in flight): a webhook with no room is skipped, so its jobs never block the others'.
   */
  readonly room: (webhook: string) => number
}

export interface Retry {
  readonly attempts: number
  readonly dueAt: number
  readonly lastError: string
  readonly retryState: unknown
}

/** What a store leaves unfinished when it closes, per webhook. */
export type Unfinished = ReadonlyMap<string, number>

/**
 * The storage of the outbox. Every method may fail with `OutboxStoreError` (a database that is
 * down); the memory store never does.
 */
export interface Service {
  /** `memory` loses what it holds with the process; the others keep it. */
  readonly durable: boolean
  /**
   * How often an idle engine looks for work it was not told about (jobs other processes
   * enqueued, leases that expired). `undefined`: never, every job comes through this process.
   */
  readonly pollInterval: Duration.Duration | undefined
  /** Jobs it holds at most before `enqueue` refuses more (a durable store: as many as it can). */
  readonly capacity: number
  /**
   * Adds jobs, due at once. Returns how many it took: a prefix of `jobs`, the rest overflowing a
   * bounded store. A durable store returns once the jobs are committed.
   */
  readonly enqueue: (jobs: ReadonlyArray<NewJob>) => Effect.Effect<number, OutboxStoreError>
  /** Hands out due jobs nobody holds, oldest due first, round the webhooks that have room. */
  readonly claim: (request: ClaimRequest) => Effect.Effect<ReadonlyArray<Job>, OutboxStoreError>
  /** A held job delivered (or cancelled: an after webhook cannot cancel, so that is delivered). */
  readonly complete: (job: Job, attempt: Attempt) => Effect.Effect<void, OutboxStoreError>
  /** A held job failed an attempt and will be tried again at `retry.dueAt`. */
  readonly reschedule: (job: Job, attempt: Attempt, retry: Retry) => Effect.Effect<void, OutboxStoreError>
  /** A held job failed for good: a dead letter (kept by a durable store until resent or purged). */
  readonly fail: (job: Job, attempt: Attempt | undefined, reason: string) => Effect.Effect<void, OutboxStoreError>
  /** The earliest due instant after `now` of a job nobody holds, if any: when to wake up next. */
  readonly nextDueAfter: (now: number) => Effect.Effect<number | undefined, OutboxStoreError>
  /** Jobs not finished: waiting, due or held. */
  readonly pending: Effect.Effect<number, OutboxStoreError>
  /**
   * At shutdown, once no attempt runs: gives back the jobs still held and reports what is left
   * unfinished, per webhook. The memory store drops it all (abandoned); a durable store keeps it
   * for the next process (left pending).
   */
  readonly close: Effect.Effect<Unfinished, OutboxStoreError>
}

export class OutboxStore extends Context.Tag("servo-webhooks/OutboxStore")<OutboxStore, Service>() {}

// ---------------------------------------------------------------------------------------------
// The operator's view of a durable store (`servo webhooks deliveries ...`).
// ---------------------------------------------------------------------------------------------

export type DeliveryStatus = "pending" | "delivered" | "failed"

/** A delivery as the operator commands list it. */
export interface DeliverySummary {
  readonly id: string
  readonly webhook: string
  readonly event: string
  readonly status: DeliveryStatus
  readonly attempts: number
  readonly createdAt: number
  /** Pending: when the next attempt may start. */
  readonly dueAt: number
  /** When the status last changed. */
  readonly updatedAt: number
  readonly lastError: string | undefined
  /** Pending and held by a worker until then. */
  readonly leaseUntil: number | undefined
}

/** One delivery whole: its body and every attempt. */
export interface DeliveryDetail extends DeliverySummary {
  readonly body: Uint8Array
  readonly history: ReadonlyArray<Attempt>
}

export interface ListFilter {
  /** Default `pending`; `all` lists every status. */
  readonly status?: DeliveryStatus | "all"
  readonly webhook?: string
  /** Default 50, newest first. */
  readonly limit?: number
}

export type ResendRequest =
  | { readonly _tag: "Ids"; readonly ids: ReadonlyArray<string> }
  | { readonly _tag: "Failed"; readonly webhook?: string; /** Failed at or after (epoch ms). */ readonly since?: number }

export interface PurgeRequest {
  /** Finished before this instant (epoch ms). */
  readonly before: number
  /** Default: both delivered and failed; pending deliveries are never purged. */
  readonly status?: "delivered" | "failed"
}

/**
 * What a durable store offers operators: read, resend (the same id and body, due now, attempts
 * kept in the history) and purge. The memory store has none of it.
 */
export interface Admin {
  readonly list: (filter: ListFilter) => Effect.Effect<ReadonlyArray<DeliverySummary>, OutboxStoreError>
  readonly show: (id: string) => Effect.Effect<DeliveryDetail | undefined, OutboxStoreError>
  /** Returns the ids made pending again (an unknown or pending id is skipped). */
  readonly resend: (request: ResendRequest) => Effect.Effect<ReadonlyArray<string>, OutboxStoreError>
  /** Returns how many deliveries were deleted. */
  readonly purge: (request: PurgeRequest) => Effect.Effect<number, OutboxStoreError>
}

export class OutboxAdmin extends Context.Tag("servo-webhooks/OutboxStore/Admin")<OutboxAdmin, Admin>() {}

export class OutboxStoreError extends Schema.TaggedError<OutboxStoreError>()("OutboxStoreError", {
  store: Schema.String,
  operation: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `outbox store (${this.store}) could not ${this.operation}: ${this.reason}`
  }
}

// ---------------------------------------------------------------------------------------------
// The memory store.
// ---------------------------------------------------------------------------------------------

/** The default bound of the memory store: after deliveries not finished, in one process. */
export const defaultCapacity = 10_000

/**
 * A job in memory: one small object, changed in place as it moves between the queues (a pending
 * delivery costs this object, its id and a slot in a queue; the body is shared).
 */
class MemoryJob implements Job {
  attempts = 0
  dueAt: number
  lastError: string | undefined = undefined
  retryState: unknown = undefined
  constructor(
    readonly id: string,
    readonly webhook: string,
    readonly event: string,
    readonly body: Uint8Array,
    readonly createdAt: number,
    readonly deadline: number
  ) {
    this.dueAt = createdAt
  }
}

/**
 * Due jobs wait in one queue per webhook, served round-robin; retries wait in one heap by due
 * instant and join their webhook's queue when due; held jobs are remembered until recorded.
 * The methods are the only writers of this state.
 */
class MemoryState {
  private readonly due = new Map<string, Fifo<MemoryJob>>()
  /** The webhooks with a due queue, in the order the round-robin visits them. */
  private readonly order: Array<string> = []
  private next = 0
  private readonly waiting = new MinHeap<MemoryJob>((a, b) => a.dueAt - b.dueAt)
  private readonly held = new Set<MemoryJob>()
  private size = 0

  constructor(private readonly capacity: number) {}

  get pending() {
    return this.size
  }

  enqueue(jobs: ReadonlyArray<NewJob>): number {
    const taken = Math.max(0, Math.min(jobs.length, this.capacity - this.size))
    for (let i = 0; i < taken; i++) {
      const job = jobs[i]!
      this.queueOf(job.webhook).push(new MemoryJob(job.id, job.webhook, job.event, job.body, job.createdAt, job.deadline))
    }
    this.size += taken
    return taken
  }

  claim({ limit, now, room }: ClaimRequest): Array<Job> {
    this.promote(now)
    const claimed: Array<Job> = []
    const webhooks = this.order.length
    let misses = 0
    // Round the webhooks, one job from each in turn, until the limit or a full round finds none.
    while (claimed.length < limit && misses < webhooks) {
      const webhook = this.order[this.next]!
      this.next = (this.next + 1) % webhooks
      const queue = this.due.get(webhook)!
      if (queue.length === 0 || room(webhook) <= 0) {
        misses++
        continue
      }
      misses = 0
      const job = queue.shift()!
      this.held.add(job)
      claimed.push(job)
    }
    return claimed
  }

  complete(job: Job) {
    if (this.held.delete(job as MemoryJob)) this.size--
  }

  reschedule(job: Job, retry: Retry) {
    const held = job as MemoryJob
    if (!this.held.delete(held)) return
    held.attempts = retry.attempts
    held.dueAt = retry.dueAt
    held.lastError = retry.lastError
    held.retryState = retry.retryState
    this.waiting.push(held)
  }

  nextDueAfter(now: number): number | undefined {
    this.promote(now)
    return this.waiting.peek()?.dueAt
  }

  close(): Unfinished {
    const unfinished = new Map<string, number>()
    const count = (job: MemoryJob) => unfinished.set(job.webhook, (unfinished.get(job.webhook) ?? 0) + 1)
    for (const queue of this.due.values()) for (const job of queue.drain()) count(job)
    for (const job of this.waiting.drain()) count(job)
    for (const job of this.held) count(job)
    this.held.clear()
    this.size = 0
    return unfinished
  }

  /** Retries whose time has come join their webhook's due queue, behind the jobs already due. */
  private promote(now: number) {
    for (let job = this.waiting.peek(); job !== undefined && job.dueAt <= now; job = this.waiting.peek()) {
      this.waiting.pop()
      this.queueOf(job.webhook).push(job)
    }
  }

  private queueOf(webhook: string) {
    let queue = this.due.get(webhook)
    if (queue === undefined) {
      queue = new Fifo<MemoryJob>()
      this.due.set(webhook, queue)
      this.order.push(webhook)
    }
    return queue
  }
}

/**
 * A store in this process's memory, holding at most `capacity` unfinished jobs (default 10,000).
 * Every method is synchronous underneath; each instance is its own outbox.
 */
export const makeMemory = (options: { readonly capacity?: number } = {}): Effect.Effect<Service> =>
  Effect.sync(() => {
    const capacity = options.capacity ?? defaultCapacity
    const state = new MemoryState(capacity)
    return {
      durable: false,
      pollInterval: undefined,
      capacity,
      enqueue: (jobs) => Effect.sync(() => state.enqueue(jobs)),
      claim: (request) => Effect.sync(() => state.claim(request)),
      complete: (job) => Effect.sync(() => state.complete(job)),
      reschedule: (job, _attempt, retry) => Effect.sync(() => state.reschedule(job, retry)),
      fail: (job) => Effect.sync(() => state.complete(job)),
      nextDueAfter: (now) => Effect.sync(() => state.nextDueAfter(now)),
      pending: Effect.sync(() => state.pending),
      close: Effect.sync(() => state.close())
    }
  })

/** The memory store as a Layer: one outbox for every Webhooks instance that finds it in context. */
export const layerMemory = (options: { readonly capacity?: number } = {}): Layer.Layer<OutboxStore> =>
  Layer.effect(OutboxStore, makeMemory(options))
