/**
 * A new user's program, compiled strictly against the packed tarball: composes Webhooks.layer
 * with a receiver of its own, delivers one after:measure, then mounts WebhooksCommand in a CLI of
 * its own and runs `webhooks list`. Prints one line per check; exits non-zero on any failure.
 */
import * as Command from "@effect/cli/Command"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import {
  CoreEvents,
  EventBus,
  Receiver,
  Servo,
  Simulator,
  UndiciHttpClient,
  WebhookConfig,
  Webhooks,
  WebhooksCommand
} from "servo-webhooks"

const delivered = Effect.scoped(Effect.gen(function*() {
  const arrived = yield* Deferred.make<Receiver.Delivery>()
  const receiver = yield* Receiver.make({ port: 0, onDelivery: (delivery) => Deferred.succeed(arrived, delivery) })
  const configs = Schema.decodeUnknownSync(WebhookConfig.WebhooksConfig(CoreEvents.registry))([
    { name: "measurements", event: "after:measure", target: `${receiver.url}hooks` }
  ])
  yield* EventBus.dispatch(CoreEvents.measure, { metrics: ["throughput"] }).pipe(
    Effect.zipRight(Deferred.await(arrived)),
    Effect.tap((delivery) => Effect.sync(() => console.log(`delivered ${delivery.event} to ${delivery.path}`))),
    Effect.provide(
      Layer.mergeAll(Webhooks.layer(configs), Simulator.layer({ seed: 1, noise: 0, demand: 1000 })).pipe(
        Layer.provideMerge(EventBus.layer),
        Layer.provide(UndiciHttpClient.layer)
      )
    )
  )
}))

const mounted = Effect.gen(function*() {
  const config = join(tmpdir(), `consumer-${process.pid}.yaml`)
  writeFileSync(config, "webhooks:\n  - name: audit\n    event: after:adjust\n    target: http://127.0.0.1:9/audit\n")
  const assembly = Servo.assembly([Simulator.connector, Webhooks.connector])
  const cli = Command.make("my-servo").pipe(
    Command.withSubcommands([WebhooksCommand.make({ assembly })]),
    Command.run({ name: "my-servo", version: "1.0.0" })
  )
  yield* cli(["node", "my-servo", "webhooks", "list", "--config", config])
})

Effect.runPromise(
  delivered.pipe(
    Effect.zipRight(mounted),
    Effect.provide(Layer.mergeAll(NodeContext.layer, UndiciHttpClient.layer)),
    Effect.timeout("30 seconds")
  )
).then(
  () => console.log("consumer: ok"),
  (error) => {
    console.error("consumer: FAILED", error)
    process.exitCode = 1
  }
)
