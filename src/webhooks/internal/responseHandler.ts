/**
 * One exchange with an undici dispatcher: the handler that collects status, headers and a capped
 * body, and the complete `HttpClientResponse` it resumes the request fiber with.
 */
import * as Cookies from "@effect/platform/Cookies"
import * as Headers from "@effect/platform/Headers"
import * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as IncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as UrlParams from "@effect/platform/UrlParams"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Inspectable from "effect/Inspectable"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type { IncomingHttpHeaders } from "node:http"
import type { Dispatcher as UndiciDispatcher } from "undici"

/**
 * The response header this client adds, with the value `"true"`, when it stopped reading a body
 * at `maxResponseBytes`. The same header coming from a receiver is removed, so its presence
 * always means this client cut the body.
 */
export const truncatedHeader: string = "x-servo-webhooks-truncated"

// ---------------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------------

const emptyBody = Buffer.alloc(0)

export class UndiciResponse extends Inspectable.Class implements HttpClientResponse.HttpClientResponse {
  readonly [IncomingMessage.TypeId]: IncomingMessage.TypeId = IncomingMessage.TypeId
  readonly [HttpClientResponse.TypeId]: HttpClientResponse.TypeId = HttpClientResponse.TypeId

  constructor(
    readonly request: HttpClientRequest.HttpClientRequest,
    readonly status: number,
    private readonly rawHeaders: IncomingHttpHeaders,
    /** At most `maxResponseBytes` bytes. */
    readonly body: Buffer,
    readonly truncated: boolean
  ) {
    super()
  }

  private cachedHeaders: Headers.Headers | undefined = undefined
  get headers(): Headers.Headers {
    if (this.cachedHeaders !== undefined) return this.cachedHeaders
    let headers = Headers.fromInput(this.rawHeaders)
    if (this.truncated) {
      headers = Headers.set(headers, truncatedHeader, "true")
    } else if (truncatedHeader in headers) {
      // Only this client sets the marker: a receiver cannot claim its own body was cut.
      headers = Headers.remove(headers, truncatedHeader)
    }
    return this.cachedHeaders = headers
  }

  private cachedCookies: Cookies.Cookies | undefined = undefined
  get cookies(): Cookies.Cookies {
    if (this.cachedCookies !== undefined) return this.cachedCookies
    const header = this.rawHeaders["set-cookie"]
    return this.cachedCookies = header === undefined
      ? Cookies.empty
      : Cookies.fromSetCookie(Array.isArray(header) ? header : [header])
  }

  get remoteAddress(): Option.Option<string> {
    return Option.none()
  }

  private decodeError(cause: unknown): HttpClientError.ResponseError {
    return new HttpClientError.ResponseError({ request: this.request, response: this, reason: "Decode", cause })
  }

  get arrayBuffer(): Effect.Effect<ArrayBuffer, HttpClientError.ResponseError> {
    return Effect.sync(() => {
      const body = this.body
      // A copy: `body` may be a view into a larger buffer, and callers may write to the result.
      return body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer
    })
  }

  get text(): Effect.Effect<string, HttpClientError.ResponseError> {
    return Effect.sync(() => this.body.toString("utf8"))
  }

  get json(): Effect.Effect<unknown, HttpClientError.ResponseError> {
    return Effect.try({
      try: () => {
        const text = this.body.toString("utf8")
        return text === "" ? null : JSON.parse(text) as unknown
      },
      catch: (cause) => this.decodeError(cause)
    })
  }

  get urlParamsBody(): Effect.Effect<UrlParams.UrlParams, HttpClientError.ResponseError> {
    return Effect.try({
      try: () => UrlParams.fromInput(new URLSearchParams(this.body.toString("utf8"))),
      catch: (cause) => this.decodeError(cause)
    })
  }

  get formData(): Effect.Effect<FormData, HttpClientError.ResponseError> {
    return Effect.tryPromise({
      try: () => {
        const contentType = this.rawHeaders["content-type"]
        const init: ResponseInit = typeof contentType === "string" ? { headers: { "content-type": contentType } } : {}
        return new Response(new Uint8Array(this.body), init).formData()
      },
      catch: (cause) => this.decodeError(cause)
    })
  }

  get stream(): Stream.Stream<Uint8Array, HttpClientError.ResponseError> {
    return this.body.length === 0 ? Stream.empty : Stream.succeed(this.body)
  }

  toJSON(): unknown {
    return IncomingMessage.inspect(this, {
      _id: "@effect/platform/HttpClientResponse",
      request: this.request.toJSON(),
      status: this.status,
      truncated: this.truncated
    })
  }
}

// ---------------------------------------------------------------------------------------------
// The dispatch handler: one per request
// ---------------------------------------------------------------------------------------------

type Resume = (exit: Exit.Exit<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError>) => void

/** undici errors that sending again cannot fix: the request itself is wrong. */
const encodeErrors = new Set(["UND_ERR_INVALID_ARG", "UND_ERR_REQ_CONTENT_LENGTH_MISMATCH"])

const isEncodeError = (error: Error): boolean => {
  const code = (error as { code?: unknown }).code
  return typeof code === "string" && encodeErrors.has(code)
}

class TruncatedBody extends Error {
  override readonly name = "TruncatedBody"
}

class Interrupted extends Error {
  override readonly name = "Interrupted"
}

/** The code of the error an attempt fails with when its deadline passes first. */
export const deadlineCode = "SERVO_WEBHOOKS_DEADLINE"

/** The attempt's deadline passed before the response was complete. */
export class DeadlineExceeded extends Error {
  override readonly name = "DeadlineExceeded"
  readonly code = deadlineCode
  constructor(readonly timeoutMs: number) {
    super(`no complete response within ${timeoutMs} ms`)
  }
}

/**
 * Collects status, headers and at most `maxBytes` of body, then resumes the fiber once. It talks
 * to undici through the handler interface directly: no `Readable`, no promise, no per-chunk
 * stream machinery, which is most of what `undici.request` spends beyond the socket work.
 */
export class Handler implements UndiciDispatcher.DispatchHandler {
  private controller: UndiciDispatcher.DispatchController | undefined = undefined
  private abortReason: Error | undefined = undefined
  private status = 0
  private headers: IncomingHttpHeaders | undefined = undefined
  private first: Buffer | undefined = undefined
  private rest: Array<Buffer> | undefined = undefined
  private received = 0
  private settled = false
  private timer: ReturnType<typeof setTimeout> | undefined = undefined

  constructor(
    private readonly request: HttpClientRequest.HttpClientRequest,
    private readonly maxBytes: number,
    private readonly resume: Resume
  ) {}

  /** The fiber was interrupted: abort the request, which destroys its socket. */
  readonly cancel = Effect.sync(() => {
    if (this.settled) return
    this.abort(new Interrupted("the request fiber was interrupted"))
  })

  /**
   * Gives the request `timeoutMs` to complete, body included, on a timer of its own: when it
   * fires the request is aborted and fails with `DeadlineExceeded` (a queued request at once,
   * without waiting for a connection).
   */
  deadline(timeoutMs: number): void {
    this.timer = setTimeout(() => this.expire(timeoutMs), timeoutMs)
  }

  /** The deadline passed (on whichever clock keeps it). */
  expire(timeoutMs: number): void {
    if (this.settled) return
    const error = new DeadlineExceeded(timeoutMs)
    const queued = this.controller === undefined
    this.abort(error)
    if (queued) this.onResponseError(undefined, error)
  }

  private abort(error: Error): void {
    if (this.controller !== undefined) {
      this.controller.abort(error)
    } else {
      // Still queued for a connection: undici calls onRequestStart before writing anything.
      this.abortReason = error
    }
  }

  onRequestStart(controller: UndiciDispatcher.DispatchController): void {
    this.controller = controller
    if (this.abortReason !== undefined) controller.abort(this.abortReason)
  }

  onResponseStart(
    _controller: UndiciDispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders
  ): void {
    // 1xx responses are informational: the final response follows on the same request.
    if (statusCode < 200) return
    this.status = statusCode
    this.headers = headers
    // A dispatcher with a retry interceptor may start over: keep only the last response's body.
    this.first = this.rest = undefined
    this.received = 0
  }

  onResponseData(controller: UndiciDispatcher.DispatchController, chunk: Buffer): void {
    if (this.settled) return
    const room = this.maxBytes - this.received
    if (chunk.length <= room) {
      this.keep(chunk)
      return
    }
    if (room > 0) this.keep(chunk.subarray(0, room))
    this.succeed(true)
    // Stop reading: undici destroys the socket, so the rest of the body is neither buffered nor
    // left on a connection that would go back to the pool half-read.
    controller.abort(new TruncatedBody(`response body longer than ${this.maxBytes} bytes`))
  }

  onResponseEnd(): void {
    if (!this.settled) this.succeed(false)
  }

  onResponseError(_controller: UndiciDispatcher.DispatchController | undefined, error: Error): void {
    if (this.settled) return
    this.settled = true
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.resume(Exit.fail(
      new HttpClientError.RequestError({
        request: this.request,
        reason: isEncodeError(error) ? "Encode" : "Transport",
        cause: error,
        description: error.message
      })
    ))
  }

  private keep(chunk: Buffer): void {
    this.received += chunk.length
    if (this.first === undefined) this.first = chunk
    else (this.rest ??= []).push(chunk)
  }

  private succeed(truncated: boolean): void {
    this.settled = true
    if (this.timer !== undefined) clearTimeout(this.timer)
    const body = this.first === undefined
      ? emptyBody
      : this.rest === undefined
      ? this.first
      : Buffer.concat([this.first, ...this.rest], this.received)
    this.first = this.rest = undefined
    this.resume(Exit.succeed(new UndiciResponse(this.request, this.status, this.headers ?? {}, body, truncated)))
  }
}
