/**
 * `--log-format text|json`, a global option of the bin like `--log-level`. It is taken out of
 * the arguments before @effect/cli parses them (which knows only its own built-ins), so every
 * command accepts it in any position.
 *
 * `json` writes one JSON object per line on stderr: `time`, `level`, `message`, the annotations
 * (`webhook`, `event`, `delivery_id`, `attempt`, ...) as top-level keys, and `error` when the line
 * has a cause. Secrets are `Redacted` and serialise as `<redacted>`; JSON escapes C0 controls, and
 * the rest that a terminal or a log viewer may act on (DEL, C1, U+2028/2029) is escaped too.
 */
import * as Cause from "effect/Cause"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import { cliLogger } from "./runtime.js"

export type LogFormat = "text" | "json"

/** The format asked for, and the arguments without the option; a bad value is an error message. */
export const extract = (
  argv: ReadonlyArray<string>
): { readonly argv: ReadonlyArray<string>; readonly format: LogFormat } | { readonly error: string } => {
  const rest: Array<string> = []
  let format: string = "text"
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    // Everything after `--` is an operand.
    if (arg === "--") {
      rest.push(...argv.slice(i))
      break
    }
    if (arg === "--log-format") {
      format = argv[++i] ?? ""
    } else if (arg.startsWith("--log-format=")) {
      format = arg.slice("--log-format=".length)
    } else {
      rest.push(arg)
      continue
    }
    if (format !== "text" && format !== "json") {
      return { error: `--log-format: expected text or json, not ${JSON.stringify(format)}` }
    }
  }
  return { argv: rest, format: format as LogFormat }
}

const levels: Record<string, string> = {
  FATAL: "fatal",
  ERROR: "error",
  WARN: "warning",
  INFO: "info",
  DEBUG: "debug",
  TRACE: "trace"
}

const unsafeForLogs = /[\u007f-\u009f\u2028\u2029]/g
const escapeRest = (text: string) => text.replace(unsafeForLogs, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)

const text = (value: unknown) => typeof value === "string" ? value : JSON.stringify(value)

/** One JSON object per line. */
export const jsonLogger = Logger.make<unknown, string>(({ annotations, cause, date, logLevel, message }) => {
  const line: Record<string, unknown> = {
    time: date.toISOString(),
    level: levels[logLevel.label] ?? logLevel.label.toLowerCase(),
    message: [message].flat().map(text).join(" ")
  }
  for (const [key, value] of HashMap.toEntries(annotations)) {
    if (!(key in line)) line[key] = value
  }
  if (!Cause.isEmpty(cause)) {
    const squashed = Cause.squash(cause)
    line["error"] = squashed instanceof Error ? squashed.message : String(squashed)
  }
  return escapeRest(JSON.stringify(line))
}).pipe(Logger.withConsoleError)

/** Replaces the bin's text logger with the JSON one. */
export const layer = (format: LogFormat): Layer.Layer<never> =>
  format === "json" ? Logger.replace(cliLogger, jsonLogger) : Layer.empty
