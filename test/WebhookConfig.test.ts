import { describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as child_process from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as YAML from "yaml"
import { issuesOf } from "../src/internal/issues.js"
import * as CoreEvents from "../src/servo/CoreEvents.js"
import * as WebhookConfig from "../src/webhooks/WebhookConfig.js"
import { hook, rejections, transportRejections } from "./support/webhookRejections.js"

const schema = WebhookConfig.WebhooksConfig(CoreEvents.registry)
const decode = (input: unknown) =>
  Schema.decodeUnknownEither(schema, { errors: "all", onExcessProperty: "error" })(input).pipe(
    Either.mapLeft((error) => issuesOf(error, "webhooks").map(({ message, path }) => ({ path, message })))
  )
const decodeYaml = (text: string) => decode(YAML.parse(text))

/** The problems of one invalid list, keyed by path. */
const problems = (input: unknown) => {
  const result = decode(input)
  if (Either.isRight(result)) throw new Error(`expected problems, decoded ${JSON.stringify(result.right)}`)
  return result.left
}


const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

/** Environment variables for one effect, through a ConfigProvider: the process environment is never touched. */
const withEnvironment = (variables: Record<string, string>) =>
  Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(variables))))

describe("webhooks config: the README's format", () => {
  it("decodes the README example with defaults filled in", () => {
    const [webhook] = Either.getOrThrow(decodeYaml(`
- name: my_measure_handler
  description: Store measurement info into Elastic Search.
  event: after:measure
  target: https://example.com/webhooks
  headers:
    - name: x-some-header
      value: some value
  authentication:
    bearer_token: "123456789"
  backoff:
    retries: 3
    timeout: 5m
`))
    expect(webhook).toEqual({
      name: "my_measure_handler",
      description: "Store measurement info into Elastic Search.",
      events: [{ preposition: "after", event: "measure" }],
      target: "https://example.com/webhooks",
      headers: [{ name: "x-some-header", value: "some value" }],
      authentication: { bearer_token: "123456789" },
      request_timeout: Duration.seconds(10),
      on_failure: "ignore",
      backoff: { retries: 3, timeout: Duration.minutes(5) },
      trace_propagation: false
    })
  })

  it("accepts events lists, header mappings, secrets, timeouts, on_failure and backoff: false", () => {
    const [webhook, second] = Either.getOrThrow(decode([
      {
        events: ["before:adjust", "after:*", "before:adjust"],
        target: "http://127.0.0.1:8080/x",
        headers: { "x-team": "perf" },
        authentication: { basic: { username: "me", password: { file: "/run/secrets/pw" } } },
        secret: { env: "HOOK_SECRET" },
        request_timeout: "1500ms",
        on_failure: "cancel",
        backoff: false
      },
      hook({ backoff: { retries: 0 } })
    ]))
    expect(webhook).toMatchObject({
      name: "webhooks[0]",
      events: [{ preposition: "before", event: "adjust" }, { preposition: "after", event: "*" }],
      target: "http://127.0.0.1:8080/x",
      headers: [{ name: "x-team", value: "perf" }],
      authentication: { basic: { username: "me", password: { file: "/run/secrets/pw" } } },
      secret: { env: "HOOK_SECRET" },
      on_failure: "cancel",
      backoff: false
    })
    expect(Duration.toMillis(webhook!.request_timeout)).toBe(1500)
    expect(second!.name).toBe("webhooks[1]")
    // An after webhook's left-out fields take the after default.
    expect(second!.backoff).toEqual({ retries: 0, timeout: Duration.hours(24) })
  })
})

describe("webhooks config: rejections name the field and what was expected", () => {
  it.each(rejections)("%s", (_, input, path, message) => {
    const found = problems([input])
    const at = found.filter((problem) => problem.path === path)
    expect(at.length, JSON.stringify(found)).toBeGreaterThan(0)
    expect(at.map((problem) => problem.message).join("\n")).toMatch(message)
  })

  it("every rejection says what was expected: no line is a placeholder of the union machinery", () => {
    for (const [name, input] of [...rejections, ...transportRejections]) {
      for (const problem of problems([input])) {
        expect(problem.message, name).not.toMatch(/^(has the wrong shape|\(another alternative applies\)|)$/)
        expect(problem.message, name).not.toMatch(/^Expected /)
      }
    }
  })

  it("reports duplicate names at the second one", () => {
    const found = problems([hook({ name: "a" }), hook({ name: "b" }), hook({ name: "a" })])
    expect(found).toEqual([{ path: "webhooks[2].name", message: `duplicate name "a" (also [0].name)` }])
  })

  it("reports every problem of every webhook at once", () => {
    const found = problems([
      { event: "measure", target: "ftp://x" },
      hook({ backoff: { retries: -2, timeout: "never" } }),
      hook({ headers: [{ name: "content-type", value: "x" }], colour: "blue" })
    ])
    expect(found.map((problem) => problem.path).sort()).toEqual([
      "webhooks[0].event",
      "webhooks[0].target",
      "webhooks[1].backoff.retries",
      "webhooks[1].backoff.timeout",
      "webhooks[2].colour",
      "webhooks[2].headers[0].name"
    ])
  })

  it("never echoes a secret that has the wrong type", () => {
    const found = problems([hook({ authentication: { bearer_token: 987654321987 }, secret: [{ vault: "whsec_x" }] })])
    expect(JSON.stringify(found)).not.toContain("987654321987")
    expect(JSON.stringify(found)).not.toContain("whsec_x")
    expect(found.map((p) => p.path).sort()).toEqual(["webhooks[0].authentication.bearer_token", "webhooks[0].secret[0]"])
  })

  it("refuses a section that is not a list", () => {
    expect(problems({ target: "x" })).toEqual([
      { path: "webhooks", message: "expected a list of webhooks, or { hooks: [...], network, proxy, tls, http2 }" }
    ])
  })
})

describe("webhooks config: resolving secrets at start-up", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "webhooks-secrets-"))
  const passwordFile = path.join(dir, "password")
  fs.writeFileSync(passwordFile, "correct-horse-battery\n")

  const resolve = (input: unknown) =>
    Effect.flatMap(
      Either.match(decode(input), {
        onLeft: (issues) => Effect.die(new Error(JSON.stringify(issues))),
        onRight: Effect.succeed
      }),
      (configs) => WebhookConfig.resolve(configs)
    )

  it.effect("reads literals, environment variables and files into Redacted values", () =>
    Effect.gen(function*() {
      const [bearer, basic] = yield* resolve([
        hook({ authentication: { bearer_token: { env: "SERVO_TEST_TOKEN" } }, secret: { env: "SERVO_TEST_SECRET" } }),
        hook({ authentication: { basic: { username: "me", password: { file: passwordFile } } }, backoff: false })
      ]).pipe(withEnvironment({ SERVO_TEST_TOKEN: "tok-from-env", SERVO_TEST_SECRET: secret }))
      expect(bearer!.authentication._tag).toBe("Bearer")
      expect(Redacted.value((bearer!.authentication as { token: Redacted.Redacted<string> }).token)).toBe("tok-from-env")
      expect(bearer!.signingKeys).toHaveLength(1)
      expect(bearer!.backoff).toEqual(WebhookConfig.defaults.afterBackoff)
      expect(basic!.authentication).toMatchObject({ _tag: "Basic", username: "me" })
      expect(Redacted.value((basic!.authentication as { password: Redacted.Redacted<string> }).password)).toBe("correct-horse-battery")
      expect(basic!.backoff).toBeUndefined()
      expect(basic!.signingKeys).toEqual([])
      expect(String(bearer!.authentication)).not.toContain("tok-from-env")
      expect(JSON.stringify(bearer)).not.toContain("tok-from-env")
    }))

  it.effect("reports a missing variable, an unreadable file and a bad signing secret together, without values", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(resolve([
        hook({ authentication: { bearer_token: { env: "SERVO_TEST_MISSING" } } }),
        hook({ authentication: { basic: { username: "me", password: { file: path.join(dir, "nope") } } } }),
        hook({ secret: { env: "SERVO_TEST_BAD_SECRET" } }),
        hook({ secret: "not-a-whsec-secret-at-all" })
      ]).pipe(withEnvironment({ SERVO_TEST_BAD_SECRET: "whsec_c2hvcnQ=" })))
      expect(error._tag).toBe("InvalidConfig")
      expect(error.issues).toEqual([
        { path: "webhooks[0].authentication.bearer_token", message: "environment variable SERVO_TEST_MISSING is not set" },
        { path: "webhooks[1].authentication.basic.password", message: `cannot read file ${path.join(dir, "nope")}: no such file` },
        { path: "webhooks[2].secret", message: expect.stringMatching(/expected whsec_ followed by base64 of 24 to 64 bytes/) },
        { path: "webhooks[3].secret", message: expect.stringMatching(/whsec_/) }
      ])
      expect(error.message).not.toContain("c2hvcnQ")
      expect(error.message).not.toContain("not-a-whsec-secret-at-all")
    }))
})

describe("webhooks config: security and transport fields", () => {
  it("accepts the section as a mapping: its transport settings apply to hooks that set none of their own", () => {
    const [first, second] = Either.getOrThrow(decodeYaml(`
network: { deny_private: true, allow: [10.20.0.0/16, "fd00::/8"] }
proxy: { env: EGRESS_PROXY }
hooks:
  - event: after:measure
    target: https://example.com/a
  - event: after:measure
    target: http://example.com/b
    network: { deny_private: false }
    proxy: false
    http2: true
`))
    expect(first!.network?.denyPrivate).toBe(true)
    expect(first!.network?.allow.map(String)).toEqual(["10.20.0.0/16", "fd00::/8"])
    expect(first!.proxy).toEqual({ env: "EGRESS_PROXY" })
    expect(first!.path).toEqual(["hooks", 0])
    expect(second!.network).toEqual({ denyPrivate: false, allow: [] })
    expect(second!.proxy).toBe(false)
    expect(second!.http2).toBe(true)
  })

  it("reports problems of the mapping form at their paths", () => {
    expect(problems({
      network: { deny_private: "yes", allow: ["10.0.0.0/33", 7] },
      hooks: [hook({ tls: { cert: { file: "/c.pem" } } }), { event: "after:measure" }]
    }).map((problem) => problem.path)).toEqual([
      "webhooks.hooks[0].tls",
      "webhooks.hooks[1].target",
      "webhooks.network.deny_private",
      "webhooks.network.allow[0]",
      "webhooks.network.allow[1]"
    ])
  })

  it.each(transportRejections)("refuses %s", (_, input, path, message) => {
    const found = problems([input])
    expect(found).toContainEqual({ path, message: expect.stringMatching(message) })
  })

  it("decodes secret headers from a list or a mapping, and secret lists", () => {
    const [webhook] = Either.getOrThrow(decode([hook({
      headers: [{ name: "x-token", value: { env: "TOKEN" }, secret: true }, { name: "x-plain", value: "p" }],
      secret: [secret, { env: "NEXT_SECRET" }],
      signing_key: { file: "/run/secrets/whsk" }
    })]))
    expect(webhook!.headers).toEqual([{ name: "x-token", value: { env: "TOKEN" }, secret: true }, { name: "x-plain", value: "p" }])
    expect(webhook!.secret).toEqual([secret, { env: "NEXT_SECRET" }])
    expect(webhook!.signing_key).toEqual({ file: "/run/secrets/whsk" })
    const [mapped] = Either.getOrThrow(decode([hook({ headers: { "x-token": { value: "t0k", secret: true }, "x-plain": "p" } })]))
    expect(mapped!.headers).toEqual([{ name: "x-token", value: "t0k", secret: true }, { name: "x-plain", value: "p" }])
  })

  it.effect("resolve reads secret headers into Redacted values and reports mapping-form paths", () =>
    Effect.gen(function*() {
      const [webhook] = yield* WebhookConfig.resolve(Either.getOrThrow(decode([
        hook({ headers: [{ name: "x-token", value: { env: "SERVO_TEST_HEADER" }, secret: true }] })
      ]))).pipe(withEnvironment({ SERVO_TEST_HEADER: "header-secret-value" }))
      expect(Redacted.isRedacted(webhook!.headers[0]!.value)).toBe(true)
      expect(JSON.stringify(webhook)).not.toContain("header-secret-value")
      const error = yield* Effect.flip(WebhookConfig.resolve(Either.getOrThrow(decode({
        hooks: [hook({}), hook({ secret: [secret, { env: "SERVO_TEST_UNSET" }] })]
      }))).pipe(withEnvironment({})))
      expect(error.issues).toEqual([
        { path: "webhooks.hooks[1].secret[1]", message: "environment variable SERVO_TEST_UNSET is not set" }
      ])
    }))
})

describe("redaction helpers", () => {
  it("redactTarget hides userinfo, query values and fragments, keeping what identifies the URL", () => {
    expect(WebhookConfig.redactTarget("https://hooks.example.com/x?token=abc&token=def&team=perf#frag")).toBe(
      "https://hooks.example.com/x?token=REDACTED&token=REDACTED&team=REDACTED#REDACTED"
    )
    expect(WebhookConfig.redactTarget("http://me:hunter2@proxy.internal:3128")).toBe("http://REDACTED:REDACTED@proxy.internal:3128/")
    expect(WebhookConfig.redactTarget("https://example.com/plain")).toBe("https://example.com/plain")
    expect(WebhookConfig.redactTarget("not a url with secret-ish text")).toBe("REDACTED")
  })

  it("redactedHeaders hides secret headers and credentials whatever their configuration", () => {
    expect(WebhookConfig.redactedHeaders({
      headers: [
        { name: "x-token", value: { env: "T" }, secret: true },
        { name: "Cookie", value: "a=b" },
        { name: "x-team", value: "perf" },
        { name: "x-resolved", value: Redacted.make("v") }
      ]
    })).toEqual([
      { name: "x-token", value: "REDACTED" },
      { name: "Cookie", value: "REDACTED" },
      { name: "x-team", value: "perf" },
      { name: "x-resolved", value: "REDACTED" }
    ])
  })
})

describe("webhooks config: a secret in the wrong place is never printed (issue 14 item 4)", () => {
  const token = "s3cr3t-T0KEN-value"
  const pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC-s3cr3t\n-----END PRIVATE KEY-----"
  it.each([
    ["authentication: TOKEN", `authentication: ${token}`, "webhooks[0].authentication"],
    ["authentication: [TOKEN]", `authentication: [${token}]`, "webhooks[0].authentication"],
    ["basic: \"u:pw\"", `authentication: { basic: "me:${token}" }`, "webhooks[0].authentication.basic"],
    ["basic: [u, pw]", `authentication: { basic: [me, ${token}] }`, "webhooks[0].authentication.basic"],
    ["bearer_token: [TOKEN]", `authentication: { bearer_token: [${token}] }`, "webhooks[0].authentication.bearer_token"],
    ["bearer_token: { env: TOKEN }", `authentication: { bearer_token: { env: "${token}" } }`, "webhooks[0].authentication.bearer_token"],
    ["password: [TOKEN]", `authentication: { basic: { username: me, password: [${token}] } }`, "webhooks[0].authentication.basic.password"],
    ["tls: <PEM>", `tls: ${JSON.stringify(pem)}`, "webhooks[0].tls"],
    ["tls: [<PEM>]", `tls: [${JSON.stringify(pem)}]`, "webhooks[0].tls"],
    ["tls.key: [<PEM>]", `tls: { key: [${JSON.stringify(pem)}], cert: x }`, "webhooks[0].tls.key"],
    ["secret: [[TOKEN]]", `secret: [[${token}]]`, "webhooks[0].secret[0]"],
    ["secret: { value: TOKEN }", `secret: { value: ${token} }`, "webhooks[0].secret"],
    ["proxy: [URL]", `proxy: ["http://me:${token}@proxy:3128"]`, "webhooks[0].proxy"],
    ["headers: TEXT", `headers: "x-token: ${token}"`, "webhooks[0].headers"],
    ["headers: [TEXT]", `headers: ["x-token: ${token}"]`, "webhooks[0].headers[0]"],
    ["a secret header's value as a list", `headers: [{ name: x-token, value: [${token}], secret: true }]`, "webhooks[0].headers[0].value"],
    ["a mapped header's value as a list", `headers: { x-token: [${token}] }`, "webhooks[0].headers.x-token"],
    ["a target with a token and a line break", `target: { url: "https://example.com/?token=${token}" }`, "webhooks[0].target"]
  ])("%s", (_, field, path) => {
    const found = problems(YAML.parse(`- event: after:measure\n  target: https://example.com/x\n  ${field}\n`.replace(/\n  target: https:\/\/example.com\/x\n  target:/, "\n  target:")))
    expect(found.map((problem) => problem.path)).toContain(path)
    expect(JSON.stringify(found)).not.toContain("s3cr3t")
  })
})

describe("webhooks config: secret files are read through FileSystem, regular files only", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "webhooks-files-"))
  const fifo = path.join(dir, "fifo")
  child_process.execFileSync("mkfifo", [fifo])

  const resolveRef = (ref: WebhookConfig.SecretRef) =>
    Effect.flip(WebhookConfig.resolve(Either.getOrThrow(decode([hook({ authentication: { bearer_token: ref } })]))))

  it.effect("a FIFO with no writer is refused at once, not waited on (issue 14 item 9)", () =>
    Effect.gen(function*() {
      const error = yield* resolveRef({ file: fifo })
      expect(error.issues).toEqual([{
        path: "webhooks[0].authentication.bearer_token",
        message: `cannot read file ${fifo}: it is a FIFO (named pipe), not a regular file`
      }])
    }))

  it.effect("a directory and an empty file are refused with their reason", () =>
    Effect.gen(function*() {
      const empty = path.join(dir, "empty")
      fs.writeFileSync(empty, "  \n")
      expect((yield* resolveRef({ file: dir })).issues[0]!.message).toBe(`cannot read file ${dir}: it is a directory`)
      expect((yield* resolveRef({ file: empty })).issues[0]!.message).toBe(`file ${empty} is empty`)
    }))
})

describe("webhooks config: what a header cannot carry is refused at start-up (issue 14 item 8)", () => {
  it.effect("a bearer_token or secret header value with CR/LF, a control character or non-Latin-1 text, from any source", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(WebhookConfig.resolve(Either.getOrThrow(decode([
        hook({ authentication: { bearer_token: { env: "TOKEN_CRLF" } } }),
        hook({ authentication: { bearer_token: "t\u00f6k\u2603" } }),
        hook({ headers: [{ name: "x-token", value: { env: "HEADER_ESC" }, secret: true }] }),
        hook({ authentication: { bearer_token: { env: "TOKEN_OK" } } })
      ]))).pipe(withEnvironment({ TOKEN_CRLF: "tok\r\nx-injected: 1", HEADER_ESC: "a\x1b]0;title\x07", TOKEN_OK: "fine-token" })))
      expect(error.issues).toEqual([
        { path: "webhooks[0].authentication.bearer_token", message: "contains a line break (CR/LF): header injection is refused" },
        { path: "webhooks[1].authentication.bearer_token", message: expect.stringMatching(/beyond Latin-1/) },
        { path: "webhooks[2].headers[0].value", message: expect.stringMatching(/control character/) }
      ])
      expect(error.message).not.toContain("x-injected")
      expect(error.message).not.toContain("title")
    }))

  it("Latin-1 text, tabs and obs-text stay accepted in header values", () => {
    const [webhook] = Either.getOrThrow(decode([hook({ headers: [{ name: "x-a", value: "caf\u00e9\tna\u00efve" }] })]))
    expect(webhook!.headers).toEqual([{ name: "x-a", value: "caf\u00e9\tna\u00efve" }])
  })
})
