/**
 * Running `servo` in tests: in-process (`ServoCommand.main` with a Console that records what is
 * printed) and as a child process (`node dist/src/bin/servo.js`, built by vitest's global setup).
 */
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as util from "node:util"
import * as Runtime from "../../src/cli/internal/runtime.js"
import * as ServoCommand from "../../src/cli/ServoCommand.js"
import { assertFreshBuild } from "./build.js"
import { eventually } from "./poll.js"

const ansi = /\x1b\[[0-9;]*m/g

/** What a command printed: stdout and stderr lines (ANSI styles removed), in order. */
export interface Output {
  readonly stdout: Array<string>
  readonly stderr: Array<string>
}

export const text = (lines: ReadonlyArray<string>) => lines.join("\n")

/**
 * A Console that records `log`/`info` as stdout and `error`/`warn` as stderr, without ANSI styles
 * and trailing newlines (as the bin's Console prints them when the output is not a terminal).
 */
export const recordingConsole = (output: Output): Console.Console => {
  const format = (args: ReadonlyArray<unknown>) =>
    args.map((arg) => typeof arg === "string" ? arg : util.inspect(arg)).join(" ").replace(ansi, "").replace(/\n+$/, "")
  const to = (lines: Array<string>) => (...args: ReadonlyArray<unknown>) => Effect.sync(() => void lines.push(format(args)))
  const ignore = () => Effect.void
  return {
    [Console.TypeId]: Console.TypeId,
    assert: ignore,
    clear: Effect.void,
    count: ignore,
    countReset: ignore,
    debug: to(output.stderr),
    dir: ignore,
    dirxml: ignore,
    error: to(output.stderr),
    group: ignore,
    groupEnd: Effect.void,
    info: to(output.stdout),
    log: to(output.stdout),
    table: ignore,
    time: ignore,
    timeEnd: ignore,
    timeLog: ignore,
    trace: to(output.stderr),
    warn: to(output.stderr),
    unsafe: {
      ...globalThis.console,
      log: (...args: ReadonlyArray<unknown>) => void output.stdout.push(format(args)),
      info: (...args: ReadonlyArray<unknown>) => void output.stdout.push(format(args)),
      error: (...args: ReadonlyArray<unknown>) => void output.stderr.push(format(args)),
      warn: (...args: ReadonlyArray<unknown>) => void output.stderr.push(format(args))
    }
  }
}

export interface Ran extends Output {
  readonly code: 0 | 1
}

/** The bin's runtime with a recording Console. */
const runtime = (output: Output) =>
  Layer.mergeAll(Runtime.PlatformLive, Runtime.LoggerLive, Console.setConsole(recordingConsole(output)))

/** `servo ...args`, in-process: `ServoCommand.main`, as the bin runs it. */
export const servo = (...args: ReadonlyArray<string>): Effect.Effect<Ran> => {
  const output: Output = { stdout: [], stderr: [] }
  return ServoCommand.main(["node", "servo", ...args]).pipe(
    Effect.map((code) => ({ code, ...output })),
    Effect.provide(runtime(output))
  )
}

/**
 * `servo ...args` running in a fiber (for `listen`), with its output as it comes; interrupt the
 * fiber to stop it.
 */
export const servoFork = (...args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const output: Output = { stdout: [], stderr: [] }
    const fiber = yield* ServoCommand.main(["node", "servo", ...args]).pipe(Effect.provide(runtime(output)), Effect.fork)
    return { fiber, output, stop: Fiber.interrupt(fiber) }
  })

/** Waits (in real time, whatever the clock) until a line matching `pattern` was printed; returns the match. */
export const waitForLine = (lines: ReadonlyArray<string>, pattern: RegExp): Effect.Effect<RegExpExecArray> =>
  eventually(
    `a line matching ${pattern}`,
    Effect.sync(() => lines.map((line) => pattern.exec(line)).find((match) => match !== null)),
    (match) => match !== undefined
  ).pipe(Effect.map((match) => match!))

// ---------------------------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------------------------

const created: Array<string> = []

/** A fresh directory under the OS's temp dir; `removeTempDirs` (in `afterAll`) deletes them. */
export const tempDir = (): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "servo-cli-"))
  created.push(dir)
  return dir
}

export const removeTempDirs = (): void => {
  for (const dir of created.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
}

/** Writes `text` to `name` in a fresh temp dir; returns its path. */
export const writeConfig = (text: string, name = "servo.yaml"): string => {
  const file = path.join(tempDir(), name)
  fs.writeFileSync(file, text)
  return file
}

// ---------------------------------------------------------------------------------------------
// Child processes
// ---------------------------------------------------------------------------------------------

export const bin = path.resolve("dist/src/bin/servo.js")

export interface Child {
  readonly process: ChildProcess
  readonly stdout: () => string
  readonly stderr: () => string
  /** Resolves with the match once stdout or stderr has a line matching `pattern`. */
  readonly waitFor: (pattern: RegExp) => Promise<RegExpExecArray>
  /** Resolves with the exit code once the process has exited. */
  readonly exited: Promise<number | null>
}

/** `node dist/src/bin/servo.js ...args`; the environment is the test's plus `env`. */
export const spawnServo = (
  args: ReadonlyArray<string>,
  options: { readonly env?: Record<string, string>; readonly cwd?: string } = {}
): Child => {
  assertFreshBuild()
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: options.cwd ?? process.cwd(),
    env: { ...process.env, NO_COLOR: "1", ...options.env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let stdout = ""
  let stderr = ""
  const waiters: Array<{ pattern: RegExp; resolve: (match: RegExpExecArray) => void }> = []
  const check = () => {
    for (const waiter of [...waiters]) {
      const match = waiter.pattern.exec(stdout) ?? waiter.pattern.exec(stderr)
      if (match !== null) {
        waiters.splice(waiters.indexOf(waiter), 1)
        waiter.resolve(match)
      }
    }
  }
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk
    check()
  })
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk
    check()
  })
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)))
  return {
    process: child,
    stdout: () => stdout,
    stderr: () => stderr,
    waitFor: (pattern) =>
      new Promise((resolve, reject) => {
        waiters.push({ pattern, resolve })
        check()
        void exited.then(() =>
          reject(new Error(`servo exited before printing ${pattern}\nstdout:\n${stdout}\nstderr:\n${stderr}`))
        )
      }),
    exited
  }
}

/**
 * `spawnServo`, killed (SIGKILL) when the scope closes if it is still running, so that a failing
 * test leaves no process behind.
 */
export const spawnServoScoped = (
  args: ReadonlyArray<string>,
  options: { readonly env?: Record<string, string>; readonly cwd?: string } = {}
): Effect.Effect<Child, never, Scope.Scope> =>
  Effect.acquireRelease(Effect.sync(() => spawnServo(args, options)), (child) =>
    Effect.sync(() => {
      if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill("SIGKILL")
    }))

/** Runs the bin to completion. */
export const runServo = async (
  args: ReadonlyArray<string>,
  options: { readonly env?: Record<string, string>; readonly cwd?: string } = {}
): Promise<{ readonly code: number | null; readonly stdout: string; readonly stderr: string }> => {
  const child = spawnServo(args, options)
  const code = await child.exited
  return { code, stdout: child.stdout(), stderr: child.stderr() }
}
