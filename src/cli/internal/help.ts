/**
 * One line per command for the overviews that `servo`, `servo --help`, `servo webhooks` and
 * `servo webhooks --help` print; the two groups use theirs as their description too, and each
 * command keeps a longer one of its own for its `--help`. (@effect/cli's own help of a command
 * group lists every nested usage line in one table, too wide to read; a command's own `--help`
 * is still @effect/cli's.)
 */
import { version } from "../../version.js"
import { table } from "./format.js"

export const descriptions = {
  servo: "an optimization servo with webhooks before and after its events",
  webhooks: "inspect, test and receive the servo's webhooks",
  list: "List the webhooks in the config, never their secrets",
  schema: "Print the JSON Schema of EVENT's request body",
  trigger: "Send EVENT's example payload; print each outcome",
  validate: "Check the config, secrets included",
  listen: "Run a local receiver that prints each delivery",
  keys: "Print a fresh signing secret, or an Ed25519 key pair",
  worker: "Deliver from the durable outbox: workers only, no events",
  deliveries: "List, show, resend or purge deliveries in the outbox",
  generate: "Write a starting servo.yaml (and servo.schema.json beside it)",
  servoSchema: "Print the JSON Schema of servo.yaml, for editors and linters",
  run: "Run the servo: describe, measure, adjust, N times"
} as const

const webhooksRows = (prefix: string) => [
  [`${prefix}list [--json]`, descriptions.list],
  [`${prefix}schema EVENT`, descriptions.schema],
  [`${prefix}trigger EVENT [NAME|URL]`, descriptions.trigger],
  [`${prefix}validate`, descriptions.validate],
  [`${prefix}listen [OPTIONS]`, descriptions.listen],
  [`${prefix}keys [--ed25519]`, descriptions.keys],
  [`${prefix}worker [--until-idle]`, descriptions.worker],
  [`${prefix}deliveries COMMAND`, descriptions.deliveries]
]

const indent = (text: string) => text.split("\n").map((line) => `  ${line}`).join("\n")

const footer = `Every command takes --help, and all but keys take --config FILE (default ./servo.yaml).
Also: servo --version, servo --completions bash|zsh|fish, --log-level LEVEL on any command.`

export const overview = (): string =>
  `servo ${version}: ${descriptions.servo}

USAGE
  servo COMMAND [OPTIONS]

COMMANDS
${
    indent(table([], [
      ...webhooksRows("webhooks "),
      ["generate [--defaults webhooks]", descriptions.generate],
      ["run [--cycles N]", descriptions.run],
      ["schema [--output FILE]", descriptions.servoSchema]
    ]))
  }

EXAMPLES
  servo generate --defaults webhooks        a servo.yaml with two example webhooks
  servo webhooks listen                     a receiver on http://127.0.0.1:8787/
  servo webhooks trigger after:measure      send an example delivery to the webhooks
  servo run --cycles 5                      run the servo; Ctrl-C drains webhooks, then stops

${footer}`

export const webhooksOverview = (): string =>
  `servo webhooks: ${descriptions.webhooks}

USAGE
  servo webhooks COMMAND [OPTIONS]

COMMANDS
${indent(table([], webhooksRows("")))}

EVENT is before:NAME or after:NAME, such as after:measure or before:adjust.
${footer}`
