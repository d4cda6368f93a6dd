/**
 * The same responder on Hono (served by @hono/node-server), verified with `standardwebhooks`
 * over the raw body text.
 *
 *   HOOK_SECRET=whsec_... node dist/examples/responders/hono.js   (listens on :3000)
 */
import { serve } from "@hono/node-server"
import { Hono } from "hono"
import { Webhook } from "standardwebhooks"

export const responder = (secret: string) => {
  const webhook = new Webhook(secret)
  const app = new Hono()
  app.post("/webhooks", async (c) => {
    const body = await c.req.text()
    let delivery: any
    try {
      delivery = webhook.verify(body, {
        "webhook-id": c.req.header("webhook-id") ?? "",
        "webhook-timestamp": c.req.header("webhook-timestamp") ?? "",
        "webhook-signature": c.req.header("webhook-signature") ?? ""
      })
    } catch {
      return c.text("invalid signature", 400)
    }
    const tooMany = delivery.event === "before:adjust" &&
      delivery.parameters.adjustments.some((a: any) => a.setting === "replicas" && Number(a.value) > 5)
    if (tooMany) {
      // A 2xx with this content type cancels the event; the reason reaches the servo's logs.
      return c.body(JSON.stringify({ reason: "at most 5 replicas" }), 200, {
        "content-type": "application/vnd.opsani.servo.errors.CancelEventError+json"
      })
    }
    return c.body(null, 204)
  })
  return app
}

if (import.meta.url === `file://${process.argv[1]}`) {
  serve({ fetch: responder(process.env.HOOK_SECRET!).fetch, port: 3000, hostname: "127.0.0.1" })
}
