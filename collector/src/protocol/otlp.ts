/**
 * Model ↔ OTLP (opentelemetry.proto.trace.v1), as protobufjs message objects and as OTLP/JSON.
 * Pure functions; the receivers, the OTLP exporters and the file exporter all go through here.
 */
import { DecodeError } from '../model/errors.js';
import { emptyResult, type DecodeResult } from '../model/decode-result.js';
import { bytesToHex, hexToBytes, normalizeSpanIdHex, normalizeTraceIdHex, parentIdFromBytes, spanIdFromBytes, traceIdFromBytes, traceIdTo128 } from '../model/ids.js';
import type { AttributeValue, Attributes, Span, SpanBatch, SpanEvent, SpanKind, SpanLink, StatusCode } from '../model/span.js';
import { bigIntToLong, checkPlausible, longToBigInt, longToBigIntSigned, maxPlausibleNanos } from '../model/time.js';

type LongLike = { low: number; high: number; unsigned?: boolean };

export interface OtlpAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: LongLike | number | string;
  doubleValue?: number;
  arrayValue?: { values?: OtlpAnyValue[] };
  kvlistValue?: { values?: OtlpKeyValue[] };
  bytesValue?: Uint8Array | string;
}
export interface OtlpKeyValue {
  key?: string;
  value?: OtlpAnyValue;
}
export interface OtlpSpan {
  traceId?: Uint8Array | string;
  spanId?: Uint8Array | string;
  traceState?: string;
  parentSpanId?: Uint8Array | string;
  flags?: number;
  name?: string;
  kind?: number | string;
  startTimeUnixNano?: LongLike | number | string;
  endTimeUnixNano?: LongLike | number | string;
  attributes?: OtlpKeyValue[];
  droppedAttributesCount?: number;
  events?: { timeUnixNano?: LongLike | number | string; name?: string; attributes?: OtlpKeyValue[] }[];
  droppedEventsCount?: number;
  links?: { traceId?: Uint8Array | string; spanId?: Uint8Array | string; traceState?: string; attributes?: OtlpKeyValue[] }[];
  droppedLinksCount?: number;
  status?: { message?: string; code?: number | string };
}
export interface OtlpResourceSpans {
  resource?: { attributes?: OtlpKeyValue[] };
  scopeSpans?: { scope?: { name?: string; version?: string }; spans?: OtlpSpan[] }[];
}
export interface OtlpExportRequest {
  resourceSpans?: OtlpResourceSpans[];
}

const KIND_NAMES: SpanKind[] = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'];
const KIND_NUMBERS: Record<SpanKind, number> = { unspecified: 0, internal: 1, server: 2, client: 3, producer: 4, consumer: 5 };
const STATUS_NAMES: StatusCode[] = ['unset', 'ok', 'error'];
const STATUS_NUMBERS: Record<StatusCode, number> = { unset: 0, ok: 1, error: 2 };

// ---------------------------------------------------------------------------------------------
// values

export function anyValueToModel(v: OtlpAnyValue | undefined): AttributeValue {
  // Own properties only: protobufjs puts oneof defaults on the prototype.
  if (!v) return '';
  if (Object.hasOwn(v, 'stringValue')) return v.stringValue!;
  if (Object.hasOwn(v, 'boolValue')) return v.boolValue!;
  if (Object.hasOwn(v, 'intValue')) {
    const big = longToBigIntSigned(v.intValue as LongLike);
    return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
  }
  if (Object.hasOwn(v, 'doubleValue')) return Number(v.doubleValue);
  if (v.arrayValue) return (v.arrayValue.values ?? []).map(anyValueToModel);
  if (v.kvlistValue) return keyValuesToModel(v.kvlistValue.values);
  if (Object.hasOwn(v, 'bytesValue')) return typeof v.bytesValue === 'string' ? Buffer.from(v.bytesValue, 'base64') : v.bytesValue!;
  return '';
}

export function keyValuesToModel(kvs: OtlpKeyValue[] | undefined): Attributes {
  const out: Attributes = {};
  if (kvs) for (const kv of kvs) if (kv.key !== undefined) out[kv.key] = anyValueToModel(kv.value);
  return out;
}

export function modelToAnyValue(v: AttributeValue): OtlpAnyValue {
  switch (typeof v) {
    case 'string':
      return { stringValue: v };
    case 'boolean':
      return { boolValue: v };
    case 'number':
      return Number.isInteger(v) ? { intValue: v } : { doubleValue: v };
    case 'bigint':
      return { intValue: bigIntToLong(v) };
    default:
      if (v instanceof Uint8Array) return { bytesValue: v };
      if (Array.isArray(v)) return { arrayValue: { values: (v as AttributeValue[]).map(modelToAnyValue) } };
      return { kvlistValue: { values: modelToKeyValues(v as Attributes) } };
  }
}

export function modelToKeyValues(attrs: Attributes): OtlpKeyValue[] {
  const out: OtlpKeyValue[] = [];
  for (const key in attrs) out.push({ key, value: modelToAnyValue(attrs[key]!) });
  return out;
}

// ---------------------------------------------------------------------------------------------
// OTLP → model. `json` selects OTLP/JSON rules: hex IDs, enums by number or name, int64 as strings.

function id(value: Uint8Array | string | undefined, field: string, json: boolean, kind: 'trace' | 'span'): string {
  if (json) {
    if (kind === 'trace') {
      const hex = normalizeTraceIdHex(value, field);
      if (typeof value !== 'string' || value.length !== 32) throw new DecodeError('invalid_trace_id', field, value, 'expected 32 hex digits');
      return hex;
    }
    if (typeof value !== 'string' || value.length !== 16) throw new DecodeError('invalid_span_id', field, value, 'expected 16 hex digits');
    return normalizeSpanIdHex(value, field);
  }
  const bytes = value as Uint8Array | undefined;
  if (kind === 'trace') {
    if (bytes?.length !== 16) throw new DecodeError('invalid_trace_id', field, bytes ? bytesToHex(bytes) : bytes, `expected 16 bytes, got ${bytes?.length ?? 0}`);
    return traceIdFromBytes(bytes, field);
  }
  return spanIdFromBytes(bytes, field);
}

function parentId(value: Uint8Array | string | undefined, field: string, json: boolean): string | undefined {
  if (value === undefined || value === '' || (value instanceof Uint8Array && value.length === 0)) return undefined;
  if (json) {
    if (/^0+$/.test(value as string)) return undefined;
    return id(value, field, true, 'span');
  }
  return parentIdFromBytes(value as Uint8Array, field);
}

function enumValue<T>(value: number | string | undefined, names: T[], prefix: string, field: string): T {
  if (value === undefined) return names[0]!;
  if (typeof value === 'number') {
    const name = names[value];
    if (name === undefined) throw new DecodeError('invalid_field', field, value, `unknown enum value`);
    return name;
  }
  const name = value.startsWith(prefix) ? value.slice(prefix.length).toLowerCase() : value.toLowerCase();
  if (!names.includes(name as T)) throw new DecodeError('invalid_field', field, value, 'unknown enum value');
  return name as T;
}

function time(value: LongLike | number | string | undefined, field: string, max: bigint): bigint {
  let nanos: bigint;
  try {
    nanos = longToBigInt(value as LongLike);
  } catch {
    throw new DecodeError('invalid_timestamp', field, value, 'expected an integer of nanoseconds');
  }
  return checkPlausible(nanos, field, max);
}

export function otlpSpanToModel(s: OtlpSpan, resource: Attributes, scope: { name?: string; version?: string } | undefined, field: string, json: boolean, max = maxPlausibleNanos()): Span {
  const traceId = id(s.traceId, `${field}.traceId`, json, 'trace');
  const spanId = id(s.spanId, `${field}.spanId`, json, 'span');
  const start = time(s.startTimeUnixNano, `${field}.startTimeUnixNano`, max);
  const end = time(s.endTimeUnixNano, `${field}.endTimeUnixNano`, max);
  if (end < start) throw new DecodeError('invalid_timestamp', `${field}.endTimeUnixNano`, end, 'span ends before it starts');
  const events: SpanEvent[] = (s.events ?? []).map((e) => ({
    timeUnixNano: longToBigInt(e.timeUnixNano as LongLike),
    name: e.name ?? '',
    attributes: keyValuesToModel(e.attributes),
  }));
  const links: SpanLink[] = (s.links ?? []).map((l, i) => {
    const link: SpanLink = {
      traceId: id(l.traceId, `${field}.links[${i}].traceId`, json, 'trace'),
      spanId: id(l.spanId, `${field}.links[${i}].spanId`, json, 'span'),
      attributes: keyValuesToModel(l.attributes),
    };
    if (l.traceState) link.traceState = l.traceState;
    return link;
  });
  const span: Span = {
    traceId,
    spanId,
    name: s.name ?? '',
    kind: enumValue(s.kind, KIND_NAMES, 'SPAN_KIND_', `${field}.kind`),
    startTimeUnixNano: start,
    endTimeUnixNano: end,
    attributes: keyValuesToModel(s.attributes),
    events,
    links,
    status: { code: enumValue(s.status?.code, STATUS_NAMES, 'STATUS_CODE_', `${field}.status.code`) },
    resource: { attributes: resource },
    source: 'otlp',
  };
  const parent = parentId(s.parentSpanId, `${field}.parentSpanId`, json);
  if (parent) span.parentSpanId = parent;
  if (s.traceState) span.traceState = s.traceState;
  if (s.flags) span.flags = s.flags;
  if (s.status?.message) span.status.message = s.status.message;
  if (scope?.name) span.scope = scope.version ? { name: scope.name, version: scope.version } : { name: scope.name };
  if (s.droppedAttributesCount) span.droppedAttributesCount = s.droppedAttributesCount;
  if (s.droppedEventsCount) span.droppedEventsCount = s.droppedEventsCount;
  if (s.droppedLinksCount) span.droppedLinksCount = s.droppedLinksCount;
  return span;
}

export function otlpRequestToModel(req: OtlpExportRequest, json: boolean): DecodeResult {
  const result = emptyResult();
  const max = maxPlausibleNanos();
  if (req.resourceSpans !== undefined && !Array.isArray(req.resourceSpans)) {
    throw new DecodeError('invalid_field', 'resourceSpans', req.resourceSpans, 'expected an array');
  }
  (req.resourceSpans ?? []).forEach((rs, r) => {
    const resource = keyValuesToModel(rs.resource?.attributes);
    (rs.scopeSpans ?? []).forEach((ss, s) => {
      (ss.spans ?? []).forEach((span, i) => {
        const field = `resourceSpans[${r}].scopeSpans[${s}].spans[${i}]`;
        try {
          result.spans.push(otlpSpanToModel(span, resource, ss.scope, field, json, max));
        } catch (err) {
          if (err instanceof DecodeError) result.rejected.push(err);
          else throw err;
        }
      });
    });
  });
  return result;
}

/** OTLP/JSON body (as the OTLP HTTP exporters send it, and as file exporters write it per line). */
export function decodeOtlpJson(body: Buffer | string): DecodeResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof body === 'string' ? body : body.toString('utf8'));
  } catch (err) {
    throw new DecodeError('malformed_json', 'body', typeof body === 'string' ? body.slice(0, 64) : body.toString('utf8', 0, 64), `not valid JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new DecodeError('malformed_json', 'body', parsed, 'expected an ExportTraceServiceRequest object');
  }
  const req = snakeToCamel(parsed) as OtlpExportRequest;
  return otlpRequestToModel(req, true);
}

/** OTLP/JSON allows the proto field names too; accept both, as the OpenTelemetry Collector does. */
function snakeToCamel(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(snakeToCamel);
  if (typeof v !== 'object' || v === null) return v;
  const out: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(v)) {
    out[k.includes('_') ? k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()) : k] = snakeToCamel(val);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// model → OTLP

function resourceKey(attrs: Attributes): string {
  return JSON.stringify(attrs, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v instanceof Uint8Array ? bytesToHex(v) : v));
}

export function modelSpanToOtlp(span: Span): OtlpSpan {
  const out: OtlpSpan = {
    traceId: hexToBytes(traceIdTo128(span.traceId)),
    spanId: hexToBytes(span.spanId),
    name: span.name,
    kind: KIND_NUMBERS[span.kind],
    startTimeUnixNano: bigIntToLong(span.startTimeUnixNano),
    endTimeUnixNano: bigIntToLong(span.endTimeUnixNano),
    attributes: modelToKeyValues(span.attributes),
    events: span.events.map((e) => ({ timeUnixNano: bigIntToLong(e.timeUnixNano), name: e.name, attributes: modelToKeyValues(e.attributes) })),
    links: span.links.map((l) => ({
      traceId: hexToBytes(traceIdTo128(l.traceId)),
      spanId: hexToBytes(l.spanId),
      attributes: modelToKeyValues(l.attributes),
      ...(l.traceState ? { traceState: l.traceState } : {}),
    })),
    status: { code: STATUS_NUMBERS[span.status.code], ...(span.status.message ? { message: span.status.message } : {}) },
  };
  if (span.parentSpanId) out.parentSpanId = hexToBytes(span.parentSpanId);
  if (span.traceState) out.traceState = span.traceState;
  if (span.flags) out.flags = span.flags;
  if (span.droppedAttributesCount) out.droppedAttributesCount = span.droppedAttributesCount;
  if (span.droppedEventsCount) out.droppedEventsCount = span.droppedEventsCount;
  if (span.droppedLinksCount) out.droppedLinksCount = span.droppedLinksCount;
  return out;
}

/** Groups spans by resource and scope, as OTLP wants them. */
export function modelToOtlpRequest(batch: SpanBatch, toSpan: (s: Span) => OtlpSpan = modelSpanToOtlp): OtlpExportRequest {
  const byResource = new Map<string, { resource: Attributes; scopes: Map<string, { scope: Span['scope']; spans: OtlpSpan[] }> }>();
  for (const span of batch.spans) {
    const rk = resourceKey(span.resource.attributes);
    let r = byResource.get(rk);
    if (!r) byResource.set(rk, (r = { resource: span.resource.attributes, scopes: new Map() }));
    const sk = span.scope ? `${span.scope.name}\u0000${span.scope.version ?? ''}` : '';
    let s = r.scopes.get(sk);
    if (!s) r.scopes.set(sk, (s = { scope: span.scope, spans: [] }));
    s.spans.push(toSpan(span));
  }
  return {
    resourceSpans: [...byResource.values()].map((r) => ({
      resource: { attributes: modelToKeyValues(r.resource) },
      scopeSpans: [...r.scopes.values()].map((s) => ({ ...(s.scope ? { scope: { ...s.scope } } : {}), spans: s.spans })),
    })),
  };
}

// OTLP/JSON encoding: hex IDs, int64 as decimal strings, enums as numbers (the spec's form).
function jsonValue(v: AttributeValue): unknown {
  switch (typeof v) {
    case 'string':
      return { stringValue: v };
    case 'boolean':
      return { boolValue: v };
    case 'number':
      return Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: v };
    case 'bigint':
      return { intValue: v.toString() };
    default:
      if (v instanceof Uint8Array) return { bytesValue: Buffer.from(v).toString('base64') };
      if (Array.isArray(v)) return { arrayValue: { values: (v as AttributeValue[]).map(jsonValue) } };
      return { kvlistValue: { values: jsonAttributes(v as Attributes) } };
  }
}
function jsonAttributes(attrs: Attributes): unknown[] {
  return Object.entries(attrs).map(([key, value]) => ({ key, value: jsonValue(value) }));
}

export function modelToOtlpJson(batch: SpanBatch): unknown {
  const req = modelToOtlpRequest(batch, (span) => {
    const s: Record<string, unknown> = {
      traceId: traceIdTo128(span.traceId),
      spanId: span.spanId,
      name: span.name,
      kind: KIND_NUMBERS[span.kind],
      startTimeUnixNano: span.startTimeUnixNano.toString(),
      endTimeUnixNano: span.endTimeUnixNano.toString(),
      attributes: jsonAttributes(span.attributes),
      events: span.events.map((e) => ({ timeUnixNano: e.timeUnixNano.toString(), name: e.name, attributes: jsonAttributes(e.attributes) })),
      links: span.links.map((l) => ({ traceId: traceIdTo128(l.traceId), spanId: l.spanId, attributes: jsonAttributes(l.attributes), ...(l.traceState ? { traceState: l.traceState } : {}) })),
      status: { code: STATUS_NUMBERS[span.status.code], ...(span.status.message ? { message: span.status.message } : {}) },
    };
    if (span.parentSpanId) s.parentSpanId = span.parentSpanId;
    if (span.traceState) s.traceState = span.traceState;
    if (span.flags) s.flags = span.flags;
    return s as OtlpSpan;
  });
  // Resource attributes were encoded as proto objects above; re-encode them as JSON values.
  const resourceSpans = (req.resourceSpans ?? []).map((rs) => ({
    ...rs,
    resource: { attributes: (rs.resource?.attributes ?? []).map((kv) => ({ key: kv.key, value: jsonValue(anyValueToModel(kv.value)) })) },
  }));
  return { resourceSpans };
}

