import * as Command from "@effect/cli/Command"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Servo, Simulator, UndiciHttpClient, Webhooks, WebhooksCommand } from "servo-webhooks"

// The connectors your servo.yaml may configure (add your own), and a command of your own.
const assembly = Servo.assembly([Simulator.connector, Webhooks.connector])
const hello = Command.make("hello", {}, () => Console.log("hello from my servo"))

const cli = Command.make("my-servo").pipe(
  Command.withSubcommands([WebhooksCommand.make({ assembly }), hello]),
  Command.run({ name: "my-servo", version: "1.0.0" })
)

cli(process.argv).pipe(
  // A CliError's message is written for the terminal; @effect/cli printed parse errors already.
  Effect.catchTag("CliError", (error) =>
    Effect.zipRight(Console.error(`error: ${error.message}`), Effect.sync(() => void (process.exitCode = 1)))),
  Effect.provide(Layer.mergeAll(NodeContext.layer, UndiciHttpClient.layer)),
  NodeRuntime.runMain({ disableErrorReporting: true })
)
