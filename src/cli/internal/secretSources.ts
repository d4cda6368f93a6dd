/**
 * A key given on the command line three ways: `--NAME-env VAR` (read from the environment),
 * `--NAME-file PATH` (read from a file) and the literal `--NAME VALUE`, which every local user can
 * read in /proc/PID/cmdline while the command runs: the first two come first in `--help`. At most
 * one of the three; an empty key is refused (it would sign or verify nothing).
 */
import * as Options from "@effect/cli/Options"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"

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
    let read: { readonly option: string; readonly value: Redacted.Redacted<string> } | undefined
    if (Option.isSome(sources.env)) {
      const variable = sources.env.value
      const value = yield* Config.redacted(variable).pipe(
        Effect.mapError(() => `--${kind.name}-env: environment variable ${variable} is not set`)
      )
      read = { option: `--${kind.name}-env ${variable}`, value }
    } else if (Option.isSome(sources.file)) {
      const path = sources.file.value
      const fs = yield* FileSystem.FileSystem
      const text = yield* fs.readFileString(path).pipe(
        Effect.mapError((error) =>
          `--${kind.name}-file: cannot read ${path}: ${
            error._tag === "SystemError" && error.reason === "NotFound"
              ? "no such file"
              : error._tag === "SystemError" && error.reason === "PermissionDenied"
              ? "permission denied"
              : "not a readable file"
          }`
        )
      )
      read = { option: `--${kind.name}-file ${path}`, value: Redacted.make(text.replace(/\r?\n$/, "")) }
    } else if (Option.isSome(sources.literal)) {
      read = { option: `--${kind.name}`, value: sources.literal.value }
    }
    if (read === undefined) return Option.none()
    if (Redacted.value(read.value).trim() === "") {
      return yield* Effect.fail(`${read.option}: is empty; expected ${kind.pseudoName}`)
    }
    return Option.some(read.value)
  })

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
