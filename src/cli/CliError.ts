/**
 * The one error the `servo` commands fail with: a message for a person, already worded for the
 * terminal. `ServoCommand.main` prints it as `error: <message>` on stderr and exits with 1 — one
 * line, or a one-line header and one line per problem for an invalid config — never a stack
 * trace.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type { InvalidConfig } from "../servo/ConfigError.js"

/**
 * @since 0.1.0
 * @category errors
 */
export class CliError extends Schema.TaggedError<CliError>("servo-webhooks/CliError")("CliError", {
  message: Schema.String
}) {}

/**
 * An invalid config as a `CliError`: `servo.yaml: 2 problems` and one `  - path: message` line
 * per problem (or a single line for one problem).
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromInvalidConfig = (error: InvalidConfig): CliError => new CliError({ message: error.message })

/**
 * Fails with a `CliError` carrying `message`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fail = (message: string): Effect.Effect<never, CliError> => Effect.fail(new CliError({ message }))

/**
 * @since 0.1.0
 * @category refinements
 */
export const isCliError = (u: unknown): u is CliError => u instanceof CliError
