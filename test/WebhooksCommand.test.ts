/**
 * `servo webhooks ...` in-process: `ServoCommand.main` with argv and a Console that records
 * everything printed, against real receivers on 127.0.0.1.
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Ajv } from "ajv"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Receiver from "../src/webhooks/Receiver.js"
import * as Signature from "../src/webhooks/Signature.js"
import * as WireContract from "../src/webhooks/WireContract.js"
import { type Ran, removeTempDirs, servo as servoIn, tempDir, text, writeConfig } from "./support/cli.js"
import { cancel, closedPort, receiver as testReceiver, status } from "./support/receiver.js"

// Distinctive secret values: none may ever show up in anything a command prints.
const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
const otherSecret = "whsec_dGhlIG90aGVyIHNlY3JldCwgMjQgYnl0ZXMhIQ=="
const bearer = "tok-SECRET-9f3a"
const password = "pw-SECRET-7777"
const queryToken = "qs-SECRET-4242"
const headerValue = "hdr-SECRET-5151"
const secretHeader = "hdr2-SECRET-1212"
const signingKey = Signature.generateKeyPair().signingKey
const tlsCert = "tls-cert-SECRET-7070"
const tlsKey = "tls-key-SECRET-8080"
const proxyUrl = "http://proxyuser:proxy-SECRET-6060@proxy.internal:3128"
const pairPublicKey = Signature.generateKeyPair().publicKey
const secrets = [
  secret,
  secret.slice(6),
  otherSecret.slice(6),
  bearer,
  password,
  queryToken,
  headerValue,
  secretHeader,
  signingKey.slice(5),
  tlsCert,
  tlsKey,
  "proxy-SECRET-6060"
]

const passwordVariable = "SERVO_TEST_CLI_PASSWORD"

/**
 * The environment a command sees, through its ConfigProvider (never `process.env`): the
 * fixture's password and nothing else, so a proxy in the machine's environment cannot show up in
 * listings or carry deliveries.
 */
const environment = (variables: Record<string, string> = { [passwordVariable]: password }) =>
  ConfigProvider.fromMap(new Map(Object.entries(variables)))
const servoWith = (provider: ConfigProvider.ConfigProvider, ...args: ReadonlyArray<string>) =>
  servoIn(...args).pipe(Effect.withConfigProvider(provider))
const servo = (...args: ReadonlyArray<string>) => servoWith(environment(), ...args)
afterAll(() => removeTempDirs())

const expectNoSecrets = (...runs: ReadonlyArray<Pick<Ran, "stdout" | "stderr">>) => {
  const all = runs.map((run) => text([...run.stdout, ...run.stderr])).join("\n")
  for (const value of secrets) expect(all).not.toContain(value)
}

/** A servo.yaml with one webhook of each kind; every target on `base` (a receiver's URL). */
const fixture = (base: string) => `
name: fixture
simulator: {}
webhooks:
  - name: measure_hook
    event: after:measure
    target: ${base}measure?token=${queryToken}&team=perf
    authentication: { bearer_token: ${bearer} }
    headers: [{ name: x-api-key, value: ${headerValue} }]
  - name: approve
    events: [before:adjust, before:measure]
    target: ${base}approve
    authentication: { basic: { username: ops, password: { env: ${passwordVariable} } } }
    secret: ${secret}
    backoff: false
    request_timeout: 2s
  - name: quiet
    event: after:adjust
    target: https://example.invalid/hook#frag
    backoff: { retries: 1, timeout: 30s }
`

/** Splits a table printed with two-space gaps into cells. */
const cells = (line: string) => line.trim().split(/\s{2,}/)

const key = Either.getOrThrow(Signature.parseVerificationKey(secret))

describe("servo webhooks list", () => {
  it.live("prints the table: name, events, redacted target, auth, signed, backoff", () =>
    Effect.gen(function*() {
      const config = writeConfig(fixture("http://127.0.0.1:9/"))
      const ran = yield* servo("webhooks", "list", "--config", config)
      expect(ran.code).toBe(0)
      expect(ran.stderr).toEqual([])
      expect(ran.stdout.length).toBe(1)
      const [header, ...rows] = ran.stdout[0]!.split("\n")
      expect(cells(header!)).toEqual(["NAME", "EVENTS", "TARGET", "AUTH", "SIGNED", "BACKOFF"])
      expect(rows.map(cells)).toEqual([
        ["measure_hook", "after:measure", "http://127.0.0.1:9/measure?token=REDACTED&team=REDACTED", "bearer", "no", "12 retries, 24h"],
        ["approve", "before:adjust,before:measure", "http://127.0.0.1:9/approve", "basic", "v1", "off"],
        ["quiet", "after:adjust", "https://example.invalid/hook#REDACTED", "none", "no", "1 retry, 30s"]
      ])
      expectNoSecrets(ran)
    }))

  it.live("--json: the same facts, machine-readable; no secret read or printed", () =>
    Effect.gen(function*() {
      const config = writeConfig(fixture("http://127.0.0.1:9/"))
      // list never resolves secrets: an unset variable is not its business.
      const ran = yield* servoWith(environment({}), "webhooks", "list", "--json", "--config", config)
      expect(ran.code).toBe(0)
      expect(JSON.parse(text(ran.stdout))).toEqual([
        {
          name: "measure_hook",
          events: ["after:measure"],
          target: "http://127.0.0.1:9/measure?token=REDACTED&team=REDACTED",
          auth: "bearer",
          signed: false,
          signatures: [],
          backoff: { retries: 12, timeout: "24h" },
          request_timeout: "10s",
          on_failure: "ignore",
          headers: ["x-api-key"],
          transport: { tls: null, proxy: null, http2: null, network: null },
          max_in_flight: null,
          breaker: { failures: 10, cooldown: "30s" }
        },
        {
          name: "approve",
          events: ["before:adjust", "before:measure"],
          target: "http://127.0.0.1:9/approve",
          auth: "basic",
          signed: true,
          signatures: ["v1"],
          backoff: false,
          request_timeout: "2s",
          on_failure: "ignore",
          headers: [],
          transport: { tls: null, proxy: null, http2: null, network: null },
          max_in_flight: null,
          breaker: { failures: 10, cooldown: "30s" }
        },
        {
          name: "quiet",
          events: ["after:adjust"],
          target: "https://example.invalid/hook#REDACTED",
          auth: "none",
          signed: false,
          signatures: [],
          backoff: { retries: 1, timeout: "30s" },
          request_timeout: "10s",
          on_failure: "ignore",
          headers: [],
          transport: { tls: null, proxy: null, http2: null, network: null },
          max_in_flight: null,
          breaker: { failures: 10, cooldown: "30s" }
        }
      ])
      expectNoSecrets(ran)
    }))

  it.live("the security fields: SIGNED per key (rotation, v1a), TRANSPORT, the mapping form; no secret of any kind printed", () =>
    Effect.gen(function*() {
      const config = writeConfig(`
webhooks:
  network: { deny_private: true, allow: [10.20.0.0/16] }
  hooks:
    - name: rotating
      event: after:measure
      target: https://hooks.example.com/m?token=${queryToken}
      secret: [${secret}, { env: SERVO_TEST_CLI_UNSET }]
      headers:
        - { name: x-api-token, value: ${secretHeader}, secret: true }
        - { name: x-team, value: perf }
    - name: ed
      event: before:adjust
      target: https://hooks.example.com/ed
      signing_key: ${signingKey}
      backoff: false
      tls: { insecure_skip_verify: true }
    - name: both
      event: after:adjust
      target: https://hooks.example.com/both
      secret: { env: SERVO_TEST_CLI_UNSET }
      signing_key: [{ env: SERVO_TEST_CLI_UNSET }, { file: /nonexistent/key }]
      tls: { ca: { file: /nonexistent/ca.pem }, cert: ${tlsCert}, key: ${tlsKey} }
      proxy: ${proxyUrl}
      http2: true
    - name: plain
      event: after:describe
      target: http://127.0.0.1:9/plain
      network: { deny_private: false }
      http2: true
`)
      const ran = yield* servo("webhooks", "list", "--config", config)
      expect(ran.code).toBe(0)
      const [header, ...rows] = ran.stdout[0]!.split("\n")
      expect(cells(header!)).toEqual(["NAME", "EVENTS", "TARGET", "AUTH", "SIGNED", "BACKOFF", "TRANSPORT"])
      expect(rows.map((row) => [cells(row)[0], cells(row)[2], ...cells(row).slice(4)])).toEqual([
        ["rotating", "https://hooks.example.com/m?token=REDACTED", "v1 ×2", "12 retries, 24h", "guarded"],
        ["ed", "https://hooks.example.com/ed", "v1a", "off", "insecure,guarded"],
        ["both", "https://hooks.example.com/both", "v1+v1a ×2", "12 retries, 24h", "mtls,ca,proxy,h2,guarded"],
        // Its own network (guard off) replaces the section's.
        ["plain", "http://127.0.0.1:9/plain", "no", "12 retries, 24h", "h2c"]
      ])

      const json = yield* servo("webhooks", "list", "--json", "--config", config)
      const listed = JSON.parse(text(json.stdout))
      expect(listed.map((w: any) => [w.name, w.signed, w.signatures])).toEqual([
        ["rotating", true, ["v1", "v1"]],
        ["ed", true, ["v1a"]],
        ["both", true, ["v1", "v1a", "v1a"]],
        ["plain", false, []]
      ])
      expect(listed[0].headers).toEqual(["x-api-token", "x-team"])
      expect(listed.map((w: any) => w.transport)).toEqual([
        { tls: null, proxy: null, http2: null, network: { deny_private: true, allow: ["10.20.0.0/16"] } },
        {
          tls: { custom_ca: false, client_certificate: false, verify: false },
          proxy: null,
          http2: null,
          network: { deny_private: true, allow: ["10.20.0.0/16"] }
        },
        {
          tls: { custom_ca: true, client_certificate: true, verify: true },
          proxy: "config",
          http2: "h2",
          network: { deny_private: true, allow: ["10.20.0.0/16"] }
        },
        { tls: null, proxy: null, http2: "h2c", network: null }
      ])
      expectNoSecrets(ran, json)
      const all = text([...ran.stdout, ...json.stdout])
      for (const value of [secretHeader, signingKey.slice(5), tlsCert, tlsKey, "proxy-SECRET", "proxyuser"]) {
        expect(all).not.toContain(value)
      }
    }))

  it.live("a proxy from the environment is listed by its variable's name, never its URL; NO_PROXY and loopback are not proxied", () =>
    Effect.gen(function*() {
      const config = writeConfig(`
webhooks:
  - { name: out, event: after:measure, target: "https://hooks.example.com/a" }
  - { name: exempt, event: after:measure, target: "https://internal.example.org/b" }
  - { name: local, event: after:measure, target: "http://127.0.0.1:9/c" }
  - { name: opted_out, event: after:measure, target: "https://hooks.example.com/d", proxy: false }
`)
      const proxied = environment({ [passwordVariable]: password, HTTPS_PROXY: proxyUrl, HTTP_PROXY: proxyUrl, NO_PROXY: "example.org" })
      const ran = yield* servoWith(proxied, "webhooks", "list", "--config", config)
      expect(ran.code).toBe(0)
      expect(ran.stdout[0]!.split("\n").slice(1).map((row) => [cells(row)[0], cells(row).at(-1)])).toEqual([
        ["out", "proxy:HTTPS_PROXY"],
        ["exempt", "-"],
        ["local", "-"],
        ["opted_out", "-"]
      ])
      expect(text(ran.stdout)).not.toContain("proxy-SECRET")
      expect(text(ran.stdout)).not.toContain("proxy.internal")
    }))

  it.live("a config without webhooks lists none; a missing file is one line and exit 1", () =>
    Effect.gen(function*() {
      const empty = writeConfig("simulator: {}\n")
      const none = yield* servo("webhooks", "list", "--config", empty)
      expect(none).toMatchObject({ code: 0, stdout: [`no webhooks in ${empty}`] })
      expect(JSON.parse(text((yield* servo("webhooks", "list", "--json", "--config", empty)).stdout))).toEqual([])

      const missing = path.join(tempDir(), "servo.yaml")
      const ran = yield* servo("webhooks", "list", "--config", missing)
      expect(ran).toEqual({
        code: 1,
        stdout: [],
        stderr: [`error: ${missing}: no such file (create one with \`servo generate --defaults webhooks\`, or pass --config FILE)`]
      })
    }))

  it.live("an invalid config: a one-line header, then one line per problem with its path", () =>
    Effect.gen(function*() {
      const config = writeConfig(`
simulatr: {}
webhooks:
  - event: after:measure
    target: ftp://example.com/x
    backoff: { retries: -1 }
`)
      const ran = yield* servo("webhooks", "list", "--config", config)
      expect(ran.code).toBe(1)
      expect(ran.stdout).toEqual([])
      expect(ran.stderr.join("\n").split("\n")).toEqual([
        `error: ${config}: 3 problems`,
        "  - simulatr: unknown connector; known connectors: simulator, webhooks, telemetry (and `name` for the servo)",
        "  - webhooks[0].target: expected an http or https URL, got a ftp: URL",
        "  - webhooks[0].backoff.retries: expected a whole number of retries (0 or more), got -1"
      ])
    }))
})

describe("servo webhooks schema", () => {
  it.live("prints { event, content_type, schema } for a core event, without a config file", () =>
    Effect.gen(function*() {
      const missing = path.join(tempDir(), "absent.yaml")
      const ran = yield* servo("webhooks", "schema", "after:measure", "--config", missing)
      expect(ran.code).toBe(0)
      const printed = JSON.parse(text(ran.stdout))
      expect(Object.keys(printed)).toEqual(["event", "content_type", "schema"])
      expect(printed.event).toBe("after:measure")
      expect(printed.content_type).toBe("application/vnd.opsani.servo-webhooks+json; version=1")
      expect(printed.schema).toEqual(JSON.parse(JSON.stringify(WireContract.jsonSchema(
        (yield* Effect.promise(() => import("../src/servo/CoreEvents.js"))).measure,
        "after"
      ))))
      expect(printed.schema.$ref).toBe("#/$defs/after_measure")
      expect(printed.schema.$defs.after_measure.required).toEqual(["id", "event", "created_at", "parameters", "results"])

      const before = JSON.parse(text((yield* servo("webhooks", "schema", "before:adjust")).stdout))
      expect(before.event).toBe("before:adjust")
      expect(before.schema.$defs.before_adjust.required).toEqual(["id", "event", "created_at", "parameters"])
      expect(before.schema.$defs.before_adjust.properties).not.toHaveProperty("results")
    }))

  it.live("the schema validates the body of a real delivery (ajv)", () =>
    Effect.gen(function*() {
      const bodies: Array<unknown> = []
      const receiver = yield* Receiver.make({ onDelivery: (delivery) => Effect.sync(() => void bodies.push(delivery.json)) })
      const ajv = new Ajv({ strict: false, validateFormats: false })
      for (const event of ["after:measure", "before:adjust", "after:describe", "before:check"]) {
        const schema = JSON.parse(text((yield* servo("webhooks", "schema", event)).stdout)).schema
        const sent = yield* servo("webhooks", "trigger", event, receiver.url)
        expect(sent.code).toBe(0)
        const body = bodies.at(-1) as { event: string }
        expect(body.event).toBe(event)
        const validate = ajv.compile(schema)
        expect(validate(body), JSON.stringify(validate.errors)).toBe(true)
        // And the schema does say something: a body of the wrong shape fails it.
        expect(validate({ ...body, parameters: "not an object" })).toBe(false)
      }
    }).pipe(Effect.scoped))

  it.live("an unknown event: one line naming it and listing the known events, exit 1", () =>
    Effect.gen(function*() {
      const ran = yield* servo("webhooks", "schema", "after:bogus")
      expect(ran).toEqual({
        code: 1,
        stdout: [],
        stderr: [
          "error: after:bogus: unknown event \"bogus\"; known events: adjust, check, components, describe, measure, metrics, promote, shutdown, startup"
        ]
      })
    }))

  it.live("on: and bare names are refused with the reason the config gives", () =>
    Effect.gen(function*() {
      expect(yield* servo("webhooks", "schema", "on:measure")).toMatchObject({
        code: 1,
        stderr: [
          "error: on:measure: webhooks run before or after an event, not on it (an on webhook would be a handler, not a callback); use before:measure or after:measure"
        ]
      })
      expect(yield* servo("webhooks", "schema", "measure")).toMatchObject({
        code: 1,
        stderr: ["error: measure: missing preposition: expected before:measure or after:measure"]
      })
      expect((yield* servo("webhooks", "schema", "after:*")).stderr[0]).toMatch(/^error: after:\*: name one event/)
    }))
})

describe("servo webhooks trigger", () => {
  it.live("delivers the example payload to every webhook configured for the event, through the delivery code", () =>
    Effect.gen(function*() {
      const seen: Array<Receiver.Delivery> = []
      const receiver = yield* Receiver.make({
        keys: [key],
        policy: (request) => request.path === "/approve" ? Receiver.cancel("frozen for the release") : Receiver.accept,
        onDelivery: (delivery) => Effect.sync(() => void seen.push(delivery))
      })
      const config = writeConfig(fixture(receiver.url))

      const measure = yield* servo("webhooks", "trigger", "after:measure", "--config", config)
      expect(measure.code).toBe(0)
      const [header, row] = measure.stdout[0]!.split("\n")
      expect(cells(header!)).toEqual(["TARGET", "OUTCOME", "STATUS", "ATTEMPTS", "MS"])
      expect(cells(row!).slice(0, 4)).toEqual(["measure_hook", "delivered", "204", "1"])
      expect(cells(row!)[4]).toMatch(/^\d+$/)
      // Authentication, headers and the query string went out on the wire, never to the terminal.
      const delivered = seen.at(-1)!
      expect(delivered.event).toBe("after:measure")
      expect(delivered.path).toBe(`/measure?token=${queryToken}&team=perf`)
      expect(delivered.headers["authorization"]).toBe(`Bearer ${bearer}`)
      expect(delivered.headers["x-api-key"]).toBe(headerValue)
      expect(delivered.signature._tag).toBe("Unsigned")
      expect((delivered.json as any).results).toEqual([
        expect.objectContaining({ connector: "example", value: expect.objectContaining({ readings: expect.any(Array) }) })
      ])

      const adjust = yield* servo("webhooks", "trigger", "before:adjust", "--config", config)
      expect(adjust.code).toBe(0)
      expect(cells(adjust.stdout[0]!.split("\n")[1]!).slice(0, 4)).toEqual([
        "approve",
        "cancelled: frozen for the release",
        "200",
        "1"
      ])
      expect(seen.at(-1)!.signature._tag).toBe("Verified")
      expect(seen.at(-1)!.headers["authorization"]).toBe(`Basic ${Buffer.from(`ops:${password}`).toString("base64")}`)

      // The one named.
      const named = yield* servo("webhooks", "trigger", "before:measure", "approve", "--config", config)
      expect(named.code).toBe(0)
      expect(seen.at(-1)!.event).toBe("before:measure")
      expect(seen.length).toBe(3)
      expectNoSecrets(measure, adjust, named)
    }).pipe(Effect.scoped))

  it.live("to a URL: no config file, unsigned unless --secret", () =>
    Effect.gen(function*() {
      const seen: Array<Receiver.Delivery> = []
      const publicKey = Either.getOrThrow(Signature.parsePrivateKey(signingKey)).publicKey
      const receiver = yield* Receiver.make({ keys: [key, publicKey], onDelivery: (d) => Effect.sync(() => void seen.push(d)) })
      const cwd = path.join(tempDir(), "nothing-here.yaml")
      const url = `${receiver.url}hook?token=${queryToken}`

      const unsigned = yield* servo("webhooks", "trigger", "after:adjust", url, "--config", cwd)
      expect(unsigned.code).toBe(0)
      expect(cells(unsigned.stdout[0]!.split("\n")[1]!).slice(0, 4)).toEqual([
        `${receiver.url}hook?token=REDACTED`,
        "delivered",
        "204",
        "1"
      ])
      expect(seen[0]!.signature._tag).toBe("Unsigned")

      const signed = yield* servo("webhooks", "trigger", "after:adjust", url, "--secret", secret, "--config", cwd)
      expect(signed.code).toBe(0)
      expect(seen[1]!.signature).toMatchObject({ _tag: "Verified", scheme: "v1" })
      const ed25519 = yield* servo("webhooks", "trigger", "after:adjust", url, "--signing-key", signingKey, "--config", cwd)
      expect(ed25519.code).toBe(0)
      expect(seen[2]!.signature).toMatchObject({ _tag: "Verified", scheme: "v1a" })
      expect(seen[2]!.headers["webhook-signature"]).toMatch(/^v1a,\S+$/)
      expectNoSecrets(unsigned, signed, ed25519)

      const badSecret = yield* servo("webhooks", "trigger", "after:adjust", url, "--secret", "whsec_short")
      expect(badSecret).toMatchObject({ code: 1, stdout: [] })
      expect(badSecret.stderr).toHaveLength(1)
      expect(badSecret.stderr[0]).toMatch(/^error: --secret: invalid webhook key: /)
      expect(badSecret.stderr[0]).not.toContain("short")
      const secretAsSigningKey = yield* servo("webhooks", "trigger", "after:adjust", url, "--signing-key", secret)
      expect(secretAsSigningKey).toEqual({
        code: 1,
        stdout: [],
        stderr: ["error: --signing-key: invalid webhook key: expected whsk_ but this is a whsec_ secret"]
      })
      expect(yield* servo("webhooks", "trigger", "after:adjust", "ftp://example.com/x")).toMatchObject({
        code: 1,
        stderr: ["error: target: expected an http or https URL, got a ftp: URL"]
      })
      // A problem of a flag is named by the flag, not blamed on the target.
      expect(yield* servo("webhooks", "trigger", "after:adjust", url, "--secret", "")).toMatchObject({
        code: 1,
        stderr: [expect.stringMatching(/^error: --secret: is empty; expected a secret/)]
      })
      expect(seen.length).toBe(3)
    }).pipe(Effect.scoped))

  it.live("exit 1 when a delivery failed, with the reason on its line", () =>
    Effect.gen(function*() {
      const port = yield* closedPort
      const notFound = yield* testReceiver(status(404, { "content-type": "text/plain" }, "no such hook"))
      const config = writeConfig(`
webhooks:
  - name: down
    event: after:measure
    target: http://127.0.0.1:${port}/
    backoff: false
  - name: missing
    event: after:measure
    target: ${notFound.url}
`)
      const ran = yield* servo("webhooks", "trigger", "after:measure", "--config", config)
      expect(ran.code).toBe(1)
      const rows = ran.stdout[0]!.split("\n").slice(1).map(cells)
      expect(rows.map((row) => row.slice(0, 4))).toEqual([
        ["down", "failed: connection refused", "-", "1"],
        ["missing", "failed: HTTP 404: no such hook", "404", "1"]
      ])
      expect(ran.stderr).toEqual(["error: 2 of 2 deliveries failed"])
      // A 404 is final: not retried despite the default backoff.
      expect(notFound.requests.length).toBe(1)
    }).pipe(Effect.scoped))

  it.live("one line and exit 1 for an unknown name, a webhook not configured for the event, or none at all", () =>
    Effect.gen(function*() {
      const config = writeConfig(fixture("http://127.0.0.1:9/"))
      expect(yield* servo("webhooks", "trigger", "after:measure", "nope", "--config", config)).toEqual({
        code: 1,
        stdout: [],
        stderr: [`error: no webhook named "nope" in ${config}; configured: measure_hook, approve, quiet`]
      })
      expect(yield* servo("webhooks", "trigger", "before:adjust", "measure_hook", "--config", config)).toEqual({
        code: 1,
        stdout: [],
        stderr: ["error: webhook measure_hook is not configured for before:adjust (it handles after:measure)"]
      })
      expect(yield* servo("webhooks", "trigger", "after:describe", "--config", config)).toEqual({
        code: 1,
        stdout: [],
        stderr: [`error: no webhook in ${config} is configured for after:describe`]
      })
      expect(yield* servo("webhooks", "trigger", "after:measure", "approve", "--secret", secret, "--config", config)).toEqual({
        code: 1,
        stdout: [],
        stderr: ["error: --secret applies to a URL target; configured webhooks sign with their own secret"]
      })
      expect(yield* servo("webhooks", "trigger", "after:measure", "--signing-key", signingKey, "--config", config)).toEqual({
        code: 1,
        stdout: [],
        stderr: ["error: --signing-key applies to a URL target; configured webhooks sign with their own signing_key"]
      })
    }))

  it.live("sends each webhook on its own transport, as the connector does: the network policy refuses loopback", () =>
    Effect.gen(function*() {
      const guarded = yield* testReceiver(status(204))
      const config = writeConfig(`
webhooks:
  - name: guarded
    event: after:measure
    target: ${guarded.url}
    network: { deny_private: true }
`)
      const ran = yield* servo("webhooks", "trigger", "after:measure", "--config", config)
      expect(ran.code).toBe(1)
      const rows = ran.stdout[0]!.split("\n").slice(1).map(cells)
      expect(rows[0]!.slice(0, 4)).toEqual([
        "guarded",
        "failed: webhook guarded: refused 127.0.0.1 (loopback): the network policy denies private addresses",
        "-",
        "1"
      ])
      expect(guarded.requests).toHaveLength(0)
    }).pipe(Effect.scoped))

  it.live("reads only the chosen webhooks' secrets, and names an unreadable one by its path", () =>
    Effect.gen(function*() {
      const receiver = yield* Receiver.make()
      const config = writeConfig(`
webhooks:
  - name: fine
    event: after:measure
    target: ${receiver.url}
  - name: broken
    event: after:adjust
    target: ${receiver.url}
    secret: { env: SERVO_TEST_CLI_UNSET }
`)
      expect((yield* servo("webhooks", "trigger", "after:measure", "--config", config)).code).toBe(0)
      expect(yield* servo("webhooks", "trigger", "after:adjust", "--config", config)).toEqual({
        code: 1,
        stdout: [],
        stderr: [`error: ${config}: webhooks[1].secret: environment variable SERVO_TEST_CLI_UNSET is not set`]
      })
    }).pipe(Effect.scoped))
})

describe("servo webhooks validate", () => {
  it.live("valid: N webhooks, exit 0", () =>
    Effect.gen(function*() {
      const ran = yield* servo("webhooks", "validate", "--config", writeConfig(fixture("http://127.0.0.1:9/")))
      expect(ran).toEqual({ code: 0, stdout: ["valid: 3 webhooks"], stderr: [] })
    }))

  it.live("every problem with its path: decoding first, then the secrets of what decodes", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const config = writeConfig(`
webhooks:
  - name: a
    event: on:measure
    target: ftp://example.com/x
  - name: b
    event: after:measure
    target: http://127.0.0.1:9/
    secret: { env: SERVO_TEST_CLI_UNSET }
  - name: c
    event: before:adjust
    target: http://127.0.0.1:9/
    secret: not-a-whsec-key
  - name: d
    event: after:adjust
    target: http://127.0.0.1:9/
    authentication: { bearer_token: { file: ${dir}/absent-token } }
`)
      const ran = yield* servo("webhooks", "validate", "--config", config)
      expect(ran.code).toBe(1)
      expect(ran.stdout).toEqual([])
      const lines = ran.stderr.join("\n").split("\n")
      expect(lines[0]).toBe(`error: ${config}: 5 problems`)
      expect(lines.slice(1).map((line) => line.split(":")[0])).toEqual([
        "  - webhooks[0].event",
        "  - webhooks[0].target",
        "  - webhooks[1].secret",
        "  - webhooks[2].secret",
        "  - webhooks[3].authentication.bearer_token"
      ])
      expect(lines[3]).toBe("  - webhooks[1].secret: environment variable SERVO_TEST_CLI_UNSET is not set")
      expect(lines[4]).toMatch(/^ {2}- webhooks\[2\]\.secret: .*whsec_/)
      expect(lines[4]).not.toContain("not-a-whsec-key")
      expect(lines[5]).toBe(`  - webhooks[3].authentication.bearer_token: cannot read file ${dir}/absent-token: no such file`)
    }))

  it.live("the security fields, in the mapping form: decoding problems, then every key, header, TLS and proxy problem, with paths", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const config = writeConfig(`
webhooks:
  network: { deny_private: true }
  hooks:
    - name: broken
      event: on:measure
      target: http://127.0.0.1:9/
    - name: keys
      event: after:measure
      target: https://hooks.example.com/x
      secret: [{ env: SERVO_TEST_CLI_UNSET }, ${pairPublicKey}]
      signing_key: ${secret}
      headers:
        - { name: x-api-token, value: { env: SERVO_TEST_CLI_UNSET_TOKEN }, secret: true }
      proxy: ${proxyUrl.replace("http://", "socks5://")}
      tls: { ca: { file: ${dir}/ca.pem } }
    - name: transport
      event: after:adjust
      target: https://hooks.example.com/y
      network: { deny_private: true, allow: [10.0.0.0/33] }
      tls: { cert: { file: ${dir}/client.pem } }
    - name: plain_tls
      event: after:describe
      target: http://127.0.0.1:9/
      tls: { insecure_skip_verify: true }
`)
      const ran = yield* servo("webhooks", "validate", "--config", config)
      expect(ran.code).toBe(1)
      expect(ran.stdout).toEqual([])
      expect(ran.stderr.join("\n").split("\n")).toEqual([
        `error: ${config}: 10 problems`,
        "  - webhooks.hooks[0].event: webhooks run before or after an event, not on it (an on webhook would be a handler, not a callback); use before:measure or after:measure",
        "  - webhooks.hooks[2].tls: cert and key go together (a client certificate for mTLS): set both or neither",
        "  - webhooks.hooks[2].network.allow[0]: \"10.0.0.0/33\": the prefix length must be 0 to 32",
        // A check across a hook's fields, which only that hook decoded on its own reaches.
        "  - webhooks.hooks[3].tls: applies to https targets; this target is http:",
        // The secrets of the hook that decodes are still checked, at their place in the file.
        "  - webhooks.hooks[1].headers[0].value: environment variable SERVO_TEST_CLI_UNSET_TOKEN is not set",
        "  - webhooks.hooks[1].secret[0]: environment variable SERVO_TEST_CLI_UNSET is not set",
        "  - webhooks.hooks[1].secret[1]: invalid webhook key: expected whsec_ but this is a whpk_ public key",
        "  - webhooks.hooks[1].signing_key: invalid webhook key: expected whsk_ but this is a whsec_ secret",
        `  - webhooks.hooks[1].tls.ca: cannot read file ${dir}/ca.pem: no such file`,
        "  - webhooks.hooks[1].proxy: expected an http: or https: proxy URL, got a socks5: URL"
      ])
      expectNoSecrets(ran)
    }))

  it.live("a missing file: one line, exit 1", () =>
    Effect.gen(function*() {
      const missing = path.join(tempDir(), "servo.yaml")
      const ran = yield* servo("webhooks", "validate", "--config", missing)
      expect(ran.code).toBe(1)
      expect(ran.stderr).toEqual([
        `error: ${missing}: no such file (create one with \`servo generate --defaults webhooks\`, or pass --config FILE)`
      ])
    }))
})

describe("servo webhooks keys", () => {
  const table = (ran: Ran) => ran.stdout.join("\n").split("\n").map(cells)

  it.live("prints a fresh whsec_ secret, labelled, and how servo.yaml refers to it; no config file needed", () =>
    Effect.gen(function*() {
      const ran = yield* servo("webhooks", "keys")
      expect(ran.code).toBe(0)
      expect(ran.stderr).toEqual([])
      const rows = table(ran)
      expect(rows.map((row) => row[0])).toEqual(["secret", "servo.yaml"])
      expect(rows[1]).toEqual(["servo.yaml", "secret: { env: SERVO_WEBHOOK_SECRET }", "# receivers verify with the same secret"])
      // A usable key: it signs, and a receiver holding it verifies.
      const printed = rows[0]![1]!
      const secretKey = Either.getOrThrow(Signature.parseSecret(printed))
      const message = { id: "msg_1", timestamp: Math.floor(Date.now() / 1000), body: new TextEncoder().encode("{}") }
      const headers = Signature.signHeaders([secretKey], message)
      expect(Either.getOrThrow(Signature.verify([secretKey], { headers, body: message.body })).scheme).toBe("v1")
      // Fresh each time.
      expect(table(yield* servo("webhooks", "keys"))[0]![1]).not.toBe(printed)
    }))

  it.live("--ed25519: a whsk_ signing key and its whpk_ public key, labelled, and the servo.yaml line", () =>
    Effect.gen(function*() {
      const ran = yield* servo("webhooks", "keys", "--ed25519")
      expect(ran.code).toBe(0)
      expect(ran.stderr).toEqual([])
      const rows = table(ran)
      expect(rows.map((row) => row[0])).toEqual(["signing key", "public key", "servo.yaml"])
      expect(rows[2]).toEqual([
        "servo.yaml",
        "signing_key: { env: SERVO_WEBHOOK_SIGNING_KEY }",
        "# receivers verify with the public key"
      ])
      const signingKey = Either.getOrThrow(Signature.parsePrivateKey(rows[0]![1]!))
      const publicKey = Either.getOrThrow(Signature.parsePublicKey(rows[1]![1]!))
      // The pair belongs together: what the signing key signs, the public key verifies (v1a).
      expect(signingKey.publicKey.encoded).toBe(rows[1]![1])
      const message = { id: "msg_2", timestamp: Math.floor(Date.now() / 1000), body: new TextEncoder().encode("{}") }
      const headers = Signature.signHeaders([signingKey], message)
      expect(headers["webhook-signature"]).toMatch(/^v1a,/)
      expect(Either.getOrThrow(Signature.verify([publicKey], { headers, body: message.body })).scheme).toBe("v1a")
    }))
})

describe("the config-only assembly the webhooks commands read with", () => {
  it.live("reads servo.yaml exactly as the running assembly does", () =>
    Effect.gen(function*() {
      const Servo = yield* Effect.promise(() => import("../src/servo/Servo.js"))
      const { assembly: running } = yield* Effect.promise(() => import("../src/cli/internal/assembly.js"))
      const { assembly: configOnly } = yield* Effect.promise(() => import("../src/cli/internal/configAssembly.js"))
      expect(configOnly.connectors.map((c) => c.name)).toEqual(running.connectors.map((c) => c.name))
      expect(configOnly.events.names).toEqual(running.events.names)
      for (const input of [fixture("http://127.0.0.1:9/"), "webhooks: [{ event: on:measure, target: 1 }]\nnope: 1\n"]) {
        const a = Servo.parseConfig(running, input)
        const b = Servo.parseConfig(configOnly, input)
        expect(Either.isRight(a)).toBe(Either.isRight(b))
        if (Either.isLeft(a) && Either.isLeft(b)) expect(b.left.issues).toEqual(a.left.issues)
        if (Either.isRight(a) && Either.isRight(b)) {
          expect(b.right.connectors.map((c) => [c.name, c.config])).toEqual(a.right.connectors.map((c) => [c.name, c.config]))
        }
      }
    }))
})




describe("servo webhooks trigger: the data, retries, JSON output and where keys come from", () => {
  it.live("--data and --set change the example; the receiver gets exactly that", () =>
    Effect.gen(function*() {
      const hook = yield* testReceiver()
      const data = JSON.stringify({ parameters: { adjustments: [{ component: "db", setting: "cpu", value: 2 }] } })
      const ran = yield* servo(
        "webhooks", "trigger", "before:adjust", hook.url, "--data", data, "--set", "adjustments[0].value=4",
        "--set", "parameters.control.settlement=1m"
      )
      expect(ran.code).toBe(0)
      expect(hook.requests[0]!.json.parameters).toEqual({
        adjustments: [{ component: "db", setting: "cpu", value: 4 }],
        control: { settlement: "1m" }
      })
      // After events: results too; a path under results, a JSON value.
      const after = yield* servo("webhooks", "trigger", "after:measure", hook.url, "--set", "results[0].connector=probe", "--set", 'metrics=["latency"]')
      expect(after.code).toBe(0)
      expect(hook.requests[1]!.json.parameters.metrics).toEqual(["latency"])
      expect(hook.requests[1]!.json.results[0].connector).toBe("probe")
    }).pipe(Effect.scoped))

  it.live("data that does not fit the event's Schema: one line per problem with its path, nothing sent, exit 1", () =>
    Effect.gen(function*() {
      const hook = yield* testReceiver()
      const ran = yield* servo(
        "webhooks", "trigger", "after:measure", hook.url, "--set", "control.duration=5", "--set", "results[0].value=3",
        "--set", "bogus=1"
      )
      expect(ran).toEqual({
        code: 1,
        stdout: [],
        stderr: [[
          "error: after:measure: 3 problems",
          "  - parameters.bogus: is unexpected, expected: \"metrics\" | \"control\"",
          "  - parameters.control.duration: Expected string, actual 5",
          "  - results[0].value: Expected Measurement, actual 3"
        ].join("\n")]
      })
      expect(yield* servo("webhooks", "trigger", "before:adjust", hook.url, "--data", "{nope")).toMatchObject({
        code: 1,
        stderr: [expect.stringMatching(/^error: before:adjust: --data: not JSON: /)]
      })
      expect(yield* servo("webhooks", "trigger", "before:adjust", hook.url, "--data", '{"results": []}')).toMatchObject({
        code: 1,
        stderr: ["error: before:adjust: --data: results: unexpected; expected parameters"]
      })
      expect(yield* servo("webhooks", "trigger", "before:adjust", hook.url, "--set", "novalue")).toMatchObject({
        code: 1,
        stderr: ["error: before:adjust: --set novalue: expected path=value"]
      })
      expect(hook.requests).toEqual([])
    }).pipe(Effect.scoped))

  it.live("--retries N and --no-retry override the webhook's backoff; --json: outcome, attempts, status, reason, ms", () =>
    Effect.gen(function*() {
      const failing = yield* testReceiver(status(503, { "content-type": "text/plain" }, "down for maintenance"))
      const config = writeConfig(`
webhooks:
  - name: flaky
    event: after:measure
    target: ${failing.url}
    backoff: { retries: 5, timeout: 1m }
`)
      const once = yield* servo("webhooks", "trigger", "after:measure", "--config", config, "--no-retry", "--json")
      expect(once.code).toBe(1)
      expect(once.stderr).toEqual(["error: the delivery failed"])
      const [outcome] = JSON.parse(text(once.stdout))
      expect(outcome).toMatchObject({ target: "flaky", outcome: "failed", attempts: 1, status: 503 })
      expect(outcome.reason).toContain("HTTP 503: down for maintenance")
      expect(outcome.ms).toEqual(expect.any(Number))
      expect(failing.requests.length).toBe(1)

      const twice = yield* servo("webhooks", "trigger", "after:measure", "--config", config, "--retries", "1", "--json")
      expect(JSON.parse(text(twice.stdout))[0]).toMatchObject({ outcome: "failed", attempts: 2 })
      expect(failing.requests.length).toBe(3)

      const ok = yield* testReceiver()
      const delivered = yield* servo("webhooks", "trigger", "after:measure", ok.url, "--json")
      expect(delivered.code).toBe(0)
      expect(JSON.parse(text(delivered.stdout))).toEqual([
        { target: ok.url, outcome: "delivered", attempts: 1, status: 200, reason: null, ms: expect.any(Number) }
      ])
      expect(yield* servo("webhooks", "trigger", "after:measure", ok.url, "--retries", "1", "--no-retry")).toMatchObject({
        code: 1,
        stderr: ["error: give --retries N or --no-retry, not both"]
      })
    }).pipe(Effect.scoped))

  it.live("--secret-env and --secret-file (and the same for --signing-key) sign as --secret does; the key never printed", () =>
    Effect.gen(function*() {
      const seen: Array<Receiver.Delivery> = []
      const publicKey = Either.getOrThrow(Signature.parsePrivateKey(signingKey)).publicKey
      const receiver = yield* Receiver.make({ keys: [key, publicKey], onDelivery: (d) => Effect.sync(() => void seen.push(d)) })
      const dir = tempDir()
      const secretFile = path.join(dir, "secret")
      const signingKeyFile = path.join(dir, "signing-key")
      yield* Effect.sync(() => {
        fs.writeFileSync(secretFile, `${secret}\n`)
        fs.writeFileSync(signingKeyFile, signingKey)
      })
      const keys = environment({ HOOK_SECRET: secret, HOOK_SIGNING_KEY: signingKey })
      const url = `${receiver.url}hook`
      const runs = [
        yield* servoWith(keys, "webhooks", "trigger", "after:adjust", url, "--secret-env", "HOOK_SECRET"),
        yield* servo("webhooks", "trigger", "after:adjust", url, "--secret-file", secretFile),
        yield* servoWith(keys, "webhooks", "trigger", "after:adjust", url, "--signing-key-env", "HOOK_SIGNING_KEY"),
        yield* servo("webhooks", "trigger", "after:adjust", url, "--signing-key-file", signingKeyFile)
      ]
      expect(runs.map((ran) => ran.code)).toEqual([0, 0, 0, 0])
      expect(seen.map((d) => d.signature)).toEqual([
        expect.objectContaining({ _tag: "Verified", scheme: "v1" }),
        expect.objectContaining({ _tag: "Verified", scheme: "v1" }),
        expect.objectContaining({ _tag: "Verified", scheme: "v1a" }),
        expect.objectContaining({ _tag: "Verified", scheme: "v1a" })
      ])
      expectNoSecrets(...runs)

      const unset = yield* servoWith(environment({}), "webhooks", "trigger", "after:adjust", url, "--secret-env", "HOOK_SECRET")
      expect(unset).toEqual({ code: 1, stdout: [], stderr: ["error: --secret-env: environment variable HOOK_SECRET is not set"] })
      const missing = yield* servo("webhooks", "trigger", "after:adjust", url, "--secret-file", path.join(dir, "absent"))
      expect(missing).toEqual({ code: 1, stdout: [], stderr: [`error: --secret-file: cannot read file ${path.join(dir, "absent")}: no such file`] })
      const both = yield* servo("webhooks", "trigger", "after:adjust", url, "--secret-file", secretFile, "--secret", secret)
      expect(both).toEqual({ code: 1, stdout: [], stderr: ["error: give one of --secret-env, --secret-file and --secret, not 2"] })
      const emptyFile = path.join(dir, "empty")
      yield* Effect.sync(() => fs.writeFileSync(emptyFile, "\n"))
      expect(yield* servo("webhooks", "trigger", "after:adjust", url, "--secret-file", emptyFile)).toEqual({
        code: 1,
        stdout: [],
        stderr: [`error: --secret-file: file ${emptyFile} is empty`]
      })
      expect(seen.length).toBe(4)
    }).pipe(Effect.scoped))

  it.live("--help names the environment and file forms first and says a literal key is visible in /proc/PID/cmdline", () =>
    Effect.gen(function*() {
      const help = text((yield* servo("webhooks", "trigger", "--help")).stdout)
      const options = help.slice(help.indexOf("\nOPTIONS\n"))
      expect(options.indexOf("[--secret-env VAR]")).toBeLessThan(options.indexOf("[--secret whsec_...]"))
      expect(options.indexOf("[--secret-file PATH]")).toBeLessThan(options.indexOf("[--secret whsec_...]"))
      expect(options.indexOf("[--signing-key-env VAR]")).toBeLessThan(options.indexOf("[--signing-key whsk_...]"))
      expect(help.replace(/\s+/g, " ")).toContain("given literally: visible to other local users in /proc/PID/cmdline")
    }))

  it.live("a cancel reason and a 5xx body from the network are printed escaped: no escape sequence, no forged line", () =>
    Effect.gen(function*() {
      const forged = "ok\u001b[2J\u001b[H\nhttp://127.0.0.1:1/  delivered  204  1  3"
      const cancelling = yield* testReceiver(cancel(forged))
      const cancelled = yield* servo("webhooks", "trigger", "before:adjust", cancelling.url)
      expect(cancelled.code).toBe(0)
      const printed = text(cancelled.stdout)
      expect(printed).not.toContain("\u001b")
      expect(printed.split("\n")).toHaveLength(2)
      expect(printed).toContain("cancelled: ok\\x1b[2J\\x1b[H\\x0ahttp://127.0.0.1:1/  delivered")

      const osc = yield* testReceiver(status(500, { "content-type": "text/plain" }, "boom\u001b]0;pwned\u0007\r\nforged"))
      const failed = yield* servo("webhooks", "trigger", "after:measure", osc.url, "--no-retry")
      expect(failed.code).toBe(1)
      const row = text(failed.stdout).split("\n")
      expect(row).toHaveLength(2)
      // The delivery code folds the body's line breaks; the rest is escaped.
      expect(row[1]).toContain("failed: HTTP 500: boom\\x1b]0;pwned\\x07 forged")
      expect(text([...failed.stdout, ...failed.stderr])).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/)
    }).pipe(Effect.scoped))
})

describe("servo webhooks keys --json and validate --json", () => {
  it.live("keys --json: one object, usable keys", () =>
    Effect.gen(function*() {
      const v1 = yield* servo("webhooks", "keys", "--json")
      expect(v1.code).toBe(0)
      const printed = JSON.parse(text(v1.stdout))
      expect(printed).toEqual({ scheme: "v1", secret: expect.stringMatching(/^whsec_/), servo_yaml: "secret: { env: SERVO_WEBHOOK_SECRET }" })
      expect(Either.isRight(Signature.parseSecret(printed.secret))).toBe(true)
      const v1a = JSON.parse(text((yield* servo("webhooks", "keys", "--ed25519", "--json")).stdout))
      expect(v1a).toEqual({
        scheme: "v1a",
        signing_key: expect.stringMatching(/^whsk_/),
        public_key: expect.stringMatching(/^whpk_/),
        servo_yaml: "signing_key: { env: SERVO_WEBHOOK_SIGNING_KEY }"
      })
      expect(Either.getOrThrow(Signature.parsePrivateKey(v1a.signing_key)).publicKey.encoded).toBe(v1a.public_key)
    }))

  it.live("validate --json: every problem with its path as an array, exit 1; [] and exit 0 when valid", () =>
    Effect.gen(function*() {
      const valid = yield* servo("webhooks", "validate", "--json", "--config", writeConfig(fixture("http://127.0.0.1:9/")))
      expect(valid).toEqual({ code: 0, stdout: ["[]"], stderr: [] })
      const config = writeConfig(`
webhooks:
  - name: a
    event: on:measure
    target: http://127.0.0.1:9/
  - name: b
    event: after:measure
    target: http://127.0.0.1:9/
    secret: { env: SERVO_TEST_CLI_UNSET }
`)
      const ran = yield* servo("webhooks", "validate", "--json", "--config", config)
      expect(ran.code).toBe(1)
      const problems = JSON.parse(text(ran.stdout))
      expect(problems).toEqual([
        { path: "webhooks[0].event", message: expect.stringContaining("not on it") },
        { path: "webhooks[1].secret", message: "environment variable SERVO_TEST_CLI_UNSET is not set" }
      ])
      expect(ran.stderr).toEqual([`error: ${config}: 2 problems`])
    }))
})
