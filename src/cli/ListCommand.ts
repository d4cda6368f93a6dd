/**
 * `servo webhooks list`: the configured webhooks as a table, or with `--json` as a JSON array —
 * name, events, target (query values redacted), authentication, signing, retries, the circuit
 * breaker (when not the default) and how they travel. Never a secret, nor a header's value.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as CliError from "./CliError.js"
import { type Assembly, type AssemblyLoader, configOnlyAssembly } from "./internal/assemblies.js"
import * as Format from "./internal/format.js"
import { config } from "./internal/options.js"

/**
 * What `list --json` prints for a webhook: the table's facts, never a secret.
 *
 * @since 0.1.0
 * @category models
 */
export interface Listed {
  readonly name: string
  readonly description?: string
  readonly events: ReadonlyArray<string>
  /** Userinfo, query values and the fragment read `REDACTED`. */
  readonly target: string
  readonly auth: "none" | "bearer" | "basic"
  readonly signed: boolean
  /** One entry per key, in `webhook-signature`'s order: `v1` per secret, then `v1a` per signing key. */
  readonly signatures: ReadonlyArray<"v1" | "v1a">
  readonly backoff: { readonly retries: number; readonly timeout: string } | false
  readonly request_timeout: string
  readonly on_failure: "ignore" | "cancel"
  /** Names only: a header's value may be a credential. */
  readonly headers: ReadonlyArray<string>
  readonly transport: ListedTransport
  /** After attempts in flight at most; `null`: the connector's default share of its workers. */
  readonly max_in_flight: number | null
  /** The circuit breaker of after deliveries, or `false` when turned off. */
  readonly breaker: { readonly failures: number; readonly cooldown: string } | false
}

/**
 * How deliveries travel, from the config (and, for the proxy, the environment): no secret.
 *
 * @since 0.1.0
 * @category models
 */
export interface ListedTransport {
  /** Set when the webhook has `tls:`. */
  readonly tls: { readonly custom_ca: boolean; readonly client_certificate: boolean; readonly verify: boolean } | null
  /** Where the proxy comes from: `config`, or the environment variable that names it. Never its URL. */
  readonly proxy: string | null
  /** `h2` over TLS, `h2c` to an http: target. */
  readonly http2: "h2" | "h2c" | null
  /** Set when the SSRF guard is on. */
  readonly network: { readonly deny_private: true; readonly allow: ReadonlyArray<string> } | null
}

/**
 * The BREAKER column: `off`, or `5 failures, 1m`; `-` for the default breaker.
 *
 * @since 0.2.0
 * @category formatting
 */
export const breakerText = (breaker: Listed["breaker"], defaults: { readonly failures: number; readonly cooldown: string }): string =>
  breaker === false
    ? "off"
    : breaker.failures === defaults.failures && breaker.cooldown === defaults.cooldown
    ? "-"
    : `${Format.count(breaker.failures, "failure", "failures")}, ${breaker.cooldown}`

const backoffText = (backoff: Listed["backoff"]) =>
  backoff === false ? "off" : `${Format.count(backoff.retries, "retry", "retries")}, ${backoff.timeout}`

/**
 * The SIGNED column: `no`, `v1`, `v1 ×2` (a rotation), `v1a`, `v1+v1a`, ...
 *
 * @since 0.1.0
 * @category formatting
 */
export const signedText = (signatures: Listed["signatures"]): string => {
  const parts = (["v1", "v1a"] as const).flatMap((scheme) => {
    const n = signatures.filter((s) => s === scheme).length
    return n === 0 ? [] : [n === 1 ? scheme : `${scheme} ×${n}`]
  })
  return parts.length === 0 ? "no" : parts.join("+")
}

/**
 * The TRANSPORT column: `-`, or what is not the default: `mtls`, `ca`, `insecure`, `proxy`,
 * `proxy:HTTPS_PROXY`, `h2`, `h2c`, `guarded`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const transportText = (transport: ListedTransport): string => {
  const notes = [
    ...(transport.tls === null ? [] : [
      ...(transport.tls.client_certificate ? ["mtls"] : []),
      ...(transport.tls.custom_ca ? ["ca"] : []),
      ...(transport.tls.verify ? [] : ["insecure"])
    ]),
    ...(transport.proxy === null ? [] : [transport.proxy === "config" ? "proxy" : `proxy:${transport.proxy}`]),
    ...(transport.http2 === null ? [] : [transport.http2]),
    ...(transport.network === null ? [] : ["guarded"])
  ]
  return notes.length === 0 ? "-" : notes.join(",")
}

const list = Effect.fn("WebhooksCommand.list")(function*(
  assembly: Assembly,
  options: { readonly config: string; readonly json: boolean }
) {
  const [{ load }, { defaultBreaker, listed }] = yield* Effect.promise(() => Promise.all([import("./internal/config.js"), import("./internal/listing.js")]))
  const { webhooks } = yield* load(assembly, options.config).pipe(Effect.mapError(CliError.fromInvalidConfig))
  const rows = yield* Effect.forEach(webhooks, listed)
  if (options.json) return yield* Console.log(JSON.stringify(rows, null, 2))
  if (rows.length === 0) return yield* Console.log(`no webhooks in ${options.config}`)
  // The TRANSPORT column only when some webhook does not travel the default way.
  const transports = rows.map((row) => transportText(row.transport))
  const showTransport = transports.some((text) => text !== "-")
  // The BREAKER column only when some webhook's breaker is not the default one.
  const breakers = rows.map((row) => breakerText(row.breaker, defaultBreaker))
  const showBreaker = breakers.some((text) => text !== "-")
  yield* Console.log(Format.table(
    [
      "NAME",
      "EVENTS",
      "TARGET",
      "AUTH",
      "SIGNED",
      "BACKOFF",
      ...(showBreaker ? ["BREAKER"] : []),
      ...(showTransport ? ["TRANSPORT"] : [])
    ],
    rows.map((row, i) => [
      row.name,
      row.events.join(","),
      row.target,
      row.auth,
      signedText(row.signatures),
      backoffText(row.backoff),
      ...(showBreaker ? [breakers[i]!] : []),
      ...(showTransport ? [transports[i]!] : [])
    ])
  ))
})

/**
 * The `list` command, reading servo.yaml with `assembly` (default: the bundled connectors).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (assembly: AssemblyLoader = configOnlyAssembly) =>
  Command.make("list", {
    config,
    json: Options.boolean("json").pipe(Options.withDescription("Print a JSON array instead of a table"))
  }, (options) => Effect.flatMap(assembly, (loaded) => list(loaded, options))).pipe(
    Command.withDescription(
      "List the configured webhooks: name, events, target (query values redacted), authentication, signing and retries. Secrets are never printed. --json prints a JSON array of the same facts."
    )
  )

/**
 * @since 0.1.0
 * @category commands
 */
export const command = make()
