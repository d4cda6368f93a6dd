/**
 * The SSRF guard: which addresses a webhook may connect to.
 *
 * ```yaml
 * webhooks:
 *   network: { deny_private: true, allow: [10.20.0.0/16] }
 *   hooks:
 *     - { event: after:measure, target: https://hooks.example.com/servo }
 * ```
 *
 * With `deny_private`, a connection to a loopback, private (RFC 1918, `fc00::/7`), link-local,
 * CGNAT (`100.64.0.0/10`), multicast, unspecified, broadcast, documentation or otherwise reserved
 * address is refused, IPv4 and IPv6 alike; IPv6 forms that carry an IPv4 address (IPv4-mapped
 * `::ffff:127.0.0.1`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) are judged by that address. `allow`
 * lists CIDR blocks (or single addresses) let through anyway.
 *
 * The check runs when a connection is opened, on every address the name resolved to (any denied
 * address refuses the connection), so a name that re-resolves to an internal address later (DNS
 * rebinding) and numeric spellings of a host (`0x7f.1`, `2130706433`, `[::ffff:127.0.0.1]`, all
 * `127.0.0.1` once parsed) are refused like the plain address. A refusal fails the delivery at
 * once, without retries, with a {@link NetworkPolicyError} naming the webhook, the address and its
 * class.
 *
 */
import * as Schema from "effect/Schema"
import { anyContains, classifyParsed, embeddedIPv4, parseAddress } from "./internal/addresses.js"

export { classify, parseCidr } from "./internal/addresses.js"

/** Why an address is not public. */
export type AddressClass =
  | "loopback"
  | "private"
  | "link-local"
  | "CGNAT"
  | "multicast"
  | "unspecified"
  | "broadcast"
  | "documentation"
  | "reserved"

/**
 * A parsed CIDR block (`10.1.0.0/16`, `fd00::/8`, or a single address). `String(cidr)` is the
 * text it was parsed from.
 */
export interface Cidr {
  readonly text: string
}

export interface NetworkPolicy {
  /** Refuse every address that is not public unicast. */
  readonly denyPrivate: boolean
  /** Let these blocks through despite `denyPrivate`. */
  readonly allow: ReadonlyArray<Cidr>
}

/** The `code` of a refusal, as undici and `Delivery` see it: a refusal is final, never retried. */
export const code: string = "ERR_SERVO_WEBHOOKS_NETWORK_POLICY"

/**
 * A connection the policy refused: `refused 127.0.0.1 (loopback) for hooks.internal: the network
 * policy denies private addresses`, prefixed with the webhook's name when known.
 */
export class NetworkPolicyError extends Schema.TaggedError<NetworkPolicyError>("servo-webhooks/NetworkPolicyError")(
  "NetworkPolicyError",
  {
    address: Schema.String,
    addressClass: Schema.String,
    /** The name that resolved to `address`, when it was a name. */
    host: Schema.optional(Schema.String),
    webhook: Schema.optional(Schema.String)
  }
) {
  /** What undici and Delivery's classifier read: a refusal is final, never retried. */
  get code(): string {
    return code
  }
  override get message(): string {
    const host = this.host === undefined || this.host === this.address ? "" : ` for ${this.host}`
    const webhook = this.webhook === undefined ? "" : `webhook ${this.webhook}: `
    return `${webhook}refused ${this.address} (${this.addressClass})${host}: the network policy denies private addresses`
  }
}

export const isNetworkPolicyError = (u: unknown): u is NetworkPolicyError => u instanceof NetworkPolicyError

/**
 * The refusal for connecting to `address` (resolved from `host`, when given), or `undefined` when
 * the policy lets it through. Text that is not an IP address is refused.
 */
export const check = (policy: NetworkPolicy, address: string, host?: string): NetworkPolicyError | undefined => {
  if (!policy.denyPrivate) return undefined
  const parsed = parseAddress(address)
  if (parsed === undefined) {
    return new NetworkPolicyError({ address, addressClass: "not an IP address", ...(host === undefined ? {} : { host }) })
  }
  const addressClass = classifyParsed(parsed)
  if (addressClass === undefined) return undefined
  const embedded = embeddedIPv4(parsed)
  if (anyContains(policy.allow, parsed) || (embedded !== undefined && anyContains(policy.allow, embedded))) return undefined
  return new NetworkPolicyError({ address, addressClass, ...(host === undefined ? {} : { host }) })
}

/**
 * The first of `addresses` the policy refuses: a name is refused when any of its addresses is.
 * (Not exported from the package: `Transport` uses it.)
 */
export const checkAll = (
  policy: NetworkPolicy,
  addresses: ReadonlyArray<string>,
  host?: string
): NetworkPolicyError | undefined => {
  for (const address of addresses) {
    const refusal = check(policy, address, host)
    if (refusal !== undefined) return refusal
  }
  return undefined
}

/** A one-line summary for listings: `deny private, allow 10.1.0.0/16` or `any address`. */
export const describe = (policy: NetworkPolicy): string =>
  policy.denyPrivate
    ? `deny private${policy.allow.length > 0 ? `, allow ${policy.allow.map(String).join(", ")}` : ""}`
    : "any address"
