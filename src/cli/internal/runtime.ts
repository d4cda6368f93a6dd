/**
 * What the `servo` bin runs its commands with: the Node file system, path and terminal, a logger
 * that writes one short line per message on stderr, and a Console without ANSI styles when the
 * output is not a terminal. (The HTTP client is in `httpClient.ts`, loaded by the commands that
 * send.)
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as NodeTerminal from "@effect/platform-node/NodeTerminal"
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import { untrusted } from "../../internal/terminal.js"

/** How a log level reads in a line: `warning: …`. */
export const levels: Record<string, string> = {
  FATAL: "fatal",
  ERROR: "error",
  WARN: "warning",
  INFO: "info",
  DEBUG: "debug",
  TRACE: "trace"
}

// Log messages carry text from the network (a receiver's reason, a response body): escaped, one
// message stays one line and cannot move the cursor or forge another.
const show = (value: unknown) => untrusted(typeof value === "string" ? value : JSON.stringify(value) ?? String(value))

/** `warning: delivery failed after 1 attempt: connection refused (webhook=approve, event=before:adjust)` */
export const cliLogger = Logger.make<unknown, string>(({ annotations, cause, logLevel, message }) => {
  const text = [message].flat().map(show).join(" ")
  const notes = HashMap.toEntries(annotations).map(([key, value]) => `${key}=${show(value)}`)
  const squashed = Cause.isEmpty(cause) ? undefined : Cause.squash(cause)
  const failure = squashed === undefined ? "" : `: ${untrusted(squashed instanceof Error ? squashed.message : String(squashed))}`
  const level = levels[logLevel.label] ?? logLevel.label.toLowerCase()
  return `${level}: ${text}${failure}${notes.length > 0 ? ` (${notes.join(", ")})` : ""}`
}).pipe(Logger.withConsoleError)

/** Replaces the default logger with `cliLogger`. */
export const LoggerLive: Layer.Layer<never> = Logger.replace(Logger.defaultLogger, cliLogger)

const ansi = /\x1b\[[0-9;]*m/g

/**
 * @effect/cli renders help and parse errors with ANSI styles whatever the output is: this Console
 * drops them when the stream is not a terminal (a pipe, a file, CI) or NO_COLOR is set, and the
 * trailing newlines that would print blank lines.
 */
export const ConsoleLive: Layer.Layer<never> = Layer.unwrapEffect(Console.consoleWith((base) => {
  const plain = (stream: NodeJS.WriteStream) => !stream.isTTY || (process.env["NO_COLOR"] ?? "") !== ""
  // @effect/cli ends its help, version and errors with a newline: no blank line after them.
  const clean = (plainText: boolean) => (args: ReadonlyArray<any>): ReadonlyArray<any> =>
    args.map((arg) =>
      typeof arg === "string" ? (plainText ? arg.replace(ansi, "") : arg).replace(/\n+$/, "") : arg
    )
  const out = clean(plain(process.stdout))
  const err = clean(plain(process.stderr))
  return Effect.succeed(Console.setConsole({
    ...base,
    log: (...args: ReadonlyArray<any>) => base.log(...out(args)),
    info: (...args: ReadonlyArray<any>) => base.info(...out(args)),
    error: (...args: ReadonlyArray<any>) => base.error(...err(args)),
    warn: (...args: ReadonlyArray<any>) => base.warn(...err(args))
  }))
}))

/** What `Command.run` needs from the platform: a file system, paths and a terminal. */
export const PlatformLive = Layer.mergeAll(NodeFileSystem.layer, NodePath.layer, NodeTerminal.layer)

/** Everything the commands need (the bin's runtime). */
export const layer = Layer.mergeAll(PlatformLive, LoggerLive, ConsoleLive)
