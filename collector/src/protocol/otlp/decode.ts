/**
 * OTLP (opentelemetry.proto.trace.v1) → model: protobuf bytes read straight into spans, and
 * OTLP/JSON. Pure functions; the receivers, replay, `check` and the file formats all go through here.
 */
import { DecodeError } from '../../model/errors.js';
import { countDropped, emptyResult, type DecodeResult } from '../../model/decode-result.js';
import { checkPerSpan, checkSpanCount, DEFAULT_LIMITS, LimitExceededError, type DecodeLimits } from '../../model/limits.js';
// spanIdAt and parentIdAt under the names of this file's readers: wireSpan's own spanIdAt is an offset.
import { allZeroAt, bytesToHex, normalizeSpanIdHex, normalizeTraceIdHex, parentIdAt as wireParentId, parentIdFromBytes, spanIdAt as wireSpanId, spanIdFromBytes, traceIdFromBytes } from '../../model/ids.js';
import { NO_ATTRIBUTES, noItems, setAttribute, sharedIfEmpty, spanStatus, trimmed, type AttributeValue, type Attributes, type InstrumentationScope, type Resource, type Span, type SpanEvent, type SpanKind, type SpanLink, type StatusCode } from '../../model/span.js';
import { I32, I64, LEN, ProtoReader, VARINT, WireError } from '../protobuf.js';
import { INTERNAL_FIELDS, SOURCES } from './internal.js';
import { nameOf, scanEvent, scanKeyValue, stringIsUtf8, wireAttributes, wireEvent, wireKeyValue, type FieldName } from './wire-values.js';
import { OtlpWireSpan } from './wire-span.js';
import { checkPlausible, isPlausible, longToBigInt, longToBigIntSigned, maxPlausibleNanos } from '../../model/time.js';

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
  links?: { traceId?: Uint8Array | string; spanId?: Uint8Array | string; traceState?: string; attributes?: OtlpKeyValue[]; droppedAttributesCount?: number; flags?: number }[];
  droppedLinksCount?: number;
  status?: { message?: string; code?: number | string };
}
export interface OtlpScope {
  name?: string;
  version?: string;
  attributes?: OtlpKeyValue[];
  droppedAttributesCount?: number;
}
export interface OtlpResourceSpans {
  resource?: { attributes?: OtlpKeyValue[]; droppedAttributesCount?: number };
  scopeSpans?: { scope?: OtlpScope; spans?: OtlpSpan[]; schemaUrl?: string }[];
  schemaUrl?: string;
}
export interface OtlpExportRequest {
  resourceSpans?: OtlpResourceSpans[];
}

const KIND_NAMES: SpanKind[] = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'];
const STATUS_NAMES: StatusCode[] = ['unset', 'ok', 'error'];

// ---------------------------------------------------------------------------------------------
// values


export function anyValueToModel(v: OtlpAnyValue | undefined, limits: DecodeLimits = DEFAULT_LIMITS, field: FieldName = 'value', depth = 0): AttributeValue {
  // Own properties only: protobufjs puts oneof defaults on the prototype.
  if (!v) return '';
  if (Object.hasOwn(v, 'stringValue')) return v.stringValue!;
  if (Object.hasOwn(v, 'boolValue')) return v.boolValue!;
  if (Object.hasOwn(v, 'intValue')) {
    const big = longToBigIntSigned(v.intValue as LongLike);
    return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
  }
  if (Object.hasOwn(v, 'doubleValue')) return Number(v.doubleValue);
  if (v.arrayValue || v.kvlistValue) {
    if (depth >= limits.maxValueDepth) throw new LimitExceededError(nameOf(field), depth + 1, 'max_value_depth', limits.maxValueDepth);
    if (v.arrayValue) {
      const values = v.arrayValue.values ?? [];
      if (values.length > limits.maxArrayElements) throw new LimitExceededError(nameOf(field), values.length, 'max_array_elements', limits.maxArrayElements);
      return values.map((x, i) => anyValueToModel(x, limits, () => `${nameOf(field)}[${i}]`, depth + 1));
    }
    return keyValuesToModel(v.kvlistValue!.values, limits, field, depth + 1);
  }
  if (Object.hasOwn(v, 'bytesValue')) return typeof v.bytesValue === 'string' ? Buffer.from(v.bytesValue, 'base64') : v.bytesValue!;
  return '';
}

export function keyValuesToModel(kvs: OtlpKeyValue[] | undefined, limits: DecodeLimits = DEFAULT_LIMITS, field: FieldName = 'attributes', depth = 0): Attributes {
  const out: Attributes = {};
  if (!kvs) return out;
  if (kvs.length > limits.maxArrayElements) throw new LimitExceededError(nameOf(field), kvs.length, 'max_array_elements', limits.maxArrayElements);
  for (const kv of kvs) {
    if (kv.key === undefined) continue;
    const v = kv.value;
    // Scalars (nearly every attribute) need no field name at all.
    setAttribute(out, kv.key, v && (v.arrayValue || v.kvlistValue) ? anyValueToModel(v, limits, () => `${nameOf(field)}.${kv.key}`, depth) : anyValueToModel(v, limits, '', depth));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// OTLP → model. `json` selects OTLP/JSON rules: hex IDs, enums by number or name, int64 as strings.

/**
 * A Resource with only the fields the sender set (proto3: an empty string or a zero is unset), one
 * per ResourceSpans, shared by its spans.
 */
function resourceOf(attributes: Attributes, dropped: number | undefined, schemaUrl: string | undefined): Resource {
  const resource: Resource = { attributes };
  if (dropped) resource.droppedAttributesCount = dropped;
  if (schemaUrl) resource.schemaUrl = schemaUrl;
  return resource;
}

/** An InstrumentationScope as resourceOf makes a Resource; none when the sender set none of its fields. */
function scopeOf(name: string | undefined, version: string | undefined, attributes: Attributes, dropped: number | undefined, schemaUrl: string | undefined): InstrumentationScope | undefined {
  const hasAttributes = sharedIfEmpty(attributes) !== NO_ATTRIBUTES;
  if (!name && !version && !hasAttributes && !dropped && !schemaUrl) return undefined;
  const scope: InstrumentationScope = { name: name ?? '' };
  if (version) scope.version = version;
  if (hasAttributes) scope.attributes = attributes;
  if (dropped) scope.droppedAttributesCount = dropped;
  if (schemaUrl) scope.schemaUrl = schemaUrl;
  return scope;
}

/** A link's optional fields, set when the sender set them. */
function linkExtras(link: SpanLink, traceState: string | undefined, dropped: number | undefined, flags: number | undefined): SpanLink {
  if (traceState) link.traceState = traceState;
  if (dropped) link.droppedAttributesCount = dropped;
  if (flags) link.flags = flags;
  return link;
}

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

/** The field's name is `field` + `suffix`, put together only for an error. */
function enumValue<T>(value: number | string | undefined, names: T[], prefix: string, field: string, suffix: string): T {
  if (value === undefined) return names[0]!;
  if (typeof value === 'number') {
    const name = names[value];
    if (name === undefined) throw new DecodeError('invalid_field', field + suffix, value, `unknown enum value`);
    return name;
  }
  const name = value.startsWith(prefix) ? value.slice(prefix.length).toLowerCase() : value.toLowerCase();
  if (!names.includes(name as T)) throw new DecodeError('invalid_field', field + suffix, value, 'unknown enum value');
  return name as T;
}

function eventTime(value: LongLike | number | string | undefined, max: bigint): bigint | undefined {
  try {
    const nanos = longToBigInt(value as LongLike);
    return isPlausible(nanos, max) ? nanos : undefined;
  } catch {
    return undefined;
  }
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

export function otlpSpanToModel(s: OtlpSpan, resource: Resource, scope: InstrumentationScope | undefined, field: string, json: boolean, max = maxPlausibleNanos(), limits: DecodeLimits = DEFAULT_LIMITS, result?: DecodeResult): Span {
  checkPerSpan(field, s.attributes?.length ?? 0, s.events?.length ?? 0, s.links?.length ?? 0, limits);
  const traceId = id(s.traceId, `${field}.traceId`, json, 'trace');
  const spanId = id(s.spanId, `${field}.spanId`, json, 'span');
  const start = time(s.startTimeUnixNano, `${field}.startTimeUnixNano`, max);
  const end = time(s.endTimeUnixNano, `${field}.endTimeUnixNano`, max);
  if (end < start) throw new DecodeError('invalid_timestamp', `${field}.endTimeUnixNano`, end, 'span ends before it starts');
  const events: SpanEvent[] = [];
  (s.events ?? []).forEach((e, i) => {
    const at = eventTime(e.timeUnixNano, max);
    // An event with an absurd time must not cost the span: dropped, counted, as Zipkin annotations are.
    if (at === undefined) {
      if (result) countDropped(result, 'event_timestamp');
      return;
    }
    events.push({ timeUnixNano: at, name: e.name ?? '', attributes: sharedIfEmpty(keyValuesToModel(e.attributes, limits, () => `${field}.events[${i}].attributes`)) });
  });
  const links: SpanLink[] = (s.links ?? []).map((l, i) => {
    const link: SpanLink = {
      traceId: id(l.traceId, `${field}.links[${i}].traceId`, json, 'trace'),
      spanId: id(l.spanId, `${field}.links[${i}].spanId`, json, 'span'),
      attributes: sharedIfEmpty(keyValuesToModel(l.attributes, limits, () => `${field}.links[${i}].attributes`)),
    };
    return linkExtras(link, l.traceState, l.droppedAttributesCount, l.flags);
  });
  const span: Span = {
    traceId,
    spanId,
    name: s.name ?? '',
    kind: enumValue(s.kind, KIND_NAMES, 'SPAN_KIND_', field, '.kind'),
    startTimeUnixNano: start,
    endTimeUnixNano: end,
    attributes: keyValuesToModel(s.attributes, limits, () => `${field}.attributes`),
    events: trimmed(events),
    links,
    status: spanStatus(enumValue(s.status?.code, STATUS_NAMES, 'STATUS_CODE_', field, '.status.code'), s.status?.message),
    resource,
    source: 'otlp',
  };
  const parent = parentId(s.parentSpanId, `${field}.parentSpanId`, json);
  if (parent) span.parentSpanId = parent;
  if (s.traceState) span.traceState = s.traceState;
  if (s.flags) span.flags = s.flags;
  if (scope) span.scope = scope;
  if (s.droppedAttributesCount) span.droppedAttributesCount = s.droppedAttributesCount;
  if (s.droppedEventsCount) span.droppedEventsCount = s.droppedEventsCount;
  if (s.droppedLinksCount) span.droppedLinksCount = s.droppedLinksCount;
  return span;
}

export function otlpRequestToModel(req: OtlpExportRequest, json: boolean, limits: DecodeLimits = DEFAULT_LIMITS): DecodeResult {
  const result = emptyResult();
  const max = maxPlausibleNanos();
  let total = 0;
  for (const rs of req.resourceSpans ?? []) for (const ss of rs.scopeSpans ?? []) total += ss.spans?.length ?? 0;
  checkSpanCount(total, limits, 'resourceSpans[*].scopeSpans[*].spans');
  (req.resourceSpans ?? []).forEach((rs, r) => {
    // One Resource object for all the spans of this ResourceSpans, as the protobuf reader does.
    let resource: Resource;
    try {
      resource = resourceOf(keyValuesToModel(rs.resource?.attributes, limits, `resourceSpans[${r}].resource.attributes`), rs.resource?.droppedAttributesCount, rs.schemaUrl);
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      // A resource that cannot be read costs its own spans, each refused with the reason.
      for (const ss of rs.scopeSpans ?? []) for (let i = 0; i < (ss.spans?.length ?? 0); i++) result.rejected.push(err);
      return;
    }
    (rs.scopeSpans ?? []).forEach((ss, s) => {
      // And one InstrumentationScope for the spans of each ScopeSpans; one that cannot be read costs its spans.
      let scope: InstrumentationScope | undefined;
      try {
        const sc = ss.scope;
        scope = scopeOf(sc?.name, sc?.version, keyValuesToModel(sc?.attributes, limits, `resourceSpans[${r}].scopeSpans[${s}].scope.attributes`), sc?.droppedAttributesCount, ss.schemaUrl);
      } catch (err) {
        if (!(err instanceof DecodeError)) throw err;
        for (let i = 0; i < (ss.spans?.length ?? 0); i++) result.rejected.push(err);
        return;
      }
      (ss.spans ?? []).forEach((span, i) => {
        const field = `resourceSpans[${r}].scopeSpans[${s}].spans[${i}]`;
        try {
          result.spans.push(otlpSpanToModel(span, resource, scope, field, json, max, limits, result));
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
export function decodeOtlpJson(body: Buffer | string, limits: DecodeLimits = DEFAULT_LIMITS): DecodeResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof body === 'string' ? body : body.toString('utf8'));
  } catch (err) {
    throw new DecodeError('malformed_json', 'body', typeof body === 'string' ? body.slice(0, 64) : body.toString('utf8', 0, 64), `not valid JSON: ${(err as Error).message}`);
  }
  const rejected: DecodeError[] = [];
  const req = otlpJsonRequest(parsed, rejected, limits);
  const result = otlpRequestToModel(req, true, limits);
  for (const e of rejected) result.rejected.push(e);
  return result;
}

// ---------------------------------------------------------------------------------------------
// OTLP/JSON, checked: every field's type before anything reads it, nesting and counts bounded,
// so garbage is a 400 (or a refused span beside good ones), never an exception. The proto3 JSON
// mapping allows the proto field names (snake_case) beside the camelCase ones.

type JsonObject = Record<string, unknown>;
const snakeNames = new Map<string, string>();

function get(o: JsonObject, camel: string): unknown {
  const v = o[camel];
  if (v !== undefined) return v;
  let snake = snakeNames.get(camel);
  if (snake === undefined) snakeNames.set(camel, (snake = camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)));
  return snake === camel ? undefined : o[snake];
}

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function jsonObject(v: unknown, field: string): JsonObject | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) throw new DecodeError('invalid_field', field, v, 'expected an object');
  return v;
}
function jsonArray(v: unknown, field: string, max?: number, limit?: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new DecodeError('invalid_field', field, v, 'expected an array');
  if (max !== undefined && v.length > max) throw new LimitExceededError(field, v.length, limit!, max);
  return v;
}
function jsonString(v: unknown, field: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new DecodeError('invalid_field', field, v, 'expected a string');
  return v;
}
function jsonNumber(v: unknown, field: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number') throw new DecodeError('invalid_field', field, v, 'expected a number');
  return v;
}
/** int64 in OTLP/JSON: a decimal string, or a number. */
function jsonInt64(v: unknown, field: string): string | number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'string' && /^-?\d{1,20}$/.test(v)) return v;
  throw new DecodeError('invalid_field', field, v, 'expected an integer (a decimal string or a number)');
}
function jsonEnum(v: unknown, field: string): number | string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number' || typeof v === 'string') return v;
  throw new DecodeError('invalid_field', field, v, 'expected an enum name or number');
}

function jsonAnyValue(v: unknown, field: string, limits: DecodeLimits, depth: number): OtlpAnyValue {
  const o = jsonObject(v, field);
  if (!o) return {};
  const str = get(o, 'stringValue');
  if (str !== undefined) return { stringValue: jsonString(str, `${field}.stringValue`)! };
  const bool = get(o, 'boolValue');
  if (bool !== undefined) {
    if (typeof bool !== 'boolean') throw new DecodeError('invalid_field', `${field}.boolValue`, bool, 'expected true or false');
    return { boolValue: bool };
  }
  const int = get(o, 'intValue');
  if (int !== undefined) return { intValue: jsonInt64(int, `${field}.intValue`)! };
  const dbl = get(o, 'doubleValue');
  if (dbl !== undefined) {
    if (typeof dbl !== 'number' && !(typeof dbl === 'string' && /^(-?Infinity|NaN|-?\d+(\.\d+)?([eE][-+]?\d+)?)$/.test(dbl))) {
      throw new DecodeError('invalid_field', `${field}.doubleValue`, dbl, 'expected a number');
    }
    return { doubleValue: Number(dbl) };
  }
  const bytes = get(o, 'bytesValue');
  if (bytes !== undefined) return { bytesValue: jsonString(bytes, `${field}.bytesValue`)! };
  const array = get(o, 'arrayValue');
  const kvlist = get(o, 'kvlistValue');
  if (array === undefined && kvlist === undefined) return {};
  if (depth >= limits.maxValueDepth) throw new LimitExceededError(field, depth + 1, 'max_value_depth', limits.maxValueDepth);
  if (array !== undefined) {
    const values = jsonArray(jsonObject(array, `${field}.arrayValue`)?.values, `${field}.arrayValue.values`, limits.maxArrayElements, 'max_array_elements');
    return { arrayValue: { values: values.map((x, i) => jsonAnyValue(x, `${field}.arrayValue.values[${i}]`, limits, depth + 1)) } };
  }
  return { kvlistValue: { values: jsonKeyValues(jsonObject(kvlist, `${field}.kvlistValue`)?.values, `${field}.kvlistValue.values`, limits, depth + 1, limits.maxArrayElements, 'max_array_elements') } };
}

function jsonKeyValues(v: unknown, field: string, limits: DecodeLimits, depth: number, max: number, limit: string): OtlpKeyValue[] {
  return jsonArray(v, field, max, limit).map((kv, i) => {
    const f = `${field}[${i}]`;
    const o = jsonObject(kv, f) ?? {};
    return { key: jsonString(o.key, `${f}.key`) ?? '', value: jsonAnyValue(o.value, `${f}.value`, limits, depth) };
  });
}

function jsonSpan(v: unknown, field: string, limits: DecodeLimits): OtlpSpan {
  const o = jsonObject(v, field);
  if (!o) throw new DecodeError('invalid_span', field, v, 'expected a span object');
  const attrs = (x: unknown, f: string, max = limits.maxAttributesPerSpan) => jsonKeyValues(x, f, limits, 0, max, 'max_attributes_per_span');
  const out: OtlpSpan = {};
  const set = <K extends keyof OtlpSpan>(k: K, value: OtlpSpan[K] | undefined): void => {
    if (value !== undefined) out[k] = value;
  };
  set('traceId', jsonString(get(o, 'traceId'), `${field}.traceId`));
  set('spanId', jsonString(get(o, 'spanId'), `${field}.spanId`));
  set('traceState', jsonString(get(o, 'traceState'), `${field}.traceState`));
  set('parentSpanId', jsonString(get(o, 'parentSpanId'), `${field}.parentSpanId`));
  set('flags', jsonNumber(get(o, 'flags'), `${field}.flags`));
  set('name', jsonString(get(o, 'name'), `${field}.name`));
  set('kind', jsonEnum(get(o, 'kind'), `${field}.kind`));
  set('startTimeUnixNano', jsonInt64(get(o, 'startTimeUnixNano'), `${field}.startTimeUnixNano`));
  set('endTimeUnixNano', jsonInt64(get(o, 'endTimeUnixNano'), `${field}.endTimeUnixNano`));
  out.attributes = attrs(get(o, 'attributes'), `${field}.attributes`);
  set('droppedAttributesCount', jsonNumber(get(o, 'droppedAttributesCount'), `${field}.droppedAttributesCount`));
  out.events = jsonArray(get(o, 'events'), `${field}.events`, limits.maxEventsPerSpan, 'max_events_per_span').map((e, i) => {
    const f = `${field}.events[${i}]`;
    const eo = jsonObject(e, f) ?? {};
    const event: NonNullable<OtlpSpan['events']>[number] = { attributes: attrs(get(eo, 'attributes'), `${f}.attributes`) };
    const t = jsonInt64(get(eo, 'timeUnixNano'), `${f}.timeUnixNano`);
    if (t !== undefined) event.timeUnixNano = t;
    const name = jsonString(get(eo, 'name'), `${f}.name`);
    if (name !== undefined) event.name = name;
    return event;
  });
  set('droppedEventsCount', jsonNumber(get(o, 'droppedEventsCount'), `${field}.droppedEventsCount`));
  out.links = jsonArray(get(o, 'links'), `${field}.links`, limits.maxLinksPerSpan, 'max_links_per_span').map((l, i) => {
    const f = `${field}.links[${i}]`;
    const lo = jsonObject(l, f) ?? {};
    const link: NonNullable<OtlpSpan['links']>[number] = { attributes: attrs(get(lo, 'attributes'), `${f}.attributes`) };
    const traceId = jsonString(get(lo, 'traceId'), `${f}.traceId`);
    if (traceId !== undefined) link.traceId = traceId;
    const spanId = jsonString(get(lo, 'spanId'), `${f}.spanId`);
    if (spanId !== undefined) link.spanId = spanId;
    const traceState = jsonString(get(lo, 'traceState'), `${f}.traceState`);
    if (traceState !== undefined) link.traceState = traceState;
    const dropped = jsonNumber(get(lo, 'droppedAttributesCount'), `${f}.droppedAttributesCount`);
    if (dropped !== undefined) link.droppedAttributesCount = dropped;
    const flags = jsonNumber(get(lo, 'flags'), `${f}.flags`);
    if (flags !== undefined) link.flags = flags;
    return link;
  });
  set('droppedLinksCount', jsonNumber(get(o, 'droppedLinksCount'), `${field}.droppedLinksCount`));
  const status = jsonObject(get(o, 'status'), `${field}.status`);
  if (status) {
    const st: NonNullable<OtlpSpan['status']> = {};
    const message = jsonString(get(status, 'message'), `${field}.status.message`);
    if (message !== undefined) st.message = message;
    const code = jsonEnum(get(status, 'code'), `${field}.status.code`);
    if (code !== undefined) st.code = code;
    out.status = st;
  }
  return out;
}

/**
 * The request's structure, checked level by level. A container that is not what OTLP says
 * (`"spans": "x"`) is refused with its field named and the rest of the request is still read;
 * a span that is not what OTLP says is carried to the model step as a refusal of its own.
 */
function otlpJsonRequest(parsed: unknown, rejected: DecodeError[], limits: DecodeLimits): OtlpExportRequest {
  if (!isObject(parsed)) throw new DecodeError('malformed_json', 'body', parsed, 'expected an ExportTraceServiceRequest object');
  const resourceSpans = jsonArray(get(parsed, 'resourceSpans'), 'resourceSpans');
  const out: OtlpResourceSpans[] = [];
  let total = 0;
  resourceSpans.forEach((rsv, r) => {
    const f = `resourceSpans[${r}]`;
    try {
      const rs = jsonObject(rsv, f) ?? {};
      const resource = jsonObject(get(rs, 'resource'), `${f}.resource`);
      const scopeSpans: NonNullable<OtlpResourceSpans['scopeSpans']> = [];
      jsonArray(get(rs, 'scopeSpans'), `${f}.scopeSpans`).forEach((ssv, s) => {
        const sf = `${f}.scopeSpans[${s}]`;
        try {
          const ss = jsonObject(ssv, sf) ?? {};
          const scopeObj = jsonObject(get(ss, 'scope'), `${sf}.scope`);
          const spans = jsonArray(get(ss, 'spans'), `${sf}.spans`);
          total += spans.length;
          checkSpanCount(total, limits, 'resourceSpans[*].scopeSpans[*].spans');
          const checked: OtlpSpan[] = [];
          spans.forEach((sv, i) => {
            try {
              checked.push(jsonSpan(sv, `${sf}.spans[${i}]`, limits));
            } catch (err) {
              if (!(err instanceof DecodeError)) throw err;
              rejected.push(err);
            }
          });
          const checkedScopeSpans: NonNullable<OtlpResourceSpans['scopeSpans']>[number] = { spans: checked };
          if (scopeObj) {
            const scope: OtlpScope = { attributes: jsonKeyValues(get(scopeObj, 'attributes'), `${sf}.scope.attributes`, limits, 0, limits.maxAttributesPerSpan, 'max_attributes_per_span') };
            const name = jsonString(get(scopeObj, 'name'), `${sf}.scope.name`);
            const version = jsonString(get(scopeObj, 'version'), `${sf}.scope.version`);
            const dropped = jsonNumber(get(scopeObj, 'droppedAttributesCount'), `${sf}.scope.droppedAttributesCount`);
            if (name !== undefined) scope.name = name;
            if (version !== undefined) scope.version = version;
            if (dropped !== undefined) scope.droppedAttributesCount = dropped;
            checkedScopeSpans.scope = scope;
          }
          const schemaUrl = jsonString(get(ss, 'schemaUrl'), `${sf}.schemaUrl`);
          if (schemaUrl !== undefined) checkedScopeSpans.schemaUrl = schemaUrl;
          scopeSpans.push(checkedScopeSpans);
        } catch (err) {
          if (!(err instanceof DecodeError) || err instanceof LimitExceededError && err.field.startsWith('resourceSpans[*]')) throw err;
          rejected.push(err);
        }
      });
      const checkedResource: NonNullable<OtlpResourceSpans['resource']> = { attributes: resource ? jsonKeyValues(get(resource, 'attributes'), `${f}.resource.attributes`, limits, 0, limits.maxAttributesPerSpan, 'max_attributes_per_span') : [] };
      const resourceDropped = resource ? jsonNumber(get(resource, 'droppedAttributesCount'), `${f}.resource.droppedAttributesCount`) : undefined;
      if (resourceDropped !== undefined) checkedResource.droppedAttributesCount = resourceDropped;
      const resourceSchemaUrl = jsonString(get(rs, 'schemaUrl'), `${f}.schemaUrl`);
      out.push({ resource: checkedResource, scopeSpans, ...(resourceSchemaUrl !== undefined ? { schemaUrl: resourceSchemaUrl } : {}) });
    } catch (err) {
      if (!(err instanceof DecodeError) || err instanceof LimitExceededError && err.field.startsWith('resourceSpans[*]')) throw err;
      rejected.push(err);
    }
  });
  return { resourceSpans: out };
}


// ---------------------------------------------------------------------------------------------
// OTLP protobuf → model, read by hand straight from the bytes (field numbers from
// opentelemetry/proto/trace/v1/trace.proto and common/v1/common.proto). A message that is not
// well-formed protobuf refuses the request; a span that breaks a rule of OTLP or a limit is
// refused alone, with its field named, and the spans beside it are kept.

function wireLink(r: ProtoReader, end: number, limits: DecodeLimits, field: string, internal: boolean): SpanLink {
  const start = r.pos;
  let traceIdBytes: Buffer | undefined;
  let spanIdBytes: Buffer | undefined;
  let traceState: string | undefined;
  let dropped = 0;
  let flags = 0;
  let trace64 = false;
  while (r.more(end)) {
    const tag = r.uint32();
    if (tag === ((1 << 3) | LEN)) traceIdBytes = r.bytes();
    else if (tag === ((2 << 3) | LEN)) spanIdBytes = r.bytes();
    else if (tag === ((3 << 3) | LEN)) traceState = r.string();
    else if (tag === ((5 << 3) | VARINT)) dropped = r.uint32();
    else if (tag === ((6 << 3) | I32)) flags = r.fixed32();
    else if (internal && tag === ((INTERNAL_FIELDS.trace64 << 3) | VARINT)) trace64 = r.bool();
    else r.skip(tag & 7);
  }
  r.pos = start;
  const traceId = id(traceIdBytes, `${field}.traceId`, false, 'trace');
  const link: SpanLink = {
    traceId: trace64 ? traceId.slice(16) : traceId,
    spanId: id(spanIdBytes, `${field}.spanId`, false, 'span'),
    attributes: wireAttributes(r, end, 4, limits, limits.maxAttributesPerSpan, () => `${field}.attributes`),
  };
  return linkExtras(link, traceState, dropped, flags);
}

/**
 * The trace ID at [start, end) of `buf` (start < 0: absent), read where it lies as wireSpanId
 * (model/ids' spanIdAt) reads a span ID; a wrong length or an all-zero ID goes through id() itself, for its error.
 */
function wireTraceId(buf: Buffer, start: number, end: number, span: string): string {
  if (start < 0 || end - start !== 16 || allZeroAt(buf, start, end)) return id(start < 0 ? undefined : buf.subarray(start, end), `${span}.traceId`, false, 'trace');
  return buf.toString('hex', start, end);
}

/**
 * The last trace ID read from the request being decoded: spans of one trace sit together in a
 * request, so most spans take its string instead of one of their own (48 bytes each, on a span the
 * join holds for seconds). Cleared when the request is done, so it keeps no body alive.
 */
const lastTrace: { buf: Buffer | undefined; at: number; trace64: boolean; id: string } = { buf: undefined, at: -1, trace64: false, id: '' };

function sameBytes(buf: Buffer, a: number, b: number, n: number): boolean {
  for (let i = 0; i < n; i++) if (buf[a + i] !== buf[b + i]) return false;
  return true;
}

/** The span that starts at `spanStart`, read again, whole (not lazily). */
function readWhole(r: ProtoReader, spanStart: number, end: number, resource: Resource, scope: InstrumentationScope | undefined, field: string, max: bigint, limits: DecodeLimits, result: DecodeResult, internal: boolean): Span {
  r.pos = spanStart;
  return wireSpan(r, end, resource, scope, field, max, limits, result, internal, false);
}

/** The name of a span's event `i`, for wireEvent (made outside wireSpan: a closure there would cost a context per span). */
function eventName(field: string, i: number): () => string {
  return () => `${field}.events[${i}]`;
}

/**
 * One Span in [r.pos, end). `lazy`: its attributes and events are checked (the same limits and
 * errors) but left as bytes for an OtlpWireSpan to read on demand; a span whose attributes or events
 * are not each one contiguous run, or with an event to drop, is read whole instead.
 */
function wireSpan(r: ProtoReader, end: number, resource: Resource, scope: InstrumentationScope | undefined, field: string, max: bigint, limits: DecodeLimits, result: DecodeResult, internal: boolean, lazy: boolean): Span {
  const spanStart = r.pos;
  let attrStart = -1;
  let attrEnd = -1;
  let eventStart = -1;
  let eventEnd = -1;
  let source: Span['source'] = 'otlp';
  let shared = false;
  let trace64 = false;
  // IDs as offsets into the body: a view per ID would be three objects per span.
  let traceIdAt = -1;
  let traceIdEnd = 0;
  let spanIdAt = -1;
  let spanIdEnd = 0;
  let parentAt = -1;
  let parentEnd = 0;
  let traceState = '';
  let name = '';
  let kind = 0;
  let start = 0n;
  let endTime = 0n;
  let flags = 0;
  let statusCode = 0;
  let statusMessage = '';
  let droppedAttributes = 0;
  let droppedEvents = 0;
  let droppedLinks = 0;
  // Read lazily, a span's attributes and events stay bytes: no objects to fill.
  const attributes: Attributes = lazy ? NO_ATTRIBUTES : {};
  // No closure here may capture `field`: V8 would then allocate a context on every call. Names are
  // put together (a cons string, or a closure made outside) only where one is needed.
  let attributesField: string | undefined;
  let attributeCount = 0;
  const events: SpanEvent[] = lazy ? noItems() : [];
  let eventCount = 0;
  // The shared empty array until a link comes: most spans have none.
  let links: SpanLink[] = noItems();
  /** A field OTLP does not define (or span-relay's own, in internal mode): the bytes are not copied whole. */
  let foreign = false;
  /** Lazy: every string of the span is valid UTF-8 (else it is read whole; see wire-values' validUtf8). */
  let utf8Ok = true;
  while (r.more(end)) {
    const tagAt = r.pos;
    const tag = r.uint32();
    switch (tag) {
      case (1 << 3) | LEN:
        traceIdEnd = r.delimited();
        traceIdAt = r.pos;
        r.pos = traceIdEnd;
        break;
      case (2 << 3) | LEN:
        spanIdEnd = r.delimited();
        spanIdAt = r.pos;
        r.pos = spanIdEnd;
        break;
      case (3 << 3) | LEN:
        if (lazy) utf8Ok = stringIsUtf8(r) && utf8Ok;
        traceState = r.string();
        break;
      case (4 << 3) | LEN:
        parentEnd = r.delimited();
        parentAt = r.pos;
        r.pos = parentEnd;
        break;
      case (5 << 3) | LEN:
        if (lazy) utf8Ok = stringIsUtf8(r) && utf8Ok;
        name = r.string();
        break;
      case (6 << 3) | VARINT:
        kind = r.uint32();
        break;
      case (7 << 3) | I64:
        start = r.fixed64();
        break;
      case (8 << 3) | I64:
        endTime = r.fixed64();
        break;
      case (9 << 3) | LEN: {
        if (++attributeCount > limits.maxAttributesPerSpan) throw new LimitExceededError(`${field}.attributes`, attributeCount, 'max_attributes_per_span', limits.maxAttributesPerSpan);
        if (!lazy) {
          wireKeyValue(r, r.delimited(), attributes, limits, (attributesField ??= field + '.attributes'), 0);
          break;
        }
        if (attrStart < 0) attrStart = tagAt;
        else if (attrEnd !== tagAt) return readWhole(r, spanStart, end, resource, scope, field, max, limits, result, internal);
        if (!scanKeyValue(r, r.delimited(), limits, (attributesField ??= field + '.attributes'), 0)) utf8Ok = false;
        attrEnd = r.pos;
        break;
      }
      case (10 << 3) | VARINT:
        droppedAttributes = r.uint32();
        break;
      case (11 << 3) | LEN: {
        if (++eventCount > limits.maxEventsPerSpan) throw new LimitExceededError(`${field}.events`, eventCount, 'max_events_per_span', limits.maxEventsPerSpan);
        const i = eventCount - 1;
        if (lazy) {
          if (eventStart < 0) eventStart = tagAt;
          else if (eventEnd !== tagAt) return readWhole(r, spanStart, end, resource, scope, field, max, limits, result, internal);
          const eEnd = r.delimited();
          if (!scanEvent(r, eEnd, limits, max, field, i)) return readWhole(r, spanStart, end, resource, scope, field, max, limits, result, internal);
          eventEnd = r.pos = eEnd;
          break;
        }
        const e = wireEvent(r, r.delimited(), limits, max, eventName(field, i));
        // An event with an absurd time must not cost the span: dropped, counted, as Zipkin annotations are.
        if (e) events.push(e);
        else countDropped(result, 'event_timestamp');
        break;
      }
      case (12 << 3) | VARINT:
        droppedEvents = r.uint32();
        break;
      case (13 << 3) | LEN: {
        if (links.length === limits.maxLinksPerSpan) throw new LimitExceededError(`${field}.links`, links.length + 1, 'max_links_per_span', limits.maxLinksPerSpan);
        const linkEnd = r.delimited();
        if (links.length === 0) links = [];
        links.push(wireLink(r, linkEnd, limits, `${field}.links[${links.length}]`, internal));
        r.pos = linkEnd;
        break;
      }
      case (14 << 3) | VARINT:
        droppedLinks = r.uint32();
        break;
      case (15 << 3) | LEN: {
        const stEnd = r.delimited();
        while (r.more(stEnd)) {
          const t = r.uint32();
          if (t === ((2 << 3) | LEN)) {
            if (lazy) utf8Ok = stringIsUtf8(r) && utf8Ok;
            statusMessage = r.string();
          }
          else if (t === ((3 << 3) | VARINT)) statusCode = r.uint32();
          else r.skip(t & 7);
        }
        break;
      }
      case (16 << 3) | I32:
        flags = r.fixed32();
        break;
      default:
        if (internal && tag === ((INTERNAL_FIELDS.source << 3) | VARINT)) source = SOURCES[r.uint32()] ?? 'otlp';
        else if (internal && tag === ((INTERNAL_FIELDS.shared << 3) | VARINT)) shared = r.bool();
        else if (internal && tag === ((INTERNAL_FIELDS.trace64 << 3) | VARINT)) trace64 = r.bool();
        else {
          foreign = true;
          r.skip(tag & 7);
        }
    }
  }
  if (!utf8Ok) return readWhole(r, spanStart, end, resource, scope, field, max, limits, result, internal);
  let traceId: string;
  if (traceIdEnd - traceIdAt === 16 && r.buf === lastTrace.buf && trace64 === lastTrace.trace64 && sameBytes(r.buf, traceIdAt, lastTrace.at, 16)) traceId = lastTrace.id;
  else {
    const fullTraceId = wireTraceId(r.buf, traceIdAt, traceIdEnd, field);
    traceId = trace64 ? fullTraceId.slice(16) : fullTraceId;
    if (traceIdEnd - traceIdAt === 16) {
      lastTrace.buf = r.buf;
      lastTrace.at = traceIdAt;
      lastTrace.trace64 = trace64;
      lastTrace.id = traceId;
    }
  }
  const spanId = wireSpanId(r.buf, spanIdAt, spanIdEnd, field, '.spanId');
  const kindName = enumValue(kind, KIND_NAMES, 'SPAN_KIND_', field, '.kind');
  const startTime = checkPlausible(start, field, max, '.startTimeUnixNano');
  const endTimeChecked = checkPlausible(endTime, field, max, '.endTimeUnixNano');
  const status = spanStatus(enumValue(statusCode, STATUS_NAMES, 'STATUS_CODE_', field, '.status.code'), statusMessage);
  const span: Span = lazy
    ? new OtlpWireSpan(traceId, spanId, name, kindName, startTime, endTimeChecked, trimmed(links), status, resource, source, r.buf, spanStart, end, attrStart < 0 ? 0 : attrStart, attrStart < 0 ? 0 : attrEnd, eventStart < 0 ? 0 : eventStart, eventStart < 0 ? 0 : eventEnd, !internal && !foreign && links.length === 0)
    : { traceId, spanId, name, kind: kindName, startTimeUnixNano: startTime, endTimeUnixNano: endTimeChecked, attributes, events: trimmed(events), links: trimmed(links), status, resource, source };
  if (shared) span.shared = true;
  if (endTime < start) throw new DecodeError('invalid_timestamp', `${field}.endTimeUnixNano`, endTime, 'span ends before it starts');
  const parent = parentAt < 0 || parentEnd === parentAt ? undefined : wireParentId(r.buf, parentAt, parentEnd, field, '.parentSpanId');
  if (parent) span.parentSpanId = parent;
  if (traceState) span.traceState = traceState;
  if (flags) span.flags = flags;
  if (scope) span.scope = scope;
  if (droppedAttributes) span.droppedAttributesCount = droppedAttributes;
  if (droppedEvents) span.droppedEventsCount = droppedEvents;
  if (droppedLinks) span.droppedLinksCount = droppedLinks;
  return span;
}

interface GroupHeader {
  at: number;
  end: number;
  schemaUrl: string;
}

/**
 * A ResourceSpans or ScopeSpans in [r.pos, end), which share a layout: where its first field 1 (the
 * Resource, or the InstrumentationScope) lies, [at, end) (at < 0: absent), and its schema_url
 * (field 3), wherever they are in the message.
 */
function readHeader(r: ProtoReader, end: number): GroupHeader {
  const header: GroupHeader = { at: -1, end: -1, schemaUrl: '' };
  while (r.more(end)) {
    const tag = r.uint32();
    if (tag === ((1 << 3) | LEN) && header.at < 0) {
      header.end = r.delimited();
      header.at = r.pos;
      r.pos = header.end;
    } else if (tag === ((3 << 3) | LEN)) header.schemaUrl = r.string();
    else r.skip(tag & 7);
  }
  return header;
}

/**
 * The attributes (field `attrField`) and dropped_attributes_count (`droppedField`) of the message in
 * [r.pos, end): a Resource or an InstrumentationScope, bounded as a span's attributes are. `other`
 * reads the message's remaining fields.
 */
function wireAttributed(r: ProtoReader, end: number, attrField: number, droppedField: number, limits: DecodeLimits, field: () => string, other?: (tag: number) => boolean): { attributes: Attributes; dropped: number } {
  let attrsAt = -1;
  let dropped = 0;
  while (r.more(end)) {
    const tagAt = r.pos;
    const tag = r.uint32();
    if (tag === ((droppedField << 3) | VARINT)) dropped = r.uint32();
    else if (other?.(tag)) continue;
    else {
      if (tag === ((attrField << 3) | LEN) && attrsAt < 0) attrsAt = tagAt;
      r.skip(tag & 7);
    }
  }
  if (attrsAt < 0) return { attributes: NO_ATTRIBUTES, dropped };
  r.pos = attrsAt;
  return { attributes: wireAttributes(r, end, attrField, limits, limits.maxAttributesPerSpan, field), dropped };
}

/** The Resource of a ResourceSpans whose header `h` was read; `field` names it. */
function wireResource(r: ProtoReader, h: GroupHeader, limits: DecodeLimits, field: string): Resource {
  if (h.at < 0) return resourceOf({}, 0, h.schemaUrl);
  r.pos = h.at;
  const { attributes, dropped } = wireAttributed(r, h.end, 1, 2, limits, () => `${field}.attributes`);
  return resourceOf(attributes, dropped, h.schemaUrl);
}

/** The InstrumentationScope of a ScopeSpans whose header `h` was read, if it has one. */
function wireScope(r: ProtoReader, h: GroupHeader, limits: DecodeLimits, field: string): InstrumentationScope | undefined {
  if (h.at < 0) return scopeOf('', '', NO_ATTRIBUTES, 0, h.schemaUrl);
  let name = '';
  let version = '';
  r.pos = h.at;
  const { attributes, dropped } = wireAttributed(r, h.end, 3, 4, limits, () => `${field}.attributes`, (tag) => {
    if (tag === ((1 << 3) | LEN)) name = r.string();
    else if (tag === ((2 << 3) | LEN)) version = r.string();
    else return false;
    return true;
  });
  return scopeOf(name, version, attributes, dropped, h.schemaUrl);
}

/** What `read` returns, or the DecodeError it threw for the spans it costs (malformed bytes refuse the request). */
function readOrRefuse<T>(read: () => T): T | DecodeError {
  try {
    return read();
  } catch (err) {
    if (!(err instanceof DecodeError) || err instanceof WireError) throw err;
    return err;
  }
}

/**
 * An OTLP ExportTraceServiceRequest in protobuf (OTLP/gRPC, OTLP/HTTP with
 * `application/x-protobuf`), decoded straight into spans. `internal`: also read the fields
 * `encodeOtlpProto(…, true)` adds (the hand-off between span-relay's own workers). `lazy`: spans
 * are OtlpWireSpans, which keep `body` and read their attributes and events only when asked (what
 * the receivers use; the body must not be written to afterwards).
 */
export function decodeOtlpProto(body: Buffer, limits: DecodeLimits = DEFAULT_LIMITS, { internal = false, lazy = false } = {}): DecodeResult {
  const result = emptyResult();
  const max = maxPlausibleNanos();
  const r = new ProtoReader(body);
  let total = 0;
  let ri = 0;
  try {
    while (!r.done) {
      const tag = r.uint32();
      if (tag !== ((1 << 3) | LEN)) {
        r.skip(tag & 7);
        continue;
      }
      const rsEnd = r.delimited();
      const rsStart = r.pos;
      const rf = `resourceSpans[${ri++}]`;
      // Resource first, wherever it is in the message: every span of it needs it. One Resource
      // object for all the spans of this ResourceSpans; one that cannot be read costs them.
      const rh = readHeader(r, rsEnd);
      const resource = readOrRefuse(() => wireResource(r, rh, limits, `${rf}.resource`));
      r.pos = rsStart;
      let si = 0;
      while (r.more(rsEnd)) {
        const t = r.uint32();
        if (t !== ((2 << 3) | LEN)) {
          r.skip(t & 7);
          continue;
        }
        const ssEnd = r.delimited();
        const ssStart = r.pos;
        const sf = `${rf}.scopeSpans[${si++}]`;
        // The same for the InstrumentationScope of this ScopeSpans.
        const sh = readHeader(r, ssEnd);
        const scope = readOrRefuse(() => wireScope(r, sh, limits, `${sf}.scope`));
        const refused = resource instanceof DecodeError ? resource : scope instanceof DecodeError ? scope : undefined;
        r.pos = ssStart;
        let i = 0;
        while (r.more(ssEnd)) {
          const st = r.uint32();
          if (st !== ((2 << 3) | LEN)) {
            r.skip(st & 7);
            continue;
          }
          const spanEnd = r.delimited();
          checkSpanCount(++total, limits, 'resourceSpans[*].scopeSpans[*].spans');
          const field = `${sf}.spans[${i++}]`;
          if (refused) {
            // A resource or scope that cannot be read costs its own spans, each refused with the reason.
            result.rejected.push(refused);
          } else {
            try {
              result.spans.push(wireSpan(r, spanEnd, resource as Resource, scope as InstrumentationScope | undefined, field, max, limits, result, internal, lazy));
            } catch (err) {
              if (!(err instanceof DecodeError) || err instanceof LimitExceededError && err.field.startsWith('resourceSpans[*]')) throw err;
              result.rejected.push(err);
            }
          }
          r.pos = spanEnd;
        }
      }
      r.pos = rsEnd;
    }
  } catch (err) {
    if (err instanceof WireError) throw new DecodeError('malformed_protobuf', 'body', bytesToHex(body.subarray(0, 16)), `not an ExportTraceServiceRequest: ${err.message}`);
    throw err;
  } finally {
    lastTrace.buf = undefined;
  }
  return result;
}
