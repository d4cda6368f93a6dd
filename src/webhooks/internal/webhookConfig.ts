import * as Arr from "effect/Array"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type * as SchemaAST from "effect/SchemaAST"
import * as crypto from "node:crypto"
import * as fs from "node:fs/promises"
import * as net from "node:net"
import * as tls from "node:tls"
import { formatPath } from "../../internal/issues.js"
import { type ConfigIssue, InvalidConfig } from "../../servo/ConfigError.js"
import * as Event from "../../servo/Event.js"
import { GoDuration } from "../../servo/GoDuration.js"
import type * as NetworkPolicy from "../NetworkPolicy.js"
import * as Signature from "../Signature.js"
import type * as WebhookConfig from "../WebhookConfig.js"
import * as NetworkPolicyInternal from "./networkPolicy.js"
import { redacted, redactUrl, sensitiveHeaderNames } from "./redaction.js"
import { codeOf } from "./errors.js"

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

/** One secret, or a list of them (key rotation: every key signs). */
const SecretRefs = custom<WebhookConfig.SecretRef | ReadonlyArray<WebhookConfig.SecretRef>>("SecretRefs", (u, ast) => {
  if (!Array.isArray(u)) return ParseResult.decodeUnknown(SecretRef)(u)
  if (u.length === 0) return fail(ast, u, `is an empty list; ${secretExpected}, or a list of them`)
  return ParseResult.decodeUnknown(Schema.Array(SecretRef))(u, { errors: "all" })
})

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
const injectionRefused = "contains a line break (CR/LF): header injection is refused"

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
  else if (lineBreak.test(name)) issues.push(["name", injectionRefused])
  else if (!token.test(name)) issues.push(["name", `${JSON.stringify(name)} is not a valid header name`])
  else if (reservedHeaders.has(name.toLowerCase()) || name.toLowerCase().startsWith("webhook-")) {
    issues.push(["name", `${name} is set by servo-webhooks and cannot be configured`])
  }
  if (typeof value !== "string") issues.push(["value", "expected a string"])
  else if (lineBreak.test(value)) issues.push(["value", injectionRefused])
  return issues
}

const Headers = custom<ReadonlyArray<WebhookConfig.Header>>("Headers", (u, ast) => {
  const entries: Array<[path: readonly [PropertyKey], name: unknown, value: unknown, secret: unknown]> = []
  if (Array.isArray(u)) {
    for (let i = 0; i < u.length; i++) {
      const entry: unknown = u[i]
      if (!isRecord(entry)) {
        return fail(ast, u, `[${i}]: expected { name, value } (or { name, value, secret: true })`)
      }
      const extra = Object.keys(entry).filter((key) => key !== "name" && key !== "value" && key !== "secret")
      if (extra.length > 0) return fail(ast, u, `[${i}].${extra[0]}: is unexpected, expected: "name" | "value" | "secret"`)
      entries.push([[i], entry.name, entry.value, entry.secret])
    }
  } else if (isRecord(u)) {
    for (const [name, value] of Object.entries(u)) {
      // A mapping's value is the header's value, or { value, secret } to mark it secret.
      if (isRecord(value) && "secret" in value && Object.keys(value).every((key) => key === "value" || key === "secret")) {
        entries.push([[name], name, value.value, value.secret])
      } else entries.push([[name], name, value, undefined])
    }
  } else {
    return fail(ast, u, "expected a list of { name, value } or a mapping of names to values")
  }
  const issues: Array<ParseResult.ParseIssue> = []
  const seen = new Map<string, number>()
  const headers: Array<WebhookConfig.Header> = []
  for (const [path, name, value, secret] of entries) {
    const at = (key: "name" | "value" | "secret"): Arr.NonEmptyReadonlyArray<PropertyKey> => Array.isArray(u) ? [path[0], key] : path
    if (secret !== undefined && typeof secret !== "boolean") {
      issues.push(new ParseResult.Pointer(at("secret"), u, new ParseResult.Type(ast, undefined, "expected true or false")))
      continue
    }
    if (secret === true) {
      // The value is a secret ref: check the name only, and never the value's text.
      for (const [key, message] of checkHeader(name, "")) {
        if (key === "name") issues.push(new ParseResult.Pointer(at(key), u, new ParseResult.Type(ast, undefined, message)))
      }
      const ref = ParseResult.decodeUnknownEither(SecretRef)(value)
      if (Either.isLeft(ref)) {
        issues.push(new ParseResult.Pointer(at("value"), u, new ParseResult.Type(ast, undefined, secretExpected)))
      } else if (typeof ref.right === "string" && lineBreak.test(ref.right)) {
        issues.push(new ParseResult.Pointer(at("value"), u, new ParseResult.Type(ast, undefined, injectionRefused)))
      } else if (typeof name === "string") headers.push({ name, value: ref.right, secret: true })
    } else {
      const found = checkHeader(name, value)
      for (const [key, message] of found) {
        issues.push(new ParseResult.Pointer(at(key), u, new ParseResult.Type(ast, undefined, message)))
      }
      if (found.length === 0) headers.push({ name: name as string, value: value as string })
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
  return ParseResult.succeed(headers)
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

const Tls = Schema.Struct({
  ca: Schema.optionalWith(SecretRef, { exact: true }),
  cert: Schema.optionalWith(SecretRef, { exact: true }),
  key: Schema.optionalWith(SecretRef, { exact: true }),
  insecure_skip_verify: Schema.optionalWith(Schema.Boolean, { exact: true })
}).pipe(
  Schema.filter((tls) =>
    (tls.cert === undefined) !== (tls.key === undefined)
      ? "cert and key go together (a client certificate for mTLS): set both or neither"
      : undefined
  )
)

const Proxy = custom<WebhookConfig.SecretRef | false>("Proxy", (u, ast) =>
  u === false
    ? ParseResult.succeed(false as const)
    : ParseResult.decodeUnknown(SecretRef)(u).pipe(
      Effect.mapError(() =>
        new ParseResult.Type(ast, undefined, "expected a proxy URL as a secret (a string, { env: VARIABLE } or { file: PATH }), or false for none")
      )
    ))

const networkExpected = "expected { deny_private: true, allow: [CIDR, ...] }"

const Network = custom<NetworkPolicy.NetworkPolicy>("Network", (u, ast) => {
  if (!isRecord(u)) return fail(ast, u, networkExpected)
  const issues: Array<ParseResult.ParseIssue> = []
  const issue = (path: Arr.NonEmptyReadonlyArray<PropertyKey>, message: string) =>
    issues.push(new ParseResult.Pointer(path, u, new ParseResult.Type(ast, undefined, message)))
  for (const key of Object.keys(u)) {
    if (key !== "deny_private" && key !== "allow") issue([key], `is unexpected, expected: "deny_private" | "allow"`)
  }
  const denyPrivate = u.deny_private ?? false
  if (typeof denyPrivate !== "boolean") issue(["deny_private"], "expected true or false")
  const allow: Array<NetworkPolicy.Cidr> = []
  if (u.allow !== undefined) {
    if (!Array.isArray(u.allow)) issue(["allow"], "expected a list of CIDR blocks, such as [10.1.0.0/16, fd00::/8]")
    else {
      u.allow.forEach((entry: unknown, i) => {
        const cidr = typeof entry === "string"
          ? NetworkPolicyInternal.parseCidr(entry)
          : Either.left("expected a CIDR block such as 10.1.0.0/16, or an address")
        if (Either.isLeft(cidr)) issue(["allow", i], cidr.left)
        else allow.push(cidr.right)
      })
      if (denyPrivate === false && u.allow.length > 0) {
        issue(["allow"], "punches holes in deny_private, which is off: set deny_private: true")
      }
    }
  }
  if (Arr.isNonEmptyArray(issues)) return ParseResult.fail(new ParseResult.Composite(ast, u, issues))
  return ParseResult.succeed({ denyPrivate: denyPrivate as boolean, allow })
})

/** The transport settings a section may set for all of its hooks. */
const transportFields = {
  tls: Schema.optionalWith(Tls, { exact: true }),
  proxy: Schema.optionalWith(Proxy, { exact: true }),
  http2: Schema.optionalWith(Schema.Boolean, { exact: true }),
  network: Schema.optionalWith(Network, { exact: true })
}

const transportKeys = ["tls", "proxy", "http2", "network"] as const

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
    secret: Schema.optionalWith(SecretRefs, { exact: true }),
    signing_key: Schema.optionalWith(SecretRefs, { exact: true }),
    ...transportFields,
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
  if (entry.tls !== undefined && entry.target.startsWith("http:")) {
    issues.push({ path: ["tls"], message: "applies to https targets; this target is http:" })
  }
  const selectors = entry.events ?? (entry.event === undefined ? [] : [entry.event])
  if (entry.on_failure === "cancel" && selectors.length > 0 && selectors.every((s) => s.preposition !== "before")) {
    issues.push({ path: ["on_failure"], message: "applies to before webhooks; this webhook has only after events" })
  }
  return issues
}

const nonEmpty = (path: ReadonlyArray<PropertyKey>) => path as unknown as Arr.NonEmptyReadonlyArray<PropertyKey>

const sectionExpected = "expected a list of webhooks, or { hooks: [...], network, proxy, tls, http2 }"

/** @internal */
export const WebhooksConfig = (events: Event.Registry): Schema.Schema<ReadonlyArray<WebhookConfig.WebhookConfig>, unknown> => {
  const Section = Schema.Struct({ hooks: Schema.Array(Entry(events)), ...transportFields })
  return Schema.transformOrFail(
    Schema.Unknown,
    Schema.Any as Schema.Schema<ReadonlyArray<WebhookConfig.WebhookConfig>>,
    {
      strict: true,
      decode: (u, options, ast) =>
        Effect.gen(function*() {
          // The README's list, or a mapping whose transport settings apply to every hook that does
          // not set its own.
          const mapping = isRecord(u) && "hooks" in u
          if (!Array.isArray(u) && !mapping) return yield* fail(ast, u, sectionExpected)
          const section = mapping
            ? yield* ParseResult.decodeUnknown(Section)(u, options)
            : { hooks: yield* ParseResult.decodeUnknown(Schema.Array(Entry(events)))(u, options) }
          const base: ReadonlyArray<string> = mapping ? ["hooks"] : []
          const issues: Array<ParseResult.ParseIssue> = []
          const names = new Map<string, number>()
          const configs = section.hooks.map((decoded, i): WebhookConfig.WebhookConfig => {
            const entry = { ...decoded }
            for (const key of transportKeys) {
              if (entry[key] === undefined && section[key as keyof typeof section] !== undefined) {
                ;(entry as Record<string, unknown>)[key] = section[key as keyof typeof section]
              }
            }
            for (const { message, path } of crossCheck(entry)) {
              issues.push(new ParseResult.Pointer(nonEmpty([...base, i, ...path]), u, new ParseResult.Type(ast, undefined, message)))
            }
            if (entry.name !== undefined) {
              const first = names.get(entry.name)
              if (first !== undefined) {
                issues.push(
                  new ParseResult.Pointer(
                    nonEmpty([...base, i, "name"]),
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
              events: dedupe(selectors ?? (event === undefined ? [] : [event])),
              ...(mapping ? { path: [...base, i] } : {})
            }
          })
          if (Arr.isNonEmptyArray(issues)) return yield* ParseResult.fail(new ParseResult.Composite(ast, u, issues))
          return configs
        }),
      encode: ParseResult.succeed
    }
  ).annotations({ identifier: "WebhooksConfig" })
}

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
  const code = codeOf(error)
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

const refsOf = (refs: WebhookConfig.SecretRef | ReadonlyArray<WebhookConfig.SecretRef> | undefined, path: string) =>
  refs === undefined
    ? []
    : Array.isArray(refs)
    ? (refs as ReadonlyArray<WebhookConfig.SecretRef>).map((ref, i) => [ref, `${path}[${i}]`] as const)
    : [[refs as WebhookConfig.SecretRef, path] as const]

/** Why PEM text is not usable, in words that never quote it. */
const checkTls = (options: tls.SecureContextOptions): string | undefined => {
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
const isCertificateBundle = (text: string): boolean => {
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)
  if (blocks === null) return false
  try {
    for (const block of blocks) new crypto.X509Certificate(block)
    return true
  } catch {
    return false
  }
}

const checkProxyUrl = (text: string): string | undefined => {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return "is not a URL; expected http://host:port or https://host:port (credentials may go in user:password@)"
  }
  return url.protocol === "http:" || url.protocol === "https:"
    ? undefined
    : `expected an http: or https: proxy URL, got a ${url.protocol.slice(0, -1)}: URL`
}

const isLoopbackHost = (hostname: string): boolean => {
  if (hostname === "localhost" || hostname.endsWith(".localhost")) return true
  try {
    return NetworkPolicyInternal.classify(hostname) === "loopback"
  } catch {
    return false
  }
}

/** Whether NO_PROXY (curl's and undici's reading, plus CIDR blocks) exempts this host. */
const noProxyMatches = (noProxy: string, url: URL): boolean => {
  const hostname = url.hostname.toLowerCase().replace(/^\[(.*)\]$/, "$1")
  const port = Number(url.port) || (url.protocol === "https:" ? 443 : 80)
  for (const raw of noProxy.toLowerCase().split(/[,\s]+/)) {
    if (raw === "") continue
    if (raw === "*") return true
    let entry = raw
    let entryPort: string | undefined
    const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(raw)
    const withPort = /^([^:]+):(\d+)$/.exec(raw)
    if (bracketed !== null) [, entry = raw, entryPort] = bracketed
    else if (withPort !== null) [, entry = raw, entryPort] = withPort
    if (entryPort !== undefined && Number(entryPort) !== port) continue
    entry = entry.replace(/^\*?\./, "")
    if (hostname === entry || hostname.endsWith(`.${entry}`)) return true
    if (entry.includes("/") && net.isIP(hostname) !== 0) {
      const cidr = NetworkPolicyInternal.parseCidr(entry)
      if (Either.isRight(cidr) && NetworkPolicyInternal.cidrContains(cidr.right, hostname)) return true
    }
  }
  return false
}

/**
 * The environment variable whose proxy a webhook without `proxy:` would take for `target`, now:
 * none when no variable is set, the host is loopback or `NO_PROXY` exempts it. The value is not
 * read here (it may hold credentials); listings show the variable's name.
 *
 * @internal
 */
export const environmentProxyVariable = (target: string): string | undefined => {
  const url = new URL(target)
  const names = url.protocol === "https:"
    ? ["https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY"]
    : ["http_proxy", "HTTP_PROXY"]
  const variable = names.find((name) => (process.env[name] ?? "").trim() !== "")
  if (variable === undefined) return undefined
  // Loopback is never proxied from the environment (as Go does), so local receivers keep
  // working on a machine whose environment points everything at a proxy.
  if (isLoopbackHost(url.hostname.replace(/^\[(.*)\]$/, "$1"))) return undefined
  if (noProxyMatches(process.env.no_proxy ?? process.env.NO_PROXY ?? "", url)) return undefined
  return variable
}

const environmentProxy = (target: string): Resolved<WebhookConfig.Proxy | undefined> => {
  const variable = environmentProxyVariable(target)
  if (variable === undefined) return Either.right(undefined)
  const value = process.env[variable]!.trim()
  const problem = checkProxyUrl(value)
  return problem === undefined
    ? Either.right({ url: Redacted.make(value), source: variable })
    : Either.left({ path: "", message: `environment variable ${variable} ${problem}` })
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

    const headers: Array<WebhookConfig.ResolvedHeader> = []
    for (const [i, header] of config.headers.entries()) {
      if (header.secret !== true) {
        headers.push({ name: header.name, value: header.value })
        continue
      }
      const path = `${at}.headers[${i}].value`
      const value = take(yield* readSecret(header.value, path))
      if (value === undefined) continue
      if (lineBreak.test(Redacted.value(value))) {
        issues.push({ path, message: injectionRefused })
      } else headers.push({ name: header.name, value })
    }

    // Signing keys: every whsec_ secret signs v1, every whsk_ key v1a; all of them sign each
    // delivery, which is how keys rotate.
    const signingKeys: Array<Signature.SigningKey> = []
    for (const [ref, path] of refsOf(config.secret, `${at}.secret`)) {
      const secret = take(yield* readSecret(ref, path))
      if (secret === undefined) continue
      const key = Signature.parseSecret(secret)
      if (Either.isLeft(key)) issues.push({ path, message: key.left.message })
      else signingKeys.push(key.right)
    }
    for (const [ref, path] of refsOf(config.signing_key, `${at}.signing_key`)) {
      const secret = take(yield* readSecret(ref, path))
      if (secret === undefined) continue
      const key = Signature.parsePrivateKey(secret)
      if (Either.isLeft(key)) issues.push({ path, message: key.left.message })
      else signingKeys.push(key.right)
    }

    let tlsSettings: WebhookConfig.Tls | undefined
    if (config.tls !== undefined) {
      const read = (field: "ca" | "cert" | "key") =>
        config.tls![field] === undefined ? Effect.succeed(undefined) : Effect.map(readSecret(config.tls![field]!, `${at}.tls.${field}`), take)
      const ca = yield* read("ca")
      const cert = yield* read("cert")
      const key = yield* read("key")
      if (ca !== undefined && !isCertificateBundle(Redacted.value(ca))) {
        issues.push({ path: `${at}.tls.ca`, message: "is not PEM CA certificates (-----BEGIN CERTIFICATE-----)" })
      }
      if (cert !== undefined && key !== undefined) {
        const problem = checkTls({ cert: Redacted.value(cert), key: Redacted.value(key) })
        if (problem === "mismatch") {
          issues.push({ path: `${at}.tls.key`, message: "does not match tls.cert (the key must be the certificate's private key)" })
        } else if (problem !== undefined) {
          issues.push({ path: `${at}.tls`, message: "cert and key must be a PEM certificate chain and its PEM private key" })
        }
      }
      tlsSettings = {
        ...(ca === undefined ? {} : { ca }),
        ...(cert === undefined ? {} : { cert }),
        ...(key === undefined ? {} : { key }),
        insecureSkipVerify: config.tls.insecure_skip_verify === true
      }
    }

    let proxy: WebhookConfig.Proxy | undefined
    if (config.proxy === undefined) {
      const found = environmentProxy(config.target)
      if (Either.isLeft(found)) issues.push({ path: `${at}.proxy`, message: found.left.message })
      else proxy = found.right
    } else if (config.proxy !== false) {
      const url = take(yield* readSecret(config.proxy, `${at}.proxy`))
      const problem = url === undefined ? undefined : checkProxyUrl(Redacted.value(url))
      if (problem !== undefined) issues.push({ path: `${at}.proxy`, message: problem })
      else if (url !== undefined) proxy = { url, source: "config" }
    }
    if (proxy !== undefined && config.http2 === true && config.target.startsWith("http:")) {
      issues.push({
        path: `${at}.http2`,
        message: `h2c (HTTP/2 to an http: target) cannot go through a proxy (${proxy.source === "config" ? "proxy" : proxy.source}); use an https target, or http2: false`
      })
    }

    const {
      authentication: _,
      backoff,
      headers: __,
      http2,
      network,
      on_failure,
      path: ___,
      proxy: ____,
      request_timeout,
      secret: _____,
      signing_key: ______,
      tls: _______,
      trace_propagation,
      ...rest
    } = config
    const webhook: WebhookConfig.Webhook = {
      ...rest,
      headers,
      authentication,
      signingKeys,
      requestTimeout: request_timeout,
      onFailure: on_failure,
      ...(backoff === false ? {} : { backoff }),
      tracePropagation: trace_propagation,
      ...(tlsSettings === undefined ? {} : { tls: tlsSettings }),
      ...(proxy === undefined ? {} : { proxy }),
      ...(http2 === true ? { http2 } : {}),
      ...(network === undefined ? {} : { network })
    }
    return issues.length > 0 ? Either.left(issues) : Either.right(webhook)
  })

/** @internal */
export const resolve = (
  configs: ReadonlyArray<WebhookConfig.WebhookConfig>,
  options: { readonly section?: string; readonly source?: string } = {}
): Effect.Effect<ReadonlyArray<WebhookConfig.Webhook>, InvalidConfig> =>
  Effect.forEach(configs, (config, i) => resolveOne(config, formatPath(config.path ?? [i], options.section ?? "webhooks"))).pipe(
    Effect.flatMap((results) => {
      const issues = results.flatMap((result) => Either.isLeft(result) ? result.left : [])
      return issues.length > 0
        ? Effect.fail(new InvalidConfig({ source: options.source ?? "servo.yaml", issues }))
        : Effect.succeed(results.flatMap((result) => Either.isRight(result) ? [result.right] : []))
    })
  )

// ---------------------------------------------------------------------------------------------
// Redaction, for listings and logs.
// ---------------------------------------------------------------------------------------------

/** @internal */
export const redactTarget = (url: string): string => redactUrl(url)

const isSecretHeader = (header: WebhookConfig.Header | WebhookConfig.ResolvedHeader): boolean =>
  ("secret" in header && header.secret === true) || Redacted.isRedacted(header.value) ||
  sensitiveHeaderNames.includes(header.name.toLowerCase())

/** @internal */
export const redactedHeaders = (
  webhook: { readonly headers: ReadonlyArray<WebhookConfig.Header | WebhookConfig.ResolvedHeader> }
): ReadonlyArray<{ readonly name: string; readonly value: string }> =>
  webhook.headers.map((header) => ({
    name: header.name,
    value: isSecretHeader(header) || typeof header.value !== "string" ? redacted : header.value
  }))

/** @internal */
export const redactedHeaderNames = (
  webhook: { readonly headers: ReadonlyArray<WebhookConfig.Header | WebhookConfig.ResolvedHeader> }
): ReadonlyArray<string> => [
  ...new Set([
    ...sensitiveHeaderNames,
    ...webhook.headers.filter(isSecretHeader).map((header) => header.name.toLowerCase())
  ])
]
