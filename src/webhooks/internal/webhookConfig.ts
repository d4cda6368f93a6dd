/**
 * Transitional: what `internal/delivery.ts` and `cli/internal/inspect.ts` still import from here.
 * Delete this file once delivery.ts imports `redactedHeaderNames` from `./headerRedaction.js` and
 * inspect.ts reads `WebhookConfig.environmentProxyVariable` (an Effect).
 */
import * as Effect from "effect/Effect"
import * as ProxyEnvironment from "./proxyEnvironment.js"

export { redactedHeaderNames } from "./headerRedaction.js"

/** The proxy variable for `target`, read through the default `ConfigProvider` (the process environment). */
export const environmentProxyVariable = (target: string): string | undefined =>
  Effect.runSync(ProxyEnvironment.environmentProxyVariable(target))
