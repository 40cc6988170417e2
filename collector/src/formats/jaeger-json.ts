/**
 * The JSON the Jaeger UI downloads ("Download JSON" on a trace, or the query API's response):
 * `{ data: [ { traceID, spans, processes } ] }`, times in microseconds.
 */
import { DecodeError } from '../model/errors.js';
import { emptyResult, type DecodeResult } from '../model/decode-result.js';
import { normalizeSpanIdHex, normalizeTraceIdHex } from '../model/ids.js';
import type { AttributeValue, Attributes, Span, SpanKind } from '../model/span.js';
import { toJaegerBatches, type JaegerTag } from '../protocol/jaeger/model.js';

interface JaegerJsonTag {
  key: string;
  type?: string;
  value: unknown;
}
interface JaegerJsonSpan {
  traceID: string;
  spanID: string;
  operationName?: string;
  references?: { refType: string; traceID: string; spanID: string }[];
  startTime: number;
  duration: number;
  tags?: JaegerJsonTag[];
  logs?: { timestamp: number; fields?: JaegerJsonTag[] }[];
  processID?: string;
  process?: { serviceName: string; tags?: JaegerJsonTag[] };
}
export interface JaegerJsonTrace {
  traceID: string;
  spans: JaegerJsonSpan[];
  processes?: Record<string, { serviceName: string; tags?: JaegerJsonTag[] }>;
}

function tagValue(t: JaegerJsonTag): AttributeValue {
  switch (t.type) {
    case 'int64':
      return typeof t.value === 'number' ? t.value : Number(t.value);
    case 'float64':
      return Number(t.value);
    case 'bool':
      return t.value === true || t.value === 'true';
    default:
      return typeof t.value === 'string' ? t.value : JSON.stringify(t.value);
  }
}

function tags(list: JaegerJsonTag[] | undefined): Attributes {
  const out: Attributes = {};
  for (const t of list ?? []) out[t.key] = tagValue(t);
  return out;
}

const KINDS = new Set<SpanKind>(['server', 'client', 'producer', 'consumer', 'internal']);

export function isJaegerJson(doc: unknown): doc is { data: JaegerJsonTrace[] } | JaegerJsonTrace {
  if (typeof doc !== 'object' || doc === null) return false;
  const d = doc as Record<string, unknown>;
  return Array.isArray(d.data) || (typeof d.traceID === 'string' && Array.isArray(d.spans));
}

export function decodeJaegerJson(doc: { data: JaegerJsonTrace[] } | JaegerJsonTrace): DecodeResult {
  const traces = 'data' in doc ? doc.data : [doc];
  const result = emptyResult();
  traces.forEach((trace, t) => {
    (trace.spans ?? []).forEach((s, i) => {
      const field = `data[${t}].spans[${i}]`;
      try {
        const proc = s.process ?? (s.processID ? trace.processes?.[s.processID] : undefined);
        const attributes = tags(s.tags);
        const kindTag = attributes['span.kind'];
        const kind: SpanKind = typeof kindTag === 'string' && KINDS.has(kindTag as SpanKind) ? (kindTag as SpanKind) : 'unspecified';
        delete attributes['span.kind'];
        const isError = attributes.error === true;
        if (isError) delete attributes.error;
        const message = attributes['otel.status_description'];
        delete attributes['otel.status_description'];
        delete attributes['otel.status_code'];
        if (typeof s.startTime !== 'number' || typeof s.duration !== 'number') {
          throw new DecodeError('invalid_timestamp', `${field}.startTime`, s.startTime, 'expected microseconds');
        }
        const start = BigInt(Math.round(s.startTime)) * 1000n;
        const parentRef = (s.references ?? []).find((r) => r.refType === 'CHILD_OF') ?? (s.references ?? [])[0];
        const span: Span = {
          traceId: normalizeTraceIdHex(s.traceID, `${field}.traceID`),
          spanId: normalizeSpanIdHex(s.spanID, `${field}.spanID`),
          name: s.operationName ?? '',
          kind,
          startTimeUnixNano: start,
          endTimeUnixNano: start + BigInt(Math.round(s.duration)) * 1000n,
          attributes,
          events: (s.logs ?? []).map((l) => {
            const fields = tags(l.fields);
            const name = typeof fields.event === 'string' ? fields.event : '';
            delete fields.event;
            return { timeUnixNano: BigInt(Math.round(l.timestamp)) * 1000n, name, attributes: fields };
          }),
          links: (s.references ?? [])
            .filter((r) => r !== parentRef)
            .map((r) => ({ traceId: normalizeTraceIdHex(r.traceID, `${field}.references.traceID`), spanId: normalizeSpanIdHex(r.spanID, `${field}.references.spanID`), attributes: {} })),
          status: isError ? { code: 'error', ...(typeof message === 'string' ? { message } : {}) } : { code: 'unset' },
          resource: { attributes: { 'service.name': proc?.serviceName ?? 'unknown_service', ...tags(proc?.tags) } },
          source: 'replay',
        };
        if (parentRef) span.parentSpanId = normalizeSpanIdHex(parentRef.spanID, `${field}.references[0].spanID`);
        result.spans.push(span);
      } catch (err) {
        if (err instanceof DecodeError) result.rejected.push(err);
        else throw err;
      }
    });
  });
  return result;
}

// ---------------------------------------------------------------------------------------------
// model → Jaeger query JSON (what GET /api/traces answers; Jaeger UI and Grafana read it)

export interface JaegerJsonOutTag {
  key: string;
  type: 'string' | 'bool' | 'int64' | 'float64' | 'binary';
  value: string | number | boolean;
}
export interface JaegerJsonOutSpan {
  traceID: string;
  spanID: string;
  flags: number;
  operationName: string;
  references: { refType: 'CHILD_OF' | 'FOLLOWS_FROM'; traceID: string; spanID: string }[];
  startTime: number;
  duration: number;
  tags: JaegerJsonOutTag[];
  logs: { timestamp: number; fields: JaegerJsonOutTag[] }[];
  processID: string;
  warnings: string[] | null;
}
export interface JaegerJsonOutTrace {
  traceID: string;
  spans: JaegerJsonOutSpan[];
  processes: Record<string, { serviceName: string; tags: JaegerJsonOutTag[] }>;
  warnings: string[] | null;
}

function outTag(t: JaegerTag): JaegerJsonOutTag {
  switch (t.type) {
    case 'int64':
      return { key: t.key, type: 'int64', value: t.value >= BigInt(Number.MIN_SAFE_INTEGER) && t.value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(t.value) : t.value.toString() };
    case 'binary':
      return { key: t.key, type: 'binary', value: Buffer.from(t.value).toString('base64') };
    default:
      return { key: t.key, type: t.type, value: t.value };
  }
}

const hexId = (high: string, low: string): string => (high === '0000000000000000' ? low : high + low);

/** One trace in Jaeger's query JSON: IDs as Jaeger writes them (64-bit ones without padding), µs. */
export function encodeJaegerJsonTrace(spans: readonly Span[], warnings: string[] | null = null): JaegerJsonOutTrace {
  const processes: JaegerJsonOutTrace['processes'] = {};
  const processIds = new Map<string, string>();
  const out: JaegerJsonOutSpan[] = [];
  for (const batch of toJaegerBatches({ spans: [...spans] })) {
    const key = JSON.stringify([batch.process.serviceName, batch.process.tags.map((t) => [t.key, String(t.value)])]);
    let pid = processIds.get(key);
    if (!pid) {
      pid = `p${processIds.size + 1}`;
      processIds.set(key, pid);
      processes[pid] = { serviceName: batch.process.serviceName, tags: batch.process.tags.map(outTag) };
    }
    for (const s of batch.spans) {
      out.push({
        traceID: hexId(s.traceIdHigh, s.traceIdLow),
        spanID: s.spanId,
        flags: s.flags,
        operationName: s.operationName,
        references: s.references.map((r) => ({ refType: r.type === 'child_of' ? 'CHILD_OF' : 'FOLLOWS_FROM', traceID: hexId(r.traceIdHigh, r.traceIdLow), spanID: r.spanId })),
        startTime: Number(s.startNanos / 1000n),
        duration: Number(s.durationNanos / 1000n),
        tags: s.tags.map(outTag),
        logs: s.logs.map((l) => ({ timestamp: Number(l.timestampNanos / 1000n), fields: l.fields.map(outTag) })),
        processID: pid,
        warnings: null,
      });
    }
  }
  out.sort((a, b) => a.startTime - b.startTime);
  return { traceID: out[0]?.traceID ?? '', spans: out, processes, warnings };
}
