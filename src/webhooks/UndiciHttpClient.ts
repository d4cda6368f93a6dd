/**
 * An `HttpClient` for webhook delivery, written directly against undici's dispatcher interface.
 *
 * ```ts
 * const program = Effect.gen(function*() {
 *   const client = (yield* HttpClient.HttpClient).pipe(HttpClient.withTracerPropagation(false))
 *   const response = yield* client.post("https://receiver.example/hook", {
 *     body: HttpBody.text(JSON.stringify(payload), "application/json")
 *   }).pipe(Effect.timeout("10 seconds"))
 *   console.log(response.status, UndiciHttpClient.isTruncated(response))
 * }).pipe(Effect.provide(UndiciHttpClient.layer))
 * ```
 *
 * What it does, and what it does not:
 *
 * - **One bounded `Agent`**: keep-alive connections, at most `connections` (default 64) per
 *   origin; extra requests queue. `make` creates it and destroys it when its scope closes. Pass
 *   your own `Dispatcher` (`dispatcher` option, `layerWithoutDispatcher`) for TLS options, a
 *   connect hook, a proxy or HTTP/2; this client then neither configures nor closes it.
 * - **Bodies**: `Uint8Array` bodies (what `HttpBody.text`, `HttpBody.unsafeJson`, `bodyJson`
 *   produce), `Raw` bodies holding a string, `Uint8Array`, `ArrayBuffer` or view, and `Empty`.
 *   `Stream` and `FormData` bodies fail with a `RequestError` of reason `"Encode"`.
 * - **Capped, eager response bodies**: the request completes once the whole body has arrived or
 *   `maxResponseBytes` (default 64 KiB) have; then the socket is destroyed and the rest is never
 *   read. `arrayBuffer`, `text`, `json`, `urlParamsBody`, `formData` and `stream` all serve
 *   those bytes, as often as asked. A cut body is marked with the response header
 *   {@link truncatedHeader} (see {@link isTruncated}); `content-length` stays as the receiver
 *   sent it. Because the body arrives with the response, an `Effect.timeout` around `execute`
 *   bounds the whole exchange, body included.
 * - **No redirects**: a 3xx is returned as is (with undici's own dispatchers; a caller-supplied
 *   dispatcher composed with a redirect interceptor would follow them).
 * - **Interruption aborts**: interrupting the request fiber (e.g. `Effect.timeout`) aborts the
 *   undici request, which destroys its socket; a request still queued for a connection is
 *   dropped before anything is written. (`HttpClient.withScope` has nothing left to abort: a
 *   response is complete when it is returned.)
 * - **Errors**: connection refused, reset, hang-ups, DNS failures and undici's timeouts are
 *   `RequestError`s of reason `"Transport"` with undici's error as `cause`, also when the
 *   connection fails mid-body; a request undici refuses to send (an invalid header value, a
 *   `content-length` that does not match the body) is `"Encode"`; a URL that is not `http:`/`https:` is `"InvalidUrl"`. `json` on a body that is
 *   not JSON fails with a `ResponseError` of reason `"Decode"`.
 * - `remoteAddress` is always `None`: undici does not tell a request which socket served it.
 *
 * Tracing is the same as `HttpClient.make`'s: a client span per request (named by
 * `HttpClient.SpanNameGenerator`, with the same attributes and redacted headers; query values
 * and userinfo redacted in its URL, and in the error a failed request's span ends with) and, by
 * default, `traceparent` and `b3` headers sent to the receiver. Webhook senders usually want
 * neither: `HttpClient.withTracerPropagation(false)` stops the headers and
 * `HttpClient.withTracerDisabledWhen(() => true)` the span. Both set a fiber ref around every
 * request, which costs more CPU than this client's own work; where throughput matters, set the
 * refs once around the delivering fibers instead and let them inherit:
 *
 * ```ts
 * deliverAll.pipe(
 *   Effect.locally(HttpClient.currentTracerPropagation, false),
 *   Effect.locally(HttpClient.currentTracerDisabledWhen, () => true)
 * )
 * ```
 *
 * The client is built with `HttpClient.makeWith` rather than `HttpClient.make`: `make`'s
 * per-request `AbortController` and per-response `FinalizationRegistry` entry only serve lazily
 * read bodies, and cost about a third of the client's overhead.
 *
 * Timeouts: undici's `headersTimeout`/`bodyTimeout` (300 s each by default) are only a backstop
 * here; delivery bounds each attempt itself (a race with a sleep on the Effect clock).
 */
import type * as HttpBody from "@effect/platform/HttpBody"
import * as Headers from "@effect/platform/Headers"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as HttpTraceContext from "@effect/platform/HttpTraceContext"
import * as UrlParams from "@effect/platform/UrlParams"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as DefaultServices from "effect/DefaultServices"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as FiberRef from "effect/FiberRef"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { Agent, type Dispatcher as UndiciDispatcher } from "undici"
import { redactUrl } from "./internal/redaction.js"
import { DeadlineExceeded, deadlineCode, Handler, truncatedHeader } from "./internal/responseHandler.js"

export { deadlineCode }

/** The undici dispatcher a client built by {@link layerWithoutDispatcher} sends through. */
export class Dispatcher extends Context.Tag("servo-webhooks/UndiciHttpClient/Dispatcher")<
  Dispatcher,
  UndiciDispatcher
>() {}

/** How the client's own `Agent` is set up. Ignored when you pass a `dispatcher`. */
export interface AgentOptions {
  /**
   * Connections per origin (scheme, host and port). Keep-alive is on; requests beyond this
   * wait for a free connection. Default {@link defaultConnections} (64).
   */
  readonly connections?: number | undefined
  /**
   * How long an idle connection stays open, in milliseconds. undici caps it at the receiver's
   * `Keep-Alive: timeout` hint minus one second. Default: undici's (4 s).
   */
  readonly keepAliveTimeout?: number | undefined
}

/** How each request is sent and read, whatever the dispatcher. */
export interface ClientOptions {
  /**
   * The most response-body bytes kept; the rest is not read. Default
   * {@link defaultMaxResponseBytes} (64 KiB). `0` keeps no body at all.
   */
  readonly maxResponseBytes?: number | undefined
  /**
   * undici's limit, in milliseconds, on waiting for the response headers (`0`: none). Default:
   * the dispatcher's (300 s for undici's own). A backstop only: bound requests on the Effect
   * clock (a timeout or a race).
   */
  readonly headersTimeout?: number | undefined
  /**
   * undici's limit, in milliseconds, on the gap between two body chunks (`0`: none). Default:
   * the dispatcher's (300 s for undici's own).
   */
  readonly bodyTimeout?: number | undefined
}

export interface Options extends AgentOptions, ClientOptions {
  /**
   * Send through this dispatcher instead of a new `Agent`. The caller owns it: the client does
   * not configure it (`connections` and `keepAliveTimeout` are ignored) and does not close it.
   */
  readonly dispatcher?: UndiciDispatcher | undefined
}

export const defaultConnections: number = 64

export const defaultMaxResponseBytes = 64 * 1024

/** The response header that marks a body this client cut at `maxResponseBytes`. */
export { truncatedHeader }

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

/** A bounded keep-alive `Agent`, destroyed when the scope closes. */
export const makeAgent = (options: AgentOptions = {}): Effect.Effect<Agent, never, Scope.Scope> =>
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

/** The {@link Dispatcher} as a bounded keep-alive `Agent`, destroyed with the Layer. */
export const dispatcherLayer = (options?: AgentOptions): Layer.Layer<Dispatcher> =>
  Layer.scoped(Dispatcher, makeAgent(options))

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
// What a span keeps of a request
// ---------------------------------------------------------------------------------------------

/**
 * The request as a span may show it: the URL with its query values and userinfo redacted, the
 * redacted headers' values replaced, no body.
 */
const redactRequest = (
  request: HttpClientRequest.HttpClientRequest,
  url: URL,
  redactedNames: ReadonlyArray<string | RegExp>
): HttpClientRequest.HttpClientRequest => {
  const headers = Headers.redact(request.headers, redactedNames)
  const shown: Record<string, string> = {}
  for (const name in headers) shown[name] = String(headers[name])
  return HttpClientRequest.make(request.method)(redactUrl(url), { headers: shown })
}

const redactError = (error: HttpClientError.HttpClientError, url: URL, redactedNames: ReadonlyArray<string | RegExp>) => {
  const request = redactRequest(error.request, url, redactedNames)
  const fields = {
    request,
    cause: error.cause,
    ...(error.description === undefined ? {} : { description: error.description })
  }
  return error._tag === "RequestError"
    ? new HttpClientError.RequestError({ ...fields, reason: error.reason })
    // A ResponseError's response holds the request too: the span keeps its status only.
    : new HttpClientError.RequestError({ ...fields, reason: "Transport", description: `${error.reason} (HTTP ${error.response.status})` })
}

/**
 * The exit a client span ends with. Tracers record a failed span's error (its message names
 * the method and URL, its request holds every header), so the error is a copy with the request
 * redacted as the span's attributes are; the caller still gets the original. A success ends
 * the span with no value: the response holds the request too.
 */
const spanExit = (
  exit: Exit.Exit<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError>,
  url: URL,
  redactedNames: ReadonlyArray<string | RegExp>
): Exit.Exit<void, HttpClientError.HttpClientError> =>
  Exit.isSuccess(exit) ? Exit.void : Exit.failCause(Cause.map(exit.cause, (error) => redactError(error, url, redactedNames)))

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
const ATTR_ERROR_TYPE = "error.type"

const errorType = (error: HttpClientError.HttpClientError): string => {
  const cause = error.cause
  const code = typeof cause === "object" && cause !== null && "code" in cause && typeof cause.code === "string"
    ? cause.code
    : undefined
  return code ?? error.reason
}

/**
 * A client over a dispatcher you own. Throws a `RangeError` on invalid options.
 *
 * It is `HttpClient.makeWith` around `send`, with the request handling of
 * `HttpClient.make` (platform 0.97, `internal/httpClient.ts`) redone without what only lazily read
 * bodies need. `make` gives every request an `AbortController`, and every response a
 * `FinalizationRegistry` entry and an interrupt-aware wrapper, so that an unread body's socket is
 * released eventually. Here a response is complete when it is returned, and interruption aborts
 * through the `Effect.async` canceler. On the benchmark (bench/httpClient.ts) that bookkeeping
 * cost ~9 µs of CPU per request. Everything observable is kept: `InvalidUrl` errors, the span
 * (name from `SpanNameGenerator`, the same attributes with redacted headers), `traceparent`/`b3`
 * propagation, `withTracerPropagation`, `withTracerDisabledWhen` and `Effect.withTracerEnabled`.
 */
export const makeWithDispatcher = (
  dispatcher: UndiciDispatcher,
  options: ClientOptions = {}
): HttpClient.HttpClient => {
  const maxBytes = checkCount("maxResponseBytes", options.maxResponseBytes, defaultMaxResponseBytes, 0)
  const headersTimeout = checkMillis("headersTimeout", options.headersTimeout)
  const bodyTimeout = checkMillis("bodyTimeout", options.bodyTimeout)

  const send = (
    request: HttpClientRequest.HttpClientRequest,
    url: URL,
    timeoutMs: number | undefined
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
      if (timeoutMs !== undefined) handler.deadline(timeoutMs)
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
    fiber: { readonly currentContext: Context.Context<never>; getFiberRef<A>(ref: FiberRef.FiberRef<A>): A },
    timeoutMs: number | undefined
  ) =>
    Effect.useSpan(
      Context.get(fiber.currentContext, HttpClient.SpanNameGenerator)(request),
      { kind: "client", captureStackTrace: false },
      (span) => {
        span.attribute(ATTR_HTTP_REQUEST_METHOD, request.method)
        // The host alone, as the HTTP conventions say (the origin was not).
        span.attribute(ATTR_SERVER_ADDRESS, url.hostname.replace(/^\[(.*)\]$/, "$1"))
        span.attribute(ATTR_SERVER_PORT, url.port !== "" ? +url.port : url.protocol === "https:" ? 443 : 80)
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
        return Effect.withParentSpan(send(sent, url, timeoutMs), span).pipe(
          // error.type: the status of a 4xx/5xx answer, the error's code (or reason) otherwise.
          Effect.tapError((error) => Effect.sync(() => span.attribute(ATTR_ERROR_TYPE, errorType(error)))),
          Effect.tap((response) => {
            span.attribute(ATTR_HTTP_RESPONSE_STATUS_CODE, response.status)
            if (response.status >= 400) span.attribute(ATTR_ERROR_TYPE, String(response.status))
            const responseHeaders = Headers.redact(response.headers, redactedNames)
            for (const name in responseHeaders) {
              span.attribute(ATTR_HTTP_RESPONSE_HEADER(name), String(responseHeaders[name]))
            }
          }),
          // Ended here, before useSpan would end it with the real exit: see `spanExit`.
          Effect.onExit((exit) =>
            Effect.sync(() => {
              const timing = fiber.getFiberRef(FiberRef.currentTracerTimingEnabled)
              const now = timing ? Context.get(fiber.getFiberRef(DefaultServices.currentServices), Clock.Clock).unsafeCurrentTimeNanos() : 0n
              span.end(now, spanExit(exit, url, redactedNames))
            })
          )
        )
      }
    )

  // A webhook posts to the same URL again and again: parse each once. Only plain URLs (no
  // separate query parameters, no fragment) are kept, and only read, never changed.
  const parsed = new Map<string, URL>()
  const urlOf = (request: HttpClientRequest.HttpClientRequest) => {
    const plain = request.urlParams.length === 0 && request.hash._tag === "None"
    const known = plain ? parsed.get(request.url) : undefined
    if (known !== undefined) return Either.right(known)
    const made = UrlParams.makeUrl(request.url, request.urlParams, request.hash)
    if (plain && made._tag === "Right") {
      if (parsed.size >= 256) parsed.clear()
      parsed.set(request.url, made.right)
    }
    return made
  }

  const execute = (request: HttpClientRequest.HttpClientRequest, timeoutMs: number | undefined) =>
    Effect.withFiberRuntime<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError>((fiber) => {
      const urlResult = urlOf(request)
      if (urlResult._tag === "Left") {
        return Effect.fail(new HttpClientError.RequestError({ request, reason: "InvalidUrl", cause: urlResult.left }))
      }
      const url = urlResult.right
      const tracerDisabled = !fiber.getFiberRef(FiberRef.currentTracerEnabled) ||
        fiber.getFiberRef(HttpClient.currentTracerDisabledWhen)(request)
      // The deadline's timer follows the Clock in context: a plain timer under the live Clock;
      // under any other (TestClock) that Clock's sleep, so tests step it like any wait.
      const liveTimer = timeoutMs === undefined ||
        Context.get(fiber.getFiberRef(DefaultServices.currentServices), Clock.Clock) === liveClock
      const timer = liveTimer ? timeoutMs : undefined
      const exchange = tracerDisabled ? send(request, url, timer) : traced(request, url, fiber, timer)
      return liveTimer ? exchange : Effect.raceFirst(exchange, Effect.flatMap(Effect.sleep(timeoutMs), () =>
        Effect.fail(
          new HttpClientError.RequestError({
            request,
            reason: "Transport",
            cause: new DeadlineExceeded(timeoutMs),
            description: `no complete response within ${timeoutMs} ms`
          })
        )))
    })

  const client = HttpClient.makeWith<never, never, HttpClientError.HttpClientError, never>(
    (requestEffect) => Effect.flatMap(requestEffect, (request) => execute(request, undefined)),
    Effect.succeed
  )
  return Object.assign(client, { [DeadlineTypeId]: execute })
}

const liveClock = Context.get(DefaultServices.liveServices, Clock.Clock)

/**
 * What this client has beyond `HttpClient`: `execute` with the attempt's deadline, which the
 * client keeps itself. A deadline around the effect would need a second fiber per request
 * (`Effect.raceFirst` with a sleep); `Effect.timeout` worse, it waits for its effect in an
 * uninterruptible region, so an interrupted attempt would hang until the receiver answered.
 */
export const DeadlineTypeId: unique symbol = Symbol.for("servo-webhooks/UndiciHttpClient/Deadline")

/**
 * `client`'s execute-with-deadline when it is this module's client (not wrapped by a combinator,
 * which makes a new client); `undefined` otherwise. Past `timeoutMs` (body included) the request
 * is aborted and fails with a `"Transport"` `RequestError` whose cause has code
 * {@link deadlineCode}.
 */
export const executeWithin = (
  client: HttpClient.HttpClient
):
  | ((
    request: HttpClientRequest.HttpClientRequest,
    timeoutMs: number
  ) => Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError>)
  | undefined => (client as { readonly [DeadlineTypeId]?: never })[DeadlineTypeId]

/**
 * A client over a new `Agent` (or over `options.dispatcher`). The `Agent` is destroyed when the
 * scope closes: requests still in flight then fail with a `"Transport"` error. Invalid options
 * (a negative `maxResponseBytes`, `connections` below 1) are defects.
 */
export const make = (
  options: Options = {}
): Effect.Effect<HttpClient.HttpClient, never, Scope.Scope> =>
  options.dispatcher !== undefined
    ? Effect.sync(() => makeWithDispatcher(options.dispatcher!, options))
    : Effect.map(makeAgent(options), (agent) => makeWithDispatcher(agent, options))

export const layerWithOptions = (options: Options): Layer.Layer<HttpClient.HttpClient> =>
  Layer.scoped(HttpClient.HttpClient, make(options))

/** The client with default options: 64 connections per origin, 64 KiB response bodies. */
export const layer: Layer.Layer<HttpClient.HttpClient> = layerWithOptions({})

/**
 * The client over the {@link Dispatcher} in context: provide `dispatcherLayer` or a Layer of your
 * own (TLS options, a connect hook, a proxy, HTTP/2).
 */
export const layerWithoutDispatcher = (
  options?: ClientOptions
): Layer.Layer<HttpClient.HttpClient, never, Dispatcher> =>
  Layer.effect(HttpClient.HttpClient, Effect.map(Dispatcher, (dispatcher) => makeWithDispatcher(dispatcher, options)))

/** Whether this client stopped reading the response body at `maxResponseBytes`. */
export const isTruncated = (response: HttpClientResponse.HttpClientResponse): boolean =>
  response.headers[truncatedHeader] === "true"
