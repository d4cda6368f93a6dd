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
 * `HttpClient.SpanNameGenerator`, with the same attributes and redacted headers) and, by
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
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type * as Undici from "undici"
import * as internal from "./internal/undiciHttpClient.js"

/**
 * The undici dispatcher a client built by {@link layerWithoutDispatcher} sends through.
 *
 * @since 0.1.0
 * @category tags
 */
export class Dispatcher extends Context.Tag("servo-webhooks/UndiciHttpClient/Dispatcher")<
  Dispatcher,
  Undici.Dispatcher
>() {}

/**
 * How the client's own `Agent` is set up. Ignored when you pass a `dispatcher`.
 *
 * @since 0.1.0
 * @category models
 */
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

/**
 * How each request is sent and read, whatever the dispatcher.
 *
 * @since 0.1.0
 * @category models
 */
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

/**
 * @since 0.1.0
 * @category models
 */
export interface Options extends AgentOptions, ClientOptions {
  /**
   * Send through this dispatcher instead of a new `Agent`. The caller owns it: the client does
   * not configure it (`connections` and `keepAliveTimeout` are ignored) and does not close it.
   */
  readonly dispatcher?: Undici.Dispatcher | undefined
}

/**
 * @since 0.1.0
 * @category constants
 */
export const defaultConnections: number = internal.defaultConnections

/**
 * @since 0.1.0
 * @category constants
 */
export const defaultMaxResponseBytes: number = internal.defaultMaxResponseBytes

/**
 * The response header this client adds, with the value `"true"`, when it stopped reading a body
 * at `maxResponseBytes`. The same header coming from a receiver is removed, so its presence
 * always means this client cut the body.
 *
 * @since 0.1.0
 * @category constants
 */
export const truncatedHeader: string = internal.truncatedHeader

/**
 * Whether this client stopped reading the response body at `maxResponseBytes`.
 *
 * @since 0.1.0
 * @category utils
 */
export const isTruncated: (response: HttpClientResponse.HttpClientResponse) => boolean = internal.isTruncated

/**
 * A client over a new `Agent` (or over `options.dispatcher`). The `Agent` is destroyed when the
 * scope closes: requests still in flight then fail with a `"Transport"` error. Invalid options
 * (a negative `maxResponseBytes`, `connections` below 1) are defects.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (options?: Options) => Effect.Effect<HttpClient.HttpClient, never, Scope.Scope> = internal.make

/**
 * A client over a dispatcher you own. Throws a `RangeError` on invalid options.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeWithDispatcher: (
  dispatcher: Undici.Dispatcher,
  options?: ClientOptions
) => HttpClient.HttpClient = internal.makeWithDispatcher

/**
 * A bounded keep-alive `Agent`, destroyed when the scope closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeAgent: (options?: AgentOptions) => Effect.Effect<Undici.Agent, never, Scope.Scope> =
  internal.makeAgent

/**
 * The client with default options: 64 connections per origin, 64 KiB response bodies.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<HttpClient.HttpClient> = internal.layer

/**
 * @since 0.1.0
 * @category layers
 */
export const layerWithOptions: (options: Options) => Layer.Layer<HttpClient.HttpClient> = internal.layerWithOptions

/**
 * The client over the {@link Dispatcher} in context: provide `dispatcherLayer` or a Layer of your
 * own (TLS options, a connect hook, a proxy, HTTP/2).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWithoutDispatcher: (
  options?: ClientOptions
) => Layer.Layer<HttpClient.HttpClient, never, Dispatcher> = internal.layerWithoutDispatcher(Dispatcher)

/**
 * The {@link Dispatcher} as a bounded keep-alive `Agent`, destroyed with the Layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const dispatcherLayer: (options?: AgentOptions) => Layer.Layer<Dispatcher> = internal.dispatcherLayer(
  Dispatcher
)
