/**
 * The main job: a servo with the simulator connector, run for a few optimization cycles.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Console from "effect/Console"
import * as CoreEvents from "../src/servo/CoreEvents.js"
import * as EventBus from "../src/servo/EventBus.js"
import * as Servo from "../src/servo/Servo.js"
import * as Simulator from "../src/servo/Simulator.js"

const assembly = Servo.assembly([Simulator.connector])
const config = Either.getOrThrow(Servo.parseConfig(assembly, "name: demo\nsimulator: { seed: 42 }\n", "demo"))

const cycle = (k: number) =>
  Effect.gen(function*() {
    const measured = yield* EventBus.dispatch(CoreEvents.measure, {})
    const readings = measured.flatMap((result) => result.value.readings as ReadonlyArray<{ metric: { name: string }; value: number }>)
    const replicas = 2 + k
    yield* EventBus.dispatch(CoreEvents.adjust, { adjustments: [{ component: "web", setting: "replicas", value: replicas }] })
    yield* Console.log(
      `cycle ${k}/3  ${readings.map((r) => `${r.metric.name}=${r.value}`).join("  ")}  → replicas=${replicas}`
    )
  })

Effect.forEach([1, 2, 3], cycle).pipe(
  Effect.provide(Servo.layer(assembly, config)),
  Effect.runPromise
)
