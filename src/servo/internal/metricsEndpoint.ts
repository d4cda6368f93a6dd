/**
 * The Prometheus endpoint: Effect's metric registry (`Metric.unsafeSnapshot`, every metric that
 * exists, whoever defined it) written in the Prometheus text exposition format 0.0.4, served by
 * node:http on `/metrics`.
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import type * as MetricPair from "effect/MetricPair"
import * as MetricState from "effect/MetricState"
import type * as Scope from "effect/Scope"

/** Label values escape backslash, double quote and newline; HELP text backslash and newline. */
const labelValue = (value: string) => value.replace(/\\/g, "\\\\").replace(/"/g, "\\\"").replace(/\n/g, "\\n")
const helpText = (text: string) => text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")
/** Metric and label names: [a-zA-Z_:][a-zA-Z0-9_:]*, anything else becomes `_`. */
const metricName = (name: string) => name.replace(/[^a-zA-Z0-9_:]/g, "_").replace(/^([0-9])/, "_$1")
const labelName = (name: string) => name.replace(/[^a-zA-Z0-9_]/g, "_").replace(/^([0-9])/, "_$1")

const number = (value: number | bigint) =>
  typeof value === "bigint"
    ? value.toString()
    : Number.isNaN(value)
    ? "NaN"
    : value === Infinity
    ? "+Inf"
    : value === -Infinity
    ? "-Inf"
    : String(value)

const labels = (pairs: ReadonlyArray<readonly [string, string]>) =>
  pairs.length === 0 ? "" : `{${pairs.map(([name, value]) => `${labelName(name)}="${labelValue(value)}"`).join(",")}}`

interface Family {
  type: "counter" | "gauge" | "histogram" | "summary"
  help: string | undefined
  lines: Array<string>
}

/** The registry as Prometheus text: one family per metric name, its series grouped under it. */
export const render = (pairs: ReadonlyArray<MetricPair.MetricPair.Untyped>): string => {
  const families = new Map<string, Family>()
  const family = (name: string, type: Family["type"], help: string | undefined) => {
    let found = families.get(name)
    if (found === undefined) {
      found = { type, help, lines: [] }
      families.set(name, found)
    }
    return found
  }
  for (const { metricKey, metricState } of pairs) {
    const name = metricName(metricKey.name)
    const help = metricKey.description._tag === "Some" ? metricKey.description.value : undefined
    const tags = metricKey.tags.map((tag) => [tag.key, tag.value] as const)
    if (MetricState.isCounterState(metricState)) {
      family(name, "counter", help).lines.push(`${name}${labels(tags)} ${number(metricState.count)}`)
    } else if (MetricState.isGaugeState(metricState)) {
      family(name, "gauge", help).lines.push(`${name}${labels(tags)} ${number(metricState.value)}`)
    } else if (MetricState.isHistogramState(metricState)) {
      const lines = family(name, "histogram", help).lines
      let sawInfinity = false
      // Effect's buckets are cumulative already, the last one usually +Inf.
      for (const [bound, count] of metricState.buckets) {
        if (bound === Infinity) sawInfinity = true
        lines.push(`${name}_bucket${labels([...tags, ["le", number(bound)]])} ${count}`)
      }
      if (!sawInfinity) lines.push(`${name}_bucket${labels([...tags, ["le", "+Inf"]])} ${metricState.count}`)
      lines.push(`${name}_sum${labels(tags)} ${number(metricState.sum)}`)
      lines.push(`${name}_count${labels(tags)} ${metricState.count}`)
    } else if (MetricState.isSummaryState(metricState)) {
      const lines = family(name, "summary", help).lines
      for (const [quantile, value] of metricState.quantiles) {
        if (value._tag === "Some") lines.push(`${name}${labels([...tags, ["quantile", String(quantile)]])} ${number(value.value)}`)
      }
      lines.push(`${name}_sum${labels(tags)} ${number(metricState.sum)}`)
      lines.push(`${name}_count${labels(tags)} ${metricState.count}`)
    } else if (MetricState.isFrequencyState(metricState)) {
      // One counter series per value seen.
      const lines = family(name, "counter", help).lines
      for (const [value, count] of metricState.occurrences) {
        lines.push(`${name}${labels([...tags, ["key", value]])} ${count}`)
      }
    }
  }
  const out: Array<string> = []
  for (const [name, { help, lines, type }] of families) {
    if (help !== undefined) out.push(`# HELP ${name} ${helpText(help)}`)
    out.push(`# TYPE ${name} ${type}`)
    out.push(...lines)
  }
  return out.length === 0 ? "" : `${out.join("\n")}\n`
}

/** Serves `/metrics` until the scope closes; the endpoint's URL. */
export const serve = (options: { readonly host: string; readonly port: number }): Effect.Effect<{ readonly url: string }, string, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<http.Server, string>((resume) => {
      const server = http.createServer((request, response) => {
        const path = (request.url ?? "/").split("?")[0]
        if (request.method !== "GET" && request.method !== "HEAD") {
          response.writeHead(405, { allow: "GET, HEAD" }).end()
        } else if (path !== "/metrics") {
          response.writeHead(404, { "content-type": "text/plain" }).end("not found: the metrics are at /metrics\n")
        } else {
          const body = render(Metric.unsafeSnapshot())
          response.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" })
          response.end(request.method === "HEAD" ? undefined : body)
        }
      })
      server.once("error", (error: NodeJS.ErrnoException) =>
        resume(Effect.fail(`cannot listen on ${options.host}:${options.port} (${error.code ?? error.message})`)))
      server.listen(options.port, options.host, () => resume(Effect.succeed(server)))
    }),
    (server) =>
      Effect.async<void>((resume) => {
        server.close(() => resume(Effect.void))
        server.closeAllConnections()
      })
  ).pipe(Effect.map((server) => {
    const address = server.address() as AddressInfo
    const host = address.family === "IPv6" ? `[${address.address}]` : address.address
    return { url: `http://${host}:${address.port}/metrics` }
  }))
