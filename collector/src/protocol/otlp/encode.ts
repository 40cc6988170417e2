/**
 * Model → OTLP (opentelemetry.proto.trace.v1): protobuf bytes written straight from the spans, and
 * OTLP/JSON. Pure functions; the OTLP exporters, replay and the file exporter all go through here.
 */
import { bytesToHex, traceIdTo128 } from '../../model/ids.js';
import type { AttributeValue, Attributes, InstrumentationScope, Span, SpanBatch, SpanEvent, SpanKind, StatusCode } from '../../model/span.js';
import { I32, I64, LEN, ProtoReader, ProtoWriter, VARINT } from '../protobuf.js';
import { OtlpWireSpan } from './wire-span.js';
import { INTERNAL_FIELDS, SOURCES } from './internal.js';

const KIND_NUMBERS: Record<SpanKind, number> = { unspecified: 0, internal: 1, server: 2, client: 3, producer: 4, consumer: 5 };
const STATUS_NUMBERS: Record<StatusCode, number> = { unset: 0, ok: 1, error: 2 };

// ---------------------------------------------------------------------------------------------
// Grouping: OTLP wants spans under their resource and scope.

interface ResourceGroup {
  resource: Attributes;
  scopes: Map<string, { scope: InstrumentationScope | undefined; spans: Span[] }>;
}

/**
 * Resource identity by content, computed once per attributes object: the spans of one request
 * share their resource's object, so a batch of thousands of spans costs a handful of these.
 */
const resourceKeys = new WeakMap<Attributes, string>();
function resourceKey(attrs: Attributes): string {
  let key = resourceKeys.get(attrs);
  if (key === undefined) {
    key = JSON.stringify(attrs, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v instanceof Uint8Array ? bytesToHex(v) : v));
    resourceKeys.set(attrs, key);
  }
  return key;
}

function groupSpans(spans: readonly Span[]): Iterable<ResourceGroup> {
  const byResource = new Map<string, ResourceGroup>();
  let lastAttrs: Attributes | undefined;
  let last: ResourceGroup | undefined;
  for (const span of spans) {
    let r: ResourceGroup | undefined;
    if (span.resource.attributes === lastAttrs) r = last!;
    else {
      const rk = resourceKey(span.resource.attributes);
      r = byResource.get(rk);
      if (!r) byResource.set(rk, (r = { resource: span.resource.attributes, scopes: new Map() }));
      lastAttrs = span.resource.attributes;
      last = r;
    }
    const sk = span.scope ? `${span.scope.name}\u0000${span.scope.version ?? ''}` : '';
    let s = r.scopes.get(sk);
    if (!s) r.scopes.set(sk, (s = { scope: span.scope, spans: [] }));
    s.spans.push(span);
  }
  return byResource.values();
}

// ---------------------------------------------------------------------------------------------
// protobuf, written by hand. Defaults (empty strings, zeros) are left out, as proto3 encoders do.

function writeValue(w: ProtoWriter, v: AttributeValue): void {
  switch (typeof v) {
    case 'string':
      w.string(1, v);
      return;
    case 'boolean':
      w.tag(2, VARINT);
      w.varint(v ? 1 : 0);
      return;
    case 'number':
      if (Number.isSafeInteger(v)) {
        w.tag(3, VARINT);
        w.int64(v);
      } else {
        w.tag(4, I64);
        w.double(v);
      }
      return;
    case 'bigint':
      w.tag(3, VARINT);
      w.int64(v);
      return;
    default:
      if (v instanceof Uint8Array) w.bytes(7, v);
      else if (Array.isArray(v)) {
        const at = w.begin(5);
        for (const x of v as readonly AttributeValue[]) {
          const item = w.begin(1);
          writeValue(w, x);
          w.end(item);
        }
        w.end(at);
      } else {
        const at = w.begin(6);
        writeAttributes(w, 1, v as Attributes);
        w.end(at);
      }
  }
}

/** Attributes as repeated KeyValue in field `field`. */
function writeAttributes(w: ProtoWriter, field: number, attrs: Attributes): void {
  for (const key in attrs) {
    const kv = w.begin(field);
    w.string(1, key);
    const value = w.begin(2);
    writeValue(w, attrs[key]!);
    w.end(value);
    w.end(kv);
  }
}

/** Adds `shift` to the time (field 1, fixed64) of each Event (field 11) written in [start, end) of `buf`. */
function shiftEventTimes(buf: Buffer, start: number, end: number, shift: bigint): void {
  const r = new ProtoReader(buf, start, end);
  while (r.more(end)) {
    const tag = r.uint32();
    if (tag !== ((11 << 3) | LEN)) {
      r.skip(tag & 7);
      continue;
    }
    const eventEnd = r.delimited();
    while (r.more(eventEnd)) {
      const t = r.uint32();
      if (t === ((1 << 3) | I64)) {
        buf.writeBigUInt64LE(BigInt.asUintN(64, buf.readBigUInt64LE(r.pos) + shift), r.pos);
        r.pos += 8;
      } else r.skip(t & 7);
    }
  }
}

/** span-relay's own fields after a span's OTLP ones (the `--workers` hand-off). */
function writeInternal(w: ProtoWriter, s: Span): void {
  w.tag(INTERNAL_FIELDS.source, VARINT);
  w.varint(SOURCES.indexOf(s.source));
  if (s.shared) {
    w.tag(INTERNAL_FIELDS.shared, VARINT);
    w.varint(1);
  }
  if (s.traceId.length === 16) {
    w.tag(INTERNAL_FIELDS.trace64, VARINT);
    w.varint(1);
  }
}

function writeEvent(w: ProtoWriter, e: SpanEvent): void {
  const at = w.begin(11);
  w.tag(1, I64);
  w.fixed64(e.timeUnixNano);
  if (e.name) w.string(2, e.name);
  writeAttributes(w, 3, e.attributes);
  w.end(at);
}

function writeSpan(w: ProtoWriter, s: Span, internal: boolean): void {
  if (s instanceof OtlpWireSpan && s.asArrived && s.attributesUnread && s.eventsUnread) {
    // Unchanged since it arrived: its message as it came, then the attributes stages added.
    w.raw(s.wire, s.spanStart, s.spanEnd);
    if (s.extraAttributes) writeAttributes(w, 9, s.extraAttributes);
    if (internal) writeInternal(w, s);
    return;
  }
  w.hexBytes(1, s.traceId, 16);
  w.hexBytes(2, s.spanId);
  if (s.traceState) w.string(3, s.traceState);
  if (s.parentSpanId) w.hexBytes(4, s.parentSpanId);
  if (s.name) w.string(5, s.name);
  const kind = KIND_NUMBERS[s.kind];
  if (kind) {
    w.tag(6, VARINT);
    w.varint(kind);
  }
  w.tag(7, I64);
  w.fixed64(s.startTimeUnixNano);
  w.tag(8, I64);
  w.fixed64(s.endTimeUnixNano);
  const wire = s instanceof OtlpWireSpan ? s : undefined;
  if (wire?.attributesUnread) {
    // Never read since it arrived: its KeyValues as they came, then what stages added.
    w.raw(wire.wire, wire.attrStart, wire.attrEnd);
    if (wire.extraAttributes) writeAttributes(w, 9, wire.extraAttributes);
  } else writeAttributes(w, 9, s.attributes);
  if (s.droppedAttributesCount) {
    w.tag(10, VARINT);
    w.varint(s.droppedAttributesCount);
  }
  if (wire?.eventsUnread) {
    const at = w.pos;
    w.raw(wire.wire, wire.eventStart, wire.eventEnd);
    if (wire.eventShift) shiftEventTimes(w.buf, at, w.pos, wire.eventShift);
  } else {
    // Indexed: `for…of` over the shared frozen empty array most spans carry beside spans' own arrays
    // made an iterator and a result object per span (84 B a span, sampled, in OTLP encode).
    const events = s.events;
    for (let i = 0; i < events.length; i++) writeEvent(w, events[i]!);
  }
  if (s.droppedEventsCount) {
    w.tag(12, VARINT);
    w.varint(s.droppedEventsCount);
  }
  const links = s.links;
  for (let i = 0; i < links.length; i++) {
    const l = links[i]!;
    const at = w.begin(13);
    w.hexBytes(1, l.traceId, 16);
    w.hexBytes(2, l.spanId);
    if (l.traceState) w.string(3, l.traceState);
    writeAttributes(w, 4, l.attributes);
    if (internal && l.traceId.length === 16) {
      w.tag(INTERNAL_FIELDS.trace64, VARINT);
      w.varint(1);
    }
    w.end(at);
  }
  if (s.droppedLinksCount) {
    w.tag(14, VARINT);
    w.varint(s.droppedLinksCount);
  }
  const code = STATUS_NUMBERS[s.status.code];
  if (code || s.status.message) {
    const at = w.begin(15);
    if (s.status.message) w.string(2, s.status.message);
    if (code) {
      w.tag(3, VARINT);
      w.varint(code);
    }
    w.end(at);
  }
  if (s.flags) {
    w.tag(16, I32);
    w.fixed32(s.flags);
  }
  if (internal) writeInternal(w, s);
}

/**
 * Bytes a span took in the last request encoded (of 16 spans or more): the next request's buffer is
 * sized from it, an eighth over, so it seldom grows. A fixed 256 bytes a span was too few for most
 * senders' spans (the testbed's OpenCensus and Zipkin spans take 392): the buffer was allocated,
 * then again at twice the size with what was written copied over, and the request kept a view of
 * a buffer a quarter unused.
 */
let bytesPerSpan = 256;
/** A request sized from the estimate takes at most this at first, and grows past it as it must. */
const MAX_PRESIZED = 8 * 1024 * 1024;

/**
 * An ExportTraceServiceRequest in protobuf: the body of OTLP/gRPC and OTLP/HTTP. `internal` adds
 * the fields of INTERNAL_FIELDS, so that `decodeOtlpProto(…, { internal: true })` gives the spans
 * back exactly as span-relay held them.
 */
export function encodeOtlpProto(batch: SpanBatch, internal = false): Buffer {
  const n = batch.spans.length;
  const w = new ProtoWriter(Math.min(MAX_PRESIZED, Math.max(1024, Math.ceil(n * bytesPerSpan * 1.125))));
  for (const group of groupSpans(batch.spans)) {
    const rs = w.begin(1);
    const res = w.begin(1);
    writeAttributes(w, 1, group.resource);
    w.end(res);
    for (const { scope, spans } of group.scopes.values()) {
      const ss = w.begin(2);
      if (scope) {
        const sc = w.begin(1);
        if (scope.name) w.string(1, scope.name);
        if (scope.version) w.string(2, scope.version);
        w.end(sc);
      }
      for (const span of spans) {
        const sp = w.begin(2);
        writeSpan(w, span, internal);
        w.end(sp);
      }
      w.end(ss);
    }
    w.end(rs);
  }
  const out = w.finish();
  if (n >= 16) bytesPerSpan = Math.max(64, out.length / n);
  return out;
}

// ---------------------------------------------------------------------------------------------
// OTLP/JSON: hex IDs, int64 as decimal strings, enums as numbers (the spec's form).

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

function jsonSpan(span: Span): Record<string, unknown> {
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
  if (span.droppedAttributesCount) s.droppedAttributesCount = span.droppedAttributesCount;
  if (span.droppedEventsCount) s.droppedEventsCount = span.droppedEventsCount;
  if (span.droppedLinksCount) s.droppedLinksCount = span.droppedLinksCount;
  return s;
}

export function modelToOtlpJson(batch: SpanBatch): unknown {
  return {
    resourceSpans: [...groupSpans(batch.spans)].map((r) => ({
      resource: { attributes: jsonAttributes(r.resource) },
      scopeSpans: [...r.scopes.values()].map((s) => ({ ...(s.scope ? { scope: { ...s.scope } } : {}), spans: s.spans.map(jsonSpan) })),
    })),
  };
}
