/**
 * The `webhooks` command group — `list`, `schema`, `trigger`, `validate`, `listen`, `keys` and
 * `verify` — ready to be mounted in any Effect servo CLI built with @effect/cli:
 *
 * ```ts
 * import * as Command from "@effect/cli/Command"
 * import { Servo, ServoCommand, Simulator, Webhooks, WebhooksCommand } from "servo-webhooks"
 *
 * const assembly = Servo.assembly([Simulator.connector, Webhooks.connector, MyConnector])
 * const servo = Command.make("servo").pipe(
 *   Command.withSubcommands([WebhooksCommand.make({ assembly }), ...myCommands]))
 *
 * ServoCommand.runMain(servo, {
 *   name: "servo", version,
 *   layer: Layer.mergeAll(NodeContext.layer, UndiciHttpClient.layer)
 * })
 * ```
 *
 * **Requirements** (`Requirements`): a `FileSystem` (servo.yaml) and an `HttpClient` (`trigger`
 * sends through it), plus what `Command.run` itself needs: `FileSystem`, `Path` and `Terminal` —
 * `NodeContext.layer` gives all three. Failures are `CliError`s whose message is meant for the
 * terminal; `ServoCommand.runMain` runs a CLI the way the `servo` bin does: its help, its error
 * lines and exit codes, its signal handling.
 *
 * The assembly decides which connectors servo.yaml may configure and which events selectors may
 * name; it must include `Webhooks.connector` for the `webhooks:` section to be read.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Connector from "../servo/Connector.js"
import type * as Servo from "../servo/Servo.js"
import * as CliError from "./CliError.js"
import { clientFromContext } from "./internal/clientProvider.js"
import { type AssemblyLoader, configOnlyAssembly } from "./internal/assemblies.js"
import { descriptions, webhooksOverview } from "./internal/help.js"
import { config, event } from "./internal/options.js"
import * as ListCommand from "./ListCommand.js"
import * as ListenCommand from "./ListenCommand.js"
import * as TriggerCommand from "./TriggerCommand.js"
import * as ValidateCommand from "./ValidateCommand.js"
import * as VerifyCommand from "./VerifyCommand.js"

/**
 * What the group's handlers need from the host.
 *
 * @since 0.1.0
 * @category models
 */
export type Requirements = FileSystem.FileSystem | HttpClient.HttpClient

/**
 * The type of the group (its parsed arguments are those of the subcommand that ran).
 *
 * @since 0.1.0
 * @category models
 */
export type WebhooksCommand = ReturnType<typeof makeWith<HttpClient.HttpClient>>

const schema = (assembly: AssemblyLoader) =>
  Command.make("schema", { config, event }, (options) =>
    Effect.gen(function*() {
      const [{ oneEvent }, WireContract] = yield* Effect.promise(() =>
        Promise.all([import("./internal/selectors.js"), import("../webhooks/WireContract.js")])
      )
      const { event, preposition, selector } = yield* Either.mapLeft(
        oneEvent(yield* assembly, options.event),
        (message) => new CliError.CliError({ message })
      )
      yield* Console.log(JSON.stringify(
        { event: selector, content_type: WireContract.contentType, schema: WireContract.jsonSchema(event, preposition) },
        null,
        2
      ))
    }).pipe(Effect.withSpan("WebhooksCommand.schema"))).pipe(
      Command.withDescription(
        "Print the JSON Schema of the request body sent for EVENT, as one JSON object: { event, content_type, schema }. Needs no config file."
      )
    )

const keysCommand = Command.make("keys", {
  ed25519: Options.boolean("ed25519").pipe(
    Options.withDescription("Print an Ed25519 key pair (v1a signatures) instead: a whsk_ signing key and its whpk_ public key")
  ),
  json: Options.boolean("json").pipe(
    Options.withDescription("Print one JSON object: scheme, secret (or signing_key and public_key), servo_yaml")
  )
}, (options) => Effect.flatMap(Effect.promise(() => import("./internal/keys.js")), ({ keys }) => keys(options))).pipe(
  Command.withDescription(
    "Print a fresh whsec_ secret (v1 signatures, HMAC-SHA256), or with --ed25519 a whsk_ signing key and its whpk_ public key (v1a, Ed25519), and how servo.yaml refers to it. Keep the secret and the signing key secret (an environment variable or a file); receivers verify with the same secret, or with the public key, which is not secret. Needs no config file."
  )
)

/**
 * The group with every choice open: the assembly, obtained when a command runs; how `trigger`
 * gets its HTTP client (see `TriggerCommand.ClientProvider`); and whether `webhooks` alone
 * prints the one-line-per-command overview (as the `servo` bin does) instead of @effect/cli's
 * help.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeWith = <RH = HttpClient.HttpClient>(options: {
  readonly assembly?: Effect.Effect<Servo.Assembly<Connector.Connector.Any>>
  readonly provideClient?: TriggerCommand.ClientProvider<RH>
  readonly overview?: boolean
} = {}) => {
  const assembly: AssemblyLoader = options.assembly ?? configOnlyAssembly
  const provideClient: TriggerCommand.ClientProvider<RH> = options.provideClient ??
    (clientFromContext as TriggerCommand.ClientProvider<any>)
  const group = options.overview === true
    ? Command.make("webhooks", {}, () => Console.log(webhooksOverview()))
    : Command.make("webhooks")
  return group.pipe(
    Command.withDescription(descriptions.webhooks),
    Command.withSubcommands([
      ListCommand.make(assembly),
      schema(assembly),
      TriggerCommand.make(assembly, provideClient),
      ValidateCommand.make(assembly),
      ListenCommand.make(assembly),
      keysCommand,
      VerifyCommand.command
    ])
  )
}

/**
 * The group for a host's own assembly of connectors.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: { readonly assembly: Servo.Assembly<Connector.Connector.Any> }): WebhooksCommand =>
  makeWith({ assembly: Effect.succeed(options.assembly) })

/**
 * The group with the bundled connectors (`simulator` and `webhooks`), loaded only when a command
 * runs; the host provides the HTTP client.
 *
 * @since 0.1.0
 * @category commands
 */
export const command: WebhooksCommand = makeWith()
