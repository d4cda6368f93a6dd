/**
 * `servo webhooks validate`: every problem of the config, each with its path — decoding problems
 * first, then every secret that cannot be resolved (unset variable, unreadable file, bad key) —
 * or `valid: N webhooks`. Exits with 1 when there is a problem.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import { InvalidConfig } from "../servo/ConfigError.js"
import * as CliError from "./CliError.js"
import { type Assembly, type AssemblyLoader, configOnlyAssembly } from "./internal/assemblies.js"
import * as Format from "./internal/format.js"
import { config } from "./internal/options.js"

const validate = Effect.fn("WebhooksCommand.validate")(function*(
  assembly: Assembly,
  options: { readonly config: string; readonly json: boolean }
) {
  const path = options.config
  // Read as every command reads it: bounded in size, a missing or unreadable file one line.
  const Servo = yield* Effect.promise(() => import("../servo/Servo.js"))
  const text = yield* Servo.readConfigText(path).pipe(Effect.mapError(CliError.fromInvalidConfig))
  const { problemsOf } = yield* Effect.promise(() => import("./internal/validation.js"))
  const { issues, webhooks } = yield* problemsOf(assembly, text, path)
  // --json: the problems on stdout for a program, the usual header on stderr for a person.
  if (options.json) yield* Console.log(JSON.stringify(issues.map(({ message, path }) => ({ path, message })), null, 2))
  if (issues.length > 0) {
    const error = CliError.fromInvalidConfig(new InvalidConfig({ source: path, issues }))
    return yield* options.json ? CliError.fail(error.message.split("\n")[0]!) : Effect.fail(error)
  }
  if (!options.json) yield* Console.log(`valid: ${Format.count(webhooks, "webhook")}`)
})

/**
 * The `validate` command, reading servo.yaml with `assembly` (default: the bundled connectors).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (assembly: AssemblyLoader = configOnlyAssembly) =>
  Command.make("validate", {
    config,
    json: Options.boolean("json").pipe(
      Options.withDescription("Print every problem as a JSON array of { path, message } ([] when valid)")
    )
  }, (options) => Effect.flatMap(assembly, (loaded) => validate(loaded, options))).pipe(
    Command.withDescription(
      "Check the config: every decoding problem, then every secret that cannot be resolved (unset variable, unreadable file, bad whsec_ key), each with its path. Exits with 1 when there is one."
    )
  )

/**
 * @since 0.1.0
 * @category commands
 */
export const command = make()
