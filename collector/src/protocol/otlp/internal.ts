import type { Span } from '../../model/span.js';

/**
 * Span fields only span-relay reads (`internal`: the hand-off between its own workers), for what
 * OTLP has no place for and the join needs: the source format, Zipkin's `shared`, and a trace ID
 * that is 64 bits wide (OTLP's is always 16 bytes). Real OTLP receivers skip unknown fields.
 */
export const INTERNAL_FIELDS = { source: 1001, shared: 1002, trace64: 1003 } as const;
export const SOURCES: readonly Span['source'][] = ['zipkin', 'opencensus', 'otlp', 'jaeger', 'replay'];
