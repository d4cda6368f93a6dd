/**
 * The bundled connectors as the `webhooks` commands need them: to read servo.yaml, not to run.
 * The webhooks connector here has the real one's name and config Schema but none of its delivery
 * code, which `list`, `schema` and `validate` would otherwise load for nothing (`servo run` uses
 * `assembly.ts`). A test keeps the two assemblies reading files alike.
 */
import * as Layer from "effect/Layer"
import * as Connector from "../../servo/Connector.js"
import * as Servo from "../../servo/Servo.js"
import * as Simulator from "../../servo/Simulator.js"
import * as Telemetry from "../../servo/Telemetry.js"
import * as WebhookConfig from "../../webhooks/WebhookConfig.js"

const webhooks = Connector.make({
  name: "webhooks",
  description: "HTTP callbacks before and after events",
  config: (events) => WebhookConfig.WebhooksConfig(events),
  layer: () => Layer.die(new Error("the config-only webhooks connector cannot run; use Webhooks.connector"))
})

export const assembly = Servo.assembly([Simulator.connector, webhooks, Telemetry.connector])
