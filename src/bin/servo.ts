#!/usr/bin/env node
/**
 * The `servo` bin. Static imports stay few on purpose: each command loads what it needs when it
 * runs, so `servo --help` or `servo webhooks list` start about as fast as `effect` itself loads.
 * Signals and exit codes: see `cli/internal/signals.ts`.
 *
 * Two things wrap every command: `--log-format` (`cli/internal/logFormat.ts`), and telemetry
 * from the OpenTelemetry variables (`servo/Telemetry.ts`), whose exporters are imported only
 * when a variable switches them on and send their last batch when the command ends.
 *
 * @since 0.1.0
 */
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as ServoCommand from "../cli/ServoCommand.js"
import * as LogFormat from "../cli/internal/logFormat.js"
import * as Runtime from "../cli/internal/runtime.js"
import * as Signals from "../cli/internal/signals.js"
import * as Telemetry from "../servo/Telemetry.js"

const args = LogFormat.extract(process.argv)

Signals.runMain(
  ("error" in args
    ? Effect.as(Console.error(`error: ${args.error}`), 1 as const)
    : ServoCommand.main(args.argv).pipe(
      Effect.provide(Telemetry.layerFromEnv),
      Effect.catchTag("TelemetryError", (error) => Effect.as(Console.error(`error: ${error.message}`), 1 as const)),
      Effect.provide(LogFormat.layer(args.format))
    )).pipe(Effect.provide(Runtime.layer))
)
