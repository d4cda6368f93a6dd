/**
 * `servo webhooks deliveries`: the operator's view of the durable outbox the config names
 * (`webhooks.outbox`, sqlite or postgres), through `OutboxStore.OutboxAdmin`.
 *
 * - `list [--status pending|failed|delivered|all] [--webhook NAME] [--limit N]`, newest first
 * - `show ID`: the body and every attempt (time, status, result, duration)
 * - `resend ID...` or `resend --failed [--webhook NAME] [--since DURATION]`: due now, with the
 *   same `webhook-id` and body, the earlier attempts kept in the history
 * - `purge --older-than DURATION [--status delivered|failed]`: pending deliveries are never purged
 *
 * Each takes `--json`. Text that came from the network (a receiver's error, a body) is printed
 * escaped. With the memory store there is nothing persistent to read: the commands say so and
 * exit 1. Only the outbox's secret (its URL) is read from the config, not the webhooks'.
 *
 * @since 0.2.0
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Console from "effect/Console"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { untrusted } from "../internal/terminal.js"
import * as OutboxStore from "../webhooks/OutboxStore.js"
import * as CliError from "./CliError.js"
import { type Assembly, type AssemblyLoader, configOnlyAssembly } from "./internal/assemblies.js"
import * as Format from "./internal/format.js"
import { config } from "./internal/options.js"

// ---------------------------------------------------------------------------------------------
// The store
// ---------------------------------------------------------------------------------------------

/**
 * Runs `use` with the admin of the outbox in the config at `path`, opened for the command and
 * closed after it; fails with one line when the outbox is in memory or cannot be opened.
 */
const withAdmin = <A>(
  assembly: Assembly,
  path: string,
  use: (admin: OutboxStore.Admin) => Effect.Effect<A, OutboxStore.OutboxStoreError | CliError.CliError>
): Effect.Effect<A, CliError.CliError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const [{ load, section }, WebhookConfig, Webhooks] = yield* Effect.promise(() =>
      Promise.all([import("./internal/config.js"), import("../webhooks/WebhookConfig.js"), import("../webhooks/Webhooks.js")])
    )
    const loaded = yield* load(assembly, path).pipe(Effect.mapError(CliError.fromInvalidConfig))
    const outbox = yield* WebhookConfig.resolveOutbox(WebhookConfig.outboxOf(loaded.webhooks), { section, source: path }).pipe(
      Effect.mapError(CliError.fromInvalidConfig)
    )
    if (outbox.store === "memory") {
      return yield* CliError.fail(
        `${path}: the outbox is in memory (webhooks.outbox.store: memory): nothing persistent to read; deliveries live and end inside each servo process`
      )
    }
    return yield* Effect.scoped(Effect.gen(function*() {
      const context = yield* Layer.build(Webhooks.durableStoreLayer(outbox))
      return yield* use(Context.get(context, OutboxStore.OutboxAdmin))
    })).pipe(
      Effect.mapError((error) => error instanceof CliError.CliError ? error : new CliError.CliError({ message: error.message }))
    )
  })

// ---------------------------------------------------------------------------------------------
// Formatting
// ---------------------------------------------------------------------------------------------

const iso = (millis: number) => new Date(millis).toISOString()

/** A delivery as `--json` prints it: times as ISO 8601 text. */
const summaryJson = (delivery: OutboxStore.DeliverySummary) => ({
  id: delivery.id,
  webhook: delivery.webhook,
  event: delivery.event,
  status: delivery.status,
  attempts: delivery.attempts,
  created_at: iso(delivery.createdAt),
  due_at: delivery.status === "pending" ? iso(delivery.dueAt) : null,
  updated_at: iso(delivery.updatedAt),
  last_error: delivery.lastError ?? null,
  lease_until: delivery.leaseUntil === undefined ? null : iso(delivery.leaseUntil)
})

const bodyText = (body: Uint8Array) => new TextDecoder().decode(body)

const bodyJson = (body: Uint8Array): unknown => {
  const text = bodyText(body)
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

const statusText = (delivery: OutboxStore.DeliverySummary, now: number) =>
  delivery.status === "pending" && delivery.leaseUntil !== undefined && delivery.leaseUntil > now ? "pending (leased)" : delivery.status

/** Text a receiver sent, on one line, escaped; long reasons cut. */
const reasonText = (reason: string | undefined, width = 80) => {
  if (reason === undefined) return "-"
  const text = untrusted(reason)
  return text.length > width ? `${text.slice(0, width - 1)}…` : text
}

const durationOption = (name: string, description: string) =>
  Options.text(name).pipe(Options.withPseudoName("DURATION"), Options.withDescription(description))

/** `--since 7d`, `--older-than 36h`: days, or a Go duration. */
const parseDuration = (option: string, text: string): Effect.Effect<Duration.Duration, CliError.CliError> =>
  Effect.flatMap(Effect.promise(() => import("../webhooks/internal/configSchema.js")), ({ parseLongDuration }) =>
    Either.match(parseLongDuration(text), {
      onLeft: () => CliError.fail(`${option}: expected a duration such as 7d, 36h, 90m or 30s, got ${JSON.stringify(untrusted(text.slice(0, 20)))}`),
      onRight: Effect.succeed
    }))

const json = Options.boolean("json").pipe(Options.withDescription("Print JSON instead of text"))

const webhookOption = Options.text("webhook").pipe(
  Options.withPseudoName("NAME"),
  Options.withDescription("Only the deliveries of this webhook"),
  Options.optional
)

// ---------------------------------------------------------------------------------------------
// list
// ---------------------------------------------------------------------------------------------

const listCommand = (assembly: AssemblyLoader) =>
  Command.make("list", {
    config,
    json,
    status: Options.choice("status", ["pending", "failed", "delivered", "all"]).pipe(
      Options.withDescription("Which deliveries: pending (default; due, waiting to retry or leased), failed (dead letters), delivered, all"),
      Options.withDefault("pending" as const)
    ),
    webhook: webhookOption,
    limit: Options.integer("limit").pipe(
      Options.withPseudoName("N"),
      Options.withDescription("At most N deliveries, newest first (default: 50)"),
      Options.withDefault(50)
    )
  }, (options) =>
    Effect.flatMap(assembly, (loaded) =>
      withAdmin(loaded, options.config, (admin) =>
        Effect.gen(function*() {
          if (options.limit < 1) return yield* CliError.fail("--limit must be 1 or more")
          const deliveries = yield* admin.list({
            status: options.status,
            limit: options.limit,
            ...(Option.isSome(options.webhook) ? { webhook: options.webhook.value } : {})
          })
          if (options.json) return yield* Console.log(JSON.stringify(deliveries.map(summaryJson), null, 2))
          if (deliveries.length === 0) return yield* Console.log(`no ${options.status === "all" ? "" : `${options.status} `}deliveries`)
          const now = Date.now()
          yield* Console.log(Format.table(
            ["ID", "WEBHOOK", "EVENT", "STATUS", "ATTEMPTS", "CREATED", "LAST ERROR"],
            deliveries.map((delivery) => [
              delivery.id,
              untrusted(delivery.webhook),
              untrusted(delivery.event),
              statusText(delivery, now),
              String(delivery.attempts),
              iso(delivery.createdAt),
              reasonText(delivery.lastError)
            ])
          ))
        })))).pipe(
    Command.withDescription(
      "List deliveries in the durable outbox, newest first: pending (default), failed (dead letters), delivered or all. --json prints a JSON array."
    )
  )

// ---------------------------------------------------------------------------------------------
// show
// ---------------------------------------------------------------------------------------------

const showCommand = (assembly: AssemblyLoader) =>
  Command.make("show", { config, json, id: Args.text({ name: "ID" }).pipe(Args.withDescription("A delivery's webhook-id")) }, (options) =>
    Effect.flatMap(assembly, (loaded) =>
      withAdmin(loaded, options.config, (admin) =>
        Effect.gen(function*() {
          const found = yield* admin.show(options.id)
          if (found === undefined) return yield* CliError.fail(`no delivery ${JSON.stringify(untrusted(options.id))} in the outbox`)
          if (options.json) {
            return yield* Console.log(JSON.stringify({
              ...summaryJson(found),
              body: bodyJson(found.body),
              history: found.history.map((attempt) => ({
                number: attempt.number,
                started_at: iso(attempt.startedAt),
                duration_ms: attempt.durationMs,
                status: attempt.status ?? null,
                result: attempt.result
              }))
            }, null, 2))
          }
          const now = Date.now()
          yield* Console.log(Format.table([], [
            ["id", found.id],
            ["webhook", untrusted(found.webhook)],
            ["event", untrusted(found.event)],
            ["status", statusText(found, now)],
            ["attempts", String(found.attempts)],
            ["created", iso(found.createdAt)],
            ...(found.status === "pending" ? [["due", iso(found.dueAt)]] : []),
            ["updated", iso(found.updatedAt)],
            ...(found.lastError === undefined ? [] : [["last error", untrusted(found.lastError)]])
          ]))
          yield* Console.log("")
          yield* Console.log(
            found.history.length === 0
              ? "no attempts yet"
              : Format.table(
                ["ATTEMPT", "STARTED", "STATUS", "DURATION", "RESULT"],
                found.history.map((attempt) => [
                  String(attempt.number),
                  iso(attempt.startedAt),
                  attempt.status === undefined ? "-" : String(attempt.status),
                  `${Format.number(attempt.durationMs)}ms`,
                  untrusted(attempt.result)
                ])
              )
          )
          yield* Console.log("")
          yield* Console.log(untrusted(bodyText(found.body)))
        })))).pipe(
    Command.withDescription("Show one delivery: its fields, every attempt (time, HTTP status, result, duration) and its body. --json prints one JSON object.")
  )

// ---------------------------------------------------------------------------------------------
// resend
// ---------------------------------------------------------------------------------------------

const resendCommand = (assembly: AssemblyLoader) =>
  Command.make("resend", {
    config,
    json,
    failed: Options.boolean("failed").pipe(Options.withDescription("Resend every failed delivery (dead letter), or those of --webhook since --since")),
    webhook: webhookOption,
    since: durationOption("since", "With --failed: only those that failed within this long, such as 1h or 7d").pipe(Options.optional),
    ids: Args.text({ name: "ID" }).pipe(Args.withDescription("Deliveries to resend, by webhook-id"), Args.repeated)
  }, (options) =>
    Effect.flatMap(assembly, (loaded) =>
      Effect.gen(function*() {
        if (options.failed === (options.ids.length > 0)) {
          return yield* CliError.fail("resend takes delivery IDs or --failed, one of the two")
        }
        if (!options.failed && (Option.isSome(options.webhook) || Option.isSome(options.since))) {
          return yield* CliError.fail("--webhook and --since go with --failed")
        }
        const since = Option.isSome(options.since) ? Option.some(yield* parseDuration("--since", options.since.value)) : Option.none()
        const request: OutboxStore.ResendRequest = options.failed
          ? {
            _tag: "Failed",
            ...(Option.isSome(options.webhook) ? { webhook: options.webhook.value } : {}),
            ...(Option.isSome(since) ? { since: Date.now() - Duration.toMillis(since.value) } : {})
          }
          : { _tag: "Ids", ids: options.ids }
        yield* withAdmin(loaded, options.config, (admin) =>
          Effect.gen(function*() {
            const resent = yield* admin.resend(request)
            const skipped = request._tag === "Ids" ? request.ids.filter((id) => !resent.includes(id)) : []
            if (options.json) yield* Console.log(JSON.stringify({ resent, skipped }, null, 2))
            else {
              yield* Console.log(
                resent.length === 0 ? "resent nothing" : `resent ${Format.count(resent.length, "delivery", "deliveries")}: ${resent.join(", ")}`
              )
            }
            if (skipped.length > 0) {
              return yield* CliError.fail(
                `not resent (unknown, or still pending): ${skipped.map((id) => untrusted(id)).join(", ")}`
              )
            }
          }))
      }))).pipe(
    Command.withDescription(
      "Make finished deliveries pending again, due now, with the same webhook-id and body (their earlier attempts stay in the history): the IDs given, or with --failed every dead letter (of --webhook, failed within --since). Exits 1 when an ID was not resent."
    )
  )

// ---------------------------------------------------------------------------------------------
// purge
// ---------------------------------------------------------------------------------------------

const purgeCommand = (assembly: AssemblyLoader) =>
  Command.make("purge", {
    config,
    json,
    olderThan: durationOption("older-than", "Delete deliveries that finished longer ago than this, such as 7d or 12h"),
    status: Options.choice("status", ["delivered", "failed"]).pipe(
      Options.withDescription("Only delivered, or only failed, deliveries (default: both; pending ones are never purged)"),
      Options.optional
    )
  }, (options) =>
    Effect.flatMap(assembly, (loaded) =>
      Effect.gen(function*() {
        const olderThan = yield* parseDuration("--older-than", options.olderThan)
        yield* withAdmin(loaded, options.config, (admin) =>
          Effect.gen(function*() {
            const purged = yield* admin.purge({
              before: Date.now() - Duration.toMillis(olderThan),
              ...(Option.isSome(options.status) ? { status: options.status.value } : {})
            })
            yield* Console.log(
              options.json ? JSON.stringify({ purged }) : `purged ${Format.count(purged, "delivery", "deliveries")}`
            )
          }))
      }))).pipe(
    Command.withDescription(
      "Delete finished deliveries (delivered and failed, or --status) that finished longer ago than --older-than. Pending deliveries are never purged."
    )
  )

/**
 * The `deliveries` group, reading servo.yaml with `assembly` (default: the bundled connectors).
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = (assembly: AssemblyLoader = configOnlyAssembly) =>
  Command.make("deliveries").pipe(
    Command.withDescription(
      "The durable outbox (webhooks.outbox: sqlite or postgres), for operators: list, show, resend and purge deliveries. Each takes --json."
    ),
    Command.withSubcommands([listCommand(assembly), showCommand(assembly), resendCommand(assembly), purgeCommand(assembly)])
  )

/**
 * @since 0.2.0
 * @category commands
 */
export const command = make()
