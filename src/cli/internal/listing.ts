/** What `list` shows of a webhook: the facts of its config, never a secret. Loaded when `list` runs. */
import * as Event from "../../servo/Event.js"
import * as GoDuration from "../../servo/GoDuration.js"
import * as WebhookConfig from "../../webhooks/WebhookConfig.js"
import * as Effect from "effect/Effect"
import type { Listed, ListedTransport } from "../ListCommand.js"

const refCount = (refs: WebhookConfig.WebhookConfig["secret"]): number =>
  refs === undefined ? 0 : Array.isArray(refs) ? refs.length : 1

const transportOf = (webhook: WebhookConfig.WebhookConfig, environmentProxy: string | undefined): ListedTransport => ({
  tls: webhook.tls === undefined ? null : {
    custom_ca: webhook.tls.ca !== undefined,
    client_certificate: webhook.tls.cert !== undefined,
    verify: webhook.tls.insecure_skip_verify !== true
  },
  // Read as `servo run` would read it now; the proxy's URL may hold credentials and is not read.
  proxy: webhook.proxy === false
    ? null
    : webhook.proxy !== undefined
    ? "config"
    : environmentProxy ?? null,
  http2: webhook.http2 === true ? (webhook.target.startsWith("https:") ? "h2" : "h2c") : null,
  network: webhook.network?.denyPrivate === true
    ? { deny_private: true, allow: webhook.network.allow.map((cidr) => cidr.text) }
    : null
})

/** What `list` shows of a webhook; the proxy variable is read through the ConfigProvider, as `run` would. */
export const listed = (webhook: WebhookConfig.WebhookConfig): Effect.Effect<Listed> =>
  Effect.map(WebhookConfig.environmentProxyVariable(webhook.target), (environmentProxy) => listedWith(webhook, environmentProxy))

const listedWith = (webhook: WebhookConfig.WebhookConfig, environmentProxy: string | undefined): Listed => ({
  name: webhook.name,
  ...(webhook.description === undefined ? {} : { description: webhook.description }),
  events: webhook.events.map(Event.formatSelector),
  target: WebhookConfig.redactTarget(webhook.target),
  auth: webhook.authentication?.bearer_token !== undefined
    ? "bearer"
    : webhook.authentication?.basic !== undefined
    ? "basic"
    : "none",
  signed: webhook.secret !== undefined || webhook.signing_key !== undefined,
  signatures: [
    ...Array.from({ length: refCount(webhook.secret) }, () => "v1" as const),
    ...Array.from({ length: refCount(webhook.signing_key) }, () => "v1a" as const)
  ],
  backoff: webhook.backoff === false
    ? false
    : { retries: webhook.backoff.retries, timeout: GoDuration.format(webhook.backoff.timeout) },
  request_timeout: GoDuration.format(webhook.request_timeout),
  on_failure: webhook.on_failure,
  headers: webhook.headers.map((header) => header.name),
  transport: transportOf(webhook, environmentProxy),
  max_in_flight: webhook.max_in_flight ?? null,
  breaker: breakerOf(webhook.breaker)
})

const breakerOf = (breaker: WebhookConfig.WebhookConfig["breaker"]): Listed["breaker"] => {
  if (breaker === false) return false
  const { cooldown, failures } = breaker ?? WebhookConfig.defaults.breaker
  return { failures, cooldown: GoDuration.format(cooldown) }
}

/** The breaker a webhook gets when its config says nothing, as `list` shows it. */
export const defaultBreaker = breakerOf(undefined) as Exclude<Listed["breaker"], false>
