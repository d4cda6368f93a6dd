/**
 * `servo webhooks trigger EVENT [NAME|URL]`: sends EVENT's example payload — changed by `--data`
 * and `--set`, checked against the event's Schemas — through the delivery code (signing,
 * authentication, headers, retries, each webhook's own transport) to every webhook configured for
 * EVENT, to the one named, or to a URL, and prints one line per target (`--json`: one object per
 * target). `--retries N` / `--no-retry` override the webhooks' backoff. Text from the network (a
 * cancel reason, a response body) is printed escaped. Exits with 1 when a delivery failed.
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FiberRef from "effect/FiberRef"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { InvalidConfig } from "../servo/ConfigError.js"
import type * as Event from "../servo/Event.js"
import type * as Delivery from "../webhooks/Delivery.js"
import type * as WebhookConfig from "../webhooks/WebhookConfig.js"
import type * as WireContract from "../webhooks/WireContract.js"
import * as CliError from "./CliError.js"
import { clientFromContext } from "./internal/clientProvider.js"
import { type Assembly, type AssemblyLoader, configOnlyAssembly } from "./internal/assemblies.js"
import * as Format from "./internal/format.js"
import * as SecretSources from "./internal/secretSources.js"
import { untrusted } from "../internal/terminal.js"
import { config, event } from "./internal/options.js"

/**
 * The code trigger runs, loaded when it starts (the delivery code later still, when it sends):
 * parsing a command line and printing help never pay for it.
 */
const modules = Effect.promise(() =>
  Promise.all([
    import("../servo/Event.js"),
    import("../servo/Servo.js"),
    import("../webhooks/WebhookConfig.js"),
    import("../webhooks/WireContract.js"),
    import("./internal/config.js"),
    import("./internal/selectors.js"),
    import("./internal/exampleData.js")
  ])
).pipe(
  Effect.map(([Event, Servo, WebhookConfig, WireContract, Config, Selectors, ExampleData]) => ({
    ExampleData,
    Event,
    Servo,
    WebhookConfig,
    WireContract,
    Config,
    Selectors
  }))
)

const looksLikeUrl = (text: string) => /^[a-z][a-z0-9+.-]*:\/\//i.test(text)

/**
 * What a problem of the webhook built from the command line is about, named the way the user
 * gave it: `--secret`, `--signing-key`, the target, or a setting from the environment (`proxy`).
 */
const sourceOf = (path: string): string => {
  const field = path.replace(/^[^\]]*\]\.?/, "")
  if (field.startsWith("signing_key")) return "--signing-key"
  if (field.startsWith("secret")) return "--secret"
  return field === "" || field === "target" ? "target" : field
}

/**
 * A webhook for a URL given on the command line, decoded and resolved like one from the file:
 * signed with `--secret` (v1) and `--signing-key` (v1a) when given.
 */
const urlWebhook = (
  assembly: Assembly,
  url: string,
  selector: string,
  keys: { readonly secret: Option.Option<Redacted.Redacted<string>>; readonly signingKey: Option.Option<Redacted.Redacted<string>> }
) =>
  Effect.gen(function*() {
    const { Config, Servo, WebhookConfig } = yield* modules
    const decoded = yield* Either.match(
      Servo.decodeConfig(assembly, {
        [Config.section]: [{
          event: selector,
          target: url,
          ...(Option.isSome(keys.secret) ? { secret: Redacted.value(keys.secret.value) } : {}),
          ...(Option.isSome(keys.signingKey) ? { signing_key: Redacted.value(keys.signingKey.value) } : {})
        }]
      }, "the command line"),
      {
        onLeft: (error) => CliError.fail(error.issues.map((issue) => `${sourceOf(issue.path)}: ${issue.message}`).join("; ")),
        onRight: Effect.succeed
      }
    )
    const config = Config.webhooksOf(decoded)[0]!
    return yield* Config.resolveAt(config, 0, "the command line").pipe(
      Effect.mapError((error) =>
        new CliError.CliError({ message: error.issues.map((issue) => `${sourceOf(issue.path)}: ${issue.message}`).join("; ") })
      ),
      Effect.map((webhook): WebhookConfig.Webhook => ({ ...webhook, name: WebhookConfig.redactTarget(url) }))
    )
  })

/** The configured webhooks a trigger goes to: the one named, or every one selecting the event. */
const configuredTargets = (
  assembly: Assembly,
  path: string,
  selector: { readonly preposition: WireContract.Preposition; readonly event: Event.Event.Any; readonly text: string },
  name: Option.Option<string>
) =>
  Effect.gen(function*() {
    const { Config, Event } = yield* modules
    const { webhooks } = yield* Effect.mapError(Config.load(assembly, path), CliError.fromInvalidConfig)
    const selects = (webhook: WebhookConfig.WebhookConfig) =>
      webhook.events.some((s) => Event.matches(s, selector.preposition, selector.event.name))
    const indexed = webhooks.map((webhook, index) => ({ webhook, index }))
    let chosen: typeof indexed
    if (Option.isSome(name)) {
      const found = indexed.find(({ webhook }) => webhook.name === name.value)
      if (found === undefined) {
        return yield* CliError.fail(
          webhooks.length === 0
            ? `no webhook named ${JSON.stringify(name.value)}: ${path} has no webhooks`
            : `no webhook named ${JSON.stringify(name.value)} in ${path}; configured: ${webhooks.map((w) => w.name).join(", ")}`
        )
      }
      if (!selects(found.webhook)) {
        return yield* CliError.fail(
          `webhook ${found.webhook.name} is not configured for ${selector.text} (it handles ${
            found.webhook.events.map(Event.formatSelector).join(", ")
          })`
        )
      }
      chosen = [found]
    } else {
      chosen = indexed.filter(({ webhook }) => selects(webhook))
      if (chosen.length === 0) {
        return yield* CliError.fail(`no webhook in ${path} is configured for ${selector.text}`)
      }
    }
    // Only the chosen webhooks' secrets are read: a missing variable elsewhere is not in the way.
    const resolved = yield* Effect.forEach(chosen, ({ index, webhook }) => Effect.either(Config.resolveAt(webhook, index, path)))
    const issues = resolved.flatMap((r) => Either.isLeft(r) ? r.left.issues : [])
    if (issues.length > 0) return yield* Effect.fail(CliError.fromInvalidConfig(new InvalidConfig({ source: path, issues })))
    return resolved.flatMap((r) => Either.isRight(r) ? [r.right] : [])
  })

const outcomeText = (outcome: Delivery.Outcome) => {
  switch (outcome._tag) {
    case "Delivered":
      return "delivered"
    case "Cancelled":
      return `cancelled: ${untrusted(outcome.reason)}`
    case "Failed":
      return `failed: ${untrusted(outcome.reason)}`
  }
}

/**
 * Delivery logs repeat what the outcome lines say: keep them quiet unless `--log-level` asked for
 * more than the default.
 */
const quietUnlessAsked = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(FiberRef.get(FiberRef.currentMinimumLogLevel), (level) =>
    LogLevel.greaterThanEqual(level, LogLevel.Info) ? Logger.withMinimumLogLevel(effect, LogLevel.Error) : effect)

/**
 * How `trigger` gets its HTTP client: from the context (`RH` is `HttpClient`), or provided by the
 * command itself (`RH` is `never`; the `servo` bin loads its client only when a command sends).
 *
 * @since 0.1.0
 * @category models
 */
export interface ClientProvider<RH> {
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, Exclude<R, HttpClient.HttpClient> | RH>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface TriggerOptions {
  readonly config: string
  readonly event: string
  readonly target: Option.Option<string>
  readonly secret: Option.Option<Redacted.Redacted<string>>
  readonly signingKey: Option.Option<Redacted.Redacted<string>>
  /** A JSON object replacing the example's `parameters` (and `results`), key by key. */
  readonly data?: Option.Option<string>
  /** `path=value` changes to the example, applied in order after `data`. */
  readonly set?: ReadonlyArray<string>
  /** Retries after the first attempt, instead of the webhook's `backoff.retries`. */
  readonly retries?: Option.Option<number>
  /** One attempt, whatever the webhook's `backoff` says. */
  readonly noRetry?: boolean
  /** One JSON object per target instead of the table. */
  readonly json?: boolean
}

/** A webhook with its retries as the command line says: `--no-retry` or `--retries N`. */
const withRetries = (
  webhook: WebhookConfig.Webhook,
  options: TriggerOptions,
  defaults: WebhookConfig.Backoff
): WebhookConfig.Webhook => {
  const { backoff, ...rest } = webhook
  if (options.noRetry === true) return rest
  const retries = options.retries ?? Option.none()
  if (Option.isNone(retries)) return webhook
  return { ...rest, backoff: { retries: retries.value, timeout: backoff?.timeout ?? defaults.timeout } }
}

/** What `--json` prints per target. */
const outcomeJson = (webhook: WebhookConfig.Webhook, outcome: Delivery.Outcome) => ({
  target: webhook.name,
  outcome: outcome._tag === "Delivered" ? "delivered" : outcome._tag === "Cancelled" ? "cancelled" : "failed",
  attempts: outcome.attempts,
  status: outcome.status ?? null,
  reason: outcome._tag === "Delivered" ? null : outcome.reason,
  ms: Math.round(Duration.toMillis(outcome.duration))
})

const trigger: (
  assembly: Assembly,
  options: TriggerOptions
) => Effect.Effect<void, CliError.CliError, FileSystem.FileSystem | HttpClient.HttpClient> = Effect.fn("WebhooksCommand.trigger")(
  function*(assembly: Assembly, options: TriggerOptions) {
    const { ExampleData, Selectors, WebhookConfig, WireContract } = yield* modules
    const { event, preposition, selector } = yield* Either.mapLeft(
      Selectors.oneEvent(assembly, options.event),
      (message) => new CliError.CliError({ message })
    )
    if (Option.isSome(options.retries ?? Option.none()) && options.noRetry === true) {
      return yield* CliError.fail("give --retries N or --no-retry, not both")
    }
    const retries = options.retries ?? Option.none()
    if (Option.isSome(retries) && (retries.value < 0 || retries.value > 100)) {
      return yield* CliError.fail("--retries: expected 0 to 100")
    }
    const url = Option.filter(options.target, looksLikeUrl)
    if (Option.isSome(options.secret) && Option.isNone(url)) {
      return yield* CliError.fail("--secret applies to a URL target; configured webhooks sign with their own secret")
    }
    if (Option.isSome(options.signingKey) && Option.isNone(url)) {
      return yield* CliError.fail("--signing-key applies to a URL target; configured webhooks sign with their own signing_key")
    }
    // The data is checked before any config or secret is read: a typo is the likelier mistake.
    const data = yield* Either.mapLeft(
      ExampleData.exampleData(event, preposition, { data: options.data ?? Option.none(), set: options.set ?? [] }),
      (problems) =>
        new CliError.CliError({
          message: problems.length === 1
            ? `${selector}: ${problems[0]}`
            : `${selector}: ${Format.count(problems.length, "problem")}\n${problems.map((p) => `  - ${p}`).join("\n")}`
        })
    )
    const webhooks = (Option.isSome(url)
      ? [yield* urlWebhook(assembly, url.value, selector, options)]
      : yield* configuredTargets(assembly, options.config, { preposition, event, text: selector }, options.target))
      .map((webhook) => withRetries(webhook, options, WebhookConfig.defaults.backoff))

    const payload = yield* Either.match(
      WireContract.encodePayload({ event, preposition, ...data, createdAt: new Date() }),
      { onLeft: (error) => CliError.fail(`${selector}: cannot encode the payload: ${error.message}`), onRight: Effect.succeed }
    )

    // The connector's senders, so each webhook goes out on its own transport (TLS, proxy,
    // HTTP/2, network policy), exactly as a running servo would send it.
    const outcomes = yield* Effect.scoped(Effect.gen(function*() {
      // The delivery code is loaded only when something is sent.
      const Webhooks = yield* Effect.promise(() => import("../webhooks/Webhooks.js"))
      const senders = yield* Webhooks.makeSenders(webhooks, { connector: "trigger" })
      return yield* Effect.forEach(senders, (sender) => {
        const id = WireContract.makeId()
        return Effect.map(sender.send({ id, event: payload.event, body: payload.body(id) }), (outcome) => ({
          webhook: sender.webhook,
          outcome
        }))
      }, { concurrency: "unbounded" }).pipe(quietUnlessAsked)
    }))

    if (options.json === true) {
      yield* Console.log(JSON.stringify(outcomes.map(({ outcome, webhook }) => outcomeJson(webhook, outcome)), null, 2))
    } else {
      yield* Console.log(Format.table(
        ["TARGET", "OUTCOME", "STATUS", "ATTEMPTS", "MS"],
        outcomes.map(({ outcome, webhook }) => [
          webhook.name,
          outcomeText(outcome),
          outcome.status === undefined ? "-" : String(outcome.status),
          String(outcome.attempts),
          String(Math.round(Duration.toMillis(outcome.duration)))
        ])
      ))
    }
    const failed = outcomes.filter(({ outcome }) => outcome._tag === "Failed").length
    if (failed > 0) {
      return yield* CliError.fail(
        outcomes.length === 1 ? "the delivery failed" : `${failed} of ${outcomes.length} deliveries failed`
      )
    }
  }
)

/**
 * The `trigger` command; `assembly` (default: the bundled connectors) reads servo.yaml, and
 * `provideClient` gives the delivery code its HTTP client (default: the one in context).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <RH = HttpClient.HttpClient>(
  assembly: AssemblyLoader = configOnlyAssembly,
  provideClient: ClientProvider<RH> = clientFromContext as ClientProvider<any>
) =>
  Command.make("trigger", {
    config,
    event,
    target: Args.text({ name: "NAME|URL" }).pipe(
      Args.withDescription("One configured webhook by name, or a URL to send to (no config file needed). Default: every webhook configured for EVENT"),
      Args.optional
    ),
    secret: SecretSources.keySources(SecretSources.secret),
    signingKey: SecretSources.keySources(SecretSources.signingKey),
    data: Options.text("data").pipe(
      Options.withPseudoName("JSON"),
      Options.withDescription(
        `A JSON object replacing the example's "parameters" (and, after an event, "results"), checked against the event's Schema`
      ),
      Options.optional
    ),
    set: Options.text("set").pipe(
      Options.withPseudoName("PATH=VALUE"),
      Options.withDescription(
        "Change one value of the example (repeat for several): parameters.control.duration=1m, results[0].value.readings=[]; a path without parameters. or results. is under parameters; VALUE is read as JSON when it is JSON"
      ),
      Options.repeated
    ),
    retries: Options.integer("retries").pipe(
      Options.withPseudoName("N"),
      Options.withDescription("Retries after the first attempt, instead of the webhook's backoff.retries"),
      Options.optional
    ),
    noRetry: Options.boolean("no-retry").pipe(Options.withDescription("One attempt, whatever the webhook's backoff says")),
    json: Options.boolean("json").pipe(
      Options.withDescription("Print a JSON array, one object per target: target, outcome, attempts, status, reason, ms")
    )
  }, (options) =>
    provideClient(Effect.gen(function*() {
      const secret = yield* SecretSources.resolve(SecretSources.secret, options.secret).pipe(Effect.catchAll(CliError.fail))
      const signingKey = yield* SecretSources.resolve(SecretSources.signingKey, options.signingKey).pipe(Effect.catchAll(CliError.fail))
      yield* trigger(yield* assembly, { ...options, secret, signingKey })
    }))).pipe(
    Command.withDescription(
      "Send EVENT's example payload (changed by --data and --set, checked against the event's Schema) through the delivery code (signing, authentication, headers, retries) to every webhook configured for EVENT, to the one named, or to a URL (unsigned unless a secret or signing key is given; no config file needed). Prints one line per target (--json: a JSON array); exits with 1 when a delivery failed."
    )
  )

/**
 * The command with the bundled connectors; the HTTP client comes from the context.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = make()
