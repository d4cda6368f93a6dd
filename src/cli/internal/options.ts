/** Options and arguments that several commands share. */
import * as Args from "@effect/cli/Args"
import * as Options from "@effect/cli/Options"

/** `--config FILE`, on every command but `keys`. */
export const config = Options.file("config", { exists: "either" }).pipe(
  Options.withAlias("c"),
  Options.withPseudoName("FILE"),
  Options.withDescription("The servo config file (default: servo.yaml)"),
  Options.withDefault("servo.yaml")
)

/** `EVENT`, for `schema` and `trigger`. */
export const event = Args.text({ name: "EVENT" }).pipe(
  Args.withDescription("A webhook event: before:EVENT or after:EVENT, such as after:measure or before:adjust")
)
