/**
 * The demo behind `npm start`: a servo with the simulator connector and two webhooks, delivering
 * to a receiver embedded in the same process.
 *
 * - `measurements` (after:measure) is delivered in the background, unsigned, with retries;
 * - `approve_adjustments` (before:adjust) is signed with a fresh whsec_ secret and blocks each
 *   adjustment until the receiver answers. The receiver verifies every signature and cancels the
 *   2nd adjustment; the servo reports it and goes on.
 *
 * The cycles are `servo run`'s own (`ServoRunner.run`), with the CLI's HTTP client and logger.
 * Nothing to set up: no file, no environment variable, a free port.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as HttpClientLive from "../src/cli/internal/httpClient.js"
import * as Runtime from "../src/cli/internal/runtime.js"
import * as ServoRunner from "../src/cli/ServoRunner.js"
import * as Servo from "../src/servo/Servo.js"
import * as Simulator from "../src/servo/Simulator.js"
import * as Receiver from "../src/webhooks/Receiver.js"
import * as Signature from "../src/webhooks/Signature.js"
import * as Webhooks from "../src/webhooks/Webhooks.js"

const cycles = 4
const cancelAdjustment = 2

const assembly = Servo.assembly([Simulator.connector, Webhooks.connector])

const program = Effect.gen(function*() {
  // A fresh secret: the servo signs with it, the receiver verifies with it. Never printed.
  const secret = Signature.generateSecret()
  let adjustments = 0

  const receiver = yield* Receiver.make({
    keys: [Either.getOrThrow(Signature.parseVerificationKey(secret))],
    policy: (request) =>
      request.event === "before:adjust" && ++adjustments === cancelAdjustment
        ? Receiver.cancel("change freeze until the review")
        : Receiver.accept,
    onDelivery: (delivery) =>
      Console.log(
        `  receiver  ${delivery.event} ${delivery.id} ${Receiver.formatSignature(delivery.signature)} → ${
          delivery.decision._tag === "Cancel" ? `cancelled (${delivery.decision.reason})` : delivery.status
        }`
      )
  })

  const config = Servo.decodeConfig(assembly, {
    name: "demo",
    simulator: { seed: 42 },
    webhooks: [
      { name: "measurements", event: "after:measure", target: `${receiver.url}measurements` },
      {
        name: "approve_adjustments",
        event: "before:adjust",
        target: `${receiver.url}approvals`,
        secret,
        request_timeout: "2s",
        backoff: false
      }
    ]
  }, "the demo")
  if (Either.isLeft(config)) return yield* Console.error(config.left.message)

  yield* Console.log("servo-webhooks demo: a servo (simulator + webhooks) and a receiver in one process")
  yield* Console.log(`receiver  ${receiver.url}: verifies signatures, cancels adjustment #${cancelAdjustment}`)
  yield* Console.log(`webhooks  measurements (after:measure, unsigned, retried), approve_adjustments (before:adjust, signed)`)
  yield* Console.log("")

  // Prints each cycle, then (after the webhooks drained) the servo's side of the summary.
  yield* ServoRunner.run({ assembly, config: config.right, cycles })

  const arrived = yield* receiver.stats
  yield* Console.log(
    `receiver: ${arrived.received} deliveries arrived: ${arrived.verified} signed and verified, ${arrived.invalid} invalid, ` +
      `${arrived.unsigned} unsigned; ${arrived.cancelled} cancellation${arrived.cancelled === 1 ? "" : "s"} sent`
  )
})

program.pipe(
  Effect.scoped,
  Effect.catchTag("ReceiverError", "CliError", (error) =>
    Effect.zipRight(Console.error(`error: ${error.message}`), Effect.sync(() => (process.exitCode = 1)))),
  Effect.provide([Runtime.layer, HttpClientLive.layer]),
  NodeRuntime.runMain({ disableErrorReporting: true, disablePrettyLogger: true })
)
