/**
 * Keys given to a command without putting them on its command line: `--NAME-env VAR` reads an
 * environment variable (through `Config`, so a `ConfigProvider` decides where variables come
 * from), `--NAME-file PATH` a regular file (never a FIFO, within a deadline), both trimmed, exactly
 * as servo.yaml's `{ env }` and `{ file }` are read. The literal `--NAME VALUE` stays possible but
 * every local user can read it in /proc/PID/cmdline while the command runs: the first two come
 * first in `--help`, and the literal's help says so. `trigger` and `verify` take one key of a
 * kind (`keySources`, `resolve`); `listen` takes several, as during a rotation (`fromEnvOption`,
 * `fromFileOption`, `readAll`).
 */
import * as Options from "@effect/cli/Options"
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { readSecret } from "../../webhooks/internal/secrets.js"
import type { SecretRef } from "../../webhooks/WebhookConfig.js"

/** Which key: `secret` (`whsec_`), `signing-key` (`whsk_`) or `public-key` (`whpk_`). */
export interface KeyKind {
  readonly name: "secret" | "signing-key" | "public-key"
  /** `whsec_...` */
  readonly pseudoName: string
  /** What the key is for, completing "A whsec_ secret ..." in each option's description. */
  readonly purpose: string
}

export interface KeySources {
  readonly env: Option.Option<string>
  readonly file: Option.Option<string>
  readonly literal: Option.Option<Redacted.Redacted<string>>
}

/** The warning every literal key option carries in its `--help`. */
export const visibleWarning = "visible to other local users in /proc/PID/cmdline: prefer"

/** The three options for one key, the environment and the file first. */
export const keySources = (kind: KeyKind): Options.Options<KeySources> =>
  Options.all({
    env: Options.text(`${kind.name}-env`).pipe(
      Options.withPseudoName("VAR"),
      Options.withDescription(`Read ${kind.purpose} from the environment variable VAR`),
      Options.optional
    ),
    file: Options.text(`${kind.name}-file`).pipe(
      Options.withPseudoName("PATH"),
      Options.withDescription(`Read ${kind.purpose} from the file PATH (a trailing newline is dropped)`),
      Options.optional
    ),
    literal: Options.redacted(kind.name).pipe(
      Options.withPseudoName(kind.pseudoName),
      Options.withDescription(
        `${kind.purpose[0]!.toUpperCase()}${kind.purpose.slice(1)}, given literally: ${visibleWarning} --${kind.name}-env or --${kind.name}-file`
      ),
      Options.optional
    )
  })

/** Whether any of the three was given. */
export const given = (sources: KeySources): boolean =>
  Option.isSome(sources.env) || Option.isSome(sources.file) || Option.isSome(sources.literal)

/**
 * The key, read from where it was given (none when it was not). The variable is read through
 * the ConfigProvider, so a test or a host can supply it; the file through the FileSystem.
 * Fails with a one-line message (for a CliError) naming the option and the variable or file,
 * never the key.
 */
export const resolve = (
  kind: KeyKind,
  sources: KeySources
): Effect.Effect<Option.Option<Redacted.Redacted<string>>, string, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const count = [Option.isSome(sources.env), Option.isSome(sources.file), Option.isSome(sources.literal)].filter(Boolean).length
    if (count > 1) {
      return yield* Effect.fail(`give one of --${kind.name}-env, --${kind.name}-file and --${kind.name}, not ${count}`)
    }
    if (Option.isSome(sources.env)) return Option.some(yield* read({ env: sources.env.value }, `--${kind.name}-env`))
    if (Option.isSome(sources.file)) return Option.some(yield* read({ file: sources.file.value }, `--${kind.name}-file`))
    if (Option.isNone(sources.literal)) return Option.none()
    if (Redacted.value(sources.literal.value).trim() === "") {
      return yield* Effect.fail(`--${kind.name}: is empty; expected ${kind.pseudoName}`)
    }
    return Option.some(sources.literal.value)
  })

/** A key from a variable or a file, as servo.yaml reads one; the problem one line, never the value. */
const read = (ref: SecretRef, option: string): Effect.Effect<Redacted.Redacted<string>, string, FileSystem.FileSystem> =>
  Effect.flatMap(
    readSecret(ref, option),
    Either.match({ onLeft: (issue) => Effect.fail(`${issue.path}: ${issue.message}`), onRight: Effect.succeed })
  )

// ---------------------------------------------------------------------------------------------
// Several keys of a kind (listen, during a rotation)
// ---------------------------------------------------------------------------------------------

/** The help's warning about a literal key on the command line, for an option taking several. */
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

/** The values of `--NAME-env` then `--NAME-file`, in the order given; the first problem fails. */
export const readAll = (
  flag: string,
  variables: ReadonlyArray<string>,
  files: ReadonlyArray<string>
): Effect.Effect<ReadonlyArray<Redacted.Redacted<string>>, string, FileSystem.FileSystem> =>
  Effect.forEach([
    ...variables.map((name) => read({ env: name }, `--${flag}-env`)),
    ...files.map((file) => read({ file }, `--${flag}-file`))
  ], (reading) => reading)

export const secret: KeyKind = { name: "secret", pseudoName: "whsec_...", purpose: "a whsec_ secret (v1, HMAC-SHA256)" }
export const signingKey: KeyKind = {
  name: "signing-key",
  pseudoName: "whsk_...",
  purpose: "a whsk_ signing key (v1a, Ed25519)"
}
export const publicKey: KeyKind = {
  name: "public-key",
  pseudoName: "whpk_...",
  purpose: "a whpk_ public key (v1a, Ed25519)"
}
