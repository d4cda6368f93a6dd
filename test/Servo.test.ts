import { NodeFileSystem } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Connector from "../src/servo/Connector.js"
import * as CoreEvents from "../src/servo/CoreEvents.js"
import * as Event from "../src/servo/Event.js"
import * as EventBus from "../src/servo/EventBus.js"
import * as Servo from "../src/servo/Servo.js"
import * as Simulator from "../src/servo/Simulator.js"

// A connector that names its instance in every description, to see who answered and in what order.
const echo = Connector.make({
  name: "echo",
  description: "answers describe with its own name",
  events: [Event.make({ name: "ping", description: "", parameters: Event.NoParameters, result: Event.NoResult })],
  config: (events) =>
    Schema.Struct({
      listen: Schema.optional(Schema.String.pipe(Schema.filter((s) =>
        Either.isRight(Event.parseSelector(s, events)) || `expected a known event selector, got ${s}`
      )))
    }),
  layer: (_, { name }) =>
    Layer.scopedDiscard(Effect.gen(function*() {
      const handlers = yield* EventBus.connector(name)
      yield* handlers.on(CoreEvents.describe, () => Effect.succeed({ components: [{ name, settings: [] }], metrics: [] }))
    }))
})

const assembly = Servo.assembly([Simulator.connector, echo])

describe("servo.yaml", () => {
  it("decodes connectors in file order, with defaults", () => {
    const config = Either.getOrThrow(Servo.parseConfig(assembly, "name: demo\necho: {}\nsimulator: {}\n"))
    expect(config.name).toBe("demo")
    expect(config.connectors.map((c) => c.name)).toEqual(["echo", "simulator"])
    expect(config.connectors[1]!.config).toEqual({ seed: 1, noise: 0.05, demand: 1000 })
  })

  it("defaults the servo's name and accepts an empty file", () => {
    const config = Either.getOrThrow(Servo.parseConfig(assembly, ""))
    expect(config).toEqual({ name: "servo", source: "servo.yaml", connectors: [] })
  })

  it("reports every problem at once, each with its path", () => {
    const result = Servo.parseConfig(
      assembly,
      ["simulator:", "  seed: 1.5", "  noise: 2", "  colour: blue", "prometheus: {}", "echo:", "  listen: before:MEASURE"].join("\n"),
      "bad.yaml"
    )
    const error = Either.getLeft(result).pipe((o) => o._tag === "Some" ? o.value : undefined)!
    expect(error._tag).toBe("InvalidConfig")
    expect(error.source).toBe("bad.yaml")
    const byPath = Object.fromEntries(error.issues.map((issue) => [issue.path, issue.message]))
    expect(Object.keys(byPath).sort()).toEqual(["echo.listen", "prometheus", "simulator.colour", "simulator.noise", "simulator.seed"])
    expect(byPath["prometheus"]).toBe("unknown connector; known connectors: simulator, echo (and `name` for the servo)")
    expect(byPath["simulator.colour"]).toMatch(/is unexpected/)
    expect(byPath["simulator.seed"]).toMatch(/integer/)
    expect(byPath["simulator.noise"]).toMatch(/between 0 and 1/)
    expect(error.message).toMatch(/^bad\.yaml: 5 problems\n  - /)
  })

  it("knows the events connectors define", () => {
    expect(Either.isRight(Servo.parseConfig(assembly, "echo:\n  listen: after:ping\n"))).toBe(true)
    expect(assembly.events.names).toContain("ping")
  })

  it("reports YAML syntax errors with line and column", () => {
    const error = Either.getLeft(Servo.parseConfig(assembly, "simulator:\n  seed: [1, 2\n")).pipe((o) => o._tag === "Some" ? o.value : undefined)!
    expect(error.issues[0]!.message).toMatch(/^invalid YAML at line \d+, column \d+: /)
  })

  it("refuses a file that is not a mapping", () => {
    const error = Either.getLeft(Servo.parseConfig(assembly, "- simulator\n")).pipe((o) => o._tag === "Some" ? o.value : undefined)!
    expect(error.message).toBe("servo.yaml: expected a mapping of connector names (simulator, echo) to their config")
  })

  it.effect("loads a file, and names a missing one", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "servo-"))
      const file = path.join(dir, "servo.yaml")
      fs.writeFileSync(file, "simulator: { seed: 3 }\n")
      const config = yield* Servo.loadConfig(assembly, file)
      expect(config.connectors[0]!.config).toMatchObject({ seed: 3 })
      const missing = yield* Effect.flip(Servo.loadConfig(assembly, path.join(dir, "nope.yaml")))
      expect(missing.message).toMatch(/nope\.yaml: no such file/)
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.effect("starts connectors in file order on one bus", () =>
    Effect.gen(function*() {
      for (const [text, order] of [["echo: {}\nsimulator: {}\n", ["echo", "simulator"]], ["simulator: {}\necho: {}\n", ["simulator", "echo"]]] as const) {
        const config = Either.getOrThrow(Servo.parseConfig(assembly, text))
        const results = yield* EventBus.dispatch(CoreEvents.describe, {}).pipe(
          Effect.provide(Servo.layer(assembly, config))
        )
        expect(results.map((r) => r.connector)).toEqual(order)
      }
    }))

  it("refuses an assembly with two connectors of one name", () => {
    expect(() => Servo.assembly([echo, echo])).toThrow(/cannot be named "echo"/)
  })
})
