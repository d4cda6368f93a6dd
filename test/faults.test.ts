/**
 * The fault matrix (issue #5, item 3): each way a receiver can misbehave, against real sockets,
 * through a whole servo (bus, connector, outbox, client). For every fault and both prepositions:
 *
 * - the delivery's outcome, attempt count and reason are the ones DESIGN.md §5 gives, read from
 *   what an operator sees: the connector's metrics, its log lines and the event's own result;
 * - the servo goes on: another event, dispatched through the same bus afterwards, reaches a
 *   healthy receiver (before and after webhooks, the outbox has one worker, so a wedged worker
 *   would show);
 * - every after delivery is accounted for in `stats` once the scope has closed;
 * - no unhandled rejection and no uncaught exception, anywhere in the process.
 *
 * Retries run on the TestClock with the jitter pinned (`Random.fixed([0.5])`): waits are exactly
 * 1s, 2s, 4s... and `step` checks each one.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Random from "effect/Random"
import type * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import type { Dispatcher } from "undici"
import * as CoreEvents from "../src/servo/CoreEvents.js"
import * as EventBus from "../src/servo/EventBus.js"
import * as Metrics from "../src/webhooks/internal/metrics.js"
import * as UndiciHttpClient from "../src/webhooks/UndiciHttpClient.js"
import * as Webhooks from "../src/webhooks/Webhooks.js"
import { step } from "./support/clock.js"
import { watchCrashes } from "./support/crashes.js"
import { unresolvingAgent } from "./support/dns.js"
import { eventually, within } from "./support/poll.js"
import { closedPort, never, ok, type Receiver, receiver, type Responder, sequence, status } from "./support/receiver.js"
import { captureLogs, configs, type LogLine, uniqueName } from "./support/servo.js"

// ---------------------------------------------------------------------------------------------
// Tools
// ---------------------------------------------------------------------------------------------

type ClientKind = "undici" | "stock"

/** What the client handed the delivery code: status, and for our client the bytes it kept. */
interface Seen {
  readonly status: number
  readonly bytes?: number
  readonly truncated?: boolean
}

/**
 * The client under test, recording each response. Only `UndiciHttpClient`'s bodies are measured:
 * they are already in memory (capped), while measuring the stock client's would read them.
 */
const clientLayer = (kind: ClientKind, seen: Array<Seen>, dispatcher?: Dispatcher) => {
  const base = kind === "undici"
    ? dispatcher === undefined
      ? UndiciHttpClient.layer
      : UndiciHttpClient.layerWithoutDispatcher().pipe(Layer.provide(Layer.succeed(UndiciHttpClient.Dispatcher, dispatcher)))
    : dispatcher === undefined
    ? NodeHttpClient.layerUndici
    : NodeHttpClient.layerUndiciWithoutDispatcher.pipe(Layer.provide(Layer.succeed(NodeHttpClient.Dispatcher, dispatcher)))
  const recording = Layer.effect(
    HttpClient.HttpClient,
    Effect.map(HttpClient.HttpClient, (client) =>
      HttpClient.tap(client, (response) =>
        kind === "undici"
          ? Effect.map(response.arrayBuffer, (body) => {
            seen.push({ status: response.status, bytes: body.byteLength, truncated: UndiciHttpClient.isTruncated(response) })
          })
          : Effect.sync(() => seen.push({ status: response.status }))))
  )
  return Layer.provide(recording, base)
}

// ---------------------------------------------------------------------------------------------
// The faults
// ---------------------------------------------------------------------------------------------

type Tag = "Delivered" | "Cancelled" | "Failed"

interface Expected {
  readonly outcome: Tag
  readonly attempts: number
  /** The Outcome's reason (none for Delivered). */
  readonly reason?: string
}

interface Scenario {
  /** The faulty webhook's config, without name and event. */
  readonly webhook: Record<string, unknown>
  /** Moves the TestClock through the retries, checking each wait. */
  readonly drive: Effect.Effect<void>
  readonly expected: Expected
  /** A receiver every attempt reaches: it must have seen exactly `attempts` requests. */
  readonly server?: Receiver
  /** Replaces the client's dispatcher. */
  readonly dispatcher?: Dispatcher
  /** Checks once the delivery is over, the servo still up. */
  readonly check?: (seen: ReadonlyArray<Seen>) => Effect.Effect<void>
}

interface Fault {
  readonly name: string
  readonly scenario: (client: ClientKind) => Effect.Effect<Scenario, never, Scope.Scope>
}

const retries2 = { retries: 2, timeout: "5m" }

/** Waits 1s then 2s, each once the previous attempt has reached `server`. */
const twoRetries = (server?: Receiver) =>
  Effect.gen(function*() {
    if (server) yield* within("attempt 1", server.waitFor(1))
    yield* step("1 second")
    if (server) yield* within("attempt 2", server.waitFor(2))
    yield* step("2 seconds")
  })

/** Each attempt times out after 1.5s: 1.5s, wait 1s, 1.5s, wait 2s, 1.5s. */
const threeTimeouts = (server: Receiver) =>
  Effect.gen(function*() {
    for (const [attempt, wait] of [[1, "1 second"], [2, "2 seconds"], [3, undefined]] as const) {
      yield* within(`attempt ${attempt}`, server.waitFor(attempt))
      yield* step("1500 millis")
      if (wait) yield* step(wait)
    }
  })

/** The client hung up: every connection it opened is closed (none left to leak). */
const allClosed = (server: Receiver) => within("the client to close its connections", server.allClosed)

const tenMegabytes = Buffer.alloc(10 * 1024 * 1024, "x")

/**
 * Sends 10 MB, minding backpressure: a chunk is written only once the socket took the previous
 * ones. A client that stops reading leaves the server stuck behind the kernel's buffers (a few
 * MB on loopback), so `ended` stays 0 unless the client read the whole body.
 */
const hugeBody = (code: number) => {
  const sent = { ended: 0, closed: 0 }
  const responder: Responder = (_, response) => {
    response.on("close", () => sent.closed++)
    response.writeHead(code, { "content-type": "text/plain", "content-length": String(tenMegabytes.length) })
    let offset = 0
    const pump = () => {
      while (offset < tenMegabytes.length) {
        const chunk = tenMegabytes.subarray(offset, offset += 64 * 1024)
        if (!response.write(chunk)) return void response.once("drain", pump)
      }
      sent.ended++
      response.end()
    }
    pump()
  }
  return { responder, sent }
}

const cancelContentType = "application/vnd.opsani.servo.errors.CancelEventError+json"

const faults: ReadonlyArray<Fault> = [
  {
    name: "refuses the connection",
    scenario: () =>
      Effect.map(closedPort, (port) => ({
        webhook: { target: `http://127.0.0.1:${port}/hook`, backoff: retries2 },
        drive: twoRetries(),
        expected: { outcome: "Failed", attempts: 3, reason: "connection refused (gave up after 3 attempts)" }
      }))
  },
  {
    name: "resets the connection mid-response (headers sent, then socket.destroy())",
    scenario: (client) =>
      Effect.gen(function*() {
        const server = yield* receiver((_, response) => {
          response.writeHead(200, { "content-type": "text/plain", "content-length": "1000" })
          response.write("the first few bytes", () => response.socket?.destroy())
        })
        return {
          webhook: { target: server.url, backoff: retries2 },
          server,
          drive: twoRetries(server),
          expected: {
            outcome: "Failed",
            attempts: 3,
            // A 2xx whose body broke off is not a delivery. Our client reports it before any
            // response exists; the stock one returns the response, then its body fails.
            reason: client === "undici"
              ? "connection reset (gave up after 3 attempts)"
              : "the response broke off (UND_ERR_SOCKET) (gave up after 3 attempts)"
          }
        }
      })
  },
  {
    name: "never answers",
    scenario: () =>
      Effect.gen(function*() {
        const server = yield* receiver(never)
        return {
          webhook: { target: server.url, request_timeout: "1500ms", backoff: retries2 },
          server,
          drive: threeTimeouts(server),
          expected: { outcome: "Failed", attempts: 3, reason: "no answer within 1s500ms (gave up after 3 attempts)" },
          check: () => allClosed(server)
        }
      })
  },
  {
    name: "sends headers, then stalls the body",
    scenario: () =>
      Effect.gen(function*() {
        const server = yield* receiver((_, response) => {
          response.writeHead(200, { "content-type": "text/plain", "content-length": "1000" })
          response.write("the first few bytes")
        })
        return {
          webhook: { target: server.url, request_timeout: "1500ms", backoff: retries2 },
          server,
          drive: threeTimeouts(server),
          expected: { outcome: "Failed", attempts: 3, reason: "no answer within 1s500ms (gave up after 3 attempts)" },
          check: () => allClosed(server)
        }
      })
  },
  {
    name: "sends a 10 MB body with a 200",
    scenario: (client) =>
      Effect.gen(function*() {
        const huge = hugeBody(200)
        const server = yield* receiver(huge.responder)
        return {
          webhook: { target: server.url, backoff: retries2 },
          server,
          drive: Effect.void,
          expected: { outcome: "Delivered", attempts: 1 },
          check: (seen) =>
            Effect.gen(function*() {
              yield* allClosed(server)
              // The client stopped reading and hung up: the server never got the body out.
              expect(huge.sent).toEqual({ ended: 0, closed: 1 })
              expect(seen).toEqual(
                client === "undici" ? [{ status: 200, bytes: 64 * 1024, truncated: true }] : [{ status: 200 }]
              )
            })
        }
      })
  },
  {
    name: "sends a 10 MB body with a 500",
    scenario: (client) =>
      Effect.gen(function*() {
        const huge = hugeBody(500)
        const server = yield* receiver(huge.responder)
        return {
          webhook: { target: server.url, backoff: retries2 },
          server,
          drive: twoRetries(server),
          expected: { outcome: "Failed", attempts: 3, reason: `HTTP 500: ${"x".repeat(200)}… (gave up after 3 attempts)` },
          check: (seen) =>
            Effect.gen(function*() {
              yield* allClosed(server)
              expect(huge.sent).toEqual({ ended: 0, closed: 3 })
              const once = client === "undici" ? { status: 500, bytes: 64 * 1024, truncated: true } : { status: 500 }
              expect(seen).toEqual([once, once, once])
            })
        }
      })
  },
  {
    name: "answers the cancel content type with invalid JSON",
    scenario: () =>
      Effect.gen(function*() {
        const server = yield* receiver(status(200, { "content-type": cancelContentType }, "nope{"))
        return {
          webhook: { target: server.url, backoff: retries2 },
          server,
          drive: Effect.void,
          expected: {
            outcome: "Cancelled",
            attempts: 1,
            reason: `the receiver cancelled with a body that is not valid JSON: "nope{"`
          }
        }
      })
  },
  {
    name: "answers with a redirect to itself",
    scenario: () =>
      Effect.gen(function*() {
        const server = yield* receiver(ok)
        // 307: a client that followed it would even send the POST again.
        server.respond = status(307, { location: server.url })
        return {
          webhook: { target: server.url, backoff: retries2 },
          server,
          drive: Effect.void,
          expected: {
            outcome: "Failed",
            attempts: 1,
            reason: `redirected with 307 to ${server.url}; redirects are never followed`
          }
        }
      })
  },
  {
    name: "answers 429 with an HTTP-date Retry-After",
    scenario: () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(Date.parse("2026-11-29T10:00:00Z"))
        const server = yield* receiver(sequence(status(429, { "retry-after": "Sun, 29 Nov 2026 10:00:12 GMT" }), ok))
        return {
          webhook: { target: server.url, backoff: retries2 },
          server,
          drive: Effect.gen(function*() {
            yield* within("attempt 1", server.waitFor(1))
            // Not the backoff's 1s: a sleep until exactly 10:00:12.
            yield* step("12 seconds")
          }),
          expected: { outcome: "Delivered", attempts: 2 },
          check: () =>
            Effect.sync(() =>
              expect(server.requests.map((request) => request.headers["webhook-timestamp"])).toEqual([
                String(Date.parse("2026-11-29T10:00:00Z") / 1000),
                String(Date.parse("2026-11-29T10:00:12Z") / 1000)
              ])
            )
        }
      })
  },
  {
    name: "answers 503 forever",
    scenario: () =>
      Effect.gen(function*() {
        const server = yield* receiver(status(503, { "content-type": "text/plain" }, "unavailable"))
        return {
          webhook: { target: server.url, backoff: { retries: 3, timeout: "5m" } },
          server,
          drive: Effect.gen(function*() {
            yield* twoRetries(server)
            yield* within("attempt 3", server.waitFor(3))
            yield* step("4 seconds")
          }),
          expected: { outcome: "Failed", attempts: 4, reason: "HTTP 503: unavailable (gave up after 4 attempts)" }
        }
      })
  },
  {
    // Through a dispatcher whose lookup fails at once (support/dns.ts), never this machine's
    // resolver; the rest of the path is the real one.
    name: "is on a host that does not resolve (nothing.invalid)",
    scenario: () =>
      Effect.gen(function*() {
        const lookups: Array<string> = []
        const dispatcher = yield* unresolvingAgent(lookups)
        return {
          webhook: { target: "http://nothing.invalid/", backoff: retries2 },
          dispatcher,
          drive: Effect.void,
          expected: { outcome: "Failed", attempts: 1, reason: "host not found (nothing.invalid)" },
          check: () => Effect.sync(() => expect(lookups).toEqual(["nothing.invalid"]))
        }
      })
  }
]

// ---------------------------------------------------------------------------------------------
// The harness
// ---------------------------------------------------------------------------------------------

const deliveryLine = /^(?:delivery failed|delivered \(\d+\)|cancelled \(\d+\)) after (\d+) attempts?(?:: (.*))?$/s

/** The faulty webhook's one delivery, as its metrics and logs tell it. */
const observe = (connector: string, preposition: "before" | "after", logs: ReadonlyArray<LogLine>) =>
  Effect.gen(function*() {
    const tags = { connector, webhook: "faulty" }
    const finished: Array<Tag> = []
    for (const outcome of ["Delivered", "Cancelled", "Failed"] as const) {
      const count = yield* Metrics.count(Metrics.deliveriesTotal, { ...tags, preposition, outcome: outcome.toLowerCase() })
      for (let i = 0; i < count; i++) finished.push(outcome)
    }
    expect(finished).toHaveLength(1)
    const attempts = yield* Metrics.count(Metrics.attemptsTotal, tags)
    const lines = logs.filter((line) => line.annotations["webhook"] === "faulty" && deliveryLine.test(line.message))
    expect(lines).toHaveLength(1)
    const [, logged, failure] = deliveryLine.exec(lines[0]!.message)!
    expect(Number(logged)).toBe(attempts)
    return { outcome: finished[0]!, attempts, ...(failure === undefined ? {} : { reason: failure }) }
  })

const adjust = { adjustments: [{ component: "web", setting: "replicas", value: 3 }] }

const runFault = (fault: Fault, preposition: "before" | "after", client: ClientKind) => {
  const logs: Array<LogLine> = []
  return Effect.gen(function*() {
    const crashes = yield* watchCrashes
    const healthy = yield* receiver(ok)
    const scenario = yield* fault.scenario(client)
    const { expected } = scenario
    const seen: Array<Seen> = []
    const name = uniqueName("faults")
    const layer = Webhooks.layer(
      configs([
        {
          name: "faulty",
          event: `${preposition}:adjust`,
          ...(preposition === "before" ? { on_failure: "cancel" } : {}),
          ...scenario.webhook
        },
        { name: "healthy", events: ["before:measure", "after:measure"], target: healthy.url }
      ]),
      // One worker: an after delivery that wedged it would stop the healthy one below.
      { name, workers: 1 }
    ).pipe(Layer.provideMerge(EventBus.layer), Layer.provide(clientLayer(client, seen, scenario.dispatcher)))

    let stats: Effect.Effect<Webhooks.Stats> = Effect.die("unset")
    yield* Effect.gen(function*() {
      stats = (yield* Webhooks.Webhooks).stats
      const dispatching = yield* Effect.fork(EventBus.dispatch(CoreEvents.adjust, adjust))
      yield* scenario.drive
      const exit = yield* within("the event to finish", Fiber.await(dispatching))
      yield* eventually(
        "the faulty delivery to finish",
        stats,
        (s) => s[preposition].delivered + s[preposition].cancelled + s[preposition].failed === 1
      )

      const observed = yield* observe(name, preposition, logs)
      const error = Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined
      // A cancellation's reason is not in the delivery's log line: the event (before) or the
      // connector's warning (after) carries it.
      const cancelled = "an after webhook cannot cancel an event; ignored: "
      const reason = observed.outcome !== "Cancelled"
        ? observed.reason
        : preposition === "before"
        ? error?._tag === "CancelEventError" ? error.reason : undefined
        : logs.find((line) => line.message.startsWith(cancelled))?.message.slice(cancelled.length)
      expect({ ...observed, reason }).toEqual({ reason: undefined, ...expected })

      // The event itself: a before webhook's failure (on_failure: cancel) or cancellation fails
      // it with the webhook's name; an after webhook never touches it.
      if (preposition === "before" && expected.outcome !== "Delivered") {
        expect(error).toMatchObject({
          _tag: "CancelEventError",
          event: "adjust",
          connector: name,
          handler: "faulty",
          reason: expected.outcome === "Failed" ? `webhook faulty failed: ${expected.reason}` : expected.reason
        })
      } else {
        expect(Exit.isSuccess(exit)).toBe(true)
      }
      if (scenario.server) expect(scenario.server.requests).toHaveLength(expected.attempts)
      if (scenario.check) yield* scenario.check(seen)

      // The servo goes on: the next event reaches the healthy receiver, before and after.
      yield* EventBus.dispatch(CoreEvents.measure, {})
      yield* within("the healthy receiver", healthy.waitFor(2))
      expect(healthy.requests.map((request) => request.headers["servo-event"])).toEqual(["before:measure", "after:measure"])
    }).pipe(Effect.provide(layer))

    // Scope closed, outbox drained: every after delivery accounted for.
    const is = (tag: Tag) => (expected.outcome === tag ? 1 : 0)
    expect(yield* stats).toEqual(
      preposition === "before"
        ? {
          before: { delivered: 1 + is("Delivered"), cancelled: is("Cancelled"), failed: is("Failed") },
          after: { delivered: 1, cancelled: 0, failed: 0, enqueued: 1, overflowed: 0, abandoned: 0, leftPending: 0, pending: 0 }
        }
        : {
          before: { delivered: 1, cancelled: 0, failed: 0 },
          after: {
            delivered: 1 + is("Delivered"),
            cancelled: is("Cancelled"),
            failed: is("Failed"),
            enqueued: 2,
            overflowed: 0,
            abandoned: 0,
            leftPending: 0,
            pending: 0
          }
        }
    )

    // Every rejection so far has been reported (a canary rejected now has).
    expect(yield* crashes.settled).toEqual({ unhandledRejections: [], uncaughtExceptions: [] })
  }).pipe(Effect.provide(captureLogs(logs)), Effect.withRandom(Random.fixed([0.5])))
}

describe("Faults: UndiciHttpClient", () => {
  for (const fault of faults) {
    for (const preposition of ["before", "after"] as const) {
      it.scoped(`${preposition} webhook; the receiver ${fault.name}`, () => runFault(fault, preposition, "undici"))
    }
  }
})

describe("Faults: the stock NodeHttpClient.layerUndici, before webhooks", () => {
  for (const fault of faults) {
    it.scoped(`the receiver ${fault.name}`, () => runFault(fault, "before", "stock"))
  }
})
