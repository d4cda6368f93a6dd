/** What `servo webhooks listen` does; loaded on demand by `webhooksCommand.ts`. */
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as Event from "../../servo/Event.js"
import * as Receiver from "../../webhooks/Receiver.js"
import * as Signature from "../../webhooks/Signature.js"
import * as WebhookConfig from "../../webhooks/WebhookConfig.js"
import { CliError } from "../CliError.js"
import { type Assembly, failWith } from "./config.js"
import * as Format from "./format.js"

export interface ListenOptions {
  readonly port: number
  readonly host: string
  readonly secret: Option.Option<Redacted.Redacted<string>>
  readonly cancel: Option.Option<string>
  readonly events: Option.Option<ReadonlyArray<string>>
}

/** Runs until interrupted; the receiver stops, and a summary is printed, when the scope closes. */
export const listen = Effect.fn("WebhooksCommand.listen")(function*(assembly: Assembly, options: ListenOptions) {
  const keys = Option.isNone(options.secret) ? [] : [
    yield* Either.match(Signature.parseVerificationKey(options.secret.value), {
      onLeft: (error) => failWith(`--secret: ${error.message}`),
      onRight: Effect.succeed
    })
  ]
  const inputs = Option.getOrElse(options.events, (): ReadonlyArray<string> => [])
    .flatMap((input) => input.split(","))
    .map((input) => input.trim())
    .filter((input) => input !== "")
  if (inputs.length > 0 && Option.isNone(options.cancel)) {
    return yield* failWith("--events chooses which events --cancel answers; give --cancel REASON too")
  }
  const selectors = yield* Effect.forEach(inputs.length === 0 ? ["before:*"] : inputs, (input) =>
    Either.match(WebhookConfig.parseSelector(input, assembly.events), {
      onLeft: (reason) => failWith(`--events ${input}: ${reason}`),
      onRight: Effect.succeed
    }))
  const cancelling = (event: string) => {
    const [preposition, name] = event.split(":") as [string, string | undefined]
    return name !== undefined &&
      selectors.some((selector) => Event.matches(selector, preposition as Event.Preposition, name))
  }
  const reason = options.cancel
  const receiver = yield* Receiver.make({
    port: options.port,
    host: options.host,
    keys,
    policy: (request) =>
      Option.isSome(reason) && cancelling(request.event) ? Receiver.cancel(reason.value) : Receiver.accept,
    onDelivery: (delivery) => Console.log(Receiver.formatDelivery(delivery))
  }).pipe(Effect.mapError((error) => new CliError({ message: error.message })))

  yield* Console.log(`listening on ${receiver.url} (Ctrl-C to stop)`)
  yield* Console.log(
    `  signatures: ${keys.length > 0 ? "verified with --secret" : "not checked (no --secret)"}`
  )
  yield* Console.log(
    `  answers:    ${
      Option.isSome(reason)
        ? `cancels ${selectors.map(Event.formatSelector).join(", ")} with ${JSON.stringify(reason.value)}, 204 otherwise`
        : "204 to every delivery"
    }`
  )
  yield* Effect.addFinalizer(() =>
    Effect.flatMap(receiver.stats, (stats) =>
      Console.log(
        `stopped: ${Format.count(stats.received, "delivery", "deliveries")} received ` +
          `(${stats.verified} verified, ${stats.invalid} invalid, ${stats.unsigned} unsigned, ${stats.unchecked} unchecked), ` +
          `${stats.cancelled} cancelled`
      ))
  )
  return yield* Effect.never
})
