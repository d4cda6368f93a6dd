import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Schedule from "effect/Schedule"
import * as TestClock from "effect/TestClock"
import * as Delivery from "../src/webhooks/Delivery.js"
import * as WebhookConfig from "../src/webhooks/WebhookConfig.js"
import type { Webhook } from "../src/webhooks/WebhookConfig.js"
import { step } from "./support/clock.js"
import { closedPort, never, ok, receiver, sequence, status } from "./support/receiver.js"

const webhook = (target: string, overrides: Partial<Webhook> = {}): Webhook => ({
  name: "hook",
  events: [{ preposition: "after", event: "measure" }],
  target,
  headers: [],
  authentication: { _tag: "None" },
  signingKeys: [],
  requestTimeout: Duration.seconds(10),
  onFailure: "ignore",
  backoff: { retries: 3, timeout: Duration.minutes(5) },
  tracePropagation: false,
  ...overrides
})

const message: Delivery.Message = { id: "msg_test", event: "after:measure", body: new TextEncoder().encode(`{"id":"msg_test"}`) }

/** Jitter pinned to the middle of its ±20 % band, so waits are exactly 1s, 2s, 4s... */
const send = (hook: Webhook) =>
  Delivery.makeSender(hook).pipe(
    Effect.flatMap((sender) => sender.send(message)),
    Effect.withRandom(Random.fixed([0.5])),
    Effect.provide(NodeHttpClient.layerUndici)
  )

describe("Delivery: retries under TestClock", () => {
  it.scoped("503, 503, 200 → 3 attempts, one webhook-id, a fresh timestamp each time", () =>
    Effect.gen(function*() {
      const server = yield* receiver(sequence(status(503), status(503), ok))
      yield* TestClock.setTime(1_700_000_000_000)
      const fiber = yield* Effect.fork(send(webhook(server.url)))
      yield* server.waitFor(1)
      yield* step("1 second")
      yield* server.waitFor(2)
      yield* step("2 seconds")
      const outcome = yield* Fiber.join(fiber)
      expect(outcome).toMatchObject({ _tag: "Delivered", status: 200, attempts: 3 })
      expect(Duration.toMillis((outcome as Delivery.Delivered).duration)).toBe(3000)
      expect(server.requests.map((r) => r.headers["webhook-id"])).toEqual(["msg_test", "msg_test", "msg_test"])
      expect(server.requests.map((r) => r.headers["webhook-timestamp"])).toEqual(["1700000000", "1700000001", "1700000003"])
    }))

  it.scoped("429 with Retry-After: 7 waits 7 seconds, not the backoff's 1", () =>
    Effect.gen(function*() {
      const server = yield* receiver(sequence(status(429, { "retry-after": "7" }), ok))
      const fiber = yield* Effect.fork(send(webhook(server.url)))
      yield* server.waitFor(1)
      yield* step("7 seconds")
      expect(yield* Fiber.join(fiber)).toMatchObject({ _tag: "Delivered", attempts: 2 })
    }))

  it.scoped("429 with an HTTP-date Retry-After waits until that date", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.parse("2026-11-29T10:00:00Z"))
      const server = yield* receiver(sequence(status(429, { "retry-after": "Sun, 29 Nov 2026 10:00:12 GMT" }), ok))
      const fiber = yield* Effect.fork(send(webhook(server.url)))
      yield* server.waitFor(1)
      yield* step("12 seconds")
      expect(yield* Fiber.join(fiber)).toMatchObject({ _tag: "Delivered", attempts: 2 })
    }))

  it.scoped("a Retry-After past the deadline stops retrying at once", () =>
    Effect.gen(function*() {
      const server = yield* receiver(status(503, { "retry-after": "600" }))
      const outcome = yield* send(webhook(server.url))
      expect(outcome).toMatchObject({ _tag: "Failed", status: 503, attempts: 1 })
      expect((outcome as Delivery.Failed).reason).toMatch(/the next try would pass the 5m deadline/)
    }))

  it.scoped("400 → 1 attempt, failed with the status and the receiver's words", () =>
    Effect.gen(function*() {
      const server = yield* receiver(status(400, { "content-type": "application/json" }, `{"error":"bad field"}`))
      const outcome = yield* send(webhook(server.url))
      expect(outcome).toMatchObject({ _tag: "Failed", status: 400, attempts: 1, reason: `HTTP 400: {"error":"bad field"}` })
      expect(server.requests).toHaveLength(1)
    }))

  it.scoped("301 → 1 attempt, the redirect never followed", () =>
    Effect.gen(function*() {
      const elsewhere = yield* receiver(ok)
      const server = yield* receiver(status(301, { location: elsewhere.url }))
      const outcome = yield* send(webhook(server.url))
      expect(outcome).toMatchObject({ _tag: "Failed", status: 301, attempts: 1 })
      expect((outcome as Delivery.Failed).reason).toBe(`redirected with 301 to ${elsewhere.url}; redirects are never followed`)
      expect(elsewhere.requests).toHaveLength(0)
    }))

  it.scoped("connection refused → retried until the retries run out, then failed", () =>
    Effect.gen(function*() {
      const port = yield* closedPort
      const fiber = yield* Effect.fork(send(webhook(`http://127.0.0.1:${port}/hook`, { backoff: { retries: 2, timeout: Duration.minutes(5) } })))
      yield* step("1 second")
      yield* step("2 seconds")
      const outcome = yield* Fiber.join(fiber)
      expect(outcome).toMatchObject({ _tag: "Failed", attempts: 3, reason: "connection refused (gave up after 3 attempts)" })
    }))

  it.scoped("backoff: false → 1 attempt", () =>
    Effect.gen(function*() {
      const server = yield* receiver(status(503))
      const { backoff: _, ...once } = webhook(server.url)
      const outcome = yield* send(once)
      expect(outcome).toMatchObject({ _tag: "Failed", status: 503, attempts: 1, reason: "HTTP 503" })
    }))

  it.scoped("the deadline cuts retries short", () =>
    Effect.gen(function*() {
      const server = yield* receiver(status(503))
      // Waits of 1s, 2s, 4s would end at 1s, 3s, 7s: with a 5s deadline the third never starts.
      const fiber = yield* Effect.fork(send(webhook(server.url, { backoff: { retries: 10, timeout: Duration.seconds(5) } })))
      yield* server.waitFor(1)
      yield* step("1 second")
      yield* server.waitFor(2)
      yield* step("2 seconds")
      const outcome = yield* Fiber.join(fiber)
      expect(outcome).toMatchObject({ _tag: "Failed", attempts: 3 })
      expect((outcome as Delivery.Failed).reason).toBe("HTTP 503 (stopped after 3 attempts: the next try would pass the 5s deadline)")
    }))

  it.scoped("a receiver that never answers hits the per-attempt timeout, then is retried", () =>
    Effect.gen(function*() {
      const server = yield* receiver(sequence(never, ok))
      const fiber = yield* Effect.fork(send(webhook(server.url, { requestTimeout: Duration.seconds(2) })))
      yield* server.waitFor(1)
      yield* step("2 seconds")
      yield* step("1 second")
      const outcome = yield* Fiber.join(fiber)
      expect(outcome).toMatchObject({ _tag: "Delivered", attempts: 2 })
    }))

  it.scoped("a timed-out attempt is reported as such when it is the last", () =>
    Effect.gen(function*() {
      const server = yield* receiver(never)
      const { backoff: _, ...once } = webhook(server.url, { requestTimeout: Duration.millis(1500) })
      const fiber = yield* Effect.fork(send(once))
      yield* server.waitFor(1)
      yield* step("1500 millis")
      expect(yield* Fiber.join(fiber)).toMatchObject({ _tag: "Failed", attempts: 1, reason: "no answer within 1s500ms" })
    }))

  it.effect("waits grow ×2 from 1s, each capped at 1m, jittered within ±20 %", () =>
    Effect.gen(function*() {
      const failure: Delivery.AttemptFailure = { _tag: "AttemptFailure", reason: "HTTP 503", retryable: true }
      // The schedule's output is the wait it chose: run it over failures and read them. Schedule.run
      // also reports the step that stops the schedule, so N retries give N + 1 outputs.
      const schedule = Delivery.retrySchedule({ retries: 9, timeout: Duration.hours(1) }, Number.MAX_SAFE_INTEGER)
      const delaysWith = (random: number) =>
        Schedule.run(schedule, 0, Array.from({ length: 10 }, () => failure)).pipe(
          Effect.map((delays) => Chunk.toReadonlyArray(delays).map(Duration.toMillis)),
          Effect.tap((delays) => expect(delays).toHaveLength(10)),
          Effect.map((delays) => delays.slice(0, 9)),
          Effect.withRandom(Random.fixed([random]))
        )
      expect(yield* delaysWith(0.5)).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000])
      expect(yield* delaysWith(0)).toEqual([800, 1600, 3200, 6400, 12800, 25600, 51200, 60000, 60000])
      expect(yield* delaysWith(1)).toEqual([1200, 2400, 4800, 9600, 19200, 38400, 60000, 60000, 60000])
      // Not retried: a 400, and a 503 once the deadline is near.
      const final = { ...failure, retryable: false }
      expect(Chunk.size(yield* Schedule.run(schedule, 0, [final, final]))).toBe(1)
      // The clock stands still in Schedule.run: the 2s wait would end past 1.5s, so one retry only.
      const tight = Delivery.retrySchedule({ retries: 9, timeout: Duration.hours(1) }, 1500)
      const tightDelays = yield* Schedule.run(tight, 0, [failure, failure, failure]).pipe(Effect.withRandom(Random.fixed([0.5])))
      expect(Chunk.toReadonlyArray(tightDelays).map(Duration.toMillis)).toEqual([1000, 2000])
    }))
})

describe("Delivery: the after schedule (README's table)", () => {
  it.effect("an after-only webhook's waits are capped at 10m; 12 retries span 33m38s–40m13s", () =>
    Effect.gen(function*() {
      const failure: Delivery.AttemptFailure = { _tag: "AttemptFailure", reason: "connection refused", retryable: true }
      const after = { events: [{ preposition: "after" }] }
      const mixed = { events: [{ preposition: "after" }, { preposition: "before" }] }
      expect(Delivery.maxWaitOf(after)).toEqual(Duration.minutes(10))
      expect(Delivery.maxWaitOf(mixed)).toEqual(Duration.minutes(1))
      const schedule = Delivery.retrySchedule(WebhookConfig.defaults.afterBackoff, Number.MAX_SAFE_INTEGER, Delivery.maxWaitOf(after))
      const delaysWith = (random: number) =>
        Schedule.run(schedule, 0, Array.from({ length: 14 }, () => failure)).pipe(
          Effect.map((delays) => Chunk.toReadonlyArray(delays).map(Duration.toMillis)),
          Effect.withRandom(Random.fixed([random]))
        )
      const earliest = yield* delaysWith(0)
      const latest = yield* delaysWith(1)
      // 12 retries (and the step that stops the schedule).
      expect(earliest).toHaveLength(13)
      expect(earliest.slice(0, 12)).toEqual([800, 1600, 3200, 6400, 12800, 25600, 51200, 102400, 204800, 409600, 600000, 600000])
      expect(latest.slice(0, 12)).toEqual([1200, 2400, 4800, 9600, 19200, 38400, 76800, 153600, 307200, 600000, 600000, 600000])
      const sum = (delays: ReadonlyArray<number>) => delays.slice(0, 12).reduce((a, b) => a + b, 0)
      expect(sum(earliest)).toBe(2_018_400) // 33m38.4s
      expect(sum(latest)).toBe(2_413_200) // 40m13.2s
      // The before default stays short: 3 retries, at most 8.4s of waiting.
      const before = Delivery.retrySchedule(WebhookConfig.defaults.backoff, Number.MAX_SAFE_INTEGER, Delivery.maxWaitOf(mixed))
      const beforeDelays = yield* Schedule.run(before, 0, Array.from({ length: 5 }, () => failure)).pipe(Effect.withRandom(Random.fixed([1])))
      expect(Chunk.toReadonlyArray(beforeDelays).map(Duration.toMillis).slice(0, 3)).toEqual([1200, 2400, 4800])
      expect(Chunk.size(beforeDelays)).toBe(4)
    }))
})

describe("Delivery: Retry-After", () => {
  it("reads delay seconds and HTTP dates", () => {
    const now = Date.parse("2026-11-29T10:00:00Z")
    expect(Delivery.parseRetryAfter("7", now)).toEqual(Option.some(Duration.seconds(7)))
    expect(Delivery.parseRetryAfter("Sun, 29 Nov 2026 10:01:30 GMT", now)).toEqual(Option.some(Duration.seconds(90)))
    expect(Delivery.parseRetryAfter("Sun, 29 Nov 2026 09:00:00 GMT", now)).toEqual(Option.some(Duration.zero))
    expect(Delivery.parseRetryAfter("soon", now)).toEqual(Option.none())
  })
})
