/**
 * OpenCensus agent ExportTraceServiceRequest (opencensus-proto agent/trace/v1, as Linkerd's older
 * proxies and OpenCensus apps such as emojivoto send it) → model, read by hand straight from the
 * bytes: the request's node and resource first (they carry over between the messages of a stream),
 * its spans decoded once the receiver knows which resource they belong to.
 */
import { DecodeError } from '../../model/errors.js';
import { emptyResult, type DecodeResult } from '../../model/decode-result.js';
import { bytesToHex, parentIdFromBytes, reuseTraceId, spanIdFromBytes, traceIdFromBytes } from '../../model/ids.js';
import { copyAttributes, setAttribute, sharedIfEmpty, spanStatus, trimmed, type AttributeValue, type Attributes, type Resource, type Span, type SpanEvent, type SpanKind, type SpanLink } from '../../model/span.js';
import { checkPlausible, isoTime, isPlausible, maxPlausibleNanos } from '../../model/time.js';
import { countDropped } from '../../model/decode-result.js';
import { checkSpanCount, DEFAULT_LIMITS, LimitExceededError, type DecodeLimits } from '../../model/limits.js';
import { I64, LEN, ProtoReader, VARINT, WireError } from '../protobuf.js';

interface OcTimestamp {
  seconds?: number | bigint;
  nanos?: number;
}
export interface OcNode {
  identifier?: { hostName?: string; pid?: number; startTimestamp?: OcTimestamp };
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
  const start = id?.startTimestamp ? ocNanos(id.startTimestamp) : undefined;
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

function ocNanos(ts: OcTimestamp): bigint {
  return BigInt(ts.seconds ?? 0) * 1_000_000_000n + BigInt(ts.nanos ?? 0);
}

function wireTimestamp(r: ProtoReader, end: number): OcTimestamp {
  const ts: OcTimestamp = {};
  while (r.more(end)) {
    const t = r.uint32();
    if (t === tag(1, VARINT)) ts.seconds = r.int64();
    else if (t === tag(2, VARINT)) ts.nanos = Number(r.int64());
    else r.skip(t & 7);
  }
  return ts;
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
        else if (u === tag(3, LEN)) id.startTimestamp = wireTimestamp(r, r.delimited());
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

/** Attributes {attribute_map, dropped_attributes_count} into `out`; the count of entries read and the dropped count. */
function wireAttributes(r: ProtoReader, end: number, out: Attributes, limits: DecodeLimits, field: string): number {
  let n = 0;
  let dropped = 0;
  while (r.more(end)) {
    const t = r.uint32();
    if (t === tag(1, LEN)) {
      if (++n > limits.maxAttributesPerSpan) throw new LimitExceededError(field, n, 'max_attributes_per_span', limits.maxAttributesPerSpan);
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

const unsigned = (v: number | bigint): number => Number(typeof v === 'bigint' || v < 0 ? BigInt.asUintN(64, BigInt(v)) : v);

function wireTimeEvent(r: ProtoReader, end: number, start: bigint, limits: DecodeLimits, field: string): { at: bigint; event: Omit<SpanEvent, 'timeUnixNano'> } {
  let at: bigint | undefined;
  let annotation: [number, number] | undefined;
  let message: Attributes | undefined;
  while (r.more(end)) {
    const t = r.uint32();
    if (t === tag(1, LEN)) at = ocNanos(wireTimestamp(r, r.delimited()));
    else if (t === tag(2, LEN)) {
      const e = r.delimited();
      annotation = [r.pos, e];
      r.pos = e;
    } else if (t === tag(3, LEN)) {
      const e = r.delimited();
      let type = 0;
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
      message = { 'message.type': MESSAGE_TYPES[type] ?? String(type), 'message.id': unsigned(id), 'message.uncompressed_size': unsigned(uncompressed), 'message.compressed_size': unsigned(compressed) };
    } else r.skip(t & 7);
  }
  if (message) return { at: at ?? start, event: { name: 'message', attributes: message } };
  let name = '';
  const attributes: Attributes = {};
  if (annotation) {
    r.pos = annotation[0];
    while (r.more(annotation[1])) {
      const u = r.uint32();
      if (u === tag(1, LEN)) name = wireTruncatable(r, r.delimited());
      else if (u === tag(2, LEN)) wireAttributes(r, r.delimited(), attributes, limits, `${field}.attributes`);
      else r.skip(u & 7);
    }
    r.pos = end;
  }
  return { at: at ?? start, event: { name, attributes: sharedIfEmpty(attributes) } };
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

function time(ts: OcTimestamp | undefined, field: string, max: bigint): bigint {
  if (!ts) throw new DecodeError('invalid_timestamp', field, ts, 'missing');
  return checkPlausible(ocNanos(ts), field, max);
}

function wireSpan(r: ProtoReader, end: number, resource: Resource, field: string, max: bigint, limits: DecodeLimits, result: DecodeResult): Span {
  let traceIdBytes: Buffer | undefined;
  let spanIdBytes: Buffer | undefined;
  let parentBytes: Buffer | undefined;
  let name = '';
  let kind = 0;
  let startTs: OcTimestamp | undefined;
  let endTs: OcTimestamp | undefined;
  let attributesAt: [number, number] | undefined;
  let timeEventsAt: [number, number] | undefined;
  let linksAt: [number, number] | undefined;
  let status: { code: number; message: string } | undefined;
  let sameProcess: boolean | undefined;
  const entries: string[] = [];
  while (r.more(end)) {
    const t = r.uint32();
    switch (t) {
      case tag(1, LEN):
        traceIdBytes = r.bytes();
        break;
      case tag(2, LEN):
        spanIdBytes = r.bytes();
        break;
      case tag(3, LEN):
        parentBytes = r.bytes();
        break;
      case tag(4, LEN):
        name = wireTruncatable(r, r.delimited());
        break;
      case tag(14, VARINT):
        kind = r.uint32();
        break;
      case tag(5, LEN):
        startTs = wireTimestamp(r, r.delimited());
        break;
      case tag(6, LEN):
        endTs = wireTimestamp(r, r.delimited());
        break;
      case tag(7, LEN):
      case tag(9, LEN):
      case tag(10, LEN): {
        // Read after the span's start time is known (events default to it).
        const e = r.delimited();
        const at: [number, number] = [r.pos, e];
        if (t === tag(7, LEN)) attributesAt = at;
        else if (t === tag(9, LEN)) timeEventsAt = at;
        else linksAt = at;
        r.pos = e;
        break;
      }
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
          entries.push(`${key}=${value}`);
        }
        break;
      }
      default:
        r.skip(t & 7);
    }
  }
  const start = time(startTs, `${field}.start_time`, max);
  // The OpenCensus spec: an unset end time means "same as start".
  const endTime = endTs ? time(endTs, `${field}.end_time`, max) : start;
  if (endTime < start) throw new DecodeError('invalid_timestamp', `${field}.end_time`, endTime, 'span ends before it starts');
  const attributes: Attributes = {};
  let droppedAttributes = 0;
  if (attributesAt) {
    r.pos = attributesAt[0];
    droppedAttributes = wireAttributes(r, attributesAt[1], attributes, limits, `${field}.attributes`);
  }
  const events: SpanEvent[] = [];
  let droppedEvents = 0;
  if (timeEventsAt) {
    r.pos = timeEventsAt[0];
    let n = 0;
    while (r.more(timeEventsAt[1])) {
      const t = r.uint32();
      if (t === tag(1, LEN)) {
        if (++n > limits.maxEventsPerSpan) throw new LimitExceededError(`${field}.events`, n, 'max_events_per_span', limits.maxEventsPerSpan);
        const { at, event } = wireTimeEvent(r, r.delimited(), start, limits, `${field}.time_events[${n - 1}]`);
        // An event with an absurd time must not cost the span: dropped and counted.
        if (isPlausible(at, max)) events.push({ timeUnixNano: at, name: event.name, attributes: event.attributes });
        else countDropped(result, 'event_timestamp');
      } else if (t === tag(2, VARINT) || t === tag(3, VARINT)) droppedEvents += Number(r.int64());
      else r.skip(t & 7);
    }
  }
  const links: SpanLink[] = [];
  let droppedLinks = 0;
  if (linksAt) {
    r.pos = linksAt[0];
    while (r.more(linksAt[1])) {
      const t = r.uint32();
      if (t === tag(1, LEN)) {
        if (links.length === limits.maxLinksPerSpan) throw new LimitExceededError(`${field}.links`, links.length + 1, 'max_links_per_span', limits.maxLinksPerSpan);
        links.push(wireLink(r, r.delimited(), limits, `${field}.links[${links.length}]`));
      } else if (t === tag(2, VARINT)) droppedLinks = Number(r.int64());
      else r.skip(t & 7);
    }
  }
  const read = traceIdFromBytes(traceIdBytes, `${field}.trace_id`);
  if (read.length !== 32) throw new DecodeError('invalid_trace_id', `${field}.trace_id`, read, 'expected 16 bytes');
  const traceId = reuseTraceId(read);
  const span: Span = {
    traceId,
    spanId: spanIdFromBytes(spanIdBytes, `${field}.span_id`),
    // In the literal, not added after (a property added later takes an array of its own).
    parentSpanId: parentIdFromBytes(parentBytes, `${field}.parent_span_id`),
    name,
    kind: KINDS[kind] ?? 'unspecified',
    startTimeUnixNano: start,
    endTimeUnixNano: endTime,
    attributes,
    events: trimmed(events),
    links: trimmed(links),
    // OpenCensus status codes are gRPC codes: 0 is OK, anything else an error.
    status: status?.code ? spanStatus('error', status.message) : spanStatus('unset'),
    resource,
    source: 'opencensus',
  };
  if (status?.code) attributes['opencensus.status_code'] = status.code;
  if (entries.length > 0) span.traceState = entries.join(',');
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
