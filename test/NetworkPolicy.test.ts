import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as NetworkPolicy from "../src/webhooks/NetworkPolicy.js"

const policy = (...allow: ReadonlyArray<string>): NetworkPolicy.NetworkPolicy => ({
  denyPrivate: true,
  allow: allow.map((cidr) => Either.getOrThrow(NetworkPolicy.parseCidr(cidr)))
})

describe("NetworkPolicy.classify", () => {
  it.each([
    ["127.0.0.1", "loopback"],
    ["127.255.255.254", "loopback"],
    ["10.0.0.1", "private"],
    ["172.16.0.1", "private"],
    ["172.31.255.255", "private"],
    ["192.168.1.1", "private"],
    ["169.254.169.254", "link-local"],
    ["100.64.0.1", "CGNAT"],
    ["100.127.255.255", "CGNAT"],
    ["224.0.0.251", "multicast"],
    ["239.255.255.250", "multicast"],
    ["0.0.0.0", "unspecified"],
    ["0.1.2.3", "unspecified"],
    ["255.255.255.255", "broadcast"],
    ["240.0.0.1", "reserved"],
    ["192.0.2.10", "documentation"],
    ["198.51.100.7", "documentation"],
    ["203.0.113.9", "documentation"],
    ["198.18.0.1", "reserved"],
    ["::1", "loopback"],
    ["::", "unspecified"],
    ["fc00::1", "private"],
    ["fd12:3456::1", "private"],
    ["fe80::1", "link-local"],
    ["[fe80::1%eth0]", "link-local"],
    ["ff02::1", "multicast"],
    ["2001:db8::1", "documentation"],
    ["::ffff:127.0.0.1", "loopback"],
    ["::ffff:7f00:1", "loopback"],
    ["[::ffff:10.0.0.1]", "private"],
    ["::ffff:169.254.169.254", "link-local"],
    ["64:ff9b::a9fe:a9fe", "link-local"],
    ["2002:7f00:1::", "loopback"],
    ["::127.0.0.1", "reserved"],
    ["100::1", "reserved"]
  ] as const)("%s is %s", (address, expected) => {
    expect(NetworkPolicy.classify(address)).toBe(expected)
  })

  it.each(["8.8.8.8", "93.184.216.34", "172.32.0.1", "100.128.0.1", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"])(
    "%s is public",
    (address) => expect(NetworkPolicy.classify(address)).toBeUndefined()
  )

  it("refuses text that is not an address", () => {
    expect(() => NetworkPolicy.classify("localhost")).toThrow(TypeError)
  })
})

describe("NetworkPolicy.check", () => {
  it("names the address, its class and the host it came from", () => {
    const refusal = NetworkPolicy.check(policy(), "10.1.2.3", "hooks.internal")
    expect(refusal?.message).toBe("refused 10.1.2.3 (private) for hooks.internal: the network policy denies private addresses")
    expect(refusal?.code).toBe(NetworkPolicy.code)
    expect(NetworkPolicy.isNetworkPolicyError(refusal)).toBe(true)
  })

  it("lets public addresses through, and private ones only inside allow", () => {
    expect(NetworkPolicy.check(policy(), "93.184.216.34")).toBeUndefined()
    expect(NetworkPolicy.check(policy("10.1.0.0/16"), "10.1.200.3")).toBeUndefined()
    expect(NetworkPolicy.check(policy("10.1.0.0/16"), "10.2.0.1")?.addressClass).toBe("private")
    expect(NetworkPolicy.check(policy("127.0.0.1"), "127.0.0.1")).toBeUndefined()
    expect(NetworkPolicy.check(policy("127.0.0.1"), "127.0.0.2")?.addressClass).toBe("loopback")
    // An IPv4 allow covers the same address spelled as IPv4-mapped IPv6.
    expect(NetworkPolicy.check(policy("127.0.0.1/32"), "::ffff:127.0.0.1")).toBeUndefined()
    expect(NetworkPolicy.check(policy("fd00::/8"), "fd00::5")).toBeUndefined()
    expect(NetworkPolicy.check(policy("fd00::/8"), "fc00::5")?.addressClass).toBe("private")
  })

  it("allows everything when deny_private is off", () => {
    expect(NetworkPolicy.check({ denyPrivate: false, allow: [] }, "127.0.0.1")).toBeUndefined()
  })

  it("parses CIDRs and says what is wrong with bad ones", () => {
    expect(Either.getOrThrow(NetworkPolicy.parseCidr("10.0.0.0/8")).text).toBe("10.0.0.0/8")
    expect(NetworkPolicy.parseCidr("10.0.0.0/33")).toEqual(Either.left(`"10.0.0.0/33": the prefix length must be 0 to 32`))
    expect(NetworkPolicy.parseCidr("fd00::/129")).toEqual(Either.left(`"fd00::/129": the prefix length must be 0 to 128`))
    expect(Either.isLeft(NetworkPolicy.parseCidr("example.com/8"))).toBe(true)
    expect(NetworkPolicy.describe(policy("10.0.0.0/8"))).toBe("deny private, allow 10.0.0.0/8")
  })
})
