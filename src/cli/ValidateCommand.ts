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
import * as Either from "effect/Either"
import * as YAML from "yaml"
import { type ConfigIssue, InvalidConfig } from "../servo/ConfigError.js"
import * as Servo from "../servo/Servo.js"
import type * as WebhookConfig from "../webhooks/WebhookConfig.js"
import * as CliError from "./CliError.js"
import { type Assembly, type AssemblyLoader, configOnlyAssembly, load, resolveAt, section, webhooksOf } from "./internal/config.js"
import * as Format from "./internal/format.js"
import { config } from "./internal/options.js"

/**
 * Each `webhooks:` entry decoded on its own, for when the file as a whole does not decode: the
 * entries that decode can still have their secrets checked, and the problems of those that do
 * not include the checks that span an entry's fields (`tls` on an http: target, ...), which a
 * whole section that fails to decode never gets to. In the mapping form each hook is decoded
 * with the section's shared settings. Either way, problems and configs keep the entry's place.
 */
const entriesOnTheirOwn = (assembly: Assembly, text: string, source: string) => {
  let raw: unknown
  try {
    raw = YAML.parse(text)
  } catch {
    return []
  }
  const value = typeof raw === "object" && raw !== null ? (raw as Record<string, unknown>)[section] : undefined
  let entries: ReadonlyArray<{ readonly input: unknown; readonly path: ReadonlyArray<string | number> }>
  if (Array.isArray(value)) {
    entries = value.map((entry, index) => ({ input: [entry], path: [index] }))
  } else if (typeof value === "object" && value !== null && Array.isArray((value as Record<string, unknown>).hooks)) {
    const { hooks, ...shared } = value as { readonly hooks: ReadonlyArray<unknown> }
    entries = hooks.map((entry, index) => ({ input: { ...shared, hooks: [entry] }, path: ["hooks", index] }))
  } else return []
  return entries.map(({ input, path }, index) => {
    const decoded = Servo.decodeConfig(assembly, { [section]: input }, source)
    return Either.match(decoded, {
      onLeft: (error) => Either.left(error.issues.map((issue) => ({ ...issue, path: placed(issue.path, index) }))),
      onRight: (config) => Either.right({ index, config: { ...webhooksOf(config)[0]!, path } })
    })
  })
}

/** `webhooks[0].tls` → `webhooks[3].tls`, `webhooks.hooks[0].tls` → `webhooks.hooks[3].tls`. */
const placed = (path: string, index: number) =>
  path.replace(new RegExp(`^${section}(\\.hooks)?\\[0\\]`), (_, hooks: string | undefined) => `${section}${hooks ?? ""}[${index}]`)

const validate = Effect.fn("WebhooksCommand.validate")(function*(assembly: Assembly, options: { readonly config: string }) {
  const path = options.config
  const fs = yield* FileSystem.FileSystem
  // A file that cannot be read fails the way every command reports it.
  const text = yield* fs.readFileString(path).pipe(
    Effect.catchAll((error) =>
      Effect.zipRight(
        Effect.mapError(load(assembly, path), CliError.fromInvalidConfig),
        CliError.fail(`cannot read ${path}: ${error.message}`)
      )
    )
  )
  const issues: Array<ConfigIssue> = []
  let entries: ReadonlyArray<{ readonly index: number; readonly config: WebhookConfig.WebhookConfig }>
  const parsed = Servo.parseConfig(assembly, text, path)
  if (Either.isRight(parsed)) {
    entries = webhooksOf(parsed.right).map((config, index) => ({ index, config }))
  } else {
    // Decode problems first (the file's, then any only an entry on its own shows), then the
    // secrets of the webhooks that do decode.
    issues.push(...parsed.left.issues)
    const alone = entriesOnTheirOwn(assembly, text, path)
    const known = new Set(issues.map((issue) => `${issue.path}\0${issue.message}`))
    for (const entry of alone) {
      if (Either.isRight(entry)) continue
      for (const issue of entry.left) {
        if (!known.has(`${issue.path}\0${issue.message}`)) issues.push(issue)
        known.add(`${issue.path}\0${issue.message}`)
      }
    }
    entries = alone.flatMap((entry) => Either.isRight(entry) ? [entry.right] : [])
  }
  const resolved = yield* Effect.forEach(entries, ({ config, index }) => Effect.either(resolveAt(config, index, path)))
  for (const result of resolved) if (Either.isLeft(result)) issues.push(...result.left.issues)
  if (issues.length > 0) return yield* Effect.fail(CliError.fromInvalidConfig(new InvalidConfig({ source: path, issues })))
  yield* Console.log(`valid: ${Format.count(entries.length, "webhook")}`)
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
