/**
 * Webhook keys as material and as text: the classes that hold a Node `KeyObject` where nothing
 * prints it, and the `whsec_` / `whsk_` / `whpk_` text forms (prefix, strict base64). Reasons for
 * bad text name the expected shape and never quote the text: it is a secret.
 */
import * as crypto from "node:crypto"
import * as Either from "effect/Either"
import { NodeInspectSymbol } from "effect/Inspectable"
import * as Redacted from "effect/Redacted"
import type { PrivateKey, PublicKey, Secret } from "../Signature.js"

export const TypeId: unique symbol = Symbol.for("servo-webhooks/Signature")

export const secretPrefix = "whsec_"
export const privateKeyPrefix = "whsk_"
export const publicKeyPrefix = "whpk_"

export const minSecretBytes = 24
export const maxSecretBytes = 64

const redactedMaterial = "<redacted>"

// The key material lives in a private field: it is not a property, so no `Object.keys`,
// `JSON.stringify`, `util.inspect` or deep-equality walk can reach it.

export class SecretImpl implements Secret {
  readonly [TypeId]: typeof TypeId = TypeId
  readonly _tag = "Secret" as const
  readonly scheme = "v1" as const
  readonly #key: crypto.KeyObject
  constructor(key: crypto.KeyObject) {
    this.#key = key
  }
  /** HMAC-SHA256 of `prefix` then `body`, without copying the body. */
  hmac(prefix: string, body: Uint8Array): Buffer {
    return crypto.createHmac("sha256", this.#key).update(prefix).update(body).digest()
  }
  toJSON(): unknown {
    return { _id: "Signature.Secret", scheme: this.scheme, key: redactedMaterial }
  }
  toString(): string {
    return `Secret(${this.scheme}, ${redactedMaterial})`
  }
  [NodeInspectSymbol](): unknown {
    return this.toJSON()
  }
}

export class PublicKeyImpl implements PublicKey {
  readonly [TypeId]: typeof TypeId = TypeId
  readonly _tag = "PublicKey" as const
  readonly scheme = "v1a" as const
  readonly encoded: string
  readonly #key: crypto.KeyObject
  constructor(key: crypto.KeyObject, raw: Uint8Array) {
    this.#key = key
    this.encoded = publicKeyPrefix + Buffer.from(raw).toString("base64")
  }
  verify(data: Buffer, signature: Buffer): boolean {
    return crypto.verify(null, data, this.#key, signature)
  }
  toJSON(): unknown {
    return { _id: "Signature.PublicKey", scheme: this.scheme, encoded: this.encoded }
  }
  toString(): string {
    return `PublicKey(${this.scheme}, ${this.encoded})`
  }
  [NodeInspectSymbol](): unknown {
    return this.toJSON()
  }
}

export class PrivateKeyImpl implements PrivateKey {
  readonly [TypeId]: typeof TypeId = TypeId
  readonly _tag = "PrivateKey" as const
  readonly scheme = "v1a" as const
  readonly publicKey: PublicKeyImpl
  readonly #key: crypto.KeyObject
  constructor(key: crypto.KeyObject, publicKey: PublicKeyImpl) {
    this.#key = key
    this.publicKey = publicKey
  }
  sign(data: Buffer): Buffer {
    return crypto.sign(null, data, this.#key)
  }
  toJSON(): unknown {
    return { _id: "Signature.PrivateKey", scheme: this.scheme, key: redactedMaterial, publicKey: this.publicKey.encoded }
  }
  toString(): string {
    return `PrivateKey(${this.scheme}, ${redactedMaterial}, ${this.publicKey.encoded})`
  }
  [NodeInspectSymbol](): unknown {
    return this.toJSON()
  }
}

export type Input = string | Redacted.Redacted<string>

export const reveal = (input: Input): string => Redacted.isRedacted(input) ? Redacted.value(input) : input

export const strictBase64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

const prefixOf = (text: string): string | undefined =>
  text.startsWith(secretPrefix)
    ? secretPrefix
    : text.startsWith(privateKeyPrefix)
    ? privateKeyPrefix
    : text.startsWith(publicKeyPrefix)
    ? publicKeyPrefix
    : undefined

const describePrefix = (prefix: string): string =>
  prefix === secretPrefix
    ? "a whsec_ secret"
    : prefix === privateKeyPrefix
    ? "a whsk_ signing key"
    : "a whpk_ public key"

/**
 * The bytes after `prefix`, or why there are none. Reasons name the expected shape and never
 * quote the text.
 */
export const decode = (text: string, prefix: string, accepted: ReadonlyArray<string>): Either.Either<Buffer, string> => {
  if (!text.startsWith(prefix)) {
    const found = prefixOf(text)
    const wanted = accepted.join(" or ")
    return Either.left(
      found === undefined
        ? `missing the ${wanted} prefix`
        : `expected ${wanted} but this is ${describePrefix(found)}`
    )
  }
  const body = text.slice(prefix.length)
  if (body.length === 0) return Either.left(`nothing follows the ${prefix} prefix`)
  if (!strictBase64.test(body)) {
    return Either.left(
      /\s/.test(body)
        ? `the text after ${prefix} is not valid base64: it contains whitespace (trim the value)`
        : `the text after ${prefix} is not valid base64 (standard alphabet A-Z a-z 0-9 + /, padded with =)`
    )
  }
  return Either.right(Buffer.from(body, "base64"))
}

export const importPublicKey = (raw: Uint8Array): PublicKeyImpl =>
  new PublicKeyImpl(
    crypto.createPublicKey({
      key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(raw).toString("base64url") },
      format: "jwk"
    }),
    raw
  )
