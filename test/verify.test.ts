/**
 * `servo webhooks verify`: requests captured from real deliveries (the bin's `trigger` to a
 * node:http receiver on 127.0.0.1 that writes the headers and body to files), verified in-process
 * and, with the body on stdin, as a child process.
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Signature from "../src/webhooks/Signature.js"
import { bin, removeTempDirs, servo, tempDir } from "./support/cli.js"
import { receiver as testReceiver } from "./support/receiver.js"

afterAll(removeTempDirs)

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
const otherSecret = "whsec_dGhlIG90aGVyIHNlY3JldCwgMjQgYnl0ZXMhIQ=="

/** Sends `event` through `trigger` (signed by `keyArgs`) and writes what arrived: `headers.txt` and `body.json`. */
const capture = (keyArgs: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const hook = yield* testReceiver()
    const sent = yield* servo("webhooks", "trigger", "after:adjust", hook.url, ...keyArgs)
    expect(sent.code).toBe(0)
    const request = hook.requests[0]!
    const dir = tempDir()
    const headers = path.join(dir, "headers.txt")
    const body = path.join(dir, "body.json")
    fs.writeFileSync(
      headers,
      `POST /hook HTTP/1.1\r\n${Object.entries(request.headers).map(([name, value]) => `${name}: ${value}`).join("\r\n")}\r\n\r\n`
    )
    fs.writeFileSync(body, request.body)
    return { dir, headers, body, request }
  })

describe("servo webhooks verify", () => {
  it.live("valid (v1) with the secret, from a literal, a variable or a file; exit 1 with the reason otherwise", () =>
    Effect.gen(function*() {
      const { body, dir, headers } = yield* capture(["--secret", secret])
      const secretFile = path.join(dir, "secret")
      fs.writeFileSync(secretFile, `${secret}\n`)

      expect(yield* servo("webhooks", "verify", "--headers", headers, "--body", body, "--secret-file", secretFile)).toEqual({
        code: 0,
        stdout: ["valid (v1)"],
        stderr: []
      })
      expect(
        yield* servo("webhooks", "verify", "--headers", headers, "--body", body, "--secret-env", "HOOK_SECRET").pipe(
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["HOOK_SECRET", secret]])))
        )
      ).toEqual({ code: 0, stdout: ["valid (v1)"], stderr: [] })

      // Another key, a changed body, a missing header: exit 1, the reason, never the key.
      const wrongKey = yield* servo("webhooks", "verify", "--headers", headers, "--body", body, "--secret", otherSecret)
      expect(wrongKey.code).toBe(1)
      expect(wrongKey.stdout).toEqual([])
      expect(wrongKey.stderr).toHaveLength(1)
      expect(wrongKey.stderr[0]).toMatch(/^error: invalid: no_matching_signature: /)
      expect(wrongKey.stderr[0]).not.toContain(otherSecret.slice(6))
      const changed = path.join(dir, "changed.json")
      fs.writeFileSync(changed, fs.readFileSync(body, "utf8").replace('"replicas"', '"Replicas"'))
      expect((yield* servo("webhooks", "verify", "--headers", headers, "--body", changed, "--secret", secret)).stderr[0])
        .toMatch(/^error: invalid: no_matching_signature: /)
      expect(
        yield* servo("webhooks", "verify", "--headers", headers, "-H", "webhook-signature:", "--body", body, "--secret", secret)
      ).toEqual({ code: 1, stdout: [], stderr: ["error: invalid: missing_headers: missing or empty webhook-signature header"] })
    }).pipe(Effect.scoped))

  it.live("-H headers alone; v1a with --public-key; an old capture needs --tolerance", () =>
    Effect.gen(function*() {
      const pair = Signature.generateKeyPair()
      const { body, request } = yield* capture(["--signing-key", pair.signingKey])
      const h = ["webhook-id", "webhook-timestamp", "webhook-signature"].flatMap((name) => ["-H", `${name}: ${request.headers[name]}`])
      expect(yield* servo("webhooks", "verify", ...h, "--body", body, "--public-key", pair.publicKey)).toEqual({
        code: 0,
        stdout: ["valid (v1a)"],
        stderr: []
      })
      // The same request an hour later (its timestamp moved back): refused, unless the tolerance allows it.
      const old = Number(request.headers["webhook-timestamp"]) - 3600
      const signed = Signature.signHeaders(
        [Either.getOrThrow(Signature.parseSigningKey(pair.signingKey))],
        { id: String(request.headers["webhook-id"]), timestamp: old, body: request.body }
      )
      const aged = Object.entries(signed).flatMap(([name, value]) => ["-H", `${name}:${value}`])
      expect((yield* servo("webhooks", "verify", ...aged, "--body", body, "--public-key", pair.publicKey)).stderr[0])
        .toMatch(/^error: invalid: timestamp_out_of_tolerance: /)
      expect(yield* servo("webhooks", "verify", ...aged, "--body", body, "--public-key", pair.publicKey, "--tolerance", "7200"))
        .toMatchObject({ code: 0, stdout: ["valid (v1a)"] })
    }).pipe(Effect.scoped))

  it.live("no key, no headers, a malformed header line: one line each, exit 1", () =>
    Effect.gen(function*() {
      const { body, dir, headers } = yield* capture([])
      expect(yield* servo("webhooks", "verify", "--headers", headers, "--body", body)).toEqual({
        code: 1,
        stdout: [],
        stderr: ["error: give the key to verify with: --secret-env VAR, --secret-file PATH or --secret (v1), or --public-key (v1a)"]
      })
      expect(yield* servo("webhooks", "verify", "--body", body, "--secret", secret)).toEqual({
        code: 1,
        stdout: [],
        stderr: ["error: give the request's headers: --headers FILE or -H name:value"]
      })
      const bad = path.join(dir, "bad.txt")
      fs.writeFileSync(bad, "webhook-id: msg_1\nnot a header\n")
      expect(yield* servo("webhooks", "verify", "--headers", bad, "--body", body, "--secret", secret)).toEqual({
        code: 1,
        stdout: [],
        stderr: [`error: ${bad}:2: expected name: value`]
      })
      // Unsigned: nothing to verify.
      expect((yield* servo("webhooks", "verify", "--headers", headers, "--body", body, "--secret", secret)).stderr[0])
        .toMatch(/^error: invalid: missing_headers: /)
    }).pipe(Effect.scoped))

  it.live("the bin reads the body from stdin: exit 0 and valid (v1); a changed body exits 1", () =>
    Effect.gen(function*() {
      const { body, headers } = yield* capture(["--secret", secret])
      const verifyWithStdin = (input: Buffer) =>
        Effect.async<{ code: number | null; stdout: string; stderr: string }>((resume) => {
          const child = spawn(process.execPath, [bin, "webhooks", "verify", "--headers", headers, "--secret-env", "HOOK_SECRET"], {
            env: { ...process.env, NO_COLOR: "1", HOOK_SECRET: secret },
            stdio: ["pipe", "pipe", "pipe"]
          })
          let stdout = ""
          let stderr = ""
          child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
          child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
          child.on("close", (code) => resume(Effect.succeed({ code, stdout, stderr })))
          child.stdin.end(input)
        })
      expect(yield* verifyWithStdin(fs.readFileSync(body))).toEqual({ code: 0, stdout: "valid (v1)\n", stderr: "" })
      const changed = yield* verifyWithStdin(Buffer.concat([fs.readFileSync(body), Buffer.from(" ")]))
      expect(changed.code).toBe(1)
      expect(changed.stdout).toBe("")
      expect(changed.stderr).toMatch(/^error: invalid: no_matching_signature: .*\n$/)
    }).pipe(Effect.scoped))
})
