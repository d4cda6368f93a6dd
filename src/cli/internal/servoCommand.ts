import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import { descriptions, overview } from "./help.js"
import { bundledClient, config, make as makeWebhooks } from "./webhooksCommand.js"

const handlers = Effect.promise(() => import("./servoHandlers.js"))
const bundled = Effect.promise(() => import("./assembly.js"))

/**
 * The `servo` command of the bin, with the bundled connectors (simulator, webhooks) and HTTP client.
 *
 * @internal
 */
export const make = () => {
  const generate = Command.make("generate", {
    config,
    defaults: Options.choice("defaults", ["webhooks"]).pipe(
      Options.withDescription("Include a commented webhooks section: an after:measure and a signed before:adjust webhook"),
      Options.optional
    ),
    file: Options.file("file", { exists: "either" }).pipe(
      Options.withAlias("f"),
      Options.withPseudoName("FILE"),
      Options.withDescription("The file to write (default: --config, ./servo.yaml)"),
      Options.optional
    ),
    force: Options.boolean("force").pipe(Options.withDescription("Overwrite the file if it exists"))
  }, (options) => Effect.flatMap(handlers, (m) => m.generate(options))).pipe(
    Command.withDescription(
      "Write a starting servo.yaml: a name and the simulator; with --defaults webhooks, also a commented webhooks section (an after:measure webhook and a signed before:adjust webhook, secrets as { env: ... }). Refuses to overwrite a file without --force."
    )
  )

  const run = Command.make("run", {
    config,
    cycles: Options.integer("cycles").pipe(
      Options.withAlias("n"),
      Options.withPseudoName("N"),
      Options.withDescription("How many optimization cycles (describe, measure, adjust) to run (default: 3)"),
      Options.withDefault(3)
    ),
    drainTimeout: Options.text("drain-timeout").pipe(
      Options.withPseudoName("DURATION"),
      Options.withDescription(
        "How long stopping (the end of the run, Ctrl-C, SIGTERM) waits for pending after-webhook deliveries; what is left then is counted as abandoned (default: 10s)"
      ),
      Options.withDefault("10s")
    )
  }, (options) =>
    bundledClient(Effect.flatMap(Effect.zip(handlers, bundled), ([m, { assemblyWith }]) => m.run(assemblyWith, options)))).pipe(
      Command.withDescription(
        "Run the servo in the config for N optimization cycles (describe, measure, adjust), printing events and webhook deliveries. A cancelled adjustment is reported and the run goes on. Ctrl-C or SIGTERM stops it once webhook deliveries have drained (--drain-timeout at most)."
      )
    )

  return Command.make("servo", {}, () => Console.log(overview())).pipe(
    Command.withDescription(descriptions.servo),
    Command.withSubcommands([makeWebhooks(undefined, bundledClient, { overview: true }), generate, run])
  )
}
