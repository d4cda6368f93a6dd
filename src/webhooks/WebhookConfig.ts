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
 * Decoding is pure (`WebhooksConfig`); reading environment variables and files happens once, at
 * start-up, in `resolve`. No message produced here ever contains a secret's value.
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Either from "effect/Either"
import type * as Redacted from "effect/Redacted"
import type * as Schema from "effect/Schema"
import type { InvalidConfig } from "../servo/ConfigError.js"
import type * as Event from "../servo/Event.js"
import * as internal from "./internal/webhookConfig.js"
import type { NetworkPolicy } from "./NetworkPolicy.js"
import type * as Signature from "./Signature.js"

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
 * The Schema of the `webhooks:` list, for an assembly's events.
 *
 * @since 0.1.0
 * @category schemas
 */
export const WebhooksConfig: (events: Event.Registry) => Schema.Schema<ReadonlyArray<WebhookConfig>, unknown> =
  internal.WebhooksConfig

/**
 * Reads a webhook's event selector the way servo.yaml does: `before:EVENT` or `after:EVENT`
 * (`*` for every event) against the known events. `on:EVENT` and bare names are refused, with
 * the reason; the error is the message to show.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseSelector: (input: string, events: Event.Registry) => Either.Either<Event.Selector, string> =
  internal.parseSelector

/**
 * @since 0.1.0
 * @category constants
 */
export const defaults: {
  readonly requestTimeout: Duration.Duration
  readonly backoff: Backoff
} = internal.defaults

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
export const redactTarget: (url: string) => string = internal.redactTarget

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
) => ReadonlyArray<{ readonly name: string; readonly value: string }> = internal.redactedHeaders

/**
 * The names of a webhook's headers whose values are redacted in spans and logs: the secret
 * headers and the always-sensitive ones.
 *
 * @since 0.1.0
 * @category redaction
 */
export const redactedHeaderNames: (
  webhook: { readonly headers: ReadonlyArray<Header | ResolvedHeader> }
) => ReadonlyArray<string> = internal.redactedHeaderNames

/**
 * Reads every secret (environment variables, files) and checks signing secrets. Every problem is
 * reported at once, with its path under `section` (`webhooks[1].secret: environment variable
 * HOOK_SECRET is not set`), never with a value.
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
export const resolve: (
  configs: ReadonlyArray<WebhookConfig>,
  options?: { readonly section?: string; readonly source?: string }
) => Effect.Effect<ReadonlyArray<Webhook>, InvalidConfig> = internal.resolve
