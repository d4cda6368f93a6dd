/**
 * Standard Webhooks signatures (spec v1.0.0): the `webhook-signature` header a sender computes
 * and a receiver checks.
 *
 * The signed bytes are `${webhook-id}.${webhook-timestamp}.${body}`, where the body is exactly
 * the bytes sent. Two schemes exist:
 *
 * - `v1`, HMAC-SHA256 with a shared secret `whsec_<base64 of 24 to 64 bytes>`;
 * - `v1a`, Ed25519 with a signing key `whsk_<base64 of seed || public key>` whose receivers
 *   hold only the public key `whpk_<base64 of 32 bytes>`.
 *
 * The header lists one `<version>,<base64>` entry per key, separated by single spaces: signing
 * with the old and the new key at once is how keys rotate, and a receiver accepts a request when
 * any entry verifies with any key it holds.
 *
 * ```ts
 * const key = Either.getOrThrow(Signature.parseSigningKey(secretText))   // once, at startup
 * const headers = Signature.signHeaders([key], { id, timestamp, body })  // per attempt
 *
 * const verified = Signature.verify([Either.getOrThrow(Signature.parseVerificationKey(secretText))], {
 *   headers: request.headers,
 *   body
 * })
 * ```
 *
 * Keys are parsed once into Node `KeyObject`s kept out of reach: `String(key)`,
 * `JSON.stringify(key)` and `util.inspect(key)` show `<redacted>`, and no error message quotes
 * a key's text. Everything here is synchronous and pure apart from `generate*`, which draws
 * randomness, and `verify`, which reads the system clock unless given `now`.
 */
import * as crypto from "node:crypto"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import {
  decode,
  importPublicKey,
  maxSecretBytes,
  minSecretBytes,
  PrivateKeyImpl,
  privateKeyPrefix,
  PublicKeyImpl,
  publicKeyPrefix,
  reveal,
  SecretImpl,
  secretPrefix,
  strictBase64,
  TypeId as keyTypeId
} from "./internal/keyMaterial.js"

/** Marks the keys this module makes (the symbol lives with the key classes, in internal/keyMaterial.ts). */
export const TypeId: typeof keyTypeId = keyTypeId

export type TypeId = typeof TypeId

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/**
 * A key's text could not be parsed. `reason` says what was expected and what was found (a
 * prefix, a length, "not valid base64"), never any part of the text itself.
 */
export class InvalidSigningKey extends Schema.TaggedError<InvalidSigningKey>("servo-webhooks/InvalidSigningKey")(
  "InvalidSigningKey",
  {
    // What was wrong, in words that never quote the input: the input is a secret.
    reason: Schema.String
  }
) {
  override get message(): string {
    return `invalid webhook key: ${this.reason}`
  }
}

/**
 * A request did not verify. `reason` is one of
 *
 * - `missing_headers`: `webhook-id`, `webhook-timestamp` or `webhook-signature` is absent or empty;
 * - `invalid_timestamp`: `webhook-timestamp` is not whole seconds since the epoch;
 * - `timestamp_out_of_tolerance`: it is further from now than the tolerance (a replay, or a
 *   skewed clock);
 * - `no_matching_signature`: no entry of a known version verifies with any key given;
 * - `invalid_body`: the body is neither bytes nor a string (a parsed JSON object, say: verify the
 *   raw body, before any parser touches it).
 *
 * `detail` says more (which headers, how far off, how many entries and keys were tried).
 */
export class SignatureVerificationError
  extends Schema.TaggedError<SignatureVerificationError>("servo-webhooks/SignatureVerificationError")(
    "SignatureVerificationError",
    {
      reason: Schema.Literal(
        "missing_headers",
        "timestamp_out_of_tolerance",
        "invalid_timestamp",
        "no_matching_signature",
        "invalid_body"
      ),
      detail: Schema.String
    }
  )
{
  override get message(): string {
    return `webhook signature not verified (${this.reason}): ${this.detail}`
  }
}

// ---------------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------------

/** The signature schemes of the spec: `v1` is HMAC-SHA256, `v1a` is Ed25519. */
export type Scheme = "v1" | "v1a"

/**
 * A `whsec_` secret, for `v1` signatures. It signs and verifies. Its bytes are held in a
 * `KeyObject` that nothing prints.
 */
export interface Secret {
  readonly [TypeId]: TypeId
  readonly _tag: "Secret"
  readonly scheme: "v1"
}

/**
 * A `whsk_` Ed25519 signing key, for `v1a` signatures. Its public half is not secret and can be
 * handed to receivers (`publicKey.encoded`).
 */
export interface PrivateKey {
  readonly [TypeId]: TypeId
  readonly _tag: "PrivateKey"
  readonly scheme: "v1a"
  readonly publicKey: PublicKey
}

/** A `whpk_` Ed25519 public key: it verifies `v1a` signatures and cannot make them. */
export interface PublicKey {
  readonly [TypeId]: TypeId
  readonly _tag: "PublicKey"
  readonly scheme: "v1a"
  /** The key as text: `whpk_` followed by the base64 of its 32 bytes. */
  readonly encoded: string
}

/** What a sender signs with. */
export type SigningKey = Secret | PrivateKey

/** What a receiver verifies with. */
export type VerificationKey = Secret | PublicKey

export type Key = Secret | PrivateKey | PublicKey

type Input = string | Redacted.Redacted<string>

const invalid = (reason: string) => Either.left(new InvalidSigningKey({ reason }))


const plural = (n: number) => (n === 1 ? "1 byte" : `${n} bytes`)

const makeSecret = (bytes: Buffer): Either.Either<Secret, InvalidSigningKey> => {
  if (bytes.length < minSecretBytes || bytes.length > maxSecretBytes) {
    return invalid(
      `expected whsec_ followed by base64 of ${minSecretBytes} to ${maxSecretBytes} bytes, got ${plural(bytes.length)}`
    )
  }
  return Either.right(new SecretImpl(crypto.createSecretKey(bytes)))
}


const makePrivateKey = (bytes: Buffer): Either.Either<PrivateKey, InvalidSigningKey> => {
  if (bytes.length !== 64) {
    return invalid(
      `expected whsk_ followed by base64 of 64 bytes (a 32-byte Ed25519 seed then its 32-byte public key), ` +
        `got ${plural(bytes.length)}`
    )
  }
  const seed = bytes.subarray(0, 32)
  const declaredPublic = bytes.subarray(32)
  let key: crypto.KeyObject
  try {
    // Node derives the public key from `d` and ignores `x`, so the halves are compared below.
    key = crypto.createPrivateKey({
      key: { kty: "OKP", crv: "Ed25519", d: seed.toString("base64url"), x: declaredPublic.toString("base64url") },
      format: "jwk"
    })
  } catch {
    return invalid("the whsk_ key is not a valid Ed25519 key")
  }
  const derived = Buffer.from(crypto.createPublicKey(key).export({ format: "jwk" }).x!, "base64url")
  if (!crypto.timingSafeEqual(derived, declaredPublic)) {
    return invalid(
      "the second half of the whsk_ key (its public key) does not match the public key derived from its first half (the seed)"
    )
  }
  return Either.right(new PrivateKeyImpl(key, importPublicKey(derived)))
}

const makePublicKey = (bytes: Buffer): Either.Either<PublicKey, InvalidSigningKey> => {
  if (bytes.length !== 32) {
    return invalid(`expected whpk_ followed by base64 of 32 bytes (an Ed25519 public key), got ${plural(bytes.length)}`)
  }
  try {
    return Either.right(importPublicKey(bytes))
  } catch {
    return invalid("the whpk_ key is not a valid Ed25519 public key")
  }
}

const parseWith = <K>(
  input: Input,
  accepted: ReadonlyArray<string>,
  makers: Readonly<Record<string, (bytes: Buffer) => Either.Either<K, InvalidSigningKey>>>
): Either.Either<K, InvalidSigningKey> => {
  const text = reveal(input)
  if (typeof text !== "string") return invalid(`expected a string, got ${text === null ? "null" : typeof text}`)
  const prefix = accepted.find((p) => text.startsWith(p)) ?? accepted[0]!
  const bytes = decode(text, prefix, accepted)
  return Either.isLeft(bytes) ? invalid(bytes.left) : makers[prefix]!(bytes.right)
}

/**
 * Parses a `whsec_` secret: `whsec_` followed by the standard, padded base64 of 24 to 64 bytes.
 */
export const parseSecret = (input: Input): Either.Either<Secret, InvalidSigningKey> =>
  parseWith(input, [secretPrefix], { [secretPrefix]: makeSecret })

/**
 * Parses a `whsk_` signing key: `whsk_` followed by the base64 of 64 bytes, a 32-byte Ed25519
 * seed then the 32-byte public key it derives (refused when the halves do not match).
 */
export const parsePrivateKey = (input: Input): Either.Either<PrivateKey, InvalidSigningKey> =>
  parseWith(input, [privateKeyPrefix], { [privateKeyPrefix]: makePrivateKey })

/** Parses a `whpk_` public key: `whpk_` followed by the base64 of 32 bytes. */
export const parsePublicKey = (input: Input): Either.Either<PublicKey, InvalidSigningKey> =>
  parseWith(input, [publicKeyPrefix], { [publicKeyPrefix]: makePublicKey })

/** Parses a key a sender signs with, chosen by its prefix: `whsec_` or `whsk_`. */
export const parseSigningKey = (input: Input): Either.Either<SigningKey, InvalidSigningKey> =>
  parseWith<SigningKey>(input, [secretPrefix, privateKeyPrefix], {
    [secretPrefix]: makeSecret,
    [privateKeyPrefix]: makePrivateKey
  })

/** Parses a key a receiver verifies with, chosen by its prefix: `whsec_` or `whpk_`. */
export const parseVerificationKey = (input: Input): Either.Either<VerificationKey, InvalidSigningKey> =>
  parseWith<VerificationKey>(input, [secretPrefix, publicKeyPrefix], {
    [secretPrefix]: makeSecret,
    [publicKeyPrefix]: makePublicKey
  })

export const isKey = (u: unknown): u is Key =>
  u instanceof SecretImpl || u instanceof PrivateKeyImpl || u instanceof PublicKeyImpl

/** A fresh `whsec_` secret of 32 random bytes, as text (store it as a secret). */
export const generateSecret = (): string => secretPrefix + crypto.randomBytes(32).toString("base64")

/**
 * A fresh Ed25519 key pair, as text: the `whsk_` signing key for the sender (store it as a
 * secret) and the `whpk_` public key for receivers.
 */
export const generateKeyPair = (): { readonly signingKey: string; readonly publicKey: string } => {
  const { privateKey } = crypto.generateKeyPairSync("ed25519")
  const jwk = privateKey.export({ format: "jwk" })
  const seed = Buffer.from(jwk.d!, "base64url")
  const publicKey = Buffer.from(jwk.x!, "base64url")
  return {
    signingKey: privateKeyPrefix + Buffer.concat([seed, publicKey]).toString("base64"),
    publicKey: publicKeyPrefix + publicKey.toString("base64")
  }
}

// ---------------------------------------------------------------------------------------------
// Signing
// ---------------------------------------------------------------------------------------------

/**
 * What is signed: the message id (the same on every retry, without a `.`), the attempt's Unix
 * time in whole seconds, and the exact bytes sent as the body.
 */
export interface Message {
  readonly id: string
  readonly timestamp: number
  readonly body: Uint8Array
}

/**
 * The three headers a signed request carries. (A type alias rather than an interface, so that it
 * is a `HeadersRecord` and can be handed to `verify` as is.)
 */
export type SignedHeaders = {
  readonly "webhook-id": string
  readonly "webhook-timestamp": string
  readonly "webhook-signature": string
}

// 10^11 s is the year 5138; Date.now() (milliseconds) has been above it since 1973.
const maxPlausibleSeconds = 1e11

const checkMessage = (id: string, timestamp: number): void => {
  if (typeof id !== "string" || id.length === 0) throw new TypeError("a webhook id must be a non-empty string")
  if (id.includes(".")) throw new TypeError("a webhook id must not contain \".\" (it separates the signed fields)")
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw new TypeError(`a webhook timestamp must be a whole number of seconds since the epoch, got ${timestamp}`)
  }
  if (timestamp >= maxPlausibleSeconds) {
    throw new TypeError(`a webhook timestamp is in seconds since the epoch; ${timestamp} looks like milliseconds`)
  }
}

/** `${prefix}${body}` as one buffer: Ed25519 reads the message twice, so it cannot be streamed. */
const concat = (prefix: string, body: Uint8Array): Buffer => {
  const prefixLength = Buffer.byteLength(prefix)
  const data = Buffer.allocUnsafe(prefixLength + body.length)
  data.write(prefix, 0)
  data.set(body, prefixLength)
  return data
}

/**
 * The `webhook-signature` header value: one `v1,<base64>` (secret) or `v1a,<base64>` (signing
 * key) entry per key, in the order given, separated by single spaces.
 *
 * Throws a `TypeError` on a programming error: no keys, an empty id or one containing `.`, or
 * a timestamp that is not a non-negative whole number of seconds (or is so large that it must
 * be milliseconds).
 */
export const sign = (keys: ReadonlyArray<SigningKey>, message: Message): string => {
  const { body, id, timestamp } = message
  checkMessage(id, timestamp)
  if (keys.length === 0) throw new TypeError("signing needs at least one key")
  const prefix = `${id}.${timestamp}.`
  let data: Buffer | undefined
  let header = ""
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]
    let entry: string
    if (key instanceof SecretImpl) {
      entry = "v1," + key.hmac(prefix, body).toString("base64")
    } else if (key instanceof PrivateKeyImpl) {
      data ??= concat(prefix, body)
      entry = "v1a," + key.sign(data).toString("base64")
    } else {
      throw new TypeError("sign expects keys made by Signature.parseSecret, parsePrivateKey or parseSigningKey")
    }
    header = i === 0 ? entry : header + " " + entry
  }
  return header
}

/** `sign`, returned with the id and timestamp as the three `webhook-*` request headers. */
export const signHeaders = (
  keys: ReadonlyArray<SigningKey>,
  message: Message
): SignedHeaders => ({
  "webhook-id": message.id,
  "webhook-timestamp": String(message.timestamp),
  "webhook-signature": sign(keys, message)
})

// ---------------------------------------------------------------------------------------------
// Verification
// ---------------------------------------------------------------------------------------------

/** The three signature headers, already picked out of a request. */
export interface SignatureHeaders {
  readonly id: string
  readonly timestamp: string | number
  readonly signature: string
}

/**
 * A request's headers with lower-case names, as Node (`IncomingMessage.headers`) and
 * `@effect/platform` (`Headers`) give them. Several `webhook-signature` values are read as one
 * list.
 */
export type HeadersRecord = Readonly<Record<string, string | ReadonlyArray<string> | undefined>>

/**
 * `body` is the request body exactly as received: its bytes, or a string whose UTF-8 encoding they
 * are (what `express.text()` or `await request.text()` give). A body that was parsed as JSON and
 * serialised again is not the body that was signed.
 */
export interface VerifyRequest {
  readonly headers: SignatureHeaders | HeadersRecord
  readonly body: Uint8Array | string
}

/**
 * `now` is the receiver's Unix time in seconds (the system clock when absent);
 * `toleranceSeconds` is how far `webhook-timestamp` may be from it, either way (300 when absent).
 */
export interface VerifyOptions {
  readonly now?: number
  readonly toleranceSeconds?: number
}

/**
 * A verified request: the scheme of the entry that matched, the index in the given keys of the
 * key that verified it (watch it during a rotation), and the id and timestamp it was signed for.
 */
export interface Verified {
  readonly scheme: Scheme
  readonly keyIndex: number
  readonly id: string
  readonly timestamp: number
}

const verificationError = (reason: SignatureVerificationError["reason"], detail: string) =>
  Either.left(new SignatureVerificationError({ reason, detail }))

const defaultToleranceSeconds = 300

type HeaderValue = string | ReadonlyArray<string> | undefined

const single = (value: HeaderValue): string | undefined =>
  typeof value === "string" ? value : value !== undefined && value.length === 1 ? value[0] : undefined

const readHeaders = (
  headers: VerifyRequest["headers"]
): { id: string | undefined; timestamp: string | undefined; signature: string | undefined } => {
  const record = headers as Readonly<Record<string, unknown>>
  if ("webhook-id" in record || "webhook-timestamp" in record || "webhook-signature" in record) {
    const h = headers as HeadersRecord
    const signature = h["webhook-signature"]
    return {
      id: single(h["webhook-id"]),
      timestamp: single(h["webhook-timestamp"]),
      // Several signature headers are one list: their entries are all candidates.
      signature: typeof signature === "string" || signature === undefined ? signature : signature.join(" ")
    }
  }
  const h = headers as Partial<SignatureHeaders>
  return {
    id: typeof h.id === "string" ? h.id : undefined,
    timestamp: typeof h.timestamp === "string"
      ? h.timestamp
      : typeof h.timestamp === "number"
      ? String(h.timestamp)
      : undefined,
    signature: typeof h.signature === "string" ? h.signature : undefined
  }
}

const integerSeconds = /^[0-9]{1,15}$/

/** The bytes that were signed: a string stands for its UTF-8 encoding. */
const bytesOf = (body: unknown): Uint8Array | undefined =>
  typeof body === "string" ? Buffer.from(body, "utf8") : body instanceof Uint8Array ? body : undefined

const describeBody = (body: unknown): string =>
  body === null
    ? "null"
    : body instanceof ArrayBuffer
    ? "an ArrayBuffer (wrap it: new Uint8Array(buffer))"
    : Array.isArray(body)
    ? "an array"
    : typeof body === "object"
    ? "an object (a parsed body?)"
    : typeof body

const describeValue = (value: string) => JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)

/**
 * Checks a request the way the spec tells receivers to: all three headers present, the
 * timestamp within tolerance, then any `v1` or `v1a` entry of `webhook-signature` verifying
 * with any of `keys` (`v1` entries with the secrets, compared in constant time; `v1a` entries
 * with the public keys). Entries of other versions are ignored.
 */
export const verify = (
  keys: ReadonlyArray<VerificationKey>,
  request: VerifyRequest,
  options?: VerifyOptions
): Either.Either<Verified, SignatureVerificationError> => {
  const body = bytesOf(request.body)
  if (body === undefined) {
    // Without this, an object body (express.json()'s, say) would be hashed as nothing and end as
    // a puzzling no_matching_signature.
    return verificationError(
      "invalid_body",
      `expected the raw body as bytes (a Uint8Array or Buffer) or a string, got ${describeBody(request.body)}; ` +
        "verify the body as received, before parsing it (express.raw({ type: \"*/*\" }), request.text())"
    )
  }
  const { id, signature, timestamp } = readHeaders(request.headers)
  const missing: Array<string> = []
  if (id === undefined || id === "") missing.push("webhook-id")
  if (timestamp === undefined || timestamp === "") missing.push("webhook-timestamp")
  if (signature === undefined || signature.trim() === "") missing.push("webhook-signature")
  if (missing.length > 0) {
    return verificationError(
      "missing_headers",
      `missing or empty ${missing.join(", ")} header${missing.length === 1 ? "" : "s"}`
    )
  }
  if (!integerSeconds.test(timestamp!)) {
    return verificationError(
      "invalid_timestamp",
      `webhook-timestamp must be whole seconds since the epoch, got ${describeValue(timestamp!)}`
    )
  }
  const seconds = Number(timestamp)
  const now = options?.now ?? Math.floor(Date.now() / 1000)
  const tolerance = options?.toleranceSeconds ?? defaultToleranceSeconds
  const skew = now - seconds
  if (Math.abs(skew) > tolerance) {
    return verificationError(
      "timestamp_out_of_tolerance",
      `webhook-timestamp ${seconds} is ${Math.abs(skew)} s in the ${skew > 0 ? "past" : "future"}; ` +
        `the tolerance is ${tolerance} s (check the sender's clock, or this is a replay)`
    )
  }
  if (keys.length === 0) return verificationError("no_matching_signature", "no verification keys were given")

  const prefix = `${id}.${timestamp}.`
  // Computed at most once per key (v1) or once per request (v1a), and only if an entry needs it.
  const expected: Array<Buffer | undefined> = []
  let data: Buffer | undefined
  let v1 = 0
  let v1a = 0
  let unknown = 0
  for (const raw of signature!.split(" ")) {
    // A header sent twice arrives joined with ", " (Node, Fetch): drop that separator's comma,
    // which base64 never contains.
    const entry = raw.endsWith(",") ? raw.slice(0, -1) : raw
    if (entry === "") continue
    const comma = entry.indexOf(",")
    const version = comma === -1 ? entry : entry.slice(0, comma)
    const value = comma === -1 ? "" : entry.slice(comma + 1)
    if (version === "v1") {
      v1++
      const given = Buffer.from(value)
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i]
        if (!(key instanceof SecretImpl)) continue
        const mac = expected[i] ??= Buffer.from(key.hmac(prefix, body).toString("base64"))
        if (given.length === mac.length && crypto.timingSafeEqual(given, mac)) {
          return Either.right({ scheme: "v1", keyIndex: i, id: id!, timestamp: seconds })
        }
      }
    } else if (version === "v1a") {
      v1a++
      if (value.length !== 88 || !strictBase64.test(value)) continue
      const given = Buffer.from(value, "base64")
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i]
        if (!(key instanceof PublicKeyImpl)) continue
        data ??= concat(prefix, body)
        if (key.verify(data, given)) {
          return Either.right({ scheme: "v1a", keyIndex: i, id: id!, timestamp: seconds })
        }
      }
    } else {
      unknown++
    }
  }
  const secrets = keys.filter((key) => key instanceof SecretImpl).length
  const publicKeys = keys.filter((key) => key instanceof PublicKeyImpl).length
  return verificationError(
    "no_matching_signature",
    `no signature in webhook-signature matches the body with any key ` +
      `(entries: ${v1} v1, ${v1a} v1a, ${unknown} of other versions ignored; ` +
      `keys: ${secrets} whsec_ secret${secrets === 1 ? "" : "s"}, ${publicKeys} whpk_ public key${
        publicKeys === 1 ? "" : "s"
      })`
  )
}
