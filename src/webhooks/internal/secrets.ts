/**
 * Reading a secret ref at start-up: literal text, an environment variable through `Config` (so a
 * `ConfigProvider` decides where variables come from), or a file through `FileSystem`. Every
 * failure is a `{ path, message }` issue that names the variable or the file, never the value.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as crypto from "node:crypto"
import * as tls from "node:tls"
import type { ConfigIssue } from "../../servo/ConfigError.js"
import type * as WebhookConfig from "../WebhookConfig.js"
import { codeOf } from "./errors.js"

/** A value, or the one problem that stops it being read. */
export type Resolved<A> = Either.Either<A, ConfigIssue>

/** How long reading one secret file may take: a file on a hung network mount must not hang start-up. */
export const fileReadDeadline = Duration.seconds(10)

/** An environment variable's value, as the current `ConfigProvider` has it; `None` when unset. */
export const readVariable = (name: string): Effect.Effect<Option.Option<string>> =>
  Config.option(Config.string(name)).pipe(Effect.orElseSucceed(() => Option.none<string>()))

const fromVariable = (name: string, path: string): Effect.Effect<Resolved<Redacted.Redacted<string>>> =>
  Effect.map(readVariable(name), (value) => {
    if (Option.isNone(value)) return Either.left({ path, message: `environment variable ${name} is not set` })
    const text = value.value.trim()
    if (text.length === 0) return Either.left({ path, message: `environment variable ${name} is empty` })
    return Either.right(Redacted.make(text))
  })

/** The FileSystem in context, or Node's: resolving must not demand one of every caller. */
const withFileSystem = <A, E>(use: (fs: FileSystem.FileSystem) => Effect.Effect<A, E>): Effect.Effect<A, E> =>
  Effect.flatMap(Effect.serviceOption(FileSystem.FileSystem), (found) =>
    Option.isSome(found)
      ? use(found.value)
      : Effect.provide(Effect.flatMap(FileSystem.FileSystem, use), NodeFileSystem.layer))

const describeFileError = (error: unknown): string => {
  const reason = typeof error === "object" && error !== null && "reason" in error ? String(error.reason) : ""
  if (reason === "NotFound") return "no such file"
  if (reason === "PermissionDenied") return "permission denied"
  const code = codeOf(typeof error === "object" && error !== null && "cause" in error ? error.cause : error)
  switch (code) {
    case "ENOENT":
      return "no such file"
    case "EACCES":
    case "EPERM":
      return "permission denied"
    case "EISDIR":
      return "it is a directory"
    default:
      return code.length > 0 ? code : "unreadable"
  }
}

const fileKinds: Record<string, string> = {
  Directory: "it is a directory",
  FIFO: "it is a FIFO (named pipe), not a regular file",
  CharacterDevice: "it is a device, not a regular file",
  BlockDevice: "it is a device, not a regular file",
  Socket: "it is a socket, not a regular file"
}

const fromFile = (file: string, path: string): Effect.Effect<Resolved<Redacted.Redacted<string>>> =>
  withFileSystem((fs) =>
    Effect.gen(function*() {
      // A FIFO with no writer would block the read forever (and a libuv thread with it): only a
      // regular file is opened at all.
      const info = yield* fs.stat(file)
      if (info.type !== "File") {
        return Either.left<ConfigIssue>({ path, message: `cannot read file ${file}: ${fileKinds[info.type] ?? "not a regular file"}` })
      }
      const text = (yield* fs.readFileString(file)).trim()
      return text.length === 0
        ? Either.left<ConfigIssue>({ path, message: `file ${file} is empty` })
        : Either.right(Redacted.make(text))
    }).pipe(
      Effect.timeoutFail({
        duration: fileReadDeadline,
        onTimeout: () => ({ reason: "Timeout" })
      }),
      Effect.catchAll((error) =>
        Effect.succeed(Either.left<ConfigIssue>({
          path,
          message: `cannot read file ${file}: ${
            "reason" in error && error.reason === "Timeout" ? `no answer within ${Duration.format(fileReadDeadline)}` : describeFileError(error)
          }`
        }))
      )
    )
  )

/** Reads one secret ref; `path` is where problems are reported. */
export const readSecret = (
  ref: WebhookConfig.SecretRef,
  path: string
): Effect.Effect<Resolved<Redacted.Redacted<string>>> => {
  if (typeof ref === "string") return Effect.succeed(Either.right(Redacted.make(ref)))
  if ("env" in ref) return fromVariable(ref.env, path)
  return fromFile(ref.file, path)
}

/** Each ref of a one-or-many field, with its path (`secret`, or `secret[1]` in a list). */
export const refsOf = (
  refs: WebhookConfig.SecretRef | ReadonlyArray<WebhookConfig.SecretRef> | undefined,
  path: string
): ReadonlyArray<readonly [WebhookConfig.SecretRef, string]> =>
  refs === undefined
    ? []
    : Array.isArray(refs)
    ? (refs as ReadonlyArray<WebhookConfig.SecretRef>).map((ref, i) => [ref, `${path}[${i}]`] as const)
    : [[refs as WebhookConfig.SecretRef, path] as const]

/** Why a PEM certificate and key are not usable together, in words that never quote them. */
export const checkTls = (options: tls.SecureContextOptions): "mismatch" | "invalid" | undefined => {
  try {
    tls.createSecureContext(options)
    return undefined
  } catch (error) {
    const code = codeOf(error)
    return code === "ERR_OSSL_X509_KEY_VALUES_MISMATCH" || /mismatch/i.test(String((error as Error).message))
      ? "mismatch"
      : "invalid"
  }
}

/** Every PEM block a certificate, and at least one. */
export const isCertificateBundle = (text: string): boolean => {
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)
  if (blocks === null) return false
  try {
    for (const block of blocks) new crypto.X509Certificate(block)
    return true
  } catch {
    return false
  }
}
