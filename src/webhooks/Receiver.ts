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
 * A policy may also return an `Effect` of its decision, for an answer that needs I/O (ask an
 * approval service, wait, forward the delivery elsewhere) — the request waits for it — and may
 * answer anything with `Receiver.respond(status, { headers, body })`.
 *
 * It binds `127.0.0.1` and a free port unless told otherwise. `servo webhooks listen` is this
 * receiver with a printer; the demo and the CLI tests use it too.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FiberSet from "effect/FiberSet"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as http from "node:http"
import type * as net from "node:net"
import { untrusted } from "../internal/terminal.js"
import { codeOf } from "./internal/errors.js"
import * as Signature from "./Signature.js"
import { cancelContentType } from "./WireContract.js"

/**
 * What the receiver makes of a request's signature:
 *
 * - `Verified` — it verifies with one of the receiver's keys;
 * - `Invalid` — it is signed but does not verify (`reason` says why: a wrong key, an old
 *   timestamp, ...), or keys were given and the signature headers are incomplete;
 * - `Unsigned` — no `webhook-signature` header;
 * - `Unchecked` — signed, but the receiver holds no key to check it with.
 */
export type SignatureCheck =
  | { readonly _tag: "Verified"; readonly scheme: Signature.Scheme; readonly keyIndex: number }
  | { readonly _tag: "Invalid"; readonly reason: string }
  | { readonly _tag: "Unsigned" }
  | { readonly _tag: "Unchecked" }

/** A delivery as it arrived, before the receiver answers it. */
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
  /**
   * Whether the sender has closed the connection without waiting for the answer (its request
   * timeout passed): a policy that takes time can see that its answer will reach no one.
   */
  readonly hungUp?: () => boolean
}

/**
 * How the receiver answers a delivery: accept it (`204`), cancel it (`200` and the cancel content
 * type), or any answer at all (`Respond`: a failure status to exercise retries, another service's
 * answer relayed).
 */
export type Decision =
  | { readonly _tag: "Accept" }
  | { readonly _tag: "Cancel"; readonly reason: string }
  | {
    readonly _tag: "Respond"
    readonly status: number
    readonly headers: Readonly<Record<string, string>>
    readonly body: Uint8Array
  }

/**
 * Decides each answer: a `Decision`, or an `Effect` of one when deciding needs I/O or time (the
 * request waits for it). A policy that throws, fails or dies is answered `500`.
 */
export type Policy = (request: Request) => Decision | Effect.Effect<Decision, unknown>

/** A delivery and the answer it got. */
export interface Delivery extends Request {
  readonly receivedAt: Date
  readonly decision: Decision
  /** The status answered: 204, 200 for a cancellation, a `Respond` decision's own. */
  readonly status: number
}

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
  readonly policy?: Policy
  /** Called for each delivery once it has been answered (in arrival order, when the policy answers at once). */
  readonly onDelivery?: (delivery: Delivery) => Effect.Effect<void>
}

/**
 * Counts since the receiver started. `received` counts deliveries (POST requests); the
 * signature counts add up to it.
 */
export interface Stats {
  readonly received: number
  readonly verified: number
  readonly invalid: number
  readonly unsigned: number
  readonly unchecked: number
  /** Answered with a cancellation, the receiver's own or one a `Respond` decision relays. */
  readonly cancelled: number
}

/** A running receiver. */
export interface Receiver {
  /** `http://<host>:<port>/`; any path is accepted. */
  readonly url: string
  readonly host: string
  readonly port: number
  readonly stats: Effect.Effect<Stats>
}

/** Request bodies are read up to this many bytes. */
export const maxBodyBytes = 1024 * 1024

/** Answer `204 No Content`. */
export const accept: Decision = { _tag: "Accept" }

/**
 * Answer `200` with the cancel content type and `{"reason": reason}`: a before event is
 * cancelled, an after event's sender logs it and goes on.
 */
export const cancel = (reason: string): Decision => ({ _tag: "Cancel", reason })

/**
 * Answer `status` with these headers and body (a string is sent as UTF-8). Framing headers
 * (`content-length`, `transfer-encoding`, `connection`, `keep-alive`) are the receiver's to set
 * and are dropped.
 */
export const respond = (
  status: number,
  options: { readonly headers?: Readonly<Record<string, string>>; readonly body?: Uint8Array | string } = {}
): Decision => ({
  _tag: "Respond",
  status,
  headers: options.headers ?? {},
  body: typeof options.body === "string" ? new TextEncoder().encode(options.body) : options.body ?? new Uint8Array(0)
})

/** The status a decision is answered with. */
export const statusOf = (decision: Decision): number =>
  decision._tag === "Accept" ? 204 : decision._tag === "Cancel" ? 200 : decision.status

/** A cancellation, made here or relayed (`Respond` with the cancel content type, as from a forwarded app). */
const isCancellation = (decision: Decision): boolean =>
  decision._tag === "Cancel" ||
  (decision._tag === "Respond" && decision.status === 200 &&
    Object.entries(decision.headers).some(([name, value]) =>
      name.toLowerCase() === "content-type" && value.startsWith(cancelContentType)
    ))

const framingHeaders = new Set(["content-length", "transfer-encoding", "connection", "keep-alive"])

const policyFailed = (cause: Cause.Cause<unknown>): Decision => {
  const error = Cause.squash(cause)
  return respond(500, {
    headers: { "content-type": "text/plain" },
    body: `the receiver's policy failed: ${error instanceof Error ? error.message : String(error)}\n`
  })
}

const answer = (response: http.ServerResponse, decision: Decision): void => {
  if (response.destroyed) return
  switch (decision._tag) {
    case "Cancel":
      response.writeHead(200, { "content-type": cancelContentType })
      response.end(JSON.stringify({ reason: decision.reason }))
      return
    case "Accept":
      response.writeHead(204)
      response.end()
      return
    case "Respond": {
      const headers: Record<string, string> = {}
      for (const [name, value] of Object.entries(decision.headers)) {
        if (!framingHeaders.has(name.toLowerCase())) headers[name] = value
      }
      response.writeHead(decision.status, headers)
      // 204 and 304 carry no body whatever the decision holds.
      response.end(decision.status === 204 || decision.status === 304 ? undefined : decision.body)
      return
    }
  }
}

/** The receiver could not start (the port is taken, the address cannot be bound). */
export class ReceiverError extends Schema.TaggedError<ReceiverError>("servo-webhooks/ReceiverError")("ReceiverError", {
  message: Schema.String
}) {}

const describeListenError = (error: unknown, address: string): string => {
  const code = codeOf(error)
  switch (code) {
    case "EADDRINUSE":
      return `cannot listen on ${address}: the address is already in use (choose another --port, or 0 for any free port)`
    case "EACCES":
      return `cannot listen on ${address}: permission denied (ports below 1024 need privileges)`
    case "EADDRNOTAVAIL":
      return `cannot listen on ${address}: the address is not available on this machine`
    default:
      return `cannot listen on ${address}: ${error instanceof Error ? error.message : String(error)}`
  }
}

const flattenHeaders = (headers: http.IncomingHttpHeaders): Record<string, string> => {
  const flat: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(", ") : value
  }
  return flat
}

const checkSignature = (
  keys: ReadonlyArray<Signature.VerificationKey>,
  headers: Record<string, string>,
  body: Uint8Array,
  toleranceSeconds: number | undefined
): SignatureCheck => {
  const signed = (headers["webhook-signature"] ?? "").trim() !== ""
  if (!signed) return { _tag: "Unsigned" }
  if (keys.length === 0) return { _tag: "Unchecked" }
  const verified = Signature.verify(keys, { headers, body }, toleranceSeconds === undefined ? {} : { toleranceSeconds })
  return Either.match(verified, {
    onLeft: (error) => ({ _tag: "Invalid", reason: `${error.reason}: ${error.detail}` }),
    onRight: ({ keyIndex, scheme }) => ({ _tag: "Verified", scheme, keyIndex })
  })
}

const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

const eventOf = (headers: Record<string, string>, json: unknown): string => {
  const header = headers["servo-event"]
  if (header !== undefined && header !== "") return header
  if (typeof json === "object" && json !== null && "event" in json && typeof json.event === "string") return json.event
  return "(no event)"
}

/**
 * Starts a receiver; it stops (open connections closed) when the scope closes. Only `POST` is
 * accepted (`405` otherwise) and bodies are read up to `maxBodyBytes` (`413` beyond).
 */
export const make = (options: Options = {}): Effect.Effect<Receiver, ReceiverError, Scope.Scope> =>
  Effect.gen(function*() {
    const host = options.host ?? "127.0.0.1"
    const keys = options.keys ?? []
    const policy = options.policy ?? (() => accept)
    const stats = { received: 0, verified: 0, invalid: 0, unsigned: 0, unchecked: 0, cancelled: 0 }
    // Callbacks run on fibers the receiver owns: interrupted, not leaked, when its scope closes.
    const run = yield* FiberSet.makeRuntime<never, void, never>()
    const onDelivery = options.onDelivery
    // A delivery counts when it arrives (a slow policy must not hide it), a cancellation once answered.
    const count = (signature: SignatureCheck) => {
      stats.received++
      switch (signature._tag) {
        case "Verified":
          stats.verified++
          break
        case "Invalid":
          stats.invalid++
          break
        case "Unsigned":
          stats.unsigned++
          break
        case "Unchecked":
          stats.unchecked++
          break
      }
    }

    const handle = (request: http.IncomingMessage, response: http.ServerResponse) => {
      if (request.method !== "POST") {
        response.writeHead(405, { allow: "POST", "content-type": "text/plain" })
        response.end("servo-webhooks receiver: deliveries are POST requests\n")
        request.resume()
        return
      }
      const chunks: Array<Buffer> = []
      let size = 0
      let tooLarge = false
      request.on("data", (chunk: Buffer) => {
        if (tooLarge) return
        size += chunk.length
        if (size > maxBodyBytes) {
          tooLarge = true
          response.writeHead(413, { "content-type": "text/plain", connection: "close" })
          response.end(`body larger than ${maxBodyBytes} bytes\n`)
          return
        }
        chunks.push(chunk)
      })
      request.on("end", () => {
        if (tooLarge) return
        const body = Buffer.concat(chunks)
        const headers = flattenHeaders(request.headers)
        const json = parseJson(body.toString("utf8"))
        let hungUp = false
        response.once("close", () => {
          if (!response.writableEnded) hungUp = true
        })
        const received: Request = {
          event: eventOf(headers, json),
          id: headers["webhook-id"],
          path: request.url ?? "/",
          headers,
          body: new Uint8Array(body.buffer, body.byteOffset, body.byteLength),
          json,
          signature: checkSignature(keys, headers, body, options.toleranceSeconds),
          hungUp: () => hungUp
        }
        count(received.signature)
        const decided = Effect.suspend(() => {
          const decision = policy(received)
          return Effect.isEffect(decision) ? decision : Effect.succeed(decision)
        }).pipe(
          // Interrupted means the receiver is closing: there is no one left to answer.
          Effect.catchAllCause((cause) =>
            Cause.isInterruptedOnly(cause) ? Effect.interrupt : Effect.succeed(policyFailed(cause))
          )
        )
        // Run on a fiber the receiver owns; a plain Decision is answered before `run` returns.
        run(Effect.flatMap(decided, (decision) => {
          answer(response, decision)
          if (isCancellation(decision)) stats.cancelled++
          return onDelivery === undefined
            ? Effect.void
            : onDelivery({ ...received, receivedAt: new Date(), decision, status: statusOf(decision) })
        }))
      })
    }

    const server = yield* Effect.acquireRelease(
      Effect.async<{ server: http.Server; sockets: Set<net.Socket> }, ReceiverError>((resume) => {
        const sockets = new Set<net.Socket>()
        const server = http.createServer(handle)
        server.on("connection", (socket) => {
          sockets.add(socket)
          socket.on("close", () => sockets.delete(socket))
        })
        const address = `${host}:${options.port ?? 0}`
        server.once("error", (error) => resume(Effect.fail(new ReceiverError({ message: describeListenError(error, address) }))))
        try {
          server.listen(options.port ?? 0, host, () => resume(Effect.succeed({ server, sockets })))
        } catch (error) {
          // A port out of range throws at once instead of emitting "error".
          resume(Effect.fail(new ReceiverError({ message: describeListenError(error, address) })))
        }
      }),
      ({ server, sockets }) =>
        Effect.async<void>((resume) => {
          server.close(() => resume(Effect.void))
          // Keep-alive connections would hold close() open.
          for (const socket of sockets) socket.destroy()
        })
    )
    const { port } = server.server.address() as net.AddressInfo
    const urlHost = host.includes(":") ? `[${host}]` : host
    return {
      url: `http://${urlHost}:${port}/`,
      host,
      port,
      stats: Effect.sync(() => ({ ...stats }))
    } satisfies Receiver
  })

/**
 * `verified (v1)` or `verified (v1a)` (the scheme of the entry that verified), `INVALID (reason)`,
 * `unsigned` or `unchecked`.
 */
export const formatSignature = (check: SignatureCheck): string => {
  switch (check._tag) {
    case "Verified":
      return `verified (${check.scheme})`
    case "Invalid":
      return `INVALID (${check.reason})`
    case "Unsigned":
      return "unsigned"
    case "Unchecked":
      return "unchecked"
  }
}

const two = (n: number) => String(n).padStart(2, "0")

const clock = (date: Date) =>
  `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}.${String(date.getMilliseconds()).padStart(3, "0")}`

const maxBody = 120

const compactBody = (delivery: Delivery): string => {
  if (delivery.json === undefined) {
    const text = Buffer.from(delivery.body).toString("utf8").replace(/\s+/g, " ").trim()
    return text.length === 0 ? "(empty body)" : cut(text)
  }
  let shown: unknown = delivery.json
  if (typeof shown === "object" && shown !== null && !Array.isArray(shown)) {
    // The id and event are already on the line; created_at is noise next to the arrival time.
    const { created_at: _, event: __, id: ___, ...rest } = shown as Record<string, unknown>
    shown = rest
  }
  return cut(JSON.stringify(shown))
}

const cut = (text: string) => text.length > maxBody ? `${text.slice(0, maxBody - 1)}…` : text

/**
 * One line for a delivery: time, event, id, signature, answer and a compact body (its
 * `parameters` and `results`, cut at 120 characters):
 *
 * ```
 * 10:04:31.512  before:adjust  msg_Z3V…  verified (v1)  → cancelled: change freeze  {"parameters":{...}}
 * ```
 *
 * What came from the network (the event, the id, the body, a signature's detail) has its control
 * characters escaped (`\x1b`): printed to a terminal, a delivery cannot clear the screen or forge
 * a line. `note` is said after the answer: `→ 503 (failing on purpose)`.
 */
export const formatDelivery = (delivery: Delivery, note?: string): string =>
  untrusted(
    [
      clock(delivery.receivedAt),
      delivery.event,
      delivery.id ?? "(no id)",
      formatSignature(delivery.signature),
      (delivery.decision._tag === "Cancel" ? `→ cancelled: ${delivery.decision.reason}` : `→ ${delivery.status}`) +
      (note === undefined ? "" : ` (${note})`),
      compactBody(delivery)
    ].join("  ")
  )
