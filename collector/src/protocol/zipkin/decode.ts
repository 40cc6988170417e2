import { DecodeError } from '../../model/errors.js';
import { countDropped, emptyResult, type DecodeResult } from '../../model/decode-result.js';
import { checkPerSpan, checkSpanCount, DEFAULT_LIMITS, LimitExceededError, nestsDeeperThan, type DecodeLimits } from '../../model/limits.js';
import {
  bytesToHex,
  normalizeSpanIdHex,
  normalizeTraceIdHex,
  parentIdFromBytes,
  reuseTraceId,
  spanIdFromBytes,
  traceIdFromBytes,
} from '../../model/ids.js';
import { copyAttributes, NO_ATTRIBUTES, noItems, setAttribute, spanStatus, trimmed, type Attributes, type InstrumentationScope, type Resource, type Span, type SpanEvent, type SpanKind, type SpanStatus } from '../../model/span.js';
import { longToBigInt, maxPlausibleNanos, nanosOf } from '../../model/time.js';
import { protoType } from '../proto.js';
import { canonicalIPv6, ipv6FromBytes } from '../../model/ip.js';
import { BinaryThriftReader, T, type ThriftReader } from '../thrift/reader.js';

/**
 * One Zipkin span in a shape common to v1 JSON, v2 JSON and v2 proto, before it becomes model
 * spans. Times are microseconds. `kind` undefined means "infer it from v1 core annotations".
 */
interface ZipkinEndpoint {
  serviceName?: string;
  ipv4?: string;
  ipv6?: string;
  port?: number;
}
interface ZipkinAnnotation {
  timestamp: number;
  value: string;
  endpoint?: ZipkinEndpoint;
}
interface ZipkinSpan {
  traceId: string;
  id: string;
  parentId?: string;
  name: string;
  kind?: 'CLIENT' | 'SERVER' | 'PRODUCER' | 'CONSUMER';
  timestamp?: number;
  duration?: number;
  localEndpoint?: ZipkinEndpoint;
  remoteEndpoint?: ZipkinEndpoint;
  annotations: ZipkinAnnotation[];
  tags: Record<string, string>;
  shared?: boolean;
  debug?: boolean;
}

const KINDS: Record<string, SpanKind> = { CLIENT: 'client', SERVER: 'server', PRODUCER: 'producer', CONSUMER: 'consumer' };

// ---------------------------------------------------------------------------------------------
// JSON input (v1 and v2). Validation is by hand: it is the hot path, and it lets every error name
// the exact field of the exact span.

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function micros(value: unknown, field: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  if (typeof value === 'string' && /^\d{1,15}$/.test(value)) return Number(value);
  throw new DecodeError('invalid_timestamp', field, value, 'expected a non-negative integer of microseconds');
}

function optionalString(value: unknown, field: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new DecodeError('invalid_field', field, value, 'expected a string');
  return value;
}

function endpointFromJson(value: unknown, field: string): ZipkinEndpoint | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isRecord(value)) throw new DecodeError('invalid_field', field, value, 'expected an endpoint object');
  const ep: ZipkinEndpoint = {};
  const serviceName = optionalString(value.serviceName, `${field}.serviceName`);
  if (serviceName) ep.serviceName = serviceName;
  const ipv4 = optionalString(value.ipv4, `${field}.ipv4`);
  if (ipv4) ep.ipv4 = ipv4;
  const ipv6 = optionalString(value.ipv6, `${field}.ipv6`);
  if (ipv6) ep.ipv6 = canonicalIPv6(ipv6);
  if (value.port !== undefined && value.port !== null) {
    if (typeof value.port !== 'number' || !Number.isInteger(value.port)) {
      throw new DecodeError('invalid_field', `${field}.port`, value.port, 'expected an integer');
    }
    if (value.port !== 0) ep.port = value.port & 0xffff;
  }
  return ep;
}

function annotationsFromJson(value: unknown, field: string, limits: DecodeLimits): ZipkinAnnotation[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new DecodeError('invalid_field', field, value, 'expected an array');
  if (value.length > limits.maxEventsPerSpan) throw new LimitExceededError(field, value.length, 'max_events_per_span', limits.maxEventsPerSpan);
  return value.map((a: unknown, i) => {
    const f = `${field}[${i}]`;
    if (!isRecord(a)) throw new DecodeError('invalid_field', f, a, 'expected an annotation object');
    const timestamp = micros(a.timestamp, `${f}.timestamp`);
    if (timestamp === undefined) throw new DecodeError('invalid_timestamp', `${f}.timestamp`, a.timestamp, 'annotation has no timestamp');
    if (typeof a.value !== 'string') throw new DecodeError('invalid_field', `${f}.value`, a.value, 'expected a string');
    const ann: ZipkinAnnotation = { timestamp, value: a.value };
    const endpoint = endpointFromJson(a.endpoint, `${f}.endpoint`);
    if (endpoint) ann.endpoint = endpoint;
    return ann;
  });
}

/** Zipkin tag values are strings; numbers and booleans are taken as text, and so is JSON within bounds. */
function tagValue(v: unknown, field: string, limits: DecodeLimits): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && v !== null && nestsDeeperThan(v, limits.maxValueDepth)) {
    throw new LimitExceededError(field, limits.maxValueDepth + 1, 'max_value_depth', limits.maxValueDepth);
  }
  return JSON.stringify(v) ?? String(v);
}

function spanFromJson(value: unknown, field: string, version: 1 | 2, limits: DecodeLimits): ZipkinSpan {
  if (!isRecord(value)) throw new DecodeError('invalid_span', field, value, 'expected a span object');
  const traceId = normalizeTraceIdHex(value.traceId, `${field}.traceId`);
  const id = normalizeSpanIdHex(value.id, `${field}.id`);
  let parentId: string | undefined;
  if (value.parentId !== undefined && value.parentId !== null && value.parentId !== '') {
    parentId = normalizeSpanIdHex(value.parentId, `${field}.parentId`);
  }
  const span: ZipkinSpan = {
    traceId,
    id,
    name: optionalString(value.name, `${field}.name`) ?? '',
    annotations: annotationsFromJson(value.annotations, `${field}.annotations`, limits),
    tags: {},
  };
  if (parentId) span.parentId = parentId;
  const timestamp = micros(value.timestamp, `${field}.timestamp`);
  if (timestamp !== undefined) span.timestamp = timestamp;
  const duration = micros(value.duration, `${field}.duration`);
  if (duration !== undefined) span.duration = duration;
  if (value.debug === true) span.debug = true;

  if (version === 2) {
    if (value.kind !== undefined && value.kind !== null) {
      if (typeof value.kind !== 'string' || !(value.kind in KINDS)) {
        throw new DecodeError('invalid_field', `${field}.kind`, value.kind, 'expected CLIENT, SERVER, PRODUCER or CONSUMER');
      }
      span.kind = value.kind as ZipkinSpan['kind'];
    }
    const local = endpointFromJson(value.localEndpoint, `${field}.localEndpoint`);
    if (local) span.localEndpoint = local;
    const remote = endpointFromJson(value.remoteEndpoint, `${field}.remoteEndpoint`);
    if (remote) span.remoteEndpoint = remote;
    if (value.tags !== undefined && value.tags !== null) {
      if (!isRecord(value.tags)) throw new DecodeError('invalid_field', `${field}.tags`, value.tags, 'expected an object');
      const entries = Object.entries(value.tags);
      if (entries.length > limits.maxAttributesPerSpan) throw new LimitExceededError(`${field}.tags`, entries.length, 'max_attributes_per_span', limits.maxAttributesPerSpan);
      for (const [k, v] of entries) setAttribute(span.tags, k, tagValue(v, `${field}.tags.${k}`, limits));
    }
    if (value.shared === true) span.shared = true;
  } else {
    applyBinaryAnnotations(span, value.binaryAnnotations, `${field}.binaryAnnotations`, limits);
  }
  return span;
}

interface BinaryAnnotation {
  key: string;
  value: string;
  endpoint?: ZipkinEndpoint | undefined;
}

/** v1 JSON binary annotations, checked field by field. */
function applyBinaryAnnotations(span: ZipkinSpan, value: unknown, field: string, limits: DecodeLimits): void {
  if (value === undefined || value === null) return;
  if (!Array.isArray(value)) throw new DecodeError('invalid_field', field, value, 'expected an array');
  if (value.length > limits.maxAttributesPerSpan) throw new LimitExceededError(field, value.length, 'max_attributes_per_span', limits.maxAttributesPerSpan);
  applyV1BinaryAnnotations(
    span,
    value.map((b: unknown, i) => {
      const f = `${field}[${i}]`;
      if (!isRecord(b) || typeof b.key !== 'string') throw new DecodeError('invalid_field', `${f}.key`, b, 'expected {key, value}');
      return { key: b.key, value: tagValue(b.value, `${f}.value`, limits), endpoint: endpointFromJson(b.endpoint, `${f}.endpoint`) };
    }),
  );
}

/** v1 binary annotations (JSON or Thrift): address annotations become the remote endpoint, the rest tags. */
function applyV1BinaryAnnotations(span: ZipkinSpan, list: BinaryAnnotation[]): void {
  for (const { key, value, endpoint } of list) {
    if ((key === 'sa' || key === 'ca' || key === 'ma') && endpoint) {
      // A client's "sa" names the server it called; a server's "ca" names its caller.
      span.remoteEndpoint = endpoint;
      continue;
    }
    if (key === 'lc' && endpoint && !span.localEndpoint) span.localEndpoint = endpoint;
    setAttribute(span.tags, key, value);
    if (endpoint && !span.localEndpoint) span.localEndpoint = endpoint;
  }
}

function parseJsonArray(body: Buffer | string, what: string): unknown[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof body === 'string' ? body : body.toString('utf8'));
  } catch (err) {
    throw new DecodeError('malformed_json', 'body', (typeof body === 'string' ? body : body.toString('utf8', 0, 64)), `not valid JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(parsed)) throw new DecodeError('malformed_json', 'body', parsed, `expected a JSON array of ${what}`);
  return parsed;
}

function decodeJson(body: Buffer | string, version: 1 | 2, limits: DecodeLimits): DecodeResult {
  const items = parseJsonArray(body, version === 2 ? 'Zipkin v2 spans' : 'Zipkin v1 spans');
  checkSpanCount(items.length, limits);
  const result = emptyResult();
  const maxNanos = maxPlausibleNanos();
  items.forEach((item, i) => {
    try {
      toModel(spanFromJson(item, `spans[${i}]`, version, limits), `spans[${i}]`, result, maxNanos);
    } catch (err) {
      if (err instanceof DecodeError) result.rejected.push(err);
      else throw err;
    }
  });
  return result;
}

export function decodeZipkinV2Json(body: Buffer | string, limits: DecodeLimits = DEFAULT_LIMITS): DecodeResult {
  return decodeJson(body, 2, limits);
}

export function decodeZipkinV1Json(body: Buffer | string, limits: DecodeLimits = DEFAULT_LIMITS): DecodeResult {
  return decodeJson(body, 1, limits);
}

// ---------------------------------------------------------------------------------------------
// proto3 ListOfSpans

interface ProtoEndpoint {
  serviceName?: string;
  ipv4?: Uint8Array;
  ipv6?: Uint8Array;
  port?: number;
}
interface ProtoZipkinSpan {
  traceId?: Uint8Array;
  parentId?: Uint8Array;
  id?: Uint8Array;
  kind?: number;
  name?: string;
  timestamp?: { low: number; high: number };
  duration?: { low: number; high: number };
  localEndpoint?: ProtoEndpoint;
  remoteEndpoint?: ProtoEndpoint;
  annotations?: { timestamp?: { low: number; high: number }; value?: string }[];
  tags?: Record<string, string>;
  debug?: boolean;
  shared?: boolean;
}

/** Clamped so that an absurd 64-bit value fails the plausibility check instead of losing bits. */
function longToMicros(v: { low: number; high: number }): number {
  const n = longToBigInt(v);
  return n > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(n);
}

const PROTO_KINDS = [undefined, 'CLIENT', 'SERVER', 'PRODUCER', 'CONSUMER'] as const;

function endpointFromProto(ep: ProtoEndpoint | undefined): ZipkinEndpoint | undefined {
  if (!ep) return undefined;
  const out: ZipkinEndpoint = {};
  if (ep.serviceName) out.serviceName = ep.serviceName;
  if (ep.ipv4?.length === 4) out.ipv4 = Array.from(ep.ipv4).join('.');
  if (ep.ipv6?.length === 16) out.ipv6 = ipv6FromBytes(ep.ipv6);
  if (ep.port) out.port = ep.port;
  return out;
}

export function decodeZipkinProto(body: Uint8Array, limits: DecodeLimits = DEFAULT_LIMITS): DecodeResult {
  let list: { spans?: ProtoZipkinSpan[] };
  try {
    list = protoType('zipkin', 'zipkin.proto3.ListOfSpans').decode(body) as unknown as { spans?: ProtoZipkinSpan[] };
  } catch (err) {
    throw new DecodeError('malformed_protobuf', 'body', bytesToHex(body.subarray(0, 16)), `not a zipkin.proto3.ListOfSpans: ${(err as Error).message}`);
  }
  checkSpanCount(list.spans?.length ?? 0, limits);
  const result = emptyResult();
  const maxNanos = maxPlausibleNanos();
  (list.spans ?? []).forEach((p, i) => {
    const field = `spans[${i}]`;
    try {
      checkPerSpan(field, p.tags ? Object.keys(p.tags).length : 0, p.annotations?.length ?? 0, 0, limits);
      const traceId = traceIdFromBytes(p.traceId, `${field}.traceId`);
      const span: ZipkinSpan = {
        traceId,
        id: spanIdFromBytes(p.id, `${field}.id`),
        name: p.name ?? '',
        annotations: (p.annotations ?? []).map((a) => ({ timestamp: a.timestamp ? longToMicros(a.timestamp) : 0, value: a.value ?? '' })),
        tags: { ...(p.tags ?? {}) },
      };
      const parentId = parentIdFromBytes(p.parentId, `${field}.parentId`);
      if (parentId) span.parentId = parentId;
      const kind = PROTO_KINDS[p.kind ?? 0];
      if (kind) span.kind = kind;
      if (p.timestamp) span.timestamp = longToMicros(p.timestamp);
      if (p.duration) span.duration = longToMicros(p.duration);
      const local = endpointFromProto(p.localEndpoint);
      if (local) span.localEndpoint = local;
      const remote = endpointFromProto(p.remoteEndpoint);
      if (remote) span.remoteEndpoint = remote;
      if (p.shared) span.shared = true;
      if (p.debug) span.debug = true;
      // proto3 always carries kind; an unset kind with core annotations is still a v1-style span.
      toModel(span, field, result, maxNanos);
    } catch (err) {
      if (err instanceof DecodeError) result.rejected.push(err);
      else throw err;
    }
  });
  return result;
}

// ---------------------------------------------------------------------------------------------
// v1 Thrift (zipkinCore.thrift): a TBinaryProtocol list of Span structs, as py_zipkin and older
// tracers POST to /api/v1/spans, and as the Jaeger agent's emitZipkinBatch carries them.

/** zipkinCore's AnnotationType, turned into tag text the way the OpenTelemetry Collector does. */
function binaryAnnotationText(type: number, value: Buffer): string {
  switch (type) {
    case 0: // BOOL
      return value.length > 0 && value[0] !== 0 ? 'true' : 'false';
    case 2: // I16
      return value.length >= 2 ? String(value.readInt16BE(0)) : '';
    case 3: // I32
      return value.length >= 4 ? String(value.readInt32BE(0)) : '';
    case 4: // I64
      return value.length >= 8 ? String(value.readBigInt64BE(0)) : '';
    case 5: // DOUBLE
      return value.length >= 8 ? String(value.readDoubleBE(0)) : '';
    case 1: // BYTES
      return value.toString('base64');
    default: // STRING
      return value.toString('utf8');
  }
}

function readThriftEndpoint(r: ThriftReader): ZipkinEndpoint {
  const ep: ZipkinEndpoint = {};
  r.struct((id, t) => {
    if (id === 1 && t === T.I32) {
      const v = r.i32() >>> 0;
      if (v !== 0) ep.ipv4 = `${v >>> 24}.${(v >>> 16) & 0xff}.${(v >>> 8) & 0xff}.${v & 0xff}`;
    } else if (id === 2 && t === T.I16) {
      const port = r.i16() & 0xffff;
      if (port !== 0) ep.port = port;
    } else if (id === 3 && t === T.STRING) {
      const name = r.string();
      if (name) ep.serviceName = name;
    } else if (id === 4 && t === T.STRING) {
      const b = r.binary();
      if (b.length === 16) ep.ipv6 = ipv6FromBytes(b);
    } else r.skip(t);
  });
  return ep;
}

/** The span and, when one of its lists was over a bound (skipped, so the reader stays in step), why it is refused. */
function readThriftSpan(r: ThriftReader, limits: DecodeLimits, field: string): { span: ZipkinSpan; refused?: DecodeError } {
  let refused: DecodeError | undefined;
  const overLimit = (n: number, max: number, what: string, limit: string): boolean => {
    if (n <= max) return false;
    refused ??= new LimitExceededError(`${field}.${what}`, n, limit, max);
    for (let i = 0; i < n; i++) r.skip(T.STRUCT);
    return true;
  };
  let traceLow: string | undefined;
  let traceHigh = '0000000000000000';
  let id: string | undefined;
  const span: ZipkinSpan = { traceId: '', id: '', name: '', annotations: [], tags: {} };
  const binary: BinaryAnnotation[] = [];
  r.struct((fid, t) => {
    if (fid === 1 && t === T.I64) traceLow = r.i64hex();
    else if (fid === 12 && t === T.I64) traceHigh = r.i64hex();
    else if (fid === 3 && t === T.STRING) span.name = r.string();
    else if (fid === 4 && t === T.I64) id = r.i64hex();
    else if (fid === 5 && t === T.I64) {
      const parent = r.i64hex();
      if (parent !== '0000000000000000') span.parentId = parent;
    } else if (fid === 6 && t === T.LIST) {
      const n = r.list(T.STRUCT);
      if (overLimit(n, limits.maxEventsPerSpan, 'annotations', 'max_events_per_span')) return;
      for (let i = 0; i < n; i++) {
        const a: ZipkinAnnotation = { timestamp: 0, value: '' };
        r.struct((aid, at) => {
          if (aid === 1 && at === T.I64) a.timestamp = clampMicros(r.i64());
          else if (aid === 2 && at === T.STRING) a.value = r.string();
          else if (aid === 3 && at === T.STRUCT) a.endpoint = readThriftEndpoint(r);
          else r.skip(at);
        });
        span.annotations.push(a);
      }
    } else if (fid === 8 && t === T.LIST) {
      const n = r.list(T.STRUCT);
      if (overLimit(n, limits.maxAttributesPerSpan, 'binary_annotations', 'max_attributes_per_span')) return;
      for (let i = 0; i < n; i++) {
        let key = '';
        let value: Buffer = Buffer.alloc(0);
        let type = 6;
        let endpoint: ZipkinEndpoint | undefined;
        r.struct((bid, bt) => {
          if (bid === 1 && bt === T.STRING) key = r.string();
          else if (bid === 2 && bt === T.STRING) value = r.binary();
          else if (bid === 3 && bt === T.I32) type = r.i32();
          else if (bid === 4 && bt === T.STRUCT) endpoint = readThriftEndpoint(r);
          else r.skip(bt);
        });
        binary.push({ key, value: binaryAnnotationText(type, value), endpoint });
      }
    } else if (fid === 9 && t === T.BOOL) {
      if (r.bool()) span.debug = true;
    } else if (fid === 10 && t === T.I64) span.timestamp = clampMicros(r.i64());
    else if (fid === 11 && t === T.I64) span.duration = clampMicros(r.i64());
    else r.skip(t);
  });
  // Raw hex here; checked per span by the caller, so one bad ID costs only its own span.
  span.traceId = traceHigh === '0000000000000000' ? (traceLow ?? '') : traceHigh + (traceLow ?? '');
  span.id = id ?? '';
  applyV1BinaryAnnotations(span, binary);
  return refused ? { span, refused } : { span };
}

/** Negative or absurd 64-bit times become a value the plausibility check refuses, not lost bits. */
function clampMicros(v: bigint): number {
  return v < 0n ? -1 : v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
}

/**
 * Zipkin v1 spans read from `r`: a list of Span structs (what every v1 Thrift tracer sends), or
 * one bare Span struct (Zipkin's own server takes both).
 */
export function readZipkinThriftSpans(r: ThriftReader, first: number, limits: DecodeLimits = DEFAULT_LIMITS): DecodeResult {
  const result = emptyResult();
  const maxNanos = maxPlausibleNanos();
  const one = (i: number): void => {
    const field = `spans[${i}]`;
    // A struct that cannot be read leaves the reader lost: that is the whole request's error.
    const { span: z, refused } = readThriftSpan(r, limits, field);
    try {
      if (refused) throw refused;
      z.traceId = normalizeTraceIdHex(z.traceId, `${field}.trace_id`);
      z.id = normalizeSpanIdHex(z.id, `${field}.id`);
      toModel(z, field, result, maxNanos);
    } catch (err) {
      if (err instanceof DecodeError) result.rejected.push(err);
      else throw err;
    }
  };
  if (first === T.STRUCT) {
    const n = r.list(T.STRUCT);
    checkSpanCount(n, limits);
    for (let i = 0; i < n; i++) one(i);
  } else one(0);
  return result;
}

export function decodeZipkinV1Thrift(body: Buffer, limits: DecodeLimits = DEFAULT_LIMITS): DecodeResult {
  if (body.length === 0) throw new DecodeError('malformed_thrift', 'body', '', 'empty body: expected a Thrift list of zipkinCore Span structs');
  return readZipkinThriftSpans(new BinaryThriftReader(body), body[0]!, limits);
}

// ---------------------------------------------------------------------------------------------
// Zipkin span → model spans

const CORE = new Set(['cs', 'cr', 'sr', 'ss', 'ms', 'mr']);

function endpointAttributes(local: ZipkinEndpoint | undefined, remote: ZipkinEndpoint | undefined, attrs: Attributes): void {
  if (local) {
    const ip = local.ipv4 ?? local.ipv6;
    if (ip) attrs['net.host.ip'] = ip;
    if (local.port) attrs['net.host.port'] = local.port;
  }
  if (remote) {
    if (remote.serviceName) attrs['peer.service'] = remote.serviceName;
    const ip = remote.ipv4 ?? remote.ipv6;
    if (ip) attrs['net.peer.ip'] = ip;
    if (remote.port) attrs['net.peer.port'] = remote.port;
  }
}

const CENSUS_CODE = 'census.status_code';
const CENSUS_MESSAGES = ['census.status_description', 'opencensus.status_description'];

/**
 * The span status from the tags that carry it, in the OpenTelemetry Collector's order: an
 * OpenCensus canonical code (`census.status_code`, 0 is OK), then `otel.status_code`, then the
 * `error` tag. The tags that only carried the status are removed from the attributes (exporters
 * write them back in their own format).
 */
function statusFromTags(tags: Record<string, string>, attrs: Attributes): SpanStatus {
  const censusRaw = tags[CENSUS_CODE];
  const censusCode = censusRaw !== undefined && /^-?\d{1,10}$/.test(censusRaw.trim()) ? Number(censusRaw) : undefined;
  let censusMessage: string | undefined;
  for (const k of CENSUS_MESSAGES) {
    if (tags[k] === undefined) continue;
    censusMessage ??= tags[k];
    delete attrs[k];
  }
  const otelCode = tags['otel.status_code']?.toUpperCase();
  const otelMessage = tags['otel.status_description'];
  const errorTag = tags.error;
  let status: SpanStatus;
  if (censusCode !== undefined) {
    status = spanStatus(censusCode === 0 ? 'ok' : 'error', censusMessage);
  } else if (otelCode === 'ERROR' || otelCode === 'OK' || otelCode === 'UNSET') {
    const code = otelCode === 'ERROR' ? 'error' : otelCode === 'OK' ? 'ok' : 'unset';
    // @opentelemetry/exporter-zipkin puts the description in the `error` tag, not otel.status_description.
    const message = otelMessage ?? censusMessage ?? (errorTag !== undefined && errorTag !== 'true' && errorTag !== '' ? errorTag : undefined);
    status = spanStatus(code, code === 'error' ? message : undefined);
  } else if (errorTag !== undefined) {
    status = spanStatus('error', censusMessage ?? otelMessage ?? (errorTag !== 'true' && errorTag !== '' ? errorTag : undefined));
  } else {
    status = spanStatus('unset');
  }
  // `delete` turns an object into a slow dictionary: only when the key is there.
  if (censusRaw !== undefined && censusCode !== undefined) delete attrs[CENSUS_CODE];
  if (otelCode !== undefined) delete attrs['otel.status_code'];
  if (otelMessage !== undefined) delete attrs['otel.status_description'];
  if (errorTag !== undefined && status.code === 'error') delete attrs.error;
  return status;
}

const SCOPE_NAME = ['otel.scope.name', 'otel.library.name'];
const SCOPE_VERSION = ['otel.scope.version', 'otel.library.version'];

/** OpenTelemetry's scope tags (and their older `otel.library.*` names) become the instrumentation scope. */
function scopeFromTags(tags: Record<string, string>, attrs: Attributes): InstrumentationScope | undefined {
  let name: string | undefined;
  let version: string | undefined;
  for (const k of SCOPE_NAME) {
    if (tags[k] === undefined) continue;
    name ??= tags[k];
    delete attrs[k];
  }
  for (const k of SCOPE_VERSION) {
    if (tags[k] === undefined) continue;
    version ??= tags[k];
    delete attrs[k];
  }
  if (name === undefined && version === undefined) return undefined;
  return version === undefined ? { name: name ?? '' } : { name: name ?? '', version };
}

interface Half {
  kind: SpanKind;
  start?: number;
  end?: number;
  endpoint?: ZipkinEndpoint;
}

const MIN_MICROS = 631_152_000_000_000; // 1990-01-01
const WEEK_MICROS = 7 * 86_400_000_000;

/**
 * v1 (and v2 without kind) spans carry their kind in core annotations. A span with both client
 * and server annotations is a merged shared span: it becomes a client span and a shared server span.
 */
function halves(span: ZipkinSpan): Half[] {
  const at = new Map<string, ZipkinAnnotation>();
  for (const a of span.annotations) if (CORE.has(a.value) && !at.has(a.value)) at.set(a.value, a);
  const out: Half[] = [];
  const make = (kind: SpanKind, startKey: string, endKey: string): void => {
    const s = at.get(startKey);
    const e = at.get(endKey);
    if (!s && !e) return;
    const half: Half = { kind };
    if (s) half.start = s.timestamp;
    if (e) half.end = e.timestamp;
    const endpoint = s?.endpoint ?? e?.endpoint;
    if (endpoint) half.endpoint = endpoint;
    out.push(half);
  };
  make('client', 'cs', 'cr');
  make('server', 'sr', 'ss');
  make('producer', 'ms', 'ms');
  make('consumer', 'mr', 'mr');
  const [c, srv] = out;
  if (out.length === 2 && c!.kind === 'client' && srv!.kind === 'server' && c!.start === srv!.start && c!.end === srv!.end && sameEndpoint(c!.endpoint, srv!.endpoint)) {
    // cs = sr and cr = ss from one endpoint is a local span written in v1 form (py_zipkin does
    // this), not a shared span: two processes never share both clocks to the microsecond.
    return [{ ...c!, kind: 'unspecified' }];
  }
  return out;
}

function sameEndpoint(a: ZipkinEndpoint | undefined, b: ZipkinEndpoint | undefined): boolean {
  return a?.serviceName === b?.serviceName && a?.ipv4 === b?.ipv4 && a?.ipv6 === b?.ipv6 && a?.port === b?.port;
}

/**
 * A Zipkin span's resource is its service name alone: one shared, frozen Resource per name (a stage
 * that changes a resource makes its own), instead of an object per span held by the join. Bounded:
 * past 1,024 names the table starts over.
 */
const resources = new Map<string | undefined, Resource>();
function resourceOf(service: string | undefined): Resource {
  let r = resources.get(service);
  if (!r) {
    if (resources.size >= 1024) resources.clear();
    r = Object.freeze({ attributes: service ? Object.freeze({ 'service.name': service }) : NO_ATTRIBUTES });
    resources.set(service, r);
  }
  return r;
}

function toModel(z: ZipkinSpan, field: string, result: DecodeResult, maxNanos: bigint): void {
  const traceId = reuseTraceId(z.traceId);
  const maxMicros = Number(maxNanos / 1000n);
  const plausible = (t: number | undefined): number | undefined => (t !== undefined && t >= MIN_MICROS && t <= maxMicros ? t : undefined);
  const inferred = z.kind === undefined ? halves(z) : [];
  const events: SpanEvent[] = [];
  for (const a of z.annotations) {
    if (plausible(a.timestamp) === undefined) {
      // A broken annotation must not cost the span: drop the annotation, count it.
      countDropped(result, 'annotation_timestamp');
      continue;
    }
    if (inferred.length > 0 && CORE.has(a.value)) continue;
    events.push({ timeUnixNano: nanosOf(a.timestamp, 1000, 0), name: a.value, attributes: NO_ATTRIBUTES });
  }

  const parts: Half[] = inferred.length > 0 ? inferred : [{ kind: z.kind ? KINDS[z.kind]! : 'unspecified' }];
  const split = parts.some((p) => p.kind === 'client') && parts.some((p) => p.kind === 'server');

  for (const part of split ? parts.filter((p) => p.kind === 'client' || p.kind === 'server') : parts.slice(0, 1)) {
    // In a split span, each half has its own times; otherwise the span's own fields win.
    const start = split ? (plausible(part.start) ?? z.timestamp) : (z.timestamp ?? plausible(part.start));
    let end: number | undefined;
    if (split) end = plausible(part.end);
    else if (z.duration !== undefined && start !== undefined) end = start + z.duration;
    else end = plausible(part.end);
    if (start === undefined) {
      throw new DecodeError('invalid_timestamp', `${field}.timestamp`, undefined, 'span has no timestamp and no core annotation to derive one');
    }
    if (start < MIN_MICROS || start > maxMicros) {
      throw new DecodeError('invalid_timestamp', `${field}.timestamp`, start, 'timestamp is not between 1990 and tomorrow');
    }
    if (end === undefined || end < start) end = start;
    if (end - start > WEEK_MICROS) {
      throw new DecodeError('invalid_duration', `${field}.duration`, end - start, 'duration is longer than a week');
    }

    const local = part.endpoint ?? z.localEndpoint;
    // Object.assign (in copyAttributes), not spread: a spread copy that then grows is ~50x slower in V8 (measured).
    const attributes: Attributes = {};
    copyAttributes(attributes, z.tags);
    endpointAttributes(local, z.remoteEndpoint, attributes);
    const startNanos = nanosOf(start, 1000, 0);
    const endNanos = nanosOf(end, 1000, 0);

    const span: Span = {
      traceId,
      spanId: z.id,
      // In the literal, not added after: a property added to a finished object literal takes an
      // array of its own (40 bytes a span the join holds). A root span's is undefined, as absent.
      parentSpanId: z.parentId || undefined,
      name: z.name,
      kind: part.kind,
      startTimeUnixNano: startNanos,
      endTimeUnixNano: endNanos,
      attributes,
      events: split ? events.filter((e) => e.timeUnixNano >= startNanos && e.timeUnixNano <= endNanos) : trimmed(events),
      links: noItems(),
      status: statusFromTags(z.tags, attributes),
      resource: resourceOf(local?.serviceName),
      source: 'zipkin',
    };
    const scope = scopeFromTags(z.tags, attributes);
    if (scope) span.scope = scope;
    if (z.shared || (split && part.kind === 'server')) span.shared = true;
    if (z.debug) span.flags = 1;
    result.spans.push(span);
  }
}
