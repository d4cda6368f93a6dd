/**
 * THE HTTP client of the `servo` bin (and of the demo): the one place to change it. Only the
 * commands that send (`trigger`, `run`) import this module, when they start.
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import type * as Layer from "effect/Layer"

export const layer: Layer.Layer<HttpClient.HttpClient> = NodeHttpClient.layerUndici
