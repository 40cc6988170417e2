/**
 * OpenCensus agent ExportTraceServiceRequest (opencensus-proto agent/trace/v1, as Linkerd's older
 * proxies and OpenCensus apps such as emojivoto send it) → model, read by hand straight from the
 * bytes: the request's node and resource first (they carry over between the messages of a stream),
 * its spans decoded once the receiver knows which resource they belong to.
 */
import { DecodeError } from '../../model/errors.js';
import { emptyResult, type DecodeResult } from '../../model/decode-result.js';
import { allZeroAt, bytesToHex, parentIdAt, reuseTraceId, spanIdAt, spanIdFromBytes, traceIdFromBytes } from '../../model/ids.js';
import { copyAttributes, NO_ATTRIBUTES, noItems, setAttribute, sharedIfEmpty, spanStatus, trimmed, type AttributeValue, type Attributes, type Resource, type Span, type SpanEvent, type SpanKind, type SpanLink } from '../../model/span.js';
import { checkPlausible, isoTime, isPlausible, maxPlausibleNanos, nanosOf } from '../../model/time.js';
import { countDropped } from '../../model/decode-result.js';
import { checkSpanCount, DEFAULT_LIMITS, LimitExceededError, type DecodeLimits } from '../../model/limits.js';
import { I64, LEN, ProtoReader, VARINT, WireError } from '../protobuf.js';

export interface OcNode {
  /** `startNanos`: the process's start time (the identifier's start_timestamp), in nanoseconds. */
  identifier?: { hostName?: string; pid?: number; startNanos?: bigint };
  libraryInfo?: { language?: number; exporterVersion?: string; coreLibraryVersion?: string };
  serviceInfo?: { name?: string };
  attributes?: Record<string, string>;
}
export interface OcResource {
  type?: string;
  labels?: Record<string, string>;
}
/** The spans of a request, still as bytes: [start, end) of each Span message in `buf`. */
export interface OcSpans {
  buf: Buffer;
  ranges: number[];
}
export interface OcExportRequest {
  node?: OcNode;
  spans: OcSpans;
  resource?: OcResource;
}

const LANGUAGES = ['', 'cpp', 'dotnet', 'erlang', 'go', 'java', 'nodejs', 'php', 'python', 'ruby', 'webjs'];
const KINDS: SpanKind[] = ['unspecified', 'server', 'client'];
const MESSAGE_TYPES = ['TYPE_UNSPECIFIED', 'SENT', 'RECEIVED'];
const LINK_TYPES = ['TYPE_UNSPECIFIED', 'CHILD_LINKED_SPAN', 'PARENT_LINKED_SPAN'];

/** Node and resource as resource attributes, with the names the OpenTelemetry Collector uses. */
export function ocResourceAttributes(node: OcNode | undefined, resource: OcResource | undefined): Attributes {
  const out: Attributes = {};
  if (node?.serviceInfo?.name) out['service.name'] = node.serviceInfo.name;
  const id = node?.identifier;
  if (id?.hostName) out['host.name'] = id.hostName;
  if (id?.pid) out['process.pid'] = id.pid;
  const start = id?.startNanos;
  // A process start time no calendar holds is left out, not thrown: it is not a span's time.
  const startText = start ? isoTime(start) : undefined;
  if (startText) out['opencensus.starttime'] = startText;
  const lib = node?.libraryInfo;
  if (lib?.language) out['telemetry.sdk.language'] = LANGUAGES[lib.language] ?? String(lib.language);
  if (lib?.exporterVersion) out['opencensus.exporterversion'] = lib.exporterVersion;
  if (lib?.coreLibraryVersion) out['telemetry.sdk.version'] = lib.coreLibraryVersion;
  if (node?.attributes) copyAttributes(out, node.attributes);
  if (resource?.type) out['opencensus.resourcetype'] = resource.type;
  if (resource?.labels) copyAttributes(out, resource.labels);
  return out;
}


const tag = (field: number, wire: number): number => (field << 3) | wire;

/** A Timestamp message read straight to nanoseconds (no object between: a span has two and each event one). */
function wireNanos(r: ProtoReader, end: number): bigint {
  let seconds: number | bigint = 0;
  let nanos = 0;
  while (r.more(end)) {
    const t = r.uint32();
    if (t === tag(1, VARINT)) seconds = r.int64();
    else if (t === tag(2, VARINT)) nanos = Number(r.int64());
    else r.skip(t & 7);
  }
  return nanosOf(seconds, 1_000_000_000, nanos);
}

/** A map<string, string> entry into `out`. */
/** A message of two strings, key (1) and value (2): a map<string, string> entry, a Tracestate entry. */
function wireStringPair(r: ProtoReader, end: number): [string, string] {
  let key = '';
  let value = '';
  while (r.more(end)) {
    const t = r.uint32();
    if (t === tag(1, LEN)) key = r.string();
    else if (t === tag(2, LEN)) value = r.string();
    else r.skip(t & 7);
  }
  return [key, value];
}

/** A map<string, string> entry into `out`. */
function wireStringEntry(r: ProtoReader, end: number, out: Record<string, string>): void {
  const [key, value] = wireStringPair(r, end);
  setAttribute(out, key, value);
}

/** TruncatableString → its value. */
function wireTruncatable(r: ProtoReader, end: number): string {
  let value = '';
  while (r.more(end)) {
    const t = r.uint32();
    if (t === tag(1, LEN)) value = r.string();
    else r.skip(t & 7);
  }
  return value;
}

function wireNode(r: ProtoReader, end: number): OcNode {
  const node: OcNode = {};
  while (r.more(end)) {
    const t = r.uint32();
    if (t === tag(1, LEN)) {
      const e = r.delimited();
      const id: NonNullable<OcNode['identifier']> = {};
      while (r.more(e)) {
        const u = r.uint32();
        if (u === tag(1, LEN)) id.hostName = r.string();
        else if (u === tag(2, VARINT)) id.pid = r.uint32();
        else if (u === tag(3, LEN)) id.startNanos = wireNanos(r, r.delimited());
        else r.skip(u & 7);
      }
      node.identifier = id;
    } else if (t === tag(2, LEN)) {
      const e = r.delimited();
      const lib: NonNullable<OcNode['libraryInfo']> = {};
      while (r.more(e)) {
        const u = r.uint32();
        if (u === tag(1, VARINT)) lib.language = r.uint32();
        else if (u === tag(2, LEN)) lib.exporterVersion = r.string();
        else if (u === tag(3, LEN)) lib.coreLibraryVersion = r.string();
        else r.skip(u & 7);
      }
      node.libraryInfo = lib;
    } else if (t === tag(3, LEN)) {
      const e = r.delimited();
      const info: NonNullable<OcNode['serviceInfo']> = {};
      while (r.more(e)) {
        const u = r.uint32();
        if (u === tag(1, LEN)) info.name = r.string();
        else r.skip(u & 7);
      }
      node.serviceInfo = info;
    } else if (t === tag(4, LEN)) wireStringEntry(r, r.delimited(), (node.attributes ??= {}));
    else r.skip(t & 7);
  }
  return node;
}

function wireResource(r: ProtoReader, end: number): OcResource {
  const res: OcResource = {};
  while (r.more(end)) {
    const t = r.uint32();
    if (t === tag(1, LEN)) res.type = r.string();
    else if (t === tag(2, LEN)) wireStringEntry(r, r.delimited(), (res.labels ??= {}));
    else r.skip(t & 7);
  }
  return res;
}

/** The request's node and resource, and where its spans are; the spans are read by `ocRequestToModel`. */
export function decodeOcRequest(bytes: Uint8Array): OcExportRequest {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const r = new ProtoReader(buf);
  const req: OcExportRequest = { spans: { buf, ranges: [] } };
  try {
    while (!r.done) {
      const t = r.uint32();
      if (t === tag(1, LEN)) req.node = wireNode(r, r.delimited());
      else if (t === tag(2, LEN)) {
        const e = r.delimited();
        req.spans.ranges.push(r.pos, e);
        r.pos = e;
      } else if (t === tag(3, LEN)) req.resource = wireResource(r, r.delimited());
      else r.skip(t & 7);
    }
  } catch (err) {
    if (err instanceof WireError) throw new DecodeError('malformed_protobuf', 'body', bytesToHex(buf.subarray(0, 16)), `not an opencensus ExportTraceServiceRequest: ${err.message}`);
    throw err;
  }
  return req;
}

/** AttributeValue: string (a TruncatableString), int64, bool or double. */
function wireAttributeValue(r: ProtoReader, end: number): AttributeValue {
  let value: AttributeValue = '';
  while (r.more(end)) {
    const t = r.uint32();
    if (t === tag(1, LEN)) value = wireTruncatable(r, r.delimited());
    else if (t === tag(2, VARINT)) value = r.int64();
    else if (t === tag(3, VARINT)) value = r.bool();
    else if (t === tag(4, I64)) value = r.double();
    else r.skip(t & 7);
  }
  return value;
}

/**
 * Attributes {attribute_map, dropped_attributes_count} into `out`; the count of entries read and the
 * dropped count. `suffix` is added to `field` only for an error.
 */
function wireAttributes(r: ProtoReader, end: number, out: Attributes, limits: DecodeLimits, field: string, suffix = ''): number {
  let n = 0;
  let dropped = 0;
  while (r.more(end)) {
    const t = r.uint32();
    if (t === tag(1, LEN)) {
      if (++n > limits.maxAttributesPerSpan) throw new LimitExceededError(field + suffix, n, 'max_attributes_per_span', limits.maxAttributesPerSpan);
      const e = r.delimited();
      let key = '';
      let value: AttributeValue = '';
      while (r.more(e)) {
        const u = r.uint32();
        if (u === tag(1, LEN)) key = r.string();
        else if (u === tag(2, LEN)) value = wireAttributeValue(r, r.delimited());
        else r.skip(u & 7);
      }
      setAttribute(out, key, value);
    } else if (t === tag(2, VARINT)) dropped = Number(r.int64());
    else r.skip(t & 7);
  }
  return dropped;
}

/**
 * The span's `index`th time event, its time `start` when it has none. `field` (the span's) is
 * extended only where an error needs it: a span has a few events, each read in the hot path.
 */
function wireTimeEvent(r: ProtoReader, end: number, start: bigint, limits: DecodeLimits, field: string, index: number): SpanEvent {
  let at: bigint | undefined;
  let annotationAt = -1;
  let annotationEnd = -1;
  let message: Attributes | undefined;
  while (r.more(end)) {
    const t = r.uint32();
    if (t === tag(1, LEN)) at = wireNanos(r, r.delimited());
    else if (t === tag(2, LEN)) {
      annotationEnd = r.delimited();
      annotationAt = r.pos;
      r.pos = annotationEnd;
    } else if (t === tag(3, LEN)) {
      const e = r.delimited();
      let type = 0;
      // uint64 on the wire, kept as the int64 the OpenTelemetry Collector casts it to: ochttp writes
      // an unknown size as 2^64-1, which is -1 there (a non-safe number would go out as a double).
      let id: number | bigint = 0;
      let uncompressed: number | bigint = 0;
      let compressed: number | bigint = 0;
      while (r.more(e)) {
        const u = r.uint32();
        if (u === tag(1, VARINT)) type = r.uint32();
        else if (u === tag(2, VARINT)) id = r.int64();
        else if (u === tag(3, VARINT)) uncompressed = r.int64();
        else if (u === tag(4, VARINT)) compressed = r.int64();
        else r.skip(u & 7);
      }
      message = { 'message.type': MESSAGE_TYPES[type] ?? String(type), 'message.id': id, 'message.uncompressed_size': uncompressed, 'message.compressed_size': compressed };
    } else r.skip(t & 7);
  }
  if (message) return { timeUnixNano: at ?? start, name: 'message', attributes: message };
  let name = '';
  let attributes: Attributes | undefined;
  if (annotationAt >= 0) {
    r.pos = annotationAt;
    while (r.more(annotationEnd)) {
      const u = r.uint32();
      if (u === tag(1, LEN)) name = wireTruncatable(r, r.delimited());
      else if (u === tag(2, LEN)) wireAttributes(r, r.delimited(), (attributes ??= {}), limits, `${field}.time_events[${index}].attributes`);
      else r.skip(u & 7);
    }
    r.pos = end;
  }
  return { timeUnixNano: at ?? start, name, attributes: attributes ? sharedIfEmpty(attributes) : NO_ATTRIBUTES };
}

function wireLink(r: ProtoReader, end: number, limits: DecodeLimits, field: string): SpanLink {
  let traceId: Buffer | undefined;
  let spanId: Buffer | undefined;
  let type = 0;
  const attributes: Attributes = {};
  while (r.more(end)) {
    const t = r.uint32();
    if (t === tag(1, LEN)) traceId = r.bytes();
    else if (t === tag(2, LEN)) spanId = r.bytes();
    else if (t === tag(3, VARINT)) type = r.uint32();
    else if (t === tag(4, LEN)) wireAttributes(r, r.delimited(), attributes, limits, `${field}.attributes`);
    else r.skip(t & 7);
  }
  if (type) attributes['opencensus.link.type'] = LINK_TYPES[type] ?? String(type);
  return { traceId: traceIdFromBytes(traceId, `${field}.trace_id`), spanId: spanIdFromBytes(spanId, `${field}.span_id`), attributes: sharedIfEmpty(attributes) };
}

/** `suffix` is added to `field` only for an error (no name built per span). */
function time(nanos: bigint | undefined, field: string, suffix: string, max: bigint): bigint {
  if (nanos === undefined) throw new DecodeError('invalid_timestamp', field + suffix, nanos, 'missing');
  return checkPlausible(nanos, field, max, suffix);
}

/**
 * The span's trace ID, read where it lies as spanIdAt (model/ids) reads its span ID; absent, the
 * wrong length or all zeros, through traceIdFromBytes for its error.
 */
function traceIdAt(buf: Buffer, at: number, end: number, field: string): string {
  const id = at >= 0 && end - at === 16 && !allZeroAt(buf, at, end) ? buf.toString('hex', at, end) : traceIdFromBytes(at < 0 ? undefined : buf.subarray(at, end), `${field}.trace_id`);
  if (id.length !== 32) throw new DecodeError('invalid_trace_id', `${field}.trace_id`, id, 'expected 16 bytes');
  return reuseTraceId(id);
}

/** wireSpan's time events as it reads them (see there). */
const EVENTS: SpanEvent[] = [];

// Span fields wireSpan reads where they lie (IDs) or after the start time is known (attributes,
// time events and links: events default to it).
const TRACE_ID = 1;
const SPAN_ID = 2;
const PARENT_SPAN_ID = 3;
const ATTRIBUTES = 7;
const TIME_EVENTS = 9;
const LINKS = 10;
/** Where wireSpan found those fields in the request: [start, end) at 2·field, 2·field + 1; -1 when absent. */
const FOUND = new Int32Array(2 * (LINKS + 1));

function wireSpan(r: ProtoReader, end: number, resource: Resource, field: string, max: bigint, limits: DecodeLimits, result: DecodeResult): Span {
  FOUND.fill(-1);
  let name = '';
  let kind = 0;
  let startTs: bigint | undefined;
  let endTs: bigint | undefined;
  let status: { code: number; message: string } | undefined;
  let sameProcess: boolean | undefined;
  let entries: string[] | undefined;
  while (r.more(end)) {
    const t = r.uint32();
    switch (t) {
      case tag(TRACE_ID, LEN):
      case tag(SPAN_ID, LEN):
      case tag(PARENT_SPAN_ID, LEN):
      case tag(ATTRIBUTES, LEN):
      case tag(TIME_EVENTS, LEN):
      case tag(LINKS, LEN): {
        const f = 2 * (t >>> 3);
        const e = r.delimited();
        FOUND[f] = r.pos;
        FOUND[f + 1] = e;
        r.pos = e;
        break;
      }
      case tag(4, LEN):
        name = wireTruncatable(r, r.delimited());
        break;
      case tag(14, VARINT):
        kind = r.uint32();
        break;
      case tag(5, LEN):
        startTs = wireNanos(r, r.delimited());
        break;
      case tag(6, LEN):
        endTs = wireNanos(r, r.delimited());
        break;
      case tag(11, LEN): {
        const e = r.delimited();
        status = { code: 0, message: '' };
        while (r.more(e)) {
          const u = r.uint32();
          if (u === tag(1, VARINT)) status.code = Number(r.int64());
          else if (u === tag(2, LEN)) status.message = r.string();
          else r.skip(u & 7);
        }
        break;
      }
      case tag(12, LEN): {
        const e = r.delimited();
        sameProcess = false;
        while (r.more(e)) {
          const u = r.uint32();
          if (u === tag(1, VARINT)) sameProcess = r.bool();
          else r.skip(u & 7);
        }
        break;
      }
      case tag(15, LEN): {
        const e = r.delimited();
        while (r.more(e)) {
          const u = r.uint32();
          if (u !== tag(1, LEN)) {
            r.skip(u & 7);
            continue;
          }
          const [key, value] = wireStringPair(r, r.delimited());
          (entries ??= []).push(`${key}=${value}`);
        }
        break;
      }
      default:
        r.skip(t & 7);
    }
  }
  const start = time(startTs, field, '.start_time', max);
  // The OpenCensus spec: an unset end time means "same as start".
  const endTime = endTs !== undefined ? time(endTs, field, '.end_time', max) : start;
  if (endTime < start) throw new DecodeError('invalid_timestamp', `${field}.end_time`, endTime, 'span ends before it starts');
  const attributes: Attributes = {};
  let droppedAttributes = 0;
  if (FOUND[2 * ATTRIBUTES]! >= 0) {
    r.pos = FOUND[2 * ATTRIBUTES]!;
    droppedAttributes = wireAttributes(r, FOUND[2 * ATTRIBUTES + 1]!, attributes, limits, field, '.attributes');
  }
  let events: SpanEvent[] = noItems();
  let droppedEvents = 0;
  if (FOUND[2 * TIME_EVENTS]! >= 0) {
    // Gathered in one array kept for it and copied out at their number: a span's own array,
    // grown by push, would be made with room for 17 and copied again to its length.
    EVENTS.length = 0;
    r.pos = FOUND[2 * TIME_EVENTS]!;
    const eventsEnd = FOUND[2 * TIME_EVENTS + 1]!;
    let n = 0;
    while (r.more(eventsEnd)) {
      const t = r.uint32();
      if (t === tag(1, LEN)) {
        if (++n > limits.maxEventsPerSpan) throw new LimitExceededError(`${field}.events`, n, 'max_events_per_span', limits.maxEventsPerSpan);
        const event = wireTimeEvent(r, r.delimited(), start, limits, field, n - 1);
        // An event with an absurd time must not cost the span: dropped and counted.
        if (isPlausible(event.timeUnixNano, max)) EVENTS.push(event);
        else countDropped(result, 'event_timestamp');
      } else if (t === tag(2, VARINT) || t === tag(3, VARINT)) droppedEvents += Number(r.int64());
      else r.skip(t & 7);
    }
    events = trimmed(EVENTS);
    EVENTS.length = 0;
  }
  const links: SpanLink[] = [];
  let droppedLinks = 0;
  if (FOUND[2 * LINKS]! >= 0) {
    r.pos = FOUND[2 * LINKS]!;
    const linksEnd = FOUND[2 * LINKS + 1]!;
    while (r.more(linksEnd)) {
      const t = r.uint32();
      if (t === tag(1, LEN)) {
        if (links.length === limits.maxLinksPerSpan) throw new LimitExceededError(`${field}.links`, links.length + 1, 'max_links_per_span', limits.maxLinksPerSpan);
        links.push(wireLink(r, r.delimited(), limits, `${field}.links[${links.length}]`));
      } else if (t === tag(2, VARINT)) droppedLinks = Number(r.int64());
      else r.skip(t & 7);
    }
  }
  const buf = r.buf;
  const span: Span = {
    traceId: traceIdAt(buf, FOUND[2 * TRACE_ID]!, FOUND[2 * TRACE_ID + 1]!, field),
    spanId: spanIdAt(buf, FOUND[2 * SPAN_ID]!, FOUND[2 * SPAN_ID + 1]!, field, '.span_id'),
    // In the literal, not added after (a property added later takes an array of its own).
    parentSpanId: parentIdAt(buf, FOUND[2 * PARENT_SPAN_ID]!, FOUND[2 * PARENT_SPAN_ID + 1]!, field, '.parent_span_id'),
    name,
    kind: KINDS[kind] ?? 'unspecified',
    startTimeUnixNano: start,
    endTimeUnixNano: endTime,
    attributes,
    events,
    links: trimmed(links),
    // OpenCensus status codes are gRPC codes: 0 is OK, anything else an error.
    status: status?.code ? spanStatus('error', status.message) : spanStatus('unset'),
    resource,
    source: 'opencensus',
  };
  if (status?.code) attributes['opencensus.status_code'] = status.code;
  if (entries) span.traceState = entries.join(',');
  if (sameProcess !== undefined) attributes['opencensus.same_process_as_parent_span'] = sameProcess;
  if (droppedAttributes) span.droppedAttributesCount = droppedAttributes;
  if (droppedEvents) span.droppedEventsCount = droppedEvents;
  if (droppedLinks) span.droppedLinksCount = droppedLinks;
  return span;
}

/** The request's spans into the model, under `resource` (the stream's node and resource as attributes). */
export function ocRequestToModel(spans: OcSpans, resource: Attributes, limits: DecodeLimits = DEFAULT_LIMITS): DecodeResult {
  const count = spans.ranges.length / 2;
  checkSpanCount(count, limits);
  const result = emptyResult();
  const max = maxPlausibleNanos();
  const r = new ProtoReader(spans.buf);
  const shared: Resource = { attributes: resource };
  for (let i = 0; i < count; i++) {
    const end = spans.ranges[2 * i + 1]!;
    r.pos = spans.ranges[2 * i]!;
    try {
      result.spans.push(wireSpan(r, end, shared, `spans[${i}]`, max, limits, result));
    } catch (err) {
      if (err instanceof WireError) throw new DecodeError('malformed_protobuf', `spans[${i}]`, bytesToHex(spans.buf.subarray(r.pos, r.pos + 16)), `not an opencensus Span: ${err.message}`);
      if (err instanceof DecodeError) result.rejected.push(err);
      else throw err;
    }
  }
  return result;
}
