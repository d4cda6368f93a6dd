/**
 * Runs a servo for a number of optimization cycles, the way `servo run` and the demo do: each
 * cycle dispatches `describe`, `measure`, then `adjust` with a change computed from the
 * measurement (scale the `replicas` setting on latency and errors), and prints what happened,
 * webhook deliveries included.
 *
 * A cancelled event is reported with its reason and the run goes on. When the run ends — done,
 * failed or interrupted (Ctrl-C, SIGTERM under `NodeRuntime.runMain`) — the servo's scope is
 * closed first, so the webhooks connector drains its outbox, then a summary is printed.
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type * as Connector from "../servo/Connector.js"
import type * as Domain from "../servo/Domain.js"
import type * as EventBus from "../servo/EventBus.js"
import type * as Servo from "../servo/Servo.js"
import type * as Webhooks from "../webhooks/Webhooks.js"
import type { CliError } from "./CliError.js"
import * as internal from "./internal/servoRunner.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options<C extends Connector.Connector.Any> {
  readonly assembly: Servo.Assembly<C>
  readonly config: Servo.Config
  readonly cycles: number
}

/**
 * What a finished run did. `webhooks` holds the final counts (after the drain) when the servo
 * has a webhooks connector.
 *
 * @since 0.1.0
 * @category models
 */
export interface Summary {
  readonly cycles: number
  readonly applied: number
  /** `adjust: <reason>` for each cancelled event. */
  readonly cancelled: ReadonlyArray<string>
  readonly webhooks: Option.Option<Webhooks.Stats>
}

/**
 * One cycle's change: a setting of a component, from its current value to the next.
 *
 * @since 0.1.0
 * @category models
 */
export interface Plan {
  readonly component: string
  readonly setting: string
  readonly from: number
  readonly to: number
}

/**
 * The optimization step: the first `replicas` range setting goes up a step when latency passes
 * 100 ms or errors pass 1 %, down a step when latency is under 40 ms without errors, and holds
 * otherwise, within its range. `undefined` when nothing has a `replicas` setting.
 *
 * @since 0.1.0
 * @category planning
 */
export const plan: (
  described: EventBus.EventResults<Domain.Description>,
  measured: EventBus.EventResults<Domain.Measurement>
) => Plan | undefined = internal.plan

/**
 * Starts the servo of `config` (`Servo.layer`), runs the cycles, closes it, prints a summary.
 * Start-up problems (unreadable secrets, ...) and event failures other than cancellations fail
 * with a `CliError`.
 *
 * @since 0.1.0
 * @category running
 */
export const run: <C extends Connector.Connector.Any>(
  options: Options<C>
) => Effect.Effect<Summary, CliError, Connector.Connector.Context<C>> = internal.run

/**
 * The one-line webhook counts printed after each cycle.
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatStats: (stats: Webhooks.Stats) => string = internal.formatStats

/**
 * The webhook counts of the final summary, with abandoned and overflowed deliveries.
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatFinalStats: (stats: Webhooks.Stats) => string = internal.formatFinalStats
