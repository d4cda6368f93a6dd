/** Which configured headers are shown as `REDACTED` in listings, spans and logs. */
import * as Redacted from "effect/Redacted"
import type * as WebhookConfig from "../WebhookConfig.js"
import { redacted, sensitiveHeaderNames } from "./redaction.js"

type AnyHeader = WebhookConfig.Header | WebhookConfig.ResolvedHeader

const isSecretHeader = (header: AnyHeader): boolean =>
  ("secret" in header && header.secret === true) || Redacted.isRedacted(header.value) ||
  sensitiveHeaderNames.includes(header.name.toLowerCase())

/** A webhook's headers as they may be shown. */
export const redactedHeaders = (
  webhook: { readonly headers: ReadonlyArray<AnyHeader> }
): ReadonlyArray<{ readonly name: string; readonly value: string }> =>
  webhook.headers.map((header) => ({
    name: header.name,
    value: isSecretHeader(header) || typeof header.value !== "string" ? redacted : header.value
  }))

/** The names of the headers whose values are redacted. */
export const redactedHeaderNames = (webhook: { readonly headers: ReadonlyArray<AnyHeader> }): ReadonlyArray<string> => [
  ...new Set([
    ...sensitiveHeaderNames,
    ...webhook.headers.filter(isSecretHeader).map((header) => header.name.toLowerCase())
  ])
]
