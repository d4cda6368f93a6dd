/**
 * Local servers for transport tests, all on loopback, port 0: an https receiver (optionally
 * demanding a client certificate), HTTP/2 receivers (h2 over TLS, h2c in the clear) and an HTTP
 * CONNECT proxy that counts its tunnels.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as http from "node:http"
import * as http2 from "node:http2"
import * as https from "node:https"
import * as net from "node:net"
import type * as tls from "node:tls"

export interface Hit {
  readonly httpVersion: string
  readonly headers: Record<string, string | Array<string> | undefined>
  readonly body: Buffer
  /** The client certificate's subject CN, when one was presented. */
  readonly clientCN?: string
}

export interface Server {
  readonly port: number
  readonly url: (host?: string) => string
  readonly hits: Array<Hit>
  /** TLS handshakes that failed (a client without a certificate, an unknown CA...). */
  readonly tlsErrors: Array<string>
  readonly connections: () => number
}

type Listening = http.Server | https.Server | http2.Http2Server | http2.Http2SecureServer

const serve = (
  make: (handler: (request: http.IncomingMessage | http2.Http2ServerRequest, response: http.ServerResponse | http2.Http2ServerResponse) => void) => Listening,
  scheme: "http" | "https",
  host = "127.0.0.1"
): Effect.Effect<Server, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<{ server: Listening; result: Server; sockets: Set<net.Socket> }>((resume) => {
      const hits: Array<Hit> = []
      const tlsErrors: Array<string> = []
      const sockets = new Set<net.Socket>()
      let connections = 0
      const server = make((request, response) => {
        const chunks: Array<Buffer> = []
        request.on("data", (chunk: Buffer) => chunks.push(chunk))
        request.on("end", () => {
          const socket = request.socket as tls.TLSSocket
          const peer = typeof socket.getPeerCertificate === "function" ? socket.getPeerCertificate() : undefined
          const cn = peer?.subject?.CN
          hits.push({
            httpVersion: request.httpVersion,
            headers: { ...request.headers } as Hit["headers"],
            body: Buffer.concat(chunks),
            ...(typeof cn === "string" ? { clientCN: cn } : {})
          })
          ;(response as http.ServerResponse).writeHead(200, { "content-type": "text/plain" })
          response.end("ok")
        })
      })
      server.on("connection", (socket: net.Socket) => {
        connections++
        sockets.add(socket)
        socket.on("close", () => sockets.delete(socket))
      })
      server.on("tlsClientError", (error: Error) => tlsErrors.push(error.message))
      server.listen(0, host, () => {
        const { port } = server.address() as net.AddressInfo
        const result: Server = {
          port,
          url: (name = host.includes(":") ? `[${host}]` : host) => `${scheme}://${name}:${port}/hook`,
          hits,
          tlsErrors,
          connections: () => connections
        }
        resume(Effect.succeed({ server, result, sockets }))
      })
    }),
    ({ server, sockets }) =>
      Effect.async<void>((resume) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ result }) => result))

export interface TlsFiles {
  readonly cert: string
  readonly key: string
  /** Demand a client certificate signed by this CA (mTLS). */
  readonly clientCa?: string
}

const tlsOptions = (files: TlsFiles) => ({
  cert: files.cert,
  key: files.key,
  ...(files.clientCa === undefined ? {} : { ca: files.clientCa, requestCert: true, rejectUnauthorized: true })
})

export const httpsServer = (files: TlsFiles) =>
  serve((handler) => https.createServer(tlsOptions(files), handler), "https")

/** HTTP/2 only: an HTTP/1.1 client is refused (no allowHTTP1). */
export const h2Server = (files: TlsFiles) =>
  serve((handler) => http2.createSecureServer(tlsOptions(files), handler), "https")

export const h2cServer = () => serve((handler) => http2.createServer(handler), "http")

export const httpServer = (host = "127.0.0.1") => serve((handler) => http.createServer(handler), "http", host)

export interface Proxy {
  readonly url: (credentials?: string) => string
  /** CONNECT requests, in order: the authority asked for and the Proxy-Authorization sent. */
  readonly tunnels: Array<{ readonly authority: string; readonly authorization?: string }>
}

export interface ProxyOptions {
  /** Answer every CONNECT with this status (and no tunnel), whatever the credentials. */
  readonly refuseWith?: number
}

const reasons: Record<number, string> = { 403: "Forbidden", 407: "Proxy Authentication Required", 502: "Bad Gateway" }

/**
 * An HTTP CONNECT proxy. It resolves names itself: `*.test` hosts go to 127.0.0.1 (so the sender
 * never needs to resolve them). With `credentials`, a tunnel without them gets 407.
 */
export const connectProxy = (credentials?: string, options: ProxyOptions = {}): Effect.Effect<Proxy, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<{ server: http.Server; proxy: Proxy; sockets: Set<net.Socket> }>((resume) => {
      const tunnels: Array<{ authority: string; authorization?: string }> = []
      const sockets = new Set<net.Socket>()
      const server = http.createServer((_, response) => {
        response.writeHead(405)
        response.end("CONNECT only")
      })
      server.on("connection", (socket: net.Socket) => {
        sockets.add(socket)
        socket.on("close", () => sockets.delete(socket))
      })
      server.on("connect", (request: http.IncomingMessage, client: net.Socket, head: Buffer) => {
        const authorization = request.headers["proxy-authorization"]
        tunnels.push({ authority: request.url!, ...(authorization === undefined ? {} : { authorization }) })
        if (options.refuseWith !== undefined) {
          client.end(`HTTP/1.1 ${options.refuseWith} ${reasons[options.refuseWith] ?? "Refused"}\r\ncontent-length: 0\r\n\r\n`)
          return
        }
        if (credentials !== undefined && authorization !== `Basic ${Buffer.from(credentials).toString("base64")}`) {
          client.end("HTTP/1.1 407 Proxy Authentication Required\r\nproxy-authenticate: Basic\r\n\r\n")
          return
        }
        const [host, port] = request.url!.replace(/^\[(.*)\](:\d+)$/, "$1$2").split(/:(?=\d+$)/)
        const upstream = net.connect(Number(port), host!.endsWith(".test") ? "127.0.0.1" : host!, () => {
          client.write("HTTP/1.1 200 Connection Established\r\n\r\n")
          upstream.write(head)
          upstream.pipe(client)
          client.pipe(upstream)
        })
        sockets.add(upstream)
        upstream.on("close", () => sockets.delete(upstream))
        upstream.on("error", () => client.destroy())
        client.on("error", () => upstream.destroy())
      })
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as net.AddressInfo
        const proxy: Proxy = {
          url: (userinfo) => `http://${userinfo === undefined ? "" : `${userinfo}@`}127.0.0.1:${port}`,
          tunnels
        }
        resume(Effect.succeed({ server, proxy, sockets }))
      })
    }),
    ({ server, sockets }) =>
      Effect.async<void>((resume) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ proxy }) => proxy))
