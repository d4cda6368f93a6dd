/**
 * The assembly the commands read servo.yaml with, obtained when a command runs: parsing a command
 * line and printing help never load connectors or config Schemas.
 */
import * as Effect from "effect/Effect"
import type * as Connector from "../../servo/Connector.js"
import type * as Servo from "../../servo/Servo.js"

export type Assembly = Servo.Assembly<Connector.Connector.Any>

export type AssemblyLoader = Effect.Effect<Assembly>

/** The bundled simulator and webhooks connectors, configs only (see `configAssembly.ts`). */
export const configOnlyAssembly: AssemblyLoader = Effect.promise(() => import("./configAssembly.js")).pipe(
  Effect.map((module) => module.assembly)
)
