#!/usr/bin/env node
/**
 * The `servo` bin. Static imports stay few on purpose: each command loads what it needs when it
 * runs, so `servo --help` or `servo webhooks list` start about as fast as `effect` itself loads.
 *
 * @since 0.1.0
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as ServoCommand from "../cli/ServoCommand.js"
import * as Runtime from "../cli/internal/runtime.js"

// Ctrl-C or SIGTERM is how `run` and `listen` are meant to stop (after the drain): exit 0. Any
// other command stopped that way did not finish its job: 130, so `trigger ... && deploy` stops.
const [command, subcommand] = process.argv.slice(2).filter((arg) => !arg.startsWith("-"))
const stopsOnSignal = command === "run" || (command === "webhooks" && subcommand === "listen")

ServoCommand.main(process.argv).pipe(
  Effect.provide(Runtime.layer),
  NodeRuntime.runMain({
    disableErrorReporting: true,
    disablePrettyLogger: true,
    teardown: (exit, onExit) =>
      onExit(
        Exit.isSuccess(exit)
          ? typeof exit.value === "number" ? exit.value : 0
          : Cause.isInterruptedOnly(exit.cause)
          ? stopsOnSignal ? 0 : 130
          : 1
      )
  })
)
