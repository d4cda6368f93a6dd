/**
 * A before:adjust responder on Express 5, verified with `standardwebhooks`. The body must stay
 * raw bytes for the signature: `express.json()` would not parse the vendor content type anyway,
 * and re-serialised JSON would not verify.
 *
 *   HOOK_SECRET=whsec_... node dist/examples/responders/express.js   (listens on :3000)
 */
import express from "express"
import { Webhook } from "standardwebhooks"

export const responder = (secret: string) => {
  const webhook = new Webhook(secret)
  const app = express()
  app.post("/webhooks", express.raw({ type: "*/*" }), (req, res) => {
    let delivery: any
    try {
      delivery = webhook.verify(req.body as Buffer, {
        "webhook-id": req.header("webhook-id") ?? "",
        "webhook-timestamp": req.header("webhook-timestamp") ?? "",
        "webhook-signature": req.header("webhook-signature") ?? ""
      })
    } catch {
      res.status(400).send("invalid signature")
      return
    }
    const tooMany = delivery.event === "before:adjust" &&
      delivery.parameters.adjustments.some((a: any) => a.setting === "replicas" && Number(a.value) > 5)
    if (tooMany) {
      // A 2xx with this content type cancels the event; the reason reaches the servo's logs.
      res.status(200).type("application/vnd.opsani.servo.errors.CancelEventError+json")
        .send(JSON.stringify({ reason: "at most 5 replicas" }))
      return
    }
    res.status(204).end()
  })
  return app
}

if (import.meta.url === `file://${process.argv[1]}`) {
  responder(process.env.HOOK_SECRET!).listen(3000, "127.0.0.1")
}
