/**
 * How a webhook's requests travel: TLS settings (a CA, a client certificate), a proxy, HTTP/2 and
 * the network policy (the SSRF guard), all from its config.
 *
 * A webhook that sets none of them keeps the `HttpClient` in context, so a host's own client
 * Layer still carries its deliveries. Any other webhook gets an `UndiciHttpClient` over a
 * dispatcher built for its settings, one dispatcher per distinct settings (webhooks that share a
 * proxy share its connections), closed with the scope:
 *
 * - **TLS**: `ca` replaces the system's trusted CAs, `cert` + `key` present a client certificate;
 *   certificates are verified unless `insecure_skip_verify`.
 * - **Proxy**: an undici `ProxyAgent`; every request, `http:` or `https:`, goes through a
 *   `CONNECT` tunnel, and TLS to the receiver runs inside it.
 * - **HTTP/2**: ALPN `h2` over TLS (`allowH2`), prior-knowledge h2c for `http:` targets
 *   (`buildConnector({ useH2c: true })`).
 * - **Network policy**: checked when each connection opens, on every address the name resolved
 *   to, and on the peer the socket reached; literal addresses are checked before connecting.
 *   Through a proxy (which resolves and connects itself) the target is resolved and checked
 *   before each request instead.
 *
 * Names are resolved by the {@link Resolver} (the system's `dns.lookup` unless replaced), so
 * tests, and hosts with resolvers of their own, need no real DNS.
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { Dispatcher } from "undici"
import * as internal from "./internal/transport.js"
import type { NetworkPolicy } from "./NetworkPolicy.js"
import type { Proxy, Tls, Webhook } from "./WebhookConfig.js"

/**
 * Resolves a host name to its addresses (IPv4 and IPv6, as text). Rejections are connection
 * errors (an error with `code: "ENOTFOUND"` is a final "host not found").
 *
 * @since 0.1.0
 * @category models
 */
export type Resolve = (hostname: string) => Promise<ReadonlyArray<string>>

/**
 * The resolver transports use: `dns.lookup` (all addresses, in the system's order) unless
 * provided, e.g. `Effect.provideService(Transport.Resolver, (host) => ...)` or
 * `Layer.succeed(Transport.Resolver, ...)` beside the connector.
 *
 * @since 0.1.0
 * @category references
 */
export class Resolver extends Context.Reference<Resolver>()("servo-webhooks/Transport/Resolver", {
  defaultValue: (): Resolve => internal.systemResolve
}) {}

/**
 * A webhook's transport settings, resolved.
 *
 * @since 0.1.0
 * @category models
 */
export interface Settings {
  readonly tls?: Tls
  readonly proxy?: Proxy
  readonly http2: boolean
  /** Present only when it denies something. */
  readonly network?: NetworkPolicy
}

/**
 * Clients per webhook, sharing one dispatcher per distinct settings.
 *
 * @since 0.1.0
 * @category models
 */
export interface Transports {
  /**
   * The client a webhook's deliveries go through: the `HttpClient` in context for default
   * settings, otherwise one built for its settings. Either way its spans redact the webhook's
   * secret headers.
   */
  readonly clientFor: (webhook: Webhook) => Effect.Effect<HttpClient.HttpClient, never, HttpClient.HttpClient>
  /** How many dispatchers have been built so far. */
  readonly dispatchers: () => number
}

/**
 * @since 0.1.0
 * @category accessors
 */
export const settingsOf: (webhook: Webhook) => Settings = internal.settingsOf

/**
 * Whether these settings need nothing of their own (the client in context serves them).
 *
 * @since 0.1.0
 * @category predicates
 */
export const isDefault: (settings: Settings) => boolean = internal.isDefault

/**
 * An undici dispatcher for the settings, destroyed when the scope closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeDispatcher: (settings: Settings) => Effect.Effect<Dispatcher, never, Scope.Scope> =
  internal.makeDispatcher(Resolver)

/**
 * The transports of a connector; dispatchers live as long as the scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Transports, never, Scope.Scope> = internal.make(Resolver)
