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
  readonly secret?: SecretRef
  readonly request_timeout: Duration.Duration
  readonly on_failure: "ignore" | "cancel"
  readonly backoff: Backoff | false
  readonly trace_propagation: boolean
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Header {
  readonly name: string
  readonly value: string
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
  readonly headers: ReadonlyArray<Header>
  readonly authentication: Authentication
  /** Signs each delivery per Standard Webhooks; absent, deliveries go unsigned. */
  readonly signingKeys: ReadonlyArray<Signature.SigningKey>
  readonly requestTimeout: Duration.Duration
  readonly onFailure: "ignore" | "cancel"
  /** Absent: one attempt, never retried (`backoff: false`). */
  readonly backoff?: Backoff
  readonly tracePropagation: boolean
}

/**
 * Reads every secret (environment variables, files) and checks signing secrets. Every problem is
 * reported at once, with its path under `section` (`webhooks[1].secret: environment variable
 * HOOK_SECRET is not set`), never with a value.
 *
 * @since 0.1.0
 * @category resolving
 */
export const resolve: (
  configs: ReadonlyArray<WebhookConfig>,
  options?: { readonly section?: string; readonly source?: string }
) => Effect.Effect<ReadonlyArray<Webhook>, InvalidConfig> = internal.resolve
