/**
 * The `webhooks:` section of servo.yaml: decoding (every problem at once, each with its path) and
 * start-up resolution of secrets into `Redacted` values.
 *
 * ```yaml
 * webhooks:
 *   - name: my_measure_handler
 *     event: after:measure
 *     target: https://example.com/webhooks
 *     headers: [{ name: x-some-header, value: some value }]
 *     authentication: { bearer_token: { env: HOOK_TOKEN } }
 *     secret: { env: HOOK_SECRET }
 *     backoff: { retries: 3, timeout: 5m }
 * ```
 *
 * The section may also be a mapping whose transport settings (`network`, `proxy`, `tls`,
 * `http2`) apply to every hook that does not set its own:
 *
 * ```yaml
 * webhooks:
 *   network: { deny_private: true }
 *   hooks:
 *     - { event: after:measure, target: https://example.com/webhooks, secret: [{ env: OLD }, { env: NEW }] }
 * ```
 *
 * Decoding is pure (`WebhooksConfig`, a declarative Schema that also encodes back and yields the
 * section's JSON Schema); reading environment variables and files happens once, at start-up, in
 * `resolve`. No message produced here ever contains a secret's value.
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import type * as Schema from "effect/Schema"
import { formatPath } from "../internal/issues.js"
import { type ConfigIssue, InvalidConfig } from "../servo/ConfigError.js"
import type * as Event from "../servo/Event.js"
import * as configSchema from "./internal/configSchema.js"
import * as ProxyEnvironment from "./internal/proxyEnvironment.js"
import * as HeaderRedaction from "./internal/headerRedaction.js"
import { redactUrl } from "./internal/redaction.js"
import { checkTls, isCertificateBundle, readSecret, refsOf, type Resolved } from "./internal/secrets.js"
import type { NetworkPolicy } from "./NetworkPolicy.js"
import * as Signature from "./Signature.js"

/**
 * Where a secret comes from: the literal text, an environment variable or a file (trimmed).
 *
 * @since 0.1.0
 * @category models
 */
export type SecretRef = string | { readonly env: string } | { readonly file: string }

/**
 * A decoded webhook, secrets not yet read. `name` defaults to its place in the list
 * (`webhooks[0]`); `event` and `events` are merged into `events`.
 *
 * @since 0.1.0
 * @category models
 */
export interface WebhookConfig {
  readonly name: string
  readonly description?: string
  readonly events: ReadonlyArray<Event.Selector>
  readonly target: string
  readonly headers: ReadonlyArray<Header>
  /** Exactly one of the two is set. */
  readonly authentication?: {
    readonly bearer_token?: SecretRef
    readonly basic?: { readonly username: string; readonly password: SecretRef }
  }
  /** `whsec_` secrets: every delivery carries one `v1` signature per secret (key rotation). */
  readonly secret?: SecretRef | ReadonlyArray<SecretRef>
  /** `whsk_` Ed25519 signing keys: one `v1a` signature each, beside any `v1`. */
  readonly signing_key?: SecretRef | ReadonlyArray<SecretRef>
  readonly tls?: TlsConfig
  /** A proxy URL (it may hold credentials, so it is a secret), or `false` for none. */
  readonly proxy?: SecretRef | false
  /** HTTP/2: ALPN `h2` over TLS, prior-knowledge h2c for `http:` targets. */
  readonly http2?: boolean
  readonly network?: NetworkPolicy
  readonly request_timeout: Duration.Duration
  readonly on_failure: "ignore" | "cancel"
  readonly backoff: Backoff | false
  readonly trace_propagation: boolean
  /** After attempts in flight at most; absent: the connector's default (half its workers). */
  readonly max_in_flight?: number
  /** The circuit breaker of after deliveries; absent: `defaults.breaker`; `false`: none. */
  readonly breaker?: Breaker | false
  /**
   * Where the entry sits in the section when it is not at `[index]` (`["hooks", 2]` in the
   * mapping form); `resolve` reports problems there.
   */
  readonly path?: ReadonlyArray<string | number>
}

/**
 * A configured header: a plain value, or a secret one (`secret: true`), whose value is a secret
 * ref and which is shown as `REDACTED` wherever a request is logged or listed.
 *
 * @since 0.1.0
 * @category models
 */
export type Header =
  | { readonly name: string; readonly value: string; readonly secret?: false }
  | { readonly name: string; readonly value: SecretRef; readonly secret: true }

/**
 * TLS towards an https receiver: a CA bundle to trust (instead of the system's), a client
 * certificate and key for mTLS, each PEM text given as a secret ref (usually `{ file: PATH }`).
 * `insecure_skip_verify` turns certificate verification off, and is warned about at start-up.
 *
 * @since 0.1.0
 * @category models
 */
export interface TlsConfig {
  readonly ca?: SecretRef
  readonly cert?: SecretRef
  readonly key?: SecretRef
  readonly insecure_skip_verify?: boolean
}

/**
 * Retries after the first attempt, and the deadline of the whole delivery, waits included.
 *
 * @since 0.1.0
 * @category models
 */
export interface Backoff {
  readonly retries: number
  readonly timeout: Duration.Duration
}

/**
 * A webhook's circuit breaker: after `failures` consecutive failed attempts its after deliveries
 * wait `cooldown` (doubling on each failed probe, up to 10 minutes), then one probe decides.
 *
 * @since 0.2.0
 * @category models
 */
export interface Breaker {
  readonly failures: number
  readonly cooldown: Duration.Duration
}

/**
 * The Schema of the `webhooks:` list, for an assembly's events.
 *
 * @since 0.1.0
 * @category schemas
 */
export const WebhooksConfig: (events: Event.Registry) => Schema.Schema<ReadonlyArray<WebhookConfig>, unknown> =
  configSchema.WebhooksConfig

/**
 * Reads a webhook's event selector the way servo.yaml does: `before:EVENT` or `after:EVENT`
 * (`*` for every event) against the known events. `on:EVENT` and bare names are refused, with
 * the reason; the error is the message to show.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseSelector: (input: string, events: Event.Registry) => Either.Either<Event.Selector, string> =
  configSchema.parseSelector

/**
 * @since 0.1.0
 * @category constants
 */
export const defaults: {
  readonly requestTimeout: Duration.Duration
  /** A before webhook's (and an entry's with a before event): short, as it blocks the event. */
  readonly backoff: Backoff
  /** An after webhook's: long enough to outlast a receiver's outage. */
  readonly afterBackoff: Backoff
  readonly breaker: Breaker
} = configSchema.defaults

/**
 * How a webhook authenticates to its receiver, secrets resolved.
 *
 * @since 0.1.0
 * @category models
 */
export type Authentication =
  | { readonly _tag: "None" }
  | { readonly _tag: "Bearer"; readonly token: Redacted.Redacted<string> }
  | { readonly _tag: "Basic"; readonly username: string; readonly password: Redacted.Redacted<string> }

/**
 * A webhook ready to deliver: everything decoded, every secret read and checked.
 *
 * @since 0.1.0
 * @category models
 */
export interface Webhook {
  readonly name: string
  readonly description?: string
  readonly events: ReadonlyArray<Event.Selector>
  readonly target: string
  /** Secret headers hold `Redacted` values. */
  readonly headers: ReadonlyArray<ResolvedHeader>
  readonly authentication: Authentication
  /**
   * Signs each delivery per Standard Webhooks, one entry per key (secrets first, then signing
   * keys); empty, deliveries go unsigned.
   */
  readonly signingKeys: ReadonlyArray<Signature.SigningKey>
  readonly requestTimeout: Duration.Duration
  readonly onFailure: "ignore" | "cancel"
  /** Absent: one attempt, never retried (`backoff: false`). */
  readonly backoff?: Backoff
  readonly tracePropagation: boolean
  /** After attempts in flight at most; absent: the connector's default. */
  readonly maxInFlight?: number
  /** Absent: no circuit breaker. */
  readonly breaker?: Breaker
  readonly tls?: Tls
  /** Absent: a direct connection. */
  readonly proxy?: Proxy
  readonly http2?: boolean
  readonly network?: NetworkPolicy
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ResolvedHeader {
  readonly name: string
  readonly value: string | Redacted.Redacted<string>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Tls {
  /** PEM CA certificates trusted instead of the system's. */
  readonly ca?: Redacted.Redacted<string>
  /** PEM client certificate chain and key, for mTLS. */
  readonly cert?: Redacted.Redacted<string>
  readonly key?: Redacted.Redacted<string>
  readonly insecureSkipVerify: boolean
}

/**
 * The proxy a webhook's deliveries go through, and where it came from: the config, or the
 * environment variable that named it (`HTTPS_PROXY`, `https_proxy`, `HTTP_PROXY`, `http_proxy`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Proxy {
  readonly url: Redacted.Redacted<string>
  readonly source: string
}

/**
 * A URL fit to show: userinfo, every query value and a fragment replaced by `REDACTED`
 * (`https://REDACTED:REDACTED@proxy:3128/`, `https://hooks.example.com/x?token=REDACTED`).
 * Text that is not a URL comes back as `REDACTED`.
 *
 * @since 0.1.0
 * @category redaction
 */
export const redactTarget = (url: string): string => redactUrl(url)

/**
 * A webhook's configured headers as they may be shown: secret headers, and `authorization`,
 * `proxy-authorization`, `cookie`, `set-cookie` and `x-api-key` whatever the config says, have the
 * value `REDACTED`. Works on a decoded config and on a resolved webhook.
 *
 * @since 0.1.0
 * @category redaction
 */
export const redactedHeaders: (
  webhook: { readonly headers: ReadonlyArray<Header | ResolvedHeader> }
) => ReadonlyArray<{ readonly name: string; readonly value: string }> = HeaderRedaction.redactedHeaders

/**
 * The names of a webhook's headers whose values are redacted in spans and logs: the secret
 * headers and the always-sensitive ones.
 *
 * @since 0.1.0
 * @category redaction
 */
export const redactedHeaderNames: (
  webhook: { readonly headers: ReadonlyArray<Header | ResolvedHeader> }
) => ReadonlyArray<string> = HeaderRedaction.redactedHeaderNames

/**
 * Reads every secret and checks signing secrets. Every problem is reported at once, with its path
 * under `section` (`webhooks[1].secret: environment variable HOOK_SECRET is not set`), never with
 * a value.
 *
 * `{ env: NAME }` and the proxy variables are read through `Config`, so the current
 * `ConfigProvider` decides where they come from (the process environment by default;
 * `Effect.withConfigProvider(ConfigProvider.fromMap(...))` in tests). `{ file: PATH }` is read
 * through the `FileSystem` in context (Node's when there is none), and only if it is a regular
 * file: a FIFO, a device or a directory is refused, and a read gets 10s at most. Bearer tokens and
 * secret header values that an HTTP header cannot carry (line breaks, control characters, text
 * beyond Latin-1) are refused here too.
 *
 * Signing keys, TLS material and proxy URLs are checked here too. A webhook without `proxy:`
 * takes its proxy from `HTTPS_PROXY` (https targets; falling back to `HTTP_PROXY`) or
 * `HTTP_PROXY` (http targets), lower-case names first, read now, unless `NO_PROXY` names its host
 * (`*`, a name and its subdomains, an address or a CIDR block, each with an optional `:port`) or
 * the host is loopback (`localhost`, `127.0.0.0/8`, `::1`), which is never proxied from the
 * environment.
 *
 * @since 0.1.0
 * @category resolving
 */
export const resolve = (
  configs: ReadonlyArray<WebhookConfig>,
  options: { readonly section?: string; readonly source?: string } = {}
): Effect.Effect<ReadonlyArray<Webhook>, InvalidConfig> =>
  Effect.flatMap(ProxyEnvironment.read, (environment) =>
    Effect.forEach(configs, (config, i) =>
      resolveOne(config, formatPath(config.path ?? [i], options.section ?? "webhooks"), environment))).pipe(
      Effect.flatMap((results) => {
        const issues = results.flatMap((result) => Either.isLeft(result) ? result.left : [])
        return issues.length > 0
          ? Effect.fail(new InvalidConfig({ source: options.source ?? "servo.yaml", issues }))
          : Effect.succeed(results.flatMap((result) => Either.isRight(result) ? [result.right] : []))
      })
    )

/**
 * The environment variable whose proxy a webhook without `proxy:` would take for `target`, read
 * now through `Config`: none when no variable is set, the host is loopback or `NO_PROXY` exempts
 * it. The value is not read into the answer (it may hold credentials).
 *
 * @since 0.1.0
 * @category resolving
 */
export const environmentProxyVariable: (target: string) => Effect.Effect<string | undefined> =
  ProxyEnvironment.environmentProxyVariable

const resolveOne = (config: WebhookConfig, at: string, environment: ProxyEnvironment.ProxyEnvironment) =>
  Effect.gen(function*() {
    const issues: Array<ConfigIssue> = []
    const take = <A>(resolved: Resolved<A>): A | undefined => {
      if (Either.isLeft(resolved)) {
        issues.push(resolved.left)
        return undefined
      }
      return resolved.right
    }
    let authentication: Authentication = { _tag: "None" }
    if (config.authentication?.bearer_token !== undefined) {
      const path = `${at}.authentication.bearer_token`
      const token = take(yield* readSecret(config.authentication.bearer_token, path))
      // The token goes into the Authorization header: what a header cannot carry is refused now.
      const problem = token === undefined ? undefined : configSchema.headerValueProblem(Redacted.value(token))
      if (problem !== undefined) issues.push({ path, message: problem })
      else if (token !== undefined) authentication = { _tag: "Bearer", token }
    } else if (config.authentication?.basic !== undefined) {
      const { password: ref, username } = config.authentication.basic
      const password = take(yield* readSecret(ref, `${at}.authentication.basic.password`))
      if (password !== undefined) authentication = { _tag: "Basic", username, password }
    }

    const headers: Array<ResolvedHeader> = []
    for (const [i, header] of config.headers.entries()) {
      if (header.secret !== true) {
        headers.push({ name: header.name, value: header.value })
        continue
      }
      const path = `${at}.headers[${i}].value`
      const value = take(yield* readSecret(header.value, path))
      if (value === undefined) continue
      const problem = configSchema.headerValueProblem(Redacted.value(value))
      if (problem !== undefined) issues.push({ path, message: problem })
      else headers.push({ name: header.name, value })
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

    let tlsSettings: Tls | undefined
    if (config.tls !== undefined) {
      const tls = config.tls
      const read = (field: "ca" | "cert" | "key") =>
        tls[field] === undefined ? Effect.succeed(undefined) : Effect.map(readSecret(tls[field]!, `${at}.tls.${field}`), take)
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
        insecureSkipVerify: tls.insecure_skip_verify === true
      }
    }

    let proxy: Proxy | undefined
    if (config.proxy === undefined) {
      const found = ProxyEnvironment.proxyFor(config.target, environment)
      if (Either.isLeft(found)) issues.push({ path: `${at}.proxy`, message: found.left.message })
      else proxy = found.right
    } else if (config.proxy !== false) {
      const url = take(yield* readSecret(config.proxy, `${at}.proxy`))
      const problem = url === undefined ? undefined : ProxyEnvironment.checkProxyUrl(Redacted.value(url))
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
      breaker,
      headers: __,
      max_in_flight,
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
    const webhook: Webhook = {
      ...rest,
      headers,
      authentication,
      signingKeys,
      requestTimeout: request_timeout,
      onFailure: on_failure,
      ...(backoff === false ? {} : { backoff }),
      tracePropagation: trace_propagation,
      ...(max_in_flight === undefined ? {} : { maxInFlight: max_in_flight }),
      ...(breaker === false ? {} : { breaker: breaker ?? defaults.breaker }),
      ...(tlsSettings === undefined ? {} : { tls: tlsSettings }),
      ...(proxy === undefined ? {} : { proxy }),
      ...(http2 === true ? { http2 } : {}),
      ...(network === undefined ? {} : { network })
    }
    return issues.length > 0 ? Either.left(issues) : Either.right(webhook)
  })
