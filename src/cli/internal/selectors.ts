/** Reading the one event `schema` and `trigger` work on from the command line. */
import * as Either from "effect/Either"
import * as Event from "../../servo/Event.js"
import * as WebhookConfig from "../../webhooks/WebhookConfig.js"
import type * as WireContract from "../../webhooks/WireContract.js"
import type { Assembly } from "./assemblies.js"

export interface OneEvent {
  readonly event: Event.Event.Any
  readonly preposition: WireContract.Preposition
  /** As the user should read it: `after:measure`. */
  readonly selector: string
}

/** One event, before or after, named exactly; or why `input` is not one (a line for the terminal). */
export const oneEvent = (assembly: Assembly, input: string): Either.Either<OneEvent, string> =>
  Either.flatMap(
    Either.mapLeft(WebhookConfig.parseSelector(input, assembly.events), (reason) => `${input}: ${reason}`),
    (selector) =>
      selector.event === "*"
        ? Either.left(
          `${input}: name one event, such as ${selector.preposition}:measure (known events: ${assembly.events.names.join(", ")})`
        )
        : Either.right({
          event: assembly.events.get(selector.event)!,
          preposition: selector.preposition as WireContract.Preposition,
          selector: Event.formatSelector(selector)
        })
  )
