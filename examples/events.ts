import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { CoreEvents, EventBus, Simulator } from "servo-webhooks"

// A connector of our own: a before handler that refuses to scale past 5 replicas.
const Guard = Layer.scopedDiscard(Effect.gen(function*() {
  const handlers = yield* EventBus.connector("guard")
  yield* handlers.before(CoreEvents.adjust, ({ cancel, params }) =>
    params.adjustments.some((a) => a.setting === "replicas" && Number(a.value) > 5)
      ? cancel("at most 5 replicas")
      : Effect.void)
}))

const program = Effect.gen(function*() {
  const described = yield* EventBus.dispatch(CoreEvents.adjust, {
    adjustments: [{ component: "web", setting: "replicas", value: 4 }]
  })
  console.log(`${described[0]!.connector} now runs`, described[0]!.value.components[0]!.settings[2]!.value, "replicas")

  const refused = yield* EventBus.dispatch(CoreEvents.adjust, {
    adjustments: [{ component: "web", setting: "replicas", value: 9 }]
  }).pipe(Effect.flip)
  console.log(refused._tag, "-", refused.message)
})

program.pipe(
  Effect.provide(Layer.mergeAll(Guard, Simulator.layer({ seed: 1, noise: 0, demand: 1000 })).pipe(
    Layer.provideMerge(EventBus.layer)
  )),
  Effect.runPromise
)
