/**
 * Go-style duration strings (`500ms`, `10s`, `5m`, `2h45m`, `1.5h`), the format servo
 * configurations and `Control` use, as an Effect `Schema` over `Duration`.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"

const unitMillis: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  "µs": 1e-3,
  "μs": 1e-3,
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000
}

const component = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y

/**
 * Parses a Go-style duration. Negative durations are refused: nothing in a servo waits a
 * negative time.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parse = (input: string): Either.Either<Duration.Duration, string> => {
  if (input === "0") return Either.right(Duration.zero)
  if (input.length === 0) return Either.left("expected a duration such as 500ms, 10s, 5m or 2h45m, got an empty string")
  let millis = 0
  component.lastIndex = 0
  while (component.lastIndex < input.length) {
    const start = component.lastIndex
    const match = component.exec(input)
    if (match === null) {
      return Either.left(
        `expected a duration such as 500ms, 10s, 5m or 2h45m (units ns, us, ms, s, m, h), got ${
          JSON.stringify(input)
        }${start > 0 ? ` (cannot read ${JSON.stringify(input.slice(start))})` : ""}`
      )
    }
    millis += Number(match[1]) * unitMillis[match[2]!]!
  }
  return Either.right(Duration.millis(millis))
}

const units: ReadonlyArray<readonly [string, number]> = [
  ["h", 3_600_000],
  ["m", 60_000],
  ["s", 1_000],
  ["ms", 1],
  ["us", 1e-3],
  ["ns", 1e-6]
]

/**
 * Formats a duration the way Go's parser reads it, largest units first, zero parts left out:
 * `2h45m`, `1m30s`, `500ms`, `0`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const format = (duration: Duration.DurationInput): string => {
  const decoded = Duration.decode(duration)
  if (!Duration.isFinite(decoded)) return "Infinity"
  // Whole nanoseconds avoid float drift (0.1s + 0.2s must print as 300ms).
  let nanos = Math.round(Duration.toMillis(decoded) * 1e6)
  if (nanos === 0) return "0"
  let out = ""
  for (const [unit, millis] of units) {
    const size = Math.round(millis * 1e6)
    const count = Math.floor(nanos / size)
    if (count > 0) {
      out += `${count}${unit}`
      nanos -= count * size
    }
  }
  return out
}

/**
 * A Go-style duration string decoded into a `Duration`; encodes back to the compact form.
 *
 * @since 0.1.0
 * @category schemas
 */
export const GoDuration: Schema.Schema<Duration.Duration, string> = Schema.transformOrFail(
  Schema.String.annotations({
    jsonSchema: {
      type: "string",
      pattern: "^(0|(([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$"
    }
  }),
  Schema.DurationFromSelf,
  {
    strict: true,
    decode: (input, _, ast) =>
      Either.mapLeft(parse(input), (message) => new ParseResult.Type(ast, input, message)),
    encode: (duration) => ParseResult.succeed(format(duration))
  }
).annotations({
  identifier: "GoDuration",
  title: "duration",
  description: "A Go-style duration: 500ms, 10s, 5m, 2h45m",
  examples: [Duration.minutes(5), Duration.millis(500)]
})
