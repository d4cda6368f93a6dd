/**
 * A connector is a named piece of a servo: a config Schema (its section of servo.yaml), the events
 * it defines beyond the core ones, and a Layer that registers its handlers on the event bus.
 * Closing the Layer's scope takes the handlers away.
 *
 * @since 0.1.0
 */
import type * as Layer from "effect/Layer"
import type * as Schema from "effect/Schema"
import type * as Event from "./Event.js"
import type { EventBus } from "./EventBus.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Connector<Name extends string, Config, ConfigEncoded, ROut, E, R> {
  /** The key of the connector's section in servo.yaml, and its default instance name. */
  readonly name: Name
  readonly description: string
  /** Events the connector defines beyond the core ones. */
  readonly events: ReadonlyArray<Event.Event.Any>
  /**
   * The Schema of its section; given every event of the assembly, for selectors. It is also the
   * section's JSON Schema (`Servo.jsonSchema`, `servo schema`): annotate it (`title`,
   * `description`, `examples`), and give leaves that need code a `jsonSchema` annotation.
   */
  readonly config: (events: Event.Registry) => Schema.Schema<Config, ConfigEncoded>
  /** Registers its handlers under the instance `name`. */
  readonly layer: (
    config: Config,
    options: ConnectorLayerOptions
  ) => Layer.Layer<ROut, E, R | EventBus>
}

/**
 * What a connector's Layer is told about its place in the assembly.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectorLayerOptions {
  /** The instance's name: its key in servo.yaml. */
  readonly name: string
  /** Every event of the assembly. */
  readonly events: Event.Registry
  /** Where the config came from (its file), for errors found when the Layer starts. */
  readonly source: string
}

/**
 * @since 0.1.0
 */
export declare namespace Connector {
  /**
   * @since 0.1.0
   */
  export type Any = Connector<string, any, any, never, any, any>
  /**
   * @since 0.1.0
   */
  export type Services<C> = C extends Connector<any, any, any, infer ROut, any, any> ? ROut : never
  /**
   * @since 0.1.0
   */
  export type Error<C> = C extends Connector<any, any, any, any, infer E, any> ? E : never
  /**
   * @since 0.1.0
   */
  export type Context<C> = C extends Connector<any, any, any, any, any, infer R> ? Exclude<R, EventBus> : never
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const make = <const Name extends string, Config, ConfigEncoded, ROut, E, R>(
  options: {
    readonly name: Name
    readonly description: string
    readonly events?: ReadonlyArray<Event.Event.Any>
    readonly config: (events: Event.Registry) => Schema.Schema<Config, ConfigEncoded>
    readonly layer: (
      config: Config,
      options: ConnectorLayerOptions
    ) => Layer.Layer<ROut, E, R | EventBus>
  }
): Connector<Name, Config, ConfigEncoded, ROut, E, R> => ({ events: [], ...options })
