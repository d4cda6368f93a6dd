/**
 * `npm run bench [-- --quick]`: what delivery costs, each figure against an honest anchor
 * measured in the same run. Every contender runs in a process of its own, spawned afresh each
 * round (`contender.ts`, `stalled.ts`); rounds alternate; a ratio is taken within each round,
 * and the table shows its median and [min–max] over the rounds. The receiver
 * (`httpReceiver.ts`) is a process of its own on 127.0.0.1. Writes `bench/results.json`.
 *
 * The anchors (see `wire.ts`): *raw* posts fixed bytes; the *floor* does what every delivery has
 * to — fresh id, `JSON.stringify` of the same payload, HMAC-SHA256 signature — then the same
 * POST. The new figures are against the floor; the earlier keys (against raw) stay for history.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { type Contender, contenders, type Measured, type Settings } from "./contender.js"
import { alternate, log, median, runJson, runNode, spread, type Spread, startReceiver } from "./lib.js"

const quick = process.argv.includes("--quick")
const rounds = quick ? 3 : 5
const child: Settings = quick
  ? { deliveries: 2_000, latencySamples: 300, dispatches: 10_000 }
  : { deliveries: 10_000, latencySamples: 2_000, dispatches: 50_000 }
const cliStarts = quick ? 5 : 11
// Memory figures barely move between runs (±1 %), and one run costs seconds: once when quick.
const stalledRuns = quick ? 1 : 3
const here = path.dirname(fileURLToPath(import.meta.url))

const receiver = await startReceiver()
const origin = receiver.origin

// ---------------------------------------------------------------------------------------------
// Measure
// ---------------------------------------------------------------------------------------------
const names: ReadonlyArray<Contender> = quick ? contenders.filter((name) => name !== "stock") : contenders
log(`contenders: ${names.join(", ")}; ${rounds} rounds; ${JSON.stringify(child)}`)
const runs = await alternate(
  names,
  rounds,
  (name) => runJson<Measured>([path.join(here, "contender.js"), name, origin, JSON.stringify(child)])
)

interface Stalled {
  readonly pending_heap_bytes: number
  readonly rss_growth_mib: number
  readonly [detail: string]: number
}
log("stalled receiver: 10,000 after deliveries pending, then 1,000 more refused")
const stalled = (await alternate(["stalled"], stalledRuns, () => runJson<Stalled>(["--expose-gc", path.join(here, "stalled.js"), origin])))
  .stalled

const bin = path.join(here, "..", "src", "bin", "servo.js")
const cliConfig = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "servo-bench-")), "servo.yaml")
fs.writeFileSync(
  cliConfig,
  "simulator: {}\nwebhooks:\n  - name: measurements\n    event: after:measure\n    target: https://example.com/hooks\n" +
    "  - name: gate\n    event: before:adjust\n    target: https://example.com/gate\n    backoff: false\n"
)
log(`cli start: ${cliStarts} cold starts each`)
const starts = await alternate(["effect", "servo"] as const, cliStarts, async (name) =>
  (await runNode(
    name === "effect" ? ["--input-type=module", "-e", "import 'effect'"] : [bin, "webhooks", "list", "--config", cliConfig]
  )).ms)

receiver.stop()

// ---------------------------------------------------------------------------------------------
// Figures
// ---------------------------------------------------------------------------------------------
const per = <A>(name: Contender, pick: (measured: Measured) => A | undefined): Array<A> =>
  (runs[name] ?? []).map((measured) => pick(measured)!)
const rate = (name: Contender) => per(name, (m) => m.throughput?.rate)
const cpu = (name: Contender) => per(name, (m) => m.throughput?.cpu_us)
const p50 = (name: Contender) => per(name, (m) => m.latency?.p50)
const p99 = (name: Contender) => per(name, (m) => m.latency?.p99)
const dispatchNs = (name: Contender) => per(name, (m) => m.dispatch_ns)
/** Per round, `a[i] / b[i]`: both measured in the same round. */
const ratios = (a: ReadonlyArray<number>, b: ReadonlyArray<number>) => a.map((x, i) => x / b[i]!)

const perSecond = (xs: ReadonlyArray<number>) => `${Math.round(median(xs)).toLocaleString("en")}/s`
const micros = (xs: ReadonlyArray<number>) => `${median(xs).toFixed(1)} µs`

interface Figure {
  readonly key: string
  /** One value per round (or per run). */
  readonly values: ReadonlyArray<number>
  /** `≥ 0.6`, `≤ 1.3`, or undefined for a figure kept for the record. */
  readonly target?: readonly [">=" | "<=", number]
  readonly detail: string
}

const figures: ReadonlyArray<Figure> = [
  {
    key: "after_floor_ratio",
    values: ratios(rate("ours"), rate("floor")),
    target: [">=", 0.6],
    detail: `${perSecond(rate("ours"))} vs floor ${perSecond(rate("floor"))}`
  },
  {
    key: "after4_floor_ratio",
    values: ratios(rate("ours4"), rate("floor")),
    target: [">=", 0.8],
    detail: `${perSecond(rate("ours4"))} (4 webhooks per event) vs floor ${perSecond(rate("floor"))}`
  },
  {
    key: "before_p50_floor_ratio",
    values: ratios(p50("ours"), p50("floor")),
    target: ["<=", 1.3],
    detail: `p50 ${micros(p50("ours"))} vs floor ${micros(p50("floor"))}, both per runPromise`
  },
  {
    key: "before_p99_floor_ratio",
    values: ratios(p99("ours"), p99("floor")),
    detail: `p99 ${micros(p99("ours"))} vs floor ${micros(p99("floor"))}`
  },
  {
    key: "cpu_per_delivery_floor_ratio",
    values: ratios(cpu("ours"), cpu("floor")),
    target: ["<=", 1.6],
    detail: `${micros(cpu("ours"))} vs floor ${micros(cpu("floor"))} CPU per delivery`
  },
  {
    key: "pending_heap_bytes",
    values: stalled.map((s) => s.pending_heap_bytes),
    target: ["<=", 512],
    detail: `10,000 pending, ${stalled[0]!.body_bytes} B bodies excluded`
  },
  {
    key: "floor_ratio",
    values: ratios(rate("floor"), rate("raw")),
    detail: `floor ${perSecond(rate("floor"))} vs raw ${perSecond(rate("raw"))}; CPU ${micros(cpu("floor"))} vs ${
      micros(cpu("raw"))
    }`
  },
  {
    key: "dispatch_overhead_ratio",
    values: ratios(dispatchNs("bus+webhooks"), dispatchNs("bus")),
    target: ["<=", 1.1],
    detail: `${Math.round(median(dispatchNs("bus+webhooks")))} ns vs ${Math.round(median(dispatchNs("bus")))} ns`
  },
  {
    key: "stalled_10k_rss_growth_mib",
    values: stalled.map((s) => s.rss_growth_mib),
    target: ["<=", 64],
    detail: `${stalled[0]!.enqueued} queued, ${stalled[0]!.overflowed} refused`
  },
  {
    key: "cli_start_ratio",
    values: ratios(starts.servo, starts.effect),
    target: ["<=", 1.5],
    detail: `servo webhooks list ${Math.round(median(starts.servo))} ms vs import effect ${
      Math.round(median(starts.effect))
    } ms`
  },
  // Against raw, for history (the pacing of ours is now at most 64 outstanding, like raw's).
  {
    key: "after_throughput_ratio",
    values: ratios(rate("ours"), rate("raw")),
    detail: `${perSecond(rate("ours"))} vs raw ${perSecond(rate("raw"))}`
  },
  {
    key: "before_latency_p50_ratio",
    values: ratios(p50("ours"), p50("raw")),
    detail: `p50 ${micros(p50("ours"))} vs raw ${micros(p50("raw"))}, bare`
  },
  {
    key: "before_latency_p99_ratio",
    values: ratios(p99("ours"), p99("raw")),
    detail: `p99 ${micros(p99("ours"))} vs raw ${micros(p99("raw"))}`
  },
  {
    key: "after_floor_ratio_sqlite",
    values: ratios(rate("ours-sqlite"), rate("floor")),
    target: [">=", 0.35],
    detail: `${perSecond(rate("ours-sqlite"))} through a SQLite outbox vs floor ${perSecond(rate("floor"))}`
  },
  {
    key: "after_floor_ratio_postgres",
    values: ratios(rate("ours-postgres"), rate("floor")),
    target: [">=", 0.2],
    detail: `${perSecond(rate("ours-postgres"))} through a PostgreSQL outbox vs floor ${perSecond(rate("floor"))}`
  },
  {
    key: "pending_rows_per_s_recovered",
    values: rate("recovered-sqlite"),
    detail: "10,000 rows left pending in a SQLite outbox, drained by a restarted servo"
  },
  ...(names.includes("stock")
    ? [{
      key: "stock_client_ratio",
      values: ratios(rate("stock"), rate("raw")),
      detail: `NodeHttpClient.layerUndici ${perSecond(rate("stock"))}`
    }]
    : [])
]

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------
const met = (figure: Figure, value: number) =>
  figure.target === undefined
    ? undefined
    : figure.target[0] === ">="
    ? value >= figure.target[1]
    : value <= figure.target[1]
const digits = (value: number) => (Math.abs(value) >= 100 ? value.toFixed(0) : value.toFixed(2))
const machine = `${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? "cpu"}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${
  os.platform()
} ${os.release()}, load ${os.loadavg().map((x) => x.toFixed(1)).join(" ")}`

console.log(`\nservo-webhooks bench${quick ? " (--quick)" : ""}: ${machine}, Node ${process.version}`)
console.log(`${rounds} rounds, medians [min–max] of per-round ratios\n`)
console.log("| figure | median [min–max] | target | | detail |\n|---|---|---|---|---|")
const spreads: Record<string, Spread> = {}
for (const figure of figures) {
  const s = spreads[figure.key] = spread(figure.values)
  const pass = met(figure, s.median)
  const target = figure.target === undefined ? "record" : `${figure.target[0] === ">=" ? "≥" : "≤"} ${figure.target[1]}`
  console.log(
    `| ${figure.key} | ${digits(s.median)} [${digits(s.min)}–${digits(s.max)}] | ${target} | ${
      pass === undefined ? "" : pass ? "met" : "MISSED"
    } | ${figure.detail} |`
  )
}

const summary = (xs: ReadonlyArray<number>) => (xs.length === 0 ? null : spread(xs))
const results = {
  ...Object.fromEntries(figures.map((figure) => [figure.key, spreads[figure.key]!.median])),
  details: {
    date: new Date().toISOString(),
    quick,
    machine,
    node: process.version,
    rounds,
    settings: child,
    spreads,
    deliveries_per_s: Object.fromEntries(names.flatMap((name) => rate(name)[0] === undefined ? [] : [[name, summary(rate(name))]])),
    cpu_us_per_delivery: Object.fromEntries(names.flatMap((name) => cpu(name)[0] === undefined ? [] : [[name, summary(cpu(name))]])),
    before_latency_us: Object.fromEntries(
      (["raw", "floor", "ours"] as const).map((name) => [name, { p50: summary(p50(name)), p99: summary(p99(name)) }])
    ),
    dispatch_ns: { without: summary(dispatchNs("bus")), with: summary(dispatchNs("bus+webhooks")) },
    stalled,
    cli_start_ms: { servo: summary(starts.servo), effect: summary(starts.effect) }
  }
}
fs.writeFileSync(path.join(here, "..", "..", "bench", "results.json"), `${JSON.stringify(results, null, 2)}\n`)
log("\nwrote bench/results.json")
