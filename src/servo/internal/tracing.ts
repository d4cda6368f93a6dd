/**
 * Whether spans go anywhere. Effect's native tracer keeps spans that no one exports, and making
 * one costs more than the work it would describe on the hot paths (a dispatch, a delivery): with
 * it, or with tracing switched off, none is made. The bus and `Delivery` both ask here.
 */
import * as Context from "effect/Context"
import * as DefaultServices from "effect/DefaultServices"
import * as FiberRef from "effect/FiberRef"
import * as Tracer from "effect/Tracer"

const nativeTracer = Context.get(DefaultServices.liveServices, Tracer.Tracer)

export const tracingExported = (
  fiber: { readonly currentTracer: Tracer.Tracer; getFiberRef<A>(ref: FiberRef.FiberRef<A>): A }
): boolean => fiber.currentTracer !== nativeTracer && fiber.getFiberRef(FiberRef.currentTracerEnabled)
