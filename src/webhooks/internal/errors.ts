/** Reading the causes of errors from Node and undici. */

/** The first error in a cause chain (`error.cause.cause...`) that satisfies `predicate`. */
export const findCause = <A>(cause: unknown, predicate: (error: object) => error is A & object): A | undefined => {
  for (let error = cause, depth = 0; typeof error === "object" && error !== null && depth < 5; depth++) {
    if (predicate(error)) return error
    error = "cause" in error ? error.cause : undefined
  }
  return undefined
}

/** A Node system error's code (`ENOENT`, `ECONNREFUSED`), or `""`. */
export const codeOf = (error: unknown): string =>
  typeof error === "object" && error !== null && "code" in error && typeof error.code === "string" ? error.code : ""

/** The first code in a cause chain, or undefined. */
export const codeIn = (cause: unknown): string | undefined => {
  const found = findCause(cause, (error): error is { readonly code: string } => codeOf(error) !== "")
  return found?.code
}
