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
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import { cliLogger, levels } from "./runtime.js"

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

/**
 * The rest of stderr as JSON too: a command's `error: ...` line (and any other text written
 * there) becomes `{"time","level":"error","message"}`, so that every line on stderr parses.
 */
const jsonStderr: Layer.Layer<never> = Layer.unwrapEffect(Console.consoleWith((base) => {
  const asJson = (...args: ReadonlyArray<any>) => {
    const message = args.map(text).join(" ")
    if (message.startsWith("{")) return args
    const line = { time: new Date().toISOString(), level: "error", message: message.replace(/^error: /, "") }
    return [escapeRest(JSON.stringify(line))]
  }
  return Effect.succeed(Console.setConsole({
    ...base,
    error: (...args: ReadonlyArray<any>) => base.error(...asJson(...args)),
    warn: (...args: ReadonlyArray<any>) => base.warn(...asJson(...args))
  }))
}))

/** Replaces the bin's text logger (and stderr's plain lines) with JSON ones. */
export const layer = (format: LogFormat): Layer.Layer<never> =>
  format === "json" ? Layer.merge(Logger.replace(cliLogger, jsonLogger), jsonStderr) : Layer.empty
