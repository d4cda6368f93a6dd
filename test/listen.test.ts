/**
 * `servo webhooks listen`: the receiver as a child process (the bin, built by the global setup)
 * against real senders (`servo webhooks trigger`, in-process, or signed `fetch` requests) and real
 * apps to forward to, all on 127.0.0.1. Tests wait for printed lines, never for time.
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Random from "effect/Random"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Receiver from "../src/webhooks/Receiver.js"
import * as Signature from "../src/webhooks/Signature.js"
import {
  type Child,
  type Ran,
  removeTempDirs,
  runServo,
  servo,
  servoFork,
  spawnServoScoped,
  tempDir,
  text,
  waitForLine,
  writeConfig
} from "./support/cli.js"
import { closedPort, receiver as app, type Responder } from "./support/receiver.js"

// Distinctive secret values: none may ever show up in anything a command prints.
const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
const otherSecret = "whsec_dGhlIG90aGVyIHNlY3JldCwgMjQgYnl0ZXMhIQ=="
const bearer = "tok-SECRET-9f3a"
const teamToken = "team-SECRET-3131"
const secrets = [secret.slice(6), otherSecret.slice(6), bearer, teamToken]
const cancelType = "application/vnd.opsani.servo.errors.CancelEventError+json"

afterAll(removeTempDirs)

const cells = (line: string) => line.trim().split(/\s{2,}/)
/** The OUTCOME cell of a trigger's first target. */
const outcome = (ran: Ran) => cells(ran.stdout[0]!.split("\n")[1]!)[1]
const attempts = (ran: Ran) => cells(ran.stdout[0]!.split("\n")[1]!)[3]

const expectNoSecrets = (...outputs: ReadonlyArray<string>) => {
  const all = outputs.join("\n")
  for (const value of secrets) expect(all).not.toContain(value)
}

/** `servo webhooks listen --port 0 ...args` as a child process, once it listens. */
const listen = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  Effect.gen(function*() {
    const child = yield* spawnServoScoped(["webhooks", "listen", "--port", "0", ...args], { env })
    const [, url] = yield* Effect.promise(() => child.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+\/) /))
    return { child, url: url! }
  })

const lines = (child: Child) => child.stdout().split("\n").filter((line) => line !== "")
const waitFor = (child: Child, pattern: RegExp) => Effect.promise(() => child.waitFor(pattern))
/** SIGINT, as Ctrl-C; resolves with the exit code once the summary is out. */
const stop = (child: Child) =>
  Effect.promise(() => {
    child.process.kill("SIGINT")
    return child.exited
  })

/** A before:adjust-shaped body, signed as a servo would sign it. */
const signedRequest = (body: string, key = secret, id = `msg_${Math.random().toString(36).slice(2)}`) => {
  const bytes = new TextEncoder().encode(body)
  const headers = Signature.signHeaders([Either.getOrThrow(Signature.parseSigningKey(key))], {
    id,
    timestamp: Math.floor(Date.now() / 1000),
    body: bytes
  })
  return { headers: { ...headers, "content-type": "application/json" }, body: bytes }
}

const post = (url: string, request: { headers: Record<string, string>; body: Uint8Array<ArrayBuffer> | string }) =>
  Effect.promise(async () => {
    const response = await fetch(url, { method: "POST", headers: request.headers, body: request.body })
    return { status: response.status, headers: response.headers, text: await response.text() }
  })

/** A servo.yaml whose webhooks all send to `url`, one attempt each unless said otherwise. */
const senderConfig = (url: string, extra = "") =>
  writeConfig(`
webhooks:
  - { name: gate, event: before:adjust, target: "${url}gate", secret: ${secret}, backoff: false, request_timeout: 2s }
  - { name: measurements, event: after:measure, target: "${url}measure", backoff: false }
  - { name: adjusted, event: after:adjust, target: "${url}adjusted", backoff: false }
${extra}`)

describe("listen --forward-to", () => {
  it.scopedLive("forwards each verified delivery as it came and relays the app's answer, cancellations included", () =>
    Effect.gen(function*() {
      const respond: Responder = (request, response) => {
        if (request.json?.event === "before:adjust") {
          response.writeHead(200, { "content-type": cancelType })
          response.end(JSON.stringify({ reason: "the app says no" }))
        } else {
          // An OSC sequence in the answer: printed, it must stay text.
          response.writeHead(202, { "content-type": "application/json", "x-app": "yes" })
          response.end(JSON.stringify({ ok: true, note: "\u001b]0;pwned\u0007" }))
        }
      }
      const target = yield* app(respond)
      const { child, url } = yield* listen(["--secret-env", "LISTEN_SECRET", "--forward-to", target.url], {
        LISTEN_SECRET: secret
      })
      expect(lines(child).slice(0, 3)).toEqual([
        `listening on ${url} (Ctrl-C to stop)`,
        "  signatures: verified with 1 whsec_ secret (v1)",
        `  answers:    the answer of ${target.url} (forwarded)`
      ])

      const cancelled = yield* servo("webhooks", "trigger", "before:adjust", url, "--secret", secret)
      expect(outcome(cancelled)).toBe("cancelled: the app says no")
      const delivered = yield* servo("webhooks", "trigger", "after:measure", `${url}hooks?x=1`, "--secret", secret)
      expect(outcome(delivered)).toBe("delivered")
      expect(cells(delivered.stdout[0]!.split("\n")[1]!)[2]).toBe("202")

      // Same method, headers and body: the signature still verifies at the app.
      expect(target.requests).toHaveLength(2)
      const forwarded = target.requests[1]!
      expect(forwarded.method).toBe("POST")
      expect(forwarded.headers["servo-event"]).toBe("after:measure")
      const verified = Signature.verify([Either.getOrThrow(Signature.parseVerificationKey(secret))], {
        headers: forwarded.headers,
        body: forwarded.body
      })
      expect(Either.isRight(verified)).toBe(true)

      // Headers and body come back to the sender as the app gave them.
      const direct = yield* post(url, signedRequest(JSON.stringify({ event: "after:adjust", parameters: {} })))
      expect(direct.status).toBe(202)
      expect(direct.headers.get("x-app")).toBe("yes")
      expect(JSON.parse(direct.text)).toEqual({ ok: true, note: "\u001b]0;pwned\u0007" })

      // Unverified deliveries are answered here, never forwarded.
      const unsigned = yield* servo("webhooks", "trigger", "after:adjust", url, "--secret", otherSecret)
      expect(outcome(unsigned)).toMatch(/^failed: HTTP 401: servo webhooks listen: not forwarded: INVALID/)
      expect(target.requests).toHaveLength(3)

      yield* waitFor(child, /not forwarded: INVALID/)
      const deliveries = lines(child).slice(3)
      expect(deliveries[0]).toMatch(/^\S+ {2}before:adjust {2}msg_\S+ {2}verified \(v1\) {2}→ 200 {2}\{"parameters"/)
      expect(deliveries[1]).toBe(`  ↳ ${target.url} → 200 cancelled: the app says no  (${deliveries[1]!.match(/\((\d+) ms\)$/)![1]} ms)`)
      expect(deliveries[2]).toMatch(/^\S+ {2}after:measure {2}msg_\S+ {2}verified \(v1\) {2}→ 202 {2}/)
      expect(deliveries[3]).toMatch(new RegExp(`^  ↳ ${target.url} → 202 \\{"ok":true,.*\\}  \\(\\d+ ms\\)$`))
      expect(deliveries[6]).toMatch(/^\S+ {2}after:adjust {2}msg_\S+ {2}→ 401 \(not forwarded: INVALID \(no_matching_signature: /)
      // The app's escape sequence is text, whether JSON escaped it or not.
      expect(child.stdout()).not.toContain("\u001b")
      expect(child.stdout()).not.toContain("\u0007")

      expect(yield* stop(child)).toBe(0)
      expect(lines(child).at(-1)).toBe(
        "stopped: 4 deliveries received (3 verified, 1 invalid, 0 unsigned, 0 unchecked), 1 cancelled, 3 forwarded (0 could not be)"
      )
      expectNoSecrets(child.stdout(), child.stderr(), text([...cancelled.stdout, ...delivered.stdout]))
    }))

  it.scopedLive("an app that cannot be reached: 502 to the sender, and the reason on the line", () =>
    Effect.gen(function*() {
      const port = yield* closedPort
      const { child, url } = yield* listen(["--forward-to", `http://127.0.0.1:${port}/hooks?token=abc`])
      const ran = yield* servo("webhooks", "trigger", "after:measure", "--config", senderConfig(url))
      expect(outcome(ran)).toMatch(/^failed: HTTP 502: servo webhooks listen: could not forward to http:\/\/127\.0\.0\.1:\d+\/hooks\?token=REDACTED: connection refused$/)
      yield* waitFor(child, /↳/)
      expect(lines(child).at(-1)).toBe(`  ↳ http://127.0.0.1:${port}/hooks?token=REDACTED failed: connection refused → answered 502`)
      expect(child.stdout()).not.toContain("abc")
    }))
})

describe("listen as a broken receiver", () => {
  it.scopedLive("--fail-first N fails the first N attempts of each delivery, so the sender's retries are exercised", () =>
    Effect.gen(function*() {
      const { child, url } = yield* listen(["--fail-first", "1", "--status", "500"])
      expect(lines(child)[3]).toBe("  failures:   500 to the first 1 attempt of each delivery")
      const config = senderConfig(url, `  - { name: retried, event: after:describe, target: "${url}retried", backoff: { retries: 2, timeout: 1m } }`)
      const ran = yield* servo("webhooks", "trigger", "after:describe", "--config", config)
      expect(outcome(ran)).toBe("delivered")
      expect(attempts(ran)).toBe("2")
      const deliveries = lines(child).slice(4)
      expect(deliveries).toHaveLength(2)
      expect(deliveries[0]).toMatch(/^\S+ {2}after:describe {2}(msg_\S+) {2}unsigned {2}→ 500 \(failing on purpose: attempt 1\) {2}/)
      // The retry is the same delivery (same id), and it goes through.
      const id = deliveries[0]!.split("  ")[2]
      expect(deliveries[1]).toMatch(new RegExp(`^\\S+ {2}after:describe {2}${id} {2}unsigned {2}→ 204 {2}`))
      expect(yield* stop(child)).toBe(0)
      expect(lines(child).at(-1)).toMatch(/, 1 failed on purpose$/)
    }))

  it.scopedLive("--status alone answers every delivery with it; a gate with on_failure: cancel then cancels the run's adjustment", () =>
    Effect.gen(function*() {
      const { child, url } = yield* listen(["--status", "503"])
      expect(lines(child)[2]).toBe("  answers:    503 to every delivery")
      const config = writeConfig(`
simulator: {}
webhooks:
  - { name: gate, event: before:adjust, target: "${url}gate", backoff: false, on_failure: cancel }
`)
      const ran = yield* Effect.promise(() => runServo(["run", "--cycles", "1", "--config", config]))
      expect(ran.code).toBe(0)
      expect(ran.stdout).toMatch(/adjust .*cancelled by webhooks \(gate\)/)
      yield* waitFor(child, /before:adjust/)
      expect(lines(child).at(-1)).toMatch(/ {2}before:adjust {2}\S+ {2}unsigned {2}→ 503 \(--status 503\) {2}/)
    }))

  it.scopedLive("--delay holds each answer, past a sender's request_timeout", () =>
    Effect.gen(function*() {
      const { child, url } = yield* listen(["--delay", "3s"])
      expect(lines(child)[3]).toBe("  delay:      3s before each answer")
      const config = senderConfig(url, `  - { name: hurried, event: after:describe, target: "${url}", backoff: false, request_timeout: 200ms }`)
      const ran = yield* servo("webhooks", "trigger", "after:describe", "--config", config)
      expect(outcome(ran)).toBe("failed: no answer within 200ms")
      // The delivery is printed once its answer is due, saying that no one was left to get it.
      yield* waitFor(child, /after:describe/)
      expect(lines(child).at(-1)).toMatch(/ {2}after:describe {2}\S+ {2}unsigned {2}→ 204 \(too late: the sender had hung up\) {2}/)
    }))

  it.scopedLive("--fail-rate P with --seed fails the same attempts on every run: those the seeded draws put below P", () =>
    Effect.gen(function*() {
      const seed = 42
      const rate = 0.5
      const draws = yield* Effect.forEach(Array.from({ length: 8 }), () => Random.next).pipe(
        Effect.withRandom(Random.make(seed))
      )
      const expected = draws.map((draw) => draw < rate ? "failed: HTTP 503: servo webhooks listen: failing on purpose: attempt 1" : "delivered")
      // The seed chosen gives a mix: the test would prove little otherwise.
      expect(new Set(expected).size).toBe(2)
      for (let run = 0; run < 2; run++) {
        const { child, url } = yield* listen(["--fail-rate", String(rate), "--seed", String(seed)])
        expect(lines(child)[3]).toBe(`  failures:   503 to 50% of attempts at random (--seed ${seed})`)
        const config = senderConfig(url)
        const outcomes: Array<string> = []
        for (let i = 0; i < 8; i++) outcomes.push(outcome(yield* servo("webhooks", "trigger", "after:measure", "--config", config))!)
        expect(outcomes).toEqual(expected)
        expect(yield* stop(child)).toBe(0)
      }
    }))

  it.scopedLive("bad values are one line and exit 1", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [ReadonlyArray<string>, string]> = [
        [["--fail-rate", "1.5"], "error: --fail-rate 1.5: expected a fraction of attempts from 0 to 1, such as 0.3"],
        [["--status", "99"], "error: --status 99: expected a status from 200 to 599"],
        [["--fail-first", "-1"], "error: --fail-first -1: expected a number of attempts, 0 or more"],
        [["--seed", "3"], "error: --seed chooses which attempts --fail-rate fails; give --fail-rate P too"],
        [["--delay", "soon"], "error: --delay: expected a duration such as 500ms, 10s, 5m or 2h45m (units ns, us, ms, s, m, h), got \"soon\""],
        [["--delay", "2h"], "error: --delay 2h: at most 1h"],
        [["--forward-to", "ftp://127.0.0.1/"], "error: --forward-to: expected an http:// or https:// URL, got a ftp: URL"],
        [["--forward-to", "http://127.0.0.1:9/", "--status", "500"], "error: --status alone answers every delivery itself, so nothing would be forwarded; use it with --fail-first or --fail-rate"],
        [["--cancel-events", "before:adjust"], "error: --cancel-events chooses which events --cancel answers; give --cancel REASON too"],
        [["--secret-env", "SERVO_TEST_LISTEN_UNSET"], "error: --secret-env: environment variable SERVO_TEST_LISTEN_UNSET is not set"]
      ]
      // In parallel: each is a process start-up, and they share nothing.
      const ran = yield* Effect.promise(() =>
        Promise.all(cases.map(([args]) => runServo(["webhooks", "listen", "--port", "0", ...args])))
      )
      expect(ran.map(({ code, stderr, stdout }, i) => ({ args: cases[i]![0], code, stdout, stderr }))).toEqual(
        cases.map(([args, message]) => ({ args, code: 1, stdout: "", stderr: `${message}\n` }))
      )
    }))
})

describe("listen --events and --cancel-events", () => {
  it.scopedLive("--events accepts and shows only the selected events (others 404, a short line); --cancel-events picks what --cancel answers", () =>
    Effect.gen(function*() {
      const { child, url } = yield* listen([
        "--events", "before:adjust,after:measure", "--cancel", "frozen", "--cancel-events", "before:adjust"
      ])
      expect(lines(child).slice(2, 4)).toEqual([
        "  events:     before:adjust, after:measure (others: 404)",
        "  answers:    cancels before:adjust with \"frozen\", 204 otherwise"
      ])
      const config = senderConfig(url)
      expect(outcome(yield* servo("webhooks", "trigger", "before:adjust", "--config", config))).toBe("cancelled: frozen")
      expect(outcome(yield* servo("webhooks", "trigger", "after:measure", "--config", config))).toBe("delivered")
      expect(outcome(yield* servo("webhooks", "trigger", "after:adjust", "--config", config))).toMatch(
        /^failed: HTTP 404: servo webhooks listen: event not selected by --events/
      )
      yield* waitFor(child, /not selected/)
      expect(lines(child).at(-1)).toMatch(/^\S+ {2}after:adjust {2}msg_\S+ {2}→ 404 \(not selected by --events\)$/)
      expect(yield* stop(child)).toBe(0)
      expect(lines(child).at(-1)).toBe(
        "stopped: 3 deliveries received (0 verified, 0 invalid, 2 unsigned, 1 unchecked), 1 cancelled, 1 not selected"
      )
    }))

  it.scopedLive("--cancel with --events and no --cancel-events cancels the selected events", () =>
    Effect.gen(function*() {
      const { child, url } = yield* listen(["--cancel", "stop", "--events", "after:measure"])
      expect(lines(child)[3]).toBe("  answers:    cancels after:measure with \"stop\", 204 otherwise")
      expect(outcome(yield* servo("webhooks", "trigger", "after:measure", url))).toBe("cancelled: stop")
    }))
})

describe("listen --config, --webhook, --secret-env, --secret-file", () => {
  const pair = Signature.generateKeyPair()

  /** listen's config and the sender's: the same webhooks and secret refs, the sender's aimed at `url`. */
  const configs = (url: string, keyFile: string) => {
    const webhooks = (target: string) => `
webhooks:
  - name: gate
    event: before:adjust
    target: "${target}gate?token=q"
    secret: { env: GATE_SECRET }
    authentication: { bearer_token: ${bearer} }
    headers: [{ name: x-team-token, value: { env: TEAM_TOKEN }, secret: true }]
    backoff: false
  - { name: ed, event: after:adjust, target: "${target}ed", signing_key: { file: ${keyFile} }, backoff: false }
  - { name: plain, event: after:measure, target: "${target}plain", backoff: false }
`
    return { listener: writeConfig(webhooks("http://127.0.0.1:9/")), sender: writeConfig(webhooks(url)) }
  }

  it.scopedLive("--config verifies with the webhooks' keys ({ env } and { file } resolved); --json prints one object per delivery, secrets redacted", () =>
    Effect.gen(function*() {
      const keyFile = path.join(tempDir(), "signing.key")
      fs.writeFileSync(keyFile, `${pair.signingKey}\n`)
      const env = { GATE_SECRET: secret, TEAM_TOKEN: teamToken }
      const listenerConfig = configs("http://127.0.0.1:9/", keyFile).listener
      const { child, url } = yield* listen(["--config", listenerConfig, "--json"], env)
      // With --json, stdout is NDJSON only: the banner went to stderr.
      expect(child.stderr()).toContain(`  signatures: verified with 1 whsec_ secret (v1) and 1 whpk_ public key (v1a) from ${listenerConfig} (gate, ed)`)
      const { sender } = configs(url, keyFile)
      for (const event of ["before:adjust", "after:adjust", "after:measure"]) {
        const ran = yield* Effect.promise(() => runServo(["webhooks", "trigger", event, "--config", sender], { env }))
        expect(ran.code).toBe(0)
      }
      yield* waitFor(child, /after:measure/)
      const objects = lines(child).map((line) => JSON.parse(line))
      expect(objects.map((o) => [o.event, o.path, o.signature.result, o.signature.scheme, o.answer.status])).toEqual([
        ["before:adjust", "/gate?token=REDACTED", "verified", "v1", 204],
        ["after:adjust", "/ed", "verified", "v1a", 204],
        ["after:measure", "/plain", "unsigned", undefined, 204]
      ])
      expect(objects[0].headers).toMatchObject({ authorization: "REDACTED", "x-team-token": "REDACTED", "servo-event": "before:adjust" })
      expect(objects[0].id).toMatch(/^msg_/)
      expect(objects[0].body.parameters.adjustments[0].value).toBe(3)
      expect(yield* stop(child)).toBe(0)
      expectNoSecrets(child.stdout(), child.stderr())
      expect(child.stdout() + child.stderr()).not.toContain(pair.signingKey.slice(5))
    }))

  it.scopedLive("--webhook NAME takes one webhook's keys; a name that is not there, or signs nothing, is one line", () =>
    Effect.gen(function*() {
      const keyFile = path.join(tempDir(), "signing.key")
      fs.writeFileSync(keyFile, pair.signingKey)
      const env = { GATE_SECRET: secret, TEAM_TOKEN: teamToken }
      const { listener } = configs("http://127.0.0.1:9/", keyFile)
      const { child } = yield* listen(["--config", listener, "--webhook", "ed"], env)
      expect(lines(child)[1]).toBe(`  signatures: verified with 1 whpk_ public key (v1a) from ${listener} (ed)`)
      const missing = yield* Effect.promise(() => runServo(["webhooks", "listen", "--port", "0", "--config", listener, "--webhook", "nope"], { env }))
      expect(missing).toEqual({ code: 1, stdout: "", stderr: `error: --webhook nope: no webhook of that name in ${listener}; its webhooks: gate, ed, plain\n` })
      const unsigned = yield* Effect.promise(() => runServo(["webhooks", "listen", "--port", "0", "--config", listener, "--webhook", "plain"], { env }))
      expect(unsigned.stderr).toBe(`error: --webhook plain: it signs nothing (no secret or signing_key in ${listener})\n`)
      const unset = yield* Effect.promise(() => runServo(["webhooks", "listen", "--port", "0", "--config", listener, "--webhook", "gate"], { env: { TEAM_TOKEN: teamToken } }))
      expect(unset.code).toBe(1)
      expect(unset.stderr).toContain("webhooks[0].secret: environment variable GATE_SECRET is not set")
    }))

  it.scopedLive("--secret-file and --public-key-env give keys off the command line; --help says why", () =>
    Effect.gen(function*() {
      const secretFile = path.join(tempDir(), "secret")
      fs.writeFileSync(secretFile, `${secret}\n`)
      const { child, url } = yield* listen(["--secret-file", secretFile, "--public-key-env", "LISTEN_PUBLIC_KEY"], {
        LISTEN_PUBLIC_KEY: pair.publicKey
      })
      expect(lines(child)[1]).toBe("  signatures: verified with 1 whsec_ secret (v1) and 1 whpk_ public key (v1a)")
      yield* servo("webhooks", "trigger", "after:measure", url, "--secret", secret)
      yield* servo("webhooks", "trigger", "after:adjust", url, "--signing-key", pair.signingKey)
      yield* waitFor(child, /after:adjust/)
      expect(lines(child).slice(-2).map((line) => line.split("  ")[3])).toEqual(["verified (v1)", "verified (v1a)"])

      const empty = path.join(tempDir(), "empty")
      fs.writeFileSync(empty, "\n")
      const emptyFile = yield* Effect.promise(() => runServo(["webhooks", "listen", "--port", "0", "--secret-file", empty]))
      expect(emptyFile.stderr).toBe(`error: --secret-file: file ${empty} is empty\n`)

      const help = yield* Effect.promise(() => runServo(["webhooks", "listen", "--help"]))
      expect(help.stdout).toContain("a literal --secret is visible to other local users in /proc/PID/cmdline")
      expect(help.stdout.indexOf("--secret-env")).toBeLessThan(help.stdout.indexOf("--secret whsec_"))
      expect(help.stdout.indexOf("--secret-file")).toBeLessThan(help.stdout.indexOf("--secret whsec_"))
    }))
})

describe("listen prints network text safely", () => {
  const forged = "\u001b[2J\u001b[H12:00:00.000  before:adjust  msg_forged  verified (v1)  → 204\r\n"

  it.scopedLive("an event with escape sequences cannot clear the screen or forge a verified line (text and --verbose)", () =>
    Effect.gen(function*() {
      const { child, url } = yield* listen(["--secret", secret, "--verbose"])
      const answer = yield* post(`${url}p?token=hidden`, {
        headers: { "content-type": "application/json", "x-note": "a", authorization: `Bearer ${bearer}` },
        body: JSON.stringify({ event: forged, parameters: { evil: "\u009b31m" } })
      })
      expect(answer.status).toBe(204)
      yield* waitFor(child, /header {3}x-note/)
      const out = child.stdout()
      expect(out).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/)
      expect(out).toContain("\\x1b[2J\\x1b[H12:00:00.000  before:adjust  msg_forged  verified (v1)  → 204\\x0d\\x0a")
      // No line starts as a delivery line would but the real one.
      expect(lines(child).filter((line) => /^\d\d:\d\d:\d\d\.\d{3} /.test(line))).toHaveLength(1)
      expect(lines(child).filter((line) => line.includes("verified (v1)"))).toHaveLength(1)
      expect(lines(child)[3]).toMatch(/ {2}\(no id\) {2}unsigned {2}→ 204 {2}/)
      expect(lines(child)).toContain("  path     /p?token=REDACTED")
      expect(lines(child)).toContain("  header   authorization: REDACTED")
      expect(out).not.toContain("hidden")
      expectNoSecrets(out)
    }))

  it.scopedLive("--json escapes the same text as JSON, so it parses back to what was sent", () =>
    Effect.gen(function*() {
      const { child, url } = yield* listen(["--json"])
      yield* post(url, { headers: { "content-type": "application/json" }, body: JSON.stringify({ event: forged, x: "\u009b\u2028" }) })
      yield* waitFor(child, /\}\n/)
      expect(child.stdout()).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028]/)
      const [object] = lines(child).map((line) => JSON.parse(line))
      expect(object.event).toBe(forged)
      expect(object.body.x).toBe("\u009b\u2028")
      expect(object.signature).toEqual({ result: "unsigned" })
    }))
})

// In-process (ServoCommand.main in a fiber): the banner, signature checks and option errors.
describe("servo webhooks listen", () => {
  it.live("prints each delivery as it arrives, verifies signatures, cancels before events with --cancel", () =>
    Effect.gen(function*() {
      const listening = yield* servoFork(
        "webhooks", "listen", "--port", "0", "--secret", secret, "--cancel", "not during the sale"
      )
      const [, url] = yield* waitForLine(listening.output.stdout, /^listening on (http:\/\/127\.0\.0\.1:\d+\/) /)
      expect(listening.output.stdout[0]!.split("\n")).toEqual([
        `listening on ${url} (Ctrl-C to stop)`,
        "  signatures: verified with 1 whsec_ secret (v1)",
        "  answers:    cancels before:* with \"not during the sale\", 204 otherwise"
      ])

      const cancelled = yield* servo("webhooks", "trigger", "before:adjust", url!, "--secret", secret)
      expect(outcome(cancelled)).toBe("cancelled: not during the sale")
      const unsigned = yield* servo("webhooks", "trigger", "after:measure", url!)
      expect(outcome(unsigned)).toBe("delivered")
      const forgedRun = yield* servo("webhooks", "trigger", "after:adjust", url!, "--secret", otherSecret)
      expect(outcome(forgedRun)).toBe("delivered")

      yield* waitForLine(listening.output.stdout, /after:adjust/)
      const deliveries = listening.output.stdout.slice(1)
      expect(deliveries).toHaveLength(3)
      expect(deliveries[0]).toMatch(
        /^\d\d:\d\d:\d\d\.\d{3} {2}before:adjust {2}msg_[\w-]{22} {2}verified \(v1\) {2}→ cancelled: not during the sale {2}\{"parameters":\{"adjustments":/
      )
      expect(deliveries[1]).toMatch(/^\S+ {2}after:measure {2}msg_[\w-]{22} {2}unsigned {2}→ 204 {2}\{"parameters":.*"results":/)
      expect(deliveries[2]).toMatch(/^\S+ {2}after:adjust {2}msg_[\w-]{22} {2}INVALID \(no_matching_signature: .*\) {2}→ 204 /)

      yield* Fiber.interrupt(listening.fiber)
      expect(listening.output.stdout.at(-1)).toBe(
        "stopped: 3 deliveries received (1 verified, 1 invalid, 1 unsigned, 0 unchecked), 1 cancelled"
      )
      const all = text([...listening.output.stdout, ...listening.output.stderr, ...cancelled.stdout, ...forgedRun.stdout])
      expectNoSecrets(all)
    }))

  it.live("bad options are one line and exit 1", () =>
    Effect.gen(function*() {
      expect(yield* servo("webhooks", "listen", "--port", "0", "--cancel", "x", "--events", "adjust")).toEqual({
        code: 1,
        stdout: [],
        stderr: ["error: --events adjust: missing preposition: expected before:adjust or after:adjust"]
      })
      const badKey = yield* servo("webhooks", "listen", "--port", "0", "--secret", "whsec_tooshort")
      expect(badKey.code).toBe(1)
      expect(badKey.stderr).toHaveLength(1)
      expect(badKey.stderr[0]).toMatch(/^error: --secret: /)
      expect(badKey.stderr[0]).not.toContain("tooshort")
    }))

  it.live("an empty --secret or --public-key, or a bare --secret, is refused with one line: it would turn checking off", () =>
    Effect.gen(function*() {
      for (
        const args of [["--secret", ""], ["--secret"], ["--public-key", ""], ["--public-key"], ["--secret", "  "]]
      ) {
        const listening = yield* servoFork("webhooks", "listen", "--port", "0", ...args)
        // Whichever comes first: the command ending, or a receiver that started anyway.
        const ended = yield* Effect.raceFirst(
          Fiber.join(listening.fiber),
          Effect.as(waitForLine(listening.output.stdout, /^listening on /), "listening" as const)
        )
        yield* listening.stop
        expect(ended, args.join(" ")).toBe(1)
        expect(listening.output.stdout).toEqual([])
        expect(listening.output.stderr, args.join(" ")).toEqual([
          expect.stringMatching(new RegExp(`^error: ${args[0]}: .*empty`))
        ])
      }
    }))

  it.live("a port in use: one line, exit 1", () =>
    Effect.gen(function*() {
      const taken = yield* Receiver.make()
      const ran = yield* servo("webhooks", "listen", "--port", String(taken.port))
      expect(ran).toEqual({
        code: 1,
        stdout: [],
        stderr: [
          `error: cannot listen on 127.0.0.1:${taken.port}: the address is already in use (choose another --port, or 0 for any free port)`
        ]
      })
      // A port out of range: Node throws at once rather than emitting an error; still one line.
      const outOfRange = yield* servo("webhooks", "listen", "--port", "70000")
      expect(outOfRange).toMatchObject({ code: 1, stdout: [] })
      expect(outOfRange.stderr).toEqual([expect.stringMatching(/^error: cannot listen on 127\.0\.0\.1:70000: /)])
    }).pipe(Effect.scoped))
})

describe("servo webhooks listen: Ed25519 and several keys", () => {
  const pairA = Signature.generateKeyPair()
  const pairB = Signature.generateKeyPair()
  const stranger = Signature.generateKeyPair()
  const keySecrets = [pairA.signingKey, pairB.signingKey, stranger.signingKey].map((key) => key.slice(5))

  it.live("--public-key verifies v1a, --secret v1, several of each; each delivery says which, or INVALID, or unsigned", () =>
    Effect.gen(function*() {
      const listening = yield* servoFork(
        "webhooks", "listen", "--port", "0",
        "--secret", otherSecret, "--secret", secret,
        "--public-key", pairA.publicKey, "--public-key", pairB.publicKey
      )
      const [, url] = yield* waitForLine(listening.output.stdout, /^listening on (http:\/\/127\.0\.0\.1:\d+\/) /)
      expect(listening.output.stdout[0]!.split("\n")[1]).toBe(
        "  signatures: verified with 2 whsec_ secrets (v1) and 2 whpk_ public keys (v1a)"
      )
      const config = writeConfig(`
webhooks:
  - { name: ed, event: before:adjust, target: "${url}ed", signing_key: ${pairB.signingKey}, backoff: false }
  - { name: rotating, event: after:measure, target: "${url}hmac", secret: [whsec_c3RhbGUgc2VjcmV0LCBhdCBsZWFzdCAyNCBieXRlcw==, ${secret}] }
  - { name: stranger, event: after:adjust, target: "${url}stranger", signing_key: ${stranger.signingKey} }
  - { name: plain, event: after:describe, target: "${url}plain" }
`)
      const runs: Array<Ran> = []
      for (const event of ["before:adjust", "after:measure", "after:adjust", "after:describe"]) {
        const ran = yield* servo("webhooks", "trigger", event, "--config", config)
        expect(ran.code).toBe(0)
        runs.push(ran)
        yield* waitForLine(listening.output.stdout, new RegExp(`  ${event}  `))
      }
      const deliveries = listening.output.stdout.slice(1)
      expect(deliveries.map((line) => line.split("  ").slice(1, 4).filter((_, i) => i !== 1))).toEqual([
        ["before:adjust", "verified (v1a)"],
        ["after:measure", "verified (v1)"],
        ["after:adjust", expect.stringMatching(/^INVALID \(no_matching_signature: .*1 v1a.*2 whsec_ secrets, 2 whpk_ public keys\)\)$/)],
        ["after:describe", "unsigned"]
      ])
      yield* Fiber.interrupt(listening.fiber)
      expect(listening.output.stdout.at(-1)).toBe(
        "stopped: 4 deliveries received (2 verified, 1 invalid, 1 unsigned, 0 unchecked), 0 cancelled"
      )
      const all = text([...listening.output.stdout, ...listening.output.stderr, ...runs.flatMap((r) => [...r.stdout, ...r.stderr])])
      expectNoSecrets(all)
      for (const value of keySecrets) expect(all).not.toContain(value)
    }))

  it.live("a key given to the wrong option: one line with a hint, exit 1, the key never echoed", () =>
    Effect.gen(function*() {
      const signingKey = yield* servo("webhooks", "listen", "--port", "0", "--public-key", pairA.signingKey)
      expect(signingKey).toEqual({
        code: 1,
        stdout: [],
        stderr: [
          "error: --public-key: invalid webhook key: expected whpk_ but this is a whsk_ signing key; a signing key stays with the servo: give its whpk_ public key (servo webhooks keys --ed25519 prints both)"
        ]
      })
      const publicAsSecret = yield* servo("webhooks", "listen", "--port", "0", "--secret", pairA.publicKey)
      expect(publicAsSecret).toEqual({
        code: 1,
        stdout: [],
        stderr: ["error: --secret: invalid webhook key: expected whsec_ but this is a whpk_ public key; give a whpk_ public key with --public-key"]
      })
      const bad = yield* servo("webhooks", "listen", "--port", "0", "--public-key", "whpk_AAAA")
      expect(bad.code).toBe(1)
      expect(bad.stderr[0]).toMatch(/^error: --public-key: invalid webhook key: expected whpk_ followed by base64 of 32 bytes/)
      expect(text([...signingKey.stderr, ...publicAsSecret.stderr])).not.toContain(keySecrets[0])
    }))
})

describe("the config files the README runs", () => {
  it("examples/secure.yaml lists as the README shows; slow.yaml and stuck.yaml are valid", async () => {
    const readme = fs.readFileSync("README.md", "utf8")
    const list = await runServo(["webhooks", "list", "--config", "examples/secure.yaml"])
    expect(list.code).toBe(0)
    expect(readme).toContain(`$ servo webhooks list --config secure.yaml\n${list.stdout}\`\`\``)
    for (const [file, valid] of [["examples/slow.yaml", "valid: 2 webhooks"], ["examples/stuck.yaml", "valid: 1 webhook"]]) {
      const ran = await runServo(["webhooks", "validate", "--config", file!])
      expect({ file, code: ran.code, stdout: ran.stdout }).toEqual({ file, code: 0, stdout: `${valid}\n` })
    }
  })
})
