/**
 * `servo webhooks listen`: a local receiver for building responders. It prints each delivery as
 * it arrives (time, event, id, signature, compact body) and answers 204, or a cancellation for
 * the events chosen by `--events` with `--cancel`. Ctrl-C stops it with a count.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Arr from "effect/Array"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as Event from "../servo/Event.js"
import type * as Signature from "../webhooks/Signature.js"
import * as CliError from "./CliError.js"
import { type Assembly, type AssemblyLoader, configOnlyAssembly } from "./internal/assemblies.js"
import * as Format from "./internal/format.js"
import { config } from "./internal/options.js"
import { stopsOnSignal } from "./internal/signals.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface ListenOptions {
  readonly port: number
  readonly host: string
  readonly secret: ReadonlyArray<Redacted.Redacted<string>>
  readonly publicKey: ReadonlyArray<string>
  readonly cancel: Option.Option<string>
  readonly events: Option.Option<ReadonlyArray<string>>
}

/**
 * The keys to verify with, in the order given: `--secret` whsec_ secrets (v1), then
 * `--public-key` whpk_ public keys (v1a). A key given to the wrong option is refused with a hint;
 * no message quotes a key.
 */
const verificationKeys = (options: ListenOptions) =>
  Effect.gen(function*() {
    const Signature = yield* Effect.promise(() => import("../webhooks/Signature.js"))
    const keys: Array<Signature.VerificationKey> = []
    for (const secret of options.secret) {
      if (Redacted.value(secret).trim() === "") {
        return yield* CliError.fail("--secret: is empty; expected a secret such as whsec_... (servo webhooks keys prints a fresh one)")
      }
      const parsed = Signature.parseSecret(secret)
      if (Either.isLeft(parsed)) {
        const hint = Redacted.value(secret).startsWith("whpk_") ? "; give a whpk_ public key with --public-key" : ""
        return yield* CliError.fail(`--secret: ${parsed.left.message}${hint}`)
      }
      keys.push(parsed.right)
    }
    for (const publicKey of options.publicKey) {
      if (publicKey.trim() === "") {
        return yield* CliError.fail(
          "--public-key: is empty; expected a public key such as whpk_... (servo webhooks keys --ed25519 prints a key pair)"
        )
      }
      const parsed = Signature.parsePublicKey(publicKey)
      if (Either.isLeft(parsed)) {
        const hint = publicKey.startsWith("whsk_")
          ? "; a signing key stays with the servo: give its whpk_ public key (servo webhooks keys --ed25519 prints both)"
          : publicKey.startsWith("whsec_")
          ? "; give a whsec_ secret with --secret"
          : ""
        return yield* CliError.fail(`--public-key: ${parsed.left.message}${hint}`)
      }
      keys.push(parsed.right)
    }
    return keys
  })

const keysText = (options: ListenOptions) => {
  const parts = [
    ...(options.secret.length === 0 ? [] : [`${Format.count(options.secret.length, "whsec_ secret")} (v1)`]),
    ...(options.publicKey.length === 0 ? [] : [`${Format.count(options.publicKey.length, "whpk_ public key")} (v1a)`])
  ]
  return parts.length === 0 ? "not checked (no --secret or --public-key)" : `verified with ${parts.join(" and ")}`
}

/** Runs until interrupted; the receiver stops, and a summary is printed, when the scope closes. */
const listen = Effect.fn("WebhooksCommand.listen")(function*(assembly: Assembly, options: ListenOptions) {
  // The receiver's code is loaded when it starts: parsing a command line and help never pay for it.
  const [Event, Receiver, WebhookConfig] = yield* Effect.promise(() =>
    Promise.all([import("../servo/Event.js"), import("../webhooks/Receiver.js"), import("../webhooks/WebhookConfig.js")])
  )
  const keys = yield* verificationKeys(options)
  const inputs = Option.getOrElse(options.events, (): ReadonlyArray<string> => [])
    .flatMap((input) => input.split(","))
    .map((input) => input.trim())
    .filter((input) => input !== "")
  if (inputs.length > 0 && Option.isNone(options.cancel)) {
    return yield* CliError.fail("--events chooses which events --cancel answers; give --cancel REASON too")
  }
  const selectors = yield* Effect.forEach(inputs.length === 0 ? ["before:*"] : inputs, (input) =>
    Either.match(WebhookConfig.parseSelector(input, assembly.events), {
      onLeft: (reason) => CliError.fail(`--events ${input}: ${reason}`),
      onRight: Effect.succeed
    }))
  const cancelling = (event: string) => {
    const [preposition, name] = event.split(":") as [string, string | undefined]
    return name !== undefined &&
      selectors.some((selector) => Event.matches(selector, preposition as Event.Preposition, name))
  }
  const reason = options.cancel
  const receiver = yield* Receiver.make({
    port: options.port,
    host: options.host,
    keys,
    policy: (request) =>
      Option.isSome(reason) && cancelling(request.event) ? Receiver.cancel(reason.value) : Receiver.accept,
    onDelivery: (delivery) => Console.log(Receiver.formatDelivery(delivery))
  }).pipe(Effect.mapError((error) => new CliError.CliError({ message: error.message })))

  yield* Console.log(`listening on ${receiver.url} (Ctrl-C to stop)`)
  yield* Console.log(
    `  signatures: ${keysText(options)}`
  )
  yield* Console.log(
    `  answers:    ${
      Option.isSome(reason)
        ? `cancels ${selectors.map(Event.formatSelector).join(", ")} with ${JSON.stringify(reason.value)}, 204 otherwise`
        : "204 to every delivery"
    }`
  )
  yield* Effect.addFinalizer(() =>
    Effect.flatMap(receiver.stats, (stats) =>
      Console.log(
        `stopped: ${Format.count(stats.received, "delivery", "deliveries")} received ` +
          `(${stats.verified} verified, ${stats.invalid} invalid, ${stats.unsigned} unsigned, ${stats.unchecked} unchecked), ` +
          `${stats.cancelled} cancelled`
      ))
  )
  return yield* Effect.never
})

/**
 * The `listen` command; `assembly` (default: the bundled connectors) names the events `--events`
 * may select.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (assembly: AssemblyLoader = configOnlyAssembly) =>
  Command.make("listen", {
    config,
    port: Options.integer("port").pipe(
      Options.withAlias("p"),
      Options.withPseudoName("N"),
      Options.withDescription("The port to listen on (default: 8787); 0 picks a free one"),
      Options.withDefault(8787)
    ),
    host: Options.text("host").pipe(
      Options.withPseudoName("ADDRESS"),
      Options.withDescription("The address to bind (default: 127.0.0.1, which only this machine can reach)"),
      Options.withDefault("127.0.0.1")
    ),
    // Not Options.redacted(...).pipe(Options.repeated): @effect/cli 0.77 validates a single
    // repeated value twice, and the second pass refuses the Redacted the first one made.
    secret: Options.text("secret").pipe(
      Options.withPseudoName("whsec_..."),
      Options.withDescription("A whsec_ secret to verify v1 signatures with (repeat for several, as during a rotation)"),
      Options.repeated,
      Options.map(Arr.map((secret) => Redacted.make(secret)))
    ),
    publicKey: Options.text("public-key").pipe(
      Options.withPseudoName("whpk_..."),
      Options.withDescription("A whpk_ public key to verify v1a (Ed25519) signatures with (repeat for several)"),
      Options.repeated
    ),
    cancel: Options.text("cancel").pipe(
      Options.withPseudoName("REASON"),
      Options.withDescription("Answer the events chosen by --events with a cancellation carrying this reason"),
      Options.optional
    ),
    events: Options.text("events").pipe(
      Options.withPseudoName("SELECTOR"),
      Options.withDescription("Which events --cancel answers (repeat, or separate with commas). Default: before:*"),
      Options.repeated,
      Options.optional
    )
  }, (options) =>
    Effect.zipRight(stopsOnSignal, Effect.flatMap(assembly, (loaded) => Effect.scoped(listen(loaded, options))))).pipe(
    Command.withDescription(
      "Run a local receiver for building responders: print each delivery as it arrives (time, event, id, signature, compact body) and answer 204, or, with --cancel, a cancellation for the events chosen by --events. Signatures are checked with the --secret and --public-key keys given: verified (v1), verified (v1a), INVALID (why) or unsigned. Ctrl-C stops it."
    )
  )

/**
 * @since 0.1.0
 * @category commands
 */
export const command = make()
