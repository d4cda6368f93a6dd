/**
 * `servo webhooks listen`: a local receiver for building responders. It prints each delivery as
 * it arrives (time, event, id, signature, compact body) and answers it: 204, a cancellation
 * (`--cancel`), the answer of the app it forwards to (`--forward-to`), or a failure on purpose
 * (`--status`, `--delay`, `--fail-first`, `--fail-rate`) to exercise a sender's retries,
 * timeouts and `on_failure`. `--json` prints one JSON object per delivery instead. Ctrl-C stops it
 * with a count.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Arr from "effect/Array"
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as HashMap from "effect/HashMap"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import type * as Event from "../servo/Event.js"
import type * as Receiver from "../webhooks/Receiver.js"
import type * as Signature from "../webhooks/Signature.js"
import type * as WebhookConfig from "../webhooks/WebhookConfig.js"
import { untrusted } from "../internal/terminal.js"
import * as CliError from "./CliError.js"
import { type Assembly, type AssemblyLoader, configOnlyAssembly } from "./internal/assemblies.js"
import * as Format from "./internal/format.js"
import * as SecretOptions from "./internal/secretSources.js"
import { stopsOnSignal } from "./internal/signals.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface ListenOptions {
  readonly port: number
  readonly host: string
  readonly secret: ReadonlyArray<Redacted.Redacted<string>>
  readonly secretEnv: ReadonlyArray<string>
  readonly secretFile: ReadonlyArray<string>
  readonly publicKey: ReadonlyArray<string>
  readonly publicKeyEnv: ReadonlyArray<string>
  readonly publicKeyFile: ReadonlyArray<string>
  /** Take the keys (and the secret header names to redact) from this servo.yaml. */
  readonly config: Option.Option<string>
  /** Only this webhook of the config (`./servo.yaml` when `config` is absent). */
  readonly webhook: Option.Option<string>
  readonly cancel: Option.Option<string>
  /** Which events are accepted and shown; the others are answered 404. */
  readonly events: Option.Option<ReadonlyArray<string>>
  /** Which events `cancel` answers (default: `events`, else every before event). */
  readonly cancelEvents: Option.Option<ReadonlyArray<string>>
  readonly forwardTo: Option.Option<string>
  readonly status: Option.Option<number>
  readonly delay: Option.Option<string>
  readonly failFirst: Option.Option<number>
  readonly failRate: Option.Option<number>
  readonly seed: Option.Option<number>
  readonly json: boolean
  readonly verbose: boolean
}

// ---------------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------------

interface Keys {
  readonly keys: ReadonlyArray<Signature.VerificationKey>
  /** Where the keys came from when not from flags: `servo.yaml (gate)`. */
  readonly source: string | undefined
  /** Header names whose values `--json` and `--verbose` redact, configured secret headers included. */
  readonly redacted: ReadonlyArray<string>
}

const parseSecretFlag = (Signature: typeof import("../webhooks/Signature.js"), flag: string, secret: Redacted.Redacted<string>) => {
  if (Redacted.value(secret).trim() === "") {
    return CliError.fail(`${flag}: is empty; expected a secret such as whsec_... (servo webhooks keys prints a fresh one)`)
  }
  const parsed = Signature.parseSecret(secret)
  if (Either.isRight(parsed)) return Effect.succeed<Signature.VerificationKey>(parsed.right)
  const hint = Redacted.value(secret).startsWith("whpk_") ? "; give a whpk_ public key with --public-key" : ""
  return CliError.fail(`${flag}: ${parsed.left.message}${hint}`)
}

const parsePublicKeyFlag = (Signature: typeof import("../webhooks/Signature.js"), flag: string, publicKey: string) => {
  if (publicKey.trim() === "") {
    return CliError.fail(
      `${flag}: is empty; expected a public key such as whpk_... (servo webhooks keys --ed25519 prints a key pair)`
    )
  }
  const parsed = Signature.parsePublicKey(publicKey)
  if (Either.isRight(parsed)) return Effect.succeed<Signature.VerificationKey>(parsed.right)
  const hint = publicKey.startsWith("whsk_")
    ? "; a signing key stays with the servo: give its whpk_ public key (servo webhooks keys --ed25519 prints both)"
    : publicKey.startsWith("whsec_")
    ? "; give a whsec_ secret with --secret"
    : ""
  return CliError.fail(`${flag}: ${parsed.left.message}${hint}`)
}

/** The keys of the webhooks in servo.yaml (or of the one named), resolved as `servo run` would. */
const keysFromConfig = (assembly: Assembly, path: string, name: Option.Option<string>) =>
  Effect.gen(function*() {
    const [Config, WebhookConfigModule] = yield* Effect.promise(() =>
      Promise.all([import("./internal/config.js"), import("../webhooks/WebhookConfig.js")])
    )
    const loaded = yield* Config.load(assembly, path).pipe(Effect.mapError(CliError.fromInvalidConfig))
    const chosen = Option.isSome(name)
      ? loaded.webhooks.flatMap((webhook, index) => webhook.name === name.value ? [{ webhook, index }] : [])
      : loaded.webhooks.map((webhook, index) => ({ webhook, index }))
    if (Option.isSome(name) && chosen.length === 0) {
      const names = loaded.webhooks.map((webhook) => webhook.name)
      return yield* CliError.fail(
        `--webhook ${name.value}: no webhook of that name in ${path}${names.length === 0 ? "" : `; its webhooks: ${names.join(", ")}`}`
      )
    }
    const resolved: Array<WebhookConfig.Webhook> = []
    for (const { index, webhook } of chosen) {
      resolved.push(yield* Config.resolveAt(webhook, index, path).pipe(Effect.mapError(CliError.fromInvalidConfig)))
    }
    const signing = resolved.filter((webhook) => webhook.signingKeys.length > 0)
    if (signing.length === 0) {
      return yield* CliError.fail(
        Option.isSome(name)
          ? `--webhook ${name.value}: it signs nothing (no secret or signing_key in ${path})`
          : `${path}: no webhook signs its deliveries (no secret or signing_key); give --secret-env or --public-key`
      )
    }
    return {
      // A receiver holds the secret itself (v1), or only the public half of a signing key (v1a).
      keys: signing.flatMap((webhook) =>
        webhook.signingKeys.map((key): Signature.VerificationKey => key._tag === "Secret" ? key : key.publicKey)
      ),
      source: `${path} (${signing.map((webhook) => webhook.name).join(", ")})`,
      redacted: [...new Set(resolved.flatMap((webhook) => WebhookConfigModule.redactedHeaderNames(webhook)))]
    }
  })

/**
 * The keys to verify with: `--secret-env`, `--secret-file`, `--secret` whsec_ secrets (v1), then
 * the public keys (v1a) the same three ways, then those of servo.yaml when `--config` or
 * `--webhook` asks for them. A key given to the wrong option is refused with a hint; no message
 * quotes a key.
 */
const verificationKeys = (assembly: Assembly, options: ListenOptions) =>
  Effect.gen(function*() {
    const Signature = yield* Effect.promise(() => import("../webhooks/Signature.js"))
    const { sensitiveHeaderNames } = yield* Effect.promise(() => import("../webhooks/internal/redaction.js"))
    const keys: Array<Signature.VerificationKey> = []
    const read = (flag: string, variables: ReadonlyArray<string>, files: ReadonlyArray<string>) =>
      SecretOptions.readAll(flag, variables, files).pipe(Effect.mapError((message) => new CliError.CliError({ message })))

    const secretsRead = yield* read("secret", options.secretEnv, options.secretFile)
    const secretFlags = [
      ...options.secretEnv.map(() => "--secret-env"),
      ...options.secretFile.map(() => "--secret-file")
    ]
    for (const [i, secret] of secretsRead.entries()) keys.push(yield* parseSecretFlag(Signature, secretFlags[i]!, secret))
    for (const secret of options.secret) keys.push(yield* parseSecretFlag(Signature, "--secret", secret))

    const publicRead = yield* read("public-key", options.publicKeyEnv, options.publicKeyFile)
    const publicFlags = [
      ...options.publicKeyEnv.map(() => "--public-key-env"),
      ...options.publicKeyFile.map(() => "--public-key-file")
    ]
    for (const [i, key] of publicRead.entries()) {
      keys.push(yield* parsePublicKeyFlag(Signature, publicFlags[i]!, Redacted.value(key)))
    }
    for (const key of options.publicKey) keys.push(yield* parsePublicKeyFlag(Signature, "--public-key", key))

    if (Option.isNone(options.config) && Option.isNone(options.webhook)) {
      return { keys, source: undefined, redacted: sensitiveHeaderNames } satisfies Keys
    }
    const fromConfig = yield* keysFromConfig(assembly, Option.getOrElse(options.config, () => "servo.yaml"), options.webhook)
    return {
      keys: [...keys, ...fromConfig.keys],
      source: fromConfig.source,
      redacted: fromConfig.redacted
    } satisfies Keys
  })

const keysText = (keys: Keys) => {
  const secrets = keys.keys.filter((key) => key._tag === "Secret").length
  const publicKeys = keys.keys.length - secrets
  const parts = [
    ...(secrets === 0 ? [] : [`${Format.count(secrets, "whsec_ secret")} (v1)`]),
    ...(publicKeys === 0 ? [] : [`${Format.count(publicKeys, "whpk_ public key")} (v1a)`])
  ]
  return parts.length === 0
    ? "not checked (no --secret-env, --secret or --public-key)"
    : `verified with ${parts.join(" and ")}${keys.source === undefined ? "" : ` from ${keys.source}`}`
}

// ---------------------------------------------------------------------------------------------
// What to answer
// ---------------------------------------------------------------------------------------------

/** Selectors from repeated, comma-separated inputs; `undefined` when none were given. */
const parseSelectors = (
  assembly: Assembly,
  WebhookConfigModule: typeof import("../webhooks/WebhookConfig.js"),
  flag: string,
  given: Option.Option<ReadonlyArray<string>>
) => {
  const inputs = Option.getOrElse(given, (): ReadonlyArray<string> => [])
    .flatMap((input) => input.split(","))
    .map((input) => input.trim())
    .filter((input) => input !== "")
  if (inputs.length === 0) return Effect.succeed(undefined)
  return Effect.forEach(inputs, (input) =>
    Either.match(WebhookConfigModule.parseSelector(input, assembly.events), {
      onLeft: (reason) => CliError.fail(`${flag} ${input}: ${reason}`),
      onRight: Effect.succeed
    }))
}

/** How the receiver misbehaves on purpose. */
interface Breakage {
  readonly status: number
  /** Every answer fails (`--status` alone). */
  readonly always: boolean
  readonly failFirst: number | undefined
  readonly failRate: number | undefined
  readonly seed: number
  readonly delay: Duration.Duration | undefined
  /** The delay as given (`1.5s`). */
  readonly delayText: string
}

const maxDelay = Duration.hours(1)

const breakage = (GoDuration: typeof import("../servo/GoDuration.js"), options: ListenOptions) =>
  Effect.gen(function*() {
    const status = Option.getOrUndefined(options.status)
    if (status !== undefined && (!Number.isInteger(status) || status < 200 || status > 599)) {
      return yield* CliError.fail(`--status ${status}: expected a status from 200 to 599`)
    }
    const failFirst = Option.getOrUndefined(options.failFirst)
    if (failFirst !== undefined && failFirst < 0) {
      return yield* CliError.fail(`--fail-first ${failFirst}: expected a number of attempts, 0 or more`)
    }
    const failRate = Option.getOrUndefined(options.failRate)
    if (failRate !== undefined && !(failRate >= 0 && failRate <= 1)) {
      return yield* CliError.fail(`--fail-rate ${failRate}: expected a fraction of attempts from 0 to 1, such as 0.3`)
    }
    if (Option.isSome(options.seed) && failRate === undefined) {
      return yield* CliError.fail("--seed chooses which attempts --fail-rate fails; give --fail-rate P too")
    }
    let delay: Duration.Duration | undefined
    if (Option.isSome(options.delay)) {
      const parsed = GoDuration.parse(options.delay.value)
      if (Either.isLeft(parsed)) return yield* CliError.fail(`--delay: ${parsed.left}`)
      if (Duration.greaterThan(parsed.right, maxDelay)) {
        return yield* CliError.fail(`--delay ${options.delay.value}: at most ${GoDuration.format(maxDelay)}`)
      }
      delay = parsed.right
    }
    const failing = failFirst !== undefined || failRate !== undefined
    if (status !== undefined && !failing && Option.isSome(options.forwardTo)) {
      return yield* CliError.fail(
        "--status alone answers every delivery itself, so nothing would be forwarded; use it with --fail-first or --fail-rate"
      )
    }
    return {
      status: status ?? 503,
      always: status !== undefined && !failing,
      failFirst,
      failRate,
      // Without --seed, a seed is drawn and printed, so that a run can be repeated.
      seed: Option.getOrElse(options.seed, () => Math.floor(Math.random() * 1_000_000)),
      delay,
      delayText: Option.getOrElse(options.delay, () => "")
    } satisfies Breakage
  })

const breakageText = (breakage: Breakage): ReadonlyArray<string> => {
  const parts = [
    ...(breakage.failFirst === undefined || breakage.failFirst === 0
      ? []
      : [`the first ${Format.count(breakage.failFirst, "attempt")} of each delivery`]),
    ...(breakage.failRate === undefined
      ? []
      : [`${Format.number(breakage.failRate * 100)}% of attempts at random (--seed ${breakage.seed})`])
  ]
  return [
    ...(parts.length === 0 ? [] : [`  failures:   ${breakage.status} to ${parts.join(", and ")}`]),
    ...(breakage.delay === undefined ? [] : [`  delay:      ${breakage.delayText} before each answer`])
  ]
}

// ---------------------------------------------------------------------------------------------
// Forwarding
// ---------------------------------------------------------------------------------------------

/** What the app answered, or why it could not be asked. */
type Forwarded =
  | {
    readonly _tag: "Answered"
    readonly status: number
    readonly headers: Readonly<Record<string, string>>
    readonly body: Uint8Array
    readonly millis: number
  }
  | { readonly _tag: "Failed"; readonly reason: string; readonly millis: number }

// Connection-level headers belong to one hop; content-length and content-encoding no longer hold
// once fetch has decoded the body.
const hopHeaders = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
  "host",
  "content-length",
  "content-encoding",
  "expect"
])

const parseForwardTarget = (input: string) => {
  let url: URL
  try {
    url = new URL(input)
  } catch {
    return CliError.fail(`--forward-to: expected an http:// or https:// URL such as http://127.0.0.1:3000/webhooks`)
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return CliError.fail(`--forward-to: expected an http:// or https:// URL, got a ${url.protocol} URL`)
  }
  return Effect.succeed(url)
}

const describeFetchError = (error: unknown): string => {
  const cause = error instanceof Error && error.cause !== undefined ? error.cause : error
  const code = typeof cause === "object" && cause !== null && "code" in cause ? String(cause.code) : ""
  switch (code) {
    case "ECONNREFUSED":
      return "connection refused"
    case "ECONNRESET":
    case "UND_ERR_SOCKET":
      return "the connection was closed before an answer"
    case "ENOTFOUND":
      return "no such host"
    default:
      return code !== "" ? code : cause instanceof Error ? cause.message : String(cause)
  }
}

/** Sends the delivery as it came (method, headers, body) to `target`; the app's answer, whole. */
const forward = (target: URL, request: Receiver.Request): Effect.Effect<Forwarded> => {
  const started = performance.now()
  const elapsed = () => Math.round(performance.now() - started)
  const headers: Array<[string, string]> = Object.entries(request.headers).filter(([name]) => !hopHeaders.has(name))
  return Effect.tryPromise({
    try: async (signal) => {
      const response = await fetch(target, { method: "POST", headers, body: new Uint8Array(request.body), redirect: "manual", signal })
      const body = new Uint8Array(await response.arrayBuffer())
      const relayed: Record<string, string> = {}
      response.headers.forEach((value, name) => {
        if (!hopHeaders.has(name)) relayed[name] = value
      })
      return { _tag: "Answered", status: response.status, headers: relayed, body, millis: elapsed() } satisfies Forwarded
    },
    catch: (error) => ({ _tag: "Failed", reason: describeFetchError(error), millis: elapsed() }) satisfies Forwarded
  }).pipe(Effect.merge)
}

// ---------------------------------------------------------------------------------------------
// Printing
// ---------------------------------------------------------------------------------------------

/** What listen knows of a delivery once answered, for the text line and the JSON object. */
interface Report {
  readonly delivery: Receiver.Delivery
  /** Why listen answered as it did, when it is not plain: `not selected by --events`. */
  readonly note: string | undefined
  /** A short line: the delivery was turned away before any answer of substance. */
  readonly brief: boolean
  readonly forwarded: Forwarded | undefined
  readonly target: string | undefined
}

const dim = (text: string) => `\x1b[2m${text}\x1b[22m`

/** A path with its query values redacted: a token in a query string is a secret. */
const redactedPath = (path: string, redactUrl: (url: string) => string) => {
  if (!path.includes("?") && !path.includes("#")) return path
  const redacted = redactUrl(`http://receiver${path.startsWith("/") ? "" : "/"}${path}`)
  return redacted.startsWith("http://receiver") ? redacted.slice("http://receiver".length) : "REDACTED"
}

const shownHeaders = (headers: Readonly<Record<string, string>>, redacted: ReadonlyArray<string>) =>
  Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, redacted.includes(name) ? "REDACTED" : value]))

const bodyText = (body: Uint8Array, max: number) => {
  const text = Buffer.from(body).toString("utf8").replace(/\s+/g, " ").trim()
  return text.length > max ? `${text.slice(0, max - 1)}…` : text
}

/** `204`, `200 cancelled: reason`, `500 {"error":...}`: the app's answer in a few words. */
const answerText = (cancelType: string, status: number, headers: Readonly<Record<string, string>>, body: Uint8Array) => {
  if ((headers["content-type"] ?? "").startsWith(cancelType)) {
    try {
      const reason = (JSON.parse(Buffer.from(body).toString("utf8")) as { reason?: unknown }).reason
      if (typeof reason === "string") return `${status} cancelled: ${reason}`
    } catch {
      // Not the cancel body after all: shown as text below.
    }
  }
  const text = bodyText(body, 120)
  return text === "" ? String(status) : `${status} ${text}`
}

const formatText = (
  ReceiverModule: typeof import("../webhooks/Receiver.js"),
  cancelType: string,
  redactUrl: (url: string) => string,
  redacted: ReadonlyArray<string>,
  verbose: boolean,
  report: Report
): string => {
  const { delivery } = report
  if (report.brief) {
    // Not answered for real (not selected, not forwarded): no body, and dim when merely filtered.
    const line = untrusted(
      `${ReceiverModule.formatDelivery(delivery).split("  ").slice(0, 3).join("  ")}  → ${delivery.status} (${report.note})`
    )
    return delivery.status === 404 ? dim(line) : line
  }
  const lines = [ReceiverModule.formatDelivery(delivery, report.note)]
  if (verbose) {
    lines.push(`  path     ${untrusted(redactedPath(delivery.path, redactUrl))}`)
    for (const [name, value] of Object.entries(shownHeaders(delivery.headers, redacted))) {
      lines.push(`  header   ${untrusted(name)}: ${untrusted(value)}`)
    }
  }
  if (report.forwarded !== undefined) {
    const forwarded = report.forwarded
    lines.push(
      forwarded._tag === "Answered"
        ? `  ↳ ${report.target} → ${
          untrusted(answerText(cancelType, forwarded.status, forwarded.headers, forwarded.body))
        }  (${forwarded.millis} ms)`
        : `  ↳ ${report.target} failed: ${untrusted(forwarded.reason)} → answered ${delivery.status}`
    )
  }
  return lines.join("\n")
}

/**
 * JSON with every character a terminal could act on escaped: JSON.stringify leaves DEL, the C1
 * controls and U+2028/9 as they are.
 */
const safeJson = (value: unknown) =>
  JSON.stringify(value).replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)

const signatureJson = (check: Receiver.SignatureCheck) => {
  switch (check._tag) {
    case "Verified":
      return { result: "verified", scheme: check.scheme, key_index: check.keyIndex }
    case "Invalid":
      return { result: "invalid", reason: check.reason }
    case "Unsigned":
      return { result: "unsigned" }
    case "Unchecked":
      return { result: "unchecked" }
  }
}

const bodyJson = (json: unknown, body: Uint8Array) => json !== undefined ? json : Buffer.from(body).toString("utf8")

const formatJson = (redactUrl: (url: string) => string, redacted: ReadonlyArray<string>, report: Report): string => {
  const { delivery, forwarded } = report
  const decision = delivery.decision
  return safeJson({
    received_at: delivery.receivedAt.toISOString(),
    event: delivery.event,
    id: delivery.id ?? null,
    path: redactedPath(delivery.path, redactUrl),
    headers: shownHeaders(delivery.headers, redacted),
    body: bodyJson(delivery.json, delivery.body),
    signature: signatureJson(delivery.signature),
    answer: {
      status: delivery.status,
      ...(decision._tag === "Cancel" ? { cancelled: decision.reason } : {}),
      ...(report.note === undefined ? {} : { note: report.note })
    },
    ...(forwarded === undefined ? {} : {
      forwarded: forwarded._tag === "Answered"
        ? {
          url: report.target,
          status: forwarded.status,
          headers: forwarded.headers,
          body: bodyJson(
            (() => {
              try {
                return JSON.parse(Buffer.from(forwarded.body).toString("utf8")) as unknown
              } catch {
                return undefined
              }
            })(),
            forwarded.body
          ),
          ms: forwarded.millis
        }
        : { url: report.target, error: forwarded.reason, ms: forwarded.millis }
    })
  })
}

// ---------------------------------------------------------------------------------------------
// The command
// ---------------------------------------------------------------------------------------------

/** Counts the summary adds to the receiver's. */
interface Counts {
  /** Attempts seen per delivery id, for `--fail-first`. */
  readonly attempts: HashMap.HashMap<string, number>
  readonly notSelected: number
  readonly failedOnPurpose: number
  readonly forwarded: number
  readonly forwardFailed: number
}

const initialCounts: Counts = { attempts: HashMap.empty(), notSelected: 0, failedOnPurpose: 0, forwarded: 0, forwardFailed: 0 }

/** Runs until interrupted; the receiver stops, and a summary is printed, when the scope closes. */
const listen = Effect.fn("WebhooksCommand.listen")(function*(assembly: Assembly, options: ListenOptions) {
  // The receiver's code is loaded when it starts: parsing a command line and help never pay for it.
  const [Event, ReceiverModule, WebhookConfigModule, GoDuration, WireContract, Redaction] = yield* Effect.promise(() =>
    Promise.all([
      import("../servo/Event.js"),
      import("../webhooks/Receiver.js"),
      import("../webhooks/WebhookConfig.js"),
      import("../servo/GoDuration.js"),
      import("../webhooks/WireContract.js"),
      import("../webhooks/internal/redaction.js")
    ])
  )
  const keys = yield* verificationKeys(assembly, options)
  const accepted = yield* parseSelectors(assembly, WebhookConfigModule, "--events", options.events)
  const cancelGiven = yield* parseSelectors(assembly, WebhookConfigModule, "--cancel-events", options.cancelEvents)
  if (cancelGiven !== undefined && Option.isNone(options.cancel)) {
    return yield* CliError.fail("--cancel-events chooses which events --cancel answers; give --cancel REASON too")
  }
  const cancelSelectors: ReadonlyArray<Event.Selector> = cancelGiven ?? accepted ??
    [{ preposition: "before", event: "*" } as Event.Selector]
  const target = Option.isSome(options.forwardTo) ? yield* parseForwardTarget(options.forwardTo.value) : undefined
  const broken = yield* breakage(GoDuration, options)
  const random = Random.make(broken.seed)
  const counts = yield* Ref.make(initialCounts)

  const matchesAny = (selectors: ReadonlyArray<Event.Selector>, event: string) => {
    const [preposition, name] = event.split(":") as [string, string | undefined]
    return name !== undefined &&
      selectors.some((selector) => Event.matches(selector, preposition as Event.Preposition, name))
  }
  const reason = options.cancel
  const shownTarget = target === undefined ? undefined : Redaction.redactUrl(target)
  const textResponse = (status: number, text: string) =>
    ReceiverModule.respond(status, { headers: { "content-type": "text/plain; charset=utf-8" }, body: `${text}\n` })

  const print = (report: Report) =>
    options.json
      ? Console.log(formatJson(Redaction.redactUrl, keys.redacted, report))
      : Console.log(
        formatText(ReceiverModule, WireContract.cancelContentType, Redaction.redactUrl, keys.redacted, options.verbose, report)
      )

  const decide = (request: Receiver.Request) =>
    Effect.gen(function*() {
      const receivedAt = new Date()
      const done = (decision: Receiver.Decision, extra: Partial<Omit<Report, "delivery">> = {}) => {
        // An answer after the sender's request timeout reaches no one: say so rather than imply it did.
        const late = request.hungUp?.() === true ? "too late: the sender had hung up" : undefined
        const note = extra.note === undefined ? late : late === undefined ? extra.note : `${extra.note}; ${late}`
        return Effect.as(
          print({
            delivery: { ...request, receivedAt, decision, status: ReceiverModule.statusOf(decision) },
            note,
            brief: extra.brief ?? false,
            forwarded: extra.forwarded,
            target: shownTarget
          }),
          decision
        )
      }

      if (accepted !== undefined && !matchesAny(accepted, request.event)) {
        yield* Ref.update(counts, (c) => ({ ...c, notSelected: c.notSelected + 1 }))
        return yield* done(textResponse(404, "servo webhooks listen: event not selected by --events"), {
          note: "not selected by --events",
          brief: true
        })
      }
      if (target !== undefined && keys.keys.length > 0 && request.signature._tag !== "Verified") {
        // Forwarding is for verified deliveries: the app would otherwise learn to trust forgeries.
        return yield* done(
          textResponse(401, `servo webhooks listen: not forwarded: ${ReceiverModule.formatSignature(request.signature)}`),
          { note: `not forwarded: ${ReceiverModule.formatSignature(request.signature)}`, brief: true }
        )
      }
      const attempt = yield* Ref.modify(counts, (c) => {
        const id = request.id ?? "(no id)"
        const n = Option.getOrElse(HashMap.get(c.attempts, id), () => 0) + 1
        return [n, { ...c, attempts: HashMap.set(c.attempts, id, n) }] as const
      })
      // Drawn for every attempt, so that a seed gives the same sequence whatever else is set.
      const draw = broken.failRate === undefined ? 1 : yield* random.next
      const failing = broken.always ||
        (broken.failFirst !== undefined && attempt <= broken.failFirst) ||
        (broken.failRate !== undefined && draw < broken.failRate)
      if (broken.delay !== undefined) yield* Effect.sleep(broken.delay)

      if (failing) {
        yield* Ref.update(counts, (c) => ({ ...c, failedOnPurpose: c.failedOnPurpose + 1 }))
        const why = broken.always ? `--status ${broken.status}` : `failing on purpose: attempt ${attempt}`
        return yield* done(
          broken.status === 204 ? ReceiverModule.respond(204) : textResponse(broken.status, `servo webhooks listen: ${why}`),
          { note: why }
        )
      }
      if (Option.isSome(reason) && matchesAny(cancelSelectors, request.event)) {
        return yield* done(ReceiverModule.cancel(reason.value))
      }
      if (target !== undefined) {
        const forwarded = yield* forward(target, request)
        yield* Ref.update(counts, (c) =>
          forwarded._tag === "Answered"
            ? { ...c, forwarded: c.forwarded + 1 }
            : { ...c, forwarded: c.forwarded + 1, forwardFailed: c.forwardFailed + 1 })
        return yield* done(
          forwarded._tag === "Answered"
            ? ReceiverModule.respond(forwarded.status, { headers: forwarded.headers, body: forwarded.body })
            : textResponse(502, `servo webhooks listen: could not forward to ${shownTarget}: ${forwarded.reason}`),
          { forwarded }
        )
      }
      return yield* done(ReceiverModule.accept)
    })

  const receiver = yield* ReceiverModule.make({
    port: options.port,
    host: options.host,
    keys: keys.keys,
    policy: decide
  }).pipe(Effect.mapError((error) => new CliError.CliError({ message: error.message })))

  // With --json, stdout is the deliveries alone (NDJSON): the rest goes to stderr.
  const banner = options.json ? Console.error : Console.log
  const base = target !== undefined ? `the answer of ${shownTarget} (forwarded)` : `${broken.always ? broken.status : 204}`
  yield* banner(
    [
      `listening on ${receiver.url} (Ctrl-C to stop)`,
      `  signatures: ${keysText(keys)}`,
      ...(accepted === undefined ? [] : [`  events:     ${accepted.map(Event.formatSelector).join(", ")} (others: 404)`]),
      `  answers:    ${
        Option.isSome(reason)
          ? `cancels ${cancelSelectors.map(Event.formatSelector).join(", ")} with ${JSON.stringify(reason.value)}, ${base} otherwise`
          : target !== undefined
          ? base
          : `${base} to every delivery`
      }`,
      ...breakageText(broken)
    ].join("\n")
  )
  yield* Effect.addFinalizer(() =>
    Effect.zipWith(receiver.stats, Ref.get(counts), (stats, c) =>
      `stopped: ${Format.count(stats.received, "delivery", "deliveries")} received ` +
      `(${stats.verified} verified, ${stats.invalid} invalid, ${stats.unsigned} unsigned, ${stats.unchecked} unchecked), ` +
      `${stats.cancelled} cancelled` +
      (accepted === undefined ? "" : `, ${c.notSelected} not selected`) +
      (broken.always || broken.failFirst !== undefined || broken.failRate !== undefined
        ? `, ${c.failedOnPurpose} failed on purpose`
        : "") +
      (target === undefined ? "" : `, ${c.forwarded} forwarded (${c.forwardFailed} could not be)`)).pipe(
        Effect.flatMap(banner)
      )
  )
  return yield* Effect.never
})

const selectorList = (name: string, description: string) =>
  Options.text(name).pipe(
    Options.withPseudoName("SELECTOR"),
    Options.withDescription(description),
    Options.repeated,
    Options.optional,
    Options.map(Option.filter((values) => values.length > 0))
  )

/**
 * The `listen` command; `assembly` (default: the bundled connectors) names the events `--events`
 * may select and reads `--config`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (assembly: AssemblyLoader = configOnlyAssembly) =>
  Command.make("listen", {
    port: Options.integer("port").pipe(
      Options.withAlias("p"),
      Options.withPseudoName("N"),
      Options.withDescription("The port to listen on (default: 8787); 0 picks a free one"),
      Options.withDefault(8787)
    ),
    host: Options.text("host").pipe(
      Options.withPseudoName("ADDRESS"),
      Options.withDescription("The address to bind (default: 127.0.0.1, which only this machine can reach)"),
      Options.withDefault("127.0.0.1")
    ),
    secretEnv: SecretOptions.fromEnvOption("secret", "a whsec_ secret (v1 signatures)"),
    secretFile: SecretOptions.fromFileOption("secret", "a whsec_ secret (v1 signatures)"),
    // Not Options.redacted(...).pipe(Options.repeated): @effect/cli 0.77 validates a single
    // repeated value twice, and the second pass refuses the Redacted the first one made.
    secret: Options.text("secret").pipe(
      Options.withPseudoName("whsec_..."),
      Options.withDescription(
        `A whsec_ secret to verify v1 signatures with (repeat for several, as during a rotation); ${
          SecretOptions.visibleOnCommandLine("secret")
        }`
      ),
      Options.repeated,
      Options.map(Arr.map((secret) => Redacted.make(secret)))
    ),
    publicKeyEnv: SecretOptions.fromEnvOption("public-key", "a whpk_ public key (v1a signatures)"),
    publicKeyFile: SecretOptions.fromFileOption("public-key", "a whpk_ public key (v1a signatures)"),
    publicKey: Options.text("public-key").pipe(
      Options.withPseudoName("whpk_..."),
      Options.withDescription("A whpk_ public key to verify v1a (Ed25519) signatures with (repeat for several)"),
      Options.repeated
    ),
    config: Options.file("config", { exists: "either" }).pipe(
      Options.withAlias("c"),
      Options.withPseudoName("FILE"),
      Options.withDescription(
        "Verify with the keys of the webhooks in this servo.yaml ({ env } and { file } secrets are read), and redact its secret headers"
      ),
      Options.optional
    ),
    webhook: Options.text("webhook").pipe(
      Options.withPseudoName("NAME"),
      Options.withDescription("Only this webhook's keys (from --config, default servo.yaml)"),
      Options.optional
    ),
    events: selectorList(
      "events",
      "Accept and show only these events (repeat, or separate with commas); the others get 404 and a dim line"
    ),
    cancel: Options.text("cancel").pipe(
      Options.withPseudoName("REASON"),
      Options.withDescription("Answer the events chosen by --cancel-events with a cancellation carrying this reason"),
      Options.optional
    ),
    cancelEvents: selectorList(
      "cancel-events",
      "Which events --cancel answers (repeat, or separate with commas). Default: the --events, else before:*"
    ),
    forwardTo: Options.text("forward-to").pipe(
      Options.withPseudoName("URL"),
      Options.withDescription(
        "Forward each delivery (verified, when keys are given) as it came to URL, and answer with the app's answer"
      ),
      Options.optional
    ),
    status: Options.integer("status").pipe(
      Options.withPseudoName("CODE"),
      Options.withDescription(
        "The status of a failure (default 503); alone, every delivery is answered with it"
      ),
      Options.optional
    ),
    delay: Options.text("delay").pipe(
      Options.withPseudoName("DURATION"),
      Options.withDescription("Wait this long before each answer (such as 1.5s; at most 1h), to exercise timeouts"),
      Options.optional
    ),
    failFirst: Options.integer("fail-first").pipe(
      Options.withPseudoName("N"),
      Options.withDescription("Fail the first N attempts of each delivery (by webhook-id), to exercise retries"),
      Options.optional
    ),
    failRate: Options.float("fail-rate").pipe(
      Options.withPseudoName("P"),
      Options.withDescription("Fail this fraction of attempts at random, from 0 to 1"),
      Options.optional
    ),
    seed: Options.integer("seed").pipe(
      Options.withPseudoName("N"),
      Options.withDescription("Seed --fail-rate, to fail the same attempts on every run (default: drawn and printed)"),
      Options.optional
    ),
    json: Options.boolean("json").pipe(
      Options.withDescription("Print one JSON object per delivery (NDJSON) on stdout, secret headers redacted")
    ),
    verbose: Options.boolean("verbose").pipe(
      Options.withAlias("v"),
      Options.withDescription("Print each delivery's path and headers too, secret headers redacted")
    )
  }, (options) =>
    Effect.zipRight(stopsOnSignal, Effect.flatMap(assembly, (loaded) => Effect.scoped(listen(loaded, options))))).pipe(
    Command.withDescription(
      "Run a local receiver for building responders: print each delivery as it arrives and answer it with 204, a cancellation (--cancel), the answer of your app (--forward-to), or a failure on purpose (--status, --delay, --fail-first, --fail-rate). Give keys with --secret-env VAR or --secret-file PATH (a literal --secret is visible to other local users in /proc/PID/cmdline), --public-key-env/-file, or --config: each delivery reads verified (v1), verified (v1a), INVALID (why) or unsigned. Ctrl-C stops it."
    )
  )

/**
 * @since 0.1.0
 * @category commands
 */
export const command = make()
