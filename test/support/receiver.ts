/**
 * A real `node:http` receiver on 127.0.0.1, port 0, for transport and client tests: it records
 * every request (its whole body read) and answers with whatever the test says.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as http from "node:http"
import type * as net from "node:net"

export interface Received {
  readonly method: string
  readonly path: string
  readonly headers: http.IncomingHttpHeaders
  readonly body: Buffer
  readonly text: string
  readonly json: any
}

export type Responder = (request: Received, response: http.ServerResponse, index: number) => void

export interface Receiver {
  /** `http://127.0.0.1:PORT/hook` */
  readonly url: string
  /** `http://127.0.0.1:PORT` */
  readonly origin: string
  readonly port: number
  readonly requests: Array<Received>
  /** Connections accepted so far. */
  readonly connections: () => number
  /** Connections open now. */
  readonly open: () => number
  /** Connections closed so far. */
  readonly closed: () => number
  /** Resolves once no connection is open (no clock involved: safe under TestClock). */
  readonly allClosed: Effect.Effect<void>
  /** Resolves once `count` requests have arrived (no clock involved: safe under TestClock). */
  readonly waitFor: (count: number) => Effect.Effect<void>
  respond: Responder
}

export const ok: Responder = (_, response) => {
  response.writeHead(200, { "content-type": "text/plain" })
  response.end("ok")
}

export const status = (code: number, headers: http.OutgoingHttpHeaders = {}, body = ""): Responder => (_, response) => {
  response.writeHead(code, headers)
  response.end(body)
}

export const cancel = (reason: string): Responder => (_, response) => {
  response.writeHead(200, { "content-type": "application/vnd.opsani.servo.errors.CancelEventError+json" })
  response.end(JSON.stringify({ reason }))
}

/** Answers with each responder in turn; the last one repeats. */
export const sequence = (...responders: ReadonlyArray<Responder>): Responder => (request, response, index) =>
  responders[Math.min(index, responders.length - 1)]!(request, response, index)

/** Never answers (the socket stays open until the server closes). */
export const never: Responder = () => {}

export const receiver = (respond: Responder = ok): Effect.Effect<Receiver, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<{ server: http.Server; receiver: Receiver; sockets: Set<net.Socket> }>((resume) => {
      const requests: Array<Received> = []
      const waiters: Array<{ count: number; resolve: () => void }> = []
      const sockets = new Set<net.Socket>()
      const closeWaiters: Array<() => void> = []
      let connections = 0
      let closed = 0
      const server = http.createServer((request, response) => {
        const chunks: Array<Buffer> = []
        request.on("data", (chunk: Buffer) => chunks.push(chunk))
        request.on("end", () => {
          const body = Buffer.concat(chunks)
          const text = body.toString("utf8")
          let json: unknown = undefined
          try {
            json = JSON.parse(text)
          } catch {
            // not JSON: keep the text
          }
          const received: Received = { method: request.method!, path: request.url!, headers: request.headers, body, text, json }
          const index = requests.length
          requests.push(received)
          // A client that hangs up mid-answer is what some tests are about, not an error here.
          response.on("error", () => {})
          receiver.respond(received, response, index)
          for (const waiter of waiters.filter((w) => requests.length >= w.count)) {
            waiters.splice(waiters.indexOf(waiter), 1)
            waiter.resolve()
          }
        })
      })
      server.on("connection", (socket) => {
        connections++
        sockets.add(socket)
        socket.on("close", () => {
          closed++
          sockets.delete(socket)
          if (sockets.size === 0) for (const resolve of closeWaiters.splice(0)) resolve()
        })
      })
      const receiver: Receiver = {
        url: "",
        origin: "",
        port: 0,
        requests,
        connections: () => connections,
        open: () => sockets.size,
        closed: () => closed,
        allClosed: Effect.promise(() =>
          sockets.size === 0 ? Promise.resolve() : new Promise<void>((resolve) => closeWaiters.push(resolve))
        ),
        waitFor: (count) =>
          Effect.promise(() =>
            requests.length >= count ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ count, resolve }))
          ),
        respond
      }
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as net.AddressInfo
        Object.assign(receiver, { url: `http://127.0.0.1:${port}/hook`, origin: `http://127.0.0.1:${port}`, port })
        resume(Effect.succeed({ server, receiver, sockets }))
      })
    }),
    ({ server, sockets }) =>
      Effect.async<void>((resume) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ receiver }) => receiver))

/** A port on 127.0.0.1 with nothing listening (bound, then closed). */
export const closedPort: Effect.Effect<number> = Effect.async((resume) => {
  const server = http.createServer()
  server.listen(0, "127.0.0.1", () => {
    const { port } = server.address() as net.AddressInfo
    server.close(() => resume(Effect.succeed(port)))
  })
})

/** Holds every response until `open()`; then answers held and new requests with `then`. */
export const gate = (then: Responder = ok) => {
  const held: Array<() => void> = []
  let opened = false
  const responder: Responder = (request, response, index) => {
    if (opened) then(request, response, index)
    else held.push(() => then(request, response, index))
  }
  return {
    responder,
    held: () => held.length,
    open: () => {
      opened = true
      for (const release of held.splice(0)) release()
    }
  }
}
