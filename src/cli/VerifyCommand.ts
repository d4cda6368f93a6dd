/**
 * `servo webhooks verify`: checks the signature of a captured request, the way a receiver
 * would (`Signature.verify`): its headers from `--headers FILE` (`name: value` lines, as curl -D
 * or a proxy log writes them) and/or `-H name:value`, its body from `--body FILE` or stdin, and a
 * `whsec_` secret or `whpk_` public key. Prints `valid (v1)` (or `v1a`) and exits 0; otherwise
 * fails with the reason and exits 1.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type * as SignatureModule from "../webhooks/Signature.js"
import * as CliError from "./CliError.js"
import { untrusted } from "../internal/terminal.js"
import * as SecretSources from "./internal/secretSources.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface VerifyOptions {
  /** A file of `name: value` lines (an HTTP status line and blank lines are skipped). */
  readonly headers: Option.Option<string>
  /** `name:value` headers, after those of the file (a name given again replaces it). */
  readonly header: ReadonlyArray<string>
  /** The body's file; stdin when absent. */
  readonly body: Option.Option<string>
  readonly secret: SecretSources.KeySources
  readonly publicKey: SecretSources.KeySources
  /** How far `webhook-timestamp` may be from now, in seconds; a captured request ages. */
  readonly tolerance: number
}

/** `name: value` → `[name, value]` (name lower-cased), or why not. */
const headerLine = (line: string, where: string): Either.Either<readonly [string, string], string> => {
  const colon = line.indexOf(":")
  if (colon <= 0) return Either.left(`${where}: expected name: value`)
  return Either.right([line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()] as const)
}

// A terminal on stdin would wait for a body nobody types: say what to give instead.
const readStdin: Effect.Effect<Uint8Array, CliError.CliError> = Effect.suspend(() =>
  process.stdin.isTTY === true ? CliError.fail("give the request's body: --body FILE, or pipe it to stdin") : readPiped
)

const readPiped: Effect.Effect<Uint8Array, CliError.CliError> = Effect.async<Uint8Array, CliError.CliError>((resume) => {
  const chunks: Array<Buffer> = []
  const onData = (chunk: Buffer) => void chunks.push(chunk)
  const onEnd = () => resume(Effect.succeed(new Uint8Array(Buffer.concat(chunks))))
  const onError = (error: Error) => resume(CliError.fail(`cannot read the body from stdin: ${error.message}`))
  process.stdin.on("data", onData).once("end", onEnd).once("error", onError)
  return Effect.sync(() => {
    process.stdin.off("data", onData).off("end", onEnd).off("error", onError)
    process.stdin.pause()
  })
})

const verify = Effect.fn("WebhooksCommand.verify")(function*(options: VerifyOptions) {
  const fs = yield* FileSystem.FileSystem
  const Signature = yield* Effect.promise(() => import("../webhooks/Signature.js"))
  const secret = yield* SecretSources.resolve(SecretSources.secret, options.secret).pipe(Effect.catchAll(CliError.fail))
  const publicKey = yield* SecretSources.resolve(SecretSources.publicKey, options.publicKey).pipe(Effect.catchAll(CliError.fail))
  if (Option.isNone(secret) && Option.isNone(publicKey)) {
    return yield* CliError.fail(
      "give the key to verify with: --secret-env VAR, --secret-file PATH or --secret (v1), or --public-key (v1a)"
    )
  }
  const keys: Array<SignatureModule.VerificationKey> = []
  if (Option.isSome(secret)) {
    keys.push(yield* Either.mapLeft(Signature.parseSecret(secret.value), (error) => new CliError.CliError({ message: `--secret: ${error.message}` })))
  }
  if (Option.isSome(publicKey)) {
    keys.push(
      yield* Either.mapLeft(
        Signature.parsePublicKey(publicKey.value),
        (error) => new CliError.CliError({ message: `--public-key: ${error.message}` })
      )
    )
  }

  const headers: Record<string, Array<string>> = {}
  const add = ([name, value]: readonly [string, string]) => void (headers[name] ??= []).push(value)
  if (Option.isSome(options.headers)) {
    const path = options.headers.value
    const text = yield* fs.readFileString(path).pipe(
      Effect.mapError((error) => new CliError.CliError({ message: `--headers: cannot read ${path}: ${error.message}` }))
    )
    const lines = text.split(/\r?\n/)
    for (const [index, line] of lines.entries()) {
      if (line.trim() === "" || /^HTTP\/\S+ \d{3}/.test(line) || /^(POST|PUT|GET) \S+ HTTP\//.test(line)) continue
      add(yield* Either.mapLeft(headerLine(line, `${path}:${index + 1}`), (message) => new CliError.CliError({ message })))
    }
  }
  for (const header of options.header) {
    const [name, value] = yield* Either.mapLeft(headerLine(header, `-H ${header}`), (message) => new CliError.CliError({ message }))
    headers[name] = [value]
  }
  if (Object.keys(headers).length === 0) return yield* CliError.fail("give the request's headers: --headers FILE or -H name:value")

  const body = yield* Option.match(options.body, {
    onNone: () => readStdin,
    onSome: (path) =>
      fs.readFile(path).pipe(
        Effect.mapError((error) => new CliError.CliError({ message: `--body: cannot read ${path}: ${error.message}` }))
      )
  })

  const verified = Signature.verify(keys, { headers, body }, { toleranceSeconds: options.tolerance })
  if (Either.isLeft(verified)) {
    return yield* CliError.fail(`invalid: ${verified.left.reason}: ${untrusted(verified.left.detail)}`)
  }
  yield* Console.log(`valid (${verified.right.scheme})`)
})

/**
 * The `verify` command.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = () =>
  Command.make("verify", {
    secret: SecretSources.keySources(SecretSources.secret),
    publicKey: SecretSources.keySources(SecretSources.publicKey),
    headers: Options.file("headers", { exists: "yes" }).pipe(
      Options.withPseudoName("FILE"),
      Options.withDescription("The request's headers, one name: value per line (as curl -D writes them)"),
      Options.optional
    ),
    header: Options.text("header").pipe(
      Options.withAlias("H"),
      Options.withPseudoName("NAME:VALUE"),
      Options.withDescription("A header of the request (repeat for several); replaces one of --headers with the same name"),
      Options.repeated
    ),
    body: Options.file("body", { exists: "yes" }).pipe(
      Options.withPseudoName("FILE"),
      Options.withDescription("The request's body, byte for byte (default: read from stdin)"),
      Options.optional
    ),
    tolerance: Options.integer("tolerance").pipe(
      Options.withPseudoName("SECONDS"),
      Options.withDescription("How far webhook-timestamp may be from now (default: 300); raise it for an older capture"),
      Options.withDefault(300)
    )
  }, verify).pipe(
    Command.withDescription(
      "Verify the signature of a captured request as a receiver would: its headers (--headers FILE, -H name:value), its body (--body FILE or stdin) and a whsec_ secret (v1) or whpk_ public key (v1a). Prints valid (v1) or valid (v1a) and exits 0; otherwise prints why and exits 1. Needs no config file."
    )
  )

/**
 * @since 0.1.0
 * @category commands
 */
export const command = make()
