/**
 * servo-webhooks: a servo core on Effect (events, the event bus, connectors), the webhooks
 * connector that calls HTTP receivers before and after any event, and the `servo` CLI (with a
 * `webhooks` command group any Effect servo CLI can mount).
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export * as CliError from "./cli/CliError.js"
/** @since 0.1.0 */
export * as ConfigError from "./servo/ConfigError.js"
/** @since 0.1.0 */
export * as Connector from "./servo/Connector.js"
/** @since 0.1.0 */
export * as CoreEvents from "./servo/CoreEvents.js"
/** @since 0.1.0 */
export * as Domain from "./servo/Domain.js"
/** @since 0.1.0 */
export * as Event from "./servo/Event.js"
/** @since 0.1.0 */
export * as EventBus from "./servo/EventBus.js"
/** @since 0.1.0 */
export * as EventError from "./servo/EventError.js"
/** @since 0.1.0 */
export * as GoDuration from "./servo/GoDuration.js"
/** @since 0.1.0 */
export * as NetworkPolicy from "./webhooks/NetworkPolicy.js"
/** @since 0.1.0 */
export * as Receiver from "./webhooks/Receiver.js"
/** @since 0.1.0 */
export * as Servo from "./servo/Servo.js"
/** @since 0.1.0 */
export * as ServoCommand from "./cli/ServoCommand.js"
/** @since 0.1.0 */
export * as ServoRunner from "./cli/ServoRunner.js"
/** @since 0.1.0 */
export * as Signature from "./webhooks/Signature.js"
/** @since 0.1.0 */
export * as Simulator from "./servo/Simulator.js"
/** @since 0.1.0 */
export * as Delivery from "./webhooks/Delivery.js"
/** @since 0.1.0 */
export * as WebhookConfig from "./webhooks/WebhookConfig.js"
/** @since 0.1.0 */
export * as Webhooks from "./webhooks/Webhooks.js"
/** @since 0.1.0 */
export * as WebhooksCommand from "./cli/WebhooksCommand.js"
/** @since 0.1.0 */
export * as WireContract from "./webhooks/WireContract.js"
/** @since 0.1.0 */
export * as Transport from "./webhooks/Transport.js"
/** @since 0.1.0 */
export * as UndiciHttpClient from "./webhooks/UndiciHttpClient.js"
/** @since 0.1.0 */
export { version } from "./version.js"
