import * as HttpBody from "@effect/platform/HttpBody"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"
import type * as http from "node:http"
import { Agent, type Dispatcher } from "undici"
import * as UndiciHttpClient from "../src/webhooks/UndiciHttpClient.js"
import { step } from "./support/clock.js"
import { watchCrashes } from "./support/crashes.js"
import { unresolvingAgent } from "./support/dns.js"
import { eventually, within } from "./support/poll.js"
import { gate, never, receiver, type Responder, status } from "./support/receiver.js"

/** A 200 with a text body. */
const ok = (body = "ok", headers: http.OutgoingHttpHeaders = {}): Responder =>
  status(200, { "content-type": "text/plain", ...headers }, body)

/** The client with default options, closed with the test's scope. */
const client = (options?: UndiciHttpClient.Options) => UndiciHttpClient.make(options)

/** The failure of an exit that must have failed. */
const failureOf = (exit: Exit.Exit<unknown, unknown>): unknown =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined

const requestError = (exit: Exit.Exit<unknown, unknown>): HttpClientError.RequestError => {
  const error = failureOf(exit)
  expect(error).toBeInstanceOf(HttpClientError.RequestError)
  return error as HttpClientError.RequestError
}

const causeCode = (error: HttpClientError.RequestError): unknown =>
  (error.cause as { code?: unknown } | undefined)?.code

// ---------------------------------------------------------------------------------------------

describe("UndiciHttpClient", () => {
  it.scopedLive("sends method, path, headers and a byte body intact and reads status, headers, body back", () =>
    Effect.gen(function*() {
      const server = yield* receiver((_, res) => {
        res.writeHead(201, [
          "Content-Type",
          "application/json",
          "X-Reply",
          "yes",
          "Set-Cookie",
          "a=1",
          "Set-Cookie",
          "b=2"
        ])
        res.end(JSON.stringify({ received: true, n: 3 }))
      })
      const http = yield* client()
      // Every byte value, so a lossy text round trip would show.
      const bytes = Uint8Array.from({ length: 256 }, (_, i) => i)
      const response = yield* http.execute(
        HttpClientRequest.post(`${server.origin}/hook?attempt=1#fragment`).pipe(
          HttpClientRequest.setHeaders({ "webhook-id": "msg_1", "X-Mixed-Case": "kept" }),
          HttpClientRequest.bodyUint8Array(bytes, "application/octet-stream")
        )
      )

      expect(server.requests).toHaveLength(1)
      const [seen] = server.requests
      expect(seen!.method).toBe("POST")
      expect(seen!.path).toBe("/hook?attempt=1")
      expect(seen!.headers["webhook-id"]).toBe("msg_1")
      expect(seen!.headers["x-mixed-case"]).toBe("kept")
      expect(seen!.headers["content-type"]).toBe("application/octet-stream")
      expect(seen!.headers["content-length"]).toBe("256")
      expect(Buffer.compare(seen!.body, Buffer.from(bytes))).toBe(0)

      expect(response.status).toBe(201)
      expect(response.headers["content-type"]).toBe("application/json")
      expect(response.headers["x-reply"]).toBe("yes")
      expect(response.cookies.cookies["a"]?.value).toBe("1")
      expect(response.cookies.cookies["b"]?.value).toBe("2")
      expect(yield* response.json).toEqual({ received: true, n: 3 })
      expect(yield* response.text).toBe("{\"received\":true,\"n\":3}")
      expect(new TextDecoder().decode(yield* response.arrayBuffer)).toBe("{\"received\":true,\"n\":3}")
      const streamed = yield* Stream.runCollect(response.stream)
      expect(Buffer.concat(Chunk.toArray(streamed)).toString()).toBe("{\"received\":true,\"n\":3}")
      expect(UndiciHttpClient.isTruncated(response)).toBe(false)
      expect(UndiciHttpClient.truncatedHeader in response.headers).toBe(false)
    }))

  it.scopedLive("sends Raw string and ArrayBuffer bodies, and no body for Empty", () =>
    Effect.gen(function*() {
      const server = yield* receiver(ok())
      const http = yield* client()
      yield* http.execute(
        HttpClientRequest.put(`${server.origin}/raw`).pipe(HttpClientRequest.setBody(HttpBody.raw("héllo")))
      )
      yield* http.execute(
        HttpClientRequest.post(`${server.origin}/buffer`).pipe(
          HttpClientRequest.setBody(HttpBody.raw(Uint8Array.of(1, 2, 3).buffer, { contentType: "application/x-bin" }))
        )
      )
      yield* http.get(`${server.origin}/empty`)
      expect(server.requests.map((r) => [r.method, r.path, r.body.toString("hex")])).toEqual([
        ["PUT", "/raw", Buffer.from("héllo").toString("hex")],
        ["POST", "/buffer", "010203"],
        ["GET", "/empty", ""]
      ])
      expect(server.requests[1]!.headers["content-type"]).toBe("application/x-bin")
      expect(server.requests[2]!.headers["content-length"]).toBeUndefined()
      expect(server.requests[2]!.headers["transfer-encoding"]).toBeUndefined()
    }))

  it.scopedLive("fails with an Encode RequestError for stream and form bodies, without sending", () =>
    Effect.gen(function*() {
      const server = yield* receiver(ok())
      const http = yield* client()
      const streamed = yield* http.execute(
        HttpClientRequest.post(`${server.origin}/hook`).pipe(
          HttpClientRequest.bodyStream(Stream.make(new Uint8Array([1])))
        )
      ).pipe(Effect.exit)
      const form = new FormData()
      form.append("a", "b")
      const formed = yield* http.execute(
        HttpClientRequest.post(`${server.origin}/hook`).pipe(HttpClientRequest.bodyFormData(form))
      ).pipe(Effect.exit)
      expect(requestError(streamed).reason).toBe("Encode")
      expect(requestError(formed).reason).toBe("Encode")
      expect(requestError(streamed).message).toContain("Stream")
      expect(server.requests).toHaveLength(0)
      expect(server.connections()).toBe(0)
    }))

  it.scopedLive("fails with an Encode RequestError for a header or length undici refuses, without sending", () =>
    Effect.gen(function*() {
      const server = yield* receiver(ok())
      const http = yield* client()
      const exit = yield* http.get(server.origin, { headers: { "x-injected": "a\r\nx-evil: 1" } }).pipe(Effect.exit)
      const error = requestError(exit)
      expect(error.reason).toBe("Encode")
      expect(causeCode(error)).toBe("UND_ERR_INVALID_ARG")
      const mismatch = requestError(
        yield* http.execute(
          HttpClientRequest.post(server.origin).pipe(
            HttpClientRequest.setBody(HttpBody.raw("abc", { contentLength: 10 }))
          )
        ).pipe(Effect.exit)
      )
      expect(mismatch.reason).toBe("Encode")
      expect(causeCode(mismatch)).toBe("UND_ERR_REQ_CONTENT_LENGTH_MISMATCH")
      expect(server.requests).toHaveLength(0)
    }))

  it.scopedLive("rejects non-http URLs with InvalidUrl", () =>
    Effect.gen(function*() {
      const http = yield* client()
      const exit = yield* http.get("ftp://127.0.0.1/file").pipe(Effect.exit)
      expect(requestError(exit).reason).toBe("InvalidUrl")
    }))

  it.scopedLive("returns a 3xx as is and never follows it", () =>
    Effect.gen(function*() {
      const server = yield* receiver((req, res, index) => {
        if (req.path === "/from") {
          res.writeHead(302, { location: "/to" })
          res.end()
        } else {
          ok("moved here")(req, res, index)
        }
      })
      const http = yield* client()
      const response = yield* http.post(`${server.origin}/from`, { body: HttpBody.text("{}", "application/json") })
      expect(response.status).toBe(302)
      expect(response.headers["location"]).toBe("/to")
      expect(yield* response.text).toBe("")
      expect(server.requests.map((r) => r.path)).toEqual(["/from"])
    }))

  it.scopedLive("caps a 10 MB body at maxResponseBytes, marks it truncated and stops reading", () =>
    Effect.gen(function*() {
      const total = 10 * 1024 * 1024
      const head = 1024 * 1024
      const cap = UndiciHttpClient.defaultMaxResponseBytes
      // The receiver sends the first MB, then holds the other 9 until told, and the test never
      // tells it: a client that read or buffered whole bodies would wait forever (and fail as a
      // hang), one that parked the connection would never close it.
      const closed = yield* Deferred.make<{ readonly restWritten: boolean }>()
      const server = yield* receiver((req, res, index) => {
        if (req.path !== "/big") return ok("small")(req, res, index)
        const restWritten = false
        res.socket!.on("close", () => Deferred.unsafeDone(closed, Exit.succeed({ restWritten })))
        res.writeHead(200, { "content-type": "application/octet-stream", "content-length": total })
        res.write(Buffer.alloc(head, 0x61))
      })
      const http = yield* client()
      const response = yield* http.get(`${server.origin}/big`)
      const body = yield* within("the capped body", response.arrayBuffer)
      expect(response.status).toBe(200)
      expect(body.byteLength).toBe(cap)
      expect(new Uint8Array(body).every((b) => b === 0x61)).toBe(true)
      expect(UndiciHttpClient.isTruncated(response)).toBe(true)
      expect(response.headers[UndiciHttpClient.truncatedHeader]).toBe("true")
      // The receiver's content-length is reported as it was sent.
      expect(response.headers["content-length"]).toBe(String(total))
      expect((yield* response.text).length).toBe(cap)

      // The client hung up long before the body's end, instead of reading it or parking it.
      const end = yield* within("the client to hang up", Deferred.await(closed))
      expect(end.restWritten).toBe(false)

      // Still usable: the cut connection was not put back in the pool.
      const next = yield* http.get(`${server.origin}/small`)
      expect(yield* next.text).toBe("small")
      expect(server.closed()).toBeGreaterThanOrEqual(1)
    }))

  it.scopedLive("honours a smaller maxResponseBytes, and a body of exactly the cap is not truncated", () =>
    Effect.gen(function*() {
      const server = yield* receiver((req, res, index) => ok(req.path === "/ten" ? "0123456789" : "01234567890")(req, res, index))
      const http = yield* client({ maxResponseBytes: 10 })
      const exact = yield* http.get(`${server.origin}/ten`)
      expect(yield* exact.text).toBe("0123456789")
      expect(UndiciHttpClient.isTruncated(exact)).toBe(false)
      const over = yield* http.get(`${server.origin}/eleven`)
      expect(yield* over.text).toBe("0123456789")
      expect(UndiciHttpClient.isTruncated(over)).toBe(true)
    }))

  it.scopedLive("drops a receiver's own truncation header", () =>
    Effect.gen(function*() {
      const server = yield* receiver(ok("small", { [UndiciHttpClient.truncatedHeader]: "true" }))
      const http = yield* client()
      const response = yield* http.get(server.origin)
      expect(UndiciHttpClient.isTruncated(response)).toBe(false)
      expect(response.headers[UndiciHttpClient.truncatedHeader]).toBeUndefined()
    }))

  it.scopedLive("json on a body that is not JSON fails with a Decode ResponseError", () =>
    Effect.gen(function*() {
      const server = yield* receiver(ok("<html>no</html>"))
      const http = yield* client()
      const response = yield* http.get(server.origin)
      const exit = yield* response.json.pipe(Effect.exit)
      expect(failureOf(exit)).toMatchObject({
        _tag: "ResponseError",
        reason: "Decode"
      })
      expect(yield* response.text).toBe("<html>no</html>")
    }))

  it.scoped("interrupting a request (Effect.timeout) aborts it: the receiver sees the socket close", () =>
    Effect.gen(function*() {
      const socketClosed = yield* Deferred.make<void>()
      const server = yield* receiver((_, res) => {
        // Never answers.
        res.socket!.on("close", () => Deferred.unsafeDone(socketClosed, Exit.void))
      })
      const http = yield* client()
      const request = yield* http.post(`${server.origin}/slow`, { body: HttpBody.text("{}") }).pipe(
        Effect.timeout("200 millis"),
        Effect.exit,
        Effect.fork
      )
      yield* within("the request to arrive", server.waitFor(1))
      // The timeout's 200 ms pass on the TestClock; the receiver still has not answered, so the
      // request ends by the interruption alone, without waiting for an answer.
      yield* step("200 millis")
      const exit = yield* Fiber.join(request)
      expect(failureOf(exit)).toBeInstanceOf(Cause.TimeoutException)
      yield* within("the client to close the socket", Deferred.await(socketClosed))
      expect(server.requests).toHaveLength(1)
    }))

  it.scoped("interrupting a request still queued for a connection never sends it", () =>
    Effect.gen(function*() {
      // /hold is answered only when the test says so: until then it holds the one connection.
      const holding = gate(ok())
      const server = yield* receiver((req, res, index) =>
        req.path === "/hold" ? holding.responder(req, res, index) : ok()(req, res, index)
      )
      // One connection per origin, on an agent the test can ask how many requests wait for it.
      const agent = new Agent({ connections: 1 })
      yield* Effect.addFinalizer(() => Effect.promise(() => agent.destroy()))
      const http = yield* client({ dispatcher: agent })
      const hold = yield* Effect.fork(http.get(`${server.origin}/hold`))
      yield* within("/hold to arrive", server.waitFor(1))
      const queued = yield* Effect.fork(http.get(`${server.origin}/queued`).pipe(Effect.timeout("50 millis"), Effect.exit))
      yield* eventually("/queued to wait for the connection", Effect.sync(() => agent.stats[server.origin]?.pending), (n) => n === 1)
      yield* step("50 millis")
      const exit = yield* Fiber.join(queued)
      expect(Exit.isFailure(exit)).toBe(true)
      holding.open()
      const held = yield* Fiber.join(hold)
      expect(held.status).toBe(200)
      // The queued request was dropped when its turn came; the next one goes through.
      const after = yield* http.get(`${server.origin}/after`)
      expect(after.status).toBe(200)
      expect(server.requests.map((r) => r.path)).toEqual(["/hold", "/after"])
    }))

  it.scopedLive("connection refused is a Transport RequestError with the cause", () =>
    Effect.gen(function*() {
      // A port that was just free.
      const port = yield* Effect.scoped(Effect.map(receiver(ok()), (server) => server.port))
      const http = yield* client()
      const exit = yield* http.get(`http://127.0.0.1:${port}/`).pipe(Effect.exit)
      const error = requestError(exit)
      expect(error.reason).toBe("Transport")
      expect(causeCode(error)).toBe("ECONNREFUSED")
    }))

  it.scopedLive("an unknown host is a Transport RequestError", () =>
    Effect.gen(function*() {
      // Through a lookup that fails at once (support/dns.ts), never this machine's resolver.
      const lookups: Array<string> = []
      const http = yield* client({ dispatcher: yield* unresolvingAgent(lookups) })
      const exit = yield* http.get("http://does-not-exist.invalid/").pipe(Effect.exit)
      const error = requestError(exit)
      expect(error.reason).toBe("Transport")
      expect(["ENOTFOUND", "EAI_AGAIN"]).toContain(causeCode(error))
      expect(lookups).toEqual(["does-not-exist.invalid"])
    }))

  it.scopedLive("a socket reset mid-response is a Transport error and no promise is left rejected", () =>
    Effect.gen(function*() {
      const crashes = yield* watchCrashes
      const server = yield* receiver((req, res) => {
        if (req.path === "/headers-only") {
          res.writeHead(200, { "content-length": 1000 })
          res.write("partial", () => res.socket!.resetAndDestroy())
        } else {
          // Nothing at all: the connection dies before a status line.
          res.socket!.resetAndDestroy()
        }
      })
      const http = yield* client()
      const midBody = requestError(yield* http.get(`${server.origin}/headers-only`).pipe(Effect.exit))
      const beforeStatus = requestError(yield* http.get(`${server.origin}/nothing`).pipe(Effect.exit))
      expect(midBody.reason).toBe("Transport")
      expect(beforeStatus.reason).toBe("Transport")
      expect(midBody.cause).toBeInstanceOf(Error)
      expect(beforeStatus.cause).toBeInstanceOf(Error)
      // Every rejection so far has been reported (a canary rejected now has).
      expect((yield* crashes.settled).unhandledRejections).toEqual([])
    }))

  it.scopedLive("reuses keep-alive connections, and never opens more than `connections` per origin", () =>
    Effect.gen(function*() {
      const server = yield* receiver(ok())
      const http = yield* client({ connections: 4 })
      yield* Effect.forEach(Array.from({ length: 50 }), () => http.get(`${server.origin}/seq`), { discard: true })
      expect(server.requests).toHaveLength(50)
      // undici waits one event-loop turn before reusing a socket, so a request sent the moment
      // the previous one completes may take a second connection; never more.
      expect(server.connections()).toBeLessThanOrEqual(2)
      yield* Effect.forEach(Array.from({ length: 100 }), () => http.get(`${server.origin}/par`), {
        concurrency: 32,
        discard: true
      })
      expect(server.requests).toHaveLength(150)
      expect(server.connections()).toBeGreaterThan(1)
      expect(server.connections()).toBeLessThanOrEqual(4)
    }))

  it.scopedLive("closing the scope destroys the Agent: its sockets close and later requests fail", () =>
    Effect.gen(function*() {
      const server = yield* receiver(ok())
      const scope = yield* Scope.make()
      const http = yield* client().pipe(Scope.extend(scope))
      yield* http.get(server.origin)
      expect(server.connections()).toBe(1)
      expect(server.closed()).toBe(0)
      yield* Scope.close(scope, Exit.void)
      yield* within("the agent's socket to close", server.allClosed)
      expect(server.closed()).toBe(1)
      const exit = yield* http.get(server.origin).pipe(Effect.exit)
      expect(requestError(exit).reason).toBe("Transport")
      expect(server.requests).toHaveLength(1)
    }))

  it.scopedLive("a caller's dispatcher is used and left open when the scope closes", () =>
    Effect.gen(function*() {
      const server = yield* receiver(ok())
      const agent = new Agent({ connections: 1 })
      yield* Effect.addFinalizer(() => Effect.promise(() => agent.destroy()))
      const scope = yield* Scope.make()
      const http = yield* client({ dispatcher: agent }).pipe(Scope.extend(scope))
      yield* http.get(server.origin)
      yield* Scope.close(scope, Exit.void)
      expect(agent.closed).toBe(false)
      expect(agent.destroyed).toBe(false)
      const again = UndiciHttpClient.makeWithDispatcher(agent)
      expect((yield* again.get(server.origin)).status).toBe(200)
      // Both requests went over the agent's single keep-alive connection.
      expect(server.connections()).toBe(1)
    }))

  it.scopedLive("layerWithoutDispatcher sends through the Dispatcher in context", () =>
    Effect.gen(function*() {
      const server = yield* receiver(ok("via layer"))
      const text = yield* HttpClient.get(server.origin).pipe(
        Effect.flatMap((response) => response.text),
        Effect.provide(
          UndiciHttpClient.layerWithoutDispatcher({ maxResponseBytes: 3 }).pipe(
            Layer.provide(UndiciHttpClient.dispatcherLayer({ connections: 2 }))
          )
        )
      )
      expect(text).toBe("via")
      const viaDefault = yield* HttpClient.get(server.origin).pipe(
        Effect.flatMap((response) => response.text),
        Effect.provide(UndiciHttpClient.layer)
      )
      expect(viaDefault).toBe("via layer")
    }))

  it.scopedLive("sends trace headers by default and none with withTracerPropagation(false)", () =>
    Effect.gen(function*() {
      const server = yield* receiver(ok())
      const http = yield* client()
      yield* http.get(`${server.origin}/traced`)
      yield* http.pipe(HttpClient.withTracerPropagation(false)).get(`${server.origin}/quiet`)
      const [traced, quiet] = server.requests
      expect(traced!.headers["traceparent"]).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/)
      expect(traced!.headers["b3"]).toBeDefined()
      expect(quiet!.headers["traceparent"]).toBeUndefined()
      expect(quiet!.headers["b3"]).toBeUndefined()
    }))

  it.scopedLive("tracer refs set once around concurrent deliveries reach every request (the cheap way)", () =>
    Effect.gen(function*() {
      const server = yield* receiver(ok())
      const http = yield* client()
      const base = yield* Effect.tracer
      let spans = 0
      const tracer = Tracer.make({
        span: (...args) => (spans++, base.span(...args)),
        context: (f, fiber) => base.context(f, fiber)
      })
      yield* Effect.forEach(Array.from({ length: 8 }), () => http.get(server.origin), { concurrency: 4 }).pipe(
        Effect.locally(HttpClient.currentTracerPropagation, false),
        Effect.locally(HttpClient.currentTracerDisabledWhen, () => true),
        Effect.withTracer(tracer)
      )
      expect(server.requests).toHaveLength(8)
      expect(server.requests.filter((r) => r.headers["traceparent"] !== undefined || r.headers["b3"] !== undefined))
        .toEqual([])
      expect(spans).toBe(0)
    }))

  it.scopedLive("traces like HttpClient.make: a client span with redacted headers, its ids in traceparent", () =>
    Effect.gen(function*() {
      const server = yield* receiver(ok("traced", { "x-reply": "yes" }))
      const http = yield* client()
      const base = yield* Effect.tracer
      const spans: Array<Tracer.Span> = []
      const tracer = Tracer.make({
        span: (...args) => {
          const span = base.span(...args)
          spans.push(span)
          return span
        },
        context: (f, fiber) => base.context(f, fiber)
      })
      yield* http.post(`${server.origin}/hook?x=1`, {
        headers: { authorization: "Bearer secret", "webhook-id": "msg_1" },
        body: HttpBody.text("{}", "application/json")
      }).pipe(Effect.withTracer(tracer))
      yield* http.pipe(HttpClient.withSpanNameGenerator(() => "webhook delivery")).get(server.origin).pipe(
        Effect.withTracer(tracer)
      )
      yield* http.pipe(HttpClient.withTracerDisabledWhen(() => true)).get(`${server.origin}/untraced`).pipe(
        Effect.withTracer(tracer)
      )

      expect(spans.map((span) => span.name)).toEqual(["http.client POST", "webhook delivery"])
      const [post] = spans
      expect(post!.kind).toBe("client")
      expect(post!.status._tag).toBe("Ended")
      expect(Object.fromEntries(post!.attributes)).toMatchObject({
        "http.request.method": "POST",
        // The host alone, as the HTTP semantic conventions say (HttpClient.make puts the origin).
        "server.address": "127.0.0.1",
        "server.port": server.port,
        // Query values may be credentials: the span keeps their names only (the wire keeps all).
        "url.full": `${server.origin}/hook?x=REDACTED`,
        "url.path": "/hook",
        "url.query": "x=REDACTED",
        "url.scheme": "http",
        "http.request.header.webhook-id": "msg_1",
        "http.response.status_code": 200,
        "http.response.header.x-reply": "yes"
      })
      expect(post!.attributes.get("http.request.header.authorization")).not.toContain("secret")
      expect(server.requests[0]!.path).toBe("/hook?x=1")
      expect(server.requests[0]!.headers["traceparent"]).toBe(`00-${post!.traceId}-${post!.spanId}-01`)
      expect(server.requests[2]!.headers["traceparent"]).toBeUndefined()
    }))

  it.scopedLive("decodes urlencoded and form bodies, and shows status, truncation and body in toJSON", () =>
    Effect.gen(function*() {
      const server = yield* receiver((req, res) => {
        if (req.path === "/empty") {
          res.writeHead(204)
          return res.end()
        }
        res.writeHead(200, { "content-type": "application/x-www-form-urlencoded" })
        res.end("a=1&b=two")
      })
      const http = yield* client()
      const response = yield* http.get(server.origin)
      expect(yield* response.urlParamsBody).toEqual([["a", "1"], ["b", "two"]])
      expect((yield* response.formData).get("b")).toBe("two")
      expect(response.toJSON()).toMatchObject({ status: 200, truncated: false, body: "a=1&b=two" })
      expect(Option.isNone(response.remoteAddress)).toBe(true)
      expect(response.cookies.cookies).toEqual({})

      const empty = yield* http.get(`${server.origin}/empty`)
      expect(empty.status).toBe(204)
      expect(Chunk.size(yield* Stream.runCollect(empty.stream))).toBe(0)
      expect(yield* empty.json).toBeNull()
    }))

  it.scopedLive("passes headersTimeout to undici", () =>
    Effect.gen(function*() {
      const server = yield* receiver(never)
      const http = yield* client({ headersTimeout: 100 })
      const error = requestError(yield* within("undici's headers timeout", http.get(server.origin).pipe(Effect.exit)))
      expect(error.reason).toBe("Transport")
      expect(causeCode(error)).toBe("UND_ERR_HEADERS_TIMEOUT")
    }))

  it.scopedLive("a dispatcher that throws gives a Transport error; unsupported Raw bodies are Encode errors", () =>
    Effect.gen(function*() {
      const throwing = { dispatch: () => { throw new Error("boom") } } as unknown as Dispatcher
      const error = requestError(
        yield* UndiciHttpClient.makeWithDispatcher(throwing).get("http://127.0.0.1:1/").pipe(Effect.exit)
      )
      expect(error.reason).toBe("Transport")
      expect((error.cause as Error).message).toBe("boom")

      const http = yield* client()
      const rawObject = requestError(
        yield* http.execute(
          HttpClientRequest.post("http://127.0.0.1:1/").pipe(HttpClientRequest.setBody(HttpBody.raw({ not: "bytes" })))
        ).pipe(Effect.exit)
      )
      expect(rawObject.reason).toBe("Encode")
      const badUrl = requestError(yield* http.get("http://[not a host/").pipe(Effect.exit))
      expect(badUrl.reason).toBe("InvalidUrl")
    }))

  it.effect("refuses invalid options", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.scoped(UndiciHttpClient.make({ maxResponseBytes: -1 })).pipe(Effect.exit)
      expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
      const agentExit = yield* Effect.scoped(UndiciHttpClient.make({ connections: 0 })).pipe(Effect.exit)
      expect(Exit.isFailure(agentExit) && Cause.isDie(agentExit.cause)).toBe(true)
      const agent = new Agent()
      expect(() => UndiciHttpClient.makeWithDispatcher(agent, { headersTimeout: Number.NaN })).toThrow(RangeError)
      yield* Effect.promise(() => agent.close())
    }))
})
