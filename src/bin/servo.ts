#!/usr/bin/env node
/**
 * The `servo` bin. Static imports stay few on purpose: each command loads what it needs when it
 * runs, so `servo --help` or `servo webhooks list` start about as fast as `effect` itself loads.
 * Signals and exit codes: see `cli/internal/signals.ts`.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as ServoCommand from "../cli/ServoCommand.js"
import * as Runtime from "../cli/internal/runtime.js"
import * as Signals from "../cli/internal/signals.js"

Signals.runMain(ServoCommand.main(process.argv).pipe(Effect.provide(Runtime.layer)))
