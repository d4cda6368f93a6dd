/**
 * The `servo` command: `servo webhooks ...` (see `WebhooksCommand`), `servo generate` and
 * `servo run`, with the bundled connectors (the simulator and webhooks). Built-in options come
 * from @effect/cli: `--help`, `--version`, `--completions sh|bash|fish|zsh`, `--log-level`.
 *
 * `main` is what the bin runs: it prints a failure as one `error: ...` line on stderr (an
 * invalid config as a header and one line per problem), never a stack trace, and returns the
 * exit code.
 *
 * @since 0.1.0
 */
import type * as CliApp from "@effect/cli/CliApp"
import * as CliConfig from "@effect/cli/CliConfig"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type { TelemetrySection } from "../servo/Telemetry.js"
import { version } from "../version.js"
import * as CliError from "./CliError.js"
import type { assemblyWith as bundledAssembly } from "./internal/assembly.js"
import { bundledClient } from "./internal/clientProvider.js"
import * as Help from "./internal/help.js"
import { config } from "./internal/options.js"
import * as Runtime from "./internal/runtime.js"
import * as Signals from "./internal/signals.js"
import { stopsOnSignal } from "./internal/signals.js"
import * as SchemaCommand from "./SchemaCommand.js"
import * as WebhooksCommand from "./WebhooksCommand.js"

// ---------------------------------------------------------------------------------------------
// generate
// ---------------------------------------------------------------------------------------------

interface GenerateOptions {
  readonly config: string
  readonly file: Option.Option<string>
  readonly defaults: Option.Option<"webhooks">
  readonly force: boolean
}

const generate = Effect.fn("ServoCommand.generate")(function*(options: GenerateOptions) {
  const fs = yield* FileSystem.FileSystem
  const path = Option.getOrElse(options.file, () => options.config)
  const webhooks = Option.isSome(options.defaults)
  const [{ schemaFileName, template }, { secretVariable }, { assembly }] = yield* Effect.promise(() =>
    Promise.all([import("./internal/template.js"), import("./internal/keys.js"), import("./internal/configAssembly.js")])
  )
  // `wx` creates the file only if it does not exist: no window between a check and the write.
  yield* fs.writeFileString(path, template({ webhooks }), { flag: options.force ? "w" : "wx" }).pipe(
    Effect.mapError((error) =>
      new CliError.CliError({
        message: error._tag === "SystemError" && error.reason === "AlreadyExists"
          ? `${path} already exists; pass --force to overwrite it`
          : `cannot write ${path}: ${error.message}`
      })
    )
  )
  // The JSON Schema beside it, which the file's first line points editors at; derived from the
  // code, so it is rewritten every time.
  const paths = yield* Path.Path
  const schemaPath = paths.join(paths.dirname(path), schemaFileName)
  yield* SchemaCommand.write(assembly, schemaPath)
  const config = path === "servo.yaml" ? "" : ` --config ${path}`
  yield* Console.log(`wrote ${path} and ${schemaPath}; next:`)
  if (webhooks) {
    // The key comes from servo itself; a hint that relies on a variable being set in this shell
    // would hand `listen` an empty --secret in the next one.
    yield* Console.log(`  servo webhooks keys                       # a whsec_ secret: set ${secretVariable} to it`)
    yield* Console.log(`  servo webhooks listen --secret whsec_...  # in another terminal, with the same secret`)
  }
  yield* Console.log(`  servo webhooks validate${config}`)
  yield* Console.log(`  servo run${config}`)
})

// ---------------------------------------------------------------------------------------------
// run
// ---------------------------------------------------------------------------------------------

const runServo = Effect.fn("ServoCommand.run")(function*(
  assemblyWith: typeof bundledAssembly,
  options: {
    readonly config: string
    readonly cycles: number
    readonly drainTimeout: string
    readonly metricsPort: Option.Option<number>
    readonly metricsHost: string
  }
) {
  if (options.cycles < 1) return yield* CliError.fail("--cycles must be 1 or more")
  const GoDuration = yield* Effect.promise(() => import("../servo/GoDuration.js"))
  const drainTimeout = yield* Either.match(GoDuration.parse(options.drainTimeout), {
    onLeft: (reason) => CliError.fail(`--drain-timeout: ${reason}`),
    onRight: Effect.succeed
  })
  const assembly = assemblyWith({ drainTimeout })
  const { load } = yield* Effect.promise(() => import("./internal/config.js"))
  const { config } = yield* Effect.mapError(load(assembly, options.config), CliError.fromInvalidConfig)
  // Loaded here: no other command needs the runner or the delivery code.
  const ServoRunner = yield* Effect.promise(() => import("./ServoRunner.js"))
  const running = ServoRunner.run({ assembly, config, cycles: options.cycles }).pipe(withTelemetrySection(config))
  if (Option.isNone(options.metricsPort)) return yield* running
  yield* withMetricsEndpoint(running, options.metricsHost, options.metricsPort.value)
})

/** The config's `telemetry:` section applied around the run, unless the environment switched telemetry on. */
const withTelemetrySection = (config: { readonly connectors: ReadonlyArray<{ readonly name: string; readonly config: unknown }> }) =>
<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | CliError.CliError, R> => {
  const section = config.connectors.find((connector) => connector.name === "telemetry")
  if (section === undefined) return effect
  return Effect.flatMap(Effect.promise(() => import("../servo/Telemetry.js")), (Telemetry) =>
    Effect.flatMap(Effect.orElseSucceed(Telemetry.fromEnv, () => undefined), (env) =>
      env !== undefined && Telemetry.isOn(env)
        ? effect
        : Effect.provide(effect, Telemetry.layer(Telemetry.fromSection(section.config as TelemetrySection)))))
}

/** `effect` with the Prometheus endpoint open (its URL printed first) while it runs. */
const withMetricsEndpoint = <A, E, R>(effect: Effect.Effect<A, E, R>, host: string, port: number) =>
  Effect.gen(function*() {
    if (!Number.isInteger(port) || port < 0 || port > 65535) return yield* CliError.fail("--metrics-port must be 0 to 65535")
    const Telemetry = yield* Effect.promise(() => import("../servo/Telemetry.js"))
    const { url } = yield* Effect.mapError(Telemetry.serveMetrics({ host, port }), (error) => new CliError.CliError({ message: error.message }))
    yield* Console.log(`metrics: ${url}`)
    return yield* effect
  }).pipe(Effect.scoped)

// ---------------------------------------------------------------------------------------------
// The command
// ---------------------------------------------------------------------------------------------

const bundled = Effect.promise(() => import("./internal/assembly.js"))

const generateCommand = Command.make("generate", {
  config,
  defaults: Options.choice("defaults", ["webhooks"]).pipe(
    Options.withDescription("Include a commented webhooks section: an after:measure and a signed before:adjust webhook"),
    Options.optional
  ),
  file: Options.file("file", { exists: "either" }).pipe(
    Options.withAlias("f"),
    Options.withPseudoName("FILE"),
    Options.withDescription("The file to write (default: --config, ./servo.yaml)"),
    Options.optional
  ),
  force: Options.boolean("force").pipe(Options.withDescription("Overwrite the file if it exists"))
}, generate).pipe(
  Command.withDescription(
    "Write a starting servo.yaml: a name and the simulator; with --defaults webhooks, also a commented webhooks section (an after:measure webhook and a signed before:adjust webhook, secrets as { env: ... }). Refuses to overwrite a file without --force."
  )
)

const runCommand = Command.make("run", {
  config,
  cycles: Options.integer("cycles").pipe(
    Options.withAlias("n"),
    Options.withPseudoName("N"),
    Options.withDescription("How many optimization cycles (describe, measure, adjust) to run (default: 3)"),
    Options.withDefault(3)
  ),
  drainTimeout: Options.text("drain-timeout").pipe(
    Options.withPseudoName("DURATION"),
    Options.withDescription(
      "How long stopping (the end of the run, Ctrl-C, SIGTERM) waits for pending after-webhook deliveries; what is left then is counted as abandoned (memory outbox) or left pending in the store (sqlite, postgres) (default: 10s)"
    ),
    Options.withDefault("10s")
  ),
  metricsPort: Options.integer("metrics-port").pipe(
    Options.withPseudoName("PORT"),
    Options.withDescription("Serve the metrics as Prometheus text on http://HOST:PORT/metrics while the run lasts (0: a free port)"),
    Options.optional
  ),
  metricsHost: Options.text("metrics-host").pipe(
    Options.withPseudoName("HOST"),
    Options.withDescription("The address the metrics endpoint listens on (default: 127.0.0.1)"),
    Options.withDefault("127.0.0.1")
  )
}, (options) =>
  Effect.zipRight(
    stopsOnSignal,
    bundledClient(Effect.flatMap(bundled, ({ assemblyWith }) => runServo(assemblyWith, options)))
  )).pipe(
  Command.withDescription(
    "Run the servo in the config for N optimization cycles (describe, measure, adjust), printing events and webhook deliveries. A cancelled adjustment is reported and the run goes on. Ctrl-C or SIGTERM stops it once webhook deliveries have drained (--drain-timeout at most)."
  )
)

/**
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make("servo", {}, () => Console.log(Help.overview())).pipe(
  Command.withDescription(Help.descriptions.servo),
  Command.withSubcommands([
    WebhooksCommand.makeWith({ provideClient: bundledClient, overview: true }),
    generateCommand,
    runCommand,
    SchemaCommand.command
  ])
)

/**
 * What a CLI is called and its version, for `--version`, `--help` and the completion scripts.
 *
 * @since 0.1.0
 * @category models
 */
export interface CliOptions {
  readonly name: string
  readonly version: string
}

/** The help that replaces @effect/cli's, or none; `overview` may answer for a path of its own. */
const helpFor = (
  command: Command.Command<any, any, any, any>,
  options: CliOptions,
  args: ReadonlyArray<string>,
  overview: (names: ReadonlyArray<string>) => string | undefined
): string | undefined => {
  if (!args.some((arg) => arg === "--help" || arg === "-h")) return undefined
  const path = Help.pathOf(Help.treeOf(command), args)
  const named = [{ ...path[0]!, name: options.name }, ...path.slice(1)]
  return overview(named.map((node) => node.name)) ?? Help.commandHelp(named, helpConfig)
}

const helpConfig = CliConfig.make({ showBuiltIns: false })

/** The bash script with nested commands' options repaired (see `Help.repairBashCompletions`). */
const bashCompletions = (command: Command.Command<any, any, any, any>, name: string) =>
  Effect.flatMap(Command.getBashCompletions(command, name), (lines) => Console.log(Help.repairBashCompletions(lines).join("\n")))

/**
 * Parses `argv` and runs `command` as the `servo` bin runs its own: our `--help` (full command
 * paths, optional options in brackets, plain text, ≤ 100 columns), repaired bash completions,
 * empty key options refused. Fails as the command does; help, version and parse errors are
 * printed.
 *
 * @since 0.1.0
 * @category running
 */
export const runWith = <Name extends string, R, E, A>(
  command: Command.Command<Name, R, E, A>,
  options: CliOptions,
  // The webhooks group has an overview of its own wherever it is mounted.
  overview: (names: ReadonlyArray<string>) => string | undefined = (names) =>
    names.length === 2 && names[1] === "webhooks" ? Help.webhooksOverview(options.name) : undefined
) =>
(argv: ReadonlyArray<string>): Effect.Effect<void, E | CliError.CliError | ValidationError.ValidationError, R | CliApp.CliApp.Environment> => {
  const args = argv.slice(2)
  const help = helpFor(command, options, args, overview)
  if (help !== undefined) return Console.log(help)
  const completions = args.indexOf("--completions")
  if (completions >= 0 && args[completions + 1] === "bash") return bashCompletions(command, options.name)
  const empty = emptyKeyOption(args)
  if (empty !== undefined) return CliError.fail(`${empty}: is empty; expected ${keyOptions[empty]}`)
  return Command.run(command, { ...options, executable: options.name })(argv).pipe(Effect.provide(cliConfig))
}

/**
 * Parses `argv` (`[node, script, ...args]`, as `process.argv`) and runs the `servo` command.
 * Help, version and parse errors are printed.
 *
 * @since 0.1.0
 * @category running
 */
export const run = (
  argv: ReadonlyArray<string>
): Effect.Effect<void, CliError.CliError | ValidationError.ValidationError, CliApp.CliApp.Environment> =>
  // The overviews of the two command groups are ours (see internal/help.ts).
  runWith(command, { name: "servo", version }, (names) =>
    names.length === 1
      ? Help.overview()
      : names.length === 2 && names[1] === "webhooks"
      ? Help.webhooksOverview("servo")
      : undefined)(argv)

/**
 * The options that take a key, and where to get one. @effect/cli drops the empty value of a
 * repeated option (`listen --secret ""`, or a bare `--secret` at the end), which would start
 * `listen` with signatures unchecked: such an option is refused before parsing.
 */
const keyOptions: Record<string, string> = {
  "--secret": "a secret such as whsec_... (servo webhooks keys prints a fresh one)",
  "--public-key": "a public key such as whpk_... (servo webhooks keys --ed25519 prints a key pair)",
  "--signing-key": "a signing key such as whsk_... (servo webhooks keys --ed25519 prints a key pair)"
}

const emptyKeyOption = (args: ReadonlyArray<string>): string | undefined =>
  args.find((arg, i) => Object.hasOwn(keyOptions, arg) && (args[i + 1] ?? "").trim() === "")

// Built-in options are summed up in the overview instead of repeated in every command's help.
const cliConfig = CliConfig.layer({ showBuiltIns: false })

/** A failure as the terminal should see it: one `error: ...` line; the exit code. */
const reported = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<0 | 1, never, R> =>
  effect.pipe(
    Effect.as(0 as const),
    Effect.catchAllCause((cause) => {
      if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause as Cause.Cause<never>)
      const failure = Cause.failureOption(cause)
      if (failure._tag === "Some") {
        const error = failure.value
        // @effect/cli printed its parse errors already.
        if (ValidationError.isValidationError(error)) return Effect.succeed(1 as const)
        const message = error instanceof CliError.CliError
          ? error.message
          : typeof error === "object" && error !== null && "message" in error
          ? String(error.message)
          : String(error)
        return Effect.as(Console.error(`error: ${message}`), 1 as const)
      }
      const defect = Cause.squash(cause)
      return Effect.as(
        Console.error(`error: unexpected: ${defect instanceof Error ? defect.message : String(defect)}`),
        1 as const
      )
    })
  )

/**
 * `run`, with failures printed on stderr as `error: <message>` (parse errors were printed by
 * @effect/cli already); succeeds with the exit code: 0, or 1 after a failure. Interruption is
 * not a failure: it passes through.
 *
 * @since 0.1.0
 * @category running
 */
export const main = (argv: ReadonlyArray<string>): Effect.Effect<0 | 1, never, CliApp.CliApp.Environment> =>
  reported(run(argv))

/**
 * Runs `command` as the `servo` bin runs: the same help (see `runWith`), errors as one
 * `error: ...` line and exit code 1, and signals handled as the bin handles them (`listen` and
 * `run` stop with 0, anything else a signal cuts short exits 130, a third signal quits at
 * once). For a CLI that mounts `WebhooksCommand`: `layer` provides what the commands need
 * (`NodeContext.layer` and an `HttpClient`); the logger and the Console (no ANSI styles when
 * the output is not a terminal or NO_COLOR is set) are the bin's. Exits the process when done.
 *
 * @since 0.1.0
 * @category running
 */
export const runMain = <Name extends string, R, E, A>(
  command: Command.Command<Name, R, E, A>,
  options: CliOptions & {
    readonly layer: Layer.Layer<NoInfer<R> | CliApp.CliApp.Environment>
    /** Default: `process.argv`. */
    readonly argv?: ReadonlyArray<string>
  }
): void =>
  Signals.runMain(
    reported(runWith(command, options)(options.argv ?? process.argv)).pipe(
      Effect.provide(Layer.mergeAll(options.layer, Runtime.LoggerLive, Runtime.ConsoleLive))
    )
  )
