/**
 * The build the child-process tests run: `test/globalSetup.ts` builds `dist/` and stamps it;
 * `assertFreshBuild` refuses to run `dist/` when a source file changed since (a run that skipped
 * the global setup, or a file saved while the tests run).
 *
 * A stamp, not the mtimes of `dist/` files: an incremental `tsc` leaves an output untouched when
 * its source was saved without a change, so `dist/x.js` can be older than an unchanged `x.ts`.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"

const root = path.resolve(import.meta.dirname, "../..")
const stamp = path.join(root, "dist", ".built-by-tests")
/** What the spawned programs are built from. */
const sources = ["src", "examples"]

/** `tsc -p .` (emits and type-checks); throws with the compiler's output when it fails. */
export const buildAndStamp = (): void => {
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc")
  try {
    execFileSync(process.execPath, [tsc, "-p", "."], { cwd: root, encoding: "utf8", stdio: "pipe" })
  } catch (error: any) {
    throw new Error(`tsc -p . failed:\n${error.stdout ?? ""}${error.stderr ?? ""}`)
  }
  fs.writeFileSync(stamp, `${new Date().toISOString()}\n`)
}

const newestSource = (dir: string): { readonly file: string; readonly mtime: number } => {
  let newest = { file: dir, mtime: 0 }
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name)
    const candidate = entry.isDirectory()
      ? newestSource(full)
      : entry.name.endsWith(".ts")
      ? { file: full, mtime: fs.statSync(full).mtimeMs }
      : newest
    if (candidate.mtime > newest.mtime) newest = candidate
  }
  return newest
}

/** Throws "dist is older than src" unless `dist/` was built after every `.ts` file last changed. */
export const assertFreshBuild = (): void => {
  const mtime = (file: string) => fs.existsSync(file) ? fs.statSync(file).mtimeMs : 0
  // A hand-run `tsc -p .` that emitted anything rewrites its build info.
  const built = Math.max(mtime(stamp), mtime(path.join(root, "dist", ".tsbuildinfo")))
  if (built === 0) throw new Error("dist is not built: run `npx vitest run`, whose global setup builds it")
  for (const dir of sources) {
    const newest = newestSource(path.join(root, dir))
    if (newest.mtime > built) {
      throw new Error(
        `dist is older than src: ${path.relative(root, newest.file)} changed after the last build; ` +
          "rerun `npx vitest run`, whose global setup builds it"
      )
    }
  }
}
