/**
 * The proxy a webhook without `proxy:` takes from the environment (`HTTPS_PROXY`, `HTTP_PROXY`,
 * `NO_PROXY`, lower-case names first), read through `Config`, so a `ConfigProvider` decides where
 * the variables come from.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as net from "node:net"
import type * as WebhookConfig from "../WebhookConfig.js"
import * as Addresses from "./addresses.js"
import { readVariable, type Resolved } from "./secrets.js"

const proxyNames = ["https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "no_proxy", "NO_PROXY"] as const

/** The proxy variables as they are now; unset and blank ones are absent. */
export type ProxyEnvironment = Readonly<Partial<Record<(typeof proxyNames)[number], string>>>

/** Reads every proxy variable once. */
export const read: Effect.Effect<ProxyEnvironment> = Effect.map(
  Effect.forEach(proxyNames, (name) => Effect.map(readVariable(name), (value) => [name, value] as const)),
  (entries) => {
    const found: Partial<Record<(typeof proxyNames)[number], string>> = {}
    for (const [name, value] of entries) {
      if (Option.isSome(value) && value.value.trim() !== "") found[name] = value.value.trim()
    }
    return found
  }
)

/** Why a proxy URL is not usable, without quoting it; undefined when it is. */
export const checkProxyUrl = (text: string): string | undefined => {
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
    return Addresses.classify(hostname) === "loopback"
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
      const cidr = Addresses.parseCidr(entry)
      if (Either.isRight(cidr) && Addresses.cidrContains(cidr.right, hostname)) return true
    }
  }
  return false
}

/**
 * The variable whose proxy a webhook without `proxy:` takes for `target` in `environment`: none
 * when no variable is set, the host is loopback or `NO_PROXY` exempts it. Listings show the
 * variable's name; its value may hold credentials.
 */
export const variableFor = (target: string, environment: ProxyEnvironment): string | undefined => {
  const url = new URL(target)
  const names = url.protocol === "https:"
    ? (["https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY"] as const)
    : (["http_proxy", "HTTP_PROXY"] as const)
  const variable = names.find((name) => environment[name] !== undefined)
  if (variable === undefined) return undefined
  // Loopback is never proxied from the environment (as Go does), so local receivers keep
  // working on a machine whose environment points everything at a proxy.
  if (isLoopbackHost(url.hostname.replace(/^\[(.*)\]$/, "$1"))) return undefined
  if (noProxyMatches(environment.no_proxy ?? environment.NO_PROXY ?? "", url)) return undefined
  return variable
}

/** The same, reading the variables now. */
export const environmentProxyVariable = (target: string): Effect.Effect<string | undefined> =>
  Effect.map(read, (environment) => variableFor(target, environment))

/** The proxy `target` takes from `environment`, checked; the path is left to the caller. */
export const proxyFor = (
  target: string,
  environment: ProxyEnvironment
): Resolved<WebhookConfig.Proxy | undefined> => {
  const variable = variableFor(target, environment)
  if (variable === undefined) return Either.right(undefined)
  const value = environment[variable as keyof ProxyEnvironment]!
  const problem = checkProxyUrl(value)
  return problem === undefined
    ? Either.right({ url: Redacted.make(value), source: variable })
    : Either.left({ path: "", message: `environment variable ${variable} ${problem}` })
}
