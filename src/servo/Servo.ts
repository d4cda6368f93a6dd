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
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Effect from "effect/Effect"
import type * as Either from "effect/Either"
import type * as Layer from "effect/Layer"
import type { InvalidConfig } from "./ConfigError.js"
import type * as Connector from "./Connector.js"
import type * as Event from "./Event.js"
import type { EventBus } from "./EventBus.js"
import * as internal from "./internal/servo.js"

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
export const assembly: <const C extends ReadonlyArray<Connector.Connector.Any>>(connectors: C) => Assembly<C[number]> =
  internal.assembly

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

/**
 * Decodes a parsed servo.yaml (any JSON-like value).
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeConfig: <C extends Connector.Connector.Any>(
  assembly: Assembly<C>,
  input: unknown,
  source?: string
) => Either.Either<Config, InvalidConfig> = internal.decodeConfig

/**
 * Parses and decodes servo.yaml text. YAML syntax errors carry their line and column.
 *
 * @since 0.1.0
 * @category decoding
 */
export const parseConfig: <C extends Connector.Connector.Any>(
  assembly: Assembly<C>,
  text: string,
  source?: string
) => Either.Either<Config, InvalidConfig> = internal.parseConfig

/**
 * Reads, parses and decodes a servo.yaml file.
 *
 * @since 0.1.0
 * @category decoding
 */
export const loadConfig: <C extends Connector.Connector.Any>(
  assembly: Assembly<C>,
  path: string
) => Effect.Effect<Config, InvalidConfig, FileSystem.FileSystem> = internal.loadConfig

/**
 * Starts every configured connector, in file order, on a fresh event bus. Handlers of earlier
 * connectors come first, so before handlers run, and results are listed, in the file's order.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: <C extends Connector.Connector.Any>(
  assembly: Assembly<C>,
  config: Config
) => Layer.Layer<
  EventBus | Connector.Connector.Services<C>,
  Connector.Connector.Error<C>,
  Connector.Connector.Context<C>
> = internal.layer
