/** Jaeger's Thrift `Batch` (what jaeger-client and @opentelemetry/exporter-jaeger POST) → model. */
import { DecodeError } from '../../model/errors.js';
import { countDropped, emptyResult, type DecodeResult } from '../../model/decode-result.js';
import { checkSpanCount, DEFAULT_LIMITS, LimitExceededError, type DecodeLimits } from '../../model/limits.js';
import { NO_ATTRIBUTES, sharedIfEmpty, spanStatus, trimmed, type AttributeValue, type Attributes, type Resource, type Span, type SpanEvent, type SpanKind, type SpanLink, type StatusCode } from '../../model/span.js';
import { maxPlausibleNanos, checkPlausible, isPlausible } from '../../model/time.js';
import { BinaryThriftReader, T, type ThriftReader } from '../thrift/reader.js';

export interface Tag {
  key: string;
  value: AttributeValue;
}

const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * The value is the field vType names: encoders may write the other optional fields empty. The
 * Thrift readers here walk structs in loops (beginStruct/nextField), not through a callback: a
 * closure per struct and a call through it per field were the largest piece of this decoder.
 */
function readTag(r: ThriftReader): Tag {
  let key = '';
  let vType = 0;
  let str: string | undefined;
  let double: number | undefined;
  let bool: boolean | undefined;
  let long: number | bigint | undefined;
  let binary: Buffer | undefined;
  const begun = r.beginStruct();
  for (let t = r.nextField(); t !== T.STOP; t = r.nextField()) {
    const id = r.fieldId;
    if (id === 1 && t === T.STRING) key = r.string();
    else if (id === 2 && t === T.I32) vType = r.i32();
    else if (id === 3 && t === T.STRING) str = r.string();
    else if (id === 4 && t === T.DOUBLE) double = r.double();
    else if (id === 5 && t === T.BOOL) bool = r.bool();
    else if (id === 6 && t === T.I64) {
      const v = r.i64();
      long = v >= MIN_SAFE && v <= MAX_SAFE ? Number(v) : v;
    } else if (id === 7 && t === T.STRING) binary = r.binary();
    else r.skip(t);
  }
  r.endStruct(begun);
  // TagType: STRING, DOUBLE, BOOL, LONG, BINARY
  const value = vType === 0 ? str : vType === 1 ? double : vType === 2 ? bool : vType === 3 ? long : vType === 4 && binary ? new Uint8Array(binary) : undefined;
  return { key, value: value ?? '' };
}

/** A list of tags; over `max` (a hostile list), the tags are skipped and `undefined` says so. */
function readTags(r: ThriftReader, max = Infinity): Tag[] | undefined {
  const n = r.list(T.STRUCT);
  if (n > max) {
    for (let i = 0; i < n; i++) r.skip(T.STRUCT);
    return undefined;
  }
  const out: Tag[] = [];
  for (let i = 0; i < n; i++) out.push(readTag(r));
  return out;
}

/** One Jaeger span as both wire formats (Thrift and api_v2 protobuf) carry it; times in nanoseconds. */
export interface RawJaegerSpan {
  traceIdLow: string;
  traceIdHigh: string;
  spanId: string;
  parentSpanId: string;
  operationName: string;
  refs: { type: number; traceIdLow: string; traceIdHigh: string; spanId: string }[];
  flags: number;
  startNanos: bigint;
  durationNanos: bigint;
  tags: Tag[];
  logs: { timestampNanos: bigint; fields: Tag[] }[];
}

/** Span `index` of the batch; a span over a per-span bound is read to its end and refused alone. */
function readSpan(r: ThriftReader, limits: DecodeLimits, index: number): { raw: RawJaegerSpan; refused?: DecodeError } {
  let refused: DecodeError | undefined;
  const over = (what: string, n: number, limit: string, max: number): DecodeError => (refused ??= new LimitExceededError(`spans[${index}].${what}`, n, limit, max));
  const s: RawJaegerSpan = { traceIdLow: '', traceIdHigh: '0000000000000000', spanId: '', parentSpanId: '0000000000000000', operationName: '', refs: [], flags: 0, startNanos: 0n, durationNanos: 0n, tags: [], logs: [] };
  const begun = r.beginStruct();
  for (let t = r.nextField(); t !== T.STOP; t = r.nextField()) {
    const id = r.fieldId;
    if (t === T.I64 && id >= 1 && id <= 4) {
      const hex = r.i64hex();
      if (id === 1) s.traceIdLow = hex;
      else if (id === 2) s.traceIdHigh = hex;
      else if (id === 3) s.spanId = hex;
      else s.parentSpanId = hex;
    } else if (id === 5 && t === T.STRING) s.operationName = r.string();
    else if (id === 6 && t === T.LIST) {
      const n = r.list(T.STRUCT);
      if (n > limits.maxLinksPerSpan) over('references', n, 'max_links_per_span', limits.maxLinksPerSpan);
      for (let i = 0; i < n; i++) {
        const ref = { type: 0, traceIdLow: '', traceIdHigh: '', spanId: '' };
        const inRef = r.beginStruct();
        for (let rt = r.nextField(); rt !== T.STOP; rt = r.nextField()) {
          const rid = r.fieldId;
          if (rid === 1 && rt === T.I32) ref.type = r.i32();
          else if (rid === 2 && rt === T.I64) ref.traceIdLow = r.i64hex();
          else if (rid === 3 && rt === T.I64) ref.traceIdHigh = r.i64hex();
          else if (rid === 4 && rt === T.I64) ref.spanId = r.i64hex();
          else r.skip(rt);
        }
        r.endStruct(inRef);
        s.refs.push(ref);
      }
    } else if (id === 7 && t === T.I32) s.flags = r.i32();
    else if (id === 8 && t === T.I64) s.startNanos = r.i64() * 1000n;
    else if (id === 9 && t === T.I64) s.durationNanos = r.i64() * 1000n;
    else if (id === 10 && t === T.LIST) {
      const tags = readTags(r, limits.maxAttributesPerSpan);
      if (tags) s.tags = tags;
      else over('tags', limits.maxAttributesPerSpan + 1, 'max_attributes_per_span', limits.maxAttributesPerSpan);
    } else if (id === 11 && t === T.LIST) {
      const n = r.list(T.STRUCT);
      if (n > limits.maxEventsPerSpan) {
        over('logs', n, 'max_events_per_span', limits.maxEventsPerSpan);
        for (let i = 0; i < n; i++) r.skip(T.STRUCT);
        continue;
      }
      for (let i = 0; i < n; i++) {
        const log = { timestampNanos: 0n, fields: [] as Tag[] };
        const inLog = r.beginStruct();
        for (let lt = r.nextField(); lt !== T.STOP; lt = r.nextField()) {
          const lid = r.fieldId;
          if (lid === 1 && lt === T.I64) log.timestampNanos = r.i64() * 1000n;
          else if (lid === 2 && lt === T.LIST) {
            const fields = readTags(r, limits.maxAttributesPerSpan);
            if (fields) log.fields = fields;
            else over(`logs[${i}].fields`, limits.maxAttributesPerSpan + 1, 'max_attributes_per_span', limits.maxAttributesPerSpan);
          } else r.skip(lt);
        }
        r.endStruct(inLog);
        s.logs.push(log);
      }
    } else r.skip(t);
  }
  r.endStruct(begun);
  return refused ? { raw: s, refused } : { raw: s };
}

const ZERO = '0000000000000000';
const KINDS = new Set<SpanKind>(['server', 'client', 'producer', 'consumer', 'internal']);
const traceId = (high: string, low: string): string => (high === ZERO ? low : high + low);

/** A Jaeger span (either wire format) → model, in the OpenTelemetry Collector's mapping. */
export function jaegerSpanToModel(s: RawJaegerSpan, resource: Resource, field: string, max: bigint, result?: DecodeResult): Span {
  if (!s.traceIdLow || (s.traceIdLow === ZERO && s.traceIdHigh === ZERO)) throw new DecodeError('invalid_trace_id', `${field}.traceIdLow`, s.traceIdLow, 'trace ID is missing or zero');
  if (!s.spanId || s.spanId === ZERO) throw new DecodeError('invalid_span_id', `${field}.spanId`, s.spanId, 'span ID is missing or zero');
  if (s.durationNanos < 0n) throw new DecodeError('invalid_duration', `${field}.duration`, s.durationNanos, 'negative duration');
  const start = checkPlausible(s.startNanos, field, max, '.startTime');
  const attributes: Attributes = {};
  let kind: SpanKind = 'unspecified';
  let code: StatusCode = 'unset';
  let message: string | undefined;
  for (const tag of s.tags) {
    if (tag.key === 'span.kind' && typeof tag.value === 'string' && KINDS.has(tag.value as SpanKind)) kind = tag.value as SpanKind;
    else if (tag.key === 'error' && (tag.value === true || tag.value === 'true')) code = 'error';
    else if (tag.key === 'otel.status_code') code = tag.value === 'ERROR' ? 'error' : tag.value === 'OK' ? 'ok' : code;
    else if (tag.key === 'otel.status_description' && typeof tag.value === 'string') message = tag.value;
    else attributes[tag.key] = tag.value;
  }
  const links: SpanLink[] = [];
  let parent = s.parentSpanId !== ZERO ? s.parentSpanId : undefined;
  for (const ref of s.refs) {
    if (ref.type === 0 && !parent && ref.spanId !== ZERO) parent = ref.spanId;
    else if (ref.spanId !== parent) links.push({ traceId: traceId(ref.traceIdHigh || ZERO, ref.traceIdLow), spanId: ref.spanId, attributes: NO_ATTRIBUTES });
  }
  // A loop, not flatMap: that made an array per log and was 9 % of the Thrift decode.
  const events: SpanEvent[] = [];
  for (const l of s.logs) {
    // A log with an absurd time must not cost the span: dropped and counted.
    if (!isPlausible(l.timestampNanos, max)) {
      if (result) countDropped(result, 'event_timestamp');
      continue;
    }
    const fields: Attributes = {};
    let name = 'log';
    for (const f of l.fields) {
      if (f.key === 'event' && typeof f.value === 'string') name = f.value;
      else fields[f.key] = f.value;
    }
    events.push({ timeUnixNano: l.timestampNanos, name, attributes: sharedIfEmpty(fields) });
  }
  const span: Span = {
    traceId: traceId(s.traceIdHigh, s.traceIdLow),
    spanId: s.spanId,
    name: s.operationName,
    kind,
    startTimeUnixNano: start,
    endTimeUnixNano: start + s.durationNanos,
    attributes,
    events,
    links: trimmed(links),
    status: spanStatus(code, code === 'error' ? message : undefined),
    resource,
    source: 'jaeger',
  };
  if (parent) span.parentSpanId = parent;
  if (s.flags & 2) span.flags = 1;
  return span;
}

/** A Jaeger `Batch` struct read from `r` (binary or compact protocol) → model spans. */
export function readJaegerBatch(r: ThriftReader, limits: DecodeLimits = DEFAULT_LIMITS): DecodeResult {
  const resource: Attributes = {};
  let raw: { raw: RawJaegerSpan; refused?: DecodeError }[] = [];
  let sawProcess = false;
  let processRefused: DecodeError | undefined;
  const begun = r.beginStruct();
  for (let t = r.nextField(); t !== T.STOP; t = r.nextField()) {
    const id = r.fieldId;
    if (id === 1 && t === T.STRUCT) {
      sawProcess = true;
      const inProcess = r.beginStruct();
      for (let pt = r.nextField(); pt !== T.STOP; pt = r.nextField()) {
        const pid = r.fieldId;
        if (pid === 1 && pt === T.STRING) resource['service.name'] = r.string();
        else if (pid === 2 && pt === T.LIST) {
          const tags = readTags(r, limits.maxAttributesPerSpan);
          if (tags) for (const tag of tags) resource[tag.key] = tag.value;
          else processRefused = new LimitExceededError('process.tags', limits.maxAttributesPerSpan + 1, 'max_attributes_per_span', limits.maxAttributesPerSpan);
        } else r.skip(pt);
      }
      r.endStruct(inProcess);
    } else if (id === 2 && t === T.LIST) {
      const n = r.list(T.STRUCT);
      checkSpanCount(n, limits);
      raw = [];
      for (let i = 0; i < n; i++) raw.push(readSpan(r, limits, i));
    } else r.skip(t);
  }
  r.endStruct(begun);
  if (!sawProcess) throw new DecodeError('malformed_thrift', 'process', undefined, 'a Jaeger Batch needs its process');
  if (processRefused) throw processRefused;
  const result = emptyResult();
  const max = maxPlausibleNanos();
  // One Resource object for all the spans of the batch (its one process).
  const shared: Resource = { attributes: resource };
  raw.forEach(({ raw: s, refused }, i) => {
    try {
      if (refused) throw refused;
      result.spans.push(jaegerSpanToModel(s, shared, `spans[${i}]`, max, result));
    } catch (err) {
      if (err instanceof DecodeError) result.rejected.push(err);
      else throw err;
    }
  });
  return result;
}

export function decodeJaegerThriftBatch(body: Buffer, limits: DecodeLimits = DEFAULT_LIMITS): DecodeResult {
  return readJaegerBatch(new BinaryThriftReader(body), limits);
}
