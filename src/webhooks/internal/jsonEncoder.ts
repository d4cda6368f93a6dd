/**
 * A JSON encoder compiled once per Schema: the same bytes as
 * `JSON.stringify(Schema.encodeSync(schema)(value))`, without building the encoded value.
 *
 * The compiled walker mirrors what `ParseResult` does when encoding with default options
 * (excess properties ignored, Struct order, optional keys skipped when absent) for the shapes it
 * knows. Two ways out keep it exact:
 * - a shape it does not know makes the whole Schema use `Schema.encodeEither` + `JSON.stringify`;
 * - a value it cannot vouch for (refused, or a case it cannot decide) is encoded the same slow
 *   way, so a ParseError is exactly the one `Schema.encode` gives.
 *
 * @internal
 */
import * as DateTime from "effect/DateTime"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as AST from "effect/SchemaAST"

/** JSON text, `undefined` (a value JSON.stringify leaves out), or the value was refused. */
type Step = string | undefined | typeof refused
type Encode = (value: unknown) => Step

/** Schema.encode refuses this value too: a union may try its next member. */
const refused: unique symbol = Symbol("jsonEncoder/refused")

/** The walker cannot decide this value: the whole value takes the slow path. */
class Undecided {}
const undecided = new Undecided()

/** The shape is not one the walker knows: the whole Schema takes the slow path. */
class Unsupported extends Error {}

/**
 * Inside a refinement, the filter sees the value as validated by Effect (a copy without excess
 * keys, in Struct order). The walker notes when the input differs from that copy, and only then
 * asks Effect for the copy to hand the filter.
 */
let refinementDepth = 0
let notAsValidated = false

const hasOwn = Object.prototype.hasOwnProperty

const isObject = (value: unknown): value is Record<PropertyKey, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const jsonNumber = (value: number): string => Number.isFinite(value) ? String(value) : "null"

const isArrayIndex = (key: string): boolean => /^(0|[1-9]\d*)$/.test(key) && Number(key) < 4294967295

const unsupportedAnnotations = (ast: AST.AST): boolean =>
  Option.isSome(AST.getParseOptionsAnnotation(ast)) || Option.isSome(AST.getDecodingFallbackAnnotation(ast))

const compileNode = (ast: AST.AST, memo: Map<AST.AST, Encode>): Encode => {
  const known = memo.get(ast)
  if (known !== undefined) return known
  if (unsupportedAnnotations(ast)) throw new Unsupported()
  // No cycle can reach here while compiling: a Suspend compiles its target on first use.
  const compiled = compileShape(ast, memo)
  memo.set(ast, compiled)
  return compiled
}

const compileShape = (ast: AST.AST, memo: Map<AST.AST, Encode>): Encode => {
  switch (ast._tag) {
    case "StringKeyword":
      return (value) => typeof value === "string" ? JSON.stringify(value) : refused
    case "NumberKeyword":
      return (value) => typeof value === "number" ? jsonNumber(value) : refused
    case "BooleanKeyword":
      return (value) => value === true ? "true" : value === false ? "false" : refused
    case "UndefinedKeyword":
      return (value) => value === undefined ? undefined : refused
    case "NeverKeyword":
      return () => refused
    case "Literal": {
      const literal = ast.literal
      if (typeof literal === "bigint") throw new Unsupported()
      const json = literal === null ? "null" : typeof literal === "number" ? jsonNumber(literal) : JSON.stringify(literal)
      return (value) => value === literal ? json : refused
    }
    case "Enums": {
      const values = ast.enums.map(([, value]) => value)
      return (value) => {
        if (!values.some((candidate) => candidate === value)) return refused
        return typeof value === "number" ? jsonNumber(value) : JSON.stringify(value)
      }
    }
    case "TypeLiteral":
      return compileTypeLiteral(ast, memo)
    case "TupleType":
      return compileTuple(ast, memo)
    case "Union":
      return compileUnion(ast, memo)
    case "Refinement":
      return compileRefinement(ast, memo)
    case "Suspend": {
      let target: Encode | undefined
      return (value) => (target ??= compileNode(ast.f(), memo))(value)
    }
    case "Transformation":
      return compileTransformation(ast, memo)
    default:
      throw new Unsupported()
  }
}

const compileTypeLiteral = (ast: AST.TypeLiteral, memo: Map<AST.AST, Encode>): Encode => {
  const properties = ast.propertySignatures
  const indexes = ast.indexSignatures
  if (properties.length === 0 && indexes.length === 0) {
    // `{}` accepts any non-nullable value and returns it as it is.
    return (value) => {
      if (value === null || value === undefined) return refused
      // Nested, a toJSON would be called with its key rather than "": leave that to the slow path.
      if (typeof (value as { toJSON?: unknown }).toJSON === "function") throw undecided
      return JSON.stringify(value)
    }
  }
  if (indexes.length > 0) return compileRecord(ast, memo)
  for (const property of properties) {
    const name = property.name
    // Keys JSON.stringify would reorder or drop, or that assigning would not create.
    if (typeof name !== "string" || isArrayIndex(name) || name === "__proto__") throw new Unsupported()
  }
  const names = properties.map((property) => property.name as string)
  const optional = properties.map((property) => property.isOptional)
  const prefixes = names.map((name) => `${JSON.stringify(name)}:`)
  const encoders = properties.map((property) => compileNode(property.type, memo))
  const count = names.length
  // A union tries every member: a missing key that cannot be undefined refuses the object early,
  // before anything is encoded (read through the prototype chain, as Effect does).
  const mustBeDefined = names.filter((_, i) => !optional[i] && refusesUndefined(properties[i]!.type))
  return (value) => {
    if (!isObject(value)) return refused
    for (const name of mustBeDefined) if (value[name] === undefined) return refused
    let out = "{"
    let first = true
    for (let i = 0; i < count; i++) {
      const name = names[i]!
      if (optional[i] && !hasOwn.call(value, name)) continue
      const step = encoders[i]!(value[name])
      if (step === refused) return refused
      if (step === undefined) continue
      out += first ? prefixes[i] + step : "," + prefixes[i] + step
      first = false
    }
    if (refinementDepth > 0 && !notAsValidated && !keysAsValidated(value, names, optional)) notAsValidated = true
    return out + "}"
  }
}

/**
 * Whether Effect's validated copy has the same keys in the same order: the enumerable keys are
 * the declared ones present, in declared order, and a required key is the value's own (the copy
 * gets every required key, even one read through the prototype chain or absent).
 */
const keysAsValidated = (value: object, names: ReadonlyArray<string>, optional: ReadonlyArray<boolean>): boolean => {
  let next = 0
  const skipAbsent = () => {
    while (next < names.length && !hasOwn.call(value, names[next]!)) {
      if (!optional[next]) return false
      next++
    }
    return true
  }
  for (const key in value) {
    if (!skipAbsent() || next === names.length || key !== names[next]) return false
    next++
  }
  return skipAbsent() && next === names.length
}

const compileRecord = (ast: AST.TypeLiteral, memo: Map<AST.AST, Encode>): Encode => {
  // Only a plain `Record<string, X>`: mixed with properties, the output order is Effect's business.
  if (ast.propertySignatures.length > 0 || ast.indexSignatures.length !== 1) throw new Unsupported()
  const signature = ast.indexSignatures[0]!
  if (signature.parameter._tag !== "StringKeyword") throw new Unsupported()
  const encodeValue = compileNode(signature.type, memo)
  return (value) => {
    if (!isObject(value)) return refused
    let out = "{"
    let first = true
    for (const key of Object.keys(value)) {
      // Assigning `__proto__` to Effect's output object does not create a key.
      if (key === "__proto__") throw undecided
      const step = encodeValue(value[key])
      if (step === refused) return refused
      if (step === undefined) continue
      out += first ? `${JSON.stringify(key)}:${step}` : `,${JSON.stringify(key)}:${step}`
      first = false
    }
    return out + "}"
  }
}

const compileTuple = (ast: AST.TupleType, memo: Map<AST.AST, Encode>): Encode => {
  if (ast.rest.length > 1) throw new Unsupported()
  const elements = ast.elements.map((element) => compileNode(element.type, memo))
  const optional = ast.elements.map((element) => element.isOptional)
  const rest = ast.rest.length === 1 ? compileNode(ast.rest[0]!.type, memo) : undefined
  const required = optional.filter((isOptional) => !isOptional).length
  return (value) => {
    if (!Array.isArray(value)) return refused
    const length = value.length
    if (length < required) return refused
    if (rest === undefined && length > elements.length) return refused
    let out = "["
    for (let i = 0; i < length; i++) {
      const step = i < elements.length ? elements[i]!(value[i]) : rest!(value[i])
      if (step === refused) return refused
      // JSON.stringify writes `null` for an undefined element.
      out += (i === 0 ? "" : ",") + (step === undefined ? "null" : step)
    }
    return out + "]"
  }
}

/**
 * Effect tries a union's members in an order of its own (discriminating literals first) and
 * keeps the first that succeeds. Rather than copy that order, every member is tried: when all
 * those that accept the value give the same bytes, the order cannot matter; otherwise undecided.
 */
const compileUnion = (ast: AST.Union, memo: Map<AST.AST, Encode>): Encode => {
  // Only literals (Unit, Severity): one lookup. NaN is left out, `===` never matches it.
  if (ast.types.every((member) => AST.isLiteral(member) && typeof member.literal !== "bigint" && !Number.isNaN(member.literal))) {
    const literals = new Map(ast.types.map((member) => [(member as AST.Literal).literal, compileNode(member, memo)(
      (member as AST.Literal).literal
    ) as string]))
    return (value) => literals.get(value as AST.LiteralValue) ?? refused
  }
  const compiledMembers = ast.types.map((member) => compileNode(member, memo))
  const keys = discriminatingKeys(ast.types)
  const members = compiledMembers.map((encode, i): Encode => {
    const key = keys[i]
    // Effect only tries a member with a discriminating literal when that key is the input's own.
    return key === undefined ? encode : (value) => hasOwn.call(value, key) ? encode(value) : refused
  })
  return (value) => {
    let accepted: Step = refused
    const before = notAsValidated
    let after = before
    for (const member of members) {
      notAsValidated = before
      const step = member(value)
      if (step === refused) continue
      if (accepted !== refused && step !== accepted) throw undecided
      accepted = step
      after ||= notAsValidated
    }
    notAsValidated = after
    return accepted
  }
}

/**
 * For each member, the key Effect's union looks up before trying it (its search tree puts a
 * member with required literal properties in one bucket: the first literal no earlier member
 * took, else its last one); `undefined` for a member it always tries.
 */
const discriminatingKeys = (members: ReadonlyArray<AST.AST>): Array<PropertyKey | undefined> => {
  const taken = new Map<PropertyKey, Set<string>>()
  return members.map((member) => {
    const tags = literalProperties(member)
    for (let j = 0; j < tags.length; j++) {
      const [key, literal] = tags[j]!
      const hash = String(literal)
      let hashes = taken.get(key)
      if (hashes === undefined) taken.set(key, hashes = new Set())
      if (hashes.has(hash)) {
        if (j < tags.length - 1) continue
        return key
      }
      hashes.add(hash)
      return key
    }
    return undefined
  })
}

/** The required properties (or tuple elements) of a member whose type side is a literal. */
const literalProperties = (ast: AST.AST): Array<readonly [PropertyKey, AST.LiteralValue]> => {
  switch (ast._tag) {
    case "Declaration":
      if (Option.isSome(AST.getSurrogateAnnotation(ast))) throw new Unsupported()
      return []
    case "TypeLiteral":
      return ast.propertySignatures.flatMap((property) => {
        const type = AST.typeAST(property.type)
        return AST.isLiteral(type) && !property.isOptional ? [[property.name, type.literal] as const] : []
      })
    case "TupleType":
      return ast.elements.flatMap((element, i) => {
        const type = AST.typeAST(element.type)
        return AST.isLiteral(type) && !element.isOptional ? [[i, type.literal] as const] : []
      })
    case "Refinement":
      return literalProperties(ast.from)
    case "Suspend":
      return literalProperties(ast.f())
    case "Transformation":
      return literalProperties(ast.to)
    default:
      return []
  }
}

const compileRefinement = (ast: AST.Refinement, memo: Map<AST.AST, Encode>): Encode => {
  const from = compileNode(ast.from, memo)
  let validate: ((value: unknown) => Either.Either<unknown, ParseResult.ParseIssue>) | undefined
  return (value) => {
    const outer = notAsValidated
    notAsValidated = false
    refinementDepth++
    let step: Step
    try {
      step = from(value)
    } finally {
      refinementDepth--
    }
    const inner = notAsValidated
    notAsValidated = outer || inner
    if (step === refused) return refused
    // The filter must see what Effect's validation hands it: when the input has excess keys or
    // another key order, that is Effect's validated copy (the bytes are the same either way).
    let validated = value
    if (inner) {
      validate ??= ParseResult.validateEither(Schema.make(AST.typeAST(ast.from)))
      const result = validate(value)
      if (Either.isLeft(result)) return refused
      validated = result.right
    }
    return Option.isSome(ast.filter(validated, AST.defaultParseOption, ast)) ? refused : step
  }
}

/** Whether every value of `ast` is defined (false when unsure). */
const refusesUndefined = (ast: AST.AST): boolean => {
  switch (ast._tag) {
    case "StringKeyword":
    case "NumberKeyword":
    case "BooleanKeyword":
    case "Literal":
    case "Enums":
    case "TypeLiteral":
    case "TupleType":
      return true
    case "Refinement":
      return refusesUndefined(ast.from)
    case "Union":
      return ast.types.every(refusesUndefined)
    case "Transformation":
      return refusesUndefined(ast.to)
    default:
      return false
  }
}

/**
 * A transformation whose type side is a plain value check or a declaration (DateTimeUtc,
 * GoDuration's Duration, NoResult's void): encode the type side, run the transformation's own
 * `encode`, then encode the result with the encoded side. Anything that does not answer
 * synchronously is undecided.
 */
const compileTransformation = (ast: AST.Transformation, memo: Map<AST.AST, Encode>): Encode => {
  const kind = ast.transformation
  if (kind._tag === "TypeLiteralTransformation") throw new Unsupported()
  const toValue = compileTypeSide(ast.to)
  const from = compileNode(ast.from, memo)
  const transform = kind._tag === "FinalTransformation"
    ? kind.encode
    : (value: unknown) => Either.right(value)
  const general: Encode = (value) => {
    const typed = toValue(value)
    if (typed === refused) return refused
    const encoded = transform(typed, AST.defaultParseOption, ast, value)
    if (!Either.isEither(encoded)) throw undecided
    if (Either.isLeft(encoded)) return refused
    return from(encoded.right)
  }
  return kind === dateTimeUtc ? encodeDateTimeUtc(general) : general
}

const dateTimeUtc = (Schema.DateTimeUtc.ast as AST.Transformation).transformation

/**
 * `Schema.DateTimeUtc` as JSON: `toISOString` of its instant, the transformation's own encode,
 * remembered for the last instant — `toISOString` is the costliest step of a measurement's
 * encoding, and the readings of one measurement usually share their time.
 */
const encodeDateTimeUtc = (general: Encode): Encode => {
  let lastMillis = Number.NaN
  let lastJson = ""
  return (value) => {
    if (refinementDepth > 0 || !DateTime.isDateTime(value) || value._tag !== "Utc") return general(value)
    if (value.epochMillis !== lastMillis) {
      const json = general(value)
      if (typeof json !== "string") return json
      lastMillis = value.epochMillis
      lastJson = json
    }
    return lastJson
  }
}

type TypeSide = (value: unknown) => unknown

const compileTypeSide = (ast: AST.AST): TypeSide => {
  if (unsupportedAnnotations(ast)) throw new Unsupported()
  switch (ast._tag) {
    case "VoidKeyword":
    case "UnknownKeyword":
    case "AnyKeyword":
      return (value) => value
    case "StringKeyword":
      return (value) => typeof value === "string" ? value : refused
    case "NumberKeyword":
      return (value) => typeof value === "number" ? value : refused
    case "BooleanKeyword":
      return (value) => typeof value === "boolean" ? value : refused
    case "Literal":
      return (value) => value === ast.literal ? value : refused
    case "Declaration": {
      if (ast.typeParameters.length > 0) throw new Unsupported()
      const encode = ast.encodeUnknown()
      const decode = ast.decodeUnknown()
      return (value) => {
        let input = value
        if (refinementDepth > 0) {
          // Effect validates a refinement's type side (decoding) before encoding it.
          const validated = decode(value, AST.defaultParseOption, ast)
          if (!Either.isEither(validated)) throw undecided
          if (Either.isLeft(validated)) return refused
          if (validated.right !== value) notAsValidated = true
          input = validated.right
        }
        const result = encode(input, AST.defaultParseOption, ast)
        if (!Either.isEither(result)) throw undecided
        return Either.isLeft(result) ? refused : result.right
      }
    }
    default:
      throw new Unsupported()
  }
}

/** Encodes a value to JSON text with one Schema, as `JSON.stringify(Schema.encode(value))` would. */
export type JsonEncoder = (value: unknown) => Either.Either<string, ParseResult.ParseError>

/**
 * The compiled walker alone: JSON text, or `undefined` when the value must take the slow path.
 * `undefined` for the whole Schema when a shape is not supported.
 */
export const compileFast = (schema: Schema.Schema<any, any, never>): ((value: unknown) => string | undefined) | undefined => {
  let fast: Encode
  try {
    fast = compileNode(schema.ast, new Map())
  } catch (error) {
    if (error instanceof Unsupported) return undefined
    throw error
  }
  return (value) => {
    // Saved for a filter or transformation that itself encodes with a compiled encoder.
    const depth = refinementDepth
    const flag = notAsValidated
    refinementDepth = 0
    notAsValidated = false
    try {
      const step = fast(value)
      return typeof step === "string" ? step : undefined
    } catch {
      // Undecided, a Suspend reaching an unsupported shape, or a throwing filter or
      // transformation: Effect's own encoder decides, throws included.
      return undefined
    } finally {
      refinementDepth = depth
      notAsValidated = flag
    }
  }
}

/**
 * Compiles `schema` once. The result is `String(JSON.stringify(encoded))`: a Schema whose
 * encoded value is `undefined` yields the text `undefined`, as a template literal would.
 */
export const compile = (schema: Schema.Schema<any, any, never>): JsonEncoder => {
  const slow = Schema.encodeEither(schema as Schema.Schema<unknown, unknown>)
  const viaSchema: JsonEncoder = (value) => Either.map(slow(value), (encoded) => String(JSON.stringify(encoded)))
  const fast = compileFast(schema)
  if (fast === undefined) return viaSchema
  return (value) => {
    const json = fast(value)
    return json === undefined ? viaSchema(value) : Either.right(json)
  }
}
