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
 *
 * @since 0.1.0
 */
import type * as Either from "effect/Either"
import type * as Redacted from "effect/Redacted"
import * as internal from "./internal/signature.js"

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = internal.TypeId

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/**
 * A key's text could not be parsed. `reason` says what was expected and what was found (a
 * prefix, a length, "not valid base64"), never any part of the text itself.
 *
 * @since 0.1.0
 * @category errors
 */
export const InvalidSigningKey: typeof internal.InvalidSigningKey = internal.InvalidSigningKey

/**
 * @since 0.1.0
 * @category errors
 */
export type InvalidSigningKey = internal.InvalidSigningKey

/**
 * A request did not verify. `reason` is one of
 *
 * - `missing_headers`: `webhook-id`, `webhook-timestamp` or `webhook-signature` is absent or empty;
 * - `invalid_timestamp`: `webhook-timestamp` is not whole seconds since the epoch;
 * - `timestamp_out_of_tolerance`: it is further from now than the tolerance (a replay, or a
 *   skewed clock);
 * - `no_matching_signature`: no entry of a known version verifies with any key given.
 *
 * `detail` says more (which headers, how far off, how many entries and keys were tried).
 *
 * @since 0.1.0
 * @category errors
 */
export const SignatureVerificationError: typeof internal.SignatureVerificationError =
  internal.SignatureVerificationError

/**
 * @since 0.1.0
 * @category errors
 */
export type SignatureVerificationError = internal.SignatureVerificationError

// ---------------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------------

/**
 * The signature schemes of the spec: `v1` is HMAC-SHA256, `v1a` is Ed25519.
 *
 * @since 0.1.0
 * @category models
 */
export type Scheme = "v1" | "v1a"

/**
 * A `whsec_` secret, for `v1` signatures. It signs and verifies. Its bytes are held in a
 * `KeyObject` that nothing prints.
 *
 * @since 0.1.0
 * @category models
 */
export interface Secret {
  readonly [TypeId]: TypeId
  readonly _tag: "Secret"
  readonly scheme: "v1"
}

/**
 * A `whsk_` Ed25519 signing key, for `v1a` signatures. Its public half is not secret and can be
 * handed to receivers (`publicKey.encoded`).
 *
 * @since 0.1.0
 * @category models
 */
export interface PrivateKey {
  readonly [TypeId]: TypeId
  readonly _tag: "PrivateKey"
  readonly scheme: "v1a"
  readonly publicKey: PublicKey
}

/**
 * A `whpk_` Ed25519 public key: it verifies `v1a` signatures and cannot make them.
 *
 * @since 0.1.0
 * @category models
 */
export interface PublicKey {
  readonly [TypeId]: TypeId
  readonly _tag: "PublicKey"
  readonly scheme: "v1a"
  /** The key as text: `whpk_` followed by the base64 of its 32 bytes. */
  readonly encoded: string
}

/**
 * What a sender signs with.
 *
 * @since 0.1.0
 * @category models
 */
export type SigningKey = Secret | PrivateKey

/**
 * What a receiver verifies with.
 *
 * @since 0.1.0
 * @category models
 */
export type VerificationKey = Secret | PublicKey

/**
 * @since 0.1.0
 * @category models
 */
export type Key = Secret | PrivateKey | PublicKey

/**
 * Parses a `whsec_` secret: `whsec_` followed by the standard, padded base64 of 24 to 64 bytes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const parseSecret: (input: string | Redacted.Redacted<string>) => Either.Either<Secret, InvalidSigningKey> =
  internal.parseSecret

/**
 * Parses a `whsk_` signing key: `whsk_` followed by the base64 of 64 bytes, a 32-byte Ed25519
 * seed then the 32-byte public key it derives (refused when the halves do not match).
 *
 * @since 0.1.0
 * @category constructors
 */
export const parsePrivateKey: (
  input: string | Redacted.Redacted<string>
) => Either.Either<PrivateKey, InvalidSigningKey> = internal.parsePrivateKey

/**
 * Parses a `whpk_` public key: `whpk_` followed by the base64 of 32 bytes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const parsePublicKey: (
  input: string | Redacted.Redacted<string>
) => Either.Either<PublicKey, InvalidSigningKey> = internal.parsePublicKey

/**
 * Parses a key a sender signs with, chosen by its prefix: `whsec_` or `whsk_`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const parseSigningKey: (
  input: string | Redacted.Redacted<string>
) => Either.Either<SigningKey, InvalidSigningKey> = internal.parseSigningKey

/**
 * Parses a key a receiver verifies with, chosen by its prefix: `whsec_` or `whpk_`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const parseVerificationKey: (
  input: string | Redacted.Redacted<string>
) => Either.Either<VerificationKey, InvalidSigningKey> = internal.parseVerificationKey

/**
 * @since 0.1.0
 * @category refinements
 */
export const isKey: (u: unknown) => u is Key = internal.isKey

/**
 * A fresh `whsec_` secret of 32 random bytes, as text (store it as a secret).
 *
 * @since 0.1.0
 * @category constructors
 */
export const generateSecret: () => string = internal.generateSecret

/**
 * A fresh Ed25519 key pair, as text: the `whsk_` signing key for the sender (store it as a
 * secret) and the `whpk_` public key for receivers.
 *
 * @since 0.1.0
 * @category constructors
 */
export const generateKeyPair: () => { readonly signingKey: string; readonly publicKey: string } =
  internal.generateKeyPair

// ---------------------------------------------------------------------------------------------
// Signing
// ---------------------------------------------------------------------------------------------

/**
 * What is signed: the message id (the same on every retry, without a `.`), the attempt's Unix
 * time in whole seconds, and the exact bytes sent as the body.
 *
 * @since 0.1.0
 * @category models
 */
export interface Message {
  readonly id: string
  readonly timestamp: number
  readonly body: Uint8Array
}

/**
 * The three headers a signed request carries. (A type alias rather than an interface, so that it
 * is a `HeadersRecord` and can be handed to `verify` as is.)
 *
 * @since 0.1.0
 * @category models
 */
export type SignedHeaders = {
  readonly "webhook-id": string
  readonly "webhook-timestamp": string
  readonly "webhook-signature": string
}

/**
 * The `webhook-signature` header value: one `v1,<base64>` (secret) or `v1a,<base64>` (signing
 * key) entry per key, in the order given, separated by single spaces.
 *
 * Throws a `TypeError` on a programming error: no keys, an empty id or one containing `.`, or
 * a timestamp that is not a non-negative whole number of seconds (or is so large that it must
 * be milliseconds).
 *
 * @since 0.1.0
 * @category signing
 */
export const sign: (keys: ReadonlyArray<SigningKey>, message: Message) => string = internal.sign

/**
 * `sign`, returned with the id and timestamp as the three `webhook-*` request headers.
 *
 * @since 0.1.0
 * @category signing
 */
export const signHeaders: (keys: ReadonlyArray<SigningKey>, message: Message) => SignedHeaders =
  internal.signHeaders

// ---------------------------------------------------------------------------------------------
// Verification
// ---------------------------------------------------------------------------------------------

/**
 * The three signature headers, already picked out of a request.
 *
 * @since 0.1.0
 * @category models
 */
export interface SignatureHeaders {
  readonly id: string
  readonly timestamp: string | number
  readonly signature: string
}

/**
 * A request's headers with lower-case names, as Node (`IncomingMessage.headers`) and
 * `@effect/platform` (`Headers`) give them. Several `webhook-signature` values are read as one
 * list.
 *
 * @since 0.1.0
 * @category models
 */
export type HeadersRecord = Readonly<Record<string, string | ReadonlyArray<string> | undefined>>

/**
 * @since 0.1.0
 * @category models
 */
export interface VerifyRequest {
  readonly headers: SignatureHeaders | HeadersRecord
  readonly body: Uint8Array
}

/**
 * `now` is the receiver's Unix time in seconds (the system clock when absent);
 * `toleranceSeconds` is how far `webhook-timestamp` may be from it, either way (300 when absent).
 *
 * @since 0.1.0
 * @category models
 */
export interface VerifyOptions {
  readonly now?: number
  readonly toleranceSeconds?: number
}

/**
 * A verified request: the scheme of the entry that matched, the index in the given keys of the
 * key that verified it (watch it during a rotation), and the id and timestamp it was signed for.
 *
 * @since 0.1.0
 * @category models
 */
export interface Verified {
  readonly scheme: Scheme
  readonly keyIndex: number
  readonly id: string
  readonly timestamp: number
}

/**
 * Checks a request the way the spec tells receivers to: all three headers present, the
 * timestamp within tolerance, then any `v1` or `v1a` entry of `webhook-signature` verifying
 * with any of `keys` (`v1` entries with the secrets, compared in constant time; `v1a` entries
 * with the public keys). Entries of other versions are ignored.
 *
 * @since 0.1.0
 * @category verification
 */
export const verify: (
  keys: ReadonlyArray<VerificationKey>,
  request: VerifyRequest,
  options?: VerifyOptions
) => Either.Either<Verified, SignatureVerificationError> = internal.verify
