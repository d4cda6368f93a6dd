/**
 * Transport end to end, against real local servers: the network policy (SSRF guard), TLS and
 * mTLS with a CA made in the test, proxies (a counting CONNECT proxy) and HTTP/2 (h2, h2c).
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import { beforeAll, describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as CoreEvents from "../src/servo/CoreEvents.js"
import * as EventBus from "../src/servo/EventBus.js"
import * as Webhooks from "../src/webhooks/Webhooks.js"
import * as Delivery from "../src/webhooks/Delivery.js"
import * as Transport from "../src/webhooks/Transport.js"
import * as WebhookConfig from "../src/webhooks/WebhookConfig.js"
import { makePki, type Pki } from "./support/pki.js"
import { ok, receiver, status } from "./support/receiver.js"
import { connectProxy, h2cServer, h2Server, httpsServer } from "./support/servers.js"
import { configs, uniqueName } from "./support/servo.js"

const body = new TextEncoder().encode(`{"id":"msg_transport"}`)
const message: Delivery.Message = { id: "msg_transport", event: "after:measure", body }

/** No test may reach real DNS: an unknown name is "not found". */
const fakeDns = (table: Record<string, ReadonlyArray<string>> = {}): Transport.Resolve => (hostname) =>
  table[hostname] !== undefined
    ? Promise.resolve(table[hostname]!)
    : Promise.reject(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" }))

/**
 * The environment resolve reads (proxy variables, `{ env }` secrets), through a ConfigProvider:
 * names like hook.test are not loopback, so a proxy in the machine's environment would take them;
 * this file never reads nor changes the process environment.
 */
const withEnvironment = (variables: Record<string, string> = {}) =>
  Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(variables))))

const webhookOf = (config: Record<string, unknown>, environment?: Record<string, string>) =>
  WebhookConfig.resolve(configs([{ name: "guarded", event: "after:measure", backoff: false, ...config }])).pipe(
    Effect.map(([webhook]) => webhook!),
    withEnvironment(environment)
  )

/** One sender for the config, over the transports; `send` as often as needed. */
const senderFor = (
  config: Record<string, unknown>,
  resolve: Transport.Resolve = fakeDns(),
  environment?: Record<string, string>
) =>
  Effect.gen(function*() {
    const webhook = yield* webhookOf(config, environment)
    const transports = yield* Transport.make
    // The client in context lives as long as the test's scope, like the transports.
    const context = yield* Layer.build(NodeHttpClient.layerUndici)
    const client = yield* Effect.provide(transports.clientFor(webhook), context)
    return yield* Delivery.makeSender(webhook, { client }).pipe(Effect.provide(context))
  }).pipe(Effect.provideService(Transport.Resolver, resolve))

const deliver = (config: Record<string, unknown>, resolve?: Transport.Resolve, environment?: Record<string, string>) =>
  Effect.flatMap(senderFor(config, resolve, environment), (sender) => sender.send(message))

const denyPrivate = (...allow: ReadonlyArray<string>) => ({ deny_private: true, ...(allow.length > 0 ? { allow } : {}) })

let pki: Pki
let otherPki: Pki
beforeAll(async () => {
  ;[pki, otherPki] = await Promise.all([makePki(), makePki()])
})

describe("Transport: the network policy refuses private addresses at connect time", () => {
  it.scopedLive("every spelling of loopback is refused, once, without retries, and the receiver is never reached", () =>
    Effect.gen(function*() {
      const server = yield* receiver(ok)
      const spellings = [
        `http://127.0.0.1:${server.port}/hook`,
        `http://0x7f.1:${server.port}/hook`,
        `http://2130706433:${server.port}/hook`,
        `http://0177.0.0.1:${server.port}/hook`,
        `http://[::ffff:127.0.0.1]:${server.port}/hook`,
        `http://[::1]:${server.port}/hook`
      ]
      for (const target of spellings) {
        const outcome = yield* deliver({ target, network: denyPrivate(), backoff: { retries: 3 } })
        expect(outcome._tag).toBe("Failed")
        expect(outcome.attempts).toBe(1)
        expect((outcome as Delivery.Failed).reason).toMatch(
          /^webhook guarded: refused (127\.0\.0\.1|::ffff:7f00:1|::1) \(loopback\): the network policy denies private addresses$/
        )
      }
      expect(server.connections()).toBe(0)
    }))

  it.scopedLive("a name is refused when any address it resolves to is private, before connecting to any", () =>
    Effect.gen(function*() {
      const dns = fakeDns({
        "mixed.test": ["93.184.216.34", "10.1.2.3"],
        "metadata.test": ["169.254.169.254"],
        "cgnat.test": ["100.64.0.1"],
        "ula.test": ["fd00::1"]
      })
      const reasons: Array<string> = []
      for (const host of ["mixed.test", "metadata.test", "cgnat.test", "ula.test"]) {
        const outcome = yield* deliver({ target: `http://${host}/hook`, network: denyPrivate(), backoff: { retries: 2 } }, dns)
        expect(outcome.attempts).toBe(1)
        reasons.push((outcome as Delivery.Failed).reason)
      }
      expect(reasons).toEqual([
        "webhook guarded: refused 10.1.2.3 (private) for mixed.test: the network policy denies private addresses",
        "webhook guarded: refused 169.254.169.254 (link-local) for metadata.test: the network policy denies private addresses",
        "webhook guarded: refused 100.64.0.1 (CGNAT) for cgnat.test: the network policy denies private addresses",
        "webhook guarded: refused fd00::1 (private) for ula.test: the network policy denies private addresses"
      ])
    }))

  it.scopedLive("allow punches a hole; a name that re-resolves elsewhere (DNS rebinding) is refused on its next connection", () =>
    Effect.gen(function*() {
      // The receiver closes every connection, so each delivery connects (and resolves) again.
      const server = yield* receiver(status(200, { connection: "close" }, "ok"))
      const answers = [["127.0.0.1"], ["127.0.0.2"]]
      let lookups = 0
      const rebinding: Transport.Resolve = (hostname) =>
        hostname === "rebind.test" ? Promise.resolve(answers[Math.min(lookups++, 1)]!) : fakeDns()(hostname)
      const sender = yield* senderFor(
        { target: `http://rebind.test:${server.port}/hook`, network: denyPrivate("127.0.0.1/32") },
        rebinding
      )
      const first = yield* sender.send(message)
      const second = yield* sender.send(message)
      expect(first._tag).toBe("Delivered")
      expect(server.requests[0]!.headers.host).toBe(`rebind.test:${server.port}`)
      expect(second).toMatchObject({
        _tag: "Failed",
        attempts: 1,
        reason: "webhook guarded: refused 127.0.0.2 (loopback) for rebind.test: the network policy denies private addresses"
      })
      expect(server.requests).toHaveLength(1)
      expect(lookups).toBe(2)
    }))

  it.scopedLive("without deny_private, or with the address allowed, deliveries go through", () =>
    Effect.gen(function*() {
      const server = yield* receiver(ok)
      expect((yield* deliver({ target: server.url, network: { deny_private: false } }))._tag).toBe("Delivered")
      expect((yield* deliver({ target: server.url, network: denyPrivate("127.0.0.0/8") }))._tag).toBe("Delivered")
      expect(server.requests).toHaveLength(2)
    }))

  it.scopedLive("through a proxy the target is checked before the request reaches the proxy, whose own address is exempt", () =>
    Effect.gen(function*() {
      const server = yield* receiver(ok)
      const proxy = yield* connectProxy()
      const dns = fakeDns({ "internal.test": ["10.0.0.7"], "public.test": ["93.184.216.34"] })
      const refused = yield* deliver(
        { target: `http://internal.test:${server.port}/hook`, proxy: proxy.url(), network: denyPrivate() },
        dns
      )
      expect(refused).toMatchObject({
        _tag: "Failed",
        attempts: 1,
        reason: "webhook guarded: refused 10.0.0.7 (private) for internal.test: the network policy denies private addresses"
      })
      expect(proxy.tunnels).toHaveLength(0)
      // public.test resolves (here) to a public address; the proxy (on loopback) maps *.test to
      // the local receiver.
      const delivered = yield* deliver(
        { target: `http://public.test:${server.port}/hook`, proxy: proxy.url(), network: denyPrivate() },
        dns
      )
      expect(delivered._tag).toBe("Delivered")
      expect(proxy.tunnels.map((tunnel) => tunnel.authority)).toEqual([`public.test:${server.port}`])
      expect(server.requests).toHaveLength(1)
    }))
})

describe("Transport: TLS", () => {
  it.scopedLive("a custom CA verifies the receiver; without it, or with another CA, the handshake fails", () =>
    Effect.gen(function*() {
      const server = yield* httpsServer(pki.server)
      const trusted = yield* deliver({ target: server.url(), tls: { ca: pki.ca } })
      expect(trusted._tag).toBe("Delivered")
      expect(server.hits[0]!.body.toString()).toBe(`{"id":"msg_transport"}`)
      expect(server.hits[0]!.httpVersion).toBe("1.1")

      // No tls: the client in context, with the system's CAs.
      const untrusted = yield* deliver({ target: server.url() })
      expect(untrusted._tag).toBe("Failed")
      const wrongCa = yield* deliver({ target: server.url(), tls: { ca: otherPki.ca } })
      expect(wrongCa._tag).toBe("Failed")
      expect((wrongCa as Delivery.Failed).reason).toMatch(/transport error \((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)\)/)
      expect(server.hits).toHaveLength(1)
    }))

  it.scopedLive("insecure_skip_verify delivers to an unverifiable receiver", () =>
    Effect.gen(function*() {
      const server = yield* httpsServer(pki.server)
      const outcome = yield* deliver({ target: server.url(), tls: { ca: otherPki.ca, insecure_skip_verify: true } })
      expect(outcome._tag).toBe("Delivered")
      expect(server.hits).toHaveLength(1)
    }))

  it.scopedLive("mTLS: the client certificate is presented; a receiver that demands one refuses a client without it", () =>
    Effect.gen(function*() {
      const server = yield* httpsServer({ ...pki.server, clientCa: pki.ca })
      const withCert = yield* deliver({ target: server.url(), tls: { ca: pki.ca, cert: pki.client.cert, key: pki.client.key } })
      expect(withCert._tag).toBe("Delivered")
      expect(server.hits[0]!.clientCN).toBe("servo-webhooks test client")

      const withoutCert = yield* deliver({ target: server.url(), tls: { ca: pki.ca } })
      expect(withoutCert._tag).toBe("Failed")
      expect(server.hits).toHaveLength(1)
    }))

  it.effect("TLS material is checked at start-up, and errors never quote it", () =>
    Effect.gen(function*() {
      const keyBody = otherPki.client.key.split("\n")[1]!
      const error = yield* Effect.flip(WebhookConfig.resolve(configs([
        { event: "after:measure", target: "https://127.0.0.1/x", tls: { ca: "not a certificate" } },
        { event: "after:measure", target: "https://127.0.0.1/x", tls: { cert: pki.client.cert, key: otherPki.client.key } }
      ])).pipe(withEnvironment()))
      expect(error.issues).toEqual([
        { path: "webhooks[0].tls.ca", message: "is not PEM CA certificates (-----BEGIN CERTIFICATE-----)" },
        { path: "webhooks[1].tls.key", message: "does not match tls.cert (the key must be the certificate's private key)" }
      ])
      expect(error.message).not.toContain(keyBody)
      expect(error.message).not.toContain("not a certificate")
    }))
})

describe("Transport: proxies", () => {
  it.scopedLive("proxy: in the config tunnels http and https targets through CONNECT, with its credentials", () =>
    Effect.gen(function*() {
      const proxy = yield* connectProxy("me:PROXY-PASS")
      const plain = yield* receiver(ok)
      const secure = yield* httpsServer(pki.server)
      const environment = { SERVO_TEST_PROXY_URL: proxy.url("me:PROXY-PASS") }
      const viaEnvRef = { env: "SERVO_TEST_PROXY_URL" }
      const first = yield* deliver({ target: `http://plain.test:${plain.port}/hook`, proxy: viaEnvRef }, undefined, environment)
      const second = yield* deliver(
        { target: `https://localhost:${secure.port}/hook`, proxy: viaEnvRef, tls: { ca: pki.ca } },
        undefined,
        environment
      )
      expect([first._tag, second._tag]).toEqual(["Delivered", "Delivered"])
      expect(proxy.tunnels).toEqual([
        { authority: `plain.test:${plain.port}`, authorization: `Basic ${Buffer.from("me:PROXY-PASS").toString("base64")}` },
        { authority: `localhost:${secure.port}`, authorization: `Basic ${Buffer.from("me:PROXY-PASS").toString("base64")}` }
      ])
      expect(plain.requests).toHaveLength(1)
      expect(secure.hits).toHaveLength(1)
      // Wrong credentials: the proxy says 407, the delivery fails, the receiver is not reached.
      const refused = yield* deliver({ target: `http://plain.test:${plain.port}/hook`, proxy: proxy.url("me:wrong") })
      expect(refused._tag).toBe("Failed")
      expect(plain.requests).toHaveLength(1)
    }))

  it.scopedLive("HTTPS_PROXY / HTTP_PROXY / NO_PROXY from the environment; loopback and proxy: false go direct", () =>
    Effect.gen(function*() {
      const proxy = yield* connectProxy()
      const server = yield* receiver(ok)
      const environment = { HTTP_PROXY: proxy.url(), NO_PROXY: "direct.test, .corp.test:8443,10.0.0.0/8" }
      const resolved = yield* WebhookConfig.resolve(configs([
        { event: "after:measure", target: `http://hook.test:${server.port}/hook` },
        { event: "after:measure", target: "https://secure.test/hook" },
        { event: "after:measure", target: "http://direct.test/hook" },
        { event: "after:measure", target: "https://a.corp.test:8443/hook" },
        { event: "after:measure", target: "https://a.corp.test/hook" },
        { event: "after:measure", target: "http://10.1.2.3/hook" },
        { event: "after:measure", target: `http://127.0.0.1:${server.port}/hook` },
        { event: "after:measure", target: "http://localhost/hook" },
        { event: "after:measure", target: "http://hook.test/hook", proxy: false }
      ])).pipe(withEnvironment(environment))
      expect(resolved.map((webhook) => webhook.proxy?.source)).toEqual([
        "HTTP_PROXY",
        "HTTP_PROXY", // https falls back to HTTP_PROXY when HTTPS_PROXY is unset
        undefined,
        undefined,
        "HTTP_PROXY", // NO_PROXY named port 8443 only
        undefined,
        undefined,
        undefined,
        undefined
      ])
      const outcome = yield* deliver({ target: `http://hook.test:${server.port}/hook` }, undefined, environment)
      expect(outcome._tag).toBe("Delivered")
      expect(proxy.tunnels.map((tunnel) => tunnel.authority)).toEqual([`hook.test:${server.port}`])
      const direct = yield* deliver({ target: server.url }, undefined, environment)
      expect(direct._tag).toBe("Delivered")
      expect(proxy.tunnels).toHaveLength(1)
      expect(server.requests).toHaveLength(2)
    }))

  it.effect("a proxy URL that is not http(s) is refused at start-up without quoting it", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(WebhookConfig.resolve(configs([
        { event: "after:measure", target: "https://x.test/", proxy: "socks9://me:SECRET-PROXY@h:1" },
        { event: "after:measure", target: "http://x.test/", proxy: "http://h:1", http2: true }
      ])).pipe(withEnvironment()))
      expect(error.issues.map((issue) => issue.path)).toEqual(["webhooks[0].proxy", "webhooks[1].http2"])
      expect(error.message).not.toContain("SECRET-PROXY")
    }))
})

describe("Transport: a proxy that refuses the tunnel", () => {
  it.scopedLive("407 is a final \"proxy authentication required (407)\", for http and https targets, never retried", () =>
    Effect.gen(function*() {
      const proxy = yield* connectProxy("me:PROXY-PASS")
      const plain = yield* receiver(ok)
      const secure = yield* httpsServer(pki.server)
      const viaProxy = { proxy: proxy.url("me:wrong"), backoff: { retries: 2 } }
      const http = yield* deliver({ target: `http://plain.test:${plain.port}/hook`, ...viaProxy })
      const https = yield* deliver({ target: `https://localhost:${secure.port}/hook`, tls: { ca: pki.ca }, ...viaProxy })
      const withoutCredentials = yield* deliver({ target: `http://plain.test:${plain.port}/hook`, proxy: proxy.url(), backoff: { retries: 2 } })
      for (const outcome of [http, https, withoutCredentials]) {
        expect(outcome).toMatchObject({ _tag: "Failed", attempts: 1, reason: "proxy authentication required (407)" })
      }
      expect(proxy.tunnels).toHaveLength(3)
      expect(plain.requests).toHaveLength(0)
      expect(secure.hits).toHaveLength(0)
    }))

  it.scopedLive("another refusal names the proxy's status: 403 is final, 502 is retried", () =>
    Effect.gen(function*() {
      const forbidding = yield* connectProxy(undefined, { refuseWith: 403 })
      const failing = yield* connectProxy(undefined, { refuseWith: 502 })
      const target = "http://plain.test:9/hook"
      const forbidden = yield* deliver({ target, proxy: forbidding.url(), backoff: { retries: 1 } })
      expect(forbidden).toMatchObject({ _tag: "Failed", attempts: 1, reason: "the proxy refused the tunnel (HTTP 403)" })
      const badGateway = yield* deliver({ target, proxy: failing.url(), backoff: { retries: 1 } })
      expect(badGateway).toMatchObject({ _tag: "Failed", attempts: 2 })
      expect((badGateway as Delivery.Failed).reason).toMatch(/^the proxy refused the tunnel \(HTTP 502\)/)
    }))
})

describe("Transport: HTTP/2", () => {
  it.scopedLive("http2: true negotiates h2 over TLS (ALPN); the default stays HTTP/1.1", () =>
    Effect.gen(function*() {
      const h2 = yield* h2Server(pki.server)
      const outcome = yield* deliver({ target: h2.url(), http2: true, tls: { ca: pki.ca } })
      expect(outcome._tag).toBe("Delivered")
      expect(h2.hits.map((hit) => hit.httpVersion)).toEqual(["2.0"])
      expect(h2.hits[0]!.body.toString()).toBe(`{"id":"msg_transport"}`)

      const h1 = yield* httpsServer(pki.server)
      expect((yield* deliver({ target: h1.url(), tls: { ca: pki.ca } }))._tag).toBe("Delivered")
      expect(h1.hits.map((hit) => hit.httpVersion)).toEqual(["1.1"])
    }))

  it.scopedLive("http2: true speaks prior-knowledge h2c to an http: target", () =>
    Effect.gen(function*() {
      const server = yield* h2cServer()
      const outcome = yield* deliver({ target: server.url(), http2: true })
      expect(outcome._tag).toBe("Delivered")
      expect(server.hits.map((hit) => hit.httpVersion)).toEqual(["2.0"])
      expect(server.hits[0]!.headers["webhook-id"]).toBe("msg_transport")
    }))
})

describe("Transport: sharing", () => {
  it.scoped("one dispatcher per distinct settings; default webhooks use the client in context", () =>
    Effect.gen(function*() {
      const hooks = yield* WebhookConfig.resolve(configs([
        { event: "after:measure", target: "https://a.test/", tls: { ca: pki.ca } },
        { event: "after:measure", target: "https://b.test/", tls: { ca: pki.ca } },
        { event: "after:measure", target: "https://c.test/", tls: { ca: otherPki.ca } },
        { event: "after:measure", target: "https://d.test/" }
      ])).pipe(withEnvironment())
      const transports = yield* Transport.make
      const context = yield* Layer.build(NodeHttpClient.layerUndici)
      const clients = yield* Effect.forEach(hooks, transports.clientFor).pipe(Effect.provide(context))
      expect(transports.dispatchers()).toBe(2)
      expect(clients[0]).not.toBe(clients[3])
      expect(Transport.isDefault(Transport.settingsOf(hooks[3]!))).toBe(true)
      expect(Transport.isDefault(Transport.settingsOf(hooks[0]!))).toBe(false)
      // The default webhook's client is the one in context.
      expect(clients[3]).toBe(Context.get(context, HttpClient.HttpClient))
    }))
})

describe("Transport: through the connector", () => {
  it.scopedLive("a section-wide network policy refuses a before webhook's receiver; on_failure: cancel names the webhook and the address", () =>
    Effect.gen(function*() {
      const server = yield* receiver(ok)
      const allowed = yield* receiver(ok)
      const decoded = Schema.decodeUnknownSync(WebhookConfig.WebhooksConfig(CoreEvents.registry))({
        network: { deny_private: true, allow: [`127.0.0.2/32`] },
        hooks: [
          { name: "internal", event: "before:adjust", target: server.url, on_failure: "cancel", backoff: { retries: 3 } },
          { name: "opted-out", event: "before:describe", target: allowed.url, network: { deny_private: false } }
        ]
      })
      const layer = Webhooks.layer(decoded, { name: uniqueName() }).pipe(
        Layer.provideMerge(EventBus.layer),
        Layer.provide(NodeHttpClient.layerUndici)
      )
      const error = yield* Effect.scoped(Effect.flatMap(Layer.build(layer), (context) =>
        Effect.provide(
          Effect.flip(EventBus.dispatch(CoreEvents.adjust, { adjustments: [] })).pipe(
            Effect.zipLeft(EventBus.dispatch(CoreEvents.describe, {}))
          ),
          context
        )))
      expect(error._tag).toBe("CancelEventError")
      expect(error.message).toContain(
        "webhook internal failed: webhook internal: refused 127.0.0.1 (loopback): the network policy denies private addresses"
      )
      expect(server.connections()).toBe(0)
      expect(allowed.requests).toHaveLength(1)
    }))
})

describe("Transport: combinations", () => {
  it.scopedLive("h2 with a custom CA through a CONNECT proxy", () =>
    Effect.gen(function*() {
      const proxy = yield* connectProxy()
      const h2 = yield* h2Server(pki.server)
      const outcome = yield* deliver({ target: `https://localhost:${h2.port}/hook`, http2: true, tls: { ca: pki.ca }, proxy: proxy.url() })
      expect(outcome._tag).toBe("Delivered")
      expect(h2.hits.map((hit) => hit.httpVersion)).toEqual(["2.0"])
      expect(proxy.tunnels).toHaveLength(1)
    }))
})
