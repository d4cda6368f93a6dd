/** What `servo webhooks keys` does; loaded on demand by `WebhooksCommand.ts`. */
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Signature from "../../webhooks/Signature.js"
import * as Format from "./format.js"

/** The variables the hints name; the config `generate` writes reads the secret from the first. */
export const secretVariable = "SERVO_WEBHOOK_SECRET"
export const signingKeyVariable = "SERVO_WEBHOOK_SIGNING_KEY"

/**
 * A fresh `whsec_` secret, or with `ed25519` a `whsk_` signing key and its `whpk_` public key,
 * each on a labelled line, then how servo.yaml refers to it. Nothing is stored: the keys exist
 * only in this output.
 */
export const keys = Effect.fn("WebhooksCommand.keys")(function*(
  options: { readonly ed25519: boolean; readonly json?: boolean }
) {
  if (options.json === true) {
    const pair = options.ed25519 ? Signature.generateKeyPair() : undefined
    yield* Console.log(JSON.stringify(
      pair === undefined
        ? { scheme: "v1", secret: Signature.generateSecret(), servo_yaml: `secret: { env: ${secretVariable} }` }
        : {
          scheme: "v1a",
          signing_key: pair.signingKey,
          public_key: pair.publicKey,
          servo_yaml: `signing_key: { env: ${signingKeyVariable} }`
        },
      null,
      2
    ))
    return
  }
  if (!options.ed25519) {
    yield* Console.log(Format.table([], [
      ["secret", Signature.generateSecret()],
      ["servo.yaml", `secret: { env: ${secretVariable} }   # receivers verify with the same secret`]
    ]))
    return
  }
  const pair = Signature.generateKeyPair()
  yield* Console.log(Format.table([], [
    ["signing key", pair.signingKey],
    ["public key", pair.publicKey],
    ["servo.yaml", `signing_key: { env: ${signingKeyVariable} }   # receivers verify with the public key`]
  ]))
})
