import * as Cookies from "@effect/platform/Cookies"
import * as Headers from "@effect/platform/Headers"
import type * as HttpBody from "@effect/platform/HttpBody"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as IncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as HttpTraceContext from "@effect/platform/HttpTraceContext"
import * as UrlParams from "@effect/platform/UrlParams"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberRef from "effect/FiberRef"
import * as Inspectable from "effect/Inspectable"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { IncomingHttpHeaders } from "node:http"
import { Agent, type Dispatcher as UndiciDispatcher } from "undici"
import type * as UndiciHttpClient from "../UndiciHttpClient.js"
import { redactUrl } from "./redaction.js"

/** @internal */
export const defaultConnections = 64

/** @internal */
export const defaultMaxResponseBytes = 64 * 1024

/** @internal */
export const truncatedHeader = "x-servo-webhooks-truncated"

type DispatcherTag = Context.Tag<UndiciHttpClient.Dispatcher, UndiciDispatcher>

const checkCount = (name: string, value: number | undefined, fallback: number, min: number): number => {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`UndiciHttpClient: ${name} must be an integer ≥ ${min}, got ${value}`)
  }
  return value
}

const checkMillis = (name: string, value: number | undefined): number | null => {
  if (value === undefined) return null
  if (!Number.isFinite(value) || value < 0) {
    throw new RangeError(`UndiciHttpClient: ${name} must be a number of milliseconds ≥ 0, got ${value}`)
  }
  return value
}

// ---------------------------------------------------------------------------------------------
// Agent
// ---------------------------------------------------------------------------------------------

const noop = () => {}

/** @internal */
export const makeAgent = (options: UndiciHttpClient.AgentOptions = {}): Effect.Effect<Agent, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const agentOptions: Agent.Options = {
        connections: checkCount("connections", options.connections, defaultConnections, 1),
        pipelining: 1
      }
      const keepAliveTimeout = checkMillis("keepAliveTimeout", options.keepAliveTimeout)
      if (keepAliveTimeout !== null) agentOptions.keepAliveTimeout = keepAliveTimeout
      return new Agent(agentOptions)
    }),
    // `destroy` rather than `close`: a request still in flight when the scope closes fails with a
    // Transport error instead of holding the finalizer until its receiver answers.
    (agent) => Effect.promise(() => agent.destroy().then(noop, noop))
  )

/** @internal */
export const dispatcherLayer = (tag: DispatcherTag) =>
(options?: UndiciHttpClient.AgentOptions): Layer.Layer<UndiciHttpClient.Dispatcher> =>
  Layer.scoped(tag, makeAgent(options))

// ---------------------------------------------------------------------------------------------
// Request bodies
// ---------------------------------------------------------------------------------------------

const unsupported: unique symbol = Symbol("unsupported")

/** The bytes undici sends, `null` for no body, `unsupported` for bodies this client refuses. */
const bodyOf = (body: HttpBody.HttpBody): Uint8Array | string | null | typeof unsupported => {
  switch (body._tag) {
    case "Empty":
      return null
    case "Uint8Array":
      return body.body
    case "Raw": {
      const raw = body.body
      if (typeof raw === "string" || raw instanceof Uint8Array) return raw
      if (raw === null || raw === undefined) return null
      if (raw instanceof ArrayBuffer) return new Uint8Array(raw)
      if (ArrayBuffer.isView(raw)) return new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength)
      return unsupported
    }
    case "FormData":
    case "Stream":
      return unsupported
  }
}

const describeBody = (body: HttpBody.HttpBody): string =>
  body._tag === "Raw" ? `a Raw body of type ${typeof body.body}` : `a ${body._tag} body`

// ---------------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------------

const emptyBody = Buffer.alloc(0)

class UndiciResponse extends Inspectable.Class implements HttpClientResponse.HttpClientResponse {
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

/**
 * Collects status, headers and at most `maxBytes` of body, then resumes the fiber once. It talks
 * to undici through the handler interface directly: no `Readable`, no promise, no per-chunk
 * stream machinery, which is most of what `undici.request` spends beyond the socket work.
 */
class Handler implements UndiciDispatcher.DispatchHandler {
  private controller: UndiciDispatcher.DispatchController | undefined = undefined
  private abortReason: Error | undefined = undefined
  private status = 0
  private headers: IncomingHttpHeaders | undefined = undefined
  private first: Buffer | undefined = undefined
  private rest: Array<Buffer> | undefined = undefined
  private received = 0
  private settled = false

  constructor(
    private readonly request: HttpClientRequest.HttpClientRequest,
    private readonly maxBytes: number,
    private readonly resume: Resume
  ) {}

  /** The fiber was interrupted: abort the request, which destroys its socket. */
  readonly cancel = Effect.sync(() => {
    if (this.settled) return
    const error = new Interrupted("the request fiber was interrupted")
    if (this.controller !== undefined) {
      this.controller.abort(error)
    } else {
      // Still queued for a connection: undici calls onRequestStart before writing anything.
      this.abortReason = error
    }
  })

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
    const body = this.first === undefined
      ? emptyBody
      : this.rest === undefined
      ? this.first
      : Buffer.concat([this.first, ...this.rest], this.received)
    this.first = this.rest = undefined
    this.resume(Exit.succeed(new UndiciResponse(this.request, this.status, this.headers ?? {}, body, truncated)))
  }
}

// ---------------------------------------------------------------------------------------------
// The client
// ---------------------------------------------------------------------------------------------

const ATTR_HTTP_REQUEST_HEADER = (key: string): string => `http.request.header.${key}`
const ATTR_HTTP_REQUEST_METHOD = "http.request.method"
const ATTR_HTTP_RESPONSE_HEADER = (key: string): string => `http.response.header.${key}`
const ATTR_HTTP_RESPONSE_STATUS_CODE = "http.response.status_code"
const ATTR_SERVER_ADDRESS = "server.address"
const ATTR_SERVER_PORT = "server.port"
const ATTR_URL_FULL = "url.full"
const ATTR_URL_PATH = "url.path"
const ATTR_URL_SCHEME = "url.scheme"
const ATTR_URL_QUERY = "url.query"

/**
 * The client is `HttpClient.makeWith` around `send`, with the request handling of
 * `HttpClient.make` (platform 0.97, `internal/httpClient.ts`) redone without what only lazily read
 * bodies need. `make` gives every request an `AbortController`, and every response a
 * `FinalizationRegistry` entry and an interrupt-aware wrapper, so that an unread body's socket is
 * released eventually. Here a response is complete when it is returned, and interruption aborts
 * through the `Effect.async` canceler. On the benchmark (bench/httpClient.ts) that bookkeeping
 * cost ~9 µs of CPU per request. Everything observable is kept: `InvalidUrl` errors, the span
 * (name from `SpanNameGenerator`, the same attributes with redacted headers), `traceparent`/`b3`
 * propagation, `withTracerPropagation`, `withTracerDisabledWhen` and `Effect.withTracerEnabled`.
 *
 * @internal
 */
export const makeWithDispatcher = (
  dispatcher: UndiciDispatcher,
  options: UndiciHttpClient.ClientOptions = {}
): HttpClient.HttpClient => {
  const maxBytes = checkCount("maxResponseBytes", options.maxResponseBytes, defaultMaxResponseBytes, 0)
  const headersTimeout = checkMillis("headersTimeout", options.headersTimeout)
  const bodyTimeout = checkMillis("bodyTimeout", options.bodyTimeout)

  const send = (
    request: HttpClientRequest.HttpClientRequest,
    url: URL
  ): Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError> => {
    const body = bodyOf(request.body)
    if (body === unsupported) {
      return Effect.fail(
        new HttpClientError.RequestError({
          request,
          reason: "Encode",
          description: `UndiciHttpClient sends byte, string and empty bodies only, not ${describeBody(request.body)}`
        })
      )
    }
    const protocol = url.protocol
    if (protocol !== "http:" && protocol !== "https:") {
      return Effect.fail(
        new HttpClientError.RequestError({
          request,
          reason: "InvalidUrl",
          description: `UndiciHttpClient speaks http: and https: only, not ${protocol}`
        })
      )
    }
    return Effect.async<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError>((resume) => {
      const handler = new Handler(request, maxBytes, resume)
      try {
        dispatcher.dispatch({
          origin: url.origin,
          // The fragment never goes on the wire.
          path: url.pathname + url.search,
          method: request.method,
          headers: request.headers,
          body,
          headersTimeout,
          bodyTimeout
        }, handler)
      } catch (error) {
        // undici's own dispatchers report through onResponseError; a custom one might throw.
        handler.onResponseError(undefined, error instanceof Error ? error : new Error(String(error)))
      }
      return handler.cancel
    })
  }

  const traced = (
    request: HttpClientRequest.HttpClientRequest,
    url: URL,
    fiber: { readonly currentContext: Context.Context<never>; getFiberRef<A>(ref: FiberRef.FiberRef<A>): A }
  ) =>
    Effect.useSpan(
      Context.get(fiber.currentContext, HttpClient.SpanNameGenerator)(request),
      { kind: "client", captureStackTrace: false },
      (span) => {
        span.attribute(ATTR_HTTP_REQUEST_METHOD, request.method)
        span.attribute(ATTR_SERVER_ADDRESS, url.origin)
        if (url.port !== "") span.attribute(ATTR_SERVER_PORT, +url.port)
        // Query values and userinfo may be credentials: spans show their names only.
        const shown = url.search === "" && url.username === "" && url.password === "" ? url.href : redactUrl(url)
        span.attribute(ATTR_URL_FULL, shown)
        span.attribute(ATTR_URL_PATH, url.pathname)
        span.attribute(ATTR_URL_SCHEME, url.protocol.slice(0, -1))
        if (url.search !== "") span.attribute(ATTR_URL_QUERY, new URL(shown).search.slice(1))
        const redactedNames = fiber.getFiberRef(Headers.currentRedactedNames)
        const requestHeaders = Headers.redact(request.headers, redactedNames)
        for (const name in requestHeaders) {
          span.attribute(ATTR_HTTP_REQUEST_HEADER(name), String(requestHeaders[name]))
        }
        const sent = fiber.getFiberRef(HttpClient.currentTracerPropagation)
          ? HttpClientRequest.setHeaders(request, HttpTraceContext.toHeaders(span))
          : request
        return Effect.withParentSpan(send(sent, url), span).pipe(
          Effect.tap((response) => {
            span.attribute(ATTR_HTTP_RESPONSE_STATUS_CODE, response.status)
            const responseHeaders = Headers.redact(response.headers, redactedNames)
            for (const name in responseHeaders) {
              span.attribute(ATTR_HTTP_RESPONSE_HEADER(name), String(responseHeaders[name]))
            }
          })
        )
      }
    )

  return HttpClient.makeWith<never, never, HttpClientError.HttpClientError, never>(
    (requestEffect) =>
      Effect.flatMap(requestEffect, (request) =>
        Effect.withFiberRuntime<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError>((fiber) => {
          const urlResult = UrlParams.makeUrl(request.url, request.urlParams, request.hash)
          if (urlResult._tag === "Left") {
            return Effect.fail(new HttpClientError.RequestError({ request, reason: "InvalidUrl", cause: urlResult.left }))
          }
          const url = urlResult.right
          const tracerDisabled = !fiber.getFiberRef(FiberRef.currentTracerEnabled) ||
            fiber.getFiberRef(HttpClient.currentTracerDisabledWhen)(request)
          return tracerDisabled ? send(request, url) : traced(request, url, fiber)
        })),
    Effect.succeed
  )
}

/** @internal */
export const make = (
  options: UndiciHttpClient.Options = {}
): Effect.Effect<HttpClient.HttpClient, never, Scope.Scope> =>
  options.dispatcher !== undefined
    ? Effect.sync(() => makeWithDispatcher(options.dispatcher!, options))
    : Effect.map(makeAgent(options), (agent) => makeWithDispatcher(agent, options))

/** @internal */
export const layerWithOptions = (options: UndiciHttpClient.Options): Layer.Layer<HttpClient.HttpClient> =>
  Layer.scoped(HttpClient.HttpClient, make(options))

/** @internal */
export const layer: Layer.Layer<HttpClient.HttpClient> = layerWithOptions({})

/** @internal */
export const layerWithoutDispatcher = (tag: DispatcherTag) =>
(options?: UndiciHttpClient.ClientOptions): Layer.Layer<HttpClient.HttpClient, never, UndiciHttpClient.Dispatcher> =>
  Layer.effect(HttpClient.HttpClient, Effect.map(tag, (dispatcher) => makeWithDispatcher(dispatcher, options)))

/** @internal */
export const isTruncated = (response: HttpClientResponse.HttpClientResponse): boolean =>
  response.headers[truncatedHeader] === "true"
