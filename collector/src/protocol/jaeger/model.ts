import { traceIdTo128 } from '../../model/ids.js';
import type { AttributeValue, Span, SpanBatch } from '../../model/span.js';

/**
 * Model → Jaeger's span model, shared by the gRPC (api_v2) and Thrift encoders. Follows the
 * OpenTelemetry Collector's translator: kind → span.kind tag, status → error / otel.status_* tags,
 * events → logs with an `event` field, parent → CHILD_OF, links → FOLLOWS_FROM.
 */
export type JaegerTag =
  | { key: string; type: 'string'; value: string }
  | { key: string; type: 'bool'; value: boolean }
  | { key: string; type: 'int64'; value: bigint }
  | { key: string; type: 'float64'; value: number }
  | { key: string; type: 'binary'; value: Uint8Array };

export interface JaegerRef {
  type: 'child_of' | 'follows_from';
  traceIdHigh: string;
  traceIdLow: string;
  spanId: string;
}

export interface JaegerSpan {
  traceIdHigh: string;
  traceIdLow: string;
  spanId: string;
  parentSpanId: string;
  operationName: string;
  references: JaegerRef[];
  flags: number;
  startNanos: bigint;
  durationNanos: bigint;
  tags: JaegerTag[];
  logs: { timestampNanos: bigint; fields: JaegerTag[] }[];
}

export interface JaegerBatch {
  process: { serviceName: string; tags: JaegerTag[] };
  spans: JaegerSpan[];
}

export function toTag(key: string, v: AttributeValue): JaegerTag {
  switch (typeof v) {
    case 'string':
      return { key, type: 'string', value: v };
    case 'boolean':
      return { key, type: 'bool', value: v };
    case 'number':
      return Number.isInteger(v) ? { key, type: 'int64', value: BigInt(v) } : { key, type: 'float64', value: v };
    case 'bigint':
      return { key, type: 'int64', value: v };
    default:
      if (v instanceof Uint8Array) return { key, type: 'binary', value: v };
      return { key, type: 'string', value: JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x)) };
  }
}

function split(traceId: string): { traceIdHigh: string; traceIdLow: string } {
  const t = traceIdTo128(traceId);
  return { traceIdHigh: t.slice(0, 16), traceIdLow: t.slice(16) };
}

export function toJaegerSpan(span: Span): JaegerSpan {
  const tags: JaegerTag[] = [];
  for (const key in span.attributes) tags.push(toTag(key, span.attributes[key]!));
  if (span.kind !== 'unspecified' && span.kind !== 'internal') tags.push({ key: 'span.kind', type: 'string', value: span.kind });
  if (span.status.code === 'error') {
    tags.push({ key: 'error', type: 'bool', value: true });
    tags.push({ key: 'otel.status_code', type: 'string', value: 'ERROR' });
  } else if (span.status.code === 'ok') tags.push({ key: 'otel.status_code', type: 'string', value: 'OK' });
  if (span.status.message) tags.push({ key: 'otel.status_description', type: 'string', value: span.status.message });
  if (span.scope?.name) tags.push({ key: 'otel.scope.name', type: 'string', value: span.scope.name });
  if (span.scope?.version) tags.push({ key: 'otel.scope.version', type: 'string', value: span.scope.version });
  if (span.traceState) tags.push({ key: 'w3c.tracestate', type: 'string', value: span.traceState });

  const references: JaegerRef[] = [];
  if (span.parentSpanId) references.push({ type: 'child_of', ...split(span.traceId), spanId: span.parentSpanId });
  for (const l of span.links) references.push({ type: 'follows_from', ...split(l.traceId), spanId: l.spanId });

  return {
    ...split(span.traceId),
    spanId: span.spanId,
    parentSpanId: span.parentSpanId ?? '0000000000000000',
    operationName: span.name,
    references,
    // Jaeger's sampled flag: every span that reached us was sampled.
    flags: 1 | ((span.flags ?? 0) & 2),
    startNanos: span.startTimeUnixNano,
    durationNanos: span.endTimeUnixNano - span.startTimeUnixNano,
    tags,
    logs: span.events.map((e) => {
      const fields: JaegerTag[] = [{ key: 'event', type: 'string', value: e.name }];
      for (const key in e.attributes) fields.push(toTag(key, e.attributes[key]!));
      return { timestampNanos: e.timeUnixNano, fields };
    }),
  };
}

/** One Jaeger batch per process (service + resource), as Jaeger's ingest expects. */
export function toJaegerBatches(batch: SpanBatch): JaegerBatch[] {
  const byProcess = new Map<string, JaegerBatch>();
  for (const span of batch.spans) {
    const attrs = span.resource.attributes;
    const key = JSON.stringify(attrs, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));
    let b = byProcess.get(key);
    if (!b) {
      const name = attrs['service.name'];
      const tags: JaegerTag[] = [];
      for (const k in attrs) if (k !== 'service.name') tags.push(toTag(k, attrs[k]!));
      b = { process: { serviceName: typeof name === 'string' && name ? name : 'unknown_service', tags }, spans: [] };
      byProcess.set(key, b);
    }
    b.spans.push(toJaegerSpan(span));
  }
  return [...byProcess.values()];
}
