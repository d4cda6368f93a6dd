/**
 * Every problem of a servo.yaml, for `validate`: decoding problems first (the file's, then any
 * only an entry decoded on its own shows), then the secrets of the webhooks that do decode.
 * Loaded when `validate` runs.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { identity } from "effect/Function"
import { capIssues, maxIssues } from "../../internal/issues.js"
import type { ConfigIssue } from "../../servo/ConfigError.js"
import * as Servo from "../../servo/Servo.js"
import * as WebhookConfig from "../../webhooks/WebhookConfig.js"
import type { Assembly } from "./assemblies.js"
import { resolveAt, section, webhooksOf } from "./config.js"

/**
 * Each `webhooks:` entry decoded on its own, for when the file as a whole does not decode: the
 * entries that decode can still have their secrets checked, and the problems of those that do
 * not include the checks that span an entry's fields (`tls` on an http: target, ...), which a
 * whole section that fails to decode never gets to. In the mapping form each hook is decoded
 * with the section's shared settings. Either way, problems and configs keep the entry's place.
 */
const entriesOnTheirOwn = (assembly: Assembly, text: string, source: string) => {
  // Within the parsing limits: a file too large, too deep or an alias bomb is one problem already.
  const parsed = Servo.parseYaml(text, source)
  if (Either.isLeft(parsed)) return []
  const raw = parsed.right
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

/** The problems of `text` (read from `path`), each with its path, and how many webhooks it has. */
export const problemsOf = (assembly: Assembly, text: string, path: string) =>
  Effect.gen(function*() {
    const issues: Array<ConfigIssue> = []
    let capped = false
    let entries: ReadonlyArray<{ readonly index: number; readonly config: WebhookConfig.WebhookConfig }>
    const parsed = Servo.parseConfig(assembly, text, path)
    if (Either.isRight(parsed)) {
      const hooks = webhooksOf(parsed.right)
      entries = hooks.map((config, index) => ({ index, config }))
      // The outbox's secret too (a PostgreSQL URL from a variable or a file), as `run` reads it.
      const outbox = yield* Effect.either(
        WebhookConfig.resolveOutbox(WebhookConfig.outboxOf(hooks), { section, source: path })
      )
      if (Either.isLeft(outbox)) for (const issue of outbox.left.issues) issues.push(issue)
    } else {
      // No spread: 130,000 issues as arguments overflow the stack.
      for (const issue of parsed.left.issues) issues.push(issue)
      // Past the cap the file's own problems are more than can be listed: deciding each of
      // (maybe) 100,000 entries on its own would only add to the count, slowly.
      capped = issues.length > maxIssues
      const alone = capped ? [] : entriesOnTheirOwn(assembly, text, path)
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
    for (const result of resolved) if (Either.isLeft(result)) for (const issue of result.left.issues) issues.push(issue)
    return { issues: capped ? issues : capIssues(issues, identity), webhooks: entries.length }
  })
