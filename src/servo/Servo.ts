/**
 * A servo assembled from a servo.yaml: the connectors it may use (an assembly), the config that
 * picks and configures them, and the Layer that starts them on one event bus.
 *
 * ```yaml
 * name: demo
 * simulator: {}
 * webhooks: [...]
 * ```
 *
 * Top-level keys are connector names (plus an optional `name` for the servo). A key that names no
 * connector of the assembly is an error; every problem in the file is reported at once, with its
 * path, and nothing starts half-configured.
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as JSONSchema from "effect/JSONSchema"
import * as Layer from "effect/Layer"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as YAML from "yaml"
import { issuesOf } from "../internal/issues.js"
import { type ConfigIssue, InvalidConfig } from "./ConfigError.js"
import type * as Connector from "./Connector.js"
import * as CoreEvents from "./CoreEvents.js"
import * as Event from "./Event.js"
import * as EventBus from "./EventBus.js"

/**
 * The connectors a servo may be built from, and every event they know.
 *
 * @since 0.1.0
 * @category models
 */
export interface Assembly<C extends Connector.Connector.Any> {
  readonly connectors: ReadonlyArray<C>
  readonly events: Event.Registry
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const assembly = <const C extends ReadonlyArray<Connector.Connector.Any>>(connectors: C): Assembly<C[number]> => {
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

/**
 * A decoded servo.yaml: the servo's name and each configured connector, in file order.
 *
 * @since 0.1.0
 * @category models
 */
export interface Config {
  readonly name: string
  /** Where the config came from (its file), named in errors found when the servo starts. */
  readonly source: string
  readonly connectors: ReadonlyArray<ConfiguredConnector>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ConfiguredConnector {
  readonly name: string
  readonly connector: Connector.Connector.Any
  readonly config: unknown
}

const nameExpected = "expected a non-empty name without surrounding spaces"

const ServoName = Schema.String.annotations({ message: () => ({ message: nameExpected, override: true }) }).pipe(
  Schema.filter((name) => name.length > 0 && name.trim() === name ? undefined : nameExpected, {
    jsonSchema: { type: "string", pattern: "^\\S(.*\\S)?$" }
  })
).annotations({
  title: "name",
  description: "The servo's name, shown in logs and summaries (default: servo)",
  examples: ["demo"]
})

// One Schema per assembly: building it resolves every connector's config Schema.
const schemas = new WeakMap<Assembly<any>, Schema.Schema<any, any>>()

/**
 * The Schema of a whole servo.yaml for an assembly: an optional `name`, then one optional key per
 * connector holding that connector's config Schema. Its JSON Schema (`jsonSchema`) is what
 * editors validate and complete servo.yaml with.
 *
 * @since 0.1.0
 * @category schemas
 */
export const configSchema = <C extends Connector.Connector.Any>(
  assembly: Assembly<C>
): Schema.Schema<{ readonly name?: string } & Record<string, unknown>, { readonly name?: string } & Record<string, unknown>> => {
  let schema = schemas.get(assembly)
  if (schema === undefined) {
    const fields: Record<string, Schema.Schema.All | Schema.PropertySignature.All> = {
      name: Schema.optionalWith(ServoName, { exact: true })
    }
    for (const connector of assembly.connectors) {
      fields[connector.name] = Schema.optionalWith(
        connector.config(assembly.events).annotations({ description: connector.description }),
        { exact: true }
      )
    }
    schema = Schema.Struct(fields).annotations({
      title: "servo.yaml",
      description: `A servo's configuration: connectors ${assembly.connectors.map((c) => c.name).join(", ")}`
    }) as unknown as Schema.Schema<any, any>
    schemas.set(assembly, schema)
  }
  return schema
}

/**
 * The JSON Schema (draft-07) of servo.yaml for an assembly, for editors (yaml-language-server),
 * CI linters and people. Rules that need code (a secret file that exists, a signing secret's
 * bytes) are checked only when the servo starts.
 *
 * @since 0.1.0
 * @category schemas
 */
export const jsonSchema = <C extends Connector.Connector.Any>(assembly: Assembly<C>): JSONSchema.JsonSchema7Root =>
  JSONSchema.make(configSchema(assembly))

const decoders = new WeakMap<Assembly<any>, (u: unknown) => Either.Either<any, ParseResult.ParseError>>()

const decoderFor = (assembly: Assembly<Connector.Connector.Any>) => {
  let decode = decoders.get(assembly)
  if (decode === undefined) {
    decode = Schema.decodeUnknownEither(configSchema(assembly), { errors: "all", onExcessProperty: "error" })
    decoders.set(assembly, decode)
  }
  return decode
}

const isMapping = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

/**
 * Decodes a parsed servo.yaml (any JSON-like value).
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeConfig = <C extends Connector.Connector.Any>(
  assembly: Assembly<C>,
  input: unknown,
  source = "servo.yaml"
): Either.Either<Config, InvalidConfig> => {
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
  const mapping = input
  return decoderFor(assembly)(mapping).pipe(
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
    Either.map((decoded): Config => ({
      name: decoded.name ?? "servo",
      source,
      connectors: Object.keys(mapping).flatMap((key) => {
        const connector = assembly.connectors.find((candidate) => candidate.name === key)
        return connector === undefined ? [] : [{ name: key, connector, config: decoded[key] }]
      })
    }))
  )
}

const at = ({ col, line }: { readonly line: number; readonly col: number }) => `line ${line}, column ${col}`

/**
 * Parses and decodes servo.yaml text. YAML syntax errors carry their line and column.
 *
 * @since 0.1.0
 * @category decoding
 */
export const parseConfig = <C extends Connector.Connector.Any>(
  assembly: Assembly<C>,
  text: string,
  source = "servo.yaml"
): Either.Either<Config, InvalidConfig> => {
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

/**
 * Reads, parses and decodes a servo.yaml file.
 *
 * @since 0.1.0
 * @category decoding
 */
export const loadConfig = <C extends Connector.Connector.Any>(
  assembly: Assembly<C>,
  path: string
): Effect.Effect<Config, InvalidConfig, FileSystem.FileSystem> =>
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

/**
 * Starts every configured connector, in file order, on a fresh event bus. Handlers of earlier
 * connectors come first, so before handlers run, and results are listed, in the file's order.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = <C extends Connector.Connector.Any>(
  assembly: Assembly<C>,
  config: Config
): Layer.Layer<
  EventBus.EventBus | Connector.Connector.Services<C>,
  Connector.Connector.Error<C>,
  Connector.Connector.Context<C>
> =>
  // Each connector is built after the ones before it, so registration follows the file's order.
  config.connectors.reduce<Layer.Layer<any, any, any>>(
    (built, { connector, config: connectorConfig, name }) =>
      Layer.provideMerge(connector.layer(connectorConfig, { name, events: assembly.events, source: config.source }), built),
    EventBus.layer
  )
