/**
 * A webhook receiver for people writing responders, demos and tests: a `node:http` server that
 * accepts deliveries of the wire contract, checks their Standard Webhooks signature, answers each
 * with an acceptance (`204`) or a cancellation (the cancel content type and `{"reason": ...}`),
 * and reports every delivery as it arrives.
 *
 * ```ts
 * const receiver = yield* Receiver.make({
 *   keys: [Either.getOrThrow(Signature.parseVerificationKey(secret))],
 *   policy: (request) => request.event === "before:adjust" ? Receiver.cancel("change freeze") : Receiver.accept,
 *   onDelivery: (delivery) => Console.log(Receiver.formatDelivery(delivery))
 * })
 * // receiver.url: http://127.0.0.1:<port>/ — closed with the scope
 * ```
 *
 * It binds `127.0.0.1` and a free port unless told otherwise. `servo webhooks listen` is this
 * receiver with a printer; the demo and the CLI tests use it too.
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/receiver.js"
import type * as Signature from "./Signature.js"

/**
 * What the receiver makes of a request's signature:
 *
 * - `Verified` — it verifies with one of the receiver's keys;
 * - `Invalid` — it is signed but does not verify (`reason` says why: a wrong key, an old
 *   timestamp, ...), or keys were given and the signature headers are incomplete;
 * - `Unsigned` — no `webhook-signature` header;
 * - `Unchecked` — signed, but the receiver holds no key to check it with.
 *
 * @since 0.1.0
 * @category models
 */
export type SignatureCheck =
  | { readonly _tag: "Verified"; readonly scheme: Signature.Scheme; readonly keyIndex: number }
  | { readonly _tag: "Invalid"; readonly reason: string }
  | { readonly _tag: "Unsigned" }
  | { readonly _tag: "Unchecked" }

/**
 * A delivery as it arrived, before the receiver answers it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Request {
  /** `servo-event` (or the body's `event`): `before:adjust`, `after:measure`, ... */
  readonly event: string
  /** `webhook-id`, the same on every retry of a delivery. */
  readonly id: string | undefined
  readonly path: string
  /** Lower-case names; repeated headers joined with `, `. */
  readonly headers: Readonly<Record<string, string>>
  readonly body: Uint8Array
  /** The body parsed as JSON, `undefined` when it is not JSON. */
  readonly json: unknown
  readonly signature: SignatureCheck
}

/**
 * How the receiver answers a delivery.
 *
 * @since 0.1.0
 * @category models
 */
export type Decision = { readonly _tag: "Accept" } | { readonly _tag: "Cancel"; readonly reason: string }

/**
 * Answer `204 No Content`.
 *
 * @since 0.1.0
 * @category decisions
 */
export const accept: Decision = internal.accept

/**
 * Answer `200` with the cancel content type and `{"reason": reason}`: a before event is
 * cancelled, an after event's sender logs it and goes on.
 *
 * @since 0.1.0
 * @category decisions
 */
export const cancel: (reason: string) => Decision = internal.cancel

/**
 * A delivery and the answer it got.
 *
 * @since 0.1.0
 * @category models
 */
export interface Delivery extends Request {
  readonly receivedAt: Date
  readonly decision: Decision
  /** The status answered: 204, or 200 for a cancellation. */
  readonly status: number
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Default 0: any free port. */
  readonly port?: number
  /** Default `127.0.0.1`: only this machine can reach the receiver. */
  readonly host?: string
  /** Keys that check signatures (`whsec_` secrets, `whpk_` public keys). None: signatures are not checked. */
  readonly keys?: ReadonlyArray<Signature.VerificationKey>
  /** How far `webhook-timestamp` may be from now, in seconds. Default 300. */
  readonly toleranceSeconds?: number
  /** Decides each answer. Default: accept everything. */
  readonly policy?: (request: Request) => Decision
  /** Called for each delivery, in arrival order, once it has been answered. */
  readonly onDelivery?: (delivery: Delivery) => Effect.Effect<void>
}

/**
 * Counts since the receiver started. `received` counts deliveries (POST requests); the
 * signature counts add up to it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Stats {
  readonly received: number
  readonly verified: number
  readonly invalid: number
  readonly unsigned: number
  readonly unchecked: number
  readonly cancelled: number
}

/**
 * A running receiver.
 *
 * @since 0.1.0
 * @category models
 */
export interface Receiver {
  /** `http://<host>:<port>/`; any path is accepted. */
  readonly url: string
  readonly host: string
  readonly port: number
  readonly stats: Effect.Effect<Stats>
}

/**
 * The receiver could not start (the port is taken, the address cannot be bound).
 *
 * @since 0.1.0
 * @category errors
 */
export const ReceiverError: typeof internal.ReceiverError = internal.ReceiverError

/**
 * @since 0.1.0
 * @category errors
 */
export type ReceiverError = internal.ReceiverError

/**
 * Starts a receiver; it stops (open connections closed) when the scope closes. Only `POST` is
 * accepted (`405` otherwise) and bodies are read up to `maxBodyBytes` (`413` beyond).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (options?: Options) => Effect.Effect<Receiver, ReceiverError, Scope.Scope> = internal.make

/**
 * Request bodies are read up to this many bytes.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxBodyBytes: number = internal.maxBodyBytes

/**
 * One line for a delivery: time, event, id, signature, answer and a compact body (its
 * `parameters` and `results`, cut at 120 characters):
 *
 * ```
 * 10:04:31.512  before:adjust  msg_Z3V…  verified (v1)  → cancelled: change freeze  {"parameters":{...}}
 * ```
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatDelivery: (delivery: Delivery) => string = internal.formatDelivery

/**
 * `verified (v1)` or `verified (v1a)` (the scheme of the entry that verified), `INVALID (reason)`,
 * `unsigned` or `unchecked`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatSignature: (check: SignatureCheck) => string = internal.formatSignature
