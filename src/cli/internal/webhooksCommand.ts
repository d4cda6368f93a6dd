import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Arr from "effect/Array"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import type { CliError } from "../CliError.js"
import type { Assembly } from "./config.js"
import { descriptions, webhooksOverview } from "./help.js"

/**
 * The assembly the commands read servo.yaml with. The default (the bundled simulator and
 * webhooks connectors, configs only) is loaded when a command runs.
 */
export type AssemblyLoader = Effect.Effect<Assembly>

/** @internal */
export const defaultAssembly: AssemblyLoader = Effect.promise(() => import("./configAssembly.js")).pipe(
  Effect.map((module) => module.assembly)
)

/** Each command's code is imported when it runs: parsing and help never pay for it. */
const handlers = {
  inspect: Effect.promise(() => import("./inspect.js")),
  trigger: Effect.promise(() => import("./trigger.js")),
  listen: Effect.promise(() => import("./listen.js")),
  keys: Effect.promise(() => import("./keys.js"))
}

/**
 * How `trigger` gets its HTTP client: from the context (a host provides one), or bundled (the
 * bin: `httpClient.ts`, imported when the command starts).
 */
export interface ClientProvider<RH> {
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, Exclude<R, HttpClient.HttpClient> | RH>
}

/** @internal */
export const clientFromContext: ClientProvider<HttpClient.HttpClient> = (effect) => effect as any

/** @internal */
export const bundledClient: ClientProvider<never> = (effect) =>
  Effect.flatMap(Effect.promise(() => import("./httpClient.js")), (module) => Effect.provide(effect, module.layer))

/** Runs a handler from a lazily loaded module, with the assembly. */
const handle = <M, R>(
  assembly: AssemblyLoader,
  module: Effect.Effect<M>,
  f: (module: M, assembly: Assembly) => Effect.Effect<void, CliError, R>
): Effect.Effect<void, CliError, R> => Effect.flatMap(Effect.zip(module, assembly), ([m, loaded]) => f(m, loaded))

/** `--config FILE`, on every command. */
export const config = Options.file("config", { exists: "either" }).pipe(
  Options.withAlias("c"),
  Options.withPseudoName("FILE"),
  Options.withDescription("The servo config file (default: servo.yaml)"),
  Options.withDefault("servo.yaml")
)

const event = Args.text({ name: "EVENT" }).pipe(
  Args.withDescription("A webhook event: before:EVENT or after:EVENT, such as after:measure or before:adjust")
)

/** @internal */
export const make = <RH = HttpClient.HttpClient>(
  assembly: AssemblyLoader = defaultAssembly,
  provideClient: ClientProvider<RH> = clientFromContext as ClientProvider<any>,
  options: {
    /** `servo webhooks` alone prints the bin's overview; in a host's CLI, @effect/cli's help. */
    readonly overview?: boolean
  } = {}
) => {
  const list = Command.make("list", {
    config,
    json: Options.boolean("json").pipe(Options.withDescription("Print a JSON array instead of a table"))
  }, (options) => handle(assembly, handlers.inspect, (m, a) => m.list(a, options))).pipe(
    Command.withDescription(
      "List the configured webhooks: name, events, target (query values redacted), authentication, signing and retries. Secrets are never printed. --json prints a JSON array of the same facts."
    )
  )

  const schema = Command.make("schema", { config, event }, (options) => handle(assembly, handlers.inspect, (m, a) => m.schema(a, options)))
    .pipe(
      Command.withDescription(
        "Print the JSON Schema of the request body sent for EVENT, as one JSON object: { event, content_type, schema }. Needs no config file."
      )
    )

  const trigger = Command.make("trigger", {
    config,
    event,
    target: Args.text({ name: "NAME|URL" }).pipe(
      Args.withDescription("One configured webhook by name, or a URL to send to (no config file needed). Default: every webhook configured for EVENT"),
      Args.optional
    ),
    secret: Options.redacted("secret").pipe(
      Options.withPseudoName("whsec_..."),
      Options.withDescription("A whsec_ secret to sign with (v1) when the target is a URL"),
      Options.optional
    ),
    signingKey: Options.redacted("signing-key").pipe(
      Options.withPseudoName("whsk_..."),
      Options.withDescription("A whsk_ signing key to sign with (v1a, Ed25519) when the target is a URL"),
      Options.optional
    )
  }, (options) => provideClient(handle(assembly, handlers.trigger, (m, a) => m.trigger(a, options)))).pipe(
    Command.withDescription(
      "Send EVENT's example payload through the delivery code (signing, authentication, headers, retries) to every webhook configured for EVENT, to the one named, or to a URL (unsigned unless --secret or --signing-key; no config file needed). Prints one line per target; exits with 1 when a delivery failed."
    )
  )

  const validate = Command.make("validate", { config }, (options) => handle(assembly, handlers.inspect, (m, a) => m.validate(a, options)))
    .pipe(
      Command.withDescription(
        "Check the config: every decoding problem, then every secret that cannot be resolved (unset variable, unreadable file, bad whsec_ key), each with its path. Exits with 1 when there is one."
      )
    )

  const listen = Command.make("listen", {
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
  }, (options) => handle(assembly, handlers.listen, (m, a) => Effect.scoped(m.listen(a, options)))).pipe(
    Command.withDescription(
      "Run a local receiver for building responders: print each delivery as it arrives (time, event, id, signature, compact body) and answer 204, or, with --cancel, a cancellation for the events chosen by --events. Signatures are checked with the --secret and --public-key keys given: verified (v1), verified (v1a), INVALID (why) or unsigned. Ctrl-C stops it."
    )
  )

  const keys = Command.make("keys", {
    ed25519: Options.boolean("ed25519").pipe(
      Options.withDescription("Print an Ed25519 key pair (v1a signatures) instead: a whsk_ signing key and its whpk_ public key")
    )
  }, (options) => Effect.flatMap(handlers.keys, (m) => m.keys(options))).pipe(
    Command.withDescription(
      "Print a fresh whsec_ secret (v1 signatures, HMAC-SHA256), or with --ed25519 a whsk_ signing key and its whpk_ public key (v1a, Ed25519), and how servo.yaml refers to it. Keep the secret and the signing key secret (an environment variable or a file); receivers verify with the same secret, or with the public key, which is not secret. Needs no config file."
    )
  )

  const group = options.overview === true
    ? Command.make("webhooks", {}, () => Console.log(webhooksOverview()))
    : Command.make("webhooks")
  return group.pipe(
    Command.withDescription(descriptions.webhooks),
    Command.withSubcommands([list, schema, trigger, validate, listen, keys])
  )
}
