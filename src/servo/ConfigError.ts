/**
 * The error for a configuration that cannot be used, shared by the servo assembly and every
 * connector that resolves its config at start-up.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * One problem: where it is (`webhooks[2].backoff.retries`, empty for the whole file) and what was
 * expected there.
 *
 * @since 0.1.0
 * @category models
 */
export const ConfigIssue = Schema.Struct({ path: Schema.String, message: Schema.String })

/**
 * @since 0.1.0
 * @category models
 */
export interface ConfigIssue extends Schema.Schema.Type<typeof ConfigIssue> {}

/**
 * A configuration that cannot be used. `issues` lists every problem at once. Messages never
 * contain secret values.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidConfig extends Schema.TaggedError<InvalidConfig>("servo-webhooks/InvalidConfig")("InvalidConfig", {
  source: Schema.String,
  issues: Schema.Array(ConfigIssue)
}) {
  override get message(): string {
    const lines = this.issues.map(formatIssue)
    return lines.length === 1
      ? `${this.source}: ${lines[0]}`
      : `${this.source}: ${lines.length} problems\n${lines.map((line) => `  - ${line}`).join("\n")}`
  }
}

/**
 * `path: message`, or the message alone for a problem with the whole file.
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatIssue = (issue: ConfigIssue): string =>
  issue.path.length === 0 ? issue.message : `${issue.path}: ${issue.message}`
