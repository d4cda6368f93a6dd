/**
 * What `trigger` sends: an event's example parameters (and, after it, results) in their wire
 * form, changed by `--data JSON` and `--set path=value`, then decoded with the event's Schemas so
 * that every problem is reported with its path before anything is sent. Loaded when `trigger`
 * runs.
 */
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as Event from "../../servo/Event.js"
import type * as WireContract from "../../webhooks/WireContract.js"

/** The data of a delivery, decoded: what `WireContract.encodePayload` takes. */
export interface ExampleData {
  readonly params: unknown
  readonly results?: ReadonlyArray<{ readonly connector: string; readonly value: unknown }>
}

type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }

const resultsSchema = (event: Event.Event.Any) => Schema.Array(Schema.Struct({ connector: Schema.String, value: event.result }))

/**
 * The example as a JSON document, `{ parameters, results }` (`results` on after events only),
 * in the wire form the receiver sees; or why there is none.
 */
const exampleDocument = (
  event: Event.Event.Any,
  preposition: WireContract.Preposition
): Either.Either<Record<string, Json>, string> => {
  const params = Event.exampleParameters(event)
  const encodedParams = Option.isSome(params)
    ? Either.mapLeft(Schema.encodeEither(event.parameters)(params.value), (error) => error.message)
    : Either.right(undefined)
  return Either.flatMap(encodedParams, (parameters) => {
    const document: Record<string, Json> = parameters === undefined ? {} : { parameters: parameters as Json }
    if (preposition === "before") return Either.right(document)
    const result = Event.exampleResult(event)
    const results = Option.isSome(result) ? [{ connector: "example", value: result.value }] : []
    return Either.map(
      Either.mapLeft(Schema.encodeEither(resultsSchema(event))(results), (error) => error.message),
      (encoded) => ({ ...document, results: encoded as Json })
    )
  })
}

/** `parameters.adjustments[0].value` or `adjustments.0.value` → segments; a bare path is under `parameters`. */
const segmentsOf = (path: string): Either.Either<ReadonlyArray<string | number>, string> => {
  const segments: Array<string | number> = []
  for (const part of path.split(".")) {
    const match = /^([^[\]]*)((?:\[\d+\])*)$/.exec(part)
    if (match === null || (match[1] === "" && match[2] === "")) return Either.left("expected a path such as parameters.control.duration")
    if (match[1] !== "") segments.push(/^\d+$/.test(match[1]!) ? Number(match[1]) : match[1]!)
    for (const index of match[2]!.matchAll(/\[(\d+)\]/g)) segments.push(Number(index[1]))
  }
  return Either.right(segments[0] === "parameters" || segments[0] === "results" ? segments : ["parameters", ...segments])
}

/** `value` parsed as JSON when it is JSON (`3`, `true`, `{"a":1}`, `"text"`), as text otherwise. */
const valueOf = (text: string): Json => {
  try {
    return JSON.parse(text) as Json
  } catch {
    return text
  }
}

/** A copy of `document` with `value` at `segments`, creating objects and arrays on the way. */
const setAt = (document: Json, segments: ReadonlyArray<string | number>, value: Json): Json => {
  if (segments.length === 0) return value
  const [head, ...rest] = segments
  if (typeof head === "number") {
    const array = Array.isArray(document) ? [...document] : []
    array[head] = setAt(array[head] ?? null, rest, value)
    return array.map((item) => item ?? null)
  }
  const object = typeof document === "object" && document !== null && !Array.isArray(document)
    ? { ...(document as Record<string, Json>) }
    : {}
  object[head!] = setAt(object[head!] ?? null, rest, value)
  return object
}

/**
 * One problem per line with its path: `parameters.control.duration: Expected string, actual 5`.
 * An optional field is a union with `undefined`, whose other member is reported too (`Expected
 * undefined, actual 5`, on the field and on each parent): that noise is left out when the path
 * has a real problem.
 */
const problemsOf = (prefix: string, error: ParseResult.ParseError): ReadonlyArray<string> => {
  const issues = ParseResult.ArrayFormatter.formatErrorSync(error).map((issue) => ({
    path: [prefix, ...issue.path.map(String)].join(".").replace(/\.(\d+)(?=\.|\[|$)/g, "[$1]"),
    message: issue.message
  }))
  const real = issues.filter((issue) => !issue.message.startsWith("Expected undefined,"))
  const kept = issues.filter((issue) =>
    !issue.message.startsWith("Expected undefined,") ||
    !real.some((other) => other.path === issue.path || other.path.startsWith(`${issue.path}.`) || other.path.startsWith(`${issue.path}[`))
  )
  return kept.map((issue) => `${issue.path}: ${issue.message}`)
}

/**
 * The data to send: the example, replaced key by key by `--data` (an object with `parameters`
 * and, after an event, `results`), then each `--set` applied in order; decoded with the event's
 * Schemas. Fails with one line per problem, each with its path.
 */
export const exampleData = (
  event: Event.Event.Any,
  preposition: WireContract.Preposition,
  options: { readonly data: Option.Option<string>; readonly set: ReadonlyArray<string> }
): Either.Either<ExampleData, ReadonlyArray<string>> =>
  Either.gen(function*() {
    let document: Json = yield* Either.mapLeft(exampleDocument(event, preposition), (reason) => [
      `cannot encode the example: ${reason}`
    ])
    if (Option.isSome(options.data)) {
      let data: unknown
      try {
        data = JSON.parse(options.data.value)
      } catch (error) {
        return yield* Either.left([`--data: not JSON: ${(error as Error).message}`])
      }
      if (typeof data !== "object" || data === null || Array.isArray(data)) {
        return yield* Either.left([`--data: expected a JSON object such as {"parameters": {...}}`])
      }
      const allowed = preposition === "after" ? ["parameters", "results"] : ["parameters"]
      const unknown = Object.keys(data).filter((key) => !allowed.includes(key))
      if (unknown.length > 0) {
        return yield* Either.left(unknown.map((key) => `--data: ${key}: unexpected; expected ${allowed.join(" or ")}`))
      }
      document = { ...(document as Record<string, Json>), ...(data as Record<string, Json>) }
    }
    for (const assignment of options.set) {
      const equals = assignment.indexOf("=")
      if (equals <= 0) return yield* Either.left([`--set ${assignment}: expected path=value`])
      const path = assignment.slice(0, equals)
      const segments = yield* Either.mapLeft(segmentsOf(path), (reason) => [`--set ${path}: ${reason}`])
      if (segments[0] === "results" && preposition === "before") {
        return yield* Either.left([`--set ${path}: a before event has no results`])
      }
      document = setAt(document, segments, valueOf(assignment.slice(equals + 1)))
    }
    const record = document as Record<string, unknown>
    if (!("parameters" in record)) {
      return yield* Either.left([`the event has no example parameters: give them with --data '{"parameters": {...}}'`])
    }
    const params = Schema.decodeUnknownEither(event.parameters, { errors: "all", onExcessProperty: "error" })(record["parameters"])
    const results = preposition === "after"
      ? Schema.decodeUnknownEither(resultsSchema(event), { errors: "all", onExcessProperty: "error" })(record["results"] ?? [])
      : Either.right(undefined)
    const problems = [
      ...(Either.isLeft(params) ? problemsOf("parameters", params.left) : []),
      ...(Either.isLeft(results) ? problemsOf("results", results.left) : [])
    ]
    if (problems.length > 0) return yield* Either.left(problems)
    const decoded: ExampleData = preposition === "after"
      ? { params: Either.getOrThrow(params), results: Either.getOrThrow(results)! }
      : { params: Either.getOrThrow(params) }
    return decoded
  })
