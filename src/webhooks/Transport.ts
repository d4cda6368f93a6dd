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
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpTraceContext from "@effect/platform/HttpTraceContext"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import * as crypto from "node:crypto"
import * as dns from "node:dns"
import * as net from "node:net"
import { Agent, buildConnector, type Dispatcher, ProxyAgent } from "undici"
import { findCause } from "./internal/errors.js"
import * as NetworkPolicy from "./NetworkPolicy.js"
import * as UndiciHttpClient from "./UndiciHttpClient.js"
import type { Proxy, Tls, Webhook } from "./WebhookConfig.js"

// ---------------------------------------------------------------------------------------------
// Name resolution, injectable.
// ---------------------------------------------------------------------------------------------

/**
 * Resolves a host name to its addresses (IPv4 and IPv6, as text). Rejections are connection
 * errors (an error with `code: "ENOTFOUND"` is a final "host not found").
 */
export type Resolve = (hostname: string) => Promise<ReadonlyArray<string>>

const systemResolve: Resolve = (hostname) =>
  dns.promises.lookup(hostname, { all: true, verbatim: true }).then((entries) => entries.map((entry) => entry.address))

/**
 * The resolver transports use: `dns.lookup` (all addresses, in the system's order) unless
 * provided, e.g. `Effect.provideService(Transport.Resolver, (host) => ...)` or
 * `Layer.succeed(Transport.Resolver, ...)` beside the connector.
 */
export class Resolver extends Context.Reference<Resolver>()("servo-webhooks/Transport/Resolver", {
  defaultValue: (): Resolve => systemResolve
}) {}

// ---------------------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------------------

/** A webhook's transport settings, resolved. */
export interface Settings {
  readonly tls?: Tls
  readonly proxy?: Proxy
  readonly http2: boolean
  /** Present only when it denies something. */
  readonly network?: NetworkPolicy.NetworkPolicy
}

/** Clients per webhook, sharing one dispatcher per distinct settings. */
export interface Transports {
  /**
   * The client a webhook's deliveries go through: the `HttpClient` in context for default
   * settings, otherwise one built for its settings. Either way its spans redact the webhook's
   * secret headers; a client in context that is not an `UndiciHttpClient` makes no client span
   * for a webhook with trace propagation (see `spanless`).
   */
  readonly clientFor: (webhook: Webhook) => Effect.Effect<HttpClient.HttpClient, never, HttpClient.HttpClient>
  /** How many dispatchers have been built so far. */
  readonly dispatchers: () => number
}

export const settingsOf = (webhook: Webhook): Settings => ({
  ...(webhook.tls === undefined ? {} : { tls: webhook.tls }),
  ...(webhook.proxy === undefined ? {} : { proxy: webhook.proxy }),
  http2: webhook.http2 === true,
  ...(webhook.network === undefined || !webhook.network.denyPrivate ? {} : { network: webhook.network })
})

/** Whether these settings need nothing of their own (the client in context serves them). */
export const isDefault = (settings: Settings): boolean =>
  settings.tls === undefined && settings.proxy === undefined && !settings.http2 && settings.network === undefined

/** Identifies equal settings without keeping any secret in the key: secrets are hashed. */
const keyOf = (settings: Settings): string => {
  const hash = crypto.createHash("sha256")
  const add = (label: string, value: string | Redacted.Redacted<string> | undefined) => {
    const text = value === undefined ? "" : Redacted.isRedacted(value) ? Redacted.value(value) : value
    hash.update(`${label}:${text.length}:`).update(text)
  }
  add("ca", settings.tls?.ca)
  add("cert", settings.tls?.cert)
  add("key", settings.tls?.key)
  add("insecure", String(settings.tls?.insecureSkipVerify === true))
  add("proxy", settings.proxy?.url)
  add("http2", String(settings.http2))
  add("network", settings.network === undefined ? undefined : NetworkPolicy.describe(settings.network))
  return hash.digest("base64")
}

// ---------------------------------------------------------------------------------------------
// The guarded connector: the network policy, checked when a connection opens.
// ---------------------------------------------------------------------------------------------

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | Array<dns.LookupAddress>, family?: number) => void

const notFound = (hostname: string): NodeJS.ErrnoException =>
  Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND", hostname })

/**
 * `net.connect`'s `lookup`: resolves with `resolve`, then refuses the connection when any address
 * the name resolved to is denied, before a packet is sent to any of them.
 */
const guardedLookup = (policy: NetworkPolicy.NetworkPolicy, resolve: Resolve) =>
(hostname: string, options: { readonly family?: number | string; readonly all?: boolean }, callback: LookupCallback) => {
  resolve(hostname).then(
    (addresses) => {
      const family = options.family === "IPv4" ? 4 : options.family === "IPv6" ? 6 : options.family
      const wanted = family === 4 || family === 6 ? addresses.filter((address) => net.isIP(address) === family) : addresses
      if (wanted.length === 0) return callback(notFound(hostname), "")
      const refusal = NetworkPolicy.checkAll(policy, addresses, hostname)
      if (refusal !== undefined) return callback(refusal as unknown as NodeJS.ErrnoException, "")
      return options.all === true
        ? callback(null, wanted.map((address) => ({ address, family: net.isIP(address) })))
        : callback(null, wanted[0]!, net.isIP(wanted[0]!))
    },
    (error: NodeJS.ErrnoException) => callback(error, "")
  )
}

const guard = (
  options: buildConnector.BuildOptions,
  policy: NetworkPolicy.NetworkPolicy | undefined,
  resolve: Resolve
): buildConnector.connector => {
  if (policy === undefined) return buildConnector(options)
  const connect = buildConnector({ ...options, lookup: guardedLookup(policy, resolve) } as buildConnector.BuildOptions)
  return (target, callback) => {
    // A literal address (the URL parser has already turned 0x7f.1 and 2130706433 into
    // 127.0.0.1) is never looked up: check it here.
    if (net.isIP(target.hostname) !== 0) {
      const refusal = NetworkPolicy.check(policy, target.hostname)
      if (refusal !== undefined) {
        process.nextTick(callback, refusal, null)
        return
      }
    }
    connect(target, (error, socket) => {
      if (error !== null) return callback(error, null)
      // Belt and braces: the peer the socket really reached.
      const remote = socket.remoteAddress
      const refusal = remote === undefined ? undefined : NetworkPolicy.check(policy, remote, target.hostname)
      if (refusal !== undefined) {
        socket.destroy()
        return callback(refusal, null)
      }
      return callback(null, socket)
    })
  }
}

// ---------------------------------------------------------------------------------------------
// Dispatchers
// ---------------------------------------------------------------------------------------------

const tlsOptions = (tls: Tls | undefined) =>
  tls === undefined ? {} : {
    ...(tls.ca === undefined ? {} : { ca: Redacted.value(tls.ca) }),
    ...(tls.cert === undefined ? {} : { cert: Redacted.value(tls.cert) }),
    ...(tls.key === undefined ? {} : { key: Redacted.value(tls.key) }),
    rejectUnauthorized: !tls.insecureSkipVerify
  }

const noop = () => {}

/** An undici dispatcher for the settings, destroyed when the scope closes. */
export const makeDispatcher = (settings: Settings): Effect.Effect<Dispatcher, never, Scope.Scope> =>
  Effect.flatMap(Resolver, (resolve) =>
    Effect.acquireRelease(
      Effect.sync((): Dispatcher => {
        const h2 = settings.http2 ? { allowH2: true } : {}
        const base = { connections: UndiciHttpClient.defaultConnections, pipelining: 1, ...h2 }
        if (settings.proxy !== undefined) {
          // The proxy opens the connection to the receiver: TLS to the receiver goes in
          // requestTls, through the tunnel. The proxy's own address is the operator's choice and
          // is not subject to the network policy (the target is checked before each request).
          return new ProxyAgent({
            ...base,
            uri: Redacted.value(settings.proxy.url),
            requestTls: { ...tlsOptions(settings.tls), ...h2 }
          })
        }
        // useH2c: prior-knowledge HTTP/2 on plain connections. Agent and Pool drop a bare
        // `useH2c` option silently; only the connector honours it.
        const connector = { ...tlsOptions(settings.tls), ...h2, ...(settings.http2 ? { useH2c: true } : {}) }
        return new Agent({ ...base, connect: guard(connector as buildConnector.BuildOptions, settings.network, resolve) })
      }),
      (dispatcher) => Effect.promise(() => dispatcher.destroy().then(noop, noop))
    ))

// ---------------------------------------------------------------------------------------------
// A proxy's refusal
// ---------------------------------------------------------------------------------------------

/**
 * undici's errors for a proxy that did not open the tunnel carry its status in their message
 * only: "Proxy response (407) !== 200 when HTTP Tunneling" (`CONNECT`), and "Proxy
 * Authentication Required (407)" (a proxy forwarding plain requests).
 */
const proxyAnswers: ReadonlyArray<RegExp> = [
  /^Proxy response \((\d{3})\) !== 200 when HTTP Tunneling$/,
  /^Proxy Authentication Required \((407)\)$/
]

/**
 * The status a proxy refused a request with (`407`: it wants credentials, or other ones), read
 * from the cause of a failed request; `undefined` when the proxy is not what failed.
 */
export const proxyRefusal = (cause: unknown): number | undefined => {
  let status: number | undefined
  findCause(cause, (error): error is Error => {
    if (!(error instanceof Error)) return false
    for (const answer of proxyAnswers) {
      const match = answer.exec(error.message)
      if (match !== null) status = Number(match[1])
    }
    return status !== undefined
  })
  return status
}

// ---------------------------------------------------------------------------------------------
// Clients per webhook
// ---------------------------------------------------------------------------------------------

const findRefusal = (cause: unknown): NetworkPolicy.NetworkPolicyError | undefined =>
  findCause(cause, (error): error is NetworkPolicy.NetworkPolicyError => error instanceof NetworkPolicy.NetworkPolicyError)

/** A refusal names the webhook it refused. */
const nameRefusals = (webhook: string) =>
  HttpClient.transformResponse(Effect.mapError((error: HttpClientError.HttpClientError) => {
    if (error._tag !== "RequestError") return error
    const refusal = findRefusal(error.cause)
    if (refusal === undefined) return error
    const named = new NetworkPolicy.NetworkPolicyError({ ...refusal, webhook })
    return new HttpClientError.RequestError({ request: error.request, reason: "Transport", cause: named, description: named.message })
  }))

/**
 * Through a proxy, the proxy resolves and connects: the target is checked before the request
 * is handed to it (with our resolver; a name the proxy would resolve differently is the
 * proxy's to police).
 */
const preflight = (policy: NetworkPolicy.NetworkPolicy, resolve: Resolve) =>
  HttpClient.mapRequestEffect((request) => {
    const hostname = new URL(request.url).hostname.replace(/^\[(.*)\]$/, "$1")
    const refuse = (cause: unknown) =>
      Effect.fail(new HttpClientError.RequestError({ request, reason: "Transport", cause, description: String((cause as Error).message) }))
    if (net.isIP(hostname) !== 0) {
      const refusal = NetworkPolicy.check(policy, hostname)
      return refusal === undefined ? Effect.succeed(request) : refuse(refusal)
    }
    return Effect.tryPromise({ try: () => resolve(hostname), catch: (error) => error }).pipe(
      Effect.matchEffect({
        onFailure: refuse,
        onSuccess: (addresses) => {
          if (addresses.length === 0) return refuse(notFound(hostname))
          const refusal = NetworkPolicy.checkAll(policy, addresses, hostname)
          return refusal === undefined ? Effect.succeed(request) : refuse(refusal)
        }
      })
    )
  })

/**
 * Another client's span cannot be trusted with a webhook's secrets: `HttpClient.make`'s shows
 * the URL's query values, and the error its span ends with holds the whole request (every
 * header). Through such a client a webhook that propagates traces gets no client span; its
 * `traceparent` and `b3` headers name the span the request runs under (the delivery's).
 */
const spanless = (client: HttpClient.HttpClient): HttpClient.HttpClient =>
  client.pipe(
    HttpClient.mapRequestEffect((request) =>
      Effect.map(
        Effect.option(Effect.currentSpan),
        (span) => Option.isSome(span) ? HttpClientRequest.setHeaders(request, HttpTraceContext.toHeaders(span.value)) : request
      )
    ),
    HttpClient.withTracerDisabledWhen(() => true)
  )

/** The transports of a connector; dispatchers live as long as the scope. */
export const make: Effect.Effect<Transports, never, Scope.Scope> = Effect.gen(function*() {
  const scope = yield* Effect.scope
  const resolve = yield* Resolver
  const dispatchers = new Map<string, Dispatcher>()

  const dispatcherFor = (settings: Settings) =>
    Effect.suspend(() => {
      const key = keyOf(settings)
      const found = dispatchers.get(key)
      if (found !== undefined) return Effect.succeed(found)
      return makeDispatcher(settings).pipe(
        Effect.provideService(Resolver, resolve),
        Scope.extend(scope),
        Effect.tap((dispatcher) => Effect.sync(() => dispatchers.set(key, dispatcher)))
      )
    })

  const clientFor = (webhook: Webhook): Effect.Effect<HttpClient.HttpClient, never, HttpClient.HttpClient> =>
    Effect.gen(function*() {
      const settings = settingsOf(webhook)
      let client: HttpClient.HttpClient
      if (isDefault(settings)) {
        client = yield* HttpClient.HttpClient
        if (webhook.tracePropagation && UndiciHttpClient.executeWithin(client) === undefined) client = spanless(client)
      } else {
        client = UndiciHttpClient.makeWithDispatcher(yield* dispatcherFor(settings))
        if (settings.network !== undefined) {
          if (settings.proxy !== undefined) client = client.pipe(preflight(settings.network, resolve))
          client = client.pipe(nameRefusals(webhook.name))
        }
      }
      return client
    })

  return { clientFor, dispatchers: () => dispatchers.size } satisfies Transports
})
