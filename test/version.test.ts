import { expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import { version } from "../src/version.js"
import * as WireContract from "../src/webhooks/WireContract.js"

it("the version in code is package.json's, and the user-agent carries it", () => {
  const pkg = JSON.parse(fs.readFileSync("package.json", "utf8"))
  expect(version).toBe(pkg.version)
  expect(WireContract.userAgent).toBe(`servo-webhooks/${pkg.version}`)
})
