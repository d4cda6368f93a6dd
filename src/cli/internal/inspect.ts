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
import { environmentProxyVariable } from "../../webhooks/internal/webhookConfig.js"
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
  /** Userinfo, query values and the fragment read `REDACTED`. */
  readonly target: string
  readonly auth: "none" | "bearer" | "basic"
  readonly signed: boolean
  /** One entry per key, in `webhook-signature`'s order: `v1` per secret, then `v1a` per signing key. */
  readonly signatures: ReadonlyArray<"v1" | "v1a">
  readonly backoff: { readonly retries: number; readonly timeout: string } | false
  readonly request_timeout: string
  readonly on_failure: "ignore" | "cancel"
  /** Names only: a header's value may be a credential. */
  readonly headers: ReadonlyArray<string>
  readonly transport: ListedTransport
}

/** How deliveries travel, from the config (and, for the proxy, the environment): no secret. */
export interface ListedTransport {
  /** Set when the webhook has `tls:`. */
  readonly tls: { readonly custom_ca: boolean; readonly client_certificate: boolean; readonly verify: boolean } | null
  /** Where the proxy comes from: `config`, or the environment variable that names it. Never its URL. */
  readonly proxy: string | null
  /** `h2` over TLS, `h2c` to an http: target. */
  readonly http2: "h2" | "h2c" | null
  /** Set when the SSRF guard is on. */
  readonly network: { readonly deny_private: true; readonly allow: ReadonlyArray<string> } | null
}

const refCount = (refs: WebhookConfig.WebhookConfig["secret"]): number =>
  refs === undefined ? 0 : Array.isArray(refs) ? refs.length : 1

const transportOf = (webhook: WebhookConfig.WebhookConfig): ListedTransport => ({
  tls: webhook.tls === undefined ? null : {
    custom_ca: webhook.tls.ca !== undefined,
    client_certificate: webhook.tls.cert !== undefined,
    verify: webhook.tls.insecure_skip_verify !== true
  },
  // Read as `servo run` would read it now; the proxy's URL may hold credentials and is not read.
  proxy: webhook.proxy === false
    ? null
    : webhook.proxy !== undefined
    ? "config"
    : environmentProxyVariable(webhook.target) ?? null,
  http2: webhook.http2 === true ? (webhook.target.startsWith("https:") ? "h2" : "h2c") : null,
  network: webhook.network?.denyPrivate === true
    ? { deny_private: true, allow: webhook.network.allow.map((cidr) => cidr.text) }
    : null
})

const listed = (webhook: WebhookConfig.WebhookConfig): Listed => ({
  name: webhook.name,
  ...(webhook.description === undefined ? {} : { description: webhook.description }),
  events: webhook.events.map(Event.formatSelector),
  target: WebhookConfig.redactTarget(webhook.target),
  auth: webhook.authentication?.bearer_token !== undefined
    ? "bearer"
    : webhook.authentication?.basic !== undefined
    ? "basic"
    : "none",
  signed: webhook.secret !== undefined || webhook.signing_key !== undefined,
  signatures: [
    ...Array.from({ length: refCount(webhook.secret) }, () => "v1" as const),
    ...Array.from({ length: refCount(webhook.signing_key) }, () => "v1a" as const)
  ],
  backoff: webhook.backoff === false
    ? false
    : { retries: webhook.backoff.retries, timeout: GoDuration.format(webhook.backoff.timeout) },
  request_timeout: GoDuration.format(webhook.request_timeout),
  on_failure: webhook.on_failure,
  headers: webhook.headers.map((header) => header.name),
  transport: transportOf(webhook)
})

const backoffText = (backoff: Listed["backoff"]) =>
  backoff === false ? "off" : `${Format.count(backoff.retries, "retry", "retries")}, ${backoff.timeout}`

/** `no`, `v1`, `v1 ×2` (a rotation), `v1a`, `v1+v1a`, ... */
export const signedText = (signatures: Listed["signatures"]): string => {
  const parts = (["v1", "v1a"] as const).flatMap((scheme) => {
    const n = signatures.filter((s) => s === scheme).length
    return n === 0 ? [] : [n === 1 ? scheme : `${scheme} ×${n}`]
  })
  return parts.length === 0 ? "no" : parts.join("+")
}

/** `-`, or what is not the default: `mtls`, `ca`, `insecure`, `proxy`, `proxy:HTTPS_PROXY`, `h2`, `h2c`, `guarded`. */
export const transportText = (transport: ListedTransport): string => {
  const notes = [
    ...(transport.tls === null ? [] : [
      ...(transport.tls.client_certificate ? ["mtls"] : []),
      ...(transport.tls.custom_ca ? ["ca"] : []),
      ...(transport.tls.verify ? [] : ["insecure"])
    ]),
    ...(transport.proxy === null ? [] : [transport.proxy === "config" ? "proxy" : `proxy:${transport.proxy}`]),
    ...(transport.http2 === null ? [] : [transport.http2]),
    ...(transport.network === null ? [] : ["guarded"])
  ]
  return notes.length === 0 ? "-" : notes.join(",")
}

export const list = Effect.fn("WebhooksCommand.list")(function*(
  assembly: Assembly,
  options: { readonly config: string; readonly json: boolean }
) {
  const { webhooks } = yield* load(assembly, options.config)
  const rows = webhooks.map(listed)
  if (options.json) return yield* Console.log(JSON.stringify(rows, null, 2))
  if (rows.length === 0) return yield* Console.log(`no webhooks in ${options.config}`)
  // The TRANSPORT column only when some webhook does not travel the default way.
  const transports = rows.map((row) => transportText(row.transport))
  const showTransport = transports.some((text) => text !== "-")
  yield* Console.log(Format.table(
    ["NAME", "EVENTS", "TARGET", "AUTH", "SIGNED", "BACKOFF", ...(showTransport ? ["TRANSPORT"] : [])],
    rows.map((row, i) => [
      row.name,
      row.events.join(","),
      row.target,
      row.auth,
      signedText(row.signatures),
      backoffText(row.backoff),
      ...(showTransport ? [transports[i]!] : [])
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
  if (issues.length > 0) return yield* Effect.fail(fromInvalidConfig(new InvalidConfig({ source: path, issues })))
  yield* Console.log(`valid: ${Format.count(entries.length, "webhook")}`)
})
