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

const unitNanos: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  "µs": 1_000n,
  "μs": 1_000n,
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n
}

const component = /(\d*)(?:\.(\d*))?(ns|us|µs|μs|ms|s|m|h)/y

/**
 * The longest duration `parse` accepts, in nanoseconds: Go's (the largest int64), written
 * `2562047h47m16.854775807s`, about 292 years. A config meaning "never" has `false` or no
 * timeout for it; anything longer is a mistake, and past 2^53 ms no longer even a finite number.
 *
 * @since 0.1.0
 * @category parsing
 */
export const maxNanos: bigint = 2n ** 63n - 1n

const maxText = "2562047h47m16.854775807s"

/** The input as an error message may quote it: escaped, and cut when long. */
const quoted = (input: string): string =>
  input.length <= 40 ? JSON.stringify(input) : `${JSON.stringify(`${input.slice(0, 24)}…${input.slice(-8)}`)} (${input.length} characters)`

const expected = "expected a duration such as 500ms, 10s, 5m or 2h45m (units ns, us, ms, s, m, h)"

/** What an input reads as: whole nanoseconds, or why it is not a duration. */
type Reading =
  | { readonly _tag: "Nanos"; readonly nanos: bigint }
  | { readonly _tag: "Unreadable"; readonly message: string }
  | { readonly _tag: "TooLong" }

const tooLongReading: Reading = { _tag: "TooLong" }

const read = (input: string): Reading => {
  if (input === "0") return { _tag: "Nanos", nanos: 0n }
  if (input.length === 0) {
    return { _tag: "Unreadable", message: "expected a duration such as 500ms, 10s, 5m or 2h45m, got an empty string" }
  }
  let nanos = 0n
  component.lastIndex = 0
  while (component.lastIndex < input.length) {
    const start = component.lastIndex
    const match = component.exec(input)
    const whole = match?.[1] ?? ""
    const fraction = match?.[2] ?? ""
    if (match === null || (whole === "" && fraction === "")) {
      return {
        _tag: "Unreadable",
        message: `${expected}, got ${quoted(input)}${start > 0 ? ` (cannot read ${quoted(input.slice(start))})` : ""}`
      }
    }
    const unit = unitNanos[match[3]!]!
    // More than 19 significant digits overflows whatever the unit: refused before any BigInt
    // is made of a long run of digits.
    const significant = whole.replace(/^0+/, "")
    if (significant.length > 19) return tooLongReading
    nanos += BigInt(significant === "" ? "0" : significant) * unit
    if (fraction !== "") {
      const digits = fraction.slice(0, 20)
      nanos += BigInt(digits) * unit / 10n ** BigInt(digits.length)
    }
    if (nanos > maxNanos) return tooLongReading
  }
  return { _tag: "Nanos", nanos }
}

/**
 * Parses a Go-style duration. Negative durations are refused: nothing in a servo waits a
 * negative time. So are durations longer than Go's longest, {@link maxNanos} (about 292
 * years), which Go refuses too. Like Go, the nanoseconds are exact (`0.1s` + `0.2s` is 300ms);
 * a fraction finer than a nanosecond is dropped.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parse = (input: string): Either.Either<Duration.Duration, string> => {
  const reading = read(input)
  switch (reading._tag) {
    case "Nanos":
      return Either.right(reading.nanos === 0n ? Duration.zero : Duration.millis(Number(reading.nanos) / 1e6))
    case "Unreadable":
      return Either.left(reading.message)
    case "TooLong":
      return Either.left(`expected a duration of at most ${maxText} (about 292 years), got ${quoted(input)}`)
  }
}

/**
 * Whether `parse` refuses the input only for being longer than {@link maxNanos}: a place with a
 * lower limit of its own says that limit instead.
 *
 * @since 0.1.0
 * @category parsing
 */
export const exceedsMax = (input: string): boolean => read(input)._tag === "TooLong"

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
