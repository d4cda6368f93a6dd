import * as Command from "@effect/cli/Command"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Console from "effect/Console"
import * as Layer from "effect/Layer"
import { Servo, ServoCommand, Simulator, UndiciHttpClient, Webhooks, WebhooksCommand } from "servo-webhooks"

// The connectors your servo.yaml may configure (add your own), and a command of your own.
const assembly = Servo.assembly([Simulator.connector, Webhooks.connector])
const hello = Command.make("hello", {}, () => Console.log("hello from my servo"))

const cli = Command.make("my-servo").pipe(
  Command.withSubcommands([WebhooksCommand.make({ assembly }), hello])
)

// The servo bin's help (`my-servo webhooks listen --help`), error lines, exit codes and signal
// handling (Ctrl-C stops `listen` with 0; a `trigger` cut short exits 130).
ServoCommand.runMain(cli, {
  name: "my-servo",
  version: "1.0.0",
  layer: Layer.mergeAll(NodeContext.layer, UndiciHttpClient.layer)
})
