/**
 * The `webhooks:` section of servo.yaml as declarative Schemas: structs, unions, literals and
 * filters with annotations, so that the same definition decodes, encodes back, and describes
 * itself as a JSON Schema for editors. Messages are set with `message` annotations (one line per
 * problem, with its path) and never quote a value from a field that can hold a secret.
 */
import * as Arr from "effect/Array"
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { otherAlternative } from "../../internal/issues.js"
import * as Event from "../../servo/Event.js"
import * as GoDurationModule from "../../servo/GoDuration.js"
import { GoDuration } from "../../servo/GoDuration.js"
import type * as NetworkPolicy from "../NetworkPolicy.js"
import type * as WebhookConfig from "../WebhookConfig.js"
import * as Addresses from "./addresses.js"

/**
 * Timeouts and retries a webhook gets when its config says nothing. `backoff` is a before
 * webhook's (it blocks its event: short); `afterBackoff` an after webhook's, which waits in the
 * outbox holding nothing and so can outlast a receiver's outage: 12 retries, waits capped at 10m,
 * span 34–40 minutes of waiting; the 24h deadline leaves room for a `Retry-After`. An entry with
 * both before and after events gets the before default (a before hook must stay short).
 */
export const defaults = {
  requestTimeout: Duration.seconds(10),
  backoff: { retries: 3, timeout: Duration.minutes(5) },
  afterBackoff: { retries: 12, timeout: Duration.hours(24) },
  breaker: { failures: 10, cooldown: Duration.seconds(30) },
  outbox: { retention: Duration.days(7), lease: Duration.seconds(30) }
} as const

/** The backoff default of a webhook with these selectors: a before event makes it short. */
export const defaultBackoff = (selectors: ReadonlyArray<{ readonly preposition: string }>): WebhookConfig.Backoff =>
  selectors.some((selector) => selector.preposition === "before") ? defaults.backoff : defaults.afterBackoff

/**
 * The longest durations a config may give: a duration's text can spell any number (`1` and 400
 * zeros `h` reads as Infinity), and a before webhook waits out its whole deadline.
 */
export const limits = {
  requestTimeout: Duration.hours(1),
  backoffTimeout: Duration.days(7),
  breakerCooldown: Duration.hours(1)
} as const

// ---------------------------------------------------------------------------------------------
// Messages: one line, never the value.
// ---------------------------------------------------------------------------------------------

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/**
 * Let the parts speak: a struct's or union's own problems are reported by its fields and members
 * (the message is used only if a part has nothing to say).
 */
const innerMessages = { message: "has the wrong shape", override: false } as const

/** The whole message of a schema, in place of whatever its parts would say. */
const says = (message: string) => () => ({ message, override: true })

/**
 * A union member that speaks only for inputs of its shape; for other shapes it stays silent and
 * the member of that shape reports the problem.
 */
const forShape = <S extends Schema.Schema.Any>(schema: S, applies: (u: unknown) => boolean): S =>
  schema.annotations({
    message: (issue: ParseResult.ParseIssue) =>
      applies(issue.actual) ? innerMessages : { message: otherAlternative, override: true }
  }) as S

// ---------------------------------------------------------------------------------------------
// Secrets
// ---------------------------------------------------------------------------------------------

const secretExpected = "expected a secret: a string, { env: VARIABLE } or { file: PATH }"

const secretMessage = (u: unknown): string => {
  if (u === "") return `is empty; ${secretExpected}`
  if (isRecord(u) && Object.keys(u).length === 1 && "env" in u) {
    return "env: expected the name of an environment variable, such as HOOK_SECRET"
  }
  if (isRecord(u) && Object.keys(u).length === 1 && "file" in u) return "file: expected the path of a file holding the secret"
  return secretExpected
}

const EnvSecret = Schema.Struct({
  env: Schema.String.pipe(Schema.pattern(/^[A-Za-z_][A-Za-z0-9_]*$/)).annotations({
    title: "variable",
    description: "The name of an environment variable holding the secret (read at start-up)",
    examples: ["HOOK_SECRET"]
  })
})

const FileSecret = Schema.Struct({
  file: Schema.String.pipe(Schema.minLength(1)).annotations({
    title: "path",
    description: "A file holding the secret (read at start-up, trimmed); it must be a regular file",
    examples: ["/run/secrets/hook_secret"]
  })
})

/** Where a secret comes from: the literal text, an environment variable or a file. */
export const SecretRef: Schema.Schema<WebhookConfig.SecretRef> = Schema.Union(
  Schema.String.pipe(Schema.minLength(1)).annotations({ title: "literal secret", description: "The secret itself" }),
  EnvSecret,
  FileSecret
).annotations({
  identifier: "SecretRef",
  title: "secret",
  description: "A secret: the literal text, { env: VARIABLE } or { file: PATH }",
  examples: [{ env: "HOOK_SECRET" }, { file: "/run/secrets/hook_secret" }],
  message: (issue) => ({ message: secretMessage(issue.actual), override: true })
})

/** One secret, or a list of them (key rotation: every key signs). */
const SecretRefs = (what: string, example: string) =>
  Schema.Union(
    forShape(SecretRef, (u) => !Array.isArray(u)),
    forShape(Schema.NonEmptyArray(SecretRef), Array.isArray)
  ).annotations({
    description: `${what}, or a list of them (every one signs each delivery, which is how keys rotate)`,
    examples: [{ env: example }, [{ env: `OLD_${example}` }, { env: example }]],
    message: (issue) =>
      Array.isArray(issue.actual)
        ? issue.actual.length === 0
          ? { message: `is an empty list; ${secretExpected}, or a list of them`, override: true }
          : innerMessages
        : { message: secretMessage(issue.actual), override: true }
  })

// ---------------------------------------------------------------------------------------------
// Events and target
// ---------------------------------------------------------------------------------------------

/** Reads a webhook's selector: before or after an event, never on it; the error is the message. */
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

const SelectorValue = Schema.Struct({
  preposition: Schema.Literal("before", "after", "on"),
  event: Schema.String
})

const Selector = (events: Event.Registry): Schema.Schema<Event.Selector, string> => {
  const known = ["*", ...events.names]
  return Schema.transformOrFail(
    Schema.String.annotations({
      message: says("expected an event selector such as before:adjust or after:measure"),
      jsonSchema: {
        type: "string",
        enum: ["before", "after"].flatMap((p) => known.map((event) => `${p}:${event}`)),
        examples: ["after:measure", "before:adjust"]
      }
    }),
    SelectorValue,
    {
      strict: true,
      decode: (input, _, ast) => Either.mapLeft(parseSelector(input, events), (reason) => new ParseResult.Type(ast, input, reason)),
      encode: (selector) => ParseResult.succeed(Event.formatSelector(selector))
    }
  ).annotations({
    identifier: "EventSelector",
    title: "event selector",
    description: "before:EVENT or after:EVENT (after:* for every event)"
  })
}

const targetProblem = (text: string): string | undefined => {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return "expected an http or https URL, such as https://example.com/webhooks"
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return `expected an http or https URL, got a ${url.protocol.slice(0, -1)}: URL`
  }
  // Never echo the URL here: it may hold credentials or a token.
  if (url.username !== "" || url.password !== "") {
    return "must not carry credentials (user:password@); use authentication.basic or bearer_token"
  }
  return undefined
}

/** An http(s) URL without userinfo, decoded to its normal form (`new URL(...).href`). */
const Target = Schema.transform(
  Schema.String.annotations({ message: says("expected an http or https URL") }).pipe(
    Schema.filter(targetProblem, {
      jsonSchema: { type: "string", format: "uri", pattern: "^[Hh][Tt][Tt][Pp][Ss]?://[^/@]+(/.*)?$" }
    })
  ),
  Schema.String,
  { strict: true, decode: (text) => new URL(text).href, encode: (href) => href }
).annotations({
  identifier: "Target",
  title: "target",
  description: "The receiver's http or https URL (no user:password@; use authentication)",
  examples: ["https://example.com/webhooks"]
})

// ---------------------------------------------------------------------------------------------
// Headers
// ---------------------------------------------------------------------------------------------

const token = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
const lineBreak = /[\r\n\0]/

const tooLong = (limit: Duration.Duration) => `is longer than ${GoDurationModule.format(limit)}, the longest allowed here`

/** What is wrong with a duration as written, whatever its type. */
const durationMessage = (u: unknown, limit: Duration.Duration): string => {
  if (typeof u !== "string") return "expected a duration such as 500ms, 10s, 5m or 2h45m"
  return Either.match(GoDurationModule.parse(u), {
    onLeft: (message) => GoDurationModule.exceedsMax(u) ? tooLong(limit) : message,
    onRight: () => tooLong(limit)
  })
}

/** A Go duration no longer than `limit`; longer ones (Infinity included) are refused. */
const BoundedDuration = (limit: Duration.Duration, description: string) =>
  GoDuration.pipe(
    Schema.filter((duration) => Duration.lessThanOrEqualTo(duration, limit) ? undefined : tooLong(limit))
  ).annotations({
    description: `${description}; at most ${GoDurationModule.format(limit)}`,
    message: (issue) => ({ message: durationMessage(issue.actual, limit), override: true })
  })

/** The message for a header name or value that would split the request. */
export const injectionRefused = "contains a line break (CR/LF): header injection is refused"

/** What an HTTP header value may hold: tab, visible ASCII, space and obs-text (RFC 9110 field-value). */
const headerValueText = /^[\t\x20-\x7e\x80-\xff]*$/

/**
 * Why text cannot be a header value, in words that never quote it: a line break would split the
 * request; other control characters and text beyond Latin-1 make every delivery fail to encode.
 */
export const headerValueProblem = (text: string): string | undefined => {
  if (lineBreak.test(text)) return injectionRefused
  if (!headerValueText.test(text)) {
    return "contains a control character or a character beyond Latin-1 (U+00FF), which an HTTP header cannot carry"
  }
  return undefined
}

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

/** Headers that change how the connection is used: undici refuses to send a request with them. */
const connectionHeaders = new Set(["keep-alive", "upgrade", "expect"])

const headerNameProblem = (name: string): string | undefined => {
  if (name.length === 0) return "expected a header name"
  if (lineBreak.test(name)) return injectionRefused
  if (!token.test(name)) return `${JSON.stringify(name)} is not a valid header name`
  if (reservedHeaders.has(name.toLowerCase()) || name.toLowerCase().startsWith("webhook-")) {
    return `${name} is set by servo-webhooks and cannot be configured`
  }
  if (connectionHeaders.has(name.toLowerCase())) {
    return `${name} controls the connection, not the request, and cannot be configured`
  }
  return undefined
}

/** A regular expression source that matches `text` in any letter case (JSON Schema has no `i` flag). */
const caseless = (text: string): string =>
  text.replace(/[a-z]/g, (letter) => `[${letter}${letter.toUpperCase()}]`)

const reservedNamePattern = `^(${
  [...reservedHeaders, ...connectionHeaders].map((name) => caseless(name)).join("|")
}|${caseless("webhook-")}.*)$`

const headerNameJsonSchema = {
  type: "string",
  pattern: "^[!#$%&'*+\\-.^_`|~0-9A-Za-z]+$",
  not: { pattern: reservedNamePattern }
}

const HeaderName = Schema.String.annotations({ message: says("expected a header name") }).pipe(
  Schema.filter(headerNameProblem, { jsonSchema: headerNameJsonSchema })
).annotations({ title: "header name", examples: ["x-some-header"] })

const SecretFlag = Schema.Boolean.annotations({
  message: says("expected true or false"),
  description: "true: the value is a secret ref, read at start-up and shown as REDACTED"
})

const headerValueJsonSchema = { type: "string", pattern: "^[\\t\\u0020-\\u007e\\u0080-\\u00ff]*$" }

/** A header's value as written: plain text, or (with `secret: true`) a secret ref. */
const HeaderValue = Schema.Union(
  Schema.String.annotations({ jsonSchema: headerValueJsonSchema }),
  EnvSecret,
  FileSecret
).annotations({
  message: says("expected a secret ({ env: VARIABLE } or { file: PATH }, with secret: true) or a string")
})

/** The checks between a header's fields, at the field they are about. */
const headerEntryIssues = (
  entry: { readonly value: string | { readonly env: string } | { readonly file: string }; readonly secret?: boolean },
  at: ReadonlyArray<PropertyKey>
): Array<Schema.FilterIssue> => {
  if (entry.secret === true) {
    if (entry.value === "") return [{ path: at, message: `is empty; ${secretExpected}` }]
    const problem = typeof entry.value === "string" ? headerValueProblem(entry.value) : undefined
    return problem === undefined ? [] : [{ path: at, message: problem }]
  }
  if (typeof entry.value !== "string") return [{ path: at, message: "a secret ref needs secret: true; expected a string" }]
  const problem = headerValueProblem(entry.value)
  return problem === undefined ? [] : [{ path: at, message: problem }]
}

const HeaderEntry = Schema.Struct({
  name: HeaderName,
  value: HeaderValue,
  secret: Schema.optionalWith(SecretFlag, { exact: true })
}).annotations({
  title: "header",
  message: (issue) =>
    isRecord(issue.actual)
      ? innerMessages
      : { message: "expected { name, value } (or { name, value, secret: true })", override: true }
}).pipe(Schema.filter((entry) => headerEntryIssues(entry, ["value"])))

const HeaderMappingValue = Schema.Union(
  forShape(Schema.String.annotations({ jsonSchema: headerValueJsonSchema }), (u) => !isRecord(u)),
  forShape(Schema.Struct({ value: HeaderValue, secret: SecretFlag }), isRecord)
).annotations({ message: (issue) => isRecord(issue.actual) ? innerMessages : { message: "expected a string", override: true } })

const HeaderList = Schema.Array(HeaderEntry)
// Names are checked by the Headers filter, so a bad one is reported as the header it is, at its key.
const HeaderMapping = Schema.Record({ key: Schema.String, value: HeaderMappingValue }).annotations({
  jsonSchema: { propertyNames: headerNameJsonSchema }
})

type HeadersEncoded = Schema.Schema.Type<typeof HeaderList> | Schema.Schema.Type<typeof HeaderMapping>

const headersOf = (headers: HeadersEncoded): ReadonlyArray<readonly [path: ReadonlyArray<PropertyKey>, header: WebhookConfig.Header]> =>
  Array.isArray(headers)
    ? (headers as Schema.Schema.Type<typeof HeaderList>).map((entry, i) => [[i], toHeader(entry.name, entry.value, entry.secret)] as const)
    : Object.entries(headers as Schema.Schema.Type<typeof HeaderMapping>).map(([name, value]) =>
      [[name], typeof value === "string" ? toHeader(name, value, false) : toHeader(name, value.value, value.secret)] as const
    )

const toHeader = (
  name: string,
  value: string | { readonly env: string } | { readonly file: string },
  secret: boolean | undefined
): WebhookConfig.Header =>
  secret === true
    ? { name, value, secret: true }
    : { name, value: value as string }

const Headers = Schema.transform(
  Schema.Union(
    forShape(HeaderList, Array.isArray),
    forShape(HeaderMapping, isRecord)
  ).annotations({
    message: (issue) =>
      Array.isArray(issue.actual) || isRecord(issue.actual)
        ? innerMessages
        : { message: "expected a list of { name, value } or a mapping of names to values", override: true }
  }).pipe(Schema.filter((headers) => {
    const issues: Array<Schema.FilterIssue> = []
    const seen = new Set<string>()
    for (const [path, header] of headersOf(headers)) {
      if (!Array.isArray(headers)) {
        const nameProblem = headerNameProblem(header.name)
        if (nameProblem !== undefined) issues.push({ path, message: nameProblem })
        issues.push(...headerEntryIssues(header, path))
      }
      const lower = header.name.toLowerCase()
      if (seen.has(lower)) issues.push({ path, message: `${header.name} is given twice` })
      seen.add(lower)
    }
    return issues
  })),
  Schema.Array(Schema.Any as Schema.Schema<WebhookConfig.Header>),
  {
    strict: true,
    decode: (headers) => headersOf(headers).map(([, header]) => header),
    encode: (headers) => headers.map((header) => header.secret === true ? { ...header } : { name: header.name, value: header.value })
  }
).annotations({
  title: "headers",
  description: "Extra request headers: a list of { name, value } (secret: true makes the value a secret ref), or a mapping of names to values",
  examples: [[{ name: "x-some-header", value: "some value" }]]
})

// ---------------------------------------------------------------------------------------------
// Authentication, TLS, proxy, network
// ---------------------------------------------------------------------------------------------

const Authentication = Schema.Struct({
  bearer_token: Schema.optionalWith(SecretRef.annotations({ description: "Sent as Authorization: Bearer TOKEN" }), { exact: true }),
  basic: Schema.optionalWith(
    Schema.Struct({
      username: Schema.String.annotations({ message: says("expected a user name") }).pipe(
        Schema.filter((name) =>
          name.includes(":")
            ? "must not contain a colon (Basic authentication joins user:password)"
            : /[\x00-\x1f\x7f]/.test(name)
            ? "must not contain control characters"
            : undefined, {
          jsonSchema: { type: "string", pattern: "^[^:\\u0000-\\u001f\\u007f]*$" }
        })
      ),
      password: SecretRef
    }).annotations({
      description: "HTTP Basic authentication",
      message: (issue) => isRecord(issue.actual) ? innerMessages : { message: "expected { username, password }", override: true }
    }),
    { exact: true }
  )
}).annotations({
  title: "authentication",
  description: "How the receiver authenticates deliveries: bearer_token or basic (exactly one)",
  examples: [{ bearer_token: { env: "HOOK_TOKEN" } }],
  message: (issue) =>
    isRecord(issue.actual)
      ? innerMessages
      : { message: "expected { bearer_token: SECRET } or { basic: { username, password: SECRET } }", override: true }
}).pipe(
  Schema.filter((auth) => {
    if (auth.bearer_token !== undefined && auth.basic !== undefined) return "set bearer_token or basic, not both"
    if (auth.bearer_token === undefined && auth.basic === undefined) return "expected bearer_token or basic"
    return undefined
  }, { jsonSchema: { minProperties: 1, maxProperties: 1 } })
)

const Tls = Schema.Struct({
  ca: Schema.optionalWith(SecretRef.annotations({ description: "PEM CA certificates trusted instead of the system's" }), { exact: true }),
  cert: Schema.optionalWith(SecretRef.annotations({ description: "PEM client certificate chain, for mTLS" }), { exact: true }),
  key: Schema.optionalWith(SecretRef.annotations({ description: "PEM private key of cert" }), { exact: true }),
  insecure_skip_verify: Schema.optionalWith(
    Schema.Boolean.annotations({ message: says("expected true or false"), description: "Turn certificate verification off (warned about)" }),
    { exact: true }
  )
}).annotations({
  title: "tls",
  description: "TLS towards an https receiver: a CA bundle, a client certificate and key (mTLS)",
  examples: [{ ca: { file: "/etc/servo/ca.pem" } }],
  message: (issue) =>
    isRecord(issue.actual) ? innerMessages : { message: "expected { ca, cert, key, insecure_skip_verify }", override: true }
}).pipe(
  Schema.filter((tls) =>
    (tls.cert === undefined) !== (tls.key === undefined)
      ? "cert and key go together (a client certificate for mTLS): set both or neither"
      : undefined, { jsonSchema: { dependencies: { cert: ["key"], key: ["cert"] } } })
)

const Proxy = Schema.Union(Schema.Literal(false), SecretRef).annotations({
  title: "proxy",
  description: "A proxy URL as a secret (it may hold credentials), or false for none; absent: HTTPS_PROXY / HTTP_PROXY / NO_PROXY",
  examples: [{ env: "EGRESS_PROXY" }, false],
  message: says("expected a proxy URL as a secret (a string, { env: VARIABLE } or { file: PATH }), or false for none")
})

const Cidr = Schema.transformOrFail(
  Schema.String.annotations({
    message: says("expected a CIDR block such as 10.1.0.0/16, or an address"),
    jsonSchema: { type: "string", pattern: "^[0-9A-Fa-f:.]+(/[0-9]{1,3})?$", examples: ["10.20.0.0/16", "fd00::/8"] }
  }),
  Schema.Any as Schema.Schema<NetworkPolicy.Cidr>,
  {
    strict: true,
    decode: (text, _, ast) => Either.mapLeft(Addresses.parseCidr(text), (message) => new ParseResult.Type(ast, text, message)),
    encode: (cidr) => ParseResult.succeed(cidr.text)
  }
).annotations({ title: "CIDR block" })

const NetworkFields = Schema.Struct({
  deny_private: Schema.optionalWith(
    Schema.Boolean.annotations({ message: says("expected true or false"), description: "Refuse every address that is not public unicast (SSRF guard)" }),
    { exact: true }
  ),
  allow: Schema.optionalWith(
    Schema.Array(Cidr).annotations({
      description: "Blocks let through despite deny_private",
      message: (issue) => Array.isArray(issue.actual) ? innerMessages : { message: "expected a list of CIDR blocks, such as [10.1.0.0/16, fd00::/8]", override: true }
    }),
    { exact: true }
  )
}).annotations({
  message: (issue) => isRecord(issue.actual) ? innerMessages : { message: "expected { deny_private: true, allow: [CIDR, ...] }", override: true }
}).pipe(
  Schema.filter((network) =>
    network.deny_private !== true && (network.allow?.length ?? 0) > 0
      ? { path: ["allow"], message: "punches holes in deny_private, which is off: set deny_private: true" }
      : undefined, {
    jsonSchema: {
      if: { required: ["allow"], properties: { allow: { minItems: 1 } } },
      then: { required: ["deny_private"], properties: { deny_private: { const: true } } }
    }
  })
)

const Network = Schema.transform(NetworkFields, Schema.Any as Schema.Schema<NetworkPolicy.NetworkPolicy>, {
  strict: true,
  decode: (fields): NetworkPolicy.NetworkPolicy => ({ denyPrivate: fields.deny_private ?? false, allow: fields.allow ?? [] }),
  encode: (policy) => ({ deny_private: policy.denyPrivate, ...(policy.allow.length > 0 ? { allow: policy.allow } : {}) })
}).annotations({
  title: "network",
  description: "The SSRF guard: deny_private refuses private, loopback and link-local addresses at connect time",
  jsonSchema: { examples: [{ deny_private: true, allow: ["10.20.0.0/16"] }] }
})

/** The transport settings a section may set for all of its hooks. */
const transportFields = {
  tls: Schema.optionalWith(Tls, { exact: true }),
  proxy: Schema.optionalWith(Proxy, { exact: true }),
  http2: Schema.optionalWith(
    Schema.Boolean.annotations({ message: says("expected true or false"), description: "HTTP/2: h2 over TLS, prior-knowledge h2c for http: targets" }),
    { exact: true }
  ),
  network: Schema.optionalWith(Network, { exact: true })
}

const transportKeys = ["tls", "proxy", "http2", "network"] as const

// ---------------------------------------------------------------------------------------------
// Backoff and the webhook entry
// ---------------------------------------------------------------------------------------------

const Retries = Schema.Number.annotations({ message: says("expected a whole number of retries (0 or more)") }).pipe(
  Schema.filter((n) => Number.isInteger(n) && n >= 0 ? undefined : `expected a whole number of retries (0 or more), got ${n}`, {
    jsonSchema: { type: "integer", minimum: 0 }
  })
).annotations({ title: "retries", description: "Retries after the first attempt", examples: [3] })

// A field left out takes the webhook's default, which depends on its events (`defaultBackoff`):
// the section's decode fills it in, where the events are known.
const BackoffFields = Schema.Struct({
  retries: Schema.optionalWith(Retries, { exact: true }),
  timeout: Schema.optionalWith(
    BoundedDuration(limits.backoffTimeout, "Deadline of the whole delivery, waits included"),
    { exact: true }
  )
})

/** A backoff as given: `true` and left-out fields stand for the webhook's defaults. */
type GivenBackoff = Partial<WebhookConfig.Backoff> | false

const Backoff = Schema.transform(
  Schema.Union(forShape(Schema.Boolean, (u) => !isRecord(u)), forShape(BackoffFields, isRecord)).annotations({
    message: (issue) =>
      isRecord(issue.actual)
        ? innerMessages
        : { message: "expected false (send once) or { retries, timeout }", override: true }
  }),
  Schema.Any as Schema.Schema<GivenBackoff>,
  {
    strict: true,
    decode: (backoff) => backoff === false ? false : backoff === true ? {} : backoff,
    encode: (backoff) => backoff
  }
).annotations({
  title: "backoff",
  description:
    "Retries and the delivery deadline, or false to send once. Default (true): after webhooks 12 retries within 24h, waits up to 10m; before webhooks (and entries with a before event) 3 retries within 5m, waits up to 1m",
  examples: [{ retries: 12, timeout: Duration.hours(24) }, false]
})

const PositiveCount = (what: string) =>
  Schema.Number.annotations({ message: says(`expected a whole number of ${what} (1 or more)`) }).pipe(
    Schema.filter((n) => Number.isInteger(n) && n >= 1 ? undefined : `expected a whole number of ${what} (1 or more), got ${n}`, {
      jsonSchema: { type: "integer", minimum: 1 }
    })
  )

const MaxInFlight = PositiveCount("attempts").annotations({
  title: "max_in_flight",
  description:
    "Attempts of this webhook's after deliveries in flight at most, so a slow receiver holds only its share of the workers (default: half the workers, at least 1)",
  examples: [4]
})

const BreakerFields = Schema.Struct({
  failures: Schema.optionalWith(
    PositiveCount("failures").annotations({ description: "Consecutive failed attempts that open the breaker (default 10)" }),
    { exact: true, default: () => defaults.breaker.failures }
  ),
  cooldown: Schema.optionalWith(
    BoundedDuration(limits.breakerCooldown, "How long an open breaker waits before one probe attempt (default 30s), doubling on each failed probe up to 10m"),
    { exact: true, default: () => defaults.breaker.cooldown }
  )
})

const Breaker = Schema.transform(
  Schema.Union(forShape(Schema.Boolean, (u) => !isRecord(u)), forShape(BreakerFields, isRecord)).annotations({
    message: (issue) =>
      isRecord(issue.actual)
        ? innerMessages
        : { message: "expected false (no breaker) or { failures, cooldown }", override: true }
  }),
  Schema.Any as Schema.Schema<WebhookConfig.Breaker | false>,
  {
    strict: true,
    decode: (breaker) => breaker === false ? false : breaker === true ? defaults.breaker : breaker,
    encode: (breaker) => breaker
  }
).annotations({
  title: "breaker",
  description:
    "Circuit breaker of after deliveries: after `failures` consecutive failed attempts the webhook's deliveries wait `cooldown`, then one probe decides; false turns it off (default { failures: 10, cooldown: 30s })",
  examples: [{ failures: 10, cooldown: Duration.seconds(30) }, false]
})

const namePattern = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/

const Entry = (events: Event.Registry) => {
  const selector = Selector(events)
  return Schema.Struct({
    name: Schema.optionalWith(
      Schema.String.annotations({ message: says("expected a name") }).pipe(
        Schema.pattern(namePattern, {
          message: says("expected letters, digits, '_', '.' or '-', starting with a letter or digit")
        })
      ).annotations({ title: "name", description: "Names the webhook in logs and listings (default: webhooks[INDEX])", examples: ["my_measure_handler"] }),
      { exact: true }
    ),
    description: Schema.optionalWith(
      Schema.String.annotations({ message: says("expected text"), description: "What the webhook is for" }),
      { exact: true }
    ),
    event: Schema.optionalWith(selector, { exact: true }),
    events: Schema.optionalWith(
      Schema.Array(selector).annotations({
        description: "Several selectors (instead of event)",
        message: (issue) => Array.isArray(issue.actual) ? innerMessages : { message: "expected a list of event selectors", override: true }
      }).pipe(Schema.filter((list) => list.length > 0 ? undefined : "expected at least one event", { jsonSchema: { minItems: 1 } })),
      { exact: true }
    ),
    target: Schema.propertySignature(Target).annotations({
      missingMessage: () => "is missing: expected the receiver's http or https URL"
    }),
    headers: Schema.optionalWith(Headers, { exact: true, default: () => [] }),
    authentication: Schema.optionalWith(Authentication, { exact: true }),
    secret: Schema.optionalWith(SecretRefs("A whsec_ signing secret (Standard Webhooks v1 signatures)", "HOOK_SECRET"), { exact: true }),
    signing_key: Schema.optionalWith(SecretRefs("A whsk_ Ed25519 signing key (v1a signatures)", "HOOK_SIGNING_KEY"), { exact: true }),
    ...transportFields,
    request_timeout: Schema.optionalWith(
      BoundedDuration(limits.requestTimeout, "Timeout of one attempt (default 10s)"),
      { exact: true, default: () => defaults.requestTimeout }
    ),
    on_failure: Schema.optionalWith(
      Schema.Literal("ignore", "cancel").annotations({
        description: "What a failed before webhook does to its event: ignore it, or cancel the event",
        message: (issue) => ({
          message: `expected "ignore" or "cancel"${typeof issue.actual === "string" && issue.actual.length <= 20 ? `, got ${JSON.stringify(issue.actual)}` : ""}`,
          override: true
        })
      }),
      { exact: true, default: () => "ignore" as const }
    ),
    backoff: Schema.optionalWith(Backoff, { exact: true, default: () => ({}) }),
    max_in_flight: Schema.optionalWith(MaxInFlight, { exact: true }),
    // Left out: the default breaker, applied when the webhook is resolved.
    breaker: Schema.optionalWith(Breaker, { exact: true }),
    trace_propagation: Schema.optionalWith(
      Schema.Boolean.annotations({ message: says("expected true or false"), description: "Send W3C traceparent with each delivery" }),
      { exact: true, default: () => false }
    )
  }).annotations({
    title: "webhook",
    message: (issue) =>
      isRecord(issue.actual)
        ? innerMessages
        : { message: "expected a webhook: { event, target, ... }", override: true }
  }).annotations({
    // The filter's own jsonSchema would be lost: a struct with defaults is a transformation.
    jsonSchema: {
      allOf: [
        { oneOf: [{ required: ["event"] }, { required: ["events"] }] },
        // tls applies to https targets only.
        { if: { required: ["target", "tls"], properties: { target: { pattern: `^${caseless("http:")}` } } }, then: false },
        // on_failure: cancel needs a before event.
        {
          if: {
            required: ["on_failure"],
            properties: {
              on_failure: { const: "cancel" },
              event: { pattern: "^after:" },
              events: { items: { pattern: "^after:" } }
            }
          },
          then: false
        },
        // authentication owns the authorization header.
        {
          if: { required: ["authentication", "headers"] },
          then: {
            properties: {
              headers: {
                items: { properties: { name: { not: { pattern: `^${caseless("authorization")}$` } } } },
                propertyNames: { not: { pattern: `^${caseless("authorization")}$` } }
              }
            }
          }
        }
      ]
    }
  }).pipe(Schema.filter(crossCheck))
}

type EntryType = Schema.Schema.Type<ReturnType<typeof Entry>>

/** The checks that span fields of one webhook, each reported at the field it is about. */
const crossCheck = (entry: {
  readonly event?: Event.Selector | undefined
  readonly events?: ReadonlyArray<Event.Selector> | undefined
  readonly authentication?: unknown
  readonly headers: ReadonlyArray<WebhookConfig.Header>
  readonly tls?: unknown
  readonly target: string
  readonly on_failure: "ignore" | "cancel"
}): Array<Schema.FilterIssue> => {
  const issues: Array<Schema.FilterIssue> = []
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


// ---------------------------------------------------------------------------------------------
// The outbox (mapping form): where after deliveries wait.
// ---------------------------------------------------------------------------------------------

const dayMillis = 86_400_000

/**
 * A duration that may also count days (`7d`, `30d`, `1d12h`), for spans a Go duration spells
 * badly (`168h`): the outbox's retention, and the operator commands' `--since`/`--older-than`.
 */
export const parseLongDuration = (input: string): Either.Either<Duration.Duration, string> => {
  const days = /^(\d+)d/.exec(input)
  if (days === null) return GoDurationModule.parse(input)
  const rest = input.slice(days[0].length)
  const more = rest.length === 0 ? Either.right(Duration.zero) : GoDurationModule.parse(rest)
  return Either.map(more, (extra) => Duration.sum(Duration.days(Number(days[1])), extra))
}

/** `7d`, `1d12h`, `30s`: whole days first, the rest as a Go duration. */
export const formatLongDuration = (duration: Duration.Duration): string => {
  const millis = Duration.toMillis(duration)
  const days = Math.floor(millis / dayMillis)
  const rest = millis - days * dayMillis
  if (days === 0) return GoDurationModule.format(duration)
  return rest === 0 ? `${days}d` : `${days}d${GoDurationModule.format(Duration.millis(rest))}`
}

const longDurationExpected = "expected a duration such as 7d, 36h, 90m or 30s"

const LongDuration = Schema.transformOrFail(
  Schema.String.annotations({
    jsonSchema: {
      type: "string",
      pattern: "^(0|([0-9]+d)?(([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))*)$",
      examples: ["7d", "36h"]
    }
  }),
  Schema.DurationFromSelf,
  {
    strict: true,
    decode: (input, _, ast) =>
      Either.mapLeft(parseLongDuration(input), () => new ParseResult.Type(ast, input, `${longDurationExpected}, got ${JSON.stringify(input.slice(0, 20))}`)),
    encode: (duration) => ParseResult.succeed(formatLongDuration(duration))
  }
).annotations({
  message: (issue) => ({
    message: typeof issue.actual === "string" && issue._tag === "Type" && issue.message !== undefined ? issue.message : longDurationExpected,
    override: true
  })
})

/** The retention may be as long as a year; the lease between a second and an hour. */
const outboxLimits = {
  retention: Duration.days(365),
  leaseMin: Duration.seconds(1),
  leaseMax: Duration.hours(1)
} as const

const retentionDescription = "How long delivered rows are kept for inspection (`deliveries list`, `show`); at most 365d (default 7d)"
const leaseDescription =
  "How long a claimed delivery belongs to one worker before another may take it (extended while an attempt runs); between 1s and 1h (default 30s)"

const Retention = LongDuration.pipe(
  Schema.filter((duration) =>
    Duration.lessThanOrEqualTo(duration, outboxLimits.retention) ? undefined : "is longer than 365d, the longest allowed here", {
    jsonSchema: { title: "retention", description: retentionDescription, examples: ["7d", "36h"] }
  })
).annotations({
  title: "retention",
  description: retentionDescription,
  message: (issue) => ({ message: typeof issue.actual === "string" ? "is longer than 365d, the longest allowed here" : longDurationExpected, override: false })
})

const Lease = GoDuration.pipe(
  Schema.filter((duration) =>
    Duration.lessThan(duration, outboxLimits.leaseMin)
      ? "is shorter than 1s, the shortest lease allowed"
      : Duration.greaterThan(duration, outboxLimits.leaseMax)
      ? "is longer than 1h, the longest lease allowed"
      : undefined, { jsonSchema: { title: "lease", description: leaseDescription, examples: ["30s", "2m"] } })
).annotations({
  title: "lease",
  description: leaseDescription,
  message: (issue) => ({
    message: typeof issue.actual === "string"
      ? Either.match(GoDurationModule.parse(issue.actual), {
        onLeft: (message) => message,
        onRight: (duration) => Duration.lessThan(duration, outboxLimits.leaseMin) ? "is shorter than 1s, the shortest lease allowed" : "is longer than 1h, the longest lease allowed"
      })
      : "expected a duration such as 30s or 2m",
    override: true
  })
})

const stores = ["memory", "sqlite", "postgres"] as const

const OutboxFields = Schema.Struct({
  store: Schema.optionalWith(
    Schema.Literal(...stores).annotations({
      title: "store",
      description: "memory (the default: in this process, lost with it), sqlite (a file, durable) or postgres (shared by several processes)",
      message: (issue) => ({
        message: `expected memory, sqlite or postgres${typeof issue.actual === "string" && issue.actual.length <= 20 ? `, got ${JSON.stringify(issue.actual)}` : ""}`,
        override: true
      })
    }),
    { exact: true, default: () => "memory" as const }
  ),
  path: Schema.optionalWith(
    Schema.String.pipe(Schema.minLength(1)).annotations({
      title: "path",
      description: "store: sqlite: the database file (created if missing), relative to the working directory",
      examples: ["./servo-outbox.db"],
      message: says("expected the path of the SQLite file, such as ./servo-outbox.db")
    }),
    { exact: true }
  ),
  url: Schema.optionalWith(
    SecretRef.annotations({
      description: "store: postgres: the connection URL (postgres://user:password@host:5432/db), a secret: { env: VARIABLE } or { file: PATH }",
      examples: [{ env: "SERVO_OUTBOX_URL" }]
    }),
    { exact: true }
  ),
  retention: Schema.optionalWith(Retention, { exact: true, default: () => defaults.outbox.retention }),
  lease: Schema.optionalWith(Lease, { exact: true, default: () => defaults.outbox.lease })
}).annotations({
  message: (issue) =>
    isRecord(issue.actual) ? innerMessages : { message: "expected { store: memory | sqlite | postgres, path, url, retention, lease }", override: true }
})

/** Which fields each store needs, and which it has no use for, each at its own path. */
const outboxCrossCheck = (outbox: { readonly store: string; readonly path?: string; readonly url?: unknown }): Array<Schema.FilterIssue> => {
  const issues: Array<Schema.FilterIssue> = []
  if (outbox.store === "sqlite" && outbox.path === undefined) issues.push({ path: ["path"], message: "required for store: sqlite" })
  if (outbox.store === "postgres" && outbox.url === undefined) issues.push({ path: ["url"], message: "required for store: postgres" })
  if (outbox.store !== "sqlite" && outbox.path !== undefined) {
    issues.push({ path: ["path"], message: `applies to store: sqlite; this store is ${outbox.store}` })
  }
  if (outbox.store !== "postgres" && outbox.url !== undefined) {
    issues.push({ path: ["url"], message: `applies to store: postgres; this store is ${outbox.store}` })
  }
  return issues
}

/** The `outbox:` mapping, decoded to the store it describes. */
const OutboxSchema = Schema.transform(
  OutboxFields.pipe(Schema.filter(outboxCrossCheck)),
  Schema.Any as Schema.Schema<WebhookConfig.OutboxConfig>,
  {
    strict: true,
    decode: (fields): WebhookConfig.OutboxConfig => {
      switch (fields.store) {
        case "memory":
          return { store: "memory" }
        case "sqlite":
          return { store: "sqlite", path: fields.path!, retention: fields.retention, lease: fields.lease }
        case "postgres":
          return { store: "postgres", url: fields.url!, retention: fields.retention, lease: fields.lease }
      }
    },
    encode: (outbox) =>
      outbox.store === "memory"
        ? { store: "memory" as const, retention: defaults.outbox.retention, lease: defaults.outbox.lease }
        : { ...outbox }
  }
).annotations({
  title: "outbox",
  description:
    "Where after deliveries wait: memory (default), sqlite (durable, one machine) or postgres (shared by several servos and `servo webhooks worker` processes)",
  jsonSchema: {
    allOf: [
      { if: { required: ["store"], properties: { store: { const: "sqlite" } } }, then: { required: ["path"], not: { required: ["url"] } } },
      { if: { required: ["store"], properties: { store: { const: "postgres" } } }, then: { required: ["url"], not: { required: ["path"] } } },
      { if: { not: { required: ["store"] } }, then: { not: { anyOf: [{ required: ["path"] }, { required: ["url"] }] } } },
      { if: { required: ["store"], properties: { store: { const: "memory" } } }, then: { not: { anyOf: [{ required: ["path"] }, { required: ["url"] }] } } }
    ],
    examples: [{ store: "sqlite", path: "./servo-outbox.db" }, { store: "postgres", url: { env: "SERVO_OUTBOX_URL" }, lease: "30s" }]
  }
})

/**
 * Why text is not a PostgreSQL connection URL, in words that never quote it (it may hold a
 * password).
 */
export const postgresUrlProblem = (text: string): string | undefined => {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return "expected a postgres:// or postgresql:// URL, such as postgres://servo@db.internal:5432/servo"
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
    return `expected a postgres:// or postgresql:// URL, got a ${url.protocol.slice(0, -1)}: URL`
  }
  if (url.hostname === "") return "has no host: expected postgres://USER@HOST:PORT/DATABASE"
  return undefined
}

// ---------------------------------------------------------------------------------------------
// The section: a list, or a mapping whose transport settings apply to every hook.
// ---------------------------------------------------------------------------------------------

const sectionExpected = "expected a list of webhooks, or { hooks: [...], network, proxy, tls, http2, outbox }"

const isMappingForm = (u: unknown) => isRecord(u) && "hooks" in u

const Section = (events: Event.Registry) =>
  Schema.Union(
    forShape(Schema.Array(Entry(events)), Array.isArray),
    forShape(
      Schema.Struct({
        hooks: Schema.Array(Entry(events)).annotations({
          message: (issue) => Array.isArray(issue.actual) ? innerMessages : { message: "expected a list of webhooks", override: true }
        }),
        ...transportFields,
        outbox: Schema.optionalWith(OutboxSchema, { exact: true })
      }).annotations({
        description: "Transport settings (network, proxy, tls, http2) for every hook that sets none of its own, and the outbox they share"
      }),
      isMappingForm
    )
  ).annotations({
    message: (issue) =>
      Array.isArray(issue.actual) || isMappingForm(issue.actual)
        ? innerMessages
        : { message: sectionExpected, override: true }
  })

const dedupe = (selectors: ReadonlyArray<Event.Selector>): ReadonlyArray<Event.Selector> =>
  selectors.filter((selector, i) =>
    selectors.findIndex((other) => other.preposition === selector.preposition && other.event === selector.event) === i
  )

const defaultName = (i: number) => `webhooks[${i}]`

/** The Schema of the `webhooks:` section, for an assembly's events. */
export const WebhooksConfig = (events: Event.Registry): Schema.Schema<WebhookConfig.WebhooksSection, unknown> => {
  const section = Section(events)
  type SectionType = Schema.Schema.Type<typeof section>
  return Schema.transformOrFail(
    section,
    // Any, not an Array: an Array would copy the list and lose its `outbox`.
    Schema.Any as Schema.Schema<WebhookConfig.WebhooksSection>,
    {
      strict: true,
      decode: (decoded, _, ast) => {
        const mapping = !Array.isArray(decoded)
        const hooks: ReadonlyArray<EntryType> = mapping ? (decoded as { hooks: ReadonlyArray<EntryType> }).hooks : decoded as ReadonlyArray<EntryType>
        const base: ReadonlyArray<string> = mapping ? ["hooks"] : []
        const issues: Array<ParseResult.ParseIssue> = []
        const names = new Map<string, number>()
        const configs = hooks.map((hook, i): WebhookConfig.WebhookConfig => {
          const entry: Record<string, unknown> = { ...hook }
          if (mapping) {
            for (const key of transportKeys) {
              const shared = (decoded as Record<string, unknown>)[key]
              if (entry[key] === undefined && shared !== undefined) entry[key] = shared
            }
          }
          if (hook.name !== undefined) {
            const first = names.get(hook.name)
            if (first !== undefined) {
              issues.push(
                new ParseResult.Pointer(
                  [...base, i, "name"] as unknown as readonly [PropertyKey, ...Array<PropertyKey>],
                  decoded,
                  new ParseResult.Type(ast, hook.name, `duplicate name ${JSON.stringify(hook.name)} (also [${first}].name)`)
                )
              )
            } else names.set(hook.name, i)
          }
          const { backoff, event, events: selectors, name, ...rest } = entry as EntryType
          const merged = dedupe(selectors ?? (event === undefined ? [] : [event]))
          return {
            ...(rest as Omit<EntryType, "event" | "events" | "name" | "backoff">),
            name: name ?? defaultName(i),
            events: merged,
            backoff: backoff === false ? false : { ...defaultBackoff(merged), ...backoff },
            ...(mapping ? { path: [...base, i] } : {})
          } as WebhookConfig.WebhookConfig
        })
        if (Arr.isNonEmptyArray(issues)) return ParseResult.fail(new ParseResult.Composite(ast, decoded, issues))
        const outbox = mapping ? (decoded as { outbox?: WebhookConfig.OutboxConfig }).outbox : undefined
        return ParseResult.succeed(outbox === undefined ? configs : Object.assign(configs, { outbox }))
      },
      encode: (configs) => {
        const hooks = configs.map((config, i) => {
          const { events: selectors, name, path: _, ...rest } = config
          return { ...(name === defaultName(i) ? {} : { name }), events: selectors, ...rest }
        })
        // The mapping form decodes with `path`; keep the form so the round trip keeps it.
        const mapping = configs.some((config) => config.path !== undefined) || configs.outbox !== undefined
        const outbox = configs.outbox === undefined ? {} : { outbox: configs.outbox }
        return ParseResult.succeed((mapping ? { hooks, ...outbox } : hooks) as unknown as SectionType)
      }
    }
  ).annotations({
    identifier: "WebhooksConfig",
    title: "webhooks",
    description: "Webhooks before and after servo events: a list, or { hooks: [...] } with shared network, proxy, tls, http2 and the outbox",
    jsonSchema: {
      examples: [[{
        name: "my_measure_handler",
        event: "after:measure",
        target: "https://example.com/webhooks",
        secret: { env: "HOOK_SECRET" },
        backoff: { retries: 3, timeout: "5m" }
      }]]
    }
  }) as unknown as Schema.Schema<WebhookConfig.WebhooksSection, unknown>
}
