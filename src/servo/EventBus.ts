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
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { formatIssue, issuesOf } from "../internal/issues.js"
import type * as Event from "./Event.js"
import { CancelEventError, EventHandlerError, InvalidEventParameters } from "./EventError.js"
import { tracingExported } from "./internal/tracing.js"

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

// ---------------------------------------------------------------------------------------------
// Dispatching
// ---------------------------------------------------------------------------------------------

/** A registration as the bus keeps it. `refs` counts scopes that registered the same handler. */
interface Entry {
  readonly seq: number
  readonly preposition: Event.Preposition
  readonly connector: string
  readonly event: string
  readonly handler: (context: any) => Effect.Effect<any, any>
  refs: number
}

interface Handlers {
  readonly before: ReadonlyArray<Entry>
  readonly on: ReadonlyArray<Entry>
  readonly after: ReadonlyArray<Entry>
}

const noHandlers: Handlers = { before: [], on: [], after: [] }

// Validators are compiled once per parameters Schema, not once per dispatch.
const validators = new WeakMap<Schema.Schema.Any, (u: unknown) => Either.Either<unknown, any>>()
const validatorFor = (schema: Schema.Schema.Any) => {
  let validate = validators.get(schema)
  if (validate === undefined) {
    validate = Schema.validateEither(schema as Schema.Schema<unknown>, { errors: "all" })
    validators.set(schema, validate)
  }
  return validate
}

const isCancel = (u: unknown): u is CancelEventError => u instanceof CancelEventError

const cancelledOutsideBefore = (entry: Entry, event: string, error: CancelEventError) =>
  Effect.dieMessage(
    `${entry.connector} tried to cancel ${event} from an ${entry.preposition} handler ` +
      `(reason: ${error.reason}); only before handlers may cancel an event`
  )

/** Before handlers one at a time, in registration order; the first cancellation stops the rest. */
const runBefore = (entries: ReadonlyArray<Entry>, event: Event.Event.Any, params: unknown) =>
  Effect.forEach(entries, (entry) =>
    entry.handler({
      event,
      params,
      connector: entry.connector,
      cancel: (reason: string, options?: { readonly handler?: string }) =>
        Effect.fail(
          new CancelEventError({
            reason,
            event: event.name,
            connector: entry.connector,
            ...(options?.handler === undefined ? {} : { handler: options.handler })
          })
        )
    }), { discard: true })

/** On handlers concurrently; the results in registration order, or the first failure. */
const runOn = (entries: ReadonlyArray<Entry>, event: Event.Event.Any, params: unknown) => {
  const run = (entry: Entry) => Effect.either(entry.handler({ event, params, connector: entry.connector }))
  // One handler needs no fibers of its own (forking costs more than a small handler).
  const outcomes = entries.length === 1
    ? Effect.map(Effect.suspend(() => run(entries[0]!)), (outcome) => [outcome])
    : Effect.forEach(entries, run, { concurrency: "unbounded" })
  return Effect.flatMap(outcomes, (outcomes) => {
    const results: Array<EventResult<unknown>> = []
    for (let i = 0; i < outcomes.length; i++) {
      const outcome = outcomes[i]!
      const entry = entries[i]!
      if (Either.isLeft(outcome)) {
        const error = outcome.left
        return isCancel(error)
          ? cancelledOutsideBefore(entry, event.name, error)
          : Effect.fail(new EventHandlerError({ event: event.name, connector: entry.connector, error }))
      }
      results.push({ connector: entry.connector, value: outcome.right })
    }
    return Effect.succeed(results)
  })
}

/** After handlers concurrently; a failure is logged, never the event's. */
const runAfter = (
  entries: ReadonlyArray<Entry>,
  event: Event.Event.Any,
  params: unknown,
  results: EventResults<unknown>
) => {
  const run = (entry: Entry) =>
    entry.handler({ event, params, results, connector: entry.connector }).pipe(
      Effect.catchAll((error) =>
        isCancel(error)
          ? cancelledOutsideBefore(entry, event.name, error)
          : Effect.logWarning(`after handler of ${entry.connector} for ${event.name} failed`, error).pipe(
            Effect.annotateLogs({ connector: entry.connector, event: `after:${event.name}` })
          )
      )
    )
  return entries.length === 1 ? run(entries[0]!) : Effect.forEach(entries, run, { concurrency: "unbounded", discard: true })
}

// ---------------------------------------------------------------------------------------------
// The bus
// ---------------------------------------------------------------------------------------------

/**
 * A new, empty bus.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Service> = Effect.sync(() => {
  const entries: Array<Entry> = []
  // Handlers per event name, wildcards merged in registration order; rebuilt after any change.
  const byEvent = new Map<string, Handlers>()
  let seq = 0

  const handlersFor = (event: string): Handlers => {
    let handlers = byEvent.get(event)
    if (handlers === undefined) {
      const matching = entries.filter((entry) => entry.event === event || entry.event === "*")
      handlers = matching.length === 0 ? noHandlers : {
        before: matching.filter((entry) => entry.preposition === "before"),
        on: matching.filter((entry) => entry.preposition === "on"),
        after: matching.filter((entry) => entry.preposition === "after")
      }
      byEvent.set(event, handlers)
    }
    return handlers
  }

  const register = (registration: Registration) =>
    Effect.acquireRelease(
      Effect.sync(() => {
        const event = registration.event === "*" ? "*" : registration.event.name
        const existing = entries.find((entry) =>
          entry.handler === registration.handler && entry.connector === registration.connector &&
          entry.preposition === registration.preposition && entry.event === event
        )
        if (existing !== undefined) {
          existing.refs++
          return existing
        }
        const entry: Entry = {
          seq: seq++,
          preposition: registration.preposition,
          connector: registration.connector,
          event,
          handler: registration.handler,
          refs: 1
        }
        entries.push(entry)
        byEvent.clear()
        return entry
      }),
      (entry) =>
        Effect.sync(() => {
          if (--entry.refs > 0) return
          entries.splice(entries.indexOf(entry), 1)
          byEvent.clear()
        })
    ).pipe(Effect.asVoid)

  const dispatch = <E extends Event.Event.Any>(event: E, params: Event.Event.Parameters<E>) => {
    const run = Effect.suspend((): Effect.Effect<EventResults<Event.Event.Result<E>>, DispatchError> => {
      const validation = validatorFor(event.parameters)(params)
      if (Either.isLeft(validation)) {
        return Effect.fail(
          new InvalidEventParameters({ event: event.name, issues: issuesOf(validation.left).map(formatIssue) })
        )
      }
      const handlers = handlersFor(event.name)
      const before = handlers.before.length === 0 ? Effect.void : runBefore(handlers.before, event, params)
      return before.pipe(
        Effect.zipRight(runOn(handlers.on, event, params)),
        Effect.tap((results) =>
          handlers.after.length === 0 ? Effect.void : runAfter(handlers.after, event, params, results)
        )
      ) as Effect.Effect<EventResults<Event.Event.Result<E>>, DispatchError>
    })
    // A span only when a tracer exports it: with nothing exporting, the span was most of a
    // dispatch's cost (11.5 of 14 µs on the bench).
    return Effect.withFiberRuntime<EventResults<Event.Event.Result<E>>, DispatchError>((fiber) =>
      tracingExported(fiber)
        ? Effect.withSpan(run, "EventBus.dispatch", { captureStackTrace: false, attributes: { event: event.name } })
        : run
    )
  }

  return { register, dispatch }
})

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<EventBus> = Layer.effect(EventBus, make)

/**
 * Dispatches an event on the bus in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const dispatch = <E extends Event.Event.Any>(
  event: E,
  params: Event.Event.Parameters<E>
): Effect.Effect<EventResults<Event.Event.Result<E>>, DispatchError, EventBus> =>
  Effect.flatMap(EventBus, (bus) => bus.dispatch(event, params))

/**
 * Registration helpers for the connector called `name`, on the bus in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const connector = (name: string): Effect.Effect<ConnectorHandlers, never, EventBus> =>
  Effect.map(EventBus, (bus): ConnectorHandlers => ({
    name,
    before: (event: Event.Event.Any | "*", handler: BeforeHandler<any>) =>
      bus.register({ preposition: "before", connector: name, event, handler }),
    on: (event: Event.Event.Any, handler: OnHandler<any, any>) =>
      bus.register({ preposition: "on", connector: name, event, handler }),
    after: (event: Event.Event.Any | "*", handler: AfterHandler<any>) =>
      bus.register({ preposition: "after", connector: name, event, handler })
  }))
