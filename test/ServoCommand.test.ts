/**
 * `servo --help`, `--version`, `generate` and `run`, in-process (`ServoCommand.main` with argv and
 * a recording Console).
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Ajv } from "ajv"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as fs from "node:fs"
import * as path from "node:path"
import * as ServoRunner from "../src/cli/ServoRunner.js"
import * as Servo from "../src/servo/Servo.js"
import * as Simulator from "../src/servo/Simulator.js"
import * as Receiver from "../src/webhooks/Receiver.js"
import * as Signature from "../src/webhooks/Signature.js"
import * as Webhooks from "../src/webhooks/Webhooks.js"
import {
  type Child,
  type Output,
  recordingConsole,
  removeTempDirs,
  servo,
  spawnServoScoped,
  tempDir,
  text,
  writeConfig
} from "./support/cli.js"
import { cancel, never, receiver as testReceiver, status } from "./support/receiver.js"

afterAll(removeTempDirs)

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

describe("servo: help, version, completions, unknown commands", () => {
  it.live("--help lists every command with a short description, in under 100 columns", () =>
    Effect.gen(function*() {
      const ran = yield* servo("--help")
      expect(ran.code).toBe(0)
      const help = text(ran.stdout)
      for (
        const command of [
          "webhooks list [--json]",
          "webhooks schema EVENT",
          "webhooks trigger EVENT [NAME|URL]",
          "webhooks validate [--json]",
          "webhooks listen [OPTIONS]",
          "webhooks keys [--ed25519] [--json]",
          "webhooks verify [OPTIONS]",
          "generate [--defaults webhooks]",
          "run [--cycles N]"
        ]
      ) expect(help).toContain(`\n  ${command}  `)
      expect(help).toContain("Every command takes --help; those that read servo.yaml take --config FILE (default ./servo.yaml).")
      for (const line of help.split("\n")) expect(line.length).toBeLessThan(100)
      // `servo` alone and `-h` say the same.
      expect(text((yield* servo()).stdout)).toBe(help)
      expect(text((yield* servo("-h")).stdout)).toBe(help)
    }))

  it.live("servo webhooks --help is the group's overview; a command's --help is its own", () =>
    Effect.gen(function*() {
      const group = text((yield* servo("webhooks", "--help")).stdout)
      expect(group).toMatch(/^servo webhooks: /)
      expect(group).toContain("\n  listen [OPTIONS]  ")
      expect(text((yield* servo("webhooks")).stdout)).toBe(group)

      const listen = yield* servo("webhooks", "listen", "--help")
      expect(listen.code).toBe(0)
      const help = text(listen.stdout)
      for (const option of ["--port N", "--host ADDRESS", "--secret whsec_...", "--public-key whpk_...", "--cancel REASON", "--events SELECTOR", "--config FILE"]) {
        expect(help).toContain(option)
      }
      expect(help).toContain("The port to listen on (default: 8787)")
    }))

  it.live("every command's --help: its full path, optional options in brackets, plain text, lines of 100 columns at most", () =>
    Effect.gen(function*() {
      const commands = [
        ["webhooks", "list"],
        ["webhooks", "schema"],
        ["webhooks", "trigger"],
        ["webhooks", "validate"],
        ["webhooks", "listen"],
        ["webhooks", "keys"],
        ["webhooks", "verify"],
        ["generate"],
        ["run"],
        ["schema"]
      ]
      for (const command of commands) {
        const ran = yield* servo(...command, "--help")
        expect(ran.code).toBe(0)
        expect(ran.stderr).toEqual([])
        const lines = text(ran.stdout).split("\n")
        expect(lines[0]).toBe("USAGE")
        expect(lines[1]).toMatch(new RegExp(`^  servo ${command.join(" ")}( |$)`))
        expect(lines).toContain("DESCRIPTION")
        for (const line of lines) expect(line.length, line).toBeLessThanOrEqual(100)
        expect(text(ran.stdout)).not.toMatch(/[\u001b\u009b]/)
      }
      // The help is the same after options and a global option first.
      const listen = text((yield* servo("webhooks", "listen", "--help")).stdout)
      expect(text((yield* servo("--log-level", "info", "webhooks", "listen", "--port", "1", "-h")).stdout)).toBe(listen)
      // Optional options in brackets, repeatable ones marked, required arguments bare.
      expect(listen).toContain("[-p, --port N]")
      expect(listen).toContain("[--secret whsec_...]...")
      const trigger = text((yield* servo("webhooks", "trigger", "--help")).stdout)
      const usage = trigger.split("\nDESCRIPTION")[0]!
      expect(usage).toContain(" [--set PATH=VALUE]... ")
      expect(usage.trimEnd()).toMatch(/ EVENT \[NAME\|URL\]$/)
      expect(trigger).toContain("\n  [-c, --config FILE]  ")
      // No words of @effect/cli's that say nothing (`A user-defined piece of text.`).
      expect(trigger).not.toContain("user-defined")
      expect(trigger).not.toContain("This setting is optional")
    }))

  it.live("--version prints the package version; --completions prints a script", () =>
    Effect.gen(function*() {
      const pkg = JSON.parse(fs.readFileSync("package.json", "utf8"))
      expect(yield* servo("--version")).toEqual({ code: 0, stdout: [pkg.version], stderr: [] })
      const bash = yield* servo("--completions", "bash")
      expect(bash.code).toBe(0)
      expect(text(bash.stdout)).toContain("complete -F")
      // Nested commands are matched the way the script walks the words (see completions.test.ts).
      expect(text(bash.stdout)).toContain("servo__webhooks,listen)")
      expect(text(bash.stdout)).not.toContain("servo,webhooks,listen)")
      expect(text(bash.stdout)).toContain("servo")
    }))

  it.live("an unknown command or option: one line on stderr, exit 1", () =>
    Effect.gen(function*() {
      expect(yield* servo("bogus")).toEqual({
        code: 1,
        stdout: [],
        stderr: ["Invalid subcommand for servo - use one of 'webhooks', 'generate', 'run', 'schema'"]
      })
      const option = yield* servo("webhooks", "list", "--jsn")
      expect(option.code).toBe(1)
      expect(option.stdout).toEqual([])
      expect(option.stderr.join("\n").trim().split("\n")).toHaveLength(1)
    }))
})

describe("servo generate", () => {
  it.live("writes a commented servo.yaml whose webhooks pass validate, secrets only as { env: ... }", () =>
    Effect.gen(function*() {
      const file = path.join(tempDir(), "servo.yaml")
      const ran = yield* servo("generate", "--defaults", "webhooks", "-f", file)
      expect(ran.code).toBe(0)
      const schemaFile = path.join(path.dirname(file), "servo.schema.json")
      expect(ran.stdout[0]).toBe(`wrote ${file} and ${schemaFile}; next:`)
      // The next steps make a key with servo itself, and never suggest an empty --secret.
      expect(ran.stdout.slice(1)).toEqual([
        "  servo webhooks keys                       # a whsec_ secret: set SERVO_WEBHOOK_SECRET to it",
        `  servo webhooks listen --secret whsec_...  # in another terminal, with the same secret`,
        `  servo webhooks validate --config ${file}`,
        `  servo run --config ${file}`
      ])
      const written = fs.readFileSync(file, "utf8")
      // The first line points editors (yaml-language-server) at the schema written beside it.
      expect(written).toMatch(/^# yaml-language-server: \$schema=\.\/servo\.schema\.json\n# servo\.yaml: generated by `servo generate`/)
      const schema = JSON.parse(fs.readFileSync(schemaFile, "utf8"))
      expect(schema.properties.webhooks).toBeDefined()
      expect(schema.properties.simulator).toBeDefined()
      expect(written).toContain("\nname: my-servo\n")
      expect(written).toContain("\nsimulator: {}\n")
      expect(written).toContain("event: after:measure")
      expect(written).toContain("event: before:adjust")
      expect(written).toContain("backoff: false")
      expect(written).toContain("secret: { env: SERVO_WEBHOOK_SECRET }")
      // No literal key, token or password anywhere, comments included.
      expect(written).not.toMatch(/whsec_[A-Za-z0-9+/]{8,}/)
      expect(written).not.toMatch(/(bearer_token|password|secret):\s*["']?[A-Za-z0-9]/)

      // The config round trip: it validates once its variable is set...
      process.env["SERVO_WEBHOOK_SECRET"] = Signature.generateSecret()
      const valid = yield* servo("webhooks", "validate", "--config", file).pipe(
        Effect.ensuring(Effect.sync(() => delete process.env["SERVO_WEBHOOK_SECRET"]))
      )
      expect(valid).toEqual({ code: 0, stdout: ["valid: 2 webhooks"], stderr: [] })
      // ... and says what is missing when it is not.
      expect(yield* servo("webhooks", "validate", "--config", file)).toEqual({
        code: 1,
        stdout: [],
        stderr: [`error: ${file}: webhooks.hooks[1].secret: environment variable SERVO_WEBHOOK_SECRET is not set`]
      })
      const listed = JSON.parse(text((yield* servo("webhooks", "list", "--json", "--config", file)).stdout))
      expect(listed.map((w: any) => [w.name, w.events, w.signed, w.backoff, w.request_timeout])).toEqual([
        ["measurements", ["after:measure"], false, { retries: 12, timeout: "24h" }, "10s"],
        ["approve_adjustments", ["before:adjust"], true, false, "5s"]
      ])
    }))

  it.live("refuses to overwrite a file without --force (one line, exit 1), overwrites with it", () =>
    Effect.gen(function*() {
      const file = writeConfig("# mine\nsimulator: {}\n")
      expect(yield* servo("generate", "--defaults", "webhooks", "--config", file)).toEqual({
        code: 1,
        stdout: [],
        stderr: [`error: ${file} already exists; pass --force to overwrite it`]
      })
      expect(fs.readFileSync(file, "utf8")).toBe("# mine\nsimulator: {}\n")
      expect((yield* servo("generate", "--force", "--config", file)).code).toBe(0)
      const written = fs.readFileSync(file, "utf8")
      expect(written).toContain("simulator: {}")
      expect(written).not.toContain("webhooks:")
      expect(yield* servo("webhooks", "validate", "--config", file)).toMatchObject({ code: 0, stdout: ["valid: 0 webhooks"] })
    }))
})

describe("servo run", () => {
  it.live("runs the cycles, survives a cancelled adjustment, and prints the drained totals", () =>
    Effect.gen(function*() {
      let adjustments = 0
      const bodies: Array<{ event: string }> = []
      const receiver = yield* Receiver.make({
        keys: [Either.getOrThrow(Signature.parseVerificationKey(secret))],
        policy: (request) =>
          request.event === "before:adjust" && ++adjustments === 2 ? Receiver.cancel("change freeze") : Receiver.accept,
        onDelivery: (delivery) => Effect.sync(() => void bodies.push(delivery.json as { event: string }))
      })
      const config = writeConfig(`
name: test-run
simulator: { seed: 7, noise: 0 }
webhooks:
  - name: measured_in_run
    event: after:measure
    target: ${receiver.url}measure
  - name: approve_in_run
    event: before:adjust
    target: ${receiver.url}approve
    secret: ${secret}
    backoff: false
`)
      const ran = yield* servo("run", "--cycles", "3", "--config", config)
      // Nothing on stderr but, when deliveries are still in flight at the end, the drain's note.
      expect(ran.stderr.filter((line) => !/^info: draining \d after deliver/.test(line))).toEqual([])
      expect(ran.code).toBe(0)
      const out = ran.stdout
      expect(out[0]).toBe("servo test-run: simulator, webhooks (2 webhooks) · 3 cycles")
      expect(out.filter((line) => /^cycle \d\/3$/.test(line))).toEqual(["cycle 1/3", "cycle 2/3", "cycle 3/3"])
      // The simulator starts at 2 replicas, overloaded: scale up, then the 2nd adjustment is refused.
      expect(out).toContain("  adjust    web.replicas 2 → 3")
      expect(out).toContain(
        "  adjust    web.replicas 3 → 4: cancelled by webhooks (approve_in_run): change freeze; going on"
      )
      expect(out.filter((line) => line.startsWith("  describe  "))).toEqual([
        "  describe  web: cpu=1, memory=2, replicas=2",
        "  describe  web: cpu=1, memory=2, replicas=3",
        "  describe  web: cpu=1, memory=2, replicas=3"
      ])
      expect(out.filter((line) => line.startsWith("  webhooks  "))).toHaveLength(3)
      expect(out.at(-2)).toBe("done: 3 of 3 cycles, 2 adjustments applied, 1 cancelled")
      expect(out.at(-1)).toBe(
        "webhooks: before 2 delivered, 1 cancelled, 0 failed · after 3 delivered, 0 failed, 0 cancelled, 0 abandoned, 0 overflowed"
      )
      expect(yield* receiver.stats).toEqual({ received: 6, verified: 3, invalid: 0, unsigned: 3, unchecked: 0, cancelled: 1 })

      // Every body the servo really sent matches the schema `servo webhooks schema` prints for it.
      const ajv = new Ajv({ strict: false, validateFormats: false })
      for (const event of ["after:measure", "before:adjust"]) {
        const validate = ajv.compile(JSON.parse(text((yield* servo("webhooks", "schema", event)).stdout)).schema)
        const sent = bodies.filter((body) => body.event === event)
        expect(sent).toHaveLength(3)
        for (const body of sent) expect(validate(body), JSON.stringify(validate.errors)).toBe(true)
      }
    }).pipe(Effect.scoped))

  it.live("a cancel reason from the network is printed escaped: it cannot clear the screen or forge an adjust or done line", () =>
    Effect.gen(function*() {
      const forged = "ok\u001b[2J\n  adjust    web.replicas 2 → 9 (hold)\r\ndone: 1 of 1 cycle, 1 adjustment applied, 0 cancelled"
      const receiver = yield* testReceiver(cancel(forged))
      const failing = yield* testReceiver(status(500, { "content-type": "text/plain" }, "boom\u001b]0;pwned\u0007 forged"))
      const config = writeConfig(`
name: forged
simulator: { seed: 7, noise: 0 }
webhooks:
  - { name: gate, event: before:adjust, target: "${receiver.url}", backoff: false }
  - { name: store, event: after:measure, target: "${failing.url}", backoff: false }
`)
      const ran = yield* servo("run", "--cycles", "1", "--config", config)
      expect(ran.code).toBe(0)
      const out = text(ran.stdout)
      expect(out).not.toContain("\u001b")
      expect(out.split("\n").filter((line) => line.startsWith("done: "))).toEqual(["done: 1 of 1 cycle, 0 adjustments applied, 1 cancelled"])
      expect(out.split("\n").filter((line) => line.startsWith("  adjust "))).toEqual([
        "  adjust    web.replicas 2 → 3: cancelled by webhooks (gate): ok\\x1b[2J\\x0a  adjust    web.replicas 2 → 9 (hold)\\x0d\\x0adone: 1 of 1 cycle, 1 adjustment applied, 0 cancelled; going on"
      ])
      // A 5xx body reaches the logs escaped too.
      const logged = text(ran.stderr)
      expect(logged).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f]/)
      expect(logged).toContain("HTTP 500: boom\\x1b]0;pwned\\x07 forged")
    }).pipe(Effect.scoped))

  it.live("a secret that cannot be read, or a bad option, stops it before the first cycle: one line, exit 1", () =>
    Effect.gen(function*() {
      const config = writeConfig(`
simulator: {}
webhooks:
  - { name: h, event: after:measure, target: "http://127.0.0.1:9/", secret: { env: SERVO_TEST_RUN_UNSET } }
`)
      expect(yield* servo("run", "--config", config)).toEqual({
        code: 1,
        stdout: [],
        stderr: [`error: ${config}: webhooks[0].secret: environment variable SERVO_TEST_RUN_UNSET is not set`]
      })
      expect(yield* servo("run", "--cycles", "0", "--config", config)).toMatchObject({
        code: 1,
        stderr: ["error: --cycles must be 1 or more"]
      })
      expect(yield* servo("run", "--drain-timeout", "soon", "--config", config)).toEqual({
        code: 1,
        stdout: [],
        stderr: [
          "error: --drain-timeout: expected a duration such as 500ms, 10s, 5m or 2h45m (units ns, us, ms, s, m, h), got \"soon\""
        ]
      })
    }))

  it.live("ServoRunner.run returns what it printed, counted from its own start", () =>
    Effect.gen(function*() {
      const receiver = yield* Receiver.make()
      const assembly = Servo.assembly([Simulator.connector, Webhooks.connector])
      const config = Either.getOrThrow(Servo.decodeConfig(assembly, {
        simulator: {},
        webhooks: [{ name: "twice", event: "after:describe", target: receiver.url }]
      }))
      const { layer: http } = yield* Effect.promise(() => import("../src/cli/internal/httpClient.js"))
      const output: Output = { stdout: [], stderr: [] }
      // Run the same servo twice in one process: the second summary is not the first's plus more.
      for (let i = 0; i < 2; i++) {
        const summary = yield* ServoRunner.run({ assembly, config, cycles: 2 }).pipe(
          Effect.provide([http, Console.setConsole(recordingConsole(output))])
        )
        expect(summary).toMatchObject({ cycles: 2, applied: 2, cancelled: [] })
        expect(summary.webhooks._tag).toBe("Some")
        if (summary.webhooks._tag === "Some") expect(summary.webhooks.value.after.delivered).toBe(2)
        expect(output.stdout.at(-1)).toBe(
          "webhooks: before 0 delivered, 0 cancelled, 0 failed · after 2 delivered, 0 failed, 0 cancelled, 0 abandoned, 0 overflowed"
        )
      }
      expect((yield* receiver.stats).received).toBe(4)
    }).pipe(Effect.scoped))
})

describe("servo run keeps the event loop turning", () => {
  it.live("after deliveries reach their receiver while the cycles run, not only at the drain", () =>
    Effect.gen(function*() {
      const output: Output = { stdout: [], stderr: [] }
      // When the first delivery arrives, how many cycles had been printed, and had the run ended?
      let seenAt: { readonly cycles: number; readonly done: boolean } | undefined
      const receiver = yield* Receiver.make({
        onDelivery: () =>
          Effect.sync(() => {
            seenAt ??= {
              cycles: output.stdout.filter((line) => line.startsWith("cycle ")).length,
              done: output.stdout.some((line) => line.startsWith("done: "))
            }
          })
      })
      const assembly = Servo.assembly([Simulator.connector, Webhooks.connector])
      const config = Either.getOrThrow(Servo.decodeConfig(assembly, {
        simulator: {},
        webhooks: [{ name: "measured", event: "after:measure", target: receiver.url }]
      }))
      const { layer: http } = yield* Effect.promise(() => import("../src/cli/internal/httpClient.js"))
      // The simulator's cycles never wait for I/O: without a turn of the event loop between
      // them, the outbox's requests would not leave before the run ended.
      const cycles = 300
      yield* ServoRunner.run({ assembly, config, cycles }).pipe(
        Effect.provide([http, Console.setConsole(recordingConsole(output))])
      )
      expect(seenAt?.done).toBe(false)
      expect(seenAt!.cycles).toBeLessThan(cycles)
    }).pipe(Effect.scoped))
})

// Child processes (`npm test` builds dist/ first): signals reach the bin as they do in a terminal.
describe("servo run and listen stopped by signals", () => {
  const summaryOf = (child: Child) => child.stdout().trimEnd().split("\n").slice(-2)
  /** One after:measure webhook to a receiver that never answers; a before:adjust one too when `blockAdjust`. */
  const stuckConfig = (url: string, options: { readonly blockAdjust?: boolean } = {}) =>
    writeConfig([
      "simulator: {}",
      "webhooks:",
      `  - { name: m, event: after:measure, target: "${url}m", backoff: false, request_timeout: 1m }`,
      ...(options.blockAdjust === true
        ? [`  - { name: a, event: before:adjust, target: "${url}a", backoff: false, request_timeout: 1m }`]
        : [])
    ].join("\n") + "\n")

  it.live("a signal during the end-of-run drain ends the wait; what is left is counted as abandoned", () =>
    Effect.gen(function*() {
      const stuck = yield* testReceiver(never)
      const child = yield* spawnServoScoped(["run", "--cycles", "1", "--drain-timeout", "5m", "--config", stuckConfig(stuck.url)])
      yield* Effect.promise(() => child.waitFor(/^info: draining 1 after delivery \(up to 5m\)/m))
      yield* stuck.waitFor(1)
      child.process.kill("SIGTERM")
      expect(yield* Effect.promise(() => child.exited)).toBe(0)
      expect(summaryOf(child)).toEqual([
        "done: 1 of 1 cycle, 1 adjustment applied, 0 cancelled",
        "webhooks: before 0 delivered, 0 cancelled, 0 failed · after 0 delivered, 0 failed, 0 cancelled, 1 abandoned, 0 overflowed"
      ])
      // Said by the connector once its drain counts what a signal left, else by the runner.
      expect(child.stderr()).toMatch(/^warning: shutdown: 1 after delivery abandoned\b/m)
    }).pipe(Effect.scoped))

  it.live("a second signal while an interrupted run drains quits at once, with the count", () =>
    Effect.gen(function*() {
      const stuck = yield* testReceiver(never)
      const child = yield* spawnServoScoped(
        ["run", "--cycles", "50", "--drain-timeout", "5m", "--config", stuckConfig(stuck.url, { blockAdjust: true })]
      )
      // The first cycle blocks in its adjustment, with the measurement's delivery in flight.
      yield* stuck.waitFor(2)
      child.process.kill("SIGINT")
      yield* Effect.promise(() => child.waitFor(/^info: draining 1 after delivery \(up to 5m\)/m))
      child.process.kill("SIGINT")
      expect(yield* Effect.promise(() => child.exited)).toBe(0)
      expect(summaryOf(child)).toEqual([
        "done: 0 of 50 cycles, 0 adjustments applied, 0 cancelled",
        "webhooks: before 0 delivered, 0 cancelled, 0 failed · after 0 delivered, 0 failed, 0 cancelled, 1 abandoned, 0 overflowed"
      ])
    }).pipe(Effect.scoped))

  it.live("a global option before the command does not change the exit code after a signal", () =>
    Effect.gen(function*() {
      const stuck = yield* testReceiver(never)
      // The first adjustment waits for its before webhook; nothing is left to drain.
      const config = writeConfig(`simulator: {}
webhooks:
  - { name: a, event: before:adjust, target: "${stuck.url}", backoff: false, request_timeout: 1m }
`)
      const run = yield* spawnServoScoped(["--log-level", "info", "run", "--cycles", "50", "--config", config])
      yield* stuck.waitFor(1)
      run.process.kill("SIGTERM")
      expect(yield* Effect.promise(() => run.exited)).toBe(0)
      expect(run.stdout()).toContain("done: 0 of 50 cycles, 0 adjustments applied, 0 cancelled")

      const listen = yield* spawnServoScoped(["--log-level", "info", "webhooks", "listen", "--port", "0"])
      yield* Effect.promise(() => listen.waitFor(/^listening on /m))
      listen.process.kill("SIGINT")
      expect(yield* Effect.promise(() => listen.exited)).toBe(0)
      expect(listen.stdout()).toMatch(/^stopped: 0 deliveries received/m)

      // A command that did not finish its job still says so.
      const trigger = yield* spawnServoScoped(["--log-level", "info", "webhooks", "trigger", "after:measure", stuck.url])
      yield* stuck.waitFor(2)
      trigger.process.kill("SIGTERM")
      expect(yield* Effect.promise(() => trigger.exited)).toBe(130)
    }).pipe(Effect.scoped))
})
