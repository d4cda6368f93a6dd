/**
 * Reading servo.yaml for the commands: the webhooks picked out of it, one webhook's secrets
 * resolved, and the assembly the `webhooks` commands read it with. Failures are `InvalidConfig`;
 * the commands word them for the terminal.
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import type { InvalidConfig } from "../../servo/ConfigError.js"
import type * as Connector from "../../servo/Connector.js"
import * as Servo from "../../servo/Servo.js"
import * as WebhookConfig from "../../webhooks/WebhookConfig.js"

/** The key of the webhooks connector's section. */
export const section = "webhooks"

export type Assembly = Servo.Assembly<Connector.Connector.Any>

/**
 * The assembly the commands read servo.yaml with, obtained when a command runs (so parsing a
 * command line and printing help never load it).
 */
export type AssemblyLoader = Effect.Effect<Assembly>

/** The bundled simulator and webhooks connectors, configs only (see `configAssembly.ts`). */
export const configOnlyAssembly: AssemblyLoader = Effect.promise(() => import("./configAssembly.js")).pipe(
  Effect.map((module) => module.assembly)
)

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
