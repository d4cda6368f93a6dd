/**
 * `servo webhooks validate`: every problem of the config, each with its path — decoding problems
 * first, then every secret that cannot be resolved (unset variable, unreadable file, bad key) —
 * or `valid: N webhooks`. Exits with 1 when there is a problem.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import { InvalidConfig } from "../servo/ConfigError.js"
import * as CliError from "./CliError.js"
import { type Assembly, type AssemblyLoader, configOnlyAssembly } from "./internal/assemblies.js"
import * as Format from "./internal/format.js"
import { config } from "./internal/options.js"

const validate = Effect.fn("WebhooksCommand.validate")(function*(assembly: Assembly, options: { readonly config: string }) {
  const path = options.config
  const fs = yield* FileSystem.FileSystem
  // A file that cannot be read fails the way every command reports it.
  const text = yield* fs.readFileString(path).pipe(
    Effect.catchAll((error) =>
      Effect.zipRight(
        Effect.flatMap(Effect.promise(() => import("./internal/config.js")), ({ load }) => load(assembly, path)).pipe(
          Effect.mapError(CliError.fromInvalidConfig)
        ),
        CliError.fail(`cannot read ${path}: ${error.message}`)
      )
    )
  )
  const { problemsOf } = yield* Effect.promise(() => import("./internal/validation.js"))
  const { issues, webhooks } = yield* problemsOf(assembly, text, path)
  if (issues.length > 0) return yield* Effect.fail(CliError.fromInvalidConfig(new InvalidConfig({ source: path, issues })))
  yield* Console.log(`valid: ${Format.count(webhooks, "webhook")}`)
})

/**
 * The `validate` command, reading servo.yaml with `assembly` (default: the bundled connectors).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (assembly: AssemblyLoader = configOnlyAssembly) =>
  Command.make("validate", { config }, (options) => Effect.flatMap(assembly, (loaded) => validate(loaded, options))).pipe(
    Command.withDescription(
      "Check the config: every decoding problem, then every secret that cannot be resolved (unset variable, unreadable file, bad whsec_ key), each with its path. Exits with 1 when there is one."
    )
  )

/**
 * @since 0.1.0
 * @category commands
 */
export const command = make()
