#!/usr/bin/env node
/**
 * The `servo` bin. Static imports stay few on purpose: each command loads what it needs when it
 * runs, so `servo --help` or `servo webhooks list` start about as fast as `effect` itself loads.
 *
 * @since 0.1.0
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Effect from "effect/Effect"
import * as ServoCommand from "../cli/ServoCommand.js"
import * as Runtime from "../cli/internal/runtime.js"

ServoCommand.main(process.argv).pipe(
  Effect.tap((code) => Effect.sync(() => (process.exitCode = code))),
  Effect.provide(Runtime.layer),
  NodeRuntime.runMain({ disableErrorReporting: true, disablePrettyLogger: true })
)
