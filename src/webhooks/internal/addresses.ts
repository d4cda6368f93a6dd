/**
 * IP addresses and CIDR blocks as numbers (IPv4 in 32 bits, IPv6 in 128, both as bigint): parsing,
 * classification (loopback, private, ...) and containment, for the network policy and the config.
 */
import * as Either from "effect/Either"
import * as net from "node:net"
import type { AddressClass, Cidr } from "../NetworkPolicy.js"

// ---------------------------------------------------------------------------------------------
// Addresses as numbers: IPv4 in 32 bits, IPv6 in 128, both as bigint.
// ---------------------------------------------------------------------------------------------

export interface Address {
  readonly family: 4 | 6
  readonly value: bigint
}

const parseIPv4 = (text: string): bigint =>
  text.split(".").reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n)

const parseIPv6 = (text: string): bigint => {
  let groups: Array<string>
  // An IPv4 tail (::ffff:127.0.0.1) is two groups.
  const lastColon = text.lastIndexOf(":")
  const tail = text.slice(lastColon + 1)
  if (tail.includes(".")) {
    const v4 = parseIPv4(tail)
    text = `${text.slice(0, lastColon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`
  }
  const double = text.indexOf("::")
  if (double >= 0) {
    const head = text.slice(0, double).split(":").filter((g) => g !== "")
    const rest = text.slice(double + 2).split(":").filter((g) => g !== "")
    groups = [...head, ...Array<string>(8 - head.length - rest.length).fill("0"), ...rest]
  } else {
    groups = text.split(":")
  }
  return groups.reduce((acc, group) => (acc << 16n) | BigInt(parseInt(group, 16)), 0n)
}

/** A literal address (IPv6 with or without brackets and zone), or undefined. */
export const parseAddress = (text: string): Address | undefined => {
  let bare = text.startsWith("[") && text.endsWith("]") ? text.slice(1, -1) : text
  const zone = bare.indexOf("%")
  if (zone >= 0) bare = bare.slice(0, zone)
  switch (net.isIP(bare)) {
    case 4:
      return { family: 4, value: parseIPv4(bare) }
    case 6:
      return { family: 6, value: parseIPv6(bare) }
    default:
      return undefined
  }
}

interface Range {
  readonly family: 4 | 6
  readonly prefix: number
  readonly value: bigint
}

const bitsOf = (family: 4 | 6) => (family === 4 ? 32n : 128n)

const contains = (range: Range, address: Address): boolean => {
  if (range.family !== address.family) return false
  const shift = bitsOf(range.family) - BigInt(range.prefix)
  return (range.value >> shift) === (address.value >> shift)
}

const range = (text: string): Range => {
  const [ip, prefix] = text.split("/")
  const address = parseAddress(ip!)!
  return { ...address, prefix: Number(prefix) }
}

const v4 = (address: Address): boolean => address.family === 4

// ---------------------------------------------------------------------------------------------
// Classification
// ---------------------------------------------------------------------------------------------

const ipv4Ranges: ReadonlyArray<readonly [Range, AddressClass]> = [
  ["0.0.0.0/8", "unspecified"],
  ["10.0.0.0/8", "private"],
  ["100.64.0.0/10", "CGNAT"],
  ["127.0.0.0/8", "loopback"],
  ["169.254.0.0/16", "link-local"],
  ["172.16.0.0/12", "private"],
  ["192.0.0.0/24", "reserved"],
  ["192.0.2.0/24", "documentation"],
  ["192.88.99.0/24", "reserved"],
  ["192.168.0.0/16", "private"],
  ["198.18.0.0/15", "reserved"],
  ["198.51.100.0/24", "documentation"],
  ["203.0.113.0/24", "documentation"],
  ["224.0.0.0/4", "multicast"],
  ["255.255.255.255/32", "broadcast"],
  ["240.0.0.0/4", "reserved"]
].map(([cidr, kind]) => [range(cidr!), kind as AddressClass] as const)

const ipv6Ranges: ReadonlyArray<readonly [Range, AddressClass]> = [
  ["::/128", "unspecified"],
  ["::1/128", "loopback"],
  ["64:ff9b:1::/48", "private"],
  ["100::/64", "reserved"],
  ["2001::/23", "reserved"],
  ["2001:db8::/32", "documentation"],
  ["3fff::/20", "documentation"],
  ["fc00::/7", "private"],
  ["fe80::/10", "link-local"],
  ["fec0::/10", "private"],
  ["ff00::/8", "multicast"]
].map(([cidr, kind]) => [range(cidr!), kind as AddressClass] as const)

const globalUnicast = range("2000::/3")

/** IPv6 forms that carry an IPv4 address the packets end up at: mapped, NAT64 and 6to4. */
export const embeddedIPv4 = (address: Address): Address | undefined => {
  if (address.family !== 6) return undefined
  if (contains(range("::ffff:0:0/96"), address) || contains(range("64:ff9b::/96"), address)) {
    return { family: 4, value: address.value & 0xffffffffn }
  }
  if (contains(range("2002::/16"), address)) return { family: 4, value: (address.value >> 80n) & 0xffffffffn }
  return undefined
}

export const classifyParsed = (address: Address): AddressClass | undefined => {
  if (v4(address)) return ipv4Ranges.find(([r]) => contains(r, address))?.[1]
  const embedded = embeddedIPv4(address)
  if (embedded !== undefined) return classifyParsed(embedded)
  const found = ipv6Ranges.find(([r]) => contains(r, address))
  if (found !== undefined) return found[1]
  return contains(globalUnicast, address) ? undefined : "reserved"
}

/**
 * The class of a literal IP address (brackets and a zone are accepted), `undefined` for a public
 * unicast address. Throws a `TypeError` for text that is not an IP address.
 */
export const classify = (address: string): AddressClass | undefined => {
  const parsed = parseAddress(address)
  if (parsed === undefined) throw new TypeError(`not an IP address: ${JSON.stringify(address)}`)
  return classifyParsed(parsed)
}

// ---------------------------------------------------------------------------------------------
// CIDRs and policies
// ---------------------------------------------------------------------------------------------

class CidrImpl implements Cidr {
  constructor(readonly range: Range, readonly text: string) {}
  toString(): string {
    return this.text
  }
  toJSON(): unknown {
    return this.text
  }
}

/** Parses `10.1.0.0/16`, `fd00::/8` or a single address; the reason never needs more than the text. */
export const parseCidr = (text: string): Either.Either<Cidr, string> => {
  const slash = text.indexOf("/")
  const ip = slash < 0 ? text : text.slice(0, slash)
  const address = parseAddress(ip)
  if (address === undefined || ip.startsWith("[")) {
    return Either.left(`expected an IPv4 or IPv6 address or CIDR block, such as 10.1.0.0/16 or fd00::/8, got ${JSON.stringify(text)}`)
  }
  const bits = Number(bitsOf(address.family))
  const prefixText = slash < 0 ? String(bits) : text.slice(slash + 1)
  const prefix = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN
  if (!(prefix >= 0 && prefix <= bits)) {
    return Either.left(`${JSON.stringify(text)}: the prefix length must be 0 to ${bits}`)
  }
  const shift = BigInt(bits - prefix)
  const value = (address.value >> shift) << shift
  return Either.right(new CidrImpl({ family: address.family, prefix, value }, text))
}

/** Whether the literal `address` is inside `cidr`. */
export const cidrContains = (cidr: Cidr, address: string): boolean => {
  const parsed = parseAddress(address)
  return parsed !== undefined && contains((cidr as CidrImpl).range, parsed)
}

/** Whether any of `cidrs` contains `address`. */
export const anyContains = (cidrs: ReadonlyArray<Cidr>, address: Address): boolean =>
  cidrs.some((cidr) => contains((cidr as CidrImpl).range, address))
