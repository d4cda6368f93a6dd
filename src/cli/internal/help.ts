/**
 * Help, ours rather than @effect/cli's: one line per command for the overviews that `servo`,
 * `servo --help`, `servo webhooks` and `servo webhooks --help` print (the two groups use theirs as
 * their description too), and every other `--help`, rendered from @effect/cli's help document
 * as plain text: the command's full path (`servo webhooks listen`), optional options in brackets,
 * no ANSI styles, no line over 100 columns. (@effect/cli's own help names a subcommand alone,
 * `$ listen`, styles it whatever the output, and does not wrap.) Also: the bash completion script,
 * repaired so that nested commands complete their options.
 */
import type * as Command from "@effect/cli/Command"
import type * as CliConfig from "@effect/cli/CliConfig"
import * as Descriptor from "@effect/cli/CommandDescriptor"
import type * as HelpDoc from "@effect/cli/HelpDoc"
import type * as Span from "@effect/cli/HelpDoc/Span"
import * as Usage from "@effect/cli/Usage"
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
  verify: "Check the signature of a captured request",
  generate: "Write a starting servo.yaml (and servo.schema.json beside it)",
  servoSchema: "Print the JSON Schema of servo.yaml, for editors and linters",
  run: "Run the servo: describe, measure, adjust, N times"
} as const

const webhooksRows = (prefix: string) => [
  [`${prefix}list [--json]`, descriptions.list],
  [`${prefix}schema EVENT`, descriptions.schema],
  [`${prefix}trigger EVENT [NAME|URL]`, descriptions.trigger],
  [`${prefix}validate [--json]`, descriptions.validate],
  [`${prefix}listen [OPTIONS]`, descriptions.listen],
  [`${prefix}keys [--ed25519] [--json]`, descriptions.keys],
  [`${prefix}verify [OPTIONS]`, descriptions.verify]
]

const indent = (text: string) => text.split("\n").map((line) => `  ${line}`).join("\n")

const footer = (name: string) =>
  `Every command takes --help; those that read servo.yaml take --config FILE (default ./servo.yaml).
Also: ${name} --version, ${name} --completions bash|zsh|fish, --log-level LEVEL on any command.`

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

${footer("servo")}`

/** The overview of the webhooks group, mounted in the CLI called `name`. */
export const webhooksOverview = (name = "servo"): string =>
  `${name} webhooks: ${descriptions.webhooks}

USAGE
  ${name} webhooks COMMAND [OPTIONS]

COMMANDS
${indent(table([], webhooksRows("")))}

EVENT is before:NAME or after:NAME, such as after:measure or before:adjust.
${footer(name)}`

// ---------------------------------------------------------------------------------------------
// A command's --help
// ---------------------------------------------------------------------------------------------

/** The widest a help line gets. */
export const width = 100

/**
 * A command and its subcommands, read from @effect/cli's descriptor. Its public API flattens a
 * group's subcommands one level deep and gives no way down, so the descriptor's own structure
 * (`Map`, `Subcommands`, `Standard`) is read here, in this one place.
 */
export interface CommandNode {
  readonly name: string
  readonly descriptor: Descriptor.Command<unknown>
  readonly children: ReadonlyArray<CommandNode>
}

type Internal =
  | { readonly _tag: "Standard" | "GetUserInput"; readonly name: string }
  | { readonly _tag: "Map"; readonly command: Internal }
  | { readonly _tag: "Subcommands"; readonly parent: Internal; readonly children: ReadonlyArray<Internal> }

const nodeOf = (descriptor: Internal): CommandNode => {
  switch (descriptor._tag) {
    case "Map":
      return nodeOf(descriptor.command)
    case "Subcommands": {
      const parent = nodeOf(descriptor.parent)
      return { ...parent, children: descriptor.children.map(nodeOf) }
    }
    default:
      return { name: descriptor.name, descriptor: descriptor as unknown as Descriptor.Command<unknown>, children: [] }
  }
}

/** The tree of `command`. */
export const treeOf = (command: Command.Command<any, any, any, any>): CommandNode =>
  nodeOf(command.descriptor as unknown as Internal)

/**
 * The commands named by `args` (options and their values skipped), from the root: `servo
 * webhooks listen --port 1 --help` → [servo, webhooks, listen].
 */
export const pathOf = (root: CommandNode, args: ReadonlyArray<string>): ReadonlyArray<CommandNode> => {
  const path = [root]
  for (const arg of args) {
    const child = path.at(-1)!.children.find((node) => node.name === arg)
    if (child !== undefined) path.push(child)
  }
  return path
}

const spanText = (span: Span.Span): string => {
  switch (span._tag) {
    case "Text":
    case "URI":
      return span.value
    case "Sequence":
      return spanText(span.left) + spanText(span.right)
    default:
      return spanText(span.value)
  }
}

/** Words that @effect/cli adds to every option of a type: they say nothing the pseudo-name does not. */
const filler = new Set([
  "A user-defined piece of text.",
  "A user-defined piece of text that is confidential.",
  "A file.",
  "A file or directory.",
  "An existing file.",
  "An integer.",
  "A floating point number.",
  "A true or false value.",
  "A directory."
])

interface Entry {
  readonly term: string
  readonly optional: boolean
  readonly repeated: boolean
  readonly text: ReadonlyArray<string>
}

const repeatedNote = /^This option may be repeated (zero|one)/

/** `[--port N]`, `--event NAME`, `[--set PATH=VALUE]...`: optional in brackets, repeatable with `...`. */
const shown = (entry: Entry) => `${entry.optional ? `[${entry.term}]` : entry.term}${entry.repeated ? "..." : ""}`

interface Section {
  readonly title: string
  readonly paragraphs: Array<string>
  readonly entries: Array<Entry>
}

const paragraphsOf = (doc: HelpDoc.HelpDoc): Array<string> => {
  switch (doc._tag) {
    case "Paragraph":
      return [spanText(doc.value)]
    case "Sequence":
      return [...paragraphsOf(doc.left), ...paragraphsOf(doc.right)]
    case "Enumeration":
      return doc.elements.flatMap(paragraphsOf)
    case "Header":
      return [spanText(doc.value)]
    default:
      return []
  }
}

/** `(-c, --config FILE)` → `-c, --config FILE`; `<EVENT>` → `EVENT`. */
const plainTerm = (term: string) => term.replace(/^\((.*)\)$/, "$1").replace(/<([^>]+)>/g, "$1")

const sectionsOf = (doc: HelpDoc.HelpDoc, sections: Array<Section> = []): Array<Section> => {
  switch (doc._tag) {
    case "Header":
      sections.push({ title: spanText(doc.value), paragraphs: [], entries: [] })
      break
    case "Paragraph":
      sections.at(-1)?.paragraphs.push(spanText(doc.value))
      break
    case "DescriptionList":
      for (const [term, description] of doc.definitions) {
        const paragraphs = paragraphsOf(description)
        const repeated = paragraphs.map((p) => repeatedNote.exec(p)?.[1]).find((times) => times !== undefined)
        const optional = repeated === "zero" || paragraphs.some((p) => p.startsWith("This setting is optional."))
        sections.at(-1)?.entries.push({
          term: plainTerm(repeated === undefined ? spanText(term) : spanText(term).replace(/\.\.\.$/, "")),
          optional,
          repeated: repeated !== undefined,
          text: paragraphs.filter((p) => !filler.has(p) && !p.startsWith("This setting is optional.") && !repeatedNote.test(p))
        })
      }
      break
    case "Sequence":
      sectionsOf(doc.left, sections)
      sectionsOf(doc.right, sections)
      break
    case "Enumeration":
      for (const element of doc.elements) sectionsOf(element, sections)
      break
    case "Empty":
      break
  }
  return sections
}

/** `text` broken into lines of at most `columns` characters (a longer word stands alone). */
export const wrap = (text: string, columns: number): Array<string> => {
  const lines: Array<string> = []
  let line = ""
  for (const word of text.split(/\s+/).filter((w) => w !== "")) {
    if (line === "") line = word
    else if (line.length + 1 + word.length <= columns) line += ` ${word}`
    else {
      lines.push(line)
      line = word
    }
  }
  if (line !== "") lines.push(line)
  return lines
}

const termColumn = 30

const entryLines = (entry: Entry): Array<string> => {
  const term = shown(entry)
  const text = wrap(entry.text.join(" "), width - termColumn - 4)
  if (term.length > termColumn) {
    return [`  ${term}`, ...text.map((line) => `${" ".repeat(termColumn + 4)}${line}`)]
  }
  return text.length === 0
    ? [`  ${term}`]
    : text.map((line, i) => `  ${(i === 0 ? term : "").padEnd(termColumn)}  ${line}`)
}

/** The usage line of `node` under its full path, wrapped with a hanging indent. */
const usageLines = (path: ReadonlyArray<CommandNode>, entries: ReadonlyArray<Entry>): Array<string> => {
  const node = path.at(-1)!
  const own = spanText(usageSpan(Usage.getHelp(Descriptor.getUsage(node.descriptor))))
    .replace(/\s+/g, " ")
    .trim()
  const rest = own.startsWith(node.name) ? own.slice(node.name.length) : ` ${own}`
  let usage = `${path.map((n) => n.name).join(" ")}${rest.replace(/\((-\w, --[^)]*)\)/g, "$1").replace(/<([^>]+)>/g, "$1")}`
  // @effect/cli writes a repeated option `--set PATH=VALUE...`, optional or not: ours says which.
  for (const entry of entries.filter((e) => e.repeated)) {
    usage = usage.split(` [${entry.term}...]`).join(` ${shown(entry)}`).split(` ${entry.term}...`).join(` ${shown(entry)}`)
    usage = usage.split(` ${entry.term}`).join(` ${shown(entry)}`).split(`${shown(entry)}...`).join(shown(entry))
  }
  const [first, ...more] = wrapUsage(usage, width - 2)
  return [`  ${first}`, ...more.map((line) => `      ${line}`)]
}

/** The one paragraph of a usage document as a span. */
const usageSpan = (doc: HelpDoc.HelpDoc): Span.Span =>
  doc._tag === "Paragraph" || doc._tag === "Header"
    ? doc.value
    : doc._tag === "Sequence"
    ? { _tag: "Sequence", left: usageSpan(doc.left), right: usageSpan(doc.right) } as unknown as Span.Span
    : { _tag: "Text", value: "" } as unknown as Span.Span

/** Breaks a usage line between its bracketed groups, never inside one. */
const wrapUsage = (usage: string, columns: number): Array<string> => {
  const groups = usage.match(/\[[^\]]*\](?:\.\.\.)?|\S+/g) ?? []
  const lines: Array<string> = []
  let line = ""
  for (const group of groups) {
    const limit = lines.length === 0 ? columns : columns - 4
    if (line === "") line = group
    else if (line.length + 1 + group.length <= limit) line += ` ${group}`
    else {
      lines.push(line)
      line = group
    }
  }
  if (line !== "") lines.push(line)
  return lines
}

/**
 * The `--help` of the command at the end of `path`: usage under its full path, its description,
 * arguments and options (optional ones in brackets), or, for a group, its commands.
 */
export const commandHelp = (path: ReadonlyArray<CommandNode>, config: CliConfig.CliConfig): string => {
  const node = path.at(-1)!
  const sections = sectionsOf(Descriptor.getHelp(node.descriptor, config))
  const out: Array<string> = []
  const name = path.map((n) => n.name).join(" ")
  const description = sections.find((section) => section.title === "DESCRIPTION")
  if (node.children.length > 0) {
    out.push("USAGE", `  ${name} COMMAND [OPTIONS]`, "")
  } else {
    const entries = sections.flatMap((section) => section.title === "OPTIONS" ? section.entries : [])
    out.push("USAGE", ...usageLines(path, entries), "")
  }
  if (description !== undefined && description.paragraphs.length > 0) {
    out.push("DESCRIPTION", ...description.paragraphs.flatMap((p) => wrap(p, width - 2).map((line) => `  ${line}`)), "")
  }
  if (node.children.length > 0) {
    const rows = node.children.map((child) => {
      const text = sectionsOf(Descriptor.getHelp(child.descriptor, config))
        .find((section) => section.title === "DESCRIPTION")?.paragraphs[0] ?? ""
      const sentence = /^[^.;:]*(?:[.;:](?=\s|$)|$)/.exec(text)?.[0]?.replace(/[.;:]$/, "") ?? text
      return [child.name, sentence.length > width - 20 ? `${sentence.slice(0, width - 21)}…` : sentence]
    })
    out.push("COMMANDS", ...table([], rows).split("\n").map((line) => `  ${line}`), "")
    out.push(`Every command takes --help: ${name} COMMAND --help.`)
    return out.join("\n")
  }
  for (const title of ["ARGUMENTS", "OPTIONS"]) {
    const section = sections.find((s) => s.title === title)
    if (section === undefined || section.entries.length === 0) continue
    out.push(title, ...section.entries.flatMap(entryLines), "")
  }
  return out.join("\n").trimEnd()
}

// ---------------------------------------------------------------------------------------------
// Completions
// ---------------------------------------------------------------------------------------------

/**
 * @effect/cli's bash script walks the words into `cmd` as `servo__webhooks` but matches the next
 * word against `servo,webhooks,listen)`, so no command below the first level is ever recognised
 * and `servo webhooks listen --<TAB>` offered the group's words. Each such pattern is rewritten
 * to the form the walk produces: `servo__webhooks,listen)`.
 */
export const repairBashCompletions = (lines: ReadonlyArray<string>): Array<string> =>
  lines.map((line) => {
    const match = /^(\s*)([A-Za-z0-9_-]+(?:,[A-Za-z0-9_-]+){2,})\)$/.exec(line)
    if (match === null) return line
    const words = match[2]!.split(",")
    return `${match[1]}${words.slice(0, -1).join("__")},${words.at(-1)})`
  })
