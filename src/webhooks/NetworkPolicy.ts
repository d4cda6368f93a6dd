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
 * @since 0.1.0
 */
import type * as Either from "effect/Either"
import * as internal from "./internal/networkPolicy.js"

/**
 * Why an address is not public.
 *
 * @since 0.1.0
 * @category models
 */
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
 *
 * @since 0.1.0
 * @category models
 */
export interface Cidr {
  readonly text: string
}

/**
 * @since 0.1.0
 * @category models
 */
export interface NetworkPolicy {
  /** Refuse every address that is not public unicast. */
  readonly denyPrivate: boolean
  /** Let these blocks through despite `denyPrivate`. */
  readonly allow: ReadonlyArray<Cidr>
}

/**
 * The `code` of a refusal, as undici and `Delivery` see it: a refusal is final, never retried.
 *
 * @since 0.1.0
 * @category constants
 */
export const code: string = internal.code

/**
 * A connection the policy refused: `refused 127.0.0.1 (loopback) for hooks.internal: the network
 * policy denies private addresses`, prefixed with the webhook's name when known.
 *
 * @since 0.1.0
 * @category errors
 */
export const NetworkPolicyError: typeof internal.NetworkPolicyError = internal.NetworkPolicyError

/**
 * @since 0.1.0
 * @category errors
 */
export type NetworkPolicyError = internal.NetworkPolicyError

/**
 * @since 0.1.0
 * @category refinements
 */
export const isNetworkPolicyError: (u: unknown) => u is NetworkPolicyError = internal.isNetworkPolicyError

/**
 * The class of a literal IP address (brackets and a zone are accepted), `undefined` for a public
 * unicast address. Throws a `TypeError` for text that is not an IP address.
 *
 * @since 0.1.0
 * @category classification
 */
export const classify: (address: string) => AddressClass | undefined = internal.classify

/**
 * Parses `10.1.0.0/16`, `fd00::/8` or a single address; the reason never needs more than the text.
 *
 * @since 0.1.0
 * @category constructors
 */
export const parseCidr: (text: string) => Either.Either<Cidr, string> = internal.parseCidr

/**
 * The refusal for connecting to `address` (resolved from `host`, when given), or `undefined` when
 * the policy lets it through. Text that is not an IP address is refused.
 *
 * @since 0.1.0
 * @category checking
 */
export const check: (policy: NetworkPolicy, address: string, host?: string) => NetworkPolicyError | undefined =
  internal.check

/**
 * A one-line summary for listings: `deny private, allow 10.1.0.0/16` or `any address`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const describe: (policy: NetworkPolicy) => string = internal.describe
