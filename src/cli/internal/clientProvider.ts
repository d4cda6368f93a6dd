/**
 * The two ways `trigger` (and `run`) get their HTTP client: from the context (a host provides
 * one), or bundled (the bin: `httpClient.ts`, imported when the command starts).
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Effect from "effect/Effect"
import type { ClientProvider } from "../TriggerCommand.js"

export const clientFromContext: ClientProvider<HttpClient.HttpClient> = (effect) => effect as any

export const bundledClient: ClientProvider<never> = (effect) =>
  Effect.flatMap(Effect.promise(() => import("./httpClient.js")), (module) => Effect.provide(effect, module.layer))
