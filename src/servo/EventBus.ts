/**
 * The event bus: connectors register handlers for events, and `dispatch` runs an event through
 * them: before handlers one at a time in registration order (any may cancel), on handlers
 * concurrently (each returns a result), after handlers with the parameters and every result.
 *
 * ```ts
 * const handlers = yield* EventBus.connector("simulator")
 * yield* handlers.on(CoreEvents.describe, () => Effect.succeed(description))
 * const results = yield* EventBus.dispatch(CoreEvents.describe, {})
 * //    ^? ReadonlyArray<{ connector: string; value: Description }>
 * ```
 *
 * Registrations are scoped: a handler disappears when the scope that registered it closes, which
 * is how a connector's Layer takes its handlers with it. Registering the same handler twice for
 * the same connector and selector keeps one registration.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type * as Event from "./Event.js"
import type { CancelEventError, EventHandlerError, InvalidEventParameters } from "./EventError.js"
import * as internal from "./internal/eventBus.js"

/**
 * @since 0.1.0
 * @category tags
 */
export class EventBus extends Context.Tag("servo-webhooks/EventBus")<EventBus, Service>() {}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /**
   * Adds a handler until the current scope closes.
   */
  readonly register: (registration: Registration) => Effect.Effect<void, never, Scope.Scope>
  /**
   * Runs an event. Fails with `CancelEventError` when a before handler cancels (no on or after
   * handler runs then), `InvalidEventParameters` when `params` do not match the event's Schema,
   * and `EventHandlerError` when an on handler fails. After handlers never fail an event.
   */
  readonly dispatch: <E extends Event.Event.Any>(
    event: E,
    params: Event.Event.Parameters<E>
  ) => Effect.Effect<EventResults<Event.Event.Result<E>>, DispatchError>
}

/**
 * @since 0.1.0
 * @category models
 */
export type DispatchError = CancelEventError | InvalidEventParameters | EventHandlerError

/**
 * One connector's result for an event.
 *
 * @since 0.1.0
 * @category models
 */
export interface EventResult<R> {
  readonly connector: string
  readonly value: R
}

/**
 * Every on handler's result, in registration order.
 *
 * @since 0.1.0
 * @category models
 */
export type EventResults<R> = ReadonlyArray<EventResult<R>>

/**
 * What a before handler sees. `cancel` fails with a `CancelEventError` that already names the
 * event and the connector.
 *
 * @since 0.1.0
 * @category models
 */
export interface BeforeContext<E extends Event.Event.Any> {
  readonly event: E
  readonly params: Event.Event.Parameters<E>
  readonly connector: string
  readonly cancel: (reason: string, options?: { readonly handler?: string }) => Effect.Effect<never, CancelEventError>
}

/**
 * What an on handler sees.
 *
 * @since 0.1.0
 * @category models
 */
export interface OnContext<E extends Event.Event.Any> {
  readonly event: E
  readonly params: Event.Event.Parameters<E>
  readonly connector: string
}

/**
 * What an after handler sees: the parameters and every on handler's result.
 *
 * @since 0.1.0
 * @category models
 */
export interface AfterContext<E extends Event.Event.Any> {
  readonly event: E
  readonly params: Event.Event.Parameters<E>
  readonly results: EventResults<Event.Event.Result<E>>
  readonly connector: string
}

/**
 * @since 0.1.0
 * @category models
 */
export type BeforeHandler<E extends Event.Event.Any> = (context: BeforeContext<E>) => Effect.Effect<void, CancelEventError>

/**
 * An on handler may fail with anything; the failure reaches `dispatch`'s caller inside an
 * `EventHandlerError`. Cancelling from here is a defect: only before handlers may cancel.
 *
 * @since 0.1.0
 * @category models
 */
export type OnHandler<E extends Event.Event.Any, Err = never> = (
  context: OnContext<E>
) => Effect.Effect<Event.Event.Result<E>, Err>

/**
 * An after handler's failure is logged and never fails the event.
 *
 * @since 0.1.0
 * @category models
 */
export type AfterHandler<E extends Event.Event.Any> = (context: AfterContext<E>) => Effect.Effect<void, unknown>

/**
 * One handler attached to one selector. `event: "*"` attaches to every event.
 *
 * @since 0.1.0
 * @category models
 */
export type Registration =
  | {
    readonly preposition: "before"
    readonly connector: string
    readonly event: Event.Event.Any | "*"
    readonly handler: BeforeHandler<any>
  }
  | {
    readonly preposition: "on"
    readonly connector: string
    readonly event: Event.Event.Any
    readonly handler: OnHandler<any, unknown>
  }
  | {
    readonly preposition: "after"
    readonly connector: string
    readonly event: Event.Event.Any | "*"
    readonly handler: AfterHandler<any>
  }

/**
 * Registration helpers bound to one connector's name.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectorHandlers {
  readonly name: string
  readonly before: {
    <E extends Event.Event.Any>(event: E, handler: BeforeHandler<E>): Effect.Effect<void, never, Scope.Scope>
    (event: "*", handler: BeforeHandler<Event.Event.Any>): Effect.Effect<void, never, Scope.Scope>
  }
  readonly on: <E extends Event.Event.Any, Err>(
    event: E,
    handler: OnHandler<E, Err>
  ) => Effect.Effect<void, never, Scope.Scope>
  readonly after: {
    <E extends Event.Event.Any>(event: E, handler: AfterHandler<E>): Effect.Effect<void, never, Scope.Scope>
    (event: "*", handler: AfterHandler<Event.Event.Any>): Effect.Effect<void, never, Scope.Scope>
  }
}

/**
 * A new, empty bus.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Service> = internal.make

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<EventBus> = internal.layer(EventBus)

/**
 * Dispatches an event on the bus in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const dispatch: <E extends Event.Event.Any>(
  event: E,
  params: Event.Event.Parameters<E>
) => Effect.Effect<EventResults<Event.Event.Result<E>>, DispatchError, EventBus> = internal.dispatch(EventBus)

/**
 * Registration helpers for the connector called `name`, on the bus in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const connector: (name: string) => Effect.Effect<ConnectorHandlers, never, EventBus> = internal.connector(
  EventBus
)
