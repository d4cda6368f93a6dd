/**
 * Name lookups without this machine's resolver. A `.invalid` name never resolves, but glibc would
 * still ask the resolver (not on loopback, and as slow as it likes): tests give the client a
 * dispatcher whose lookup fails at once, as getaddrinfo does for a name that does not exist. The
 * rest of the path (net, undici, the client, the classification) stays the real one.
 */
import * as Effect from "effect/Effect"
import { Agent } from "undici"

/** A lookup that fails at once with ENOTFOUND, recording each name asked for. */
export const failingLookup = (lookups: Array<string>) =>
(hostname: string, _options: unknown, callback: (error: NodeJS.ErrnoException) => void) => {
  lookups.push(hostname)
  const error: NodeJS.ErrnoException = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), {
    code: "ENOTFOUND",
    errno: -3008,
    syscall: "getaddrinfo",
    hostname
  })
  process.nextTick(callback, error)
}

/** An undici Agent whose every lookup fails (see `failingLookup`), destroyed with the scope. */
export const unresolvingAgent = (lookups: Array<string>) =>
  Effect.acquireRelease(
    Effect.sync(() => new Agent({ connect: { lookup: failingLookup(lookups) } as Agent.Options["connect"] & {} })),
    (agent) => Effect.promise(() => agent.destroy())
  )
