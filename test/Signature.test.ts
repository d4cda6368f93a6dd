import { describe, expect, it } from "@effect/vitest"
import * as crypto from "node:crypto"
import * as util from "node:util"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import { Webhook as StandardWebhook } from "standardwebhooks"
import { Webhook as SvixWebhook } from "svix"
import * as Signature from "../src/webhooks/Signature.js"

// ---------------------------------------------------------------------------------------------
// Spec vectors (Standard Webhooks v1.0.0)
// ---------------------------------------------------------------------------------------------

const vector = {
  secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
  signingKey: "whsk_6Xb/dCcHpPea21PS1N9VY/NZW723CEc77N4rJCubMbfVKIDij2HKpMKkioLlX0dRqSKJp4AJ6p9lMicMFs6Kvg==",
  publicKey: "whpk_1SiA4o9hyqTCpIqC5V9HUakiiaeACeqfZTInDBbOir4=",
  id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
  timestamp: 1614265330,
  body: new TextEncoder().encode(`{"test": 2432232314}`),
  v1: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
  v1a: "v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg=="
} as const

const right = <A, E>(either: Either.Either<A, E>): A => {
  if (Either.isLeft(either)) throw new Error(`expected Right, got Left: ${String(either.left)}`)
  return either.right
}

const left = <A, E>(either: Either.Either<A, E>): E => {
  if (Either.isRight(either)) throw new Error(`expected Left, got Right: ${JSON.stringify(either.right)}`)
  return either.left
}

const secret = (text: string) => right(Signature.parseSecret(text))
const privateKey = (text: string) => right(Signature.parsePrivateKey(text))
const publicKey = (text: string) => right(Signature.parsePublicKey(text))

const vectorMessage = { id: vector.id, timestamp: vector.timestamp, body: vector.body }
const atVectorTime = { now: vector.timestamp }

describe("Signature: spec vectors", () => {
  it("v1 (HMAC-SHA256) reproduces the vector byte for byte", () => {
    expect(Signature.sign([secret(vector.secret)], vectorMessage)).toBe(vector.v1)
    // Chosen by prefix too.
    expect(Signature.sign([right(Signature.parseSigningKey(vector.secret))], vectorMessage)).toBe(vector.v1)
  })

  it("v1a (Ed25519) reproduces the vector byte for byte", () => {
    expect(Signature.sign([privateKey(vector.signingKey)], vectorMessage)).toBe(vector.v1a)
    expect(Signature.sign([right(Signature.parseSigningKey(vector.signingKey))], vectorMessage)).toBe(vector.v1a)
  })

  it("derives the vector's whpk_ public key from its whsk_ key", () => {
    const key = privateKey(vector.signingKey)
    expect(key.publicKey.encoded).toBe(vector.publicKey)
    expect(publicKey(vector.publicKey).encoded).toBe(vector.publicKey)
  })

  it("signs with several keys in order, separated by exactly one space", () => {
    const header = Signature.sign([secret(vector.secret), privateKey(vector.signingKey)], vectorMessage)
    expect(header).toBe(`${vector.v1} ${vector.v1a}`)
  })

  it("signHeaders gives the three webhook-* headers", () => {
    expect(Signature.signHeaders([secret(vector.secret)], vectorMessage)).toEqual({
      "webhook-id": vector.id,
      "webhook-timestamp": "1614265330",
      "webhook-signature": vector.v1
    })
  })

  it("verifies both vectors at the vector's time", () => {
    const headers = { id: vector.id, timestamp: String(vector.timestamp), signature: vector.v1 }
    expect(Signature.verify([secret(vector.secret)], { headers, body: vector.body }, atVectorTime)).toEqual(
      Either.right({ scheme: "v1", keyIndex: 0, id: vector.id, timestamp: vector.timestamp })
    )
    expect(
      Signature.verify([publicKey(vector.publicKey)], { headers: { ...headers, signature: vector.v1a }, body: vector.body }, atVectorTime)
    ).toEqual(Either.right({ scheme: "v1a", keyIndex: 0, id: vector.id, timestamp: vector.timestamp }))
  })

  it("signs the raw body bytes, not a text decoding of them", () => {
    // Not valid UTF-8: a signer that went through a string would sign U+FFFD instead.
    const body = new Uint8Array([0x7b, 0xff, 0xfe, 0x00, 0x7d])
    const key = Buffer.from(vector.secret.slice("whsec_".length), "base64")
    const expected = crypto.createHmac("sha256", key)
      .update(Buffer.concat([Buffer.from(`${vector.id}.${vector.timestamp}.`), body]))
      .digest("base64")
    expect(Signature.sign([secret(vector.secret)], { id: vector.id, timestamp: vector.timestamp, body })).toBe(
      `v1,${expected}`
    )
  })
})

// ---------------------------------------------------------------------------------------------
// Interop with the reference verifiers
// ---------------------------------------------------------------------------------------------

const nowSeconds = () => Math.floor(Date.now() / 1000)
const payload = { type: "servo.measure.after", data: { cpu: 0.5, note: "héllo" } }
const payloadBytes = Buffer.from(JSON.stringify(payload))

const freshMessage = (id = "msg_interop") => ({ id, timestamp: nowSeconds(), body: payloadBytes })

describe("Signature: interop with standardwebhooks and svix", () => {
  it("a v1 signature verifies with standardwebhooks and svix; a wrong secret does not", () => {
    const text = Signature.generateSecret()
    const headers = Signature.signHeaders([secret(text)], freshMessage())
    expect(new StandardWebhook(text).verify(payloadBytes, { ...headers })).toEqual(payload)
    expect(new SvixWebhook(text).verify(payloadBytes, { ...headers })).toEqual(payload)
    // svix also reads its own header names.
    expect(
      new SvixWebhook(text).verify(payloadBytes, {
        "svix-id": headers["webhook-id"],
        "svix-timestamp": headers["webhook-timestamp"],
        "svix-signature": headers["webhook-signature"]
      })
    ).toEqual(payload)

    const other = Signature.generateSecret()
    expect(() => new StandardWebhook(other).verify(payloadBytes, { ...headers })).toThrow(/No matching signature/)
    expect(() => new SvixWebhook(other).verify(payloadBytes, { ...headers })).toThrow(/No matching signature/)
  })

  it("rotation: signed with [old, new], it verifies at a receiver holding only old and at one holding only new", () => {
    const oldText = Signature.generateSecret()
    const newText = Signature.generateSecret()
    const headers = Signature.signHeaders([secret(oldText), secret(newText)], freshMessage("msg_rotation"))
    const signature = headers["webhook-signature"]

    expect(signature).toMatch(/^v1,[A-Za-z0-9+/]{43}= v1,[A-Za-z0-9+/]{43}=$/)
    expect(signature.split(" ")).toHaveLength(2)
    expect(signature).not.toContain("  ")

    for (const text of [oldText, newText]) {
      expect(new StandardWebhook(text).verify(payloadBytes, { ...headers })).toEqual(payload)
      expect(new SvixWebhook(text).verify(payloadBytes, { ...headers })).toEqual(payload)
    }
    expect(() => new StandardWebhook(Signature.generateSecret()).verify(payloadBytes, { ...headers })).toThrow()

    // Our verifier, with each key alone and with both: it reports which key matched.
    const ours = (keys: ReadonlyArray<Signature.VerificationKey>) =>
      Signature.verify(keys, { headers, body: payloadBytes }).pipe(Either.map((v) => v.keyIndex))
    expect(ours([secret(oldText)])).toEqual(Either.right(0))
    expect(ours([secret(newText)])).toEqual(Either.right(0))
    expect(ours([secret(Signature.generateSecret()), secret(newText)])).toEqual(Either.right(1))
  })

  it("a header mixing v1 and v1a still verifies with standardwebhooks (which skips v1a)", () => {
    const text = Signature.generateSecret()
    const pair = Signature.generateKeyPair()
    const headers = Signature.signHeaders([privateKey(pair.signingKey), secret(text)], freshMessage())
    expect(headers["webhook-signature"]).toMatch(/^v1a,\S+ v1,\S+$/)
    expect(new StandardWebhook(text).verify(payloadBytes, { ...headers })).toEqual(payload)
    expect(new SvixWebhook(text).verify(payloadBytes, { ...headers })).toEqual(payload)
  })

  it("our verifier accepts what standardwebhooks signs", () => {
    const text = Signature.generateSecret()
    const timestamp = nowSeconds()
    const signature = new StandardWebhook(text).sign("msg_theirs", new Date(timestamp * 1000), payloadBytes.toString())
    const result = Signature.verify([secret(text)], {
      headers: { "webhook-id": "msg_theirs", "webhook-timestamp": String(timestamp), "webhook-signature": signature },
      body: payloadBytes
    })
    expect(result).toEqual(Either.right({ scheme: "v1", keyIndex: 0, id: "msg_theirs", timestamp }))
  })
})

// ---------------------------------------------------------------------------------------------
// Our verifier
// ---------------------------------------------------------------------------------------------

describe("Signature.verify", () => {
  const v1Key = secret(vector.secret)
  const v1aKey = publicKey(vector.publicKey)
  const headersWith = (signature: string) => ({
    "webhook-id": vector.id,
    "webhook-timestamp": String(vector.timestamp),
    "webhook-signature": signature
  })
  const check = (
    keys: ReadonlyArray<Signature.VerificationKey>,
    headers: Signature.VerifyRequest["headers"],
    options: Signature.VerifyOptions = atVectorTime,
    body: Uint8Array = vector.body
  ) => Signature.verify(keys, { headers, body }, options)
  const reasonOf = (result: Either.Either<Signature.Verified, Signature.SignatureVerificationError>) => {
    const error = left(result)
    expect(error).toBeInstanceOf(Signature.SignatureVerificationError)
    expect(error._tag).toBe("SignatureVerificationError")
    return error.reason
  }

  it("accepts v1 and v1a and says which scheme and key matched", () => {
    const both = headersWith(`${vector.v1} ${vector.v1a}`)
    expect(check([v1aKey], both)).toEqual(
      Either.right({ scheme: "v1a", keyIndex: 0, id: vector.id, timestamp: vector.timestamp })
    )
    expect(check([v1aKey, v1Key], both)).toEqual(
      Either.right({ scheme: "v1", keyIndex: 1, id: vector.id, timestamp: vector.timestamp })
    )
  })

  it("reads headers given as a record, picked out, or as single-element arrays", () => {
    expect(Either.isRight(check([v1Key], headersWith(vector.v1)))).toBe(true)
    expect(
      Either.isRight(check([v1Key], { id: vector.id, timestamp: vector.timestamp, signature: vector.v1 }))
    ).toBe(true)
    expect(
      Either.isRight(check([v1aKey], {
        "webhook-id": [vector.id],
        "webhook-timestamp": [String(vector.timestamp)],
        "webhook-signature": ["v2,xxx", vector.v1a]
      }))
    ).toBe(true)
  })

  it("rejects a tampered body", () => {
    const tampered = new TextEncoder().encode(`{"test": 2432232315}`)
    const result = check([v1Key, v1aKey], headersWith(`${vector.v1} ${vector.v1a}`), atVectorTime, tampered)
    expect(reasonOf(result)).toBe("no_matching_signature")
    expect(left(result).message).toMatch(
      /^webhook signature not verified \(no_matching_signature\): .*entries: 1 v1, 1 v1a, 0 of other versions ignored; keys: 1 whsec_ secret, 1 whpk_ public key/
    )
  })

  it("a string body is verified as its UTF-8 bytes, with either scheme", () => {
    const text = JSON.stringify({ event: "after:measure", note: "héllo ✓ 🚀" })
    const v1 = secret(Signature.generateSecret())
    const pair = Signature.generateKeyPair()
    const message = { id: "msg_text", timestamp: vector.timestamp, body: new TextEncoder().encode(text) }
    const headers = Signature.signHeaders([v1, privateKey(pair.signingKey)], message)
    expect(Signature.verify([v1], { headers, body: text }, atVectorTime)).toEqual(
      Either.right({ scheme: "v1", keyIndex: 0, id: "msg_text", timestamp: vector.timestamp })
    )
    // Ed25519 reads the message as one buffer: the string's UTF-8 bytes, not its UTF-16 length.
    expect(Signature.verify([publicKey(pair.publicKey)], { headers, body: text }, atVectorTime)).toEqual(
      Either.right({ scheme: "v1a", keyIndex: 0, id: "msg_text", timestamp: vector.timestamp })
    )
    // And it is still the body that is checked.
    expect(reasonOf(Signature.verify([publicKey(pair.publicKey)], { headers, body: `${text} ` }, atVectorTime))).toBe(
      "no_matching_signature"
    )
  })

  it("a body that is neither bytes nor a string fails as invalid_body, saying what to pass instead", () => {
    const headers = headersWith(vector.v1)
    for (
      const [body, said] of [
        [{ test: 2432232315 }, "an object (a parsed body?)"],
        [new ArrayBuffer(4), "an ArrayBuffer (wrap it: new Uint8Array(buffer))"],
        [undefined, "undefined"],
        [null, "null"]
      ] as const
    ) {
      const result = Signature.verify([v1Key], { headers, body: body as unknown as string }, atVectorTime)
      expect(reasonOf(result)).toBe("invalid_body")
      expect(left(result).message).toBe(
        `webhook signature not verified (invalid_body): expected the raw body as bytes (a Uint8Array or Buffer) or a string, got ${said}; ` +
          "verify the body as received, before parsing it (express.raw({ type: \"*/*\" }), request.text())"
      )
    }
  })

  it("rejects a signature made for another id or timestamp", () => {
    expect(reasonOf(check([v1Key], { ...headersWith(vector.v1), "webhook-id": "msg_other" }))).toBe(
      "no_matching_signature"
    )
    const later = String(vector.timestamp + 1)
    expect(reasonOf(check([v1Key], { ...headersWith(vector.v1), "webhook-timestamp": later }))).toBe(
      "no_matching_signature"
    )
  })

  it("rejects a wrong key, and a key of the other scheme", () => {
    const wrong = secret(Signature.generateSecret())
    const wrongPublic = publicKey(Signature.generateKeyPair().publicKey)
    expect(reasonOf(check([wrong], headersWith(vector.v1)))).toBe("no_matching_signature")
    expect(reasonOf(check([wrongPublic], headersWith(vector.v1a)))).toBe("no_matching_signature")
    expect(reasonOf(check([v1aKey], headersWith(vector.v1)))).toBe("no_matching_signature")
    expect(reasonOf(check([v1Key], headersWith(vector.v1a)))).toBe("no_matching_signature")
    expect(reasonOf(check([], headersWith(vector.v1)))).toBe("no_matching_signature")
  })

  it("rejects a stale timestamp in either direction, and accepts the tolerance's edge", () => {
    const headers = headersWith(vector.v1)
    const past = check([v1Key], headers, { now: vector.timestamp + 301 })
    expect(reasonOf(past)).toBe("timestamp_out_of_tolerance")
    expect(left(past).message).toContain("is 301 s in the past; the tolerance is 300 s")
    const future = check([v1Key], headers, { now: vector.timestamp - 301 })
    expect(reasonOf(future)).toBe("timestamp_out_of_tolerance")
    expect(left(future).message).toContain("is 301 s in the future")

    expect(Either.isRight(check([v1Key], headers, { now: vector.timestamp + 300 }))).toBe(true)
    expect(Either.isRight(check([v1Key], headers, { now: vector.timestamp - 300 }))).toBe(true)
    expect(reasonOf(check([v1Key], headers, { now: vector.timestamp + 11, toleranceSeconds: 10 }))).toBe(
      "timestamp_out_of_tolerance"
    )
    // The system clock is now years past the vector's time.
    expect(reasonOf(Signature.verify([v1Key], { headers, body: vector.body }))).toBe("timestamp_out_of_tolerance")
  })

  it("rejects a timestamp that is not whole seconds", () => {
    for (const timestamp of ["soon", "1614265330.5", "-1614265330", "1614265330000000000", " 1614265330"]) {
      const result = check([v1Key], { ...headersWith(vector.v1), "webhook-timestamp": timestamp })
      expect(reasonOf(result)).toBe("invalid_timestamp")
      expect(left(result).message).toContain("webhook-timestamp must be whole seconds since the epoch")
    }
  })

  it("rejects missing or empty headers and names them", () => {
    const full = headersWith(vector.v1)
    for (const name of ["webhook-id", "webhook-timestamp", "webhook-signature"] as const) {
      const { [name]: _, ...without } = full
      const result = check([v1Key], without)
      expect(reasonOf(result)).toBe("missing_headers")
      expect(left(result).message).toBe(
        `webhook signature not verified (missing_headers): missing or empty ${name} header`
      )
      expect(reasonOf(check([v1Key], { ...full, [name]: "" }))).toBe("missing_headers")
    }
    expect(left(check([v1Key], { "content-type": "application/json" })).message).toContain(
      "missing or empty webhook-id, webhook-timestamp, webhook-signature headers"
    )
  })

  it("reads a signature header sent twice, as Node and Fetch join it (\", \"), whichever comes first", () => {
    const ok = Either.right({ scheme: "v1", keyIndex: 0, id: vector.id, timestamp: vector.timestamp })
    expect(check([v1Key], headersWith(`${vector.v1}, v2,xxx`))).toEqual(ok)
    expect(check([v1Key], headersWith(`v2,xxx, ${vector.v1}`))).toEqual(ok)
  })

  it("ignores entries of unknown versions and malformed entries", () => {
    expect(check([v1Key], headersWith(`v2,xxx ${vector.v1}`))).toEqual(
      Either.right({ scheme: "v1", keyIndex: 0, id: vector.id, timestamp: vector.timestamp })
    )
    expect(Either.isRight(check([v1aKey], headersWith(`v1,bogus v1a,short v1a ${vector.v1a}`)))).toBe(true)
    const onlyUnknown = check([v1Key], headersWith("v2,xxx v0"))
    expect(reasonOf(onlyUnknown)).toBe("no_matching_signature")
    expect(left(onlyUnknown).message).toContain("entries: 0 v1, 0 v1a, 2 of other versions ignored")
    // The v1 value is compared as text: a re-encoding with a different length or case does not pass.
    const [, value] = vector.v1.split(",")
    expect(reasonOf(check([v1Key], headersWith(`v1,${value!.toLowerCase()}`)))).toBe("no_matching_signature")
    expect(reasonOf(check([v1Key], headersWith(`v1,${value!.slice(0, -1)}`)))).toBe("no_matching_signature")
  })
})

// ---------------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------------

/** Base64 of `n` bytes of recognisable text, so a leak of any part of it shows. */
const distinctive = (n: number) => Buffer.from("XYZZY-plugh-TopSecret-".repeat(4).slice(0, n)).toString("base64")

/** Every eight-character slice of the secret text: none may appear in what is shown. */
const expectNoLeak = (shown: string, secretText: string) => {
  const body = secretText.replace(/^wh(sec|sk|pk)_/, "")
  if (body.length > 0) expect(shown).not.toContain(body)
  for (let i = 0; i + 8 <= body.length; i++) {
    if (shown.includes(body.slice(i, i + 8))) {
      throw new Error(`shown text contains ${JSON.stringify(body.slice(i, i + 8))} from the secret: ${shown}`)
    }
  }
}

const renderings = (value: unknown): ReadonlyArray<string> => [
  String(value),
  JSON.stringify(value) ?? "",
  util.inspect(value, { showHidden: true, depth: Infinity }),
  util.format("%o", value),
  ...(value instanceof Error ? [value.message, String(value.stack)] : [])
]

describe("Signature keys", () => {
  const secretText = `whsec_${distinctive(32)}`

  it("never show a secret: String, JSON.stringify and util.inspect of keys", () => {
    const keys = [
      right(Signature.parseSecret(secretText)),
      right(Signature.parseSigningKey(secretText)),
      right(Signature.parseVerificationKey(secretText)),
      right(Signature.parseSecret(Redacted.make(secretText)))
    ]
    for (const key of keys) {
      for (const shown of renderings(key)) expectNoLeak(shown, secretText)
      for (const shown of renderings({ nested: [key] })) expectNoLeak(shown, secretText)
      expect(String(key)).toBe("Secret(v1, <redacted>)")
      expect(JSON.stringify(key)).toBe(`{"_id":"Signature.Secret","scheme":"v1","key":"<redacted>"}`)
      expect(Object.keys(key)).not.toContain("key")
    }
    // The parsed key is the secret all the same.
    const message = { id: "msg_1", timestamp: 1, body: new Uint8Array([1, 2, 3]) }
    const fromText = Signature.sign([secret(secretText)], message)
    expect(Signature.sign([right(Signature.parseSecret(Redacted.make(secretText)))], message)).toBe(fromText)
    expect(new StandardWebhook(secretText).sign("msg_1", new Date(1000), "\x01\x02\x03")).toBe(fromText)
  })

  it("never show a whsk_ signing key, but show its public half", () => {
    const key = privateKey(vector.signingKey)
    const seedText = vector.signingKey.slice("whsk_".length, "whsk_".length + 40)
    for (const shown of renderings(key)) {
      expectNoLeak(shown, seedText)
      expect(shown).not.toContain(vector.signingKey)
    }
    expect(String(key)).toBe(`PrivateKey(v1a, <redacted>, ${vector.publicKey})`)
  })

  const rejects: ReadonlyArray<readonly [string, (input: string) => Either.Either<unknown, Signature.InvalidSigningKey>, string, string]> = [
    ["no prefix", Signature.parseSecret, distinctive(32), "missing the whsec_ prefix"],
    ["another key's prefix", Signature.parseSecret, `whsk_${distinctive(64)}`, "expected whsec_ but this is a whsk_ signing key"],
    ["bad base64", Signature.parseSecret, `whsec_${distinctive(32).slice(0, -1)}!`, "the text after whsec_ is not valid base64"],
    ["url-safe base64", Signature.parseSecret, `whsec_${distinctive(32).slice(0, -1)}-`, "the text after whsec_ is not valid base64"],
    ["a trailing newline", Signature.parseSecret, `whsec_${distinctive(32)}\n`, "it contains whitespace (trim the value)"],
    ["nothing after the prefix", Signature.parseSecret, "whsec_", "nothing follows the whsec_ prefix"],
    ["12 bytes", Signature.parseSecret, `whsec_${distinctive(12)}`, "expected whsec_ followed by base64 of 24 to 64 bytes, got 12 bytes"],
    ["16 bytes", Signature.parseSecret, `whsec_${distinctive(16)}`, "expected whsec_ followed by base64 of 24 to 64 bytes, got 16 bytes"],
    ["23 bytes", Signature.parseSecret, `whsec_${distinctive(23)}`, "expected whsec_ followed by base64 of 24 to 64 bytes, got 23 bytes"],
    ["65 bytes", Signature.parseSecret, `whsec_${distinctive(65)}`, "expected whsec_ followed by base64 of 24 to 64 bytes, got 65 bytes"],
    ["a whsk_ of 32 bytes", Signature.parsePrivateKey, `whsk_${distinctive(32)}`, "expected whsk_ followed by base64 of 64 bytes (a 32-byte Ed25519 seed then its 32-byte public key), got 32 bytes"],
    ["a whsk_ of 65 bytes", Signature.parsePrivateKey, `whsk_${distinctive(65)}`, "got 65 bytes"],
    ["a whsk_ whose halves do not match", Signature.parsePrivateKey, `whsk_${distinctive(64)}`, "the second half of the whsk_ key (its public key) does not match the public key derived from its first half (the seed)"],
    ["a whpk_ of 31 bytes", Signature.parsePublicKey, `whpk_${distinctive(31)}`, "expected whpk_ followed by base64 of 32 bytes (an Ed25519 public key), got 31 bytes"],
    ["a whpk_ of 33 bytes", Signature.parsePublicKey, `whpk_${distinctive(33)}`, "got 33 bytes"],
    ["a whpk_ to parseSigningKey", Signature.parseSigningKey, vector.publicKey, "expected whsec_ or whsk_ but this is a whpk_ public key"],
    ["a whsk_ to parseVerificationKey", Signature.parseVerificationKey, `whsk_${distinctive(64)}`, "expected whsec_ or whpk_ but this is a whsk_ signing key"],
    ["no prefix to parseSigningKey", Signature.parseSigningKey, distinctive(32), "missing the whsec_ or whsk_ prefix"]
  ]

  it.each(rejects)("refuses %s with a message that does not quote the key", (_, parse, input, expected) => {
    const error = left(parse(input))
    expect(error).toBeInstanceOf(Signature.InvalidSigningKey)
    expect(error._tag).toBe("InvalidSigningKey")
    expect(error.message).toContain(expected)
    expect(error.message.startsWith("invalid webhook key: ")).toBe(true)
    for (const shown of renderings(error)) expectNoLeak(shown, input)
  })

  it("accepts secrets of 24 and 64 bytes, the bounds", () => {
    expect(Signature.parseSecret(`whsec_${distinctive(24)}`).pipe(Either.isRight)).toBe(true)
    expect(Signature.parseSecret(`whsec_${distinctive(64)}`).pipe(Either.isRight)).toBe(true)
  })

  it("refuses a whsk_ made of one pair's seed and another pair's public key", () => {
    const a = Buffer.from(Signature.generateKeyPair().signingKey.slice(5), "base64")
    const b = Buffer.from(Signature.generateKeyPair().signingKey.slice(5), "base64")
    const mixed = `whsk_${Buffer.concat([a.subarray(0, 32), b.subarray(32)]).toString("base64")}`
    const error = left(Signature.parsePrivateKey(mixed))
    expect(error.reason).toContain("does not match")
    for (const shown of renderings(error)) expectNoLeak(shown, mixed)
    // Each pair on its own is fine.
    expect(Either.isRight(Signature.parsePrivateKey(`whsk_${a.toString("base64")}`))).toBe(true)
  })

  it("isKey recognises parsed keys only", () => {
    expect(Signature.isKey(secret(vector.secret))).toBe(true)
    expect(Signature.isKey(privateKey(vector.signingKey))).toBe(true)
    expect(Signature.isKey(publicKey(vector.publicKey))).toBe(true)
    expect(Signature.isKey({ _tag: "Secret", scheme: "v1" })).toBe(false)
    expect(Signature.isKey(vector.secret)).toBe(false)
  })
})

// ---------------------------------------------------------------------------------------------
// Generation and misuse
// ---------------------------------------------------------------------------------------------

describe("Signature generation", () => {
  it("generateSecret makes fresh 32-byte whsec_ secrets that round-trip", () => {
    const a = Signature.generateSecret()
    const b = Signature.generateSecret()
    expect(a).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/)
    expect(Buffer.from(a.slice(6), "base64")).toHaveLength(32)
    expect(a).not.toBe(b)

    const message = freshMessage("msg_generated")
    const signature = Signature.sign([secret(a)], message)
    const headers = { id: message.id, timestamp: String(message.timestamp), signature }
    expect(Signature.verify([secret(a)], { headers, body: message.body }).pipe(Either.map((v) => v.scheme))).toEqual(
      Either.right("v1")
    )
    expect(Either.isLeft(Signature.verify([secret(b)], { headers, body: message.body }))).toBe(true)
  })

  it("generateKeyPair makes a whsk_/whpk_ pair that round-trips", () => {
    const pair = Signature.generateKeyPair()
    expect(pair.signingKey).toMatch(/^whsk_[A-Za-z0-9+/]{86}==$/)
    expect(pair.publicKey).toMatch(/^whpk_[A-Za-z0-9+/]{43}=$/)
    const signingKey = right(Signature.parseSigningKey(pair.signingKey))
    expect(signingKey._tag).toBe("PrivateKey")
    expect((signingKey as Signature.PrivateKey).publicKey.encoded).toBe(pair.publicKey)

    const message = freshMessage("msg_pair")
    const headers = Signature.signHeaders([signingKey], message)
    expect(headers["webhook-signature"]).toMatch(/^v1a,[A-Za-z0-9+/]{86}==$/)
    const verificationKey = right(Signature.parseVerificationKey(pair.publicKey))
    expect(Signature.verify([verificationKey], { headers, body: message.body }).pipe(Either.map((v) => v.scheme)))
      .toEqual(Either.right("v1a"))
    const otherKey = publicKey(Signature.generateKeyPair().publicKey)
    expect(Either.isLeft(Signature.verify([otherKey], { headers, body: message.body }))).toBe(true)
    expect(pair.signingKey).not.toBe(Signature.generateKeyPair().signingKey)
  })

  it("sign refuses programming errors: no keys, an id with a dot, a timestamp not in whole seconds", () => {
    const key = secret(vector.secret)
    expect(() => Signature.sign([], vectorMessage)).toThrow("signing needs at least one key")
    expect(() => Signature.sign([key], { ...vectorMessage, id: "msg.1" })).toThrow("must not contain \".\"")
    expect(() => Signature.sign([key], { ...vectorMessage, id: "" })).toThrow("non-empty")
    expect(() => Signature.sign([key], { ...vectorMessage, timestamp: 1614265330.5 })).toThrow(
      "whole number of seconds"
    )
    expect(() => Signature.sign([key], { ...vectorMessage, timestamp: Date.now() })).toThrow("looks like milliseconds")
    expect(() => Signature.sign([key], { ...vectorMessage, timestamp: -1 })).toThrow("whole number of seconds")
  })
})
