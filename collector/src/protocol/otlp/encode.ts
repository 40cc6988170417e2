/**
 * Model → OTLP (opentelemetry.proto.trace.v1): protobuf bytes written straight from the spans, and
 * OTLP/JSON. Pure functions; the OTLP exporters, replay and the file exporter all go through here.
 */
import { bytesToHex, traceIdTo128 } from '../../model/ids.js';
import type { AttributeValue, Attributes, InstrumentationScope, Resource, Span, SpanBatch, SpanEvent, SpanKind, SpanLink, StatusCode } from '../../model/span.js';
import { I32, I64, LEN, ProtoReader, ProtoWriter, VARINT } from '../protobuf.js';
import { OtlpWireSpan } from './wire-span.js';
import { INTERNAL_FIELDS, SOURCES } from './internal.js';

const KIND_NUMBERS: Record<SpanKind, number> = { unspecified: 0, internal: 1, server: 2, client: 3, producer: 4, consumer: 5 };
const STATUS_NUMBERS: Record<StatusCode, number> = { unset: 0, ok: 1, error: 2 };

// ---------------------------------------------------------------------------------------------
// Grouping: OTLP wants spans under their resource and scope.

interface ScopeGroup {
  scope: InstrumentationScope | undefined;
  spans: Span[];
  /** The next group of a scope of the same name that differs in another field (seldom any). */
  next: ScopeGroup | undefined;
}

interface ResourceGroup {
  resource: Resource;
  /** By scope name, each the first of its chain. */
  scopes: Map<string, ScopeGroup>;
  /** The next group of a resource of the same attributes that differs in another field (seldom any). */
  next: ResourceGroup | undefined;
}

/**
 * Attributes' identity by content, computed once per attributes object: the spans of one request
 * share their resource's object (and their scope's), so a batch of thousands of spans costs a
 * handful of these.
 */
const attributeKeys = new WeakMap<Attributes, string>();
function attributesKey(attrs: Attributes | undefined): string {
  if (attrs === undefined) return '{}';
  let key = attributeKeys.get(attrs);
  if (key === undefined) {
    key = JSON.stringify(attrs, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v instanceof Uint8Array ? bytesToHex(v) : v));
    attributeKeys.set(attrs, key);
  }
  return key;
}

function sameAttributes(a: Attributes | undefined, b: Attributes | undefined): boolean {
  return a === b || attributesKey(a) === attributesKey(b);
}

/** The fields of a Resource beside its attributes, which spans of one request share. */
function sameResourceFields(a: Resource, b: Resource): boolean {
  return a.schemaUrl === b.schemaUrl && a.droppedAttributesCount === b.droppedAttributesCount;
}

function sameScope(a: InstrumentationScope | undefined, b: InstrumentationScope | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  return a.name === b.name && (a.version ?? '') === (b.version ?? '') && a.schemaUrl === b.schemaUrl && a.droppedAttributesCount === b.droppedAttributesCount && sameAttributes(a.attributes, b.attributes);
}

/**
 * Whether a ScopeSpans has an InstrumentationScope to write: one with none of its own fields set
 * came without one (or with an empty one), and its ScopeSpans only had a schema URL.
 */
function hasScopeMessage(scope: InstrumentationScope | undefined): scope is InstrumentationScope {
  return scope !== undefined && !!(scope.name || scope.version || scope.attributes || scope.droppedAttributesCount);
}

/** The group of `res` in `groups` (keyed by attributes), made when there is none. */
function resourceGroup(groups: Map<string, ResourceGroup>, res: Resource): ResourceGroup {
  const key = attributesKey(res.attributes);
  const head = groups.get(key);
  let g = head;
  for (; g; g = g.next) if (sameResourceFields(g.resource, res)) return g;
  g = { resource: res, scopes: new Map(), next: undefined };
  if (head) chainAfter(head, g);
  else groups.set(key, g);
  return g;
}

/** The group of `scope` in `r`, made when there is none. */
function scopeGroup(r: ResourceGroup, scope: InstrumentationScope | undefined): ScopeGroup {
  const name = scope?.name ?? '';
  const head = r.scopes.get(name);
  let g = head;
  for (; g; g = g.next) if (sameScope(g.scope, scope)) return g;
  g = { scope, spans: [], next: undefined };
  if (head) chainAfter(head, g);
  else r.scopes.set(name, g);
  return g;
}

function chainAfter<T extends { next: T | undefined }>(head: T, g: T): void {
  let tail = head;
  while (tail.next) tail = tail.next;
  tail.next = g;
}

/**
 * Spans under their resource and scope, each told apart by every field OTLP gives it (attributes,
 * dropped count, schema URL; name and version), keyed by attributes and by scope name, each key
 * the first of a chain of groups that differ in the other fields. Nothing is allocated per span: a
 * span with the last one's resource attributes and scope object joins its group; the others look
 * theirs up by strings they already hold (a resource's content key, made once per attributes
 * object; the scope's name) and compare the rest.
 */
function groupSpans(spans: readonly Span[]): Map<string, ResourceGroup> {
  const groups = new Map<string, ResourceGroup>();
  let lastResource: Resource | undefined;
  let last: ResourceGroup | undefined;
  let lastScope: InstrumentationScope | undefined;
  let lastScopeGroup: ScopeGroup | undefined;
  for (const span of spans) {
    const res = span.resource;
    const r = res === lastResource || (lastResource !== undefined && res.attributes === lastResource.attributes && sameResourceFields(res, lastResource)) ? last! : resourceGroup(groups, res);
    const scope = span.scope;
    const s = r === last && scope === lastScope ? lastScopeGroup! : scopeGroup(r, scope);
    s.spans.push(span);
    lastResource = res;
    last = r;
    lastScope = scope;
    lastScopeGroup = s;
  }
  return groups;
}

/** Every group of `heads` and of their chains, in an array (for the OTLP/JSON writer). */
function allOf<T extends { next: T | undefined }>(heads: Map<string, T>): T[] {
  const out: T[] = [];
  for (const head of heads.values()) for (let g: T | undefined = head; g; g = g.next) out.push(g);
  return out;
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

/** A uint32 field (a dropped count), left out when zero or unset. */
function writeUint32(w: ProtoWriter, field: number, n: number | undefined): void {
  if (n) {
    w.tag(field, VARINT);
    w.varint(n);
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
  writeUint32(w, 10, s.droppedAttributesCount);
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
  writeUint32(w, 12, s.droppedEventsCount);
  const links = s.links;
  for (let i = 0; i < links.length; i++) {
    const l = links[i]!;
    const at = w.begin(13);
    w.hexBytes(1, l.traceId, 16);
    w.hexBytes(2, l.spanId);
    if (l.traceState) w.string(3, l.traceState);
    writeAttributes(w, 4, l.attributes);
    writeUint32(w, 5, l.droppedAttributesCount);
    if (l.flags) {
      w.tag(6, I32);
      w.fixed32(l.flags);
    }
    if (internal && l.traceId.length === 16) {
      w.tag(INTERNAL_FIELDS.trace64, VARINT);
      w.varint(1);
    }
    w.end(at);
  }
  writeUint32(w, 14, s.droppedLinksCount);
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

/** A ResourceSpans: the resource, its ScopeSpans, its schema URL (fields 1, 2, 3). */
function writeResourceSpans(w: ProtoWriter, { resource, scopes }: ResourceGroup, internal: boolean): void {
  const rs = w.begin(1);
  const res = w.begin(1);
  writeAttributes(w, 1, resource.attributes);
  writeUint32(w, 2, resource.droppedAttributesCount);
  w.end(res);
  for (const head of scopes.values()) for (let group: ScopeGroup | undefined = head; group; group = group.next) writeScopeSpans(w, group, internal);
  if (resource.schemaUrl) w.string(3, resource.schemaUrl);
  w.end(rs);
}

/** A ScopeSpans: the scope, its spans, its schema URL (fields 1, 2, 3). */
function writeScopeSpans(w: ProtoWriter, { scope, spans }: ScopeGroup, internal: boolean): void {
  const ss = w.begin(2);
  if (hasScopeMessage(scope)) {
    const sc = w.begin(1);
    if (scope.name) w.string(1, scope.name);
    if (scope.version) w.string(2, scope.version);
    if (scope.attributes) writeAttributes(w, 3, scope.attributes);
    writeUint32(w, 4, scope.droppedAttributesCount);
    w.end(sc);
  }
  for (const span of spans) {
    const sp = w.begin(2);
    writeSpan(w, span, internal);
    w.end(sp);
  }
  if (scope?.schemaUrl) w.string(3, scope.schemaUrl);
  w.end(ss);
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
  for (const head of groupSpans(batch.spans).values()) for (let group: ResourceGroup | undefined = head; group; group = group.next) writeResourceSpans(w, group, internal);
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

/** `out` with the dropped count `n`, when there is one. */
function withDropped(out: Record<string, unknown>, n: number | undefined): Record<string, unknown> {
  if (n) out.droppedAttributesCount = n;
  return out;
}

function jsonLink(l: SpanLink): Record<string, unknown> {
  const out = withDropped({ traceId: traceIdTo128(l.traceId), spanId: l.spanId, attributes: jsonAttributes(l.attributes) }, l.droppedAttributesCount);
  if (l.traceState) out.traceState = l.traceState;
  if (l.flags) out.flags = l.flags;
  return out;
}

function jsonScope(scope: InstrumentationScope): Record<string, unknown> {
  const out: Record<string, unknown> = { name: scope.name };
  if (scope.version) out.version = scope.version;
  if (scope.attributes) out.attributes = jsonAttributes(scope.attributes);
  return withDropped(out, scope.droppedAttributesCount);
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
    links: span.links.map(jsonLink),
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
    resourceSpans: allOf(groupSpans(batch.spans)).map(({ resource, scopes }) => ({
      resource: withDropped({ attributes: jsonAttributes(resource.attributes) }, resource.droppedAttributesCount),
      scopeSpans: allOf(scopes).map(({ scope, spans }) => ({ ...(hasScopeMessage(scope) ? { scope: jsonScope(scope) } : {}), spans: spans.map(jsonSpan), ...(scope?.schemaUrl ? { schemaUrl: scope.schemaUrl } : {}) })),
      ...(resource.schemaUrl ? { schemaUrl: resource.schemaUrl } : {}),
    })),
  };
}
