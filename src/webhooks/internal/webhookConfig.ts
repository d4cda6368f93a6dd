import * as Arr from "effect/Array"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type * as SchemaAST from "effect/SchemaAST"
import * as fs from "node:fs/promises"
import { formatPath } from "../../internal/issues.js"
import { type ConfigIssue, InvalidConfig } from "../../servo/ConfigError.js"
import * as Event from "../../servo/Event.js"
import { GoDuration } from "../../servo/GoDuration.js"
import * as Signature from "../Signature.js"
import type * as WebhookConfig from "../WebhookConfig.js"

/** @internal */
export const defaults = {
  requestTimeout: Duration.seconds(10),
  backoff: { retries: 3, timeout: Duration.minutes(5) }
} as const

// ---------------------------------------------------------------------------------------------
// Building blocks. Unions are decoded by hand so that an error says what was expected once,
// instead of one line per alternative, and never echoes a value that may be a secret.
// ---------------------------------------------------------------------------------------------

const fail = (ast: SchemaAST.AST, actual: unknown, message: string) =>
  ParseResult.fail(new ParseResult.Type(ast, actual, message))

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/** A Schema from `unknown` decoded by `decode`, which reports its own, value-free messages. */
const custom = <A>(
  identifier: string,
  decode: (u: unknown, ast: SchemaAST.AST) => Effect.Effect<A, ParseResult.ParseIssue>
): Schema.Schema<A, unknown> =>
  Schema.transformOrFail(Schema.Unknown, Schema.Any as Schema.Schema<A>, {
    strict: true,
    decode: (u, _, ast) => decode(u, ast),
    encode: ParseResult.succeed
  }).annotations({ identifier })

const choice = <const A extends ReadonlyArray<string>>(identifier: string, values: A) =>
  custom<A[number]>(identifier, (u, ast) =>
    typeof u === "string" && values.includes(u)
      ? ParseResult.succeed(u)
      : fail(ast, u, `expected ${values.map((v) => JSON.stringify(v)).join(" or ")}, got ${JSON.stringify(u)}`))

const envName = /^[A-Za-z_][A-Za-z0-9_]*$/
const secretExpected = "expected a secret: a string, { env: VARIABLE } or { file: PATH }"

const SecretRef = custom<WebhookConfig.SecretRef>("SecretRef", (u, ast) => {
  if (typeof u === "string") return u.length > 0 ? ParseResult.succeed(u) : fail(ast, u, `is empty; ${secretExpected}`)
  if (isRecord(u)) {
    const keys = Object.keys(u)
    if (keys.length === 1 && keys[0] === "env") {
      return typeof u.env === "string" && envName.test(u.env)
        ? ParseResult.succeed({ env: u.env })
        : fail(ast, u, "env: expected the name of an environment variable, such as HOOK_SECRET")
    }
    if (keys.length === 1 && keys[0] === "file") {
      return typeof u.file === "string" && u.file.length > 0
        ? ParseResult.succeed({ file: u.file })
        : fail(ast, u, "file: expected the path of a file holding the secret")
    }
  }
  return fail(ast, u, secretExpected)
})

/** @internal */
export const parseSelector = (input: string, events: Event.Registry): Either.Either<Event.Selector, string> => {
  const parsed = Event.parseSelector(input, events)
  if (Either.isLeft(parsed)) return Either.left(parsed.left.reason)
  const selector = parsed.right
  if (selector.preposition !== "on") return Either.right(selector)
  return Either.left(
    input.includes(":")
      ? `webhooks run before or after an event, not on it (an on webhook would be a handler, not a callback); use before:${selector.event} or after:${selector.event}`
      : `missing preposition: expected before:${input} or after:${input}`
  )
}

const Selector = (events: Event.Registry) =>
  custom<Event.Selector>("EventSelector", (u, ast) => {
    if (typeof u !== "string") return fail(ast, u, "expected an event selector such as before:adjust or after:measure")
    return Either.match(parseSelector(u, events), {
      onLeft: (reason) => fail(ast, u, reason),
      onRight: ParseResult.succeed
    })
  })

const Target = custom<string>("Target", (u, ast) => {
  if (typeof u !== "string") return fail(ast, u, "expected an http or https URL")
  let url: URL
  try {
    url = new URL(u)
  } catch {
    return fail(ast, u, "expected an http or https URL, such as https://example.com/webhooks")
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return fail(ast, u, `expected an http or https URL, got a ${url.protocol.slice(0, -1)}: URL`)
  }
  // Never echo the URL here: it holds the credentials.
  if (url.username !== "" || url.password !== "") {
    return fail(ast, u, "must not carry credentials (user:password@); use authentication.basic or bearer_token")
  }
  return ParseResult.succeed(url.href)
})

const token = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
const lineBreak = /[\r\n\0]/

/** Headers our wire contract owns: a configured header may not replace them. */
const reservedHeaders = new Set([
  "content-type",
  "content-length",
  "transfer-encoding",
  "host",
  "connection",
  "user-agent",
  "servo-event"
])

const checkHeader = (name: unknown, value: unknown): ReadonlyArray<readonly [key: "name" | "value", message: string]> => {
  const issues: Array<readonly [key: "name" | "value", message: string]> = []
  if (typeof name !== "string" || name.length === 0) issues.push(["name", "expected a header name"])
  else if (lineBreak.test(name)) issues.push(["name", "contains a line break (CR/LF): header injection is refused"])
  else if (!token.test(name)) issues.push(["name", `${JSON.stringify(name)} is not a valid header name`])
  else if (reservedHeaders.has(name.toLowerCase()) || name.toLowerCase().startsWith("webhook-")) {
    issues.push(["name", `${name} is set by servo-webhooks and cannot be configured`])
  }
  if (typeof value !== "string") issues.push(["value", "expected a string"])
  else if (lineBreak.test(value)) issues.push(["value", "contains a line break (CR/LF): header injection is refused"])
  return issues
}

const Headers = custom<ReadonlyArray<WebhookConfig.Header>>("Headers", (u, ast) => {
  const entries: Array<[path: readonly [PropertyKey], name: unknown, value: unknown]> = []
  if (Array.isArray(u)) {
    for (let i = 0; i < u.length; i++) {
      const entry: unknown = u[i]
      if (!isRecord(entry)) {
        return fail(ast, u, `[${i}]: expected { name, value }`)
      }
      const extra = Object.keys(entry).filter((key) => key !== "name" && key !== "value")
      if (extra.length > 0) return fail(ast, u, `[${i}].${extra[0]}: is unexpected, expected: "name" | "value"`)
      entries.push([[i], entry.name, entry.value])
    }
  } else if (isRecord(u)) {
    for (const [name, value] of Object.entries(u)) entries.push([[name], name, value])
  } else {
    return fail(ast, u, "expected a list of { name, value } or a mapping of names to values")
  }
  const issues: Array<ParseResult.ParseIssue> = []
  const seen = new Map<string, number>()
  for (const [path, name, value] of entries) {
    for (const [key, message] of checkHeader(name, value)) {
      issues.push(new ParseResult.Pointer(Array.isArray(u) ? [path[0], key] : path, u, new ParseResult.Type(ast, undefined, message)))
    }
    if (typeof name === "string") {
      const lower = name.toLowerCase()
      if (seen.has(lower)) {
        issues.push(new ParseResult.Pointer(path, u, new ParseResult.Type(ast, undefined, `${name} is given twice`)))
      }
      seen.set(lower, 1)
    }
  }
  if (Arr.isNonEmptyArray(issues)) return ParseResult.fail(new ParseResult.Composite(ast, u, issues))
  return ParseResult.succeed(entries.map(([, name, value]) => ({ name: name as string, value: value as string })))
})

const Authentication = Schema.Struct({
  bearer_token: Schema.optionalWith(SecretRef, { exact: true }),
  basic: Schema.optionalWith(
    Schema.Struct({
      username: Schema.String.pipe(
        Schema.filter((name) => name.includes(":") ? "must not contain a colon (Basic authentication joins user:password)" : undefined)
      ),
      password: SecretRef
    }),
    { exact: true }
  )
}).pipe(
  Schema.filter((auth) => {
    if (auth.bearer_token !== undefined && auth.basic !== undefined) return "set bearer_token or basic, not both"
    if (auth.bearer_token === undefined && auth.basic === undefined) return "expected bearer_token or basic"
    return undefined
  })
)

const Retries = Schema.Number.pipe(
  Schema.filter((n) => Number.isInteger(n) && n >= 0 ? undefined : `expected a whole number of retries (0 or more), got ${n}`)
)

const Backoff = custom<WebhookConfig.Backoff | false>("Backoff", (u, ast) => {
  if (u === false) return ParseResult.succeed(false as const)
  if (u === true) return ParseResult.succeed(defaults.backoff)
  if (!isRecord(u)) return fail(ast, u, "expected false (send once) or { retries, timeout }")
  return ParseResult.decodeUnknown(BackoffFields)(u, { errors: "all", onExcessProperty: "error" })
})

const BackoffFields = Schema.Struct({
  retries: Schema.optionalWith(Retries, { exact: true, default: () => defaults.backoff.retries }),
  timeout: Schema.optionalWith(GoDuration, { exact: true, default: () => defaults.backoff.timeout })
})

const name = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/

const Entry = (events: Event.Registry) =>
  Schema.Struct({
    name: Schema.optionalWith(
      Schema.String.pipe(Schema.filter((s) =>
        name.test(s) ? undefined : "expected letters, digits, '_', '.' or '-', starting with a letter or digit"
      )),
      { exact: true }
    ),
    description: Schema.optionalWith(Schema.String, { exact: true }),
    event: Schema.optionalWith(Selector(events), { exact: true }),
    events: Schema.optionalWith(
      Schema.Array(Selector(events)).pipe(Schema.filter((list) => list.length > 0 ? undefined : "expected at least one event")),
      { exact: true }
    ),
    target: Schema.propertySignature(Target).annotations({
      missingMessage: () => "is missing: expected the receiver's http or https URL"
    }),
    headers: Schema.optionalWith(Headers, { exact: true, default: () => [] }),
    authentication: Schema.optionalWith(Authentication, { exact: true }),
    secret: Schema.optionalWith(SecretRef, { exact: true }),
    request_timeout: Schema.optionalWith(GoDuration, { exact: true, default: () => defaults.requestTimeout }),
    on_failure: Schema.optionalWith(choice("OnFailure", ["ignore", "cancel"]), { exact: true, default: () => "ignore" as const }),
    backoff: Schema.optionalWith(Backoff, { exact: true, default: () => defaults.backoff }),
    trace_propagation: Schema.optionalWith(Schema.Boolean, { exact: true, default: () => false })
  })

type Entry = Schema.Schema.Type<ReturnType<typeof Entry>>

/** The checks that span fields of one webhook, each reported at the field it is about. */
const crossCheck = (entry: Entry): ReadonlyArray<{ readonly path: Arr.NonEmptyReadonlyArray<PropertyKey>; readonly message: string }> => {
  const issues: Array<{ readonly path: Arr.NonEmptyReadonlyArray<PropertyKey>; readonly message: string }> = []
  if (entry.event !== undefined && entry.events !== undefined) {
    issues.push({ path: ["events"], message: "give event or events, not both" })
  }
  if (entry.event === undefined && entry.events === undefined) {
    issues.push({ path: ["event"], message: "is missing: expected (before|after):EVENT, such as after:measure" })
  }
  if (entry.authentication !== undefined) {
    entry.headers.forEach((header, i) => {
      if (header.name.toLowerCase() === "authorization") {
        issues.push({ path: ["headers", i, "name"], message: "authorization is set by authentication; configure one or the other" })
      }
    })
  }
  const selectors = entry.events ?? (entry.event === undefined ? [] : [entry.event])
  if (entry.on_failure === "cancel" && selectors.length > 0 && selectors.every((s) => s.preposition !== "before")) {
    issues.push({ path: ["on_failure"], message: "applies to before webhooks; this webhook has only after events" })
  }
  return issues
}

/** @internal */
export const WebhooksConfig = (events: Event.Registry): Schema.Schema<ReadonlyArray<WebhookConfig.WebhookConfig>, unknown> =>
  Schema.transformOrFail(
    Schema.Unknown,
    Schema.Any as Schema.Schema<ReadonlyArray<WebhookConfig.WebhookConfig>>,
    {
      strict: true,
      decode: (u, options, ast) =>
        Effect.gen(function*() {
          if (!Array.isArray(u)) return yield* fail(ast, u, "expected a list of webhooks")
          const entries = yield* ParseResult.decodeUnknown(Schema.Array(Entry(events)))(u, options)
          const issues: Array<ParseResult.ParseIssue> = []
          const names = new Map<string, number>()
          const configs = entries.map((entry, i): WebhookConfig.WebhookConfig => {
            for (const { message, path } of crossCheck(entry)) {
              issues.push(new ParseResult.Pointer([i, ...path], u, new ParseResult.Type(ast, undefined, message)))
            }
            if (entry.name !== undefined) {
              const first = names.get(entry.name)
              if (first !== undefined) {
                issues.push(
                  new ParseResult.Pointer(
                    [i, "name"],
                    u,
                    new ParseResult.Type(ast, undefined, `duplicate name ${JSON.stringify(entry.name)} (also [${first}].name)`)
                  )
                )
              } else names.set(entry.name, i)
            }
            const { event, events: selectors, name, ...rest } = entry
            return {
              ...rest,
              name: name ?? `webhooks[${i}]`,
              events: dedupe(selectors ?? (event === undefined ? [] : [event]))
            }
          })
          if (Arr.isNonEmptyArray(issues)) return yield* ParseResult.fail(new ParseResult.Composite(ast, u, issues))
          return configs
        }),
      encode: ParseResult.succeed
    }
  ).annotations({ identifier: "WebhooksConfig" })

const dedupe = (selectors: ReadonlyArray<Event.Selector>): ReadonlyArray<Event.Selector> =>
  selectors.filter((selector, i) =>
    selectors.findIndex((other) => other.preposition === selector.preposition && other.event === selector.event) === i
  )

// ---------------------------------------------------------------------------------------------
// Resolution: read secrets once, at start-up.
// ---------------------------------------------------------------------------------------------

type Resolved<A> = Either.Either<A, ConfigIssue>

const readSecret = (ref: WebhookConfig.SecretRef, path: string): Effect.Effect<Resolved<Redacted.Redacted<string>>> => {
  if (typeof ref === "string") return Effect.succeed(Either.right(Redacted.make(ref)))
  if ("env" in ref) {
    return Effect.sync(() => {
      const value = process.env[ref.env]
      if (value === undefined) return Either.left({ path, message: `environment variable ${ref.env} is not set` })
      if (value.trim().length === 0) return Either.left({ path, message: `environment variable ${ref.env} is empty` })
      return Either.right(Redacted.make(value.trim()))
    })
  }
  return Effect.tryPromise(() => fs.readFile(ref.file, "utf8")).pipe(
    Effect.map((text) =>
      text.trim().length === 0
        ? Either.left({ path, message: `file ${ref.file} is empty` })
        : Either.right(Redacted.make(text.trim()))
    ),
    Effect.catchAll(({ error }) =>
      Effect.succeed(Either.left({ path, message: `cannot read file ${ref.file}: ${describeFileError(error)}` }))
    )
  )
}

const describeFileError = (error: unknown): string => {
  const code = typeof error === "object" && error !== null && "code" in error ? String(error.code) : ""
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

const resolveOne = (config: WebhookConfig.WebhookConfig, at: string) =>
  Effect.gen(function*() {
    const issues: Array<ConfigIssue> = []
    const take = <A>(resolved: Resolved<A>): A | undefined => {
      if (Either.isLeft(resolved)) {
        issues.push(resolved.left)
        return undefined
      }
      return resolved.right
    }
    let authentication: WebhookConfig.Authentication = { _tag: "None" }
    if (config.authentication?.bearer_token !== undefined) {
      const token = take(yield* readSecret(config.authentication.bearer_token, `${at}.authentication.bearer_token`))
      if (token !== undefined) authentication = { _tag: "Bearer", token }
    } else if (config.authentication?.basic !== undefined) {
      const { password: ref, username } = config.authentication.basic
      const password = take(yield* readSecret(ref, `${at}.authentication.basic.password`))
      if (password !== undefined) authentication = { _tag: "Basic", username, password }
    }
    const signingKeys: Array<Signature.SigningKey> = []
    if (config.secret !== undefined) {
      const secret = take(yield* readSecret(config.secret, `${at}.secret`))
      if (secret !== undefined) {
        const key = Signature.parseSecret(Redacted.value(secret))
        if (Either.isLeft(key)) issues.push({ path: `${at}.secret`, message: key.left.message })
        else signingKeys.push(key.right)
      }
    }
    const { authentication: _, backoff, on_failure, request_timeout, secret: __, trace_propagation, ...rest } = config
    const webhook: WebhookConfig.Webhook = {
      ...rest,
      authentication,
      signingKeys,
      requestTimeout: request_timeout,
      onFailure: on_failure,
      ...(backoff === false ? {} : { backoff }),
      tracePropagation: trace_propagation
    }
    return issues.length > 0 ? Either.left(issues) : Either.right(webhook)
  })

/** @internal */
export const resolve = (
  configs: ReadonlyArray<WebhookConfig.WebhookConfig>,
  options: { readonly section?: string; readonly source?: string } = {}
): Effect.Effect<ReadonlyArray<WebhookConfig.Webhook>, InvalidConfig> =>
  Effect.forEach(configs, (config, i) => resolveOne(config, formatPath([i], options.section ?? "webhooks"))).pipe(
    Effect.flatMap((results) => {
      const issues = results.flatMap((result) => Either.isLeft(result) ? result.left : [])
      return issues.length > 0
        ? Effect.fail(new InvalidConfig({ source: options.source ?? "servo.yaml", issues }))
        : Effect.succeed(results.flatMap((result) => Either.isRight(result) ? [result.right] : []))
    })
  )
