/**
 * What `servo webhooks list`, `schema` and `validate` do: they only read. Loaded on demand by
 * `webhooksCommand.ts`, so that parsing a command line and printing help never pay for them.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as YAML from "yaml"
import { type ConfigIssue, InvalidConfig } from "../../servo/ConfigError.js"
import * as Event from "../../servo/Event.js"
import * as GoDuration from "../../servo/GoDuration.js"
import * as Servo from "../../servo/Servo.js"
import * as WebhookConfig from "../../webhooks/WebhookConfig.js"
import * as WireContract from "../../webhooks/WireContract.js"
import { fromInvalidConfig } from "../CliError.js"
import { type Assembly, failWith, load, resolveAt, section, webhooksOf } from "./config.js"
import * as Format from "./format.js"

// ---------------------------------------------------------------------------------------------
// list
// ---------------------------------------------------------------------------------------------

/** What `list --json` prints for a webhook: the table's facts, never a secret. */
export interface Listed {
  readonly name: string
  readonly description?: string
  readonly events: ReadonlyArray<string>
  readonly target: string
  readonly auth: "none" | "bearer" | "basic"
  readonly signed: boolean
  readonly backoff: { readonly retries: number; readonly timeout: string } | false
  readonly request_timeout: string
  readonly on_failure: "ignore" | "cancel"
  /** Names only: a header's value may be a credential. */
  readonly headers: ReadonlyArray<string>
}

const listed = (webhook: WebhookConfig.WebhookConfig): Listed => ({
  name: webhook.name,
  ...(webhook.description === undefined ? {} : { description: webhook.description }),
  events: webhook.events.map(Event.formatSelector),
  target: Format.redactUrl(webhook.target),
  auth: webhook.authentication?.bearer_token !== undefined
    ? "bearer"
    : webhook.authentication?.basic !== undefined
    ? "basic"
    : "none",
  signed: webhook.secret !== undefined,
  backoff: webhook.backoff === false
    ? false
    : { retries: webhook.backoff.retries, timeout: GoDuration.format(webhook.backoff.timeout) },
  request_timeout: GoDuration.format(webhook.request_timeout),
  on_failure: webhook.on_failure,
  headers: webhook.headers.map((header) => header.name)
})

const backoffText = (backoff: Listed["backoff"]) =>
  backoff === false ? "off" : `${Format.count(backoff.retries, "retry", "retries")}, ${backoff.timeout}`

export const list = Effect.fn("WebhooksCommand.list")(function*(
  assembly: Assembly,
  options: { readonly config: string; readonly json: boolean }
) {
  const { webhooks } = yield* load(assembly, options.config)
  const rows = webhooks.map(listed)
  if (options.json) return yield* Console.log(JSON.stringify(rows, null, 2))
  if (rows.length === 0) return yield* Console.log(`no webhooks in ${options.config}`)
  yield* Console.log(Format.table(
    ["NAME", "EVENTS", "TARGET", "AUTH", "SIGNED", "BACKOFF"],
    rows.map((row) => [
      row.name,
      row.events.join(","),
      row.target,
      row.auth,
      row.signed ? "yes" : "no",
      backoffText(row.backoff)
    ])
  ))
})

// ---------------------------------------------------------------------------------------------
// schema
// ---------------------------------------------------------------------------------------------

/** One event, before or after, named exactly: what `schema` and `trigger` work on. */
export const oneEvent = (assembly: Assembly, input: string) =>
  Effect.gen(function*() {
    const selector = yield* Either.match(WebhookConfig.parseSelector(input, assembly.events), {
      onLeft: (reason) => failWith(`${input}: ${reason}`),
      onRight: Effect.succeed
    })
    if (selector.event === "*") {
      return yield* failWith(
        `${input}: name one event, such as ${selector.preposition}:measure (known events: ${assembly.events.names.join(", ")})`
      )
    }
    return {
      event: assembly.events.get(selector.event)!,
      preposition: selector.preposition as WireContract.Preposition,
      selector: Event.formatSelector(selector)
    }
  })

export const schema = Effect.fn("WebhooksCommand.schema")(function*(assembly: Assembly, options: { readonly event: string }) {
  const { event, preposition, selector } = yield* oneEvent(assembly, options.event)
  yield* Console.log(JSON.stringify(
    { event: selector, content_type: WireContract.contentType, schema: WireContract.jsonSchema(event, preposition) },
    null,
    2
  ))
})

// ---------------------------------------------------------------------------------------------
// validate
// ---------------------------------------------------------------------------------------------

/**
 * The `webhooks:` entries that decode on their own, when the file as a whole does not: their
 * secrets can still be checked, so that one run reports every problem.
 */
const decodableEntries = (assembly: Assembly, text: string) => {
  let raw: unknown
  try {
    raw = YAML.parse(text)
  } catch {
    return []
  }
  const list = typeof raw === "object" && raw !== null ? (raw as Record<string, unknown>)[section] : undefined
  if (!Array.isArray(list)) return []
  return list.flatMap((entry, index) => {
    const decoded = Servo.decodeConfig(assembly, { [section]: [entry] })
    return Either.isRight(decoded) ? [{ index, config: webhooksOf(decoded.right)[0]! }] : []
  })
}

export const validate = Effect.fn("WebhooksCommand.validate")(function*(assembly: Assembly, options: { readonly config: string }) {
  const path = options.config
  const fs = yield* FileSystem.FileSystem
  // A file that cannot be read fails the way every command reports it.
  const text = yield* fs.readFileString(path).pipe(
    Effect.catchAll((error) => Effect.zipRight(load(assembly, path), failWith(`cannot read ${path}: ${error.message}`)))
  )
  const issues: Array<ConfigIssue> = []
  let entries: ReadonlyArray<{ readonly index: number; readonly config: WebhookConfig.WebhookConfig }>
  const parsed = Servo.parseConfig(assembly, text, path)
  if (Either.isRight(parsed)) {
    entries = webhooksOf(parsed.right).map((config, index) => ({ index, config }))
  } else {
    // Decode problems first, then the secrets of the webhooks that do decode.
    issues.push(...parsed.left.issues)
    entries = decodableEntries(assembly, text)
  }
  const resolved = yield* Effect.forEach(entries, ({ config, index }) => Effect.either(resolveAt(config, index, path)))
  for (const result of resolved) if (Either.isLeft(result)) issues.push(...result.left.issues)
  if (issues.length > 0) return yield* Effect.fail(fromInvalidConfig(new InvalidConfig({ source: path, issues })))
  yield* Console.log(`valid: ${Format.count(entries.length, "webhook")}`)
})
