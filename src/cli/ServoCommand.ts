/**
 * The `servo` command: `servo webhooks ...` (see `WebhooksCommand`), `servo generate` and
 * `servo run`, with the bundled connectors (the simulator and webhooks). Built-in options come
 * from @effect/cli: `--help`, `--version`, `--completions sh|bash|fish|zsh`, `--log-level`.
 *
 * `main` is what the bin runs: it prints a failure as one `error: ...` line on stderr (an
 * invalid config as a header and one line per problem), never a stack trace, and returns the
 * exit code.
 *
 * @since 0.1.0
 */
import type * as CliApp from "@effect/cli/CliApp"
import type * as ValidationError from "@effect/cli/ValidationError"
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as CliConfig from "@effect/cli/CliConfig"
import * as Command from "@effect/cli/Command"
import { version } from "../version.js"
import { CliError } from "./CliError.js"
import * as Help from "./internal/help.js"
import * as internal from "./internal/servoCommand.js"

/**
 * @since 0.1.0
 * @category commands
 */
export const command = internal.make()

/**
 * Parses `argv` (`[node, script, ...args]`, as `process.argv`) and runs the command. Help,
 * version and parse errors are printed by @effect/cli.
 *
 * @since 0.1.0
 * @category running
 */
export const run = (
  argv: ReadonlyArray<string>
): Effect.Effect<void, CliError | ValidationError.ValidationError, CliApp.CliApp.Environment> => {
  const args = argv.slice(2)
  const help = args.length > 0 && (args.at(-1) === "--help" || args.at(-1) === "-h") ? args.slice(0, -1) : undefined
  // The overviews of the two command groups are ours (see internal/help.ts); everything else,
  // a command's own --help included, is @effect/cli's.
  if (help !== undefined && help.length === 0) return Console.log(Help.overview())
  if (help !== undefined && help.length === 1 && help[0] === "webhooks") return Console.log(Help.webhooksOverview())
  return cli(argv).pipe(Effect.provide(cliConfig))
}

const cli = Command.run(command, { name: "servo", version, executable: "servo" })

// Built-in options are summed up in the overview instead of repeated in every command's help.
const cliConfig = CliConfig.layer({ showBuiltIns: false })

/**
 * `run`, with failures printed on stderr as `error: <message>` (parse errors were printed by
 * @effect/cli already); succeeds with the exit code: 0, or 1 after a failure. Interruption is
 * not a failure: it passes through.
 *
 * @since 0.1.0
 * @category running
 */
export const main = (argv: ReadonlyArray<string>): Effect.Effect<0 | 1, never, CliApp.CliApp.Environment> =>
  run(argv).pipe(
    Effect.as(0 as const),
    Effect.catchAllCause((cause) => {
      if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause as Cause.Cause<never>)
      const failure = Cause.failureOption(cause)
      if (failure._tag === "Some") {
        const error = failure.value
        return error instanceof CliError ? Effect.as(Console.error(`error: ${error.message}`), 1 as const) : Effect.succeed(1 as const)
      }
      const defect = Cause.squash(cause)
      return Effect.as(
        Console.error(`error: unexpected: ${defect instanceof Error ? defect.message : String(defect)}`),
        1 as const
      )
    })
  )
