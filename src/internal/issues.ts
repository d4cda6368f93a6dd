import * as ParseResult from "effect/ParseResult"
import type { ConfigIssue } from "../servo/ConfigError.js"

export { formatIssue } from "../servo/ConfigError.js"

/**
 * `["webhooks", 2, "backoff"]` → `webhooks[2].backoff`, the way people write paths into YAML.
 */
export const formatPath = (path: ReadonlyArray<PropertyKey>, prefix = ""): string => {
  let out = prefix
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`
    else if (typeof key === "string" && /^[A-Za-z_][A-Za-z0-9_-]*$/.test(key)) out += out.length === 0 ? key : `.${key}`
    else out += `[${JSON.stringify(String(key))}]`
  }
  return out
}

/**
 * The message of a union member whose shape the input does not have (a list given where a
 * mapping or a scalar would also do): the member that matches the shape says what is wrong, so
 * this one says nothing, and `issuesOf` drops it.
 */
export const otherAlternative = "(another alternative applies)"

/**
 * One problem found while decoding; `unexpected` marks a key the Schema does not know.
 */
export interface Issue extends ConfigIssue {
  readonly unexpected: boolean
}

/**
 * The most problems reported for one config; the rest are counted. A file of 130,000 wrong
 * entries is better told by its first hundred (and printing them all overflowed the stack).
 */
export const maxIssues = 100

/** The first {@link maxIssues} issues, then one that counts the others (`and 129900 more problems`). */
export const capIssues = <I extends ConfigIssue>(issues: ReadonlyArray<I>, more: (issue: ConfigIssue) => I): Array<I> =>
  issues.length <= maxIssues
    ? [...issues]
    : [...issues.slice(0, maxIssues), more({ path: "", message: `and ${issues.length - maxIssues} more problem${issues.length - maxIssues === 1 ? "" : "s"}` })]

/**
 * The issues of a parse error, in the order the Schema met them, at most {@link maxIssues} and a
 * count of the rest. An optional field's "Expected undefined" alternative is dropped: no YAML or
 * JSON input holds `undefined`, so it only repeats the real problem. So is a union member that
 * does not apply (`otherAlternative`).
 */
export const issuesOf = (error: ParseResult.ParseError, prefix = ""): Array<Issue> =>
  capIssues(
    ParseResult.ArrayFormatter.formatErrorSync(error).flatMap((issue) =>
      issue.message.startsWith("Expected undefined, actual ") || issue.message === otherAlternative
        ? []
        : [{ path: formatPath(issue.path, prefix), message: issue.message, unexpected: issue._tag === "Unexpected" }]
    ),
    (issue) => ({ ...issue, unexpected: false })
  )
