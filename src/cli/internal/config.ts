/**
 * Reading servo.yaml for the commands: the webhooks picked out of it, one webhook's secrets
 * resolved. Failures are `InvalidConfig`; the commands word them for the terminal. Loaded when a
 * command runs.
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import type { InvalidConfig } from "../../servo/ConfigError.js"
import * as Servo from "../../servo/Servo.js"
import * as WebhookConfig from "../../webhooks/WebhookConfig.js"
import type { Assembly } from "./assemblies.js"

/** The key of the webhooks connector's section. */
export const section = "webhooks"

export interface Loaded {
  readonly path: string
  readonly config: Servo.Config
  /** The `webhooks:` list, in file order (empty when the section is absent). */
  readonly webhooks: ReadonlyArray<WebhookConfig.WebhookConfig>
}

export const webhooksOf = (config: Servo.Config): ReadonlyArray<WebhookConfig.WebhookConfig> =>
  (config.connectors.find((connector) => connector.name === section)?.config as
    | ReadonlyArray<WebhookConfig.WebhookConfig>
    | undefined) ?? []

export const load = (assembly: Assembly, path: string): Effect.Effect<Loaded, InvalidConfig, FileSystem.FileSystem> =>
  Servo.loadConfig(assembly, path).pipe(Effect.map((config) => ({ path, config, webhooks: webhooksOf(config) })))

/**
 * Resolves the secrets of one webhook, its problems named by its place in the file
 * (`webhooks[3].secret`, `webhooks.hooks[3].secret` in the mapping form), so that a missing
 * variable elsewhere does not get in the way. `index` places a webhook whose config does not say
 * where it sits (the list form).
 */
export const resolveAt = (
  config: WebhookConfig.WebhookConfig,
  index: number,
  source: string
): Effect.Effect<WebhookConfig.Webhook, InvalidConfig> =>
  WebhookConfig.resolve([{ ...config, path: config.path ?? [index] }], { section, source }).pipe(
    Effect.map((resolved) => resolved[0]!)
  )
