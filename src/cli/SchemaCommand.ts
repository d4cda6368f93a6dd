/**
 * `servo schema`: prints the JSON Schema of servo.yaml for the assembly in use (every connector's
 * config Schema, the webhooks section included), so editors (yaml-language-server), CI linters
 * and people can check a config without running anything. `--output FILE` writes it instead.
 *
 * ```sh
 * servo schema --output servo.schema.json
 * ```
 *
 * and, as the first line of servo.yaml (`servo generate` writes both):
 *
 * ```yaml
 * # yaml-language-server: $schema=./servo.schema.json
 * ```
 *
 * Rules that need code (a secret file that exists, a signing secret's bytes, names unique across
 * the list) are checked by `servo webhooks validate`, not by the schema.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Connector from "../servo/Connector.js"
import type * as Servo from "../servo/Servo.js"
import { CliError } from "./CliError.js"
import { modeline, schemaFileName } from "./internal/template.js"

export {
  /**
   * The first line of a servo.yaml that points yaml-language-server at its schema, a path
   * relative to the YAML file (`./servo.schema.json`) or a URL.
   *
   * @since 0.1.0
   * @category formatting
   */
  modeline,
  /**
   * The schema file's name beside servo.yaml, as `servo generate` writes it.
   *
   * @since 0.1.0
   * @category constants
   */
  schemaFileName
}

/**
 * The JSON Schema of servo.yaml for an assembly, as the text `servo schema` prints (2-space
 * indented, with a final newline). The config Schemas load here, not when the CLI starts.
 *
 * @since 0.1.0
 * @category formatting
 */
export const render = (assembly: Servo.Assembly<Connector.Connector.Any>): Effect.Effect<string> =>
  Effect.map(Effect.promise(() => import("../servo/Servo.js")), (Servo) => `${JSON.stringify(Servo.jsonSchema(assembly), null, 2)}\n`)

/**
 * Writes the schema to `path`, replacing the file: it is derived from the code, never edited.
 *
 * @since 0.1.0
 * @category writing
 */
export const write = (
  assembly: Servo.Assembly<Connector.Connector.Any>,
  path: string
): Effect.Effect<void, CliError, FileSystem.FileSystem> =>
  Effect.flatMap(Effect.zip(FileSystem.FileSystem, render(assembly)), ([fs, text]) =>
    fs.writeFileString(path, text).pipe(
      Effect.mapError((error) => new CliError({ message: `cannot write ${path}: ${error.message}` }))
    ))

/**
 * The `schema` command for an assembly, loaded when the command runs (so that parsing a command
 * line and printing help never build it).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: {
  readonly assembly: Effect.Effect<Servo.Assembly<Connector.Connector.Any>>
}) =>
  Command.make("schema", {
    output: Options.file("output", { exists: "either" }).pipe(
      Options.withAlias("o"),
      Options.withPseudoName("FILE"),
      Options.withDescription(`Write the schema to FILE (such as ${schemaFileName}) instead of printing it`),
      Options.optional
    )
  }, ({ output }) =>
    Effect.flatMap(options.assembly, (assembly) =>
      Option.match(output, {
        onNone: () => Effect.flatMap(render(assembly), (text) => Console.log(text.trimEnd())),
        onSome: (path) =>
Effect.zipRight(write(assembly, path), Console.log(`wrote ${path}`))
      }))).pipe(
      Command.withDescription(
        `Print the JSON Schema of servo.yaml for these connectors (editors use it through a first line \`${modeline()}\`). --output FILE writes it instead. Needs no config file.`
      )
    )

/**
 * `servo schema` with the bundled connectors (`simulator` and `webhooks`).
 *
 * @since 0.1.0
 * @category commands
 */
export const command = make({
  assembly: Effect.promise(() => import("./internal/configAssembly.js")).pipe(Effect.map((module) => module.assembly))
})
