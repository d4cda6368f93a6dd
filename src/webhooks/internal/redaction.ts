/** What stands in for a secret wherever a request is shown. */
export const redacted = "REDACTED"

/** Header names whose values are credentials whatever the config says. */
export const sensitiveHeaderNames: ReadonlyArray<string> = [
  "authorization",
  "proxy-authorization",
  "cookie",
  "set-cookie",
  "x-api-key"
]

/**
 * A URL fit to show: userinfo and every query value replaced by `REDACTED` (the names stay, they
 * help to recognise a URL), and so is a fragment. Text that is not a URL is not shown at all.
 */
export const redactUrl = (input: string | URL): string => {
  let url: URL
  try {
    url = new URL(input)
  } catch {
    return redacted
  }
  if (url.username !== "") url.username = redacted
  if (url.password !== "") url.password = redacted
  if (url.search !== "") {
    const names = [...new Set([...url.searchParams.keys()])]
    const params = new URLSearchParams()
    for (const name of names) for (const _ of url.searchParams.getAll(name)) params.append(name, redacted)
    url.search = params.toString()
  }
  if (url.hash !== "") url.hash = redacted
  return url.href
}
