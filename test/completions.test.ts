/**
 * `servo --completions bash`, sourced by a real bash: the function it registers completes the
 * options of nested commands (`servo webhooks listen --<TAB>`), which @effect/cli's script alone
 * never did (it matched `servo,webhooks,listen` against a walk that produces `servo__webhooks`).
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { spawnSync } from "node:child_process"
import { bin } from "./support/cli.js"
import { assertFreshBuild } from "./support/build.js"

/** What the completion function offers for `words`, the last being completed (bash sets COMP_WORDS/COMP_CWORD the same way). */
const complete = (words: ReadonlyArray<string>) => {
  assertFreshBuild()
  const quoted = words.map((word) => `'${word}'`).join(" ")
  const script = [
    `source <("${process.execPath}" "${bin}" --completions bash)`,
    "complete -p servo",
    `COMP_WORDS=(${quoted})`,
    `COMP_CWORD=${words.length - 1}`,
    `_servo_bash_completions servo '${words.at(-1)}' '${words.at(-2) ?? ""}'`,
    `printf '%s\\n' "\${COMPREPLY[@]}"`
  ].join("\n")
  const ran = spawnSync("bash", ["-c", script], { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } })
  const [registered, ...offered] = ran.stdout.trimEnd().split("\n")
  return { status: ran.status, stderr: ran.stderr, registered, offered }
}

describe("servo --completions bash", () => {
  it.effect("registers a completion function for servo", () =>
    Effect.sync(() => {
      const { registered, status, stderr } = complete(["servo", ""])
      expect(status).toBe(0)
      expect(stderr).toBe("")
      expect(registered).toMatch(/^complete .*-F _servo_bash_completions .*servo$/)
    }))

  it.effect("servo webhooks listen --<TAB> offers listen's options, not the group's commands", () =>
    Effect.sync(() => {
      const { offered } = complete(["servo", "webhooks", "listen", "--"])
      expect(offered).toEqual(expect.arrayContaining(["--port", "--host", "--secret", "--public-key", "--cancel", "--events", "--config", "--forward-to"]))
      // Options of the other commands are not offered: trigger's --data, keys' --ed25519.
      expect(offered).not.toContain("--data")
      expect(offered).not.toContain("--ed25519")
      expect(offered).not.toContain("trigger")
    }))

  it.effect("the other nested commands complete their own options; the first levels their commands", () =>
    Effect.sync(() => {
      expect(complete(["servo", "webhooks", "trigger", "--"]).offered).toEqual(
        expect.arrayContaining(["--data", "--set", "--retries", "--no-retry", "--json", "--secret-env", "--secret-file"])
      )
      expect(complete(["servo", "webhooks", "verify", "--"]).offered).toEqual(
        expect.arrayContaining(["--headers", "--header", "--body", "--public-key-env", "--tolerance"])
      )
      expect(complete(["servo", "webhooks", "tr"]).offered).toEqual(["trigger"])
      expect(complete(["servo", "ru"]).offered).toEqual(["run"])
      expect(complete(["servo", "run", "--c"]).offered).toEqual(expect.arrayContaining(["--cycles", "--config"]))
    }))
})
