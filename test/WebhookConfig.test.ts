import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as YAML from "yaml"
import { issuesOf } from "../src/internal/issues.js"
import * as CoreEvents from "../src/servo/CoreEvents.js"
import * as WebhookConfig from "../src/webhooks/WebhookConfig.js"

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

const hook = (fields: Record<string, unknown>) => ({ event: "after:measure", target: "https://example.com/hook", ...fields })

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

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
    expect(second!.backoff).toEqual({ retries: 0, timeout: Duration.minutes(5) })
  })
})

describe("webhooks config: rejections name the field and what was expected", () => {
  it.each([
    ["missing target", { event: "after:measure" }, "webhooks[0].target", /^is missing: expected the receiver's http or https URL$/],
    ["non-http target", hook({ target: "ftp://example.com/x" }), "webhooks[0].target", /expected an http or https URL, got a ftp: URL/],
    ["unparseable target", hook({ target: "example.com/hook" }), "webhooks[0].target", /expected an http or https URL, such as https/],
    ["credentials in the target", hook({ target: "https://me:hunter2@example.com/x" }), "webhooks[0].target", /must not carry credentials \(user:password@\); use authentication/],
    ["event without a preposition", hook({ event: "measure" }), "webhooks[0].event", /^missing preposition: expected before:measure or after:measure$/],
    ["an on: event", hook({ event: "on:measure" }), "webhooks[0].event", /not on it \(an on webhook would be a handler, not a callback\); use before:measure or after:measure/],
    ["a wrong-case preposition", hook({ event: "AFTER:measure" }), "webhooks[0].event", /unknown preposition "AFTER".*did you mean "after"/],
    ["a wrong-case event", hook({ event: "after:Measure" }), "webhooks[0].event", /unknown event "Measure" \(event names are lower case: did you mean "measure"\?\)/],
    ["an unknown event", hook({ event: "after:deploy" }), "webhooks[0].event", /unknown event "deploy"; known events: adjust, check, components, describe, measure, metrics, promote, shutdown, startup/],
    ["an unknown event in a list", hook({ event: undefined, events: ["before:adjust", "after:nope"] }), "webhooks[0].events[1]", /unknown event "nope"/],
    ["no event at all", { target: "https://example.com/x" }, "webhooks[0].event", /^is missing: expected \(before\|after\):EVENT/],
    ["both event and events", hook({ events: ["after:adjust"] }), "webhooks[0].events", /give event or events, not both/],
    ["both bearer_token and basic", hook({ authentication: { bearer_token: "t", basic: { username: "u", password: "p" } } }), "webhooks[0].authentication", /set bearer_token or basic, not both/],
    ["an empty authentication", hook({ authentication: {} }), "webhooks[0].authentication", /expected bearer_token or basic/],
    ["negative retries", hook({ backoff: { retries: -1 } }), "webhooks[0].backoff.retries", /expected a whole number of retries \(0 or more\), got -1/],
    ["fractional retries", hook({ backoff: { retries: 1.5 } }), "webhooks[0].backoff.retries", /expected a whole number of retries \(0 or more\), got 1.5/],
    ["an unparseable backoff timeout", hook({ backoff: { timeout: "5 minutes" } }), "webhooks[0].backoff.timeout", /expected a duration such as 500ms, 10s, 5m or 2h45m/],
    ["an unparseable request_timeout", hook({ request_timeout: "soon" }), "webhooks[0].request_timeout", /expected a duration/],
    ["a backoff of the wrong shape", hook({ backoff: "fast" }), "webhooks[0].backoff", /expected false \(send once\) or \{ retries, timeout \}/],
    ["an unknown key", hook({ retries: 3 }), "webhooks[0].retries", /is unexpected, expected: /],
    ["an unknown key in backoff", hook({ backoff: { retry: 3 } }), "webhooks[0].backoff.retry", /is unexpected/],
    ["content-type overridden", hook({ headers: [{ name: "Content-Type", value: "text/plain" }] }), "webhooks[0].headers[0].name", /Content-Type is set by servo-webhooks and cannot be configured/],
    ["user-agent overridden", hook({ headers: { "user-agent": "me" } }), "webhooks[0].headers.user-agent", /user-agent is set by servo-webhooks/],
    ["a webhook-* header", hook({ headers: [{ name: "webhook-id", value: "1" }] }), "webhooks[0].headers[0].name", /webhook-id is set by servo-webhooks/],
    ["servo-event overridden", hook({ headers: [{ name: "servo-event", value: "x" }] }), "webhooks[0].headers[0].name", /servo-event is set by servo-webhooks/],
    ["authorization beside authentication", hook({ authentication: { bearer_token: "t" }, headers: [{ name: "Authorization", value: "x" }] }), "webhooks[0].headers[0].name", /authorization is set by authentication/],
    ["CR/LF in a header name", hook({ headers: [{ name: "x-a\r\nx-b", value: "1" }] }), "webhooks[0].headers[0].name", /contains a line break \(CR\/LF\)/],
    ["CR/LF in a header value", hook({ headers: [{ name: "x-a", value: "1\r\nx-injected: yes" }] }), "webhooks[0].headers[0].value", /contains a line break \(CR\/LF\)/],
    ["a header given twice", hook({ headers: [{ name: "x-a", value: "1" }, { name: "X-A", value: "2" }] }), "webhooks[0].headers[1]", /X-A is given twice/],
    ["on_failure on an after-only webhook", hook({ on_failure: "cancel" }), "webhooks[0].on_failure", /applies to before webhooks/],
    ["an unknown on_failure", hook({ event: "before:adjust", on_failure: "panic" }), "webhooks[0].on_failure", /^expected "ignore" or "cancel", got "panic"$/],
    ["a malformed secret ref", hook({ secret: { vault: "x" } }), "webhooks[0].secret", /^expected a secret: a string, \{ env: VARIABLE \} or \{ file: PATH \}$/],
    ["a bad env name", hook({ secret: { env: "not a name" } }), "webhooks[0].secret", /env: expected the name of an environment variable/],
    ["a bad name", hook({ name: "my hook" }), "webhooks[0].name", /expected letters, digits/]
  ])("%s", (_, input, path, message) => {
    const found = problems([input])
    const at = found.filter((problem) => problem.path === path)
    expect(at.length, JSON.stringify(found)).toBeGreaterThan(0)
    expect(at.map((problem) => problem.message).join("\n")).toMatch(message)
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
      process.env.SERVO_TEST_TOKEN = "tok-from-env"
      process.env.SERVO_TEST_SECRET = secret
      const [bearer, basic] = yield* resolve([
        hook({ authentication: { bearer_token: { env: "SERVO_TEST_TOKEN" } }, secret: { env: "SERVO_TEST_SECRET" } }),
        hook({ authentication: { basic: { username: "me", password: { file: passwordFile } } }, backoff: false })
      ])
      expect(bearer!.authentication._tag).toBe("Bearer")
      expect(Redacted.value((bearer!.authentication as { token: Redacted.Redacted<string> }).token)).toBe("tok-from-env")
      expect(bearer!.signingKeys).toHaveLength(1)
      expect(bearer!.backoff).toEqual({ retries: 3, timeout: Duration.minutes(5) })
      expect(basic!.authentication).toMatchObject({ _tag: "Basic", username: "me" })
      expect(Redacted.value((basic!.authentication as { password: Redacted.Redacted<string> }).password)).toBe("correct-horse-battery")
      expect(basic!.backoff).toBeUndefined()
      expect(basic!.signingKeys).toEqual([])
      expect(String(bearer!.authentication)).not.toContain("tok-from-env")
      expect(JSON.stringify(bearer)).not.toContain("tok-from-env")
    }))

  it.effect("reports a missing variable, an unreadable file and a bad signing secret together, without values", () =>
    Effect.gen(function*() {
      delete process.env.SERVO_TEST_MISSING
      process.env.SERVO_TEST_BAD_SECRET = "whsec_c2hvcnQ="
      const error = yield* Effect.flip(resolve([
        hook({ authentication: { bearer_token: { env: "SERVO_TEST_MISSING" } } }),
        hook({ authentication: { basic: { username: "me", password: { file: path.join(dir, "nope") } } } }),
        hook({ secret: { env: "SERVO_TEST_BAD_SECRET" } }),
        hook({ secret: "not-a-whsec-secret-at-all" })
      ]))
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

  it.each([
    ["allow without deny_private", hook({ network: { allow: ["10.0.0.0/8"] } }), "webhooks[0].network.allow", /punches holes in deny_private, which is off/],
    ["a bad CIDR", hook({ network: { deny_private: true, allow: ["10.0.0.0/40"] } }), "webhooks[0].network.allow[0]", /the prefix length must be 0 to 32/],
    ["an unknown network key", hook({ network: { deny_private: true, block: [] } }), "webhooks[0].network.block", /is unexpected/],
    ["cert without key", hook({ tls: { cert: { file: "/c.pem" } } }), "webhooks[0].tls", /cert and key go together/],
    ["tls for an http target", hook({ target: "http://example.com/x", tls: { ca: { file: "/ca.pem" } } }), "webhooks[0].tls", /applies to https targets/],
    ["a proxy that is not a secret ref", hook({ proxy: 8080 }), "webhooks[0].proxy", /expected a proxy URL as a secret/],
    ["an empty secret list", hook({ secret: [] }), "webhooks[0].secret", /is an empty list/],
    ["a secret header without a ref", hook({ headers: [{ name: "x-token", value: 12, secret: true }] }), "webhooks[0].headers[0].value", /expected a secret/],
    ["a secret flag that is not boolean", hook({ headers: [{ name: "x-token", value: "t", secret: "yes" }] }), "webhooks[0].headers[0].secret", /expected true or false/]
  ])("refuses %s", (_, input, path, message) => {
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
      process.env.SERVO_TEST_HEADER = "header-secret-value"
      delete process.env.SERVO_TEST_UNSET
      const [webhook] = yield* WebhookConfig.resolve(Either.getOrThrow(decode([
        hook({ headers: [{ name: "x-token", value: { env: "SERVO_TEST_HEADER" }, secret: true }] })
      ])))
      expect(Redacted.isRedacted(webhook!.headers[0]!.value)).toBe(true)
      expect(JSON.stringify(webhook)).not.toContain("header-secret-value")
      const error = yield* Effect.flip(WebhookConfig.resolve(Either.getOrThrow(decode({
        hooks: [hook({}), hook({ secret: [secret, { env: "SERVO_TEST_UNSET" }] })]
      }))))
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
