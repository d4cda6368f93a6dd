/**
 * Events as values. An event has a name, a Schema for its parameters and a Schema for the result
 * each connector returns. Handlers attach to an event with a preposition: *before* it runs (and
 * may cancel it), *on* it (producing a result) or *after* it (seeing every result).
 *
 * A selector names a preposition and an event as text: `before:measure`, `after:adjust`,
 * `measure` (the same as `on:measure`), `after:*` (every event).
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as SchemaAST from "effect/SchemaAST"
import { InvalidEventSelector } from "./EventError.js"

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("servo-webhooks/Event")

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * @since 0.1.0
 * @category models
 */
export interface Event<
  out Name extends string,
  in out Params,
  in out ParamsEncoded,
  in out Result,
  in out ResultEncoded
> {
  readonly [TypeId]: TypeId
  readonly name: Name
  readonly description: string
  readonly parameters: Schema.Schema<Params, ParamsEncoded>
  readonly result: Schema.Schema<Result, ResultEncoded>
}

/**
 * @since 0.1.0
 */
export declare namespace Event {
  /**
   * @since 0.1.0
   */
  export type Any = Event<string, any, any, any, any>
  /**
   * @since 0.1.0
   */
  export type Parameters<E> = E extends Event<any, infer P, any, any, any> ? P : never
  /**
   * @since 0.1.0
   */
  export type Result<E> = E extends Event<any, any, any, infer R, any> ? R : never
}

const eventName = /^[a-z][a-z0-9_]*$/

/**
 * Defines an event. Names are lower-case identifiers (`measure`, `check_health`): selectors are
 * case-sensitive and a name is the same everywhere it appears.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <const Name extends string, Params, ParamsEncoded, Result, ResultEncoded>(options: {
  readonly name: Name
  readonly description: string
  readonly parameters: Schema.Schema<Params, ParamsEncoded>
  readonly result: Schema.Schema<Result, ResultEncoded>
}): Event<Name, Params, ParamsEncoded, Result, ResultEncoded> => {
  if (!eventName.test(options.name)) {
    throw new TypeError(`event name ${JSON.stringify(options.name)} must match ${eventName}`)
  }
  return { [TypeId]: TypeId, ...options }
}

/**
 * @since 0.1.0
 * @category refinements
 */
export const isEvent = (u: unknown): u is Event.Any => typeof u === "object" && u !== null && TypeId in u

/**
 * Parameters of an event that takes none.
 *
 * @since 0.1.0
 * @category schemas
 */
export const NoParameters = Schema.Struct({}).annotations({
  identifier: "NoParameters",
  description: "This event takes no parameters",
  examples: [{}]
})

/**
 * The result of an event whose handlers return nothing: `void` in code, `null` on the wire.
 *
 * @since 0.1.0
 * @category schemas
 */
export const NoResult: Schema.Schema<void, null> = Schema.transform(Schema.Null, Schema.Void, {
  strict: true,
  decode: () => undefined,
  encode: () => null
}).annotations({ identifier: "NoResult", description: "This event's handlers return nothing", examples: [undefined] })

/**
 * The first `examples` annotation of an event's parameters, for sample payloads.
 *
 * @since 0.1.0
 * @category getters
 */
export const exampleParameters = <E extends Event.Any>(event: E): Option.Option<Event.Parameters<E>> =>
  firstExample(event.parameters)

/**
 * The first `examples` annotation of an event's result, for sample payloads.
 *
 * @since 0.1.0
 * @category getters
 */
export const exampleResult = <E extends Event.Any>(event: E): Option.Option<Event.Result<E>> =>
  firstExample(event.result)

const firstExample = <A>(schema: Schema.Schema<A, any>): Option.Option<A> => {
  let ast = schema.ast
  for (;;) {
    const examples = SchemaAST.getExamplesAnnotation(ast)
    if (Option.isSome(examples) && examples.value.length > 0) return Option.some(examples.value[0] as A)
    // Refinements and transformations keep the examples of the Schema they wrap.
    if (SchemaAST.isRefinement(ast)) ast = ast.from
    else if (SchemaAST.isTransformation(ast)) ast = ast.to
    else return Option.none()
  }
}

// ---------------------------------------------------------------------------------------------
// Registry
// ---------------------------------------------------------------------------------------------

/**
 * The events an assembly knows: the core events plus those its connectors define. Selectors are
 * parsed against a registry, so a typo is caught with the known names listed.
 *
 * @since 0.1.0
 * @category models
 */
export interface Registry {
  readonly events: ReadonlyArray<Event.Any>
  readonly names: ReadonlyArray<string>
  readonly get: (name: string) => Event.Any | undefined
}

/**
 * Builds a registry. Defining two different events with one name is a programming error.
 *
 * @since 0.1.0
 * @category constructors
 */
export const registry = (events: Iterable<Event.Any>): Registry => {
  const byName = new Map<string, Event.Any>()
  for (const event of events) {
    const existing = byName.get(event.name)
    if (existing !== undefined && existing !== event) {
      throw new TypeError(`two different events are named ${JSON.stringify(event.name)}`)
    }
    byName.set(event.name, event)
  }
  const sorted = Array.from(byName.values()).sort((a, b) => a.name.localeCompare(b.name))
  return {
    events: sorted,
    names: sorted.map((event) => event.name),
    get: (name) => byName.get(name)
  }
}

// ---------------------------------------------------------------------------------------------
// Prepositions and selectors
// ---------------------------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category models
 */
export type Preposition = "before" | "on" | "after"

/**
 * @since 0.1.0
 * @category constants
 */
export const prepositions: ReadonlyArray<Preposition> = ["before", "on", "after"]

/**
 * `before:measure` as a value. `event` is an event name, or `"*"` for every event.
 *
 * @since 0.1.0
 * @category models
 */
export interface Selector {
  readonly preposition: Preposition
  readonly event: string
}

/**
 * Prints a selector the canonical way: `before:measure`, `measure` (for `on`), `after:*`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatSelector = (selector: Selector): string =>
  selector.preposition === "on" ? selector.event : `${selector.preposition}:${selector.event}`

/**
 * Whether a selector applies to an event.
 *
 * @since 0.1.0
 * @category predicates
 */
export const matches = (selector: Selector, preposition: Preposition, event: string): boolean =>
  selector.preposition === preposition && (selector.event === "*" || selector.event === event)

/**
 * Reads `PREPOSITION:EVENT` or `EVENT` (meaning `on:EVENT`) against a registry. `*` selects every
 * event. Case matters; the error says what is wrong and, for a case slip, what was meant.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseSelector = (input: string, events: Registry): Either.Either<Selector, InvalidEventSelector> => {
  const fail = (reason: string) => Either.left(new InvalidEventSelector({ input, reason }))
  if (input.trim().length === 0) {
    return fail("it is empty; expected EVENT or PREPOSITION:EVENT, such as before:measure")
  }
  const parts = input.split(":")
  if (parts.length > 2) return fail("expected one colon, as in before:measure")
  const [preposition, event] = parts.length === 2 ? [parts[0]!, parts[1]!] : ["on", parts[0]!]
  if (!(prepositions as ReadonlyArray<string>).includes(preposition)) {
    const hint = (prepositions as ReadonlyArray<string>).includes(preposition.toLowerCase())
      ? ` (prepositions are lower case: did you mean ${JSON.stringify(preposition.toLowerCase())}?)`
      : ""
    return fail(`unknown preposition ${JSON.stringify(preposition)}; expected before, on or after${hint}`)
  }
  if (event.length === 0) return fail(`no event after ${JSON.stringify(`${preposition}:`)}`)
  if (event !== "*" && events.get(event) === undefined) {
    const hint = events.get(event.toLowerCase()) !== undefined
      ? ` (event names are lower case: did you mean ${JSON.stringify(event.toLowerCase())}?)`
      : ""
    return fail(`unknown event ${JSON.stringify(event)}${hint}; known events: ${events.names.join(", ")}`)
  }
  return Either.right({ preposition: preposition as Preposition, event })
}
