/**
 * Webhook configs the decoder refuses, with where and what it says: test/WebhookConfig.test.ts
 * checks the messages, test/ConfigSchema.test.ts that the JSON Schema refuses them too.
 * `hook(...)` is one webhook entry; each case's input is that entry alone in the list.
 */
export const hook = (fields: Record<string, unknown>) => ({ event: "after:measure", target: "https://example.com/hook", ...fields })

export type Rejection = readonly [name: string, input: unknown, path: string, message: RegExp]

/** Field rejections, one webhook each. */
export const rejections: ReadonlyArray<Rejection> = [
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

]

/** Security and transport fields, one webhook each. */
export const transportRejections: ReadonlyArray<Rejection> = [
  ["allow without deny_private", hook({ network: { allow: ["10.0.0.0/8"] } }), "webhooks[0].network.allow", /punches holes in deny_private, which is off/],
  ["a bad CIDR", hook({ network: { deny_private: true, allow: ["10.0.0.0/40"] } }), "webhooks[0].network.allow[0]", /the prefix length must be 0 to 32/],
  ["an unknown network key", hook({ network: { deny_private: true, block: [] } }), "webhooks[0].network.block", /is unexpected/],
  ["cert without key", hook({ tls: { cert: { file: "/c.pem" } } }), "webhooks[0].tls", /cert and key go together/],
  ["tls for an http target", hook({ target: "http://example.com/x", tls: { ca: { file: "/ca.pem" } } }), "webhooks[0].tls", /applies to https targets/],
  ["a proxy that is not a secret ref", hook({ proxy: 8080 }), "webhooks[0].proxy", /expected a proxy URL as a secret/],
  ["an empty secret list", hook({ secret: [] }), "webhooks[0].secret", /is an empty list/],
  ["a secret header without a ref", hook({ headers: [{ name: "x-token", value: 12, secret: true }] }), "webhooks[0].headers[0].value", /expected a secret/],
  ["a secret flag that is not boolean", hook({ headers: [{ name: "x-token", value: "t", secret: "yes" }] }), "webhooks[0].headers[0].secret", /expected true or false/],

  // Issue 14 item 8: accepted before, then every delivery failed to encode.
  ["a control character in a header value", hook({ headers: [{ name: "x-a", value: "a\x01b" }] }), "webhooks[0].headers[0].value", /contains a control character or a character beyond Latin-1/],
  ["DEL in a header value", hook({ headers: { "x-a": "a\x7fb" } }), "webhooks[0].headers.x-a", /contains a control character/],
  ["ESC in a header value", hook({ headers: [{ name: "x-a", value: "\x1b[2J" }] }), "webhooks[0].headers[0].value", /contains a control character/],
  ["U+2028 in a header value", hook({ headers: [{ name: "x-a", value: "a\u2028b" }] }), "webhooks[0].headers[0].value", /beyond Latin-1/],
  ["text beyond Latin-1 in a header value", hook({ headers: [{ name: "x-a", value: "caf\u00e9 \u2603" }] }), "webhooks[0].headers[0].value", /beyond Latin-1/],
  ["a literal secret header value with a control character", hook({ headers: [{ name: "x-a", value: "t\x00k", secret: true }] }), "webhooks[0].headers[0].value", /line break|control character/],
  ["keep-alive", hook({ headers: [{ name: "Keep-Alive", value: "timeout=5" }] }), "webhooks[0].headers[0].name", /Keep-Alive controls the connection/],
  ["upgrade", hook({ headers: { upgrade: "websocket" } }), "webhooks[0].headers.upgrade", /upgrade controls the connection/],
  ["expect", hook({ headers: [{ name: "expect", value: "100-continue" }] }), "webhooks[0].headers[0].name", /expect controls the connection/],
  ["a control character in a basic username", hook({ authentication: { basic: { username: "me\x1b", password: "pw" } } }), "webhooks[0].authentication.basic.username", /must not contain control characters/],
  // Issue 14 item 10: such durations read as Infinity, and a before webhook blocked the run.
  ["a request_timeout of 1 and 400 zeros hours", hook({ request_timeout: `1${"0".repeat(400)}h` }), "webhooks[0].request_timeout", /^is longer than 1h, the longest allowed here$/],
  ["a request_timeout over an hour", hook({ request_timeout: "61m" }), "webhooks[0].request_timeout", /is longer than 1h/],
  ["a backoff timeout over a week", hook({ backoff: { timeout: "169h" } }), "webhooks[0].backoff.timeout", /is longer than 168h, the longest allowed here/]
]
