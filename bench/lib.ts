/**
 * What the bench scripts share: summaries of samples, the receiver's process, and running a
 * contender in a process of its own, rounds alternating. Nothing here knows what is measured.
 */
import { spawn } from "node:child_process"
import { once } from "node:events"
import { fileURLToPath } from "node:url"

export const log = (line: string): void => {
  process.stderr.write(`${line}\n`)
}

const sorted = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)

export const median = (xs: ReadonlyArray<number>): number => {
  const s = sorted(xs)
  const middle = s.length >> 1
  return s.length % 2 === 1 ? s[middle]! : (s[middle - 1]! + s[middle]!) / 2
}

/** The nearest-rank percentile (`p` in 0–100). */
export const percentile = (xs: ReadonlyArray<number>, p: number): number => {
  const s = sorted(xs)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!
}

/** What the table prints for a figure measured once per round. */
export interface Spread {
  readonly median: number
  readonly min: number
  readonly max: number
}

export const spread = (xs: ReadonlyArray<number>): Spread => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs) })

/**
 * Runs `node <args>` and resolves with its stdout and wall time; rejects with its stderr when it
 * exits non-zero. Its stderr is passed through when `echo` is set (progress lines of a child).
 */
export const runNode = (
  args: ReadonlyArray<string>,
  options: { readonly echo?: boolean } = {}
): Promise<{ readonly stdout: string; readonly ms: number }> =>
  new Promise((resolve, reject) => {
    const start = performance.now()
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", options.echo ? "inherit" : "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => stdout += chunk)
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => stderr += chunk)
    child.on("error", reject)
    child.on("close", (code) => {
      const ms = performance.now() - start
      if (code === 0) resolve({ stdout, ms })
      else reject(new Error(`node ${args.join(" ")} exited with ${code}\n${stderr}`))
    })
  })

/** Runs `node <args>` and parses the last line it prints as JSON. */
export const runJson = async <A>(args: ReadonlyArray<string>): Promise<A> => {
  const { stdout } = await runNode(args, { echo: true })
  return JSON.parse(stdout.trim().split("\n").pop()!) as A
}

/**
 * Runs every contender once per round — forward in even rounds, backward in odd ones, so that
 * no contender always follows the same neighbour — and keeps each round's result per contender.
 */
export const alternate = async <K extends string, A>(
  names: ReadonlyArray<K>,
  rounds: number,
  runOne: (name: K) => Promise<A>
): Promise<Record<K, Array<A>>> => {
  const results = Object.fromEntries(names.map((name) => [name, [] as Array<A>])) as Record<K, Array<A>>
  for (let round = 0; round < rounds; round++) {
    for (const name of round % 2 === 0 ? names : [...names].reverse()) {
      const start = performance.now()
      results[name].push(await runOne(name))
      log(`  round ${round + 1}/${rounds}: ${name} (${((performance.now() - start) / 1000).toFixed(1)} s)`)
    }
  }
  return results
}

/**
 * Starts `httpReceiver.ts` in a process of its own (pinned to the CPUs `pinTo` lists, with
 * `taskset`, when given) and resolves with its origin. However this process ends, it goes too.
 */
export const startReceiver = async (pinTo?: string): Promise<{ readonly origin: string; readonly stop: () => void }> => {
  const script = fileURLToPath(new URL("./httpReceiver.js", import.meta.url))
  const [command, args] = pinTo === undefined
    ? [process.execPath, [script]]
    : ["taskset", ["-c", pinTo, process.execPath, script]]
  const receiver = spawn(command, args, { stdio: ["ignore", "pipe", "inherit"] })
  process.on("exit", () => receiver.kill("SIGKILL"))
  const [port] = (await once(receiver.stdout!, "data")) as [Buffer]
  return { origin: `http://127.0.0.1:${port.toString().trim()}`, stop: () => receiver.kill("SIGTERM") }
}
