import { describe, expect, it } from "@effect/vitest"
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import { promisify } from "node:util"
import { assertFreshBuild } from "./support/build.js"

const run = async (args: ReadonlyArray<string>) => {
  assertFreshBuild()
  try {
    const { stderr, stdout } = await promisify(execFile)(process.execPath, args, { encoding: "utf8" })
    return { code: 0, stdout, stderr }
  } catch (error: any) {
    return { code: error.code as number, stdout: error.stdout as string, stderr: error.stderr as string }
  }
}

// vitest's global setup builds dist/ first: these run exactly as `npm start` and the README do.
describe("the demo and the README's CLI example", () => {
  it("npm start's demo: four cycles, the 2nd adjustment cancelled by the receiver, both sides counted", async () => {
    const { code, stderr, stdout } = await run(["dist/examples/demo.js"])
    expect(code).toBe(0)
    expect(stderr.split("\n").filter((line) => line !== "" && !/^info: draining \d after deliver/.test(line))).toEqual([])
    const lines = stdout.trimEnd().split("\n")
    expect(lines.filter((line) => /^cycle \d\/4$/.test(line))).toHaveLength(4)
    expect(lines.filter((line) => line.includes("cancelled by webhooks (approve_adjustments)"))).toEqual([
      "  adjust    web.replicas 3 → 4: cancelled by webhooks (approve_adjustments): change freeze until the review; going on"
    ])
    expect(lines.filter((line) => / verified \(v1\) → /.test(line))).toHaveLength(4)
    expect(lines.slice(-3)).toEqual([
      "done: 4 of 4 cycles, 3 adjustments applied, 1 cancelled",
      "webhooks: before 3 delivered, 1 cancelled, 0 failed · after 4 delivered, 0 failed, 0 cancelled, 0 abandoned, 0 overflowed",
      "receiver: 8 deliveries arrived: 4 signed and verified, 0 invalid, 4 unsigned; 1 cancellation sent"
    ])
    expect(stdout).not.toMatch(/whsec_\w/)
  })

  it("examples/cli.ts mounts the webhooks commands in a CLI of its own, as the README shows", async () => {
    const schema = await run(["dist/examples/cli.js", "webhooks", "schema", "before:adjust"])
    expect(schema.code).toBe(0)
    expect(JSON.parse(schema.stdout).event).toBe("before:adjust")
    const unknown = await run(["dist/examples/cli.js", "webhooks", "schema", "after:nope"])
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toMatch(/^error: after:nope: unknown event "nope"; known events: /)
    expect(fs.readFileSync("README.md", "utf8")).toContain(fs.readFileSync("examples/cli.ts", "utf8").trim())
  })
})
