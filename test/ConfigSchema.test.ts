/**
 * servo.yaml's JSON Schema (what `servo schema` prints and editors validate with) against the
 * decoder: ajv compiles it, every config in the README validates, every config the decoder refuses
 * in the tests is refused by the schema too, or the reason the schema cannot say so is named here.
 * Also: a decoded config encodes back to one that decodes to the same config.
 *
 * ajv runs with strict off and without format validation: ajv-formats is not installed, so the
 * `format: uri` of `target` is an annotation only (its `pattern` still applies).
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Ajv } from "ajv"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as fs from "node:fs"
import * as path from "node:path"
import * as YAML from "yaml"
import { assembly as runAssembly } from "../src/cli/internal/assembly.js"
import { assembly } from "../src/cli/internal/configAssembly.js"
import { template } from "../src/cli/internal/template.js"
import * as CoreEvents from "../src/servo/CoreEvents.js"
import * as Servo from "../src/servo/Servo.js"
import * as WebhookConfig from "../src/webhooks/WebhookConfig.js"
import * as Command from "@effect/cli/Command"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Runtime from "../src/cli/internal/runtime.js"
import * as SchemaCommand from "../src/cli/SchemaCommand.js"
import { type Output, recordingConsole, removeTempDirs, tempDir } from "./support/cli.js"
import { hook, type Rejection, rejections, transportRejections } from "./support/webhookRejections.js"

const jsonSchema = Servo.jsonSchema(assembly)
const ajv = new Ajv({ strict: false, validateFormats: false, allErrors: true })
const validate = ajv.compile(jsonSchema)
const valid = (config: unknown) => validate(config) ? "valid" : JSON.stringify(validate.errors?.slice(0, 3))

/** The README's yaml blocks, each made a whole servo.yaml: fragments of a webhook go into one. */
const readmeConfigs = (): ReadonlyArray<readonly [string, unknown]> => {
  const readme = fs.readFileSync(path.join(__dirname, "..", "README.md"), "utf8")
  const blocks = [...readme.matchAll(/```ya?ml\n([\s\S]*?)```/g)].map((match) => match[1]!)
  // A block of comments only (the yaml-language-server line) holds no config.
  return blocks.filter((text) => YAML.parse(text) !== null).map((text, i) => {
    const parsed: unknown = YAML.parse(text)
    const name = `block ${i + 1}: ${text.split("\n")[0]!.trim()}`
    if (Array.isArray(parsed)) return [name, { webhooks: parsed }] as const
    const record = parsed as Record<string, unknown>
    const isWholeFile = Object.keys(record).every((key) => key === "name" || assembly.connectors.some((c) => c.name === key))
    return [name, isWholeFile ? record : { webhooks: [{ event: "after:measure", target: "https://example.com/hook", ...record }] }] as const
  })
}

describe("servo.yaml JSON Schema", () => {
  it("is a JSON Schema with titles, descriptions, enums and examples", () => {
    const text = JSON.stringify(jsonSchema)
    expect(jsonSchema.$schema).toBe("http://json-schema.org/draft-07/schema#")
    expect(text).toContain(`"title":"servo.yaml"`)
    expect(text).toContain(`"enum":["before:*","before:adjust"`)
    expect(text).toContain(`"enum":["ignore","cancel"]`)
    expect(text).toContain(`"examples":["5m","500ms"]`)
    expect(text).toContain("HTTP callbacks before and after events")
    expect(text).not.toContain("/schemas/unknown")
    expect(text).not.toContain("/schemas/any")
  })

  it("accepts every config in the README, as the decoder does", () => {
    const configs = readmeConfigs()
    expect(configs.length).toBeGreaterThanOrEqual(8)
    for (const [name, config] of configs) {
      expect(Either.isRight(Servo.decodeConfig(assembly, config)), name).toBe(true)
      expect(valid(config), name).toBe("valid")
    }
  })

  /** Rules that need code, or compare values, which JSON Schema cannot state. */
  const notExpressible: Record<string, string> = {
    "reports duplicate names at the second one": "names unique across the list: JSON Schema's uniqueItems compares whole items",
    "a header given twice": "header names compared case-insensitively: JSON Schema cannot compare items",
    "a request_timeout of 1 and 400 zeros hours": "duration bounds: the schema sees a duration as text (pattern only)",
    "a request_timeout over an hour": "duration bounds: the schema sees a duration as text (pattern only)",
    "a backoff timeout over a week": "duration bounds: the schema sees a duration as text (pattern only)",
    "a bad CIDR": "the prefix length's bound depends on the address family (32 or 128): the schema checks only the shape"
  }

  const cases: ReadonlyArray<Rejection> = [
    ...rejections,
    ...transportRejections,
    ["reports duplicate names at the second one", [hook({ name: "a" }), hook({ name: "a" })], "", /./],
    ["a section that is not a list", { target: "x" }, "", /./]
  ]

  it.each(cases)("refuses what the decoder refuses: %s", (name, input) => {
    const config = { webhooks: Array.isArray(input) ? input : [input] }
    const fixed = name === "a section that is not a list" ? { webhooks: input } : config
    expect(Either.isLeft(Servo.decodeConfig(assembly, fixed)), "the decoder refuses it").toBe(true)
    if (name in notExpressible) expect(valid(fixed), notExpressible[name]).toBe("valid")
    else expect(valid(fixed)).not.toBe("valid")
  })

  it("accepts what `servo generate` writes, with and without the webhooks section", () => {
    for (const webhooks of [false, true]) {
      const config: unknown = YAML.parse(template({ webhooks }))
      expect(Either.isRight(Servo.decodeConfig(assembly, config))).toBe(true)
      expect(valid(config)).toBe("valid")
    }
  })

  it("is the same for the assembly `servo run` uses (the real webhooks connector), descriptions aside", () => {
    const run = Servo.jsonSchema(runAssembly)
    const withoutDescriptions = (schema: unknown) => JSON.stringify(schema, (key, value) => key === "description" ? undefined : value)
    expect(withoutDescriptions(run)).toBe(withoutDescriptions(jsonSchema))
  })

  it("refuses an unknown connector and a servo name that is not text", () => {
    expect(valid({ prometheus: {} })).not.toBe("valid")
    expect(valid({ name: 7 })).not.toBe("valid")
    expect(valid({ name: " demo" })).not.toBe("valid")
    expect(Either.isLeft(Servo.decodeConfig(assembly, { name: " demo" }))).toBe(true)
    expect(valid({ name: "demo", simulator: { noise: 2 } })).not.toBe("valid")
  })
})

describe("webhooks.outbox", () => {
  const section = (outbox: unknown) => ({ webhooks: { hooks: [hook({})], outbox } })
  const problems = (config: unknown) => {
    const decoded = Servo.decodeConfig(assembly, config)
    return Either.isLeft(decoded) ? decoded.left.issues.map((issue) => `${issue.path}: ${issue.message}`) : []
  }

  it("is in servo.yaml's JSON Schema, annotated: store, path, url, retention, lease", () => {
    const text = JSON.stringify(jsonSchema)
    expect(text).toContain(`"enum":["memory","sqlite","postgres"]`)
    expect(text).toContain("Where after deliveries wait: memory (default), sqlite (durable, one machine) or postgres")
    expect(text).toContain("How long delivered rows are kept for inspection")
    expect(text).toContain("How long a claimed delivery belongs to one worker")
    expect(text).toContain(`"examples":[{"env":"SERVO_OUTBOX_URL"}]`)
  })

  it.each([
    ["sqlite", { store: "sqlite", path: "./servo-outbox.db" }],
    ["sqlite with retention and lease", { store: "sqlite", path: "/var/lib/servo/outbox.db", retention: "30d", lease: "2m" }],
    ["postgres", { store: "postgres", url: { env: "SERVO_OUTBOX_URL" } }],
    ["postgres from a file", { store: "postgres", url: { file: "/run/secrets/outbox_url" }, retention: "36h" }],
    ["memory", { store: "memory" }],
    ["memory by default", {}]
  ] as const)("accepts %s, as the decoder does", (_, outbox) => {
    expect(problems(section(outbox))).toEqual([])
    expect(valid(section(outbox))).toBe("valid")
  })

  it.each([
    ["sqlite without a path", { store: "sqlite" }, ["webhooks.outbox.path: required for store: sqlite"]],
    ["postgres without a url", { store: "postgres" }, ["webhooks.outbox.url: required for store: postgres"]],
    ["a path for postgres", { store: "postgres", url: { env: "U" }, path: "x.db" }, [
      "webhooks.outbox.path: applies to store: sqlite; this store is postgres"
    ]],
    ["a url for sqlite", { store: "sqlite", path: "x.db", url: "postgres://h/db" }, ["webhooks.outbox.url: applies to store: postgres; this store is sqlite"]],
    ["a path for the memory store", { path: "x.db" }, ["webhooks.outbox.path: applies to store: sqlite; this store is memory"]],
    ["an unknown store", { store: "mongo" }, [`webhooks.outbox.store: expected memory, sqlite or postgres, got "mongo"`]],
    ["an unreadable retention", { store: "sqlite", path: "x.db", retention: "a week" }, [
      "webhooks.outbox.retention: expected a duration such as 7d, 36h, 90m or 30s"
    ]],
    ["a lease under a second", { store: "sqlite", path: "x.db", lease: "10ms" }, ["webhooks.outbox.lease: is shorter than 1s, the shortest lease allowed"]],
    ["an unknown key", { store: "sqlite", path: "x.db", table: "t" }, [/^webhooks\.outbox\.table: is unexpected/]]
  ] as const)("refuses %s, at its path", (_, outbox, expected) => {
    const found = problems(section(outbox))
    expect(found).toHaveLength(expected.length)
    expected.forEach((message, i) => typeof message === "string" ? expect(found[i]).toBe(message) : expect(found[i]).toMatch(message))
    // The JSON Schema says so too, but for duration bounds (text to it).
    if (!/lease under|unreadable retention/.test(_)) expect(valid(section(outbox))).not.toBe("valid")
  })

  it("round trips: the decoded section keeps its outbox, and encodes back to the mapping form", () => {
    const schema = WebhookConfig.WebhooksConfig(CoreEvents.registry)
    const decoded = Schema.decodeUnknownSync(schema)({ hooks: [hook({})], outbox: { store: "sqlite", path: "o.db", retention: "1d12h" } })
    expect(WebhookConfig.outboxOf(decoded)).toMatchObject({ store: "sqlite", path: "o.db" })
    const encoded = Schema.encodeSync(schema)(decoded) as { outbox: unknown }
    expect(encoded.outbox).toEqual({ store: "sqlite", path: "o.db", retention: "1d12h", lease: "30s" })
    expect(WebhookConfig.outboxOf(Schema.decodeUnknownSync(schema)([hook({})]))).toEqual({ store: "memory" })
  })
})

describe("webhooks config round trip", () => {
  const schema = WebhookConfig.WebhooksConfig(CoreEvents.registry)
  const decode = Schema.decodeUnknownSync(schema, { errors: "all", onExcessProperty: "error" })
  const encode = Schema.encodeSync(schema)

  it.each([
    ["the README's configs", readmeConfigs().map(([, config]) => (config as { webhooks?: unknown }).webhooks).filter((w) => w !== undefined)],
    ["every field", [[
      {
        name: "all",
        description: "every field set",
        events: ["before:adjust", "after:*"],
        target: "https://example.com/x?team=perf",
        headers: [{ name: "x-plain", value: "p" }, { name: "x-token", value: { env: "TOKEN" }, secret: true }],
        authentication: { basic: { username: "me", password: { file: "/run/secrets/pw" } } },
        secret: ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", { env: "NEXT" }],
        signing_key: { file: "/run/secrets/whsk" },
        tls: { ca: { file: "/ca.pem" }, insecure_skip_verify: false },
        proxy: false,
        http2: true,
        network: { deny_private: true, allow: ["10.0.0.0/8", "fd00::/8"] },
        request_timeout: "1500ms",
        on_failure: "cancel",
        backoff: { retries: 0, timeout: "1h30m" },
        trace_propagation: true
      },
      { event: "after:measure", target: "http://127.0.0.1:8080/", headers: { "x-a": "1", "x-b": { value: "t", secret: true } }, backoff: false },
      { event: "after:measure", target: "http://127.0.0.1:8080/", backoff: true }
    ]]],
    ["the mapping form", [{ network: { deny_private: true }, proxy: { env: "EGRESS" }, hooks: [hook({}), hook({ name: "b", http2: true })] }]]
  ] as const)("%s: encode then decode gives the same config", (_, inputs) => {
    for (const input of inputs as ReadonlyArray<unknown>) {
      const decoded = decode(input)
      const encoded = encode(decoded)
      expect(decode(encoded)).toEqual(decoded)
      // What encoding writes is valid servo.yaml for editors too.
      expect(valid({ webhooks: encoded })).toBe("valid")
    }
  })
})

describe("servo schema", () => {
  afterAll(removeTempDirs)

  /** `schema ...args`, mounted on its own, with a Console that records what it prints. */
  const schema = (...args: ReadonlyArray<string>) => {
    const output: Output = { stdout: [], stderr: [] }
    const cli = Command.run(SchemaCommand.command, { name: "schema", version: "test" })
    return cli(["node", "schema", ...args]).pipe(
      Effect.as(output),
      Effect.provide(Layer.mergeAll(Runtime.PlatformLive, Console.setConsole(recordingConsole(output))))
    )
  }

  it.live("prints the JSON Schema of the bundled assembly's servo.yaml", () =>
    Effect.gen(function*() {
      const output = yield* schema()
      expect(JSON.parse(output.stdout.join("\n"))).toEqual(jsonSchema)
    }))

  it.live("--output FILE writes it, and the modeline points an editor at it", () =>
    Effect.gen(function*() {
      const file = path.join(tempDir(), SchemaCommand.schemaFileName)
      const output = yield* schema("--output", file)
      expect(output.stdout).toEqual([`wrote ${file}`])
      expect(JSON.parse(fs.readFileSync(file, "utf8"))).toEqual(jsonSchema)
      expect(SchemaCommand.modeline()).toBe("# yaml-language-server: $schema=./servo.schema.json")
    }))
})
