/**
 * THE HTTP client of the `servo` bin (and of the demo): the one place to change it. Only the
 * commands that send (`trigger`, `run`) import this module, when they start.
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as Layer from "effect/Layer"
import * as UndiciHttpClient from "../../webhooks/UndiciHttpClient.js"

export const layer: Layer.Layer<HttpClient.HttpClient> = UndiciHttpClient.layer
