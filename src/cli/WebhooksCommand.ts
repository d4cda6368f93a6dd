/**
 * The `webhooks` command group — `list`, `schema`, `trigger`, `validate`, `listen` and `keys` —
 * ready to be mounted in any Effect servo CLI built with @effect/cli:
 *
 * ```ts
 * import * as Command from "@effect/cli/Command"
 * import { Servo, Simulator, Webhooks, WebhooksCommand } from "servo-webhooks"
 *
 * const assembly = Servo.assembly([Simulator.connector, Webhooks.connector, MyConnector])
 * const servo = Command.make("servo").pipe(
 *   Command.withSubcommands([WebhooksCommand.make({ assembly }), ...myCommands]))
 *
 * Command.run(servo, { name: "servo", version })(process.argv).pipe(
 *   Effect.provide(Layer.mergeAll(NodeContext.layer, UndiciHttpClient.layer)),
 *   NodeRuntime.runMain)
 * ```
 *
 * **Requirements** (`Requirements`): a `FileSystem` (servo.yaml) and an `HttpClient` (`trigger`
 * sends through it), plus what `Command.run` itself needs: `FileSystem`, `Path` and `Terminal` —
 * `NodeContext.layer` gives all three. Failures are `CliError`s whose message is meant for the
 * terminal; `ServoCommand.main` shows how the `servo` bin prints them.
 *
 * The assembly decides which connectors servo.yaml may configure and which events selectors may
 * name; it must include `Webhooks.connector` for the `webhooks:` section to be read.
 *
 * @since 0.1.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Effect from "effect/Effect"
import type * as Connector from "../servo/Connector.js"
import type * as Servo from "../servo/Servo.js"
import * as internal from "./internal/webhooksCommand.js"

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
export type WebhooksCommand = ReturnType<typeof internal.make<HttpClient.HttpClient>>

/**
 * The group for a host's own assembly of connectors.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: { readonly assembly: Servo.Assembly<Connector.Connector.Any> }): WebhooksCommand =>
  internal.make(Effect.succeed(options.assembly))

/**
 * The group with the bundled connectors (`simulator` and `webhooks`), loaded only when a command
 * runs; the host provides the HTTP client.
 *
 * @since 0.1.0
 * @category commands
 */
export const command: WebhooksCommand = internal.make()
