import { describe, expect, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import { assertFreshBuild } from "./support/build.js"

// vitest's global setup builds dist/, so the examples run exactly as the README says.
describe("README examples", () => {
  it("examples/events.ts prints what the README shows", () => {
    assertFreshBuild()
    const output = execFileSync(process.execPath, ["dist/examples/events.js"], { encoding: "utf8" })
    expect(output).toBe("simulator now runs 4 replicas\nCancelEventError - adjust cancelled by guard: at most 5 replicas\n")
    const readme = fs.readFileSync("README.md", "utf8")
    expect(readme).toContain(fs.readFileSync("examples/events.ts", "utf8").trim())
    expect(readme).toContain(output.trim())
  })
})
