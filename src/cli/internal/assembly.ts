/** The connectors the `servo` bin knows: the bundled simulator and the webhooks connector. */
import * as Servo from "../../servo/Servo.js"
import * as Simulator from "../../servo/Simulator.js"
import * as Webhooks from "../../webhooks/Webhooks.js"

export const assembly = Servo.assembly([Simulator.connector, Webhooks.connector])
