/**
 * The webhook receiver of `httpClient.ts`, run in its own process: reads each request's body and
 * answers 200 with a small JSON body. Prints its port on stdout. `GET /stats` answers how many
 * connections have carried a webhook so far.
 */
import * as http from "node:http"
import type { Socket } from "node:net"

const answer = Buffer.from("{\"ok\":true}")
const seen = new WeakSet<Socket>()
let connections = 0

const server = http.createServer((req, res) => {
  if (req.method === "GET" && req.url === "/stats") {
    res.end(JSON.stringify({ connections }))
    return
  }
  if (!seen.has(req.socket)) {
    seen.add(req.socket)
    connections++
  }
  req.on("data", () => {})
  req.on("end", () => {
    res.writeHead(200, { "content-type": "application/json", "content-length": answer.length })
    res.end(answer)
  })
})
// Longer than a run, so that a run never reconnects because connections went idle.
server.keepAliveTimeout = 60_000
server.listen(0, "127.0.0.1", () => {
  const address = server.address()
  process.stdout.write(`${typeof address === "object" && address !== null ? address.port : 0}\n`)
})
process.on("SIGTERM", () => {
  server.closeAllConnections()
  server.close(() => process.exit(0))
})
