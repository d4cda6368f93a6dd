/**
 * `servo webhooks worker`: delivery workers only, no events. They claim due after deliveries
 * from the durable outbox the config names (`webhooks.outbox`, sqlite or postgres), attempt them
 * with the config's webhooks, and record each outcome, so that deliveries a servo enqueued are
 * made even when that servo is gone, and several machines share the work of one PostgreSQL
 * outbox (each delivery is attempted by one worker at a time: a claim is a lease).
 *
 * It runs until SIGINT or SIGTERM (which drain like `servo run`: what is in flight finishes
 * within `--drain-timeout`, what is left stays pending in the store), or with `--until-idle`
 * until no delivery is pending (due, waiting to retry, or leased by another worker), then exits
 * 0. Either way it prints a summary: delivered, failed, left pending.
 *
 * @since 0.2.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import type * as Webhooks from "../webhooks/Webhooks.js"
import * as CliError from "./CliError.js"
import { type Assembly, type AssemblyLoader, configOnlyAssembly } from "./internal/assemblies.js"
import { clientFromContext } from "./internal/clientProvider.js"
import * as Format from "./internal/format.js"
import { config } from "./internal/options.js"
import { stopsOnSignal } from "./internal/signals.js"
import type { ClientProvider } from "./TriggerCommand.js"

/**
 * @since 0.2.0
 * @category models
 */
export interface WorkerOptions {
  readonly config: string
  readonly untilIdle: boolean
  readonly workers: number
  readonly drainTimeout: string
}

/**
 * How often `--until-idle` asks the store whether anything is still pending. Deliveries are not
 * timed by it (the workers claim as soon as a delivery is due); it only bounds how late the
 * worker notices that the outbox is empty.
 */
const idleCheck = Schedule.spaced("200 millis")

/**
 * The summary line: `worker: 200 delivered, 0 failed, 0 left pending`.
 *
 * @since 0.2.0
 * @category formatting
 */
export const formatSummary = (stats: Webhooks.Stats): string =>
  `worker: ${stats.after.delivered} delivered, ${stats.after.failed} failed, ${stats.after.leftPending} left pending`

const storeText = (outbox: { readonly store: string; readonly path?: string }) =>
  outbox.store === "sqlite" ? `sqlite ${outbox.path}` : outbox.store

/**
 * Runs the workers of the config at `options.config` until a signal or, with `untilIdle`, until
 * nothing is pending. Fails with a `CliError` (one line) when the config has no durable outbox,
 * or the store cannot be opened.
 *
 * @since 0.2.0
 * @category running
 */
export const run = Effect.fn("WorkerCommand.run")(function*(assembly: Assembly, options: WorkerOptions) {
  if (options.workers < 1) return yield* CliError.fail("--workers must be 1 or more")
  const [{ load, section }, GoDuration, Webhooks, WebhookConfig] = yield* Effect.promise(() =>
    Promise.all([
      import("./internal/config.js"),
      import("../servo/GoDuration.js"),
      import("../webhooks/Webhooks.js"),
      import("../webhooks/WebhookConfig.js")
    ])
  )
  const drainTimeout = yield* Either.match(GoDuration.parse(options.drainTimeout), {
    onLeft: (reason) => CliError.fail(`--drain-timeout: ${reason}`),
    onRight: Effect.succeed
  })
  const loaded = yield* load(assembly, options.config).pipe(Effect.mapError(CliError.fromInvalidConfig))
  if (WebhookConfig.outboxOf(loaded.webhooks).store === "memory") {
    return yield* CliError.fail(
      `${options.config}: the outbox is in memory, inside each servo process; workers need a durable one (webhooks.outbox.store: sqlite or postgres)`
    )
  }
  // Only the after webhooks are delivered here: a before webhook's secrets need not be set.
  const afterConfigs = loaded.webhooks
    .map((webhook, i) => ({ ...webhook, path: webhook.path ?? [i] }))
    .filter((webhook) => webhook.events.some((selector) => selector.preposition === "after"))
  if (afterConfigs.length === 0) return yield* CliError.fail(`${options.config}: no after webhook to deliver for`)
  const { outbox, webhooks: after } = yield* WebhookConfig.resolveSection(
    Object.assign(afterConfigs, { outbox: WebhookConfig.outboxOf(loaded.webhooks) }),
    { section, source: options.config }
  ).pipe(Effect.mapError(CliError.fromInvalidConfig))
  if (outbox.store === "memory") return yield* Effect.die(new Error("unreachable: the outbox was checked above"))

  const stats = yield* Ref.make(Option.none<Effect.Effect<Webhooks.Stats>>())
  const summary = Effect.flatMap(Ref.get(stats), (read) =>
    Option.isNone(read) ? Effect.void : Effect.flatMap(read.value, (final) => Console.log(formatSummary(final))))

  yield* Effect.scoped(Effect.gen(function*() {
    const context = yield* Layer.build(Webhooks.durableStoreLayer(outbox)).pipe(
      Effect.mapError((error) => new CliError.CliError({ message: error.message }))
    )
    const workers = yield* Webhooks.makeWorkers(after, { workers: options.workers, drainTimeout }).pipe(
      Effect.provide(context)
    )
    yield* Ref.set(stats, Option.some(workers.stats))
    yield* Console.log(
      `worker: ${Format.count(after.length, "webhook")}, outbox ${storeText(outbox)}, ${Format.count(options.workers, "worker")}${
        options.untilIdle ? ", until idle" : ""
      }`
    )
    if (!options.untilIdle) return yield* Effect.never
    yield* workers.pending.pipe(Effect.repeat({ schedule: idleCheck, until: (pending) => pending === 0 }))
  })).pipe(Effect.ensuring(summary))
})

/**
 * The `worker` command; `assembly` (default: the bundled connectors) reads servo.yaml, and
 * `provideClient` gives the delivery code its HTTP client (default: the one in context).
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = <RH = HttpClient.HttpClient>(
  assembly: AssemblyLoader = configOnlyAssembly,
  provideClient: ClientProvider<RH> = clientFromContext as ClientProvider<any>
) =>
  Command.make("worker", {
    config,
    untilIdle: Options.boolean("until-idle").pipe(
      Options.withDescription("Exit (0) once no delivery is pending: none due, none waiting to retry, none leased by another worker")
    ),
    workers: Options.integer("workers").pipe(
      Options.withPseudoName("N"),
      Options.withDescription("Delivery attempts in flight at most (default: 16)"),
      Options.withDefault(16)
    ),
    drainTimeout: Options.text("drain-timeout").pipe(
      Options.withPseudoName("DURATION"),
      Options.withDescription("How long stopping (SIGINT, SIGTERM) waits for attempts in flight; what is left stays pending in the store (default: 10s)"),
      Options.withDefault("10s")
    )
  }, (options) =>
    Effect.zipRight(
      options.untilIdle ? Effect.void : stopsOnSignal,
      provideClient(Effect.flatMap(assembly, (loaded) => run(loaded, options)))
    )).pipe(
    Command.withDescription(
      "Run delivery workers only, no events: claim due after deliveries from the durable outbox in the config (webhooks.outbox: sqlite or postgres), deliver them and record each outcome. Several workers, on several machines, may share one PostgreSQL outbox. Runs until SIGINT/SIGTERM (in-flight attempts finish, the rest stays pending), or with --until-idle until nothing is pending; prints delivered, failed and left pending."
    )
  )

/**
 * The command with the bundled connectors; the HTTP client comes from the context.
 *
 * @since 0.2.0
 * @category commands
 */
export const command = make()
