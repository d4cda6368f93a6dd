import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { formatIssue, issuesOf } from "../../internal/issues.js"
import type * as EventBus from "../EventBus.js"
import type * as Event from "../Event.js"
import { CancelEventError, EventHandlerError, InvalidEventParameters } from "../EventError.js"

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

/** @internal */
export const make: Effect.Effect<EventBus.Service> = Effect.sync(() => {
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

  const register = (registration: EventBus.Registration) =>
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

  const runOn = (entries: ReadonlyArray<Entry>, event: Event.Event.Any, params: unknown) =>
    // One handler needs no fibers of its own (forking costs more than a small handler).
    (entries.length === 1
      ? Effect.map(
        Effect.either(Effect.suspend(() => entries[0]!.handler({ event, params, connector: entries[0]!.connector }))),
        (outcome) => [outcome]
      )
      : Effect.forEach(
      entries,
      (entry) => Effect.either(entry.handler({ event, params, connector: entry.connector })),
      { concurrency: "unbounded" }
    )).pipe(
      Effect.flatMap((outcomes) => {
        const results: Array<EventBus.EventResult<unknown>> = []
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
    )

  const runAfter = (
    entries: ReadonlyArray<Entry>,
    event: Event.Event.Any,
    params: unknown,
    results: EventBus.EventResults<unknown>
  ) =>
  {
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

  const dispatch = <E extends Event.Event.Any>(event: E, params: Event.Event.Parameters<E>) =>
    Effect.suspend(() => {
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
      )
    }).pipe(
      Effect.withSpan("EventBus.dispatch", { captureStackTrace: false, attributes: { event: event.name } })
    ) as Effect.Effect<EventBus.EventResults<Event.Event.Result<E>>, EventBus.DispatchError>

  return { register, dispatch }
})

/** @internal */
export const layer = (tag: Context.Tag<EventBus.EventBus, EventBus.Service>): Layer.Layer<EventBus.EventBus> =>
  Layer.effect(tag, make)

/** @internal */
export const dispatch = (tag: Context.Tag<EventBus.EventBus, EventBus.Service>) =>
<E extends Event.Event.Any>(event: E, params: Event.Event.Parameters<E>) =>
  Effect.flatMap(tag, (bus) => bus.dispatch(event, params))

/** @internal */
export const connector = (tag: Context.Tag<EventBus.EventBus, EventBus.Service>) => (name: string) =>
  Effect.map(tag, (bus): EventBus.ConnectorHandlers => ({
    name,
    before: (event: Event.Event.Any | "*", handler: EventBus.BeforeHandler<any>) =>
      bus.register({ preposition: "before", connector: name, event, handler }),
    on: (event: Event.Event.Any, handler: EventBus.OnHandler<any, any>) =>
      bus.register({ preposition: "on", connector: name, event, handler }),
    after: (event: Event.Event.Any | "*", handler: EventBus.AfterHandler<any>) =>
      bus.register({ preposition: "after", connector: name, event, handler })
  }))
