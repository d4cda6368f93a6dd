/**
 * Builds before any test file runs, and again before each watch-mode rerun: the bin, examples
 * and CLI tests spawn `dist/`, and a build older than `src/` would test code that no longer
 * exists. `tsc -p .` also type-checks src, test, examples and bench, so a type error fails the
 * run (`npm test` is just `vitest run`).
 */
import type { TestProject } from "vitest/node"
import { buildAndStamp } from "./support/build.js"

export default function setup(project: TestProject): void {
  buildAndStamp()
  project.onTestsRerun(() => buildAndStamp())
}
