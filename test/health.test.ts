/**
 * Endpoint health: a webhook holds at most its share of the attempt slots (`max_in_flight`), a
 * circuit breaker stops attempts to a receiver that keeps failing, and the after defaults outlast
 * a receiver's outage. Real receivers on 127.0.0.1; time on the TestClock.
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as JSONSchema from "effect/JSONSchema"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Random from "effect/Random"
import type * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import * as http from "node:http"
import * as CoreEvents from "../src/servo/CoreEvents.js"
import * as EventBus from "../src/servo/EventBus.js"
import * as Metrics from "../src/webhooks/internal/metrics.js"
import * as WebhookConfig from "../src/webhooks/WebhookConfig.js"
import * as Webhooks from "../src/webhooks/Webhooks.js"
import { removeTempDirs, servo, text, writeConfig } from "./support/cli.js"
import { awaitSleep } from "./support/clock.js"
import { eventually, until } from "./support/poll.js"
import { closedPort, never, ok, type Receiver, receiver, status } from "./support/receiver.js"
import { captureLogs, type LogLine, servoLayer, uniqueName } from "./support/servo.js"

/** Runs `f` with a servo built in a scope of its own, closed (and drained) at the end. */
const withServo = <A, E>(layer: Layer.Layer<EventBus.EventBus | Webhooks.Webhooks, unknown>, f: Effect.Effect<A, E, EventBus.EventBus | Webhooks.Webhooks | Scope.Scope>) =>
  Effect.scoped(Effect.flatMap(Layer.build(layer), (context) => Effect.provide(f, context)))

const measure = (count: number) =>
  Effect.forEach(Array.from({ length: count }), () => EventBus.dispatch(CoreEvents.measure, {}), { discard: true })

describe("max_in_flight: one hung receiver cannot stall the others", () => {
  /**
   * Webhook A's receiver accepts and never answers (10s request timeout), B's answers at once;
   * 200 events to both. `f` runs while A's attempts hang; then the servo closes, its drain cut
   * by a 1ms deadline on the TestClock (A's timeout never fires).
   */
  const scenario = <A>(
    options: Webhooks.Options,
    f: (receivers: { readonly hung: Receiver; readonly healthy: Receiver }) => Effect.Effect<A, never, EventBus.EventBus | Webhooks.Webhooks>
  ) =>
    Effect.gen(function*() {
      const hung = yield* receiver(never)
      const healthy = yield* receiver(ok)
      const fiber = yield* withServo(
        servoLayer([
          { name: "hung", event: "after:measure", target: hung.url, request_timeout: "10s" },
          { name: "healthy", event: "after:measure", target: healthy.url }
        ], { drainTimeout: "1 millis", ...options }),
        Effect.zipRight(Effect.orDie(measure(200)), f({ hung, healthy }))
      ).pipe(Effect.fork)
      yield* awaitSleep("1 millis")
      yield* TestClock.adjust("1 millis")
      return yield* Fiber.join(fiber)
    })

  it.scoped("hung A holds 8 of 16 slots (the default share); B receives 200/200 with the clock still at 0", () =>
    Effect.gen(function*() {
      const { delivered, hungAttempts, ids, now } = yield* scenario({}, ({ healthy, hung }) =>
        Effect.gen(function*() {
          const stats = (yield* Webhooks.Webhooks).stats
          yield* healthy.waitFor(200)
          const { after } = yield* eventually("200 delivered", stats, ({ after }) => after.delivered === 200)
          return {
            delivered: after.delivered,
            hungAttempts: hung.requests.length,
            ids: new Set(healthy.requests.map((request) => request.headers["webhook-id"])).size,
            // A's ten-second timeout never fired: B went as fast as it would alone, its share
            // being the same whether A is there or not.
            now: yield* TestClock.currentTimeMillis
          }
        }))
      expect({ delivered, hungAttempts, ids, now }).toEqual({ delivered: 200, hungAttempts: 8, ids: 200, now: 0 })
    }))

  it.scoped("B alone: 200/200, the clock still at 0 (the reference)", () =>
    Effect.gen(function*() {
      const healthy = yield* receiver(ok)
      yield* withServo(
        servoLayer([{ name: "healthy", event: "after:measure", target: healthy.url }]),
        Effect.gen(function*() {
          yield* measure(200)
          yield* healthy.waitFor(200)
        })
      )
      expect(yield* TestClock.currentTimeMillis).toBe(0)
      expect(healthy.requests).toHaveLength(200)
    }))

  it.scoped("with every slot open to A (max_in_flight = workers, the old default) B stalls: what the new default prevents", () =>
    Effect.gen(function*() {
      const received = yield* scenario({ maxInFlight: 16 }, ({ healthy, hung }) =>
        Effect.gen(function*() {
          // Every worker is then inside one of A's attempts, which end only when the clock moves.
          yield* until("A holds all 16 workers", () => hung.requests.length === 16)
          return healthy.requests.length
        }))
      expect(received).toBeLessThan(200)
    }))

  it.scoped("max_in_flight in the config overrides the connector's share", () =>
    Effect.gen(function*() {
      const hung = yield* receiver(never)
      const fiber = yield* withServo(
        servoLayer([{ name: "hung", event: "after:measure", target: hung.url, max_in_flight: 3 }], { drainTimeout: "1 millis" }),
        Effect.gen(function*() {
          yield* measure(10)
          yield* hung.waitFor(3)
          const webhooks = yield* Webhooks.Webhooks
          return webhooks.webhooks[0]!.maxInFlight
        })
      ).pipe(Effect.fork)
      yield* awaitSleep("1 millis")
      expect(hung.requests).toHaveLength(3)
      yield* TestClock.adjust("1 millis")
      expect(yield* Fiber.join(fiber)).toBe(3)
    }))
})

describe("circuit breaker", () => {
  it.scoped("a receiver failing all 20 deliveries: the 10th consecutive failure opens it, attempts stop during the cooldown, a failed probe doubles it, one success closes it", () =>
    Effect.gen(function*() {
      const logs: Array<LogLine> = []
      const server = yield* receiver(status(503))
      const name = uniqueName()
      const gauge = Metrics.tagged(Metrics.breakerState, { connector: name, webhook: "flaky" })
      const gaugeValue = Effect.map(Metric.value(gauge), (state) => state.value)
      yield* withServo(
        // One worker: attempts one at a time, so the count at opening is exact.
        servoLayer([{ name: "flaky", event: "after:measure", target: server.url, breaker: { failures: 10, cooldown: "30s" } }], {
          name,
          workers: 1,
          drainTimeout: "1 millis"
        }),
        Effect.gen(function*() {
          const webhooks = yield* Webhooks.Webhooks
          const breaker = Effect.map(webhooks.breakers, (all) => all[0]!)
          expect(yield* breaker).toMatchObject({ webhook: "flaky", status: "closed" })
          yield* measure(20)

          // Ten consecutive failed attempts open it: the count stops there.
          yield* eventually("open", breaker, (state) => state.status === "open")
          expect(server.requests).toHaveLength(10)
          expect(yield* breaker).toMatchObject({ status: "open", openUntil: 30_000 })
          expect(yield* gaugeValue).toBe(1)
          // Retries fall due at 1s, but nothing is attempted until the cooldown ends.
          yield* awaitSleep("1 second")
          yield* TestClock.adjust("29 seconds")
          yield* awaitSleep("1 second") // the timekeeper now sleeps until 30s: every wake-up before it was handled
          expect(server.requests).toHaveLength(10)

          // 30s: half-open, one probe, which fails: open again for 60s.
          yield* TestClock.adjust("1 second")
          yield* eventually("reopened", breaker, (state) => state.status === "open" && state.openUntil === 90_000)
          expect(server.requests).toHaveLength(11)
          expect(Duration.toMillis((yield* breaker).cooldown)).toBe(60_000)
          yield* awaitSleep("1 second")
          yield* TestClock.adjust("59 seconds")
          yield* awaitSleep("1 second")
          expect(server.requests).toHaveLength(11)

          // 90s: the receiver is back; the probe succeeds and closes it; everything goes through.
          server.respond = ok
          yield* TestClock.adjust("1 second")
          yield* eventually("all delivered", webhooks.stats, ({ after }) => after.delivered === 20)
          expect(yield* breaker).toMatchObject({ status: "closed", failures: 0 })
          expect(yield* gaugeValue).toBe(0)
          // 10 failed attempts, 1 failed probe, then one success per delivery.
          expect(server.requests).toHaveLength(31)
        })
      ).pipe(Effect.provide(captureLogs(logs)), Effect.withRandom(Random.fixed([0.5])))

      const changes = logs.filter((line) => line.message.startsWith("circuit breaker"))
      expect(changes.map((line) => line.message)).toEqual([
        "circuit breaker open: deliveries wait 30s, then one probe attempt decides",
        "circuit breaker half-open: the next attempt is a probe",
        "circuit breaker open: deliveries wait 1m, then one probe attempt decides",
        "circuit breaker half-open: the next attempt is a probe",
        "circuit breaker closed: the probe was delivered"
      ])
      expect(changes.every((line) => line.annotations.webhook === "flaky" && line.annotations.connector === name)).toBe(true)
    }))

  it.scoped("once closed, the held deliveries go as many at once as the webhook's share allows", () =>
    Effect.gen(function*() {
      // Fails the attempts made before 30s on the clock (their webhook-timestamp says when they
      // were made, however late they arrive); answers the first one after, the probe, and holds
      // every later one unanswered.
      let answered = 0
      let finished = false
      const server = yield* receiver((request, response, index) => {
        if (Number(request.headers["webhook-timestamp"]) < 30) return status(503)(request, response, index)
        if (answered++ === 0) ok(request, response, index)
      })
      const fiber = yield* withServo(
        servoLayer([{ name: "flaky", event: "after:measure", target: server.url, breaker: { failures: 2, cooldown: "30s" }, max_in_flight: 4 }], {
          workers: 4,
          drainTimeout: "1 millis"
        }),
        Effect.gen(function*() {
          const webhooks = yield* Webhooks.Webhooks
          yield* measure(10)
          yield* eventually("open", webhooks.breakers, (all) => all[0]!.status === "open")
          yield* awaitSleep("1 second")
          yield* TestClock.adjust("29 seconds")
          yield* awaitSleep("1 second")
          yield* TestClock.adjust("1 second")
          yield* eventually("closed", webhooks.breakers, (all) => all[0]!.status === "closed")
          // The probe, then four held requests at once: every worker woke, not just one.
          const late = () => server.requests.filter((request) => Number(request.headers["webhook-timestamp"]) >= 30).length
          yield* until("the probe and 4 more", () => late() === 5)
          finished = true
          return { late: late(), now: yield* TestClock.currentTimeMillis }
        })
      ).pipe(Effect.fork)
      // The drain's 1ms deadline is on a clock this test moved: wait for the body to finish first.
      yield* until("the body finished", () => finished)
      yield* awaitSleep("1 millis")
      yield* TestClock.adjust("1 millis")
      const { late, now } = yield* Fiber.join(fiber)
      expect(late).toBe(5)
      expect(now).toBe(30_000)
    }).pipe(Effect.withRandom(Random.fixed([0.5]))))

  it.scoped("a delivery whose deadline passes while the breaker is open fails, saying so, without an attempt", () =>
    Effect.gen(function*() {
      const logs: Array<LogLine> = []
      const server = yield* receiver(status(503))
      yield* withServo(
        servoLayer([{
          name: "flaky",
          event: "after:measure",
          target: server.url,
          breaker: { failures: 2, cooldown: "30s" },
          backoff: { retries: 5, timeout: "10s" }
        }], { workers: 1, drainTimeout: "1 millis" }),
        Effect.gen(function*() {
          const webhooks = yield* Webhooks.Webhooks
          yield* measure(3)
          yield* eventually("open", webhooks.breakers, (all) => all[0]!.status === "open")
          expect(server.requests).toHaveLength(2)
          yield* awaitSleep("1 second")
          yield* TestClock.adjust("29 seconds")
          yield* awaitSleep("1 second")
          yield* TestClock.adjust("1 second")
          // At 30s every deadline (10s) has passed: all three fail without a probe.
          const stats = yield* eventually("all failed", webhooks.stats, ({ after }) => after.failed === 3)
          expect(stats.after).toMatchObject({ delivered: 0, failed: 3, pending: 0 })
          expect(server.requests).toHaveLength(2)
        })
      ).pipe(Effect.provide(captureLogs(logs)), Effect.withRandom(Random.fixed([0.5])))
      const failed = logs.filter((line) => line.message.startsWith("delivery failed")).map((line) => line.message).sort()
      expect(failed).toEqual([
        "delivery failed after 0 attempts: not attempted (the delivery's deadline passed while the circuit breaker was open)",
        "delivery failed after 1 attempt: HTTP 503 (the delivery's deadline passed while the circuit breaker was open)",
        "delivery failed after 1 attempt: HTTP 503 (the delivery's deadline passed while the circuit breaker was open)"
      ])
    }))

  it.scoped("breaker: false never stops attempts", () =>
    Effect.gen(function*() {
      const server = yield* receiver(status(503))
      yield* withServo(
        servoLayer([{ name: "plain", event: "after:measure", target: server.url, breaker: false, backoff: { retries: 0 } }], { workers: 1 }),
        Effect.gen(function*() {
          const webhooks = yield* Webhooks.Webhooks
          expect(yield* webhooks.breakers).toEqual([])
          yield* measure(30)
          yield* eventually("all failed", webhooks.stats, ({ after }) => after.failed === 30)
        })
      )
      expect(server.requests).toHaveLength(30)
    }))
})

/** An http server on a given port of 127.0.0.1 that answers 204 and records each delivery's id. */
const listenOn = (port: number, ids: Set<string>) =>
  Effect.acquireRelease(
    Effect.async<http.Server>((resume) => {
      const server = http.createServer((request, response) => {
        request.resume()
        request.on("end", () => {
          ids.add(String(request.headers["webhook-id"]))
          response.writeHead(204).end()
        })
      })
      server.listen(port, "127.0.0.1", () => resume(Effect.succeed(server)))
    }),
    (server) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  )

describe("the after defaults outlast a receiver's outage", () => {
  /**
   * 20 after deliveries to a receiver that refuses connections for 10 minutes, then answers;
   * the clock stepped from one engine wake-up to the next (the next retry, or the end of a
   * breaker's cooldown), with the earliest jitter (every wait 0.8× its nominal length), the case
   * that spends the retries fastest. Returns the final stats and the ids that arrived.
   */
  const outage = (entry: Record<string, unknown>) =>
    Effect.gen(function*() {
      const port = yield* closedPort
      const ids = new Set<string>()
      const stats = yield* withServo(
        servoLayer([{ name: "outage", event: "after:measure", target: `http://127.0.0.1:${port}/hook`, ...entry }], {
          drainTimeout: "1 millis"
        }),
        Effect.gen(function*() {
          const webhooks = yield* Webhooks.Webhooks
          yield* measure(20)
          let up = false
          for (let steps = 0; steps < 10_000; steps++) {
            const { after } = yield* webhooks.stats
            if (after.delivered + after.failed === 20) break
            const now = yield* TestClock.currentTimeMillis
            if (!up && now >= 600_000) {
              yield* listenOn(port, ids)
              up = true
            }
            const sleeps = yield* eventually("the engine sleeping", TestClock.sleeps(), Chunk.some((end) => end > now))
            const next = Math.min(...Chunk.toReadonlyArray(sleeps).filter((end) => end > now))
            // Never past the 10-minute mark while the receiver is down.
            yield* TestClock.adjust((up || next <= 600_000 ? next : 600_000) - now)
          }
          return yield* webhooks.stats
        })
      ).pipe(Effect.withRandom(Random.fixed([0])))
      return { after: stats.after, arrived: ids.size }
    })

  it.scoped("with the defaults (breaker on): all 20 arrive", () =>
    Effect.gen(function*() {
      const { after, arrived } = yield* outage({})
      expect(after).toMatchObject({ enqueued: 20, delivered: 20, failed: 0, pending: 0 })
      expect(arrived).toBe(20)
    }))

  it.scoped("with the default backoff alone (breaker off): all 20 arrive", () =>
    Effect.gen(function*() {
      const { after, arrived } = yield* outage({ breaker: false })
      expect(after).toMatchObject({ enqueued: 20, delivered: 20, failed: 0, pending: 0 })
      expect(arrived).toBe(20)
    }))

  it.scoped("with the old default (3 retries within 5m) all 20 are lost: what the new default prevents", () =>
    Effect.gen(function*() {
      const { after, arrived } = yield* outage({ breaker: false, backoff: { retries: 3, timeout: "5m" } })
      expect(after).toMatchObject({ enqueued: 20, delivered: 0, failed: 20, pending: 0 })
      expect(arrived).toBe(0)
    }))
})

describe("servo webhooks list shows endpoint health settings", () => {
  afterAll(removeTempDirs)

  it.live("BREAKER appears when a breaker is not the default; --json has breaker and max_in_flight", () =>
    Effect.gen(function*() {
      const config = writeConfig(`
name: health
simulator: {}
webhooks:
  - { name: plain, event: after:measure, target: "http://127.0.0.1:9/a" }
  - { name: touchy, event: after:measure, target: "http://127.0.0.1:9/b", breaker: { failures: 5, cooldown: 1m }, max_in_flight: 2 }
  - { name: gate, event: before:adjust, target: "http://127.0.0.1:9/c", breaker: false }
`)
      const table = yield* servo("webhooks", "list", "--config", config)
      expect(table.code).toBe(0)
      const [header, ...rows] = table.stdout[0]!.split("\n").map((line) => line.trim().split(/\s{2,}/))
      expect(header).toEqual(["NAME", "EVENTS", "TARGET", "AUTH", "SIGNED", "BACKOFF", "BREAKER"])
      expect(rows.map((row) => [row[0], row[5], row[6]])).toEqual([
        ["plain", "12 retries, 24h", "-"],
        ["touchy", "12 retries, 24h", "5 failures, 1m"],
        ["gate", "3 retries, 5m", "off"]
      ])
      const json = yield* servo("webhooks", "list", "--json", "--config", config)
      expect(JSON.parse(text(json.stdout)).map((row: any) => [row.name, row.max_in_flight, row.breaker])).toEqual([
        ["plain", null, { failures: 10, cooldown: "30s" }],
        ["touchy", 2, { failures: 5, cooldown: "1m" }],
        ["gate", null, false]
      ])
    }))
})

describe("config: max_in_flight, breaker and the backoff defaults", () => {
  const decode = (input: ReadonlyArray<unknown>) =>
    Schema.decodeUnknownEither(WebhookConfig.WebhooksConfig(CoreEvents.registry), { errors: "all" })(input)
  const messageOf = (input: ReadonlyArray<unknown>) =>
    Either.match(decode(input), { onLeft: (error) => ParseResult.TreeFormatter.formatErrorSync(error), onRight: () => "decoded" })
  const target = "http://127.0.0.1:9/hook"

  it("the backoff default follows the events; left-out fields too; explicit ones stay", () => {
    const [after, before, mixed, partial, explicit] = Either.getOrThrow(decode([
      { event: "after:measure", target },
      { event: "before:adjust", target },
      { events: ["after:measure", "before:adjust"], target },
      { event: "after:measure", target, backoff: { retries: 2 } },
      { event: "after:measure", target, backoff: { retries: 3, timeout: "5m" } }
    ]))
    expect(after!.backoff).toEqual({ retries: 12, timeout: Duration.hours(24) })
    expect(before!.backoff).toEqual({ retries: 3, timeout: Duration.minutes(5) })
    // A before event makes the whole entry short.
    expect(mixed!.backoff).toEqual({ retries: 3, timeout: Duration.minutes(5) })
    expect(partial!.backoff).toEqual({ retries: 2, timeout: Duration.hours(24) })
    expect(explicit!.backoff).toEqual({ retries: 3, timeout: Duration.minutes(5) })
  })

  it("max_in_flight and breaker decode; the breaker's left-out fields take the defaults", () => {
    const [a, b, c] = Either.getOrThrow(decode([
      { event: "after:measure", target, max_in_flight: 2, breaker: { failures: 3 } },
      { event: "after:measure", target, breaker: false },
      { event: "after:measure", target }
    ]))
    expect(a).toMatchObject({ max_in_flight: 2, breaker: { failures: 3, cooldown: Duration.seconds(30) } })
    expect(b!.breaker).toBe(false)
    expect(c!.breaker).toBeUndefined()
  })

  it("refuses bad values, each with its path and what was expected", () => {
    const message = messageOf([
      { event: "after:measure", target, max_in_flight: 0 },
      { event: "after:measure", target, breaker: "often" },
      { event: "after:measure", target, breaker: { cooldown: "2h" } }
    ])
    expect(message).toContain("expected a whole number of attempts (1 or more), got 0")
    expect(message).toContain("expected false (no breaker) or { failures, cooldown }")
    expect(message).toContain("1h")
  })

  it.effect("resolve puts them on the Webhook: the default breaker unless false", () =>
    Effect.gen(function*() {
      const [a, b] = yield* WebhookConfig.resolve(Either.getOrThrow(decode([
        { event: "after:measure", target, max_in_flight: 2 },
        { event: "after:measure", target, breaker: false }
      ])))
      expect(a).toMatchObject({ maxInFlight: 2, breaker: WebhookConfig.defaults.breaker })
      expect(b!.maxInFlight).toBeUndefined()
      expect(b!.breaker).toBeUndefined()
    }))

  it("the JSON Schema describes both", () => {
    const text = JSON.stringify(JSONSchema.make(WebhookConfig.WebhooksConfig(CoreEvents.registry)))
    expect(text).toContain("\"max_in_flight\"")
    expect(text).toContain("\"breaker\"")
  })
})
