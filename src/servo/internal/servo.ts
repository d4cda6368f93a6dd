import * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as YAML from "yaml"
import { issuesOf } from "../../internal/issues.js"
import { type ConfigIssue, InvalidConfig } from "../ConfigError.js"
import type * as Connector from "../Connector.js"
import * as CoreEvents from "../CoreEvents.js"
import * as Event from "../Event.js"
import * as EventBus from "../EventBus.js"
import type * as Servo from "../Servo.js"

/** @internal */
export const assembly = <const C extends ReadonlyArray<Connector.Connector.Any>>(
  connectors: C
): Servo.Assembly<C[number]> => {
  const names = new Set<string>()
  for (const connector of connectors) {
    if (connector.name === "name" || names.has(connector.name)) {
      throw new TypeError(`a connector cannot be named ${JSON.stringify(connector.name)} in this assembly`)
    }
    names.add(connector.name)
  }
  return {
    connectors,
    events: Event.registry([...CoreEvents.all, ...connectors.flatMap((connector) => connector.events)])
  }
}

// One Schema per assembly: building it resolves every connector's config Schema.
const schemas = new WeakMap<Servo.Assembly<any>, (u: unknown) => Either.Either<any, ParseResult.ParseError>>()

const decoderFor = (assembly: Servo.Assembly<Connector.Connector.Any>) => {
  let decode = schemas.get(assembly)
  if (decode === undefined) {
    const fields: Record<string, Schema.Schema.All | Schema.PropertySignature.All> = {
      name: Schema.optionalWith(Schema.NonEmptyTrimmedString, { exact: true })
    }
    for (const connector of assembly.connectors) {
      fields[connector.name] = Schema.optionalWith(connector.config(assembly.events), { exact: true })
    }
    decode = Schema.decodeUnknownEither(Schema.Struct(fields) as unknown as Schema.Schema<any, any>, {
      errors: "all",
      onExcessProperty: "error"
    })
    schemas.set(assembly, decode)
  }
  return decode
}

const isMapping = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

/** @internal */
export const decodeConfig = <C extends Connector.Connector.Any>(
  assembly: Servo.Assembly<C>,
  input: unknown,
  source = "servo.yaml"
): Either.Either<Servo.Config, InvalidConfig> => {
  const known = assembly.connectors.map((connector) => connector.name)
  if (input === null || input === undefined) input = {}
  if (!isMapping(input)) {
    return Either.left(
      new InvalidConfig({
        source,
        issues: [{ path: "", message: `expected a mapping of connector names (${known.join(", ")}) to their config` }]
      })
    )
  }
  return decoderFor(assembly)(input).pipe(
    Either.mapLeft((error) =>
      new InvalidConfig({
        source,
        issues: issuesOf(error).map(({ message, path, unexpected }): ConfigIssue => ({
          path,
          // A top-level key the assembly does not know is a connector name we have never heard of.
          message: unexpected && !path.includes(".") && !path.includes("[")
            ? `unknown connector; known connectors: ${known.join(", ")} (and \`name\` for the servo)`
            : message
        }))
      })
    ),
    Either.map((decoded): Servo.Config => ({
      name: decoded.name ?? "servo",
      source,
      connectors: Object.keys(input).flatMap((key) => {
        const connector = assembly.connectors.find((candidate) => candidate.name === key)
        return connector === undefined ? [] : [{ name: key, connector, config: decoded[key] }]
      })
    }))
  )
}

const at = ({ col, line }: { readonly line: number; readonly col: number }) => `line ${line}, column ${col}`

/** @internal */
export const parseConfig = <C extends Connector.Connector.Any>(
  assembly: Servo.Assembly<C>,
  text: string,
  source = "servo.yaml"
): Either.Either<Servo.Config, InvalidConfig> => {
  const lineCounter = new YAML.LineCounter()
  const document = YAML.parseDocument(text, { prettyErrors: false, lineCounter })
  if (document.errors.length > 0) {
    return Either.left(
      new InvalidConfig({
        source,
        issues: document.errors.map((error) => ({
          path: "",
          message: `invalid YAML at ${at(lineCounter.linePos(error.pos[0]))}: ${error.message.split("\n")[0]}`
        }))
      })
    )
  }
  return decodeConfig(assembly, document.toJS(), source)
}

/** @internal */
export const loadConfig = <C extends Connector.Connector.Any>(assembly: Servo.Assembly<C>, path: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const text = yield* fs.readFileString(path).pipe(
      Effect.mapError((error) =>
        new InvalidConfig({
          source: path,
          issues: [{
            path: "",
            message: error._tag === "SystemError" && error.reason === "NotFound"
              ? "no such file (create one with `servo generate --defaults webhooks`, or pass --config FILE)"
              : `cannot read: ${error.message}`
          }]
        })
      )
    )
    return yield* parseConfig(assembly, text, path)
  })

/** @internal */
export const layer = <C extends Connector.Connector.Any>(
  _assembly: Servo.Assembly<C>,
  config: Servo.Config
): Layer.Layer<
  EventBus.EventBus | Connector.Connector.Services<C>,
  Connector.Connector.Error<C>,
  Connector.Connector.Context<C>
> =>
  // Each connector is built after the ones before it, so registration follows the file's order.
  config.connectors.reduce<Layer.Layer<any, any, any>>(
    (built, { connector, config: connectorConfig, name }) =>
      Layer.provideMerge(connector.layer(connectorConfig, { name, events: _assembly.events, source: config.source }), built),
    EventBus.layer
  )
