/**
 * The `servo` bin as people run it: `node dist/src/bin/servo.js ...` in a child process (vitest's
 * global setup builds dist/ first), against receivers in this process.
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Receiver from "../src/webhooks/Receiver.js"
import { removeTempDirs, runServo, spawnServo, spawnServoScoped, tempDir, writeConfig } from "./support/cli.js"
import { closedPort, gate, never, ok, receiver as testReceiver, sequence } from "./support/receiver.js"

afterAll(removeTempDirs)

const token = "tok-SECRET-bin-31337"
const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

const run = (args: ReadonlyArray<string>, options: { readonly env?: Record<string, string>; readonly cwd?: string } = {}) =>
  Effect.promise(() => runServo(args, options))

/** No stack trace and no Effect cause dump in anything printed. */
const expectNoTrace = (output: string) => {
  expect(output).not.toMatch(/^\s+at /m)
  expect(output).not.toContain("FiberFailure")
  expect(output).not.toContain("[cause]")
  expect(output).not.toContain("{\n")
}

// Concurrent: each test waits mostly on child processes of its own (temp dirs, receivers and
// ports are per test), and nothing asserted depends on how fast they run.
describe.concurrent("the servo bin", () => {
  it.live("webhooks list: the table, no secret, exit 0", () =>
    Effect.gen(function*() {
      const config = writeConfig(`
simulator: {}
webhooks:
  - name: measurements
    event: after:measure
    target: http://127.0.0.1:9/hook?token=${token}
    authentication: { bearer_token: ${token} }
  - name: approve
    event: before:adjust
    target: http://127.0.0.1:9/approve
    secret: { env: SERVO_BIN_TEST_SECRET }
    backoff: false
`)
      const table = yield* run(["webhooks", "list", "--config", config])
      expect(table.code).toBe(0)
      expect(table.stderr).toBe("")
      expect(table.stdout.split("\n")).toEqual([
        "NAME          EVENTS         TARGET                                  AUTH    SIGNED  BACKOFF",
        "measurements  after:measure  http://127.0.0.1:9/hook?token=REDACTED  bearer  no      12 retries, 24h",
        "approve       before:adjust  http://127.0.0.1:9/approve              none    v1      off",
        ""
      ])
      expect(table.stdout).not.toContain(token)
    }))

  it.live("webhooks trigger: outcome lines against a real receiver, exit 0; exit 1 when one failed", () =>
    Effect.gen(function*() {
      const seen: Array<Receiver.Delivery> = []
      const receiver = yield* Receiver.make({ onDelivery: (delivery) => Effect.sync(() => void seen.push(delivery)) })
      const down = yield* closedPort
      const config = writeConfig(`
webhooks:
  - name: up
    event: after:measure
    target: ${receiver.url}up
  - name: down
    event: after:adjust
    target: http://127.0.0.1:${down}/
    backoff: false
`)
      const ok = yield* run(["webhooks", "trigger", "after:measure", "--config", config])
      expect(ok.code).toBe(0)
      expect(ok.stderr).toBe("")
      const [header, line] = ok.stdout.split("\n")
      expect(header).toMatch(/^TARGET\s+OUTCOME\s+STATUS\s+ATTEMPTS\s+MS$/)
      expect(line).toMatch(/^up\s+delivered\s+204\s+1\s+\d+$/)
      expect(seen.map((delivery) => [delivery.event, delivery.path])).toEqual([["after:measure", "/up"]])

      const failed = yield* run(["webhooks", "trigger", "after:adjust", "--config", config])
      expect(failed.code).toBe(1)
      expect(failed.stdout.split("\n")[1]).toMatch(/^down\s+failed: connection refused\s+-\s+1\s+\d+$/)
      expect(failed.stderr).toBe("error: the delivery failed\n")

    }).pipe(Effect.scoped))

  it.live("run: the cycles and the summary, exit 0", () =>
    Effect.gen(function*() {
      const receiver = yield* Receiver.make()
      const config = writeConfig(`
name: bin-run
simulator: { seed: 3 }
webhooks:
  - { name: m, event: after:measure, target: "${receiver.url}" }
`)
      const ran = yield* run(["run", "--cycles", "2", "--config", config])
      // Nothing on stderr but, when deliveries are still in flight at the end, the drain's note.
      expect(ran.stderr.split("\n").filter((line) => line !== "" && !/^info: draining \d after deliver/.test(line)))
        .toEqual([])
      expect(ran.code).toBe(0)
      const lines = ran.stdout.trimEnd().split("\n")
      expect(lines[0]).toBe("servo bin-run: simulator, webhooks (1 webhook) · 2 cycles")
      expect(lines).toContain("cycle 1/2")
      expect(lines).toContain("cycle 2/2")
      expect(lines.filter((line) => line.startsWith("  measure   throughput="))).toHaveLength(2)
      expect(lines.at(-1)).toBe(
        "webhooks: before 0 delivered, 0 cancelled, 0 failed · after 2 delivered, 0 failed, 0 cancelled, 0 abandoned, 0 overflowed"
      )
      expect((yield* receiver.stats).received).toBe(2)
    }).pipe(Effect.scoped))

  it.live("SIGTERM during run with deliveries pending: the outbox drains, then the summary, exit 0", () =>
    Effect.gen(function*() {
      // Both receivers hold their answers: the run blocks in its first adjustment (a before
      // webhook) with the first measurement's after delivery in flight.
      const measurements = gate()
      const approvals = gate()
      const measureReceiver = yield* testReceiver(measurements.responder)
      const approveReceiver = yield* testReceiver(approvals.responder)
      const config = writeConfig(`
simulator: {}
webhooks:
  - { name: m, event: after:measure, target: "${measureReceiver.url}" }
  - { name: a, event: before:adjust, target: "${approveReceiver.url}", backoff: false, request_timeout: 1m }
`)
      const child = spawnServo(["run", "--cycles", "50", "--config", config])
      yield* Effect.promise(() => child.waitFor(/^ {2}measure {3}throughput=/m))
      yield* Effect.all([measureReceiver.waitFor(1), approveReceiver.waitFor(1)])
      expect([measurements.held(), approvals.held()]).toEqual([1, 1])

      child.process.kill("SIGTERM")
      yield* Effect.promise(() => child.waitFor(/^interrupted: stopping the servo/m))
      // The drain waits for the pending delivery; let the receiver answer it now.
      yield* Effect.promise(() => child.waitFor(/draining 1 after delivery/))
      measurements.open()
      const code = yield* Effect.promise(() => child.exited)

      expect(child.stderr()).toContain("info: draining 1 after delivery (up to 10s)")
      expect(code).toBe(0)
      const lines = child.stdout().trimEnd().split("\n")
      expect(lines.at(-2)).toBe("done: 0 of 50 cycles, 0 adjustments applied, 0 cancelled")
      expect(lines.at(-1)).toBe(
        "webhooks: before 0 delivered, 0 cancelled, 0 failed · after 1 delivered, 0 failed, 0 cancelled, 0 abandoned, 0 overflowed"
      )
      expect(measureReceiver.requests).toHaveLength(1)
      expect(measureReceiver.requests[0]!.json.event).toBe("after:measure")
      expectNoTrace(child.stdout() + child.stderr())
    }).pipe(Effect.scoped))

  it.live("a trigger stopped by SIGTERM did not finish its job: exit 130, not 0", () =>
    Effect.gen(function*() {
      const stuck = yield* testReceiver(never)
      const child = yield* spawnServoScoped(["webhooks", "trigger", "after:measure", stuck.url])
      yield* stuck.waitFor(1)
      child.process.kill("SIGTERM")
      expect(yield* Effect.promise(() => child.exited)).toBe(130)
    }).pipe(Effect.scoped))

  describe("SIGTERM with 500 after deliveries pending", () => {
    // 125 after webhooks on describe and measure: 250 deliveries a cycle. The after receiver holds
    // every answer, and the before:adjust webhook answers the first adjustment and holds the
    // second, so the run stops in cycle 2 with exactly 500 deliveries handed to the outbox, none
    // answered: 16 in flight (the workers), 484 waiting.
    const hooks = 125
    const pendingRun = (options: { readonly answer: (index: number) => boolean; readonly args?: ReadonlyArray<string> }) =>
      Effect.gen(function*() {
        const afters = gate((request, response, index) => {
          if (options.answer(Number(/\/h(\d+)$/.exec(request.path)![1]))) ok(request, response, index)
          // else: never answered
        })
        const afterReceiver = yield* testReceiver(afters.responder)
        const approveReceiver = yield* testReceiver(sequence(ok, never))
        const config = writeConfig([
          "simulator: { seed: 5 }",
          "webhooks:",
          `  - { name: gate, event: before:adjust, target: "${approveReceiver.url}", backoff: false, request_timeout: 1m }`,
          ...Array.from({ length: hooks }, (_, i) =>
            `  - { name: h${i}, events: [after:describe, after:measure], target: "${afterReceiver.url}/h${i}", backoff: false, request_timeout: 1m }`)
        ].join("\n") + "\n")
        const child = yield* spawnServoScoped(["run", "--cycles", "50", "--config", config, ...(options.args ?? [])])

        // The run's own count after cycle 1, then cycle 2 blocked in its adjustment.
        yield* Effect.promise(() =>
          child.waitFor(/^ {2}webhooks {2}before 1 delivered, 0 cancelled, 0 failed · after 0 delivered, 0 failed, 250 pending$/m)
        )
        yield* approveReceiver.waitFor(2)
        yield* afterReceiver.waitFor(16)
        expect(afters.held()).toBe(16)

        child.process.kill("SIGTERM")
        // The connector's count when the drain starts: every one of the 500 is still pending.
        const [draining] = yield* Effect.promise(() => child.waitFor(/^info: draining \d+ after deliveries .*$/m))
        afters.open()
        const code = yield* Effect.promise(() => child.exited)
        const summary = /^webhooks: before 1 delivered, 0 cancelled, 0 failed · after (\d+) delivered, 0 failed, 0 cancelled, (\d+) abandoned, 0 overflowed$/m
          .exec(child.stdout())
        // No delivery reached the receiver twice.
        const ids = afterReceiver.requests.map((request) => request.headers["webhook-id"])
        expect(new Set(ids).size).toBe(ids.length)
        expectNoTrace(child.stdout() + child.stderr())
        return { child, code, draining, summary, afterReceiver }
      })

    it.live("all delivered within the drain deadline: the receiver gets each of the 500 once, exit 0", () =>
      Effect.gen(function*() {
        // The point is "all delivered", not how fast: a deadline no loaded machine gets near.
        const { afterReceiver, child, code, draining, summary } = yield* pendingRun({
          answer: () => true,
          args: ["--drain-timeout", "60s"]
        })
        expect(draining).toBe("info: draining 500 after deliveries (up to 1m) (connector=webhooks)")
        expect(code).toBe(0)
        expect(summary?.slice(1)).toEqual(["500", "0"])
        expect(child.stderr()).not.toContain("abandoned")
        // Each webhook's describe and measure deliveries of both cycles, each once.
        expect(afterReceiver.requests).toHaveLength(500)
        const perHook = new Map<string, Array<string>>()
        for (const request of afterReceiver.requests) {
          perHook.set(request.path, [...(perHook.get(request.path) ?? []), request.json.event])
        }
        expect(perHook.size).toBe(hooks)
        for (const events of perHook.values()) {
          expect(events.sort()).toEqual(["after:describe", "after:describe", "after:measure", "after:measure"])
        }
      }).pipe(Effect.scoped), 90_000) // past the 60 s drain deadline: a slow drain fails on its summary, not here

    it.live("past the deadline (--drain-timeout 1s): the exact abandoned count is printed, delivered + abandoned = 500, exit 0", () =>
      Effect.gen(function*() {
        // The receiver never answers the last 25 webhooks: their 100 deliveries cannot be delivered.
        const { afterReceiver, child, code, draining, summary } = yield* pendingRun({
          answer: (index) => index < 100,
          args: ["--drain-timeout", "1s"]
        })
        expect(draining).toBe("info: draining 500 after deliveries (up to 1s) (connector=webhooks)")
        expect(code).toBe(0)
        const [delivered, abandoned] = summary!.slice(1).map(Number) as [number, number]
        expect(delivered + abandoned).toBe(500)
        expect(abandoned).toBeGreaterThanOrEqual(100)
        const warning = /^warning: shutdown: (\d+) after deliveries abandoned after the 1s drain deadline: (.*) \(connector=webhooks\)$/m
          .exec(child.stderr())
        expect(warning?.[1]).toBe(String(abandoned))
        // The webhooks that lost the most are named, the others summed up; it adds up to the total.
        const [named, more] = warning![2]!.split(", and ")
        const counts = named!.split(", ").map((entry) => /^h\d+ (\d+)$/.exec(entry)![1]).map(Number)
        // At least the 25 never answered lost all 4 of theirs: the 8 named lost 4 each.
        expect(counts).toEqual([4, 4, 4, 4, 4, 4, 4, 4])
        const [, others, rest] = /^(\d+) more webhooks (\d+)$/.exec(more!)!.map(Number)
        expect(others).toBeGreaterThanOrEqual(25 - 8)
        expect(counts.reduce((a, b) => a + b, 0) + rest!).toBe(abandoned)
        // What the servo counts as delivered, the receiver answered.
        const answered = afterReceiver.requests.filter((request) => Number(/\/h(\d+)$/.exec(request.path)![1]) < 100)
        expect(answered.length).toBeGreaterThanOrEqual(delivered)
      }).pipe(Effect.scoped))
  })

  it.live("keys --ed25519, a signing_key from it, and listen --public-key verifying the deliveries (v1a)", () =>
    Effect.gen(function*() {
      const keys = yield* run(["webhooks", "keys", "--ed25519"])
      expect(keys.code).toBe(0)
      const signingKey = /^signing key {2}(whsk_\S+)$/m.exec(keys.stdout)![1]!
      const publicKey = /^public key {3}(whpk_\S+)$/m.exec(keys.stdout)![1]!

      const listener = yield* spawnServoScoped(["webhooks", "listen", "--port", "0", "--public-key", publicKey])
      const [, url] = yield* Effect.promise(() => listener.waitFor(/^listening on (\S+) /m))
      const config = writeConfig(`
webhooks:
  - { name: signed, event: before:adjust, target: "${url}", signing_key: { env: SERVO_BIN_SIGNING_KEY }, backoff: false }
`)
      const env = { SERVO_BIN_SIGNING_KEY: signingKey }
      const list = yield* run(["webhooks", "list", "--config", config], { env })
      expect(list.stdout.split("\n")[1]).toMatch(/^signed\s+before:adjust\s+\S+\s+none\s+v1a\s+off$/)
      const sent = yield* run(["webhooks", "trigger", "before:adjust", "--config", config], { env })
      expect(sent.code).toBe(0)
      yield* Effect.promise(() => listener.waitFor(/ before:adjust {2}msg_\S+ {2}verified \(v1a\) {2}→ 204 /))

      listener.process.kill("SIGINT")
      expect(yield* Effect.promise(() => listener.exited)).toBe(0)
      expect(listener.stdout().trimEnd().split("\n").at(-1)).toBe(
        "stopped: 1 delivery received (1 verified, 0 invalid, 0 unsigned, 0 unchecked), 0 cancelled"
      )
      // The signing key went from keys' output to the environment, and nowhere else.
      for (const output of [listener.stdout(), listener.stderr(), list.stdout, list.stderr, sent.stdout, sent.stderr]) {
        expect(output).not.toContain(signingKey.slice(5))
      }
    }).pipe(Effect.scoped))

  it.live("generate, then validate: the round trip, and the refusal to overwrite", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const generated = yield* run(["generate", "--defaults", "webhooks"], { cwd: dir })
      expect(generated.code).toBe(0)
      expect(generated.stdout.split("\n")[0]).toBe("wrote servo.yaml and servo.schema.json; next:")
      expect(fs.existsSync(path.join(dir, "servo.yaml"))).toBe(true)

      const valid = yield* run(["webhooks", "validate"], { cwd: dir, env: { SERVO_WEBHOOK_SECRET: secret } })
      expect(valid).toEqual({ code: 0, stdout: "valid: 2 webhooks\n", stderr: "" })

      const again = yield* run(["generate", "--defaults", "webhooks"], { cwd: dir })
      expect(again).toEqual({ code: 1, stdout: "", stderr: "error: servo.yaml already exists; pass --force to overwrite it\n" })
    }))

  it.live("--help reads well: plain text when piped, short lines, every command", () =>
    Effect.gen(function*() {
      const help = yield* run(["--help"], { env: { NO_COLOR: "" } })
      expect(help.code).toBe(0)
      expect(help.stderr).toBe("")
      expect(help.stdout).not.toContain("\x1b[")
      expect(help.stdout.split("\n")[0]).toBe("servo 0.1.0: an optimization servo with webhooks before and after its events")
      for (const line of help.stdout.split("\n")) expect(line.length).toBeLessThan(100)
      for (const command of ["webhooks list", "webhooks schema", "webhooks trigger", "webhooks validate", "webhooks listen", "generate", "run"]) {
        expect(help.stdout).toContain(`  ${command} `)
      }
    }))

  it.live("every subcommand's --help when piped, NO_COLOR unset: its full path, no ANSI, lines of 100 columns at most", () =>
    Effect.gen(function*() {
      for (const command of [["webhooks", "trigger"], ["webhooks", "verify"], ["webhooks", "listen"], ["run"]]) {
        const help = yield* run([...command, "--help"], { env: { NO_COLOR: "" } })
        expect(help.code).toBe(0)
        expect(help.stderr).toBe("")
        expect(help.stdout.split("\n").slice(0, 2).join("\n")).toMatch(new RegExp(`^USAGE\n  servo ${command.join(" ")} `))
        expect(help.stdout).not.toContain("\x1b")
        for (const line of help.stdout.split("\n")) expect(line.length).toBeLessThanOrEqual(100)
      }
    }))

  it.live("trigger --json against a real receiver, and the key from --secret-file", () =>
    Effect.gen(function*() {
      const hook = yield* testReceiver()
      const dir = tempDir()
      fs.writeFileSync(path.join(dir, "secret"), `${secret}\n`)
      const ran = yield* run(
        ["webhooks", "trigger", "after:measure", hook.url, "--secret-file", "secret", "--set", "control.duration=30s", "--json"],
        { cwd: dir }
      )
      expect(ran.code).toBe(0)
      expect(ran.stderr).toBe("")
      expect(JSON.parse(ran.stdout)).toEqual([
        { target: hook.url, outcome: "delivered", attempts: 1, status: 200, reason: null, ms: expect.any(Number) }
      ])
      expect(hook.requests[0]!.json.parameters.control).toEqual({ duration: "30s" })
      expect(hook.requests[0]!.headers["webhook-signature"]).toMatch(/^v1,/)
      expect(ran.stdout).not.toContain(secret.slice(6))
    }).pipe(Effect.scoped))

  it.live("a CLI of its own through ServoCommand.runMain (examples/cli.ts): the same help, errors and signal handling", () =>
    Effect.gen(function*() {
      const cli = path.resolve("dist/examples/cli.js")
      const node = (args: ReadonlyArray<string>) =>
        Effect.async<{ code: number | null; stdout: string; stderr: string }>((resume) => {
          const child = spawn(process.execPath, [cli, ...args], { env: { ...process.env, NO_COLOR: "" }, stdio: ["ignore", "pipe", "pipe"] })
          let stdout = ""
          let stderr = ""
          child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
          child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
          child.on("close", (code) => resume(Effect.succeed({ code, stdout, stderr })))
        })
      const help = yield* node(["webhooks", "listen", "--help"])
      expect(help.code).toBe(0)
      expect(help.stdout.split("\n")[1]).toMatch(/^  my-servo webhooks listen \[-p, --port N\] /)
      expect(help.stdout).not.toContain("\x1b")
      expect((yield* node(["webhooks", "--help"])).stdout.split("\n")[0]).toBe(
        "my-servo webhooks: inspect, test and receive the servo's webhooks"
      )
      const port = yield* closedPort
      expect(yield* node(["webhooks", "trigger", "after:measure", `http://127.0.0.1:${port}/`, "--no-retry"])).toMatchObject({
        code: 1,
        stderr: "error: the delivery failed\n"
      })

      // listen runs until a signal, which ends it with its count and exit 0.
      const listener = spawn(process.execPath, [cli, "webhooks", "listen", "--port", "0"], { stdio: ["ignore", "pipe", "pipe"] })
      let out = ""
      yield* Effect.async<void>((resume) => {
        listener.stdout.setEncoding("utf8").on("data", (chunk: string) => {
          out += chunk
          if (out.includes("answers:")) resume(Effect.void)
        })
      })
      const code = yield* Effect.async<number | null>((resume) => {
        listener.on("close", (code) => resume(Effect.succeed(code)))
        listener.kill("SIGTERM")
      })
      expect(code).toBe(0)
      expect(out.trimEnd().split("\n").at(-1)).toMatch(/^stopped: 0 deliveries received/)
    }))

  it.live("errors are one line on stderr with exit 1: an unknown command, a missing config file", () =>
    Effect.gen(function*() {
      // @effect/cli styles this one with ANSI codes: none when piped.
      const unknown = yield* run(["bogus"], { env: { NO_COLOR: "" } })
      expect(unknown).toEqual({
        code: 1,
        stdout: "",
        stderr: "Invalid subcommand for servo - use one of 'webhooks', 'generate', 'run', 'schema'\n"
      })

      const dir = tempDir()
      const missing = yield* run(["webhooks", "list"], { cwd: dir })
      expect(missing).toEqual({
        code: 1,
        stdout: "",
        stderr: "error: servo.yaml: no such file (create one with `servo generate --defaults webhooks`, or pass --config FILE)\n"
      })

      for (const output of [unknown, missing]) expectNoTrace(output.stdout + output.stderr)
    }))
})
