/**
 * Keys given to a command without putting them on its command line: `--NAME-env VAR` reads an
 * environment variable (through `Config`, so a `ConfigProvider` decides where variables come
 * from), `--NAME-file PATH` a regular file, both trimmed, as servo.yaml's `{ env }` and `{ file }`
 * are. A literal `--NAME VALUE` stays possible but is readable by every local user in
 * `/proc/PID/cmdline` and `ps`; the help says so.
 */
import * as Options from "@effect/cli/Options"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Redacted from "effect/Redacted"
import { readSecret } from "../../webhooks/internal/secrets.js"

/** The help's warning about a literal key on the command line. */
export const visibleOnCommandLine = (flag: string): string =>
  `a literal value is visible to other local users (in /proc/PID/cmdline, ps): prefer --${flag}-env or --${flag}-file`

/** `--NAME-env VAR`, repeatable. */
export const fromEnvOption = (flag: string, what: string) =>
  Options.text(`${flag}-env`).pipe(
    Options.withPseudoName("VAR"),
    Options.withDescription(`Read ${what} from the environment variable VAR (repeat for several)`),
    Options.repeated
  )

/** `--NAME-file PATH`, repeatable. */
export const fromFileOption = (flag: string, what: string) =>
  Options.text(`${flag}-file`).pipe(
    Options.withPseudoName("PATH"),
    Options.withDescription(`Read ${what} from the file PATH, trimmed (repeat for several)`),
    Options.repeated
  )

/**
 * The values of `--NAME-env` then `--NAME-file`, in the order given; the first problem is one
 * line naming the option and the variable or file, never a value.
 */
export const readAll = (
  flag: string,
  variables: ReadonlyArray<string>,
  files: ReadonlyArray<string>
): Effect.Effect<ReadonlyArray<Redacted.Redacted<string>>, string> =>
  Effect.forEach(
    [
      ...variables.map((name) => ({ ref: { env: name }, at: `--${flag}-env` })),
      ...files.map((file) => ({ ref: { file }, at: `--${flag}-file` }))
    ],
    ({ at, ref }) =>
      Effect.flatMap(
        readSecret(ref, at),
        Either.match({ onLeft: (issue) => Effect.fail(`${issue.path}: ${issue.message}`), onRight: Effect.succeed })
      )
  )
