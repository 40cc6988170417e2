import type { TextMapPropagator } from '@opentelemetry/api';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { B3InjectEncoding, B3Propagator } from '@opentelemetry/propagator-b3';

/**
 * Joins the mesh: extracts W3C tracecontext and B3 (single and multi: linkerd-proxy and nginx's
 * Zipkin tracer speak B3), injects what the next hop reads (default tracecontext + B3 multi). A
 * 64-bit B3 trace ID is kept (left-padded), never replaced by a new root.
 */
export function buildPropagator(names: string[]): TextMapPropagator | undefined {
  if (names.includes('none')) return undefined;
  const propagators: TextMapPropagator[] = [];
  // B3 is listed first: the composite's later propagators win, and tracecontext should when both are sent.
  if (names.includes('b3multi')) propagators.push(new B3Propagator({ injectEncoding: B3InjectEncoding.MULTI_HEADER }));
  if (names.includes('b3')) propagators.push(new B3Propagator({ injectEncoding: B3InjectEncoding.SINGLE_HEADER }));
  if (names.includes('tracecontext')) propagators.push(new W3CTraceContextPropagator());
  if (names.includes('baggage')) propagators.push(new W3CBaggagePropagator());
  return new CompositePropagator({ propagators });
}
