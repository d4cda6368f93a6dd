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
import type { PlatformError } from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { identity } from "effect/Function"
import * as JSONSchema from "effect/JSONSchema"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as YAML from "yaml"
import { capIssues, issuesOf, maxIssues } from "../internal/issues.js"
import { type ConfigIssue, InvalidConfig } from "./ConfigError.js"
import type * as Connector from "./Connector.js"
import * as CoreEvents from "./CoreEvents.js"
import * as Event from "./Event.js"
import * as EventBus from "./EventBus.js"
import * as YamlLimits from "./internal/yamlLimits.js"

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
 * What a servo.yaml may cost, checked before it is parsed: its size, its nesting, and how far
 * its aliases may expand (the yaml library's `maxAliasCount`). Past them, the whole file is one
 * problem, and nothing of it is composed.
 *
 * @since 0.1.0
 * @category decoding
 */
export const limits: {
  /** Bytes of UTF-8: 1 MiB. */
  readonly maxBytes: number
  /** Nested mappings, sequences and flow collections: 64. */
  readonly maxDepth: number
  /** Alias expansions, as the yaml library counts them: 100. */
  readonly maxAliasCount: number
  /** Problems listed; the rest are counted: 100. */
  readonly maxIssues: number
} = { maxBytes: YamlLimits.maxBytes, maxDepth: YamlLimits.maxDepth, maxAliasCount: YamlLimits.maxAliasCount, maxIssues }

const tooLarge = (size: number | undefined) =>
  `is ${size === undefined ? "more than 1 MiB" : `${size} bytes`} long; a config may be at most 1 MiB (${YamlLimits.maxBytes} bytes)`

const wholeFile = (source: string, message: string) => new InvalidConfig({ source, issues: [{ path: "", message }] })

/**
 * Parses YAML within {@link limits}: the value, or the one problem of the whole file (too large,
 * too deep, an alias bomb) or its syntax errors, with line and column. Never throws.
 *
 * @since 0.1.0
 * @category decoding
 */
export const parseYaml = (text: string, source = "servo.yaml"): Either.Either<unknown, InvalidConfig> => {
  // Counting UTF-8 bytes is skipped when even 3 bytes per UTF-16 unit stay below the limit.
  if (text.length * 3 > YamlLimits.maxBytes) {
    const size = Buffer.byteLength(text, "utf8")
    if (size > YamlLimits.maxBytes) return Either.left(wholeFile(source, tooLarge(size)))
  }
  const deep = YamlLimits.tooDeep(text)
  if (deep !== undefined) {
    return Either.left(
      wholeFile(source, `nests deeper than ${YamlLimits.maxDepth} levels (at ${at(deep)}); a config may nest at most ${YamlLimits.maxDepth}`)
    )
  }
  try {
    const lineCounter = new YAML.LineCounter()
    const document = YAML.parseDocument(text, { prettyErrors: false, lineCounter })
    if (document.errors.length > 0) {
      return Either.left(
        new InvalidConfig({
          source,
          issues: capIssues(
            document.errors.map((error) => ({
              path: "",
              message: `invalid YAML at ${at(lineCounter.linePos(error.pos[0]))}: ${error.message.split("\n")[0]}`
            })),
            identity
          )
        })
      )
    }
    return Either.right(document.toJS({ maxAliasCount: YamlLimits.maxAliasCount }))
  } catch (error) {
    // The yaml library throws a ReferenceError for an alias bomb; anything else it throws is
    // still a problem of this file, not of the program.
    const message = error instanceof ReferenceError && /alias/i.test(error.message)
      ? `its aliases (*name) expand more than ${YamlLimits.maxAliasCount} times; refused as an alias bomb`
      : `cannot be parsed: ${error instanceof Error ? error.message : String(error)}`
    return Either.left(wholeFile(source, message))
  }
}

/**
 * Parses and decodes servo.yaml text, within {@link limits}. YAML syntax errors carry their
 * line and column.
 *
 * @since 0.1.0
 * @category decoding
 */
export const parseConfig = <C extends Connector.Connector.Any>(
  assembly: Assembly<C>,
  text: string,
  source = "servo.yaml"
): Either.Either<Config, InvalidConfig> =>
  Either.flatMap(parseYaml(text, source), (value) => decodeConfig(assembly, value, source))

/**
 * Reads a config file's text, never more than {@link limits} allow: a larger file is refused
 * before it is read, and no more than the limit is read from a pipe either.
 *
 * @since 0.1.0
 * @category decoding
 */
export const readConfigText = (path: string): Effect.Effect<string, InvalidConfig, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const cannotRead = (error: PlatformError) =>
      wholeFile(
        path,
        error._tag === "SystemError" && error.reason === "NotFound"
          ? "no such file (create one with `servo generate --defaults webhooks`, or pass --config FILE)"
          : `cannot read: ${error.message}`
      )
    const info = yield* Effect.option(fs.stat(path))
    if (Option.isSome(info) && info.value.type === "File" && Number(info.value.size) > YamlLimits.maxBytes) {
      return yield* Effect.fail(wholeFile(path, tooLarge(Number(info.value.size))))
    }
    const chunks = yield* fs.stream(path, { bytesToRead: YamlLimits.maxBytes + 1 }).pipe(
      Stream.runCollect,
      Effect.mapError(cannotRead)
    )
    const bytes = Buffer.concat(Chunk.toReadonlyArray(chunks))
    if (bytes.length > YamlLimits.maxBytes) return yield* Effect.fail(wholeFile(path, tooLarge(undefined)))
    return new TextDecoder().decode(bytes)
  })

/**
 * Reads (see {@link readConfigText}), parses and decodes a servo.yaml file.
 *
 * @since 0.1.0
 * @category decoding
 */
export const loadConfig = <C extends Connector.Connector.Any>(
  assembly: Assembly<C>,
  path: string
): Effect.Effect<Config, InvalidConfig, FileSystem.FileSystem> =>
  Effect.flatMap(readConfigText(path), (text) => parseConfig(assembly, text, path))

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
