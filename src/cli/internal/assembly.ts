/** The connectors the `servo` bin knows: the bundled simulator, the webhooks connector and the `telemetry:` section. */
import * as Servo from "../../servo/Servo.js"
import * as Simulator from "../../servo/Simulator.js"
import * as Telemetry from "../../servo/Telemetry.js"
import * as Webhooks from "../../webhooks/Webhooks.js"

/** The bundled connectors, the webhooks connector with options of its own (`servo run --drain-timeout`). */
export const assemblyWith = (options: Webhooks.ConnectorOptions) =>
  Servo.assembly([Simulator.connector, Webhooks.connectorWithOptions(options), Telemetry.connector])

export const assembly = assemblyWith({})
